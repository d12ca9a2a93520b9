//! The command runner with real processes and real time (T8): time limits that kill the whole
//! process group, output caps, exit statuses, the scrubbed environment, cancellation, and
//! snapshots of what the model reads.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use expect_test::{Expect, expect};
use lemmings_tools::command::{self, CommandOutcome, CommandPolicy, Exit, RunCommand};
use lemmings_tools::{CallContext, Tool};
use serde_json::json;
use tempfile::TempDir;

const LIMIT: Duration = Duration::from_secs(2);
const GRACE: Duration = Duration::from_secs(1);

/// A policy allowing `allowed` with a 2 s limit and a 1 s grace.
fn policy(allowed: &[&str]) -> CommandPolicy {
    CommandPolicy::new(allowed).with_timeout(LIMIT).with_grace(GRACE)
}

fn argv(command: &str) -> Vec<String> {
    shell_words::split(command).expect("test commands parse")
}

/// Runs `command` (allowed as a whole) in `dir` and checks that no process of its group is
/// left alive.
async fn run_in(policy: &CommandPolicy, dir: &Path, command: &str, timeout: Option<Duration>) -> CommandOutcome {
    let outcome = command::run(policy, dir, &argv(command), timeout)
        .await
        .expect("the command runs");
    assert_group_gone(outcome.pgid);
    assert_eq!(outcome.survivors, 0);
    outcome
}

async fn run(policy: &CommandPolicy, command: &str, timeout: Option<Duration>) -> CommandOutcome {
    let dir = TempDir::new().expect("temp dir");
    run_in(policy, dir.path(), command, timeout).await
}

/// The live (not zombie) processes of group `pgid`, as `pid (comm) state`.
fn live_in_group(pgid: i32) -> Vec<String> {
    let mut live = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc is readable").flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else { continue };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if let [state, _ppid, pgrp, ..] = fields[..]
            && pgrp.parse() == Ok(pgid)
            && !matches!(state, "Z" | "X")
        {
            live.push(stat[..close + 1].to_owned() + " " + state);
        }
    }
    live
}

fn assert_group_gone(pgid: i32) {
    let live = live_in_group(pgid);
    assert!(live.is_empty(), "processes of group {pgid} survived: {live:?}");
}

/// Waits (bounded) for a SIGKILL sent elsewhere to take effect.
async fn assert_group_dies(pgid: i32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !live_in_group(pgid).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_group_gone(pgid);
}

fn assert_killed_in_time(outcome: &CommandOutcome, limit: Duration) {
    assert_eq!(outcome.exit, Exit::TimedOut);
    assert!(outcome.duration >= limit, "killed early: {:?}", outcome.duration);
    assert!(
        outcome.duration < limit + GRACE + Duration::from_secs(1),
        "killed late: {:?}",
        outcome.duration
    );
}

#[tokio::test]
async fn sleep_is_killed_at_the_limit() {
    let outcome = run(&policy(&["sleep"]), "sleep 100", None).await;
    assert_killed_in_time(&outcome, LIMIT);
    assert!(!outcome.success());
}

#[tokio::test]
async fn background_grandchild_is_killed() {
    let limit = Duration::from_secs(1);
    let outcome = run(&policy(&["sh"]), "sh -c 'sleep 100 & wait'", Some(limit)).await;
    assert_killed_in_time(&outcome, limit);
}

#[tokio::test]
async fn process_ignoring_sigterm_is_killed_after_the_grace() {
    let limit = Duration::from_secs(1);
    let outcome = run(&policy(&["sh"]), "sh -c 'trap \"\" TERM; sleep 100'", Some(limit)).await;
    assert_killed_in_time(&outcome, limit);
    assert!(
        outcome.duration >= limit + GRACE,
        "SIGKILL before the grace ended: {:?}",
        outcome.duration
    );
}

#[tokio::test]
async fn output_flood_is_capped() {
    let limit = Duration::from_secs(1);
    let cap = 32 * 1024;
    let outcome = run(&policy(&["yes"]).with_max_output_bytes(cap), "yes", Some(limit)).await;
    assert_killed_in_time(&outcome, limit);
    assert!(outcome.truncated && outcome.stdout.truncated && !outcome.stderr.truncated);
    assert!(
        outcome.stdout.bytes > 10 * cap as u64,
        "only {} bytes read",
        outcome.stdout.bytes
    );
    assert!(
        outcome.stdout.text.len() <= cap + 64,
        "kept {} bytes",
        outcome.stdout.text.len()
    );
    assert!(outcome.stdout.text.starts_with("y\ny\n") && outcome.stdout.text.ends_with("y\ny\n"));
    assert!(outcome.stdout.text.contains(" bytes omitted ...]\n"));
}

#[tokio::test]
async fn fork_burst_is_killed() {
    let limit = Duration::from_secs(1);
    let command = "sh -c 'for i in $(seq 50); do sleep 100 & done; echo forked; wait'";
    let outcome = run(&policy(&["sh"]), command, Some(limit)).await;
    assert_killed_in_time(&outcome, limit);
    assert_eq!(outcome.stdout.text, "forked\n");
}

#[tokio::test]
async fn leftover_background_process_is_killed_when_the_command_exits() {
    let outcome = run(&policy(&["sh"]), "sh -c 'sleep 100 & echo started'", None).await;
    assert_eq!(outcome.exit, Exit::Code(0));
    assert_eq!(outcome.stdout.text, "started\n");
    assert!(
        outcome.duration < GRACE,
        "waited for the leftover: {:?}",
        outcome.duration
    );
}

#[tokio::test]
async fn leftover_ignoring_sigterm_is_killed_after_the_grace() {
    let outcome = run(
        &policy(&["sh"]),
        // Ignored before the fork, so the leftover ignores SIGTERM from its first instant.
        "sh -c 'trap \"\" TERM; sleep 100 & echo started'",
        None,
    )
    .await;
    assert_eq!(outcome.exit, Exit::Code(0));
    assert_eq!(outcome.stdout.text, "started\n");
    assert!(
        outcome.duration >= GRACE && outcome.duration < GRACE + Duration::from_secs(1),
        "{:?}",
        outcome.duration
    );
}

#[tokio::test]
async fn exit_codes_and_signals_are_reported() {
    let policy = policy(&["sh"]);
    for code in [0, 1, 101] {
        let outcome = run(&policy, &format!("sh -c 'exit {code}'"), None).await;
        assert_eq!(outcome.exit, Exit::Code(code));
        assert_eq!(outcome.success(), code == 0);
    }
    let outcome = run(&policy, "sh -c 'kill -9 $$'", None).await;
    assert_eq!(outcome.exit, Exit::Signal(9));
}

#[tokio::test]
async fn environment_is_scrubbed() {
    let secret = "hunter2-canary-value";
    let policy = policy(&["env"])
        .with_secrets([secret])
        .with_scrub_env(["LEMMINGS_TEST_LISTED"])
        .with_env("LEMMINGS_TEST_API_KEY", "canary-by-name")
        .with_env("lemmings_test_token", "canary-by-name-lowercase")
        .with_env("LEMMINGS_TEST_INNOCENT", format!("prefix-{secret}-suffix"))
        .with_env("LEMMINGS_TEST_LISTED", "canary-listed")
        .with_env("LEMMINGS_TEST_VISIBLE", "visible");
    let outcome = run(&policy, "env", None).await;
    let env = &outcome.stdout.text;
    assert!(env.contains("LEMMINGS_TEST_VISIBLE=visible\n"), "{env}");
    assert!(env.contains("PATH="), "{env}");
    assert!(
        !env.contains("canary") && !env.contains("LEMMINGS_TEST_INNOCENT"),
        "{env}"
    );
    // Whatever this process inherited: nothing secret-looking reaches the command.
    for line in env.lines() {
        let name = line.split('=').next().unwrap_or_default().to_uppercase();
        for part in [
            "API_KEY",
            "APIKEY",
            "TOKEN",
            "SECRET",
            "PASSWORD",
            "PASSWD",
            "CREDENTIAL",
            "PRIVATE_KEY",
            "ACCESS_KEY",
        ] {
            assert!(!name.contains(part), "{line}");
        }
    }
}

#[tokio::test]
async fn secrets_are_redacted_from_output() {
    let policy = policy(&["echo", "sh"]).with_secrets(["hunter2-canary-value"]);
    let outcome = run(&policy, "sh -c 'echo the key is hunter2-canary-value >&2'", None).await;
    assert_eq!(outcome.stderr.text, "the key is [redacted]\n");
    let dir = TempDir::new().expect("temp dir");
    let tool = RunCommand::new(dir.path(), Arc::new(policy));
    let output = tool
        .call(json!({"command": "echo hunter2-canary-value"}), &CallContext::default())
        .await;
    assert!(!output.text.contains("hunter2"), "{output}");
}

#[tokio::test]
async fn runs_in_the_workspace_with_empty_stdin() {
    let dir = TempDir::new().expect("temp dir");
    let policy = policy(&["pwd", "cat", "./shell"]);
    let outcome = run_in(&policy, dir.path(), "pwd", None).await;
    let expected = dir.path().canonicalize().expect("canonical temp dir");
    assert_eq!(Path::new(outcome.stdout.text.trim_end()), expected);
    // `cat` would wait forever on an inherited stdin.
    let outcome = run_in(&policy, dir.path(), "cat", None).await;
    assert_eq!((outcome.exit, outcome.stdout.bytes), (Exit::Code(0), 0));
    // A relative program path names a file in the workspace.
    std::os::unix::fs::symlink("/bin/sh", dir.path().join("shell")).expect("symlink");
    let outcome = run_in(&policy, dir.path(), "./shell -c 'echo from the workspace'", None).await;
    assert_eq!(outcome.stdout.text, "from the workspace\n");
}

#[tokio::test]
async fn dropping_the_call_kills_the_group() {
    let dir = TempDir::new().expect("temp dir");
    let policy = policy(&["sh"]).with_timeout(Duration::from_secs(60));
    let command = argv("sh -c 'echo $$ > pgid; exec sleep 100'");
    let started = Instant::now();
    let call = command::run(&policy, dir.path(), &command, None);
    let result = tokio::time::timeout(Duration::from_secs(1), call).await;
    assert!(result.is_err(), "the command finished: {result:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let pgid = std::fs::read_to_string(dir.path().join("pgid")).expect("the command wrote its pid");
    assert_group_dies(pgid.trim().parse().expect("a pid")).await;
}

#[tokio::test]
async fn missing_program_and_workspace_are_errors() {
    let policy = policy(&["lemmings-no-such-program", "sh"]);
    let dir = TempDir::new().expect("temp dir");
    let error = command::run(&policy, dir.path(), &argv("lemmings-no-such-program --flag"), None).await;
    let error = error.expect_err("nothing to start");
    expect!["cannot start `lemmings-no-such-program`: no such program (is it installed and on PATH?)"]
        .assert_eq(&error.to_string());
    assert!(!error.is_retryable());
    let error = command::run(&policy, &dir.path().join("missing"), &argv("sh"), None).await;
    let message = error.expect_err("no workspace").to_string();
    assert!(
        message.starts_with("cannot run commands in `") && message.ends_with("No such file or directory (os error 2)")
    );
}

/// What the model reads for `arguments`, with the duration of a finished command masked.
async fn check(policy: CommandPolicy, arguments: serde_json::Value, expect: Expect) {
    let dir = TempDir::new().expect("temp dir");
    let tool = RunCommand::new(dir.path(), Arc::new(policy));
    let output = tool.call(arguments, &CallContext::keyed("thread/1/0/0")).await;
    let text: Vec<String> = output
        .text
        .lines()
        .map(|line| match line.rsplit_once(" after ") {
            Some((status, _)) if line.starts_with("exit status") || line.starts_with("killed by") => {
                format!("{status} after <duration>")
            }
            _ => line.to_owned(),
        })
        .collect();
    expect.assert_eq(&format!("{:?}\n{}\n", output.outcome, text.join("\n")));
}

#[tokio::test]
async fn render_exit_status_and_streams() {
    let policy = || policy(&["sh", "true", "sleep", "seq"]).with_max_output_bytes(64);
    check(
        policy(),
        json!({"command": "sh -c 'echo out; echo err >&2; exit 3'"}),
        expect![[r#"
            Ok
            $ sh -c 'echo out; echo err >&2; exit 3'
            exit status 3 (failed) after <duration>
            --- stdout ---
            out
            --- stderr ---
            err
        "#]],
    )
    .await;
    check(
        policy(),
        json!({"command": "true"}),
        expect![[r#"
            Ok
            $ true
            exit status 0 (success) after <duration>
            (no output)
        "#]],
    )
    .await;
    check(
        policy(),
        json!({"command": "sh -c 'printf partial; kill -9 $$'"}),
        expect![[r#"
            Ok
            $ sh -c 'printf partial; kill -9 $$'
            killed by signal 9 (SIGKILL) after <duration>
            --- stdout ---
            partial
        "#]],
    )
    .await;
    check(
        policy(),
        json!({"command": "seq 100000"}),
        expect![[r#"
            Ok
            $ seq 100000
            exit status 0 (success) after <duration>
            --- stdout (truncated: 575.1 KiB in all, the start and the end are shown) ---
            1
            2
            3
            4
            5
            6
            7
            8
            9
            10
            11
            12
            13
            [... 588834 bytes omitted ...]
            99996
            99997
            99998
            99999
            100000
        "#]],
    )
    .await;
}

#[tokio::test]
async fn render_timeouts() {
    let policy = || policy(&["sh", "sleep"]);
    check(
        policy(),
        json!({"command": "sh -c 'echo waiting; sleep 100'", "timeout_s": 1}),
        expect![[r#"
            Ok
            $ sh -c 'echo waiting; sleep 100'
            timed out after 1s: the process group was killed; raise timeout_s (at most 2) or run a narrower command
            --- stdout ---
            waiting
        "#]],
    )
    .await;
    check(
        policy().with_timeout(Duration::from_secs(1)),
        json!({"command": "sleep 100", "timeout_s": 5000}),
        expect![[r#"
            Ok
            $ sleep 100
            timed out after 1s: the process group was killed; that is the longest allowed, so run a narrower command (one package or one test)
            (no output)
        "#]],
    )
    .await;
}

#[tokio::test]
async fn refusals_say_what_to_do() {
    let policy = CommandPolicy::new(["cargo check", "cargo test"]);
    let dir = TempDir::new().expect("temp dir");
    let tool = RunCommand::new(dir.path(), Arc::new(policy));
    let commands = [
        "rm -rf target",
        "cargo build",
        "cargo check && cargo test",
        "cargo test 2>&1",
        "cargo test | tail -n 5",
        "cargo test; echo done",
        "cargo test > log.txt",
        "cargo test -p $(ls)",
        "cargo check\ncargo test",
        "cargo test 'unterminated",
        "  ",
    ];
    let mut text = String::new();
    for command in commands {
        let output = tool.call(json!({ "command": command }), &CallContext::default()).await;
        assert!(output.is_error());
        text.push_str(&format!("{command:?}\n  {output}\n"));
    }
    expect![[r#"
        "rm -rf target"
          error: `rm -rf target` is not allowed; allowed: cargo check, cargo test
        "cargo build"
          error: `cargo build` is not allowed; allowed: cargo check, cargo test
        "cargo check && cargo test"
          error: `cargo check && cargo test` uses `&&`, but run_command runs one program without a shell (no pipes, redirections, `&&`, `;` or substitutions); run the commands one per call
        "cargo test 2>&1"
          error: `cargo test 2>&1` uses `2>&1`, but run_command runs one program without a shell (no pipes, redirections, `&&`, `;` or substitutions); run the commands one per call
        "cargo test | tail -n 5"
          error: `cargo test | tail -n 5` uses `|`, but run_command runs one program without a shell (no pipes, redirections, `&&`, `;` or substitutions); run the commands one per call
        "cargo test; echo done"
          error: `cargo test; echo done` uses `;`, but run_command runs one program without a shell (no pipes, redirections, `&&`, `;` or substitutions); run the commands one per call
        "cargo test > log.txt"
          error: `cargo test > log.txt` uses `>`, but run_command runs one program without a shell (no pipes, redirections, `&&`, `;` or substitutions); run the commands one per call
        "cargo test -p $(ls)"
          error: `cargo test -p $(ls)` uses `$(`, but run_command runs one program without a shell (no pipes, redirections, `&&`, `;` or substitutions); run the commands one per call
        "cargo check\ncargo test"
          error: `cargo check\ncargo test` uses a line break, but run_command runs one program without a shell (no pipes, redirections, `&&`, `;` or substitutions); run the commands one per call
        "cargo test 'unterminated"
          error: cannot parse `cargo test 'unterminated`: missing closing quote; quote arguments with matching ' or " quotes
        "  "
          error: the command is empty; send one program and its arguments (allowed: cargo check, cargo test)
    "#]]
    .assert_eq(&text);
    let empty = RunCommand::new(dir.path(), Arc::new(CommandPolicy::new(Vec::<String>::new())));
    let output = empty
        .call(json!({"command": "cargo test"}), &CallContext::default())
        .await;
    expect!["error: `cargo test` is not allowed; no commands are allowed in this configuration"]
        .assert_eq(&output.text);
}

#[test]
fn description_and_schema() {
    let tool = RunCommand::new("/work", Arc::new(CommandPolicy::new(["cargo check", "cargo test"])));
    expect![[r#"Runs one command in the workspace root and returns its exit status and output (long output keeps its start and end). Allowed: `cargo check`, `cargo test` (further arguments may follow). There is no shell: no pipes, redirections, `&&`, globs or $VARIABLES; run one command per call. Time limit: 600s (timeout_s sets a lower one). Example: {"command": "cargo check"}"#]].assert_eq(&tool.description());
    expect![[r#"
        {
          "additionalProperties": false,
          "description": "The arguments of `run_command`.",
          "properties": {
            "command": {
              "description": "One program and its arguments, e.g. \"cargo test -p foo\" (no shell: no pipes, redirections or `&&`).",
              "type": "string"
            },
            "timeout_s": {
              "description": "Time limit in seconds; the configured limit is the default and the maximum.",
              "minimum": 0,
              "type": [
                "integer",
                "null"
              ]
            }
          },
          "required": [
            "command"
          ],
          "type": "object"
        }"#]].assert_eq(&serde_json::to_string_pretty(&tool.parameters()).expect("json"));
    assert_eq!((tool.name(), tool.has_side_effects()), ("run_command", true));
}
