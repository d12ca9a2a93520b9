//! Bad input: every case is one `error: ...` line on stderr and exit 2, never a panic, and
//! nothing is changed. Each test snapshots a transcript: the command (paths normalised) and the
//! line it printed.

use std::os::unix::fs::PermissionsExt as _;

use expect_test::expect;

use crate::common::{Lemmings, Scratch, Servers, TASK, config, script_primary};

/// Commands that must fail with a usage error, and what they said.
struct Transcript<'a> {
    scratch: &'a Scratch,
    text: String,
}

impl<'a> Transcript<'a> {
    fn new(scratch: &'a Scratch) -> Self {
        Transcript {
            scratch,
            text: String::new(),
        }
    }

    /// Runs `lemmings <args>`, asserts a usage error and records its line.
    #[track_caller]
    fn refuses(&mut self, args: &[&str]) {
        self.refuses_with(args, |command| command);
    }

    /// Like [`Transcript::refuses`], with the command adjusted (environment).
    #[track_caller]
    fn refuses_with(&mut self, args: &[&str], adjust: impl FnOnce(Lemmings) -> Lemmings) {
        let out = adjust(self.scratch.lemmings(args)).output();
        let line = out.usage_error().to_owned();
        let shown: Vec<String> = args
            .iter()
            .map(|arg| match arg {
                arg if arg.is_empty() || arg.contains(' ') => format!("{arg:?}"),
                arg => (*arg).to_owned(),
            })
            .collect();
        let command = format!("$ lemmings {}\n{line}\n", shown.join(" "));
        self.text.push_str(&self.scratch.paths(&command));
    }
}

/// A config whose primary is at a port where nothing listens (no test here gets that far).
fn unreachable() -> String {
    config("http://127.0.0.1:9/v1", "http://127.0.0.1:9")
}

#[test]
fn configuration_errors_name_the_file_the_line_and_the_key() {
    let scratch = Scratch::new();
    let ws = scratch.ws_arg();
    let mut transcript = Transcript::new(&scratch);
    let mut run_with = |name: &str, text: &str| {
        let config = scratch.write(name, text);
        transcript.refuses_with(&["run", TASK, "--workspace", &ws, "--config", &config], |command| {
            command.env_remove("LEMMINGS_TEST_UNSET_KEY")
        });
    };
    let key = |line: &str| unreachable().replace("max_concurrency = 1\n", &format!("max_concurrency = 1\n{line}\n"));

    run_with("bad.toml", "[llm.primary]\nprovider = \nmodel = \"m\"\n");
    run_with("colour.toml", &key("colour = \"blue\""));
    run_with(
        "provider.toml",
        &unreachable().replace("\"openai_compatible\"", "\"openia\""),
    );
    run_with("unset.toml", &key("api_key = \"${LEMMINGS_TEST_UNSET_KEY}\""));
    run_with(
        "tool.toml",
        &format!("{}\n[tool]\nallowed_commands = []\n", unreachable()),
    );
    run_with(
        "attempts.toml",
        &unreachable().replace("[run]\nmax_attempts = 1", "[run]\nmax_attempts = 0"),
    );
    transcript.refuses(&["run", TASK, "--workspace", &ws, "--config", "missing.toml"]);
    transcript.refuses_with(&["config", "show"], |command| {
        command.env("LEMMINGS_CONFIG", "gone.toml")
    });
    transcript.refuses(&["models", "check", "--config", "missing.toml"]);
    expect![[r#"
        $ lemmings run "Add a greeting module." --workspace <ws> --config <tmp>/bad.toml
        error: <tmp>/bad.toml:2: invalid TOML: string values must be quoted, expected literal string
        $ lemmings run "Add a greeting module." --workspace <ws> --config <tmp>/colour.toml
        error: <tmp>/colour.toml:6: llm.primary.colour: unknown key; expected one of provider, model, base_url, api_key, optional, fallback, timeout_s, connect_timeout_s, max_concurrency, temperature, top_p, top_k, min_p, max_tokens, thinking, context_tokens, structured_output, max_attempts, backoff_s, max_backoff_s, retry_budget, breaker_failures, breaker_cooldown_s
        $ lemmings run "Add a greeting module." --workspace <ws> --config <tmp>/provider.toml
        error: <tmp>/provider.toml:2: llm.primary.provider: unknown provider "openia"; expected one of openai_compatible, ollama, openrouter
        $ lemmings run "Add a greeting module." --workspace <ws> --config <tmp>/unset.toml
        error: <tmp>/unset.toml:6: llm.primary.api_key: environment variable LEMMINGS_TEST_UNSET_KEY is not set and role `primary` needs it; set it, or write ${LEMMINGS_TEST_UNSET_KEY:-default}
        $ lemmings run "Add a greeting module." --workspace <ws> --config <tmp>/tool.toml
        error: <tmp>/tool.toml:23: tool: unknown section; the sections are [llm.<role>], [tools], [agents] and [run]; check the spelling (config.toml at the repository root lists every key)
        $ lemmings run "Add a greeting module." --workspace <ws> --config <tmp>/attempts.toml
        error: <tmp>/attempts.toml:21: run.max_attempts: expected 1 to 20
        $ lemmings run "Add a greeting module." --workspace <ws> --config missing.toml
        error: cannot read the configuration missing.toml: No such file or directory (os error 2)
        $ lemmings config show
        error: cannot read the configuration gone.toml (from $LEMMINGS_CONFIG): No such file or directory (os error 2)
        $ lemmings models check --config missing.toml
        error: cannot read the configuration missing.toml: No such file or directory (os error 2)
    "#]]
    .assert_eq(&transcript.text);
    // Nothing was created in the workspace.
    assert_eq!(std::fs::read_dir(scratch.ws()).expect("the workspace").count(), 0);
}

#[test]
fn bad_arguments_are_refused_before_anything_runs() {
    let scratch = Scratch::new();
    let ws = scratch.ws_arg();
    let config = scratch.write("lemmings.toml", &unreachable());
    let thread = "01a21008-0ad9-7622-86b6-6e9cb9a30d3b";
    let mut transcript = Transcript::new(&scratch);

    transcript.refuses(&["run", "", "--workspace", &ws, "--config", &config]);
    transcript.refuses(&["run", "  \n", "--workspace", &ws, "--config", &config]);
    transcript.refuses(&["run", TASK, "--workspace", "no-such-dir", "--config", &config]);
    transcript.refuses(&["threads", "--workspace", "no-such-dir"]);
    transcript.refuses(&[
        "run",
        TASK,
        "--thread",
        "not-a-uuid",
        "--workspace",
        &ws,
        "--config",
        &config,
    ]);
    transcript.refuses(&["resume", "not-a-uuid", "--workspace", &ws, "--config", &config]);
    transcript.refuses(&["show", "1234", "--workspace", &ws]);
    transcript.refuses(&["history", "1234", "--workspace", &ws]);
    transcript.refuses(&["prune", "--keep", "0", "--workspace", &ws]);
    transcript.refuses(&["models", "check", "--timeout", "0", "--config", &config]);
    // No database here yet: the inspection commands say so, and create none.
    transcript.refuses(&["threads", "--workspace", &ws]);
    transcript.refuses(&["history", thread, "--workspace", &ws]);
    transcript.refuses(&["show", thread, "--workspace", &ws]);
    transcript.refuses(&["prune", "--workspace", &ws]);
    transcript.refuses(&["resume", thread, "--workspace", &ws, "--config", &config]);
    expect![[r#"
        $ lemmings run "" --workspace <ws> --config <tmp>/lemmings.toml
        error: the task is empty: say what to do, e.g. lemmings run "add a README"
        $ lemmings run "  \n" --workspace <ws> --config <tmp>/lemmings.toml
        error: the task is empty: say what to do, e.g. lemmings run "add a README"
        $ lemmings run "Add a greeting module." --workspace no-such-dir --config <tmp>/lemmings.toml
        error: workspace no-such-dir does not exist or cannot be read: No such file or directory (os error 2)
        $ lemmings threads --workspace no-such-dir
        error: workspace no-such-dir does not exist or cannot be read: No such file or directory (os error 2)
        $ lemmings run "Add a greeting module." --thread not-a-uuid --workspace <ws> --config <tmp>/lemmings.toml
        error: `not-a-uuid` is not a thread id (a UUID): `lemmings threads` lists them
        $ lemmings resume not-a-uuid --workspace <ws> --config <tmp>/lemmings.toml
        error: `not-a-uuid` is not a thread id (a UUID): `lemmings threads` lists them
        $ lemmings show 1234 --workspace <ws>
        error: `1234` is not a thread id (a UUID): `lemmings threads` lists them
        $ lemmings history 1234 --workspace <ws>
        error: `1234` is not a thread id (a UUID): `lemmings threads` lists them
        $ lemmings prune --keep 0 --workspace <ws>
        error: --keep must be at least 1: the latest checkpoint is what a thread resumes from
        $ lemmings models check --timeout 0 --config <tmp>/lemmings.toml
        error: --timeout must be at least 1 second
        $ lemmings threads --workspace <ws>
        error: no database at <ws>/.lemmings/lemmings.db: nothing has run here yet (pass --workspace or --db to look elsewhere)
        $ lemmings history 01a21008-0ad9-7622-86b6-6e9cb9a30d3b --workspace <ws>
        error: no database at <ws>/.lemmings/lemmings.db: nothing has run here yet (pass --workspace or --db to look elsewhere)
        $ lemmings show 01a21008-0ad9-7622-86b6-6e9cb9a30d3b --workspace <ws>
        error: no database at <ws>/.lemmings/lemmings.db: nothing has run here yet (pass --workspace or --db to look elsewhere)
        $ lemmings prune --workspace <ws>
        error: no database at <ws>/.lemmings/lemmings.db: nothing has run here yet (pass --workspace or --db to look elsewhere)
        $ lemmings resume 01a21008-0ad9-7622-86b6-6e9cb9a30d3b --workspace <ws> --config <tmp>/lemmings.toml
        error: no database at <ws>/.lemmings/lemmings.db: nothing has run here yet (pass --workspace or --db to look elsewhere)
    "#]]
    .assert_eq(&transcript.text);
    assert!(!scratch.db().exists(), "a database was created");
}

/// A finished run in `scratch`'s workspace; returns its thread.
async fn finished_run(scratch: &Scratch) -> String {
    let servers = Servers::start().await;
    script_primary(&servers.primary, None);
    let config = scratch.write("lemmings.toml", &servers.config());
    let run = scratch
        .lemmings(["run", TASK, "--workspace", &scratch.ws_arg(), "--config", &config])
        .run()
        .await;
    run.expect_code(0);
    run.thread()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_that_do_not_exist_or_already_ran_are_refused() {
    let scratch = Scratch::new();
    let thread = finished_run(&scratch).await;
    let ws = scratch.ws_arg();
    let config = scratch.write("down.toml", &unreachable());
    let unknown = "01a21008-0ad9-7622-86b6-6e9cb9a30d3b";
    let mut transcript = Transcript::new(&scratch);

    // Blocking commands in a multi-threaded test: the fake servers are not needed any more.
    transcript.refuses(&["show", unknown, "--workspace", &ws]);
    transcript.refuses(&["history", unknown, "--workspace", &ws]);
    transcript.refuses(&["prune", "--thread", unknown, "--workspace", &ws]);
    transcript.refuses(&["resume", unknown, "--workspace", &ws, "--config", &config]);
    transcript.refuses(&["show", &thread, "--checkpoint", unknown, "--workspace", &ws]);
    transcript.refuses(&[
        "run",
        TASK,
        "--thread",
        &thread,
        "--workspace",
        &ws,
        "--config",
        &config,
    ]);
    let text = transcript.text.replace(&thread, "<thread>");
    expect![[r#"
        $ lemmings show 01a21008-0ad9-7622-86b6-6e9cb9a30d3b --workspace <ws>
        error: unknown thread 01a21008-0ad9-7622-86b6-6e9cb9a30d3b: `lemmings threads` lists the threads in this database
        $ lemmings history 01a21008-0ad9-7622-86b6-6e9cb9a30d3b --workspace <ws>
        error: unknown thread 01a21008-0ad9-7622-86b6-6e9cb9a30d3b: `lemmings threads` lists the threads in this database
        $ lemmings prune --thread 01a21008-0ad9-7622-86b6-6e9cb9a30d3b --workspace <ws>
        error: unknown thread 01a21008-0ad9-7622-86b6-6e9cb9a30d3b: `lemmings threads` lists the threads in this database
        $ lemmings resume 01a21008-0ad9-7622-86b6-6e9cb9a30d3b --workspace <ws> --config <tmp>/down.toml
        error: unknown thread 01a21008-0ad9-7622-86b6-6e9cb9a30d3b: `lemmings threads` lists the threads in this database
        $ lemmings show <thread> --checkpoint 01a21008-0ad9-7622-86b6-6e9cb9a30d3b --workspace <ws>
        error: thread <thread> has no checkpoint 01a21008-0ad9-7622-86b6-6e9cb9a30d3b: `lemmings history <thread>` lists them
        $ lemmings run "Add a greeting module." --thread <thread> --workspace <ws> --config <tmp>/down.toml
        error: thread <thread> already has a run (complete): resume it with `lemmings resume <thread>`, or leave out --thread to start a new one
    "#]]
    .assert_eq(&text);
}

#[test]
fn a_corrupt_database_is_refused_and_left_untouched() {
    let scratch = Scratch::new();
    let ws = scratch.ws_arg();
    let config = scratch.write("lemmings.toml", &unreachable());
    std::fs::create_dir(scratch.ws().join(".lemmings")).expect("the database's directory");
    // The same garbage every time, and no SQLite header.
    let garbage: Vec<u8> = (0..4096_u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(scratch.db(), &garbage).expect("the garbage is written");
    let thread = "01a21008-0ad9-7622-86b6-6e9cb9a30d3b";
    let mut transcript = Transcript::new(&scratch);

    transcript.refuses(&["threads", "--workspace", &ws]);
    transcript.refuses(&["show", thread, "--workspace", &ws]);
    transcript.refuses(&["history", thread, "--workspace", &ws]);
    transcript.refuses(&["prune", "--workspace", &ws]);
    transcript.refuses(&["run", TASK, "--workspace", &ws, "--config", &config]);
    transcript.refuses(&["resume", thread, "--workspace", &ws, "--config", &config]);
    expect![[r#"
        $ lemmings threads --workspace <ws>
        error: cannot open the database: database <ws>/.lemmings/lemmings.db is corrupt: it is not a SQLite database (the header is wrong); the file was left untouched (restore it from a backup or move it away)
        $ lemmings show 01a21008-0ad9-7622-86b6-6e9cb9a30d3b --workspace <ws>
        error: cannot open the database: database <ws>/.lemmings/lemmings.db is corrupt: it is not a SQLite database (the header is wrong); the file was left untouched (restore it from a backup or move it away)
        $ lemmings history 01a21008-0ad9-7622-86b6-6e9cb9a30d3b --workspace <ws>
        error: cannot open the database: database <ws>/.lemmings/lemmings.db is corrupt: it is not a SQLite database (the header is wrong); the file was left untouched (restore it from a backup or move it away)
        $ lemmings prune --workspace <ws>
        error: cannot open the database: database <ws>/.lemmings/lemmings.db is corrupt: it is not a SQLite database (the header is wrong); the file was left untouched (restore it from a backup or move it away)
        $ lemmings run "Add a greeting module." --workspace <ws> --config <tmp>/lemmings.toml
        error: cannot open the database: database <ws>/.lemmings/lemmings.db is corrupt: it is not a SQLite database (the header is wrong); the file was left untouched (restore it from a backup or move it away)
        $ lemmings resume 01a21008-0ad9-7622-86b6-6e9cb9a30d3b --workspace <ws> --config <tmp>/lemmings.toml
        error: cannot open the database: database <ws>/.lemmings/lemmings.db is corrupt: it is not a SQLite database (the header is wrong); the file was left untouched (restore it from a backup or move it away)
    "#]]
    .assert_eq(&transcript.text);
    assert_eq!(
        std::fs::read(scratch.db()).expect("the database"),
        garbage,
        "the file was changed"
    );
    let beside = std::fs::read_dir(scratch.ws().join(".lemmings")).expect("the database's directory");
    assert_eq!(beside.count(), 1, "files were created beside the database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_is_refused_and_left_untouched() {
    let scratch = Scratch::new();
    let thread = finished_run(&scratch).await;
    let ws = scratch.ws_arg();
    let config = scratch.write("down.toml", &unreachable());
    std::fs::set_permissions(scratch.db(), std::fs::Permissions::from_mode(0o444)).expect("chmod 0444");
    let before = std::fs::read(scratch.db()).expect("the database");
    let mut transcript = Transcript::new(&scratch);

    // As root, the kernel lets writes through the mode bits; the store checks them itself, so
    // root is refused too and this test means the same for every user.
    let root = rustix::process::geteuid().is_root();
    transcript.refuses(&["run", TASK, "--workspace", &ws, "--config", &config]);
    transcript.refuses(&["resume", &thread, "--workspace", &ws, "--config", &config]);
    transcript.refuses(&["prune", "--keep", "1", "--workspace", &ws]);
    let text = transcript.text.replace(&thread, "<thread>");
    expect![[r#"
        $ lemmings run "Add a greeting module." --workspace <ws> --config <tmp>/down.toml
        error: cannot open the database: database <ws>/.lemmings/lemmings.db is read-only: the file is marked read-only
        $ lemmings resume <thread> --workspace <ws> --config <tmp>/down.toml
        error: cannot open the database: database <ws>/.lemmings/lemmings.db is read-only: the file is marked read-only
        $ lemmings prune --keep 1 --workspace <ws>
        error: cannot open the database: database <ws>/.lemmings/lemmings.db is read-only: the file is marked read-only
    "#]]
    .assert_eq(&text);
    let after = std::fs::read(scratch.db()).expect("the database");
    assert!(
        after == before,
        "the read-only database was changed (running as root: {root})"
    );
}
