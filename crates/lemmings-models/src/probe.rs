//! Probing a role's server before a run: is it up, and does it serve the configured model?
//! Used to switch off optional roles whose server is down (with a one-line notice) and by
//! `lemmings models check`. A probe is one `GET` of the server's model list (`/models` on the
//! OpenAI-compatible routes, `/api/tags` on Ollama), never a generation, so it does not wait
//! for the concurrency gate.

use std::time::Duration;

use rig_reqwest::reqwest;
use serde_json::Value;
use tokio::time::Instant;

use crate::chat::ModelInfo;
use crate::config::{ProviderKind, RoleConfig};
use crate::error::{ModelError, ModelErrorKind};
use crate::provider::model_info;

/// What a probe found.
#[derive(Clone, Debug)]
pub struct Probe {
    /// The role, model and server probed.
    pub info: ModelInfo,
    /// How long the server took to answer, or why it could not be used.
    pub outcome: Result<Duration, ModelError>,
}

impl Probe {
    /// Whether the server answered and lists the model (or lists nothing to check against).
    pub fn is_up(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// Probes `role`'s server within `limit`.
pub(crate) async fn probe(role: &RoleConfig, limit: Duration) -> Probe {
    let info = model_info(role);
    let started = Instant::now();
    let outcome = match tokio::time::timeout(limit, list_models(role, &info, limit)).await {
        // text-generation-webui serves whatever model is loaded whatever the request names, so
        // only Ollama and OpenRouter are held to the configured name.
        Ok(Ok(listed)) => match listed {
            Some(models)
                if role.provider != ProviderKind::OpenaiCompatible
                    && !models.iter().any(|m| same_model(m, &role.model)) =>
            {
                Err(ModelError::new(
                    ModelErrorKind::Request,
                    &info,
                    format!(
                        "the server at {} does not serve this model; it lists: {}",
                        info.server,
                        shorten(&models)
                    ),
                ))
            }
            _ => Ok(started.elapsed()),
        },
        Ok(Err(error)) => Err(error),
        Err(_) => Err(ModelError::new(
            ModelErrorKind::Timeout,
            &info,
            format!(
                "the server at {} did not answer within {}s",
                info.server,
                limit.as_secs_f64()
            ),
        )),
    };
    Probe { info, outcome }
}

/// The models the server lists; `None` when its answer has no list to check against.
async fn list_models(role: &RoleConfig, info: &ModelInfo, limit: Duration) -> Result<Option<Vec<String>>, ModelError> {
    let base = role.base_url.trim_end_matches('/');
    let (url, ollama) = match role.provider {
        ProviderKind::Ollama if !base.ends_with("/v1") => (format!("{base}/api/tags"), true),
        _ => (format!("{base}/models"), false),
    };
    let fail = |kind, message: String| ModelError::new(kind, info, message);
    let client = reqwest::Client::builder()
        .connect_timeout(role.connect_timeout.min(limit))
        .build()
        .map_err(|e| fail(ModelErrorKind::Config, format!("cannot build the HTTP client: {e}")))?;
    let mut request = client.get(&url);
    if let Some(key) = role.api_key.as_ref().filter(|k| !k.is_empty()) {
        request = request.bearer_auth(key.expose());
    }
    let response = request.send().await.map_err(|e| {
        let kind = if e.is_timeout() {
            ModelErrorKind::Timeout
        } else {
            ModelErrorKind::Connect
        };
        fail(
            kind,
            format!("cannot reach the server at {}: {}", info.server, connect_cause(&e)),
        )
    })?;
    let status = response.status().as_u16();
    match status {
        200..=299 => {}
        401 | 403 => {
            return Err(fail(
                ModelErrorKind::Auth,
                "the server refused the credentials; check the role's api_key".into(),
            )
            .with_status(status));
        }
        _ => {
            return Err(fail(
                ModelErrorKind::Server,
                format!("the server at {} answered the model listing with an error", info.server),
            )
            .with_status(status));
        }
    }
    let body: Value = match response.json().await {
        Ok(body) => body,
        Err(_) => return Ok(None),
    };
    let names: Option<Vec<String>> = if ollama {
        body.get("models").and_then(Value::as_array).map(|models| {
            models
                .iter()
                .filter_map(|m| m.get("name").or_else(|| m.get("model")).and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
    } else {
        body.get("data").and_then(Value::as_array).map(|models| {
            models
                .iter()
                .filter_map(|m| m.get("id").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
    };
    // Some servers (text-generation-webui with a model loaded on demand) list nothing useful.
    Ok(names.filter(|names| !names.is_empty()))
}

/// Ollama lists `qwen2.5:0.5b`; a config may say `qwen2.5:0.5b` or, for `:latest`, just the
/// name. text-generation-webui may list file names that differ in case.
fn same_model(listed: &str, configured: &str) -> bool {
    listed.eq_ignore_ascii_case(configured)
        || listed
            .strip_suffix(":latest")
            .is_some_and(|name| name.eq_ignore_ascii_case(configured))
}

fn shorten(models: &[String]) -> String {
    let mut shown: Vec<&str> = models.iter().take(8).map(String::as_str).collect();
    if models.len() > shown.len() {
        shown.push("…");
    }
    shown.join(", ")
}

fn connect_cause(error: &reqwest::Error) -> String {
    let mut cause = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    cause
}
