//! `config show`: the resolved configuration, every default filled in, secrets never printed;
//! and the secret of a role's `api_key = "${VAR}"` kept out of every output of the binary.

use expect_test::expect;
use lemmings_testkit::FakeServer;

use crate::common::{Lemmings, PRIMARY_MODEL, Scratch, Servers, TASK, config, script_primary};

/// The repository's documented configuration.
const REPOSITORY_CONFIG: &str = include_str!("../../config.toml");

#[test]
fn config_show_prints_the_repository_config_resolved() {
    let scratch = Scratch::new();
    // Found as ./config.toml in the current directory, without --config.
    scratch.write("config.toml", REPOSITORY_CONFIG);
    let show = scratch.lemmings(["config", "show"]).output();
    show.expect_code(0);
    assert_eq!(show.stderr, "");
    expect![[r##"
        # the resolved configuration of config.toml (current directory)
        # defaults filled in; API keys are shown as [redacted]

        [llm.primary]
        provider = "openai_compatible"
        model = "Qwen3-8B-exl2-6_0"
        base_url = "http://127.0.0.1:5000/v1"
        api_key = "[redacted]"
        optional = false
        fallback = []
        timeout_s = 300
        connect_timeout_s = 10
        max_concurrency = 1
        thinking = "strip"
        structured_output = "tool"
        max_attempts = 4
        backoff_s = 1
        max_backoff_s = 60
        retry_budget = 0.2
        breaker_failures = 1
        breaker_cooldown_s = 30

        [llm.summarizer]
        provider = "ollama"
        model = "qwen2.5:0.5b"
        base_url = "http://127.0.0.1:11434"
        optional = false
        fallback = ["primary"]
        timeout_s = 300
        connect_timeout_s = 10
        max_concurrency = 1
        thinking = "strip"
        structured_output = "tool"
        max_attempts = 4
        backoff_s = 1
        max_backoff_s = 60
        retry_budget = 0.2
        breaker_failures = 1
        breaker_cooldown_s = 30

        [llm.supervisor]
        provider = "ollama"
        model = "phi3:mini"
        base_url = "http://127.0.0.1:11434"
        optional = true
        fallback = ["primary"]
        timeout_s = 300
        connect_timeout_s = 10
        max_concurrency = 1
        thinking = "strip"
        structured_output = "tool"
        max_attempts = 4
        backoff_s = 1
        max_backoff_s = 60
        retry_budget = 0.2
        breaker_failures = 1
        breaker_cooldown_s = 30

        # [llm.research] is switched off: environment variable OPENROUTER_API_KEY is not set

        [tools]
        allowed_commands = ["cargo check", "cargo build", "cargo test", "cargo clippy", "cargo fmt --check"]
        command_timeout_s = 600
        command_grace_s = 2
        command_output_kib = 32
        scrub_env = []
        protected = [".git", ".lemmings"]
        max_file_mib = 10

        [agents]

        [agents.ask]                # built-in agents/ask.toml
        model = "primary"
        model_calls = 10
        tool_calls = 15

        [agents.assessor]                # built-in agents/assessor.toml
        model = "primary"
        model_calls = 4
        tool_calls = 0

        [agents.coder]                # built-in agents/coder.toml
        model = "primary"
        model_calls = 25
        tool_calls = 40

        [agents.deep_research]                # built-in agents/deep_research.toml
        model = "research"
        model_calls = 3
        tool_calls = 0

        [agents.explain_code]                # built-in agents/explain_code.toml
        model = "primary"
        model_calls = 20
        tool_calls = 30

        [agents.implementor]                # built-in agents/implementor.toml
        model = "primary"
        model_calls = 40
        tool_calls = 60

        [agents.qa]                # built-in agents/qa.toml
        model = "primary"
        model_calls = 20
        tool_calls = 30

        [agents.report]                # built-in agents/report.toml
        model = "primary"
        model_calls = 2
        tool_calls = 0

        [agents.scope_initial]                # built-in agents/scope_initial.toml
        model = "primary"
        model_calls = 30
        tool_calls = 40

        [agents.scope_review]                # built-in agents/scope_review.toml
        model = "primary"
        model_calls = 30
        tool_calls = 40

        [agents.supervisor]                # built-in agents/supervisor.toml
        model = "supervisor"
        model_calls = 15
        tool_calls = 20

        [agents.task_planner]                # built-in agents/task_planner.toml
        model = "primary"
        model_calls = 30
        tool_calls = 40

        [run]
        recursion_limit = 10000
        durability = "sync"
        max_attempts = 3
        review_interval = 5
        max_replans = 2
        max_tasks = 30
        max_planner_rounds = 60
        max_consecutive_skips = 3
        max_consecutive_failures = 3
        done_detail = 7
        supervise_every = 3
    "##]]
    .assert_eq(&show.stdout);

    // What it prints is a configuration that reads back the same (the switched-off role aside).
    let shown = scratch.write("shown.toml", &show.stdout);
    let again = scratch.lemmings(["config", "show", "--config", &shown]).output();
    again.expect_code(0);
    let body = |text: &str| -> String {
        text.lines()
            .skip(1)
            .filter(|line| !line.starts_with("# [llm.research] is switched off"))
            .map(|line| format!("{line}\n"))
            .collect::<String>()
            .replace("\n\n\n", "\n\n")
    };
    assert_eq!(body(&again.stdout), body(&show.stdout));
}

const SECRET: &str = "sk-lemmings-test-9f8e7d6c5b4a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_from_the_environment_is_never_printed() {
    let scratch = Scratch::new();
    let servers = Servers::start().await;
    let with_key = |primary: &str| {
        config(primary, &servers.summarizer.url()).replace(
            "max_concurrency = 1\n",
            "max_concurrency = 1\napi_key = \"${LEMMINGS_TEST_SECRET}\"\n",
        )
    };
    let up = scratch.write("up.toml", &with_key(&servers.primary.openai_url()));
    let down = scratch.write("down.toml", &with_key(&format!("{}/v1", FakeServer::refused_url())));
    let ws = scratch.ws_arg();
    let secret = |command: Lemmings| command.env("LEMMINGS_TEST_SECRET", SECRET);

    let show = secret(scratch.lemmings(["config", "show", "--config", &up]))
        .run()
        .await;
    show.expect_code(0);
    assert!(show.stdout.contains("\napi_key = \"[redacted]\"\n"), "{show}");

    let check = secret(scratch.lemmings(["models", "check", "--config", &up]))
        .run()
        .await;
    check.expect_code(0);
    // The key was resolved and sent, as a bearer token, to the primary's server only.
    let sent: Vec<Option<String>> = servers
        .primary
        .requests()
        .iter()
        .map(|request| request.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(sent, [Some(format!("Bearer {SECRET}"))], "{check}");
    assert!(check.stdout.contains(PRIMARY_MODEL), "{check}");
    assert!(
        servers
            .summarizer
            .requests()
            .iter()
            .all(|request| request.header("authorization").is_none()),
        "the primary's key went to the summarizer"
    );

    // A whole run with every log line on (the key is sent with each of its requests), its
    // `--json` twin, and a run that fails on a server that is down.
    script_primary(&servers.primary, None);
    let run = secret(scratch.lemmings(["run", TASK, "--workspace", &ws, "--config", &up]))
        .env("RUST_LOG", "trace")
        .run()
        .await;
    run.expect_code(0);
    assert_eq!(servers.primary.remaining(), 0);
    // A second workspace: in the first, src/greet.rs is already written, so the task would
    // change nothing and fail.
    script_primary(&servers.primary, None);
    let other = scratch.root().join("other");
    std::fs::create_dir(&other).expect("a second workspace");
    let other = other.display().to_string();
    let json = secret(scratch.lemmings(["run", TASK, "--json", "--workspace", &other, "--config", &up]))
        .run()
        .await;
    json.expect_code(0);
    let failed = secret(scratch.lemmings(["run", TASK, "--workspace", &ws, "--config", &down]))
        .env("RUST_LOG", "debug")
        .run()
        .await;
    failed.expect_code(1);
    let show_down = secret(scratch.lemmings(["config", "show", "--config", &down]))
        .run()
        .await;
    show_down.expect_code(0);

    for out in [&show, &check, &run, &json, &failed, &show_down] {
        assert!(
            !out.stdout.contains(SECRET) && !out.stderr.contains(SECRET),
            "the secret leaked: {out}"
        );
        assert!(
            !out.stdout.contains(&SECRET[3..]) && !out.stderr.contains(&SECRET[3..]),
            "{out}"
        );
    }
    assert!(run.stderr.len() > 1000, "RUST_LOG=trace logged little: {run}");
}

#[test]
fn the_config_and_the_database_are_found_in_the_documented_order() {
    let scratch = Scratch::new();
    let flag = scratch.write("flag.toml", REPOSITORY_CONFIG);
    let env = scratch.write("env.toml", REPOSITORY_CONFIG);
    let source = |out: &crate::common::Output| {
        out.expect_code(0);
        scratch.paths(out.stdout.lines().next().unwrap_or_default())
    };

    // The configuration: --config, else $LEMMINGS_CONFIG, else ./config.toml, else built in.
    let mut found = vec![source(&scratch.lemmings(["config", "show"]).output())];
    scratch.write("config.toml", REPOSITORY_CONFIG);
    found.push(source(&scratch.lemmings(["config", "show"]).output()));
    let with_env = scratch
        .lemmings(["config", "show"])
        .env("LEMMINGS_CONFIG", &env)
        .output();
    found.push(source(&with_env));
    let with_flag = scratch
        .lemmings(["config", "show", "--config", &flag])
        .env("LEMMINGS_CONFIG", &env)
        .output();
    found.push(source(&with_flag));

    // The database: --db, else $LEMMINGS_DB, else <workspace>/.lemmings/lemmings.db (none of
    // them exists, so the error names the one chosen).
    let ws = scratch.ws_arg();
    let env_db = scratch.root().join("env.db").display().to_string();
    let flag_db = scratch.root().join("flag.db").display().to_string();
    let mut db = |command: Lemmings| found.push(scratch.paths(command.output().usage_error()));
    db(scratch.lemmings(["threads", "--workspace", &ws]));
    db(scratch
        .lemmings(["threads", "--workspace", &ws])
        .env("LEMMINGS_DB", &env_db));
    db(scratch
        .lemmings(["threads", "--workspace", &ws, "--db", &flag_db])
        .env("LEMMINGS_DB", &env_db));
    expect![[r#"
        # the resolved configuration of built-in default config.toml
        # the resolved configuration of config.toml (current directory)
        # the resolved configuration of <tmp>/env.toml ($LEMMINGS_CONFIG)
        # the resolved configuration of <tmp>/flag.toml (--config)
        error: no database at <ws>/.lemmings/lemmings.db: nothing has run here yet (pass --workspace or --db to look elsewhere)
        error: no database at <tmp>/env.db (from $LEMMINGS_DB): nothing has run here yet (pass --workspace or --db to look elsewhere)
        error: no database at <tmp>/flag.db: nothing has run here yet (pass --workspace or --db to look elsewhere)"#]]
    .assert_eq(&found.join("\n"));
}
