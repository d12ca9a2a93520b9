//! Tests of the verify step on real temporary workspaces, with and without git.

use std::path::Path;
use std::process::Command;

use expect_test::expect;
use lemmings_tools::{WorkspaceOptions, WriteMode};

use super::*;

fn workspace(dir: &Path) -> Arc<Workspace> {
    Workspace::open(dir, WorkspaceOptions::default()).unwrap()
}

fn claims(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| (*p).to_owned()).collect()
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(status.status.success(), "git {args:?}: {status:?}");
}

fn check(command: &str) -> CheckCommand {
    CheckCommand {
        command: command.to_owned(),
        policy: Arc::new(CommandPolicy::new(["true", "false"])),
    }
}

#[tokio::test]
async fn without_git_the_tools_record_is_the_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace(dir.path());
    ws.write(
        "src/lib.rs",
        b"pub fn answer() -> u32 {\n    42\n}\n",
        WriteMode::CreateOrReplace,
    )
    .unwrap();
    let report = verify(&ws, &claims(&["./src/lib.rs"]), None).await;
    assert!(report.passed, "{report:#?}");
    assert_eq!(report.changed, ["src/lib.rs"]);
    assert!(report.diff.contains("+pub fn answer() -> u32 {"), "{}", report.diff);
    expect![[r#"
        verification passed
        claimed files:
        - src/lib.rs: 34 bytes, changed
        changed files: src/lib.rs
    "#]]
    .assert_eq(&report.render());
    expect!["verified: 1 claimed file(s) changed"].assert_eq(&report.summary());
}

#[tokio::test]
async fn missing_unchanged_empty_and_escaping_claims_are_problems() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "# readme\n").unwrap();
    let ws = workspace(dir.path());
    ws.write("src/a.rs", b"fn a() {}\n", WriteMode::CreateOrReplace)
        .unwrap();
    ws.write("src/empty.rs", b"", WriteMode::CreateOrReplace).unwrap();
    let claimed = claims(&[
        "src/a.rs",
        "README.md",
        "src/gone.rs",
        "../outside.rs",
        "src/empty.rs",
        "src/a.rs",
    ]);
    let report = verify(&ws, &claimed, None).await;
    assert!(!report.passed);
    assert_eq!(report.files.len(), 5, "a repeated claim is checked once");
    expect![[r#"
        verification FAILED
        claimed files:
        - src/a.rs: 10 bytes, changed
        - README.md: 9 bytes, unchanged
        - src/gone.rs: missing
        - ../outside.rs: missing
        - src/empty.rs: 0 bytes, changed
        changed files: src/a.rs, src/empty.rs
        problem: claimed file `README.md` is unchanged
        problem: claimed file `src/gone.rs` does not exist
        problem: claimed file `../outside.rs` is not usable: path escapes workspace: `../outside.rs`; use a path relative to the workspace root
        problem: claimed file `src/empty.rs` is empty
    "#]]
    .assert_eq(&report.render());
}

#[tokio::test]
async fn nothing_changed_is_never_evidence() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "# readme\n").unwrap();
    let ws = workspace(dir.path());
    let report = verify(&ws, &[], None).await;
    assert!(!report.passed);
    expect![[r#"
        [
            "the implementation listed no modified files",
            "no file changed in the workspace",
        ]
    "#]]
    .assert_debug_eq(&report.problems);

    // Writing a file back with its old content is no change either.
    ws.write("README.md", b"# readme\n", WriteMode::CreateOrReplace)
        .unwrap();
    let report = verify(&ws, &claims(&["README.md"]), None).await;
    assert!(!report.passed);
    assert!(report.changed.is_empty(), "{:?}", report.changed);
}

#[tokio::test]
async fn with_git_tracked_untracked_and_deleted_files_count() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("README.md"), "# readme\n").unwrap();
    std::fs::write(root.join("old.txt"), "old\n").unwrap();
    std::fs::write(root.join("keep.txt"), "keep\n").unwrap();
    git(root, &["init", "-q"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "initial"]);
    // Changed outside the tools: git is the truth, not the tools' record.
    std::fs::write(root.join("README.md"), "# readme\nmore\n").unwrap();
    std::fs::write(root.join("new.txt"), "brand new\n").unwrap();
    std::fs::remove_file(root.join("old.txt")).unwrap();
    let ws = workspace(root);
    let report = verify(&ws, &claims(&["README.md", "new.txt", "old.txt"]), None).await;
    assert!(report.passed, "{}", report.render());
    assert_eq!(report.changed, ["README.md", "new.txt", "old.txt"]);
    assert!(
        report.diff.contains("+brand new"),
        "untracked files are in the diff: {}",
        report.diff
    );

    let report = verify(&ws, &claims(&["keep.txt"]), None).await;
    expect![[r#"
        [
            "claimed file `keep.txt` is unchanged",
        ]
    "#]]
    .assert_debug_eq(&report.problems);
}

#[tokio::test]
async fn the_check_command_decides_too() {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace(dir.path());
    ws.write("a.txt", b"a\n", WriteMode::CreateOrReplace).unwrap();

    let report = verify(&ws, &claims(&["a.txt"]), Some(&check("true"))).await;
    assert!(report.passed, "{}", report.render());
    let result = report.check.as_ref().unwrap();
    assert_eq!((result.passed, result.exit), (true, Some(0)));
    assert_eq!(report.check_passed(), Some(true));

    let report = verify(&ws, &claims(&["a.txt"]), Some(&check("false"))).await;
    assert!(!report.passed);
    let result = report.check.as_ref().unwrap();
    assert_eq!((result.passed, result.exit), (false, Some(1)));
    assert!(result.output_tail.contains("exit status 1"), "{}", result.output_tail);
    assert_eq!(report.problems, ["check `false` failed (exit 1)"]);

    let report = verify(&ws, &claims(&["a.txt"]), Some(&check("rm -rf ."))).await;
    let result = report.check.as_ref().unwrap();
    assert!(!result.passed);
    assert_eq!(result.exit, None);
    expect!["not run: `rm -rf .` is not allowed; allowed: true, false"].assert_eq(&result.output_tail);
    assert!(dir.path().join("a.txt").exists());
}

#[test]
fn long_diffs_are_cut_and_hashes_are_stable() {
    let diff = "x".repeat(MAX_DIFF_CHARS + 10);
    let cut = cap_diff(&diff);
    assert!(cut.starts_with(&"x".repeat(MAX_DIFF_CHARS)));
    assert!(cut.ends_with("call git_diff with path= for one file]\n"));
    assert_eq!(fnv1a(b""), "cbf29ce484222325");
    assert_eq!(fnv1a(b"a"), "af63dc4c8601ec8c");
}
