//! Model servers that are down: `run` fails fast before any work when the primary's is, and
//! `models check` probes every role, failing only for a required one.

use std::time::{Duration, Instant};

use expect_test::expect;
use lemmings_testkit::FakeServer;

use crate::common::{SUMMARIZER_MODEL, Scratch, Servers, TASK, config, normalise};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_fails_fast_when_the_primary_server_is_down() {
    let scratch = Scratch::new();
    let servers = Servers::start().await;
    let down = format!("{}/v1", FakeServer::refused_url());
    let config = scratch.write("lemmings.toml", &config(&down, &servers.summarizer.url()));
    let ws = scratch.ws_arg();

    let started = Instant::now();
    let run = scratch
        .lemmings(["run", TASK, "--workspace", &ws, "--config", &config])
        .run()
        .await;
    let took = started.elapsed();
    run.expect_code(1);
    assert!(took < Duration::from_secs(5), "took {took:?}: {run}");
    assert!(run.stderr.starts_with("error: "), "{run}");
    for needle in [
        down.as_str(),
        "primary",
        "text-generation-webui",
        "Ollama",
        "lemmings models check",
    ] {
        assert!(run.stderr.contains(needle), "stderr does not mention {needle:?}: {run}");
    }
    assert!(!run.stdout.contains("thread "), "a thread was announced: {run}");
    assert_eq!(
        servers
            .summarizer
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        0
    );

    // Nothing was started: the database is created only once the servers are up.
    assert!(!scratch.db().exists(), "a database was created before the pre-flight");
    let threads = scratch.lemmings(["threads", "--workspace", &ws]).run().await;
    threads.expect_code(2);
    assert!(threads.stderr.contains("no database at"), "{threads}");
}

/// `models check`'s output with the servers' URLs and the latencies normalised.
fn probed(scratch: &Scratch, servers: &Servers, text: &str) -> String {
    servers.urls(&scratch.paths(&normalise(text, None)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_check_reports_every_role_up() {
    let scratch = Scratch::new();
    let servers = Servers::start().await;
    let config = scratch.write("lemmings.toml", &servers.config());

    let check = scratch.lemmings(["models", "check", "--config", &config]).run().await;
    check.expect_code(0);
    assert_eq!(check.stderr, "");
    expect![[r#"
        models of <tmp>/lemmings.toml (--config)
        primary     openai_compatible qwen3-8b at <primary>  up, <ms>
        summarizer  ollama            qwen2.5:0.5b at <summarizer>  up, <ms>
    "#]]
    .assert_eq(&probed(&scratch, &servers, &check.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_check_fails_naming_a_required_role_that_is_down() {
    let scratch = Scratch::new();
    let servers = Servers::start().await;
    let down = format!("{}/v1", FakeServer::refused_url());
    let config = scratch.write("lemmings.toml", &config(&down, &servers.summarizer.url()));

    let check = scratch
        .lemmings(["models", "check", "--config", &config, "--timeout", "2"])
        .run()
        .await;
    check.expect_code(1);
    assert!(check.stderr.starts_with("error: "), "{check}");
    assert!(check.stderr.contains("`primary`"), "{check}");
    let primary = check
        .stdout
        .lines()
        .find(|line| line.starts_with("primary "))
        .unwrap_or_default();
    assert!(primary.contains("DOWN") && primary.contains(&down), "{check}");
    let summarizer = check
        .stdout
        .lines()
        .find(|line| line.starts_with("summarizer "))
        .unwrap_or_default();
    assert!(summarizer.contains(" up, "), "{check}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_check_passes_when_only_roles_with_a_way_out_are_down() {
    let scratch = Scratch::new();
    let servers = Servers::start().await;
    // The summarizer falls back to the primary; `research` is optional.
    let text = format!(
        "{}\n[llm.research]\nprovider = \"openai_compatible\"\nmodel = \"deep\"\nbase_url = \"{}/v1\"\noptional = true\n",
        config(&servers.primary.openai_url(), &FakeServer::refused_url()),
        FakeServer::refused_url()
    );
    let config = scratch.write("lemmings.toml", &text);

    let check = scratch
        .lemmings(["models", "check", "--config", &config, "--timeout", "2"])
        .run()
        .await;
    check.expect_code(0);
    assert_eq!(check.stderr, "");
    let line = |role: &str| {
        check
            .stdout
            .lines()
            .find(|line| line.starts_with(&format!("{role} ")))
            .unwrap_or_else(|| panic!("no line for {role}: {check}"))
            .to_owned()
    };
    assert!(line("primary").contains(" up, "), "{check}");
    let summarizer = line("summarizer");
    assert!(
        summarizer.contains(SUMMARIZER_MODEL) && summarizer.contains("DOWN"),
        "{check}"
    );
    assert!(summarizer.contains("fall back to primary"), "{check}");
    let research = line("research");
    assert!(research.contains("DOWN") && research.contains("optional"), "{check}");
}
