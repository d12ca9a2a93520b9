//! The file tools' behaviour and output formats: read_file windows and caps, write_file and
//! edit_file results, the read-before-edit guard, idempotency keys on resumed calls, argument
//! checking through the `Tool` trait, and git_diff with and without git (new files included).

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use expect_test::{Expect, expect};
use lemmings_tools::{CallContext, Outcome, Tool, ToolOutput, Workspace, WorkspaceOptions};
use serde_json::{Value, json};

struct Fixture {
    dir: tempfile::TempDir,
    tools: Vec<Arc<dyn Tool>>,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        let workspace = Workspace::open(dir.path(), WorkspaceOptions::default()).unwrap();
        let tools = lemmings_tools::file_tools(workspace);
        Fixture { dir, tools }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    async fn call_with(&self, tool: &str, args: Value, context: &CallContext) -> ToolOutput {
        let tool = self
            .tools
            .iter()
            .find(|t| t.name() == tool)
            .unwrap_or_else(|| panic!("no tool {tool}"));
        tool.call(args, context).await
    }

    async fn call(&self, tool: &str, args: Value) -> ToolOutput {
        self.call_with(tool, args, &CallContext::default()).await
    }

    async fn check(&self, tool: &str, args: Value, expect: Expect) {
        let output = self.call(tool, args).await;
        expect.assert_eq(&output.text);
    }

    fn read(&self, path: &str) -> String {
        fs::read_to_string(self.root().join(path)).unwrap()
    }
}

fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

#[tokio::test]
async fn read_file_shows_numbered_windows() {
    let long = format!("{}\n", "x".repeat(600));
    let f = Fixture::new(&[
        ("a.txt", &numbered(250)),
        ("empty.txt", ""),
        ("long.txt", &long),
        ("bin.dat", "a\0b"),
    ]);
    f.check(
        "read_file",
        json!({"path": "a.txt", "offset": 2, "limit": 3}),
        expect![[r#"
        a.txt (lines 2–4 of 250)
           2| line 2
           3| line 3
           4| line 4
        [3 of 250 lines shown; continue with offset=5]"#]],
    )
    .await;
    let whole = f.call("read_file", json!({"path": "a.txt"})).await;
    assert!(
        whole
            .text
            .ends_with("[200 of 250 lines shown; continue with offset=201]"),
        "{}",
        whole.text
    );
    f.check(
        "read_file",
        json!({"path": "a.txt", "offset": 249}),
        expect![[r#"
        a.txt (lines 249–250 of 250)
         249| line 249
         250| line 250
        [end of file]"#]],
    )
    .await;
    f.check(
        "read_file",
        json!({"path": "a.txt", "offset": 300}),
        expect!["offset 300 is past the end of `a.txt` (250 lines); use an offset from 1 to 250"],
    )
    .await;
    f.check(
        "read_file",
        json!({"path": "empty.txt"}),
        expect!["`empty.txt` is empty"],
    )
    .await;
    f.check(
        "read_file",
        json!({"path": "bin.dat"}),
        expect!["`bin.dat` is a binary file (3 bytes); not shown"],
    )
    .await;
    f.check(
        "read_file",
        json!({"path": "missing.txt"}),
        expect!["error: `missing.txt` does not exist"],
    )
    .await;
    f.check(
        "read_file",
        json!({"path": "."}),
        expect!["error: `.` is a directory, not a regular file; list it with list_dir"],
    )
    .await;
    let cut = f.call("read_file", json!({"path": "long.txt"})).await;
    assert!(cut.text.contains("…[line cut: 100 more characters]"), "{}", cut.text);
}

#[tokio::test]
async fn write_file_creates_and_replaces_after_a_read() {
    let f = Fixture::new(&[("src/lib.rs", "fn a() {}\n")]);
    f.check(
        "write_file",
        json!({"path": "src/deep/new.rs", "content": "one\ntwo\n"}),
        expect!["created src/deep/new.rs (2 lines)"],
    )
    .await;
    assert_eq!(f.read("src/deep/new.rs"), "one\ntwo\n");
    // An existing file is replaced only after it was read.
    f.check("write_file", json!({"path": "src/lib.rs", "content": "fn b() {}\n"}), expect!["error: read `src/lib.rs` with read_file before editing it, or use edit_file; write_file replaces the whole file"]).await;
    f.call("read_file", json!({"path": "src/lib.rs"})).await;
    f.check(
        "write_file",
        json!({"path": "src/lib.rs", "content": "fn b() {}\nfn c() {}\n"}),
        expect!["replaced src/lib.rs (1 line → 2 lines)"],
    )
    .await;
    // A file the tools wrote counts as read.
    f.check(
        "write_file",
        json!({"path": "src/deep/new.rs", "content": "three\n"}),
        expect!["replaced src/deep/new.rs (2 lines → 1 line)"],
    )
    .await;
    // Changed behind the tools' back: read again.
    fs::write(f.root().join("src/lib.rs"), "changed by the user\n").unwrap();
    f.check("write_file", json!({"path": "src/lib.rs", "content": "x\n"}), expect!["error: `src/lib.rs` changed since you last read it (something else modified it); read it again before editing, or use edit_file; write_file replaces the whole file"]).await;
}

#[tokio::test]
async fn write_file_keeps_permissions_and_leaves_no_temporary_files() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new(&[("run.sh", "#!/bin/sh\n")]);
    fs::set_permissions(f.root().join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    f.call("read_file", json!({"path": "run.sh"})).await;
    let output = f
        .call(
            "write_file",
            json!({"path": "run.sh", "content": "#!/bin/sh\necho hi\n"}),
        )
        .await;
    assert!(!output.is_error(), "{}", output.text);
    assert_eq!(
        fs::metadata(f.root().join("run.sh")).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let names: Vec<String> = fs::read_dir(f.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["run.sh"]);
}

#[tokio::test]
async fn edit_file_edits_with_context_and_guards() {
    let f = Fixture::new(&[(
        "src/lib.rs",
        &format!("{}fn add(a: i32) -> i32 {{\n    a\n}}\n{}", numbered(10), numbered(10)),
    )]);
    let edit = json!({"path": "src/lib.rs", "old_string": "fn add(a: i32) -> i32 {\n    a\n}", "new_string": "fn add(a: i32) -> i32 {\n    a + 1\n}"});
    f.check(
        "edit_file",
        edit.clone(),
        expect!["error: read `src/lib.rs` with read_file before editing it"],
    )
    .await;
    f.call("read_file", json!({"path": "src/lib.rs"})).await;
    f.check(
        "edit_file",
        edit.clone(),
        expect![[r#"
        edited src/lib.rs: 1 replacement
           6| line 6
           7| line 7
           8| line 8
           9| line 9
          10| line 10
          11| fn add(a: i32) -> i32 {
          12|     a + 1
          13| }
          14| line 1
          15| line 2
          16| line 3
          17| line 4
          18| line 5
    "#]],
    )
    .await;
    assert!(f.read("src/lib.rs").contains("    a + 1\n"));
    // The second identical edit finds nothing to replace, and says the new text is there.
    f.check("edit_file", edit, expect!["error: old_string not found in src/lib.rs, but new_string is already there (lines 11–13): the edit seems to be made already; read those lines to check"]).await;
    f.check(
        "edit_file",
        json!({"path": "src/nope.rs", "old_string": "a", "new_string": "b"}),
        expect!["error: `src/nope.rs` does not exist; create it with write_file"],
    )
    .await;
}

#[tokio::test]
async fn keyed_calls_are_applied_once() {
    let f = Fixture::new(&[("notes.txt", "alpha\nbeta\n")]);
    let key = CallContext::keyed("thread-1::3:task-a:0");
    let first = f
        .call_with("write_file", json!({"path": "new.txt", "content": "v1\n"}), &key)
        .await;
    assert_eq!(first.outcome, Outcome::Ok);
    // The same key again (a retried attempt): reported, not applied.
    fs::write(f.root().join("new.txt"), "edited by someone since\n").unwrap();
    let again = f
        .call_with("write_file", json!({"path": "new.txt", "content": "v1\n"}), &key)
        .await;
    assert_eq!(again.outcome, Outcome::AlreadyApplied);
    assert_eq!(f.read("new.txt"), "edited by someone since\n");
    expect![[r#"
        created new.txt (1 line)
        (already applied with idempotency key thread-1::3:task-a:0; not applied again)"#]]
    .assert_eq(&again.text);

    // A resumed call in a new process (no memory of the key): the file already has the content.
    let fresh = Fixture::new(&[("new.txt", "v1\n")]);
    let resumed = CallContext::resumed("thread-1::3:task-a:0");
    let output = fresh
        .call_with("write_file", json!({"path": "new.txt", "content": "v1\n"}), &resumed)
        .await;
    assert_eq!(output.outcome, Outcome::AlreadyApplied, "{}", output.text);
    expect!["`new.txt` already has this content: the write was applied before (idempotency key thread-1::3:task-a:0); not written again"].assert_eq(&output.text);

    // A resumed edit whose new text is already there.
    let fresh = Fixture::new(&[("notes.txt", "alpha\ngamma\n")]);
    let edit = json!({"path": "notes.txt", "old_string": "beta", "new_string": "gamma"});
    let output = fresh.call_with("edit_file", edit, &CallContext::resumed("k2")).await;
    assert_eq!(output.outcome, Outcome::AlreadyApplied, "{}", output.text);
    assert_eq!(fresh.read("notes.txt"), "alpha\ngamma\n");
}

#[tokio::test]
async fn bad_arguments_get_an_actionable_message() {
    let f = Fixture::new(&[]);
    f.check("read_file", json!({}), expect![[r#"error: invalid arguments for `read_file`: "path" is a required property; expected {"limit"?: integer, "offset"?: integer, "path": string}"#]]).await;
    f.check("read_file", json!({"path": 3}), expect![[r#"error: invalid arguments for `read_file`: /path: 3 is not of type "string"; expected {"limit"?: integer, "offset"?: integer, "path": string}"#]]).await;
    f.check("read_file", json!({"path": "a", "limit": "ten"}), expect![[r#"error: invalid arguments for `read_file`: /limit: "ten" is not of types "null", "integer"; expected {"limit"?: integer, "offset"?: integer, "path": string}"#]]).await;
    f.check("edit_file", json!("{\"path\": \"a\""), expect![[r#"error: the arguments of `edit_file` are not JSON: {"path": "a"; send an object like {"new_string": string, "old_string": string, "path": string, "replace_all"?: boolean}"#]]).await;
    // Arguments sent as a JSON string are accepted.
    let output = f
        .call("write_file", json!("{\"path\": \"s.txt\", \"content\": \"ok\"}"))
        .await;
    assert_eq!(output.outcome, Outcome::Ok, "{}", output.text);
    let output = f.call("read_file", json!({})).await;
    assert_eq!(output.outcome, Outcome::InvalidArguments);
}

#[test]
fn schemas_suit_strict_local_servers() {
    let f = Fixture::new(&[]);
    for tool in &f.tools {
        let schema = tool.parameters().to_string();
        for banned in ["$schema", "\"title\"", "\"format\""] {
            assert!(!schema.contains(banned), "{} has {banned}: {schema}", tool.name());
        }
        assert!(tool.description().contains("Example"), "{} has no example", tool.name());
    }
    let names: Vec<&str> = f.tools.iter().map(|t| t.name()).collect();
    expect!["read_file, write_file, edit_file, list_dir, glob, grep, git_diff"].assert_eq(&names.join(", "));
}

fn git(root: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[tokio::test]
async fn git_diff_shows_tracked_changes_and_new_files() {
    let f = Fixture::new(&[("src/lib.rs", "fn a() {}\n"), (".gitignore", "target/\n")]);
    git(f.root(), &["init", "-q", "-b", "main"]);
    git(f.root(), &["add", "."]);
    git(f.root(), &["commit", "-q", "-m", "init"]);
    f.check(
        "git_diff",
        json!({}),
        expect!["git diff against HEAD, untracked files included: no changes"],
    )
    .await;
    f.call("read_file", json!({"path": "src/lib.rs"})).await;
    f.call(
        "write_file",
        json!({"path": "src/lib.rs", "content": "fn a() {}\nfn b() {}\n"}),
    )
    .await;
    f.call(
        "write_file",
        json!({"path": "src/new.rs", "content": "pub struct New;\n"}),
    )
    .await;
    f.call("write_file", json!({"path": "target/out.txt", "content": "ignored\n"}))
        .await;
    f.check(
        "git_diff",
        json!({}),
        expect![[r#"
        git diff against HEAD, untracked files included: 2 files changed: src/lib.rs (+1 −0), src/new.rs (new, 1 line)
        diff --git a/src/lib.rs b/src/lib.rs
        index ca05282..83021ca 100644
        --- a/src/lib.rs
        +++ b/src/lib.rs
        @@ -1 +1,2 @@
         fn a() {}
        +fn b() {}
        diff --git a/src/new.rs b/src/new.rs
        new file
        --- /dev/null
        +++ b/src/new.rs
        @@ -0,0 +1 @@
        +pub struct New;
    "#]],
    )
    .await;
    f.check(
        "git_diff",
        json!({"path": "src/new.rs"}),
        expect![[r#"
        git diff against HEAD, untracked files included: 1 file changed: src/new.rs (new, 1 line)
        diff --git a/src/new.rs b/src/new.rs
        new file
        --- /dev/null
        +++ b/src/new.rs
        @@ -0,0 +1 @@
        +pub struct New;
    "#]],
    )
    .await;
}

#[tokio::test]
async fn git_diff_without_git_shows_what_the_tools_changed() {
    let f = Fixture::new(&[("a.txt", "one\ntwo\n")]);
    f.check(
        "git_diff",
        json!({}),
        expect!["not a git repository: the changes the tools made in this session: no changes"],
    )
    .await;
    f.call("read_file", json!({"path": "a.txt"})).await;
    f.call(
        "edit_file",
        json!({"path": "a.txt", "old_string": "two", "new_string": "2"}),
    )
    .await;
    f.call("write_file", json!({"path": "b/new.txt", "content": "fresh\n"}))
        .await;
    f.check("git_diff", json!({}), expect![[r#"
        not a git repository: the changes the tools made in this session: 2 files changed: a.txt (+1 −1), b/new.txt (new, 1 line)
        diff --git a/a.txt b/a.txt
        --- a/a.txt
        +++ b/a.txt
        @@ -1,2 +1,2 @@
         one
        -two
        +2
        diff --git a/b/new.txt b/b/new.txt
        --- /dev/null
        +++ b/b/new.txt
        @@ -0,0 +1 @@
        +fresh
    "#]]).await;
    // A file the tools created and something else removed again is no change at all.
    std::fs::remove_file(f.root().join("b/new.txt")).unwrap();
    let text = f.call("git_diff", json!({})).await.text;
    assert!(text.contains("1 file changed: a.txt (+1 −1)\n"), "{text}");
    assert!(!text.contains("new.txt"), "{text}");
}

#[tokio::test]
async fn git_diff_on_a_named_pipe_does_not_hang() {
    let f = Fixture::new(&[]);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        f.root().join("pipe"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from(0o644),
        0,
    )
    .unwrap();
    // Opening a FIFO for reading blocks until a writer comes; no tool may do that.
    f.check(
        "git_diff",
        json!({"path": "pipe"}),
        expect!["not a git repository: the changes the tools made in this session: no changes"],
    )
    .await;
    f.check(
        "edit_file",
        json!({"path": "pipe", "old_string": "a", "new_string": "b"}),
        expect!["error: `pipe` is a special file (a pipe, socket or device), not a regular file"],
    )
    .await;
}
