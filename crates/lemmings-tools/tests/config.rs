//! The `[tools]` section: the repository's `config.toml`, the documented defaults, every refusal
//! (naming the file, line and key), and the policy and workspace options built from it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use expect_test::expect;
use lemmings_tools::command::RunCommand;
use lemmings_tools::{CallContext, Outcome, Tool, ToolsConfig, Workspace};
use serde_json::json;

const REPO_CONFIG: &str = include_str!("../../../config.toml");

const KEYS: &[&str] = &[
    "allowed_commands",
    "command_timeout_s",
    "command_grace_s",
    "command_output_kib",
    "scrub_env",
    "protected",
    "max_file_mib",
];

fn refusal(text: &str) -> String {
    let error = ToolsConfig::parse(text, "config.toml").expect_err("refused");
    assert!(!error.is_retryable());
    assert_eq!(error.file(), "config.toml");
    error.to_string()
}

#[test]
fn the_repository_config_allows_a_rust_projects_checks() {
    let config = ToolsConfig::parse(REPO_CONFIG, "config.toml").expect("the repository's config.toml parses");
    assert_eq!(
        config.allowed_commands,
        [
            "cargo check",
            "cargo build",
            "cargo test",
            "cargo clippy",
            "cargo fmt --check"
        ]
    );
    let policy = config.command_policy(Vec::<String>::new());
    let allowed = |command: &str| policy.parse(command).is_ok();
    assert!(allowed("cargo test -p lemmings-tools"));
    assert!(allowed("cargo fmt --check --all"));
    assert!(!allowed("cargo fmt --all"), "only the check form of fmt is allowed");
    assert!(!allowed("cargo publish"));
    assert!(!allowed("rm -rf target"));
}

#[test]
fn documented_example_block_is_every_key_at_its_default() {
    let block: String = REPO_CONFIG
        .lines()
        .skip_while(|line| *line != "# [tools]")
        .take_while(|line| line.starts_with("# ") || line.starts_with("#  "))
        .map(|line| format!("{}\n", &line[2..]))
        .collect();
    assert!(
        block.starts_with("[tools]\n"),
        "config.toml has no commented [tools] block"
    );
    for key in KEYS {
        assert!(
            block.lines().any(|line| line.starts_with(&format!("{key} ="))),
            "config.toml does not document `{key}`"
        );
    }
    let parsed = ToolsConfig::parse(&block, "config.toml").expect("the documented block parses");
    assert_eq!(parsed, ToolsConfig::defaults("config.toml"));
}

#[test]
fn without_the_section_everything_has_its_default_and_no_command_is_allowed() {
    let config = ToolsConfig::parse("[llm.primary]\nprovider = \"ollama\"\n", "x.toml").expect("parses");
    assert_eq!(config, ToolsConfig::defaults("x.toml"));
    assert!(config.allowed_commands.is_empty());
    assert_eq!(config.command_timeout, Duration::from_secs(600));
    assert_eq!(config.command_grace, Duration::from_secs(2));
    assert_eq!(config.command_output_bytes, 32 * 1024);
    assert_eq!(config.max_file_bytes, 10 << 20);
    assert_eq!(config.protected, [PathBuf::from(".git"), PathBuf::from(".lemmings")]);
}

#[test]
fn every_key_is_read_and_carried_into_the_policy_and_the_workspace() {
    let config = ToolsConfig::parse(
        r#"
[tools]
allowed_commands = ["./check.sh --fast", "make 'test all'"]
command_timeout_s = 30
command_grace_s = 0
command_output_kib = 4
scrub_env = ["DATABASE_URL"]
protected = ["./secrets/", "target", ".git"]
max_file_mib = 2
"#,
        "config.toml",
    )
    .expect("parses");
    assert_eq!(
        config.protected,
        [".git", ".lemmings", "secrets", "target"].map(PathBuf::from),
        "normalised, the built-in ones kept, duplicates dropped"
    );
    let policy = config.command_policy(["sk-or-v1-abcdef"]);
    assert_eq!(
        policy.allowed,
        [vec!["./check.sh", "--fast"], vec!["make", "test all"]]
            .map(|words| words.into_iter().map(str::to_owned).collect::<Vec<_>>())
    );
    assert_eq!(
        (policy.timeout, policy.grace, policy.max_output_bytes),
        (Duration::from_secs(30), Duration::ZERO, 4096)
    );
    assert_eq!(policy.scrub_env, ["DATABASE_URL"]);
    assert_eq!(policy.secrets, ["sk-or-v1-abcdef"]);
    let scrubbed = policy.environment([
        ("DATABASE_URL".into(), "postgres://u:p@h/db".into()),
        ("HOLDS_KEY".into(), "sk-or-v1-abcdef".into()),
        ("PATH".into(), "/usr/bin".into()),
    ]);
    let names: Vec<_> = scrubbed
        .iter()
        .map(|(name, _)| name.to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"PATH".to_owned()), "{names:?}");
    assert!(!names.contains(&"DATABASE_URL".to_owned()), "{names:?}");
    assert!(!names.contains(&"HOLDS_KEY".to_owned()), "{names:?}");
    assert_eq!(policy.redact("key=sk-or-v1-abcdef"), "key=[redacted]");
    let options = config.workspace_options();
    assert_eq!((options.protected, options.max_file_bytes), (config.protected, 2 << 20));
}

#[tokio::test]
async fn configured_protected_paths_refuse_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ToolsConfig::parse("[tools]\nprotected = [\"vendor\"]\n", "config.toml").expect("parses");
    let workspace = Workspace::open(dir.path(), config.workspace_options()).expect("workspace");
    let write = lemmings_tools::files::WriteFile::new(workspace);
    for path in ["vendor/lib.rs", ".git/config", ".lemmings/lemmings.db"] {
        let output = write
            .call(json!({"path": path, "content": "x"}), &CallContext::default())
            .await;
        assert_eq!(output.outcome, Outcome::Failed, "{path}: {}", output.text);
        assert!(output.text.contains("is protected"), "{path}: {}", output.text);
    }
    assert!(!dir.path().join("vendor").exists());
}

#[tokio::test]
async fn the_built_in_protected_paths_stay_whatever_the_options_say() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = lemmings_tools::WorkspaceOptions {
        protected: Vec::new(),
        max_file_bytes: 1 << 20,
    };
    let workspace = Workspace::open(dir.path(), options).expect("workspace");
    let output = lemmings_tools::files::WriteFile::new(workspace)
        .call(
            json!({"path": ".git/hooks/pre-commit", "content": "evil"}),
            &CallContext::default(),
        )
        .await;
    assert_eq!(output.outcome, Outcome::Failed, "{}", output.text);
    assert!(!dir.path().join(".git").exists());
}

#[test]
fn the_run_command_tool_describes_the_configured_commands() {
    let config = ToolsConfig::parse(REPO_CONFIG, "config.toml").expect("parses");
    let tool = RunCommand::new("/work", Arc::new(config.command_policy(Vec::<String>::new())));
    expect![[r#"Runs one command in the workspace root and returns its exit status and output (long output keeps its start and end). Allowed: `cargo check`, `cargo build`, `cargo test`, `cargo clippy`, `cargo fmt --check` (further arguments may follow). There is no shell: no pipes, redirections, `&&`, globs or $VARIABLES; run one command per call. Time limit: 600s (timeout_s sets a lower one). Example: {"command": "cargo check"}"#]].assert_eq(&tool.description());
}

#[test]
fn refusals_name_the_file_line_and_key() {
    let cases = [
        "[tools]\nallowed_command = [\"cargo test\"]\n",
        "[tools]\ncommand_timeout_s = \"10\"\n",
        "[tools]\ncommand_timeout_s = 0\n",
        "[tools]\ncommand_timeout_s = 90000\n",
        "[tools]\ncommand_grace_s = -1\n",
        "[tools]\ncommand_output_kib = 0\n",
        "[tools]\nmax_file_mib = 4096\n",
        "[tools]\nallowed_commands = \"cargo test\"\n",
        "[tools]\nallowed_commands = [\"cargo test\",\n  \"  \"]\n",
        "[tools]\nallowed_commands = [\"sh -c 'unclosed\"]\n",
        "[tools]\nprotected = [\"../outside\"]\n",
        "[tools]\nprotected = [\"/etc\"]\n",
        "[tools]\nprotected = [\".\"]\n",
        "[tools]\nscrub_env = [\"A=B\"]\n",
        "tools = 3\n",
        "[llm.primary]\nprovider = ollama\n[tools]\n",
    ];
    let shown: Vec<String> = cases.iter().map(|case| refusal(case)).collect();
    expect![[r#"
        config.toml:2: tools.allowed_command: unknown field `allowed_command`, expected one of `allowed_commands`, `command_timeout_s`, `command_grace_s`, `command_output_kib`, `scrub_env`, `protected`, `max_file_mib`; check the spelling (config.toml at the repository root lists every key)
        config.toml:2: tools.command_timeout_s: invalid type: string "10", expected an integer
        config.toml:2: tools.command_timeout_s: expected 1 to 86400 seconds
        config.toml:2: tools.command_timeout_s: expected 1 to 86400 seconds
        config.toml:2: tools.command_grace_s: expected 0 to 60 seconds
        config.toml:2: tools.command_output_kib: expected 1 to 16384 KiB
        config.toml:2: tools.max_file_mib: expected 1 to 1024 MiB
        config.toml:2: tools.allowed_commands: invalid type: string "cargo test", expected an array of strings
        config.toml:3: tools.allowed_commands: an empty command; remove it or write one, e.g. "cargo test"
        config.toml:2: tools.allowed_commands: "sh -c 'unclosed" has an unclosed quote; close it or drop the quotes
        config.toml:2: tools.protected: "../outside" is not a path inside the workspace; write it relative to the root, without `..`
        config.toml:2: tools.protected: "/etc" is not a path inside the workspace; write it relative to the root, without `..`
        config.toml:2: tools.protected: "." is not a path inside the workspace; write it relative to the root, without `..`
        config.toml:2: tools.scrub_env: "A=B" is not an environment variable name
        config.toml:1: tools: invalid type: integer `3`, expected a table ([tools] followed by its keys)
        config.toml:2: invalid TOML: string values must be quoted, expected literal string"#]]
    .assert_eq(&shown.join("\n"));
}
