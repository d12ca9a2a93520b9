//! API keys never leave the request header: not in logs at `trace` level, not in errors (even
//! when a server echoes the key back), not in `Debug` output or serialized configuration
//! (the reliability plan's T6, for the models crate). Its own test binary, so the
//! trace-level subscriber it installs is the only one in the process (tracing caches each
//! call site's interest process-wide, so a thread-local subscriber beside other tests'
//! threads can miss events).

#[path = "calls/common.rs"]
#[allow(dead_code, reason = "shared with the calls binary, which uses all of it")]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use lemmings_models::LlmRegistry;
use lemmings_testkit::{FakeServer, Reply};

use common::{ask, config_with_env, primary, recorder};

const CANARY: &str = "sk-lemmings-canary-4f1c2a9e-77b0-4d5e-9a43-0c8d1e2f3a4b";

/// A tracing writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(CANARY), "{what} holds the key: {text}");
    assert!(
        !text.contains(&CANARY[..12]),
        "{what} holds the key's first 12 characters: {text}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_canary_key_never_reaches_logs_errors_or_debug_output() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");

    let server = FakeServer::start().await;
    server.push(Reply::text("findings"));
    // A gateway that echoes the key in its error bodies, over every kind of failure.
    server.push(Reply::error(401, &format!("invalid key {CANARY}")));
    server.push(Reply::error(503, &format!("upstream rejected Bearer {CANARY}")));
    server.set_default(Reply::status(500, &format!("key={CANARY}")));
    let toml = format!(
        "{}[llm.research]\nprovider = \"openrouter\"\nmodel = \"anthropic/claude-3.5-sonnet\"\nbase_url = \"{}/api/v1\"\napi_key = \"${{OPENROUTER_API_KEY}}\"\nmax_attempts = 2\n",
        primary("http://127.0.0.1:9/v1", ""),
        server.url()
    );
    let config = config_with_env(&toml, &[("OPENROUTER_API_KEY", CANARY)]);
    let models = LlmRegistry::from_config(&config).unwrap();
    let research = models.get("research").unwrap();

    let ok = research.chat(ask("research"), None).await.unwrap();
    assert_eq!(ok.content, "findings");
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some(format!("Bearer {CANARY}").as_str()),
        "the key is sent"
    );

    let mut errors = Vec::new();
    for _ in 0..3 {
        let (sink, _) = recorder();
        errors.push(research.chat(ask("research"), Some(sink)).await.unwrap_err());
    }
    for error in &errors {
        assert_clean("an error's Display", &error.to_string());
        assert_clean("an error's Debug", &format!("{error:?}"));
        assert!(
            error.to_string().contains("[redacted]"),
            "the echoed key is replaced: {error}"
        );
    }
    assert_clean("the config's Debug", &format!("{config:?}"));
    assert_clean("the serialized config", &serde_json::to_string(&config).unwrap());
    assert_clean("the registry's Debug", &format!("{models:?}"));
    assert_clean("the model's Debug", &format!("{research:?}"));
    assert_clean("the usage report", &format!("{:?}", models.usage()));

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("model_call"), "trace logs were captured: {logs}");
    assert_clean("the trace logs", &logs);
}
