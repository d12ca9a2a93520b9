//! [`Traced`]: the outermost layer: a tracing span per call, usage accounting, and redaction
//! of API keys from everything it logs or returns.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::time::Instant;
use tracing::Instrument;

use crate::chat::{ChatModel, ChatRequest, ChatResponse, ModelInfo, StreamEvent, TokenSink};
use crate::error::ModelError;
use crate::usage::{Outcome, UsageLedger};

/// Replaces known secret values (every configured API key) with `[redacted]`.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<Vec<String>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor for these values (values shorter than 4 characters are ignored: replacing
    /// them would mangle ordinary text and they protect nothing).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        // Longest first, so a key containing another is replaced whole; equal values end up
        // side by side for `dedup`.
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Redactor {
            secrets: Arc::new(secrets),
        }
    }

    /// `text` without any secret.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in self.secrets.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), crate::secret::REDACTED);
            }
        }
        out
    }
}

/// A role's whole call: one `model_call` span (fields `role`, `model`, `provider`), a debug
/// event with the request's shape and one with the outcome, usage recorded per role.
#[derive(Debug)]
pub struct Traced<M> {
    inner: M,
    ledger: Arc<UsageLedger>,
    redactor: Redactor,
}

impl<M> Traced<M> {
    /// `inner`, traced, counting into `ledger`.
    pub fn new(inner: M, ledger: Arc<UsageLedger>, redactor: Redactor) -> Self {
        Traced {
            inner,
            ledger,
            redactor,
        }
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for Traced<M> {
    async fn chat(&self, request: ChatRequest, sink: Option<TokenSink>) -> Result<ChatResponse, ModelError> {
        let info = self.inner.info();
        // In flight until this call ends, however it ends (a cancelled call drops the guard).
        let call = ActiveGuard {
            ledger: &self.ledger,
            id: self.ledger.start(&info),
        };
        // Streamed pieces are counted on their way to the caller's sink; a call without a sink
        // is not made to stream.
        let sink = sink.map(|sink| {
            let (ledger, id) = (self.ledger.clone(), call.id);
            Arc::new(move |event: &StreamEvent| {
                ledger.streamed(id, event);
                sink(event);
            }) as TokenSink
        });
        let span = tracing::info_span!("model_call", role = %info.role, model = %info.model, provider = %info.provider);
        let started = Instant::now();
        let chars: usize = request.messages.iter().map(|m| m.content().len()).sum();
        let result = async {
            tracing::debug!(
                messages = request.messages.len(),
                tools = request.tools.len(),
                chars,
                streaming = sink.is_some(),
                "model request"
            );
            if let Some(last) = request.messages.last() {
                tracing::trace!(last = %self.redactor.scrub(excerpt(last.content())), "model request tail");
            }
            self.inner
                .chat(request, sink)
                .await
                .map_err(|e| e.redacted(&self.redactor))
        }
        .instrument(span.clone())
        .await;
        let latency = started.elapsed();
        let _entered = span.enter();
        match &result {
            Ok(response) => {
                let by = response.answered_by.role.as_str();
                self.ledger.call(&info.role, latency, Outcome::Answered { by });
                self.ledger.answer(by, &response.usage);
                tracing::debug!(
                    answered_by = by,
                    prompt_tokens = response.usage.prompt_tokens,
                    completion_tokens = response.usage.completion_tokens,
                    tool_calls = response.tool_calls.len(),
                    latency_ms = latency.as_millis() as u64,
                    "model answered"
                );
            }
            Err(error) => {
                self.ledger.call(&info.role, latency, Outcome::Failed);
                tracing::warn!(error = %error, attempts = error.attempts(), latency_ms = latency.as_millis() as u64, "model call failed");
            }
        }
        drop(call);
        result
    }

    fn info(&self) -> ModelInfo {
        self.inner.info()
    }
}

/// Removes a call from the ledger's calls in flight when dropped.
struct ActiveGuard<'a> {
    ledger: &'a UsageLedger,
    id: u64,
}

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.ledger.finish(self.id);
    }
}

fn excerpt(text: &str) -> &str {
    match text.char_indices().nth(200) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}
