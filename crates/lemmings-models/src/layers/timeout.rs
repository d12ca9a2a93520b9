//! [`Timeout`]: a time limit on one attempt.

use std::time::Duration;

use async_trait::async_trait;

use crate::chat::{ChatModel, ChatRequest, ChatResponse, ModelInfo, TokenSink};
use crate::error::{ModelError, ModelErrorKind};

/// Fails an attempt with [`ModelErrorKind::Timeout`] when the answer is not complete within
/// `limit`; the request is dropped (the connection closed) when it fires.
#[derive(Debug)]
pub struct Timeout<M> {
    inner: M,
    limit: Duration,
}

impl<M> Timeout<M> {
    /// `inner` with a limit per call.
    pub fn new(inner: M, limit: Duration) -> Self {
        Timeout { inner, limit }
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for Timeout<M> {
    async fn chat(&self, request: ChatRequest, sink: Option<TokenSink>) -> Result<ChatResponse, ModelError> {
        match tokio::time::timeout(self.limit, self.inner.chat(request, sink)).await {
            Ok(result) => result,
            Err(_) => Err(ModelError::new(
                ModelErrorKind::Timeout,
                &self.inner.info(),
                format!(
                    "no complete answer within {}; raise the role's timeout_s if the model is just slow",
                    seconds(self.limit)
                ),
            )),
        }
    }

    fn info(&self) -> ModelInfo {
        self.inner.info()
    }
}

/// `12s`, `1.5s`.
pub(crate) fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0}s")
    } else {
        format!("{secs:.1}s")
    }
}
