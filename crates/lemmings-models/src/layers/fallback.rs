//! [`Fallback`]: a role's call handed to its fallback roles when its own model fails in a way
//! another model may not.

use std::sync::Arc;

use async_trait::async_trait;

use crate::chat::{ChatModel, ChatRequest, ChatResponse, ModelInfo, StreamEvent, TokenSink};
use crate::error::ModelError;

/// Tries the role's own model, then each fallback in order. Each entry is a full per-model
/// stack (breaker, retry, gate, timeout), so a fallback to the primary waits for the
/// primary's gate and uses the primary's retries. Errors that another model would repeat (a
/// rejected request, a cancelled call) are returned at once.
#[derive(Debug)]
pub struct Fallback {
    chain: Vec<Arc<dyn ChatModel>>,
}

impl Fallback {
    /// The role's own model first, then its fallbacks.
    pub fn new(own: Arc<dyn ChatModel>, fallbacks: Vec<Arc<dyn ChatModel>>) -> Self {
        let mut chain = Vec::with_capacity(1 + fallbacks.len());
        chain.push(own);
        chain.extend(fallbacks);
        Fallback { chain }
    }
}

#[async_trait]
impl ChatModel for Fallback {
    async fn chat(&self, request: ChatRequest, sink: Option<TokenSink>) -> Result<ChatResponse, ModelError> {
        let own = self.info();
        let mut failures: Vec<ModelError> = Vec::new();
        for (index, model) in self.chain.iter().enumerate() {
            let error = match model.chat(request.clone(), sink.clone()).await {
                Ok(response) => {
                    if index > 0 {
                        tracing::info!(role = %own.role, answered_by = %response.answered_by.role, "answered by a fallback role");
                    }
                    return Ok(response);
                }
                Err(error) => error,
            };
            let next = match self.chain.get(index + 1) {
                Some(next) if error.kind().may_fall_back() => next.info(),
                _ => {
                    failures.push(error);
                    break;
                }
            };
            tracing::warn!(role = %own.role, error = %error, fallback = %next.role, "falling back");
            if let Some(sink) = &sink {
                sink(&StreamEvent::Discard {
                    role: model.info().role,
                    reason: format!("falling back to role `{}`", next.role),
                });
            }
            failures.push(error);
        }
        Err(combine(&own, failures))
    }

    fn info(&self) -> ModelInfo {
        self.chain[0].info()
    }
}

/// The role's own failure, followed by what each fallback said; the kind, status and attempts
/// are the last failure's (what the caller can still act on).
fn combine(own: &ModelInfo, mut failures: Vec<ModelError>) -> ModelError {
    if failures.len() == 1
        && let Some(only) = failures.pop()
    {
        return only;
    }
    let mut message = String::new();
    for (index, failure) in failures.iter().enumerate() {
        if index > 0 {
            message.push_str(&format!(
                "; fallback role `{}` (model {}) failed too: ",
                failure.role(),
                failure.model()
            ));
        }
        message.push_str(failure.message());
        if let Some(status) = failure.status().filter(|_| index + 1 < failures.len()) {
            message.push_str(&format!(" (HTTP {status})"));
        }
    }
    let attempts = failures.iter().map(ModelError::attempts).sum();
    let Some(last) = failures.last() else {
        return ModelError::new(crate::ModelErrorKind::Unavailable, own, "no model to call");
    };
    let mut error = ModelError::new(last.kind(), own, message).with_attempts(attempts);
    if let Some(status) = last.status() {
        error = error.with_status(status);
    }
    error
}
