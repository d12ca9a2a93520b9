//! Probing servers before a run: optional roles whose server is down, or does not serve the
//! configured model, are switched off with a one-line notice; required roles are left to their
//! calls (and fallbacks).

use std::time::Duration;

use expect_test::expect;
use lemmings_models::ModelErrorKind;
use lemmings_testkit::FakeServer;

use crate::common::{config_with_env, primary};

#[tokio::test(start_paused = true)]
async fn optional_roles_on_unusable_servers_are_switched_off_with_a_notice() {
    let gpu = FakeServer::start().await;
    gpu.set_models(vec!["whatever-is-loaded".into()]);
    let cloud = FakeServer::start().await;
    cloud.set_models(vec!["openai/gpt-4o".into()]);
    let dead = FakeServer::refused_url();
    let toml = format!(
        "{}\
         [llm.summarizer]\nprovider = \"ollama\"\nmodel = \"qwen2.5:0.5b\"\nbase_url = \"{dead}\"\n\
         [llm.supervisor]\nprovider = \"ollama\"\nmodel = \"phi3:mini\"\nbase_url = \"{dead}\"\n\
         [llm.research]\nprovider = \"openrouter\"\nmodel = \"anthropic/claude-3.5-sonnet\"\nbase_url = \"{}/api/v1\"\napi_key = \"k-123456\"\n",
        primary(&gpu.openai_url(), ""),
        cloud.url()
    );
    let mut models = lemmings_models::LlmRegistry::from_config(&config_with_env(&toml, &[])).unwrap();

    let probes = models.probe_all(Duration::from_secs(5)).await;
    let up: Vec<(&str, bool)> = probes.iter().map(|p| (p.info.role.as_str(), p.is_up())).collect();
    assert_eq!(
        up,
        [
            ("primary", true),
            ("research", false),
            ("summarizer", false),
            ("supervisor", false)
        ]
    );

    let notices = models.switch_off_unreachable(Duration::from_secs(5)).await;
    let notices = notices
        .join("\n")
        .replace(&dead, "http://127.0.0.1:DEAD")
        .replace(&cloud.url(), "http://127.0.0.1:CLOUD");
    expect![[r#"
        role `research` is switched off: its server is not usable: the server at http://127.0.0.1:CLOUD/api/v1 does not serve this model; it lists: openai/gpt-4o
        role `supervisor` is switched off: its server is not usable: cannot reach the server at http://127.0.0.1:DEAD: Connection refused (os error 111)"#]].assert_eq(&notices);
    assert!(models.optional("research").is_none() && models.optional("supervisor").is_none());
    assert!(
        models.get("summarizer").is_ok(),
        "a required role stays; its calls fall back to the primary"
    );
    let error = models.get("research").unwrap_err();
    assert_eq!(error.kind(), ModelErrorKind::Unavailable);
    assert_eq!(models.notices().len(), 2);
}
