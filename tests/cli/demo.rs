//! `lemmings demo`: the whole workflow against the built-in scripted models, stopped midway as
//! Ctrl-C would stop it, and resumed from its checkpoint. `--pace 0` streams without pauses.

use serde_json::Value;

use crate::common::Scratch;

#[test]
fn the_demo_stops_resumes_and_completes_in_a_kept_workspace() {
    let scratch = Scratch::new();
    let dir = scratch.root().join("demo");
    let dir_arg = dir.display().to_string();

    let demo = scratch
        .lemmings(["demo", "--pace", "0", "--workspace", &dir_arg])
        .output();
    demo.expect_code(0);
    assert_eq!(demo.stderr, "");
    let thread = demo.thread();
    let stdout = &demo.stdout;
    assert!(stdout.contains("notice: DEMO: "), "{demo}");
    let stop = stdout
        .find("DEMO: stopped the run after `implementor`")
        .expect("the demo says it stopped");
    let resume = stdout
        .find(&format!("DEMO: resuming thread {thread}"))
        .expect("the demo says it resumes");
    let done = stdout.find("\n✓ complete in ").expect("the demo completes");
    assert!(stop < resume && resume < done, "{demo}");
    assert!(
        stdout.contains(&format!("lemmings history {thread} --workspace {dir_arg}")),
        "{demo}"
    );
    for file in ["src/greet.rs", "README.md"] {
        assert!(dir.join(file).is_file(), "{file} is missing: {demo}");
    }

    // The kept workspace holds the thread: the inspection commands read it.
    let show = scratch
        .lemmings(["show", &thread, "--workspace", &dir_arg, "--json"])
        .output();
    show.expect_code(0);
    let state: Value = serde_json::from_str(&show.stdout).expect("`show --json` prints JSON");
    assert_eq!(state["status"], "complete", "{show}");
    let history = scratch.lemmings(["history", &thread, "--workspace", &dir_arg]).output();
    history.expect_code(0);
    assert!(history.stdout.lines().count() > 10, "{history}");

    // A second demo there is refused: the workspace is not empty any more.
    let again = scratch
        .lemmings(["demo", "--pace", "0", "--workspace", &dir_arg])
        .output();
    let line = again.usage_error();
    assert!(line.contains("is not empty"), "{again}");
}

#[test]
fn the_demo_in_a_scratch_workspace_removes_it_and_json_is_one_event_per_line() {
    let scratch = Scratch::new();
    let tmp = scratch.root().join("tmp");
    std::fs::create_dir(&tmp).expect("a TMPDIR");

    let demo = scratch
        .lemmings(["demo", "--pace", "0", "--json"])
        .env("TMPDIR", &tmp.display().to_string())
        .output();
    demo.expect_code(0);
    assert_eq!(demo.stderr, "");
    let events: Vec<Value> = demo
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
        .collect();
    let notices: Vec<&str> = events
        .iter()
        .filter(|event| event["type"] == "notice")
        .filter_map(|event| event["message"].as_str())
        .collect();
    assert!(
        notices.iter().any(|notice| notice.contains("DEMO: stopped")),
        "{notices:?}"
    );
    assert!(
        notices.iter().any(|notice| notice.contains("DEMO: resuming")),
        "{notices:?}"
    );
    let ends: Vec<&Value> = events.iter().filter(|event| event["type"] == "end").collect();
    let last = ends.last().expect("an end event");
    assert_eq!(
        (&last["status"], &last["exit_code"]),
        (&Value::from("complete"), &Value::from(0)),
        "{last}"
    );
    // The scratch workspace is gone.
    let left: Vec<_> = std::fs::read_dir(&tmp).expect("the TMPDIR").collect();
    assert!(left.is_empty(), "the demo left {left:?}");
}

/// On a terminal (a pseudo-terminal from util-linux's `script`) the view paints and redraws
/// its block of calls in flight; piped, it writes plain lines without a single escape code.
#[test]
fn the_live_view_paints_only_on_a_terminal() {
    let scratch = Scratch::new();
    let piped = scratch.lemmings(["demo", "--pace", "0"]).output();
    piped.expect_code(0);
    assert!(!piped.stdout.contains('\x1b'), "escape codes in piped output: {piped}");

    let binary = env!("CARGO_BIN_EXE_lemmings");
    let terminal = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &format!("{binary} demo --pace 0"), "/dev/null"])
        .current_dir(scratch.root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm-256color")
        .output()
        .expect("util-linux `script` runs (bsdutils)");
    let out = String::from_utf8_lossy(&terminal.stdout);
    assert_eq!(terminal.status.code(), Some(0), "{out}");
    assert!(out.contains("\x1b[33mnotice:\x1b[0m"), "notices are coloured: {out}");
    assert!(out.contains("\x1b[32m✓\x1b[0m"), "marks are coloured: {out}");
    // The block (spinner, node, time) is drawn at the first tick and erased before each line.
    assert!(out.contains(" · 0."), "the block's elapsed time: {out}");
    assert!(out.contains("F\x1b[J"), "the block is redrawn in place: {out}");
}
