//! The reading and searching tools (`list_dir`, `glob`, `grep`) on temporary workspaces: output
//! formats, ignore rules without git, caps, binary files, symlinks in and out, escapes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use expect_test::{Expect, expect};
use lemmings_tools::search::{Glob, Grep, ListDir};
use lemmings_tools::{CallContext, Tool, Workspace, WorkspaceOptions};
use serde_json::{Value, json};

/// What sits outside every test workspace; it must never show up in any output.
const SENTINEL: &str = "OUTSIDE-SENTINEL";

/// A workspace at `<tmp>/ws` holding `files` (a name ending in `/` is an empty directory),
/// next to `<tmp>/outside` holding the sentinel.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    workspace: Arc<Workspace>,
}

fn fixture(files: &[(&str, &[u8])]) -> Fixture {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("ws");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(outside.join("dir")).expect("outside dir");
    std::fs::write(outside.join("secret.txt"), format!("{SENTINEL} in content\n")).expect("outside file");
    std::fs::write(
        outside.join("dir").join(format!("{SENTINEL}.txt")),
        format!("{SENTINEL}\n"),
    )
    .expect("outside file");
    std::fs::create_dir_all(&root).expect("workspace dir");
    for (name, content) in files {
        let path = root.join(name);
        if name.ends_with('/') {
            std::fs::create_dir_all(&path).expect("dir");
        } else {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("parent dir");
            std::fs::write(&path, content).expect("file");
        }
    }
    let workspace = Workspace::open(&root, WorkspaceOptions::default()).expect("workspace");
    Fixture {
        _tmp: tmp,
        root,
        workspace,
    }
}

impl Fixture {
    fn symlink(&self, target: &str, name: &str) {
        std::os::unix::fs::symlink(target, self.root.join(name)).expect("symlink");
    }

    /// The tool's text (`[Failed] ...` when it failed), the temporary directory shown as
    /// `<tmp>`; checks that nothing from outside leaked into it.
    async fn call(&self, tool: &dyn Tool, args: Value) -> String {
        let output = tool.call(args, &CallContext::default()).await;
        assert!(
            !output.text.contains(SENTINEL),
            "the outside sentinel leaked:\n{}",
            output.text
        );
        let tmp = self.root.parent().expect("tmp").to_string_lossy().into_owned();
        let text = output.text.replace(&tmp, "<tmp>");
        if output.is_error() {
            format!("[{:?}] {text}", output.outcome)
        } else {
            text
        }
    }

    async fn list(&self, args: Value) -> String {
        self.call(&ListDir::new(Arc::clone(&self.workspace)), args).await
    }

    async fn glob(&self, args: Value) -> String {
        self.call(&Glob::new(Arc::clone(&self.workspace)), args).await
    }

    async fn grep(&self, args: Value) -> String {
        self.call(&Grep::new(Arc::clone(&self.workspace)), args).await
    }
}

fn check(actual: String, expected: Expect) {
    expected.assert_eq(&actual);
}

/// A small project: sources, docs, dotfiles, ignored build output, a git directory.
fn project() -> Fixture {
    fixture(&[
        ("src/main.rs", b"fn main() {\n    println!(\"hi\");\n}\n"),
        ("src/lib.rs", b"pub mod util;\n\npub fn answer() -> u32 {\n    42\n}\n"),
        ("src/util/mod.rs", b"pub fn helper() {}\n"),
        ("src/util/deep/leaf.rs", b"// leaf\n"),
        ("README.md", b"# Demo\nno trailing newline"),
        (".env", b"KEY=1\n"),
        (".gitignore", b"target/\n*.log\n"),
        ("target/debug/app", b"\x7fELF\0\0"),
        ("debug.log", b"fn main in a log\n"),
        (".git/HEAD", b"ref: refs/heads/main\n"),
        (".git/config", b"fn main in git config\n"),
        ("empty/", b""),
        ("logo.png", b"\x89PNG\r\n\x1a\n\0\0\0"),
    ])
}

#[tokio::test]
async fn list_dir_shows_a_tree_with_line_counts_and_hidden_entries() {
    let f = project();
    check(
        f.list(json!({})).await,
        expect![[r#"
            ./ (9 entries)
              empty/ (empty)
              src/
                util/ (2 entries)
                lib.rs (5 lines)
                main.rs (3 lines)
              .env (1 line)
              .gitignore (2 lines)
              README.md (2 lines)
              logo.png (binary, 11 B)
              (hidden by .gitignore: debug.log, target/)"#]],
    );
    check(
        f.list(json!({"path": "src", "depth": 1})).await,
        expect![[r#"
            src/ (3 entries)
              util/ (2 entries)
              lib.rs (5 lines)
              main.rs (3 lines)"#]],
    );
    check(f.list(json!({"path": "empty"})).await, expect!["empty/ (empty)"]);
}

#[tokio::test]
async fn list_dir_is_capped_breadth_first() {
    let mut files: Vec<(String, Vec<u8>)> = (0..12).map(|i| (format!("big/f{i:02}.txt"), b"x\n".to_vec())).collect();
    files.push(("a.txt".into(), b"a\n".to_vec()));
    files.push(("z.txt".into(), b"z\n".to_vec()));
    files.push(("a/b/c/d/e/f/g.txt".into(), b"deep\n".to_vec()));
    let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (n.as_str(), c.as_slice())).collect();
    let f = fixture(&borrowed);
    check(
        f.list(json!({"max_items": 6})).await,
        expect![[r#"
            ./ (17 entries)
              a/
                b/ (1 entry)
              big/ (12 entries)
                f00.txt (1 line)
              a.txt (1 line)
              z.txt (1 line)
            [11 more entries not shown; raise max_items or list a subdirectory]"#]],
    );
    check(
        f.list(json!({"path": "a", "depth": 9})).await,
        expect![[r#"
            a/ (5 entries)
              b/
                c/
                  d/
                    e/
                      f/ (1 entry)
            [depth is at most 5; list a subdirectory to see deeper]"#]],
    );
}

#[tokio::test]
async fn list_dir_sizes_and_special_names() {
    let mut big = b"line\n".repeat(300_000);
    big.push(b'x');
    let f = fixture(&[("big.txt", &big), ("empty.txt", b""), ("new\nline.txt", b"x\n")]);
    check(
        f.list(json!({})).await,
        expect![[r#"
        ./ (3 entries)
          big.txt (1.4 MiB)
          empty.txt (0 lines)
          new\nline.txt (1 line)"#]],
    );
}

#[tokio::test]
async fn ignore_files_are_honoured_without_git_and_nested() {
    let f = fixture(&[
        (".gitignore", b"*.tmp\n/build/\n"),
        ("build/out.rs", b"fn ignored() {}\n"),
        ("keep.rs", b"fn kept() {}\n"),
        ("x.tmp", b"fn ignored() {}\n"),
        ("sub/.gitignore", b"gen.rs\n!wanted.tmp\n"),
        ("sub/gen.rs", b"fn ignored() {}\n"),
        ("sub/real.rs", b"fn kept() {}\n"),
        ("sub/wanted.tmp", b"fn kept() {}\n"),
        ("other/.ignore", b"secret.rs\n"),
        ("other/secret.rs", b"fn ignored() {}\n"),
        ("other/build/x.rs", b"fn kept() {}\n"),
    ]);
    check(
        f.list(json!({"depth": 3})).await,
        expect![[r#"
        ./ (10 entries)
          other/
            build/
              x.rs (1 line)
            .ignore (1 line)
            (hidden by .gitignore: secret.rs)
          sub/
            .gitignore (2 lines)
            real.rs (1 line)
            wanted.tmp (1 line)
            (hidden by .gitignore: gen.rs)
          .gitignore (2 lines)
          keep.rs (1 line)
          (hidden by .gitignore: build/, x.tmp)"#]],
    );
    check(
        f.glob(json!({"pattern": "**/*"})).await,
        expect![[r#"
        .gitignore
        keep.rs
        other/.ignore
        other/build/x.rs
        sub/.gitignore
        sub/real.rs
        sub/wanted.tmp
        7 files matched"#]],
    );
    check(
        f.grep(json!({"pattern": "fn \\w+"})).await,
        expect![[r#"
        keep.rs:1: fn kept() {}
        other/build/x.rs:1: fn kept() {}
        sub/real.rs:1: fn kept() {}
        sub/wanted.tmp:1: fn kept() {}
        4 matches in 4 files"#]],
    );
    // Listing or searching from a subdirectory still honours the root's rules.
    check(
        f.glob(json!({"pattern": "*", "path": "sub"})).await,
        expect![[r#"
        sub/.gitignore
        sub/real.rs
        sub/wanted.tmp
        3 files matched"#]],
    );
}

#[tokio::test]
async fn git_directories_are_skipped_and_dotfiles_shown() {
    let f = project();
    check(
        f.glob(json!({"pattern": "*"})).await,
        expect![[r#"
        .env
        .gitignore
        README.md
        logo.png
        src/lib.rs
        src/main.rs
        src/util/deep/leaf.rs
        src/util/mod.rs
        8 files matched"#]],
    );
    check(
        f.grep(json!({"pattern": "fn main"})).await,
        expect![[r#"
        src/main.rs:1: fn main() {
        1 match in 1 file
        1 binary file skipped"#]],
    );
    check(
        f.grep(json!({"pattern": "KEY"})).await,
        expect![[r#"
        .env:1: KEY=1
        1 match in 1 file
        1 binary file skipped"#]],
    );
}

#[tokio::test]
async fn glob_matches_names_anywhere_and_paths_from_the_search_path() {
    let f = project();
    check(
        f.glob(json!({"pattern": "*.rs"})).await,
        expect![[r#"
        src/lib.rs
        src/main.rs
        src/util/deep/leaf.rs
        src/util/mod.rs
        4 files matched"#]],
    );
    check(
        f.glob(json!({"pattern": "src/*.rs"})).await,
        expect![[r#"
        src/lib.rs
        src/main.rs
        2 files matched"#]],
    );
    check(
        f.glob(json!({"pattern": "**/{mod.rs,README.md}"})).await,
        expect![[r#"
        README.md
        src/util/mod.rs
        2 files matched"#]],
    );
    check(
        f.glob(json!({"pattern": "*.rs", "path": "src/util"})).await,
        expect![[r#"
        src/util/deep/leaf.rs
        src/util/mod.rs
        2 files matched"#]],
    );
    check(
        f.glob(json!({"pattern": "*.rs", "max_results": 2})).await,
        expect![[r#"
        src/lib.rs
        src/main.rs
        4 files matched
        [showing the first 2; narrow the pattern]"#]],
    );
}

#[tokio::test]
async fn glob_explains_a_miss_and_a_bad_pattern() {
    let f = project();
    check(
        f.glob(json!({"pattern": "*.py"})).await,
        expect!["no files match `*.py` under `.`"],
    );
    check(
        f.glob(json!({"pattern": "*.MD"})).await,
        expect!["no files match `*.MD` under `.`; 1 file matches ignoring case, e.g. `README.md`"],
    );
    check(
        f.glob(json!({"pattern": "*.log"})).await,
        expect!["no files match `*.log` under `.`; 1 file would match but is hidden by .gitignore, e.g. `debug.log`"],
    );
    check(
        f.glob(json!({"pattern": "src/*.rs", "path": "src"})).await,
        expect![
            "no files match `src/*.rs` under `src`; the pattern is matched relative to `src`, so leave `src/` out of it"
        ],
    );
    check(
        f.glob(json!({"pattern": "src/{a,b"})).await,
        expect![
            "[Failed] error: invalid glob `src/{a,b`: unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?); examples: `*.rs`, `src/**/*.rs`, `**/{Cargo.toml,*.md}`"
        ],
    );
    check(
        f.glob(json!({"pattern": "*.rs", "path": "README.md"})).await,
        expect!["[Failed] error: `README.md` is not a directory"],
    );
    check(
        f.glob(json!({"pattern": "*.rs", "path": "nowhere"})).await,
        expect!["[Failed] error: `nowhere` does not exist"],
    );
    check(
        f.glob(json!({})).await,
        expect![[
            r#"[InvalidArguments] error: invalid arguments for `glob`: "pattern" is a required property; expected {"max_results"?: integer, "path"?: string, "pattern": string}"#
        ]],
    );
}

#[tokio::test]
async fn grep_groups_matches_by_file() {
    let f = project();
    check(
        f.grep(json!({"pattern": "fn \\w+\\("})).await,
        expect![[r#"
        src/lib.rs:3: pub fn answer() -> u32 {
        src/main.rs:1: fn main() {
        src/util/mod.rs:1: pub fn helper() {}
        3 matches in 3 files
        1 binary file skipped"#]],
    );
    check(
        f.grep(json!({"pattern": "FN MAIN", "case_insensitive": true})).await,
        expect![[r#"
        src/main.rs:1: fn main() {
        1 match in 1 file
        1 binary file skipped"#]],
    );
    check(
        f.grep(json!({"pattern": "println!(", "fixed_strings": true, "path": "src/main.rs"}))
            .await,
        expect![[r#"
        src/main.rs:2:     println!("hi");
        1 match in 1 file"#]],
    );
    check(
        f.grep(json!({"pattern": "pub", "glob": "src/*.rs"})).await,
        expect![[r#"
        src/lib.rs:1: pub mod util;
        src/lib.rs:3: pub fn answer() -> u32 {
        2 matches in 1 file"#]],
    );
    // A file named explicitly is searched even when ignored.
    check(
        f.grep(json!({"pattern": "main", "path": "debug.log"})).await,
        expect![[r#"
        debug.log:1: fn main in a log
        1 match in 1 file"#]],
    );
}

#[tokio::test]
async fn grep_shows_context_and_caps() {
    let content: String = (1..=30)
        .map(|i| {
            if i % 10 == 0 {
                format!("hit {i}\n")
            } else {
                format!("line {i}\n")
            }
        })
        .collect();
    let f = fixture(&[
        ("a.txt", content.as_bytes()),
        ("b.txt", b"one\nhit b\ntwo\n"),
        ("c.txt", b"hit c\n"),
    ]);
    check(
        f.grep(json!({"pattern": "hit", "context": 2})).await,
        expect![[r#"
        a.txt-8- line 8
        a.txt-9- line 9
        a.txt:10: hit 10
        a.txt-11- line 11
        a.txt-12- line 12
        --
        a.txt-18- line 18
        a.txt-19- line 19
        a.txt:20: hit 20
        a.txt-21- line 21
        a.txt-22- line 22
        --
        a.txt-28- line 28
        a.txt-29- line 29
        a.txt:30: hit 30
        --
        b.txt-1- one
        b.txt:2: hit b
        b.txt-3- two
        --
        c.txt:1: hit c
        5 matches in 3 files"#]],
    );
    check(
        f.grep(json!({"pattern": "hit", "max_results": 2, "context": 1})).await,
        expect![[r#"
        a.txt-9- line 9
        a.txt:10: hit 10
        a.txt-11- line 11
        --
        a.txt-19- line 19
        a.txt:20: hit 20
        a.txt-21- line 21
        5 matches in 3 files
        [showing the first 2 matches; narrow the pattern or the path]"#]],
    );
    check(
        f.grep(json!({"pattern": "hit", "context": 99, "path": "b.txt"})).await,
        expect![[r#"
        b.txt-1- one
        b.txt:2: hit b
        b.txt-3- two
        1 match in 1 file"#]],
    );
}

#[tokio::test]
async fn grep_explains_a_miss_and_a_bad_regex() {
    let f = project();
    check(
        f.grep(json!({"pattern": "nothing here"})).await,
        expect![[r#"
        no matches for `nothing here` under `.` (8 files searched)
        1 binary file skipped"#]],
    );
    check(
        f.grep(json!({"pattern": "nothing", "glob": "*.rs", "path": "src"}))
            .await,
        expect!["no matches for `nothing` in `*.rs` files under `src` (4 files searched)"],
    );
    check(
        f.grep(json!({"pattern": "fn main("})).await,
        expect![[r#"
        [Failed] error: invalid regex `fn main(`: regex parse error:
            (?:fn main()
            ^
        error: unclosed group; set fixed_strings=true to search for the text literally"#]],
    );
    check(
        f.grep(json!({"pattern": "a\\nb"})).await,
        expect![[
            r#"[Failed] error: invalid regex `a\nb`: the literal "\n" is not allowed in a regex; set fixed_strings=true to search for the text literally"#
        ]],
    );
    check(
        f.grep(json!({"pattern": "x", "glob": "{"})).await,
        expect![
            "[Failed] error: invalid glob `{`: unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?); examples: `*.rs`, `src/**/*.rs`, `**/{Cargo.toml,*.md}`"
        ],
    );
    check(
        f.grep(json!({"pattern": "x", "path": "nowhere"})).await,
        expect!["[Failed] error: `nowhere` does not exist"],
    );
    check(
        f.grep(json!({"path": "src"})).await,
        expect![[
            r#"[InvalidArguments] error: invalid arguments for `grep`: "pattern" is a required property; expected {"case_insensitive"?: boolean, "context"?: integer, "fixed_strings"?: boolean, "glob"?: string, "max_results"?: integer, "path"?: string, "pattern": string}"#
        ]],
    );
}

#[tokio::test]
async fn grep_skips_binary_files() {
    let mut late = b"needle early\n".repeat(10_000);
    late.extend_from_slice(b"\0needle late\n");
    let f = fixture(&[
        ("text.txt", b"needle\n"),
        ("blob.bin", b"needle\0\x01\x02"),
        ("late.bin", &late),
        ("utf16.txt", b"\xff\xfen\0e\0e\0d\0l\0e\0\n\0"),
    ]);
    check(
        f.grep(json!({"pattern": "needle"})).await,
        expect![[r#"
        text.txt:1: needle
        utf16.txt:1: needle
        2 matches in 2 files
        2 binary files skipped"#]],
    );
    check(
        f.grep(json!({"pattern": "needle", "path": "blob.bin"})).await,
        expect![[r#"
        no matches for `needle` under `blob.bin` (1 file searched)
        1 binary file skipped"#]],
    );
}

#[tokio::test]
async fn grep_handles_multibyte_text_and_long_lines() {
    let long_head = format!("needle {}\n", "é".repeat(500));
    let long_tail = format!("{} needle {}\n", "ж".repeat(400), "x".repeat(400));
    let f = fixture(&[
        ("unicode.txt", "日本語のテキスト\nカタカナ needle ✓\n".as_bytes()),
        ("head.txt", long_head.as_bytes()),
        ("tail.txt", long_tail.as_bytes()),
        ("latin1.txt", b"caf\xe9 needle\n"),
        ("crlf.txt", b"needle end\r\nnext\r\n"),
    ]);
    check(
        f.grep(json!({"pattern": "needle"})).await,
        expect![[r#"
        crlf.txt:1: needle end
        head.txt:1: needle ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé…
        latin1.txt:1: caf� needle
        tail.txt:1: …жжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжж needle xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…
        unicode.txt:2: カタカナ needle ✓
        5 matches in 5 files"#]],
    );
    check(
        f.grep(json!({"pattern": "テキスト$"})).await,
        expect![[r#"
        unicode.txt:1: 日本語のテキスト
        1 match in 1 file"#]],
    );
    check(
        f.grep(json!({"pattern": "end$"})).await,
        expect![[r#"
        crlf.txt:1: needle end
        1 match in 1 file"#]],
    );
}

/// Symlinks out of the workspace (to a file, to a directory, absolute and relative) and inside
/// it (to a file, to a directory).
fn linked() -> Fixture {
    let f = fixture(&[("src/real.rs", b"fn linked_target() {}\n"), ("notes.txt", b"plain\n")]);
    f.symlink("../outside/secret.txt", "leak.txt");
    f.symlink("../outside/dir", "leakdir");
    let absolute = f.root.parent().expect("tmp").join("outside").join("secret.txt");
    f.symlink(&absolute.to_string_lossy(), "src/abs.rs");
    f.symlink("real.rs", "src/alias.rs");
    f.symlink("src", "srclink");
    f.symlink("missing.txt", "dangling.txt");
    f
}

#[tokio::test]
async fn symlinks_out_are_listed_but_never_read() {
    let f = linked();
    check(
        f.list(json!({"depth": 3})).await,
        expect![[r#"
        ./ (9 entries)
          src/
            abs.rs -> <tmp>/outside/secret.txt (outside the workspace)
            alias.rs -> real.rs
            real.rs (1 line)
          dangling.txt -> missing.txt (broken)
          leak.txt -> ../outside/secret.txt (outside the workspace)
          leakdir -> ../outside/dir (outside the workspace)
          notes.txt (1 line)
          srclink -> src/"#]],
    );
    check(
        f.glob(json!({"pattern": "*"})).await,
        expect![[r#"
        notes.txt
        src/alias.rs
        src/real.rs
        3 files matched
        3 symlinks leading outside the workspace skipped"#]],
    );
    check(
        f.glob(json!({"pattern": "*.rs"})).await,
        expect![[r#"
        src/alias.rs
        src/real.rs
        2 files matched
        1 symlink leading outside the workspace skipped"#]],
    );
    // In-tree links to files are read like the file (hence `alias.rs`); links out are counted.
    check(
        f.grep(json!({"pattern": "."})).await,
        expect![[r#"
        notes.txt:1: plain
        src/alias.rs:1: fn linked_target() {}
        src/real.rs:1: fn linked_target() {}
        3 matches in 3 files
        3 symlinks leading outside the workspace skipped"#]],
    );
    check(
        f.grep(json!({"pattern": "content", "path": "leak.txt"})).await,
        expect!["[Failed] error: path escapes workspace: `leak.txt`; use a path relative to the workspace root"],
    );
    check(
        f.grep(json!({"pattern": "x", "path": "leakdir"})).await,
        expect!["[Failed] error: path escapes workspace: `leakdir`; use a path relative to the workspace root"],
    );
    check(
        f.list(json!({"path": "leakdir"})).await,
        expect!["[Failed] error: path escapes workspace: `leakdir`; use a path relative to the workspace root"],
    );
    check(
        f.glob(json!({"pattern": "*", "path": "leakdir"})).await,
        expect!["[Failed] error: path escapes workspace: `leakdir`; use a path relative to the workspace root"],
    );
}

#[tokio::test]
async fn a_start_through_an_in_tree_symlink_keeps_its_name() {
    let f = linked();
    check(
        f.list(json!({"path": "srclink"})).await,
        expect![[r#"
        srclink/ (3 entries)
          abs.rs -> <tmp>/outside/secret.txt (outside the workspace)
          alias.rs -> real.rs
          real.rs (1 line)"#]],
    );
    check(
        f.glob(json!({"pattern": "real.rs", "path": "srclink"})).await,
        expect![[r#"
        srclink/real.rs
        1 file matched"#]],
    );
    check(
        f.grep(json!({"pattern": "linked_target", "path": "srclink/real.rs"}))
            .await,
        expect![[r#"
        srclink/real.rs:1: fn linked_target() {}
        1 match in 1 file"#]],
    );
}

#[tokio::test]
async fn escapes_are_refused_by_every_tool() {
    let f = linked();
    for path in [
        "../x",
        "/etc",
        "~/.ssh",
        "a/../../x",
        "a\0b",
        "../outside/secret.txt",
        "leakdir/x",
    ] {
        for output in [
            f.list(json!({"path": path})).await,
            f.glob(json!({"pattern": "*", "path": path})).await,
            f.grep(json!({"pattern": "x", "path": path})).await,
        ] {
            assert!(
                output.starts_with("[Failed] error: path escapes workspace: `"),
                "{path:?}: {output}"
            );
        }
    }
    check(
        f.grep(json!({"pattern": "root", "path": "/etc/passwd"})).await,
        expect!["[Failed] error: path escapes workspace: `/etc/passwd`; use a path relative to the workspace root"],
    );
}

#[tokio::test]
async fn schemas_describe_every_argument() {
    let workspace = fixture(&[]).workspace;
    let tools: [Box<dyn Tool>; 3] = [
        Box::new(ListDir::new(Arc::clone(&workspace))),
        Box::new(Glob::new(Arc::clone(&workspace))),
        Box::new(Grep::new(workspace)),
    ];
    for tool in &tools {
        assert!(!tool.has_side_effects());
        assert!(
            tool.description().contains(&format!("Example: {} {{", tool.name())),
            "{}",
            tool.description()
        );
        let parameters = tool.parameters();
        let properties = parameters["properties"].as_object().expect("properties");
        for (name, schema) in properties {
            assert!(
                schema.get("description").is_some(),
                "{}.{name} has no description",
                tool.name()
            );
        }
    }
    let names: Vec<&str> = tools.iter().map(|t| t.name()).collect();
    assert_eq!(names, ["list_dir", "glob", "grep"]);
    check(
        tools[2].parameters()["required"].to_string(),
        expect![[r#"["pattern"]"#]],
    );
}

#[tokio::test]
async fn workspace_paths_are_relative_even_when_given_absolute() {
    let f = project();
    let absolute = f.root.join("src");
    check(
        f.glob(json!({"pattern": "main.rs", "path": absolute.to_string_lossy()}))
            .await,
        expect![[r#"
        src/main.rs
        1 file matched"#]],
    );
    assert!(Path::new(&f.root).is_absolute());
}

#[tokio::test]
async fn special_files_are_listed_but_never_opened() {
    let f = fixture(&[("a.txt", b"needle\n")]);
    let fifo = f.root.join("pipe");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from(0o644),
        0,
    )
    .expect("fifo");
    f.symlink("pipe", "pipe-link");
    // Opening a FIFO for reading would block until a writer came: none of these may open it.
    check(
        f.list(json!({})).await,
        expect![[r#"
            ./ (3 entries)
              a.txt (1 line)
              pipe (special file)
              pipe-link -> pipe (special file)"#]],
    );
    check(
        f.glob(json!({"pattern": "*"})).await,
        expect![[r#"
        a.txt
        1 file matched"#]],
    );
    check(
        f.grep(json!({"pattern": "needle"})).await,
        expect![[r#"
        a.txt:1: needle
        1 match in 1 file"#]],
    );
}

#[tokio::test]
async fn ignore_files_leading_outside_never_show_their_content() {
    let f = fixture(&[("a.txt", b"x\n")]);
    let outside = f.root.parent().expect("tmp").join("outside").join("ignore");
    std::fs::write(&outside, format!("{SENTINEL}[\n")).expect("outside ignore file");
    f.symlink("../outside/ignore", ".gitignore");
    check(
        f.list(json!({})).await,
        expect![[r#"
        ./ (2 entries)
          .gitignore -> ../outside/ignore (outside the workspace)
          a.txt (1 line)"#]],
    );
    check(
        f.grep(json!({"pattern": "x"})).await,
        expect![[r#"
        a.txt:1: x
        1 match in 1 file
        1 symlink leading outside the workspace skipped"#]],
    );
}

#[tokio::test]
async fn many_hidden_entries_are_summarised() {
    let f = fixture(&[
        (".gitignore", b"*.o\n"),
        ("a.o", b""),
        ("b.o", b""),
        ("c.o", b""),
        ("d.o", b""),
        ("e.o", b""),
        ("main.c", b"int main;\n"),
    ]);
    check(
        f.list(json!({})).await,
        expect![[r#"
        ./ (2 entries)
          .gitignore (1 line)
          main.c (1 line)
          (hidden by .gitignore: a.o, b.o, c.o, 2 more)"#]],
    );
    let f = fixture(&[(".gitignore", b"*\n")]);
    check(
        f.list(json!({})).await,
        expect![[r#"
        ./ (0 entries)
          (hidden by .gitignore: .gitignore)"#]],
    );
}

#[tokio::test]
async fn arguments_small_models_send_are_accepted() {
    let f = project();
    // `null` for an optional filter, and the argument names of the original tools.
    check(
        f.grep(json!({"pattern": "answer", "glob": null, "ignore_case": true}))
            .await,
        expect![[r#"
            src/lib.rs:3: pub fn answer() -> u32 {
            1 match in 1 file
            1 binary file skipped"#]],
    );
    check(
        f.list(json!({"path": "./src/", "max_depth": 1, "limit": 2})).await,
        expect![[r#"
            src/ (3 entries)
              util/ (2 entries)
              lib.rs (5 lines)
            [1 more entry not shown; raise max_items or list a subdirectory]"#]],
    );
    check(
        f.glob(json!({"pattern": "./src/*.rs", "path": "", "limit": 1})).await,
        expect![[r#"
            src/lib.rs
            2 files matched
            [showing the first 1; narrow the pattern]"#]],
    );
}
