//! Shared helpers: a registry from a TOML snippet, requests, and collecting stream events.

use std::sync::{Arc, Mutex};

use lemmings_models::config::LlmConfig;
use lemmings_models::{ChatMessage, ChatRequest, LlmRegistry, StreamEvent, TokenSink};

/// The `[llm]` config in `toml`, with `env` as the environment.
pub(crate) fn config_with_env(toml: &str, env: &[(&str, &str)]) -> LlmConfig {
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    LlmConfig::parse(toml, "test.toml", &lookup).unwrap_or_else(|e| panic!("test config does not parse: {e}"))
}

/// The registry for `toml`, on the real HTTP providers.
pub(crate) fn registry(toml: &str) -> LlmRegistry {
    LlmRegistry::from_config(&config_with_env(toml, &[])).expect("registry")
}

/// A `[llm.primary]` on an OpenAI-compatible server at `base`, with fast retries.
pub(crate) fn primary(base: &str, extra: &str) -> String {
    format!(
        "[llm.primary]\nprovider = \"openai_compatible\"\nmodel = \"qwen3-8b\"\nbase_url = \"{base}\"\napi_key = \"not-needed\"\n{extra}\n"
    )
}

/// A one-message request.
pub(crate) fn ask(text: &str) -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::system("You are terse."), ChatMessage::user(text)])
}

/// A sink that records every event.
pub(crate) fn recorder() -> (TokenSink, Arc<Mutex<Vec<StreamEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let sink: TokenSink = Arc::new(move |event: &StreamEvent| seen.lock().unwrap().push(event.clone()));
    (sink, events)
}

/// The text deltas of `events`, joined, with each `Discard` dropping what came before it.
pub(crate) fn streamed_text(events: &[StreamEvent]) -> String {
    let mut text = String::new();
    for event in events {
        match event {
            StreamEvent::Text { delta, .. } => text.push_str(delta),
            StreamEvent::Discard { .. } => text.clear(),
            _ => {}
        }
    }
    text
}
