//! [`Gate`]: the concurrency limit of one backend server, shared by every role that uses it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use tokio::sync::Semaphore;

use crate::chat::{ChatModel, ChatRequest, ChatResponse, ModelInfo, TokenSink};
use crate::error::{ModelError, ModelErrorKind};

/// At most `limit` requests in flight to one server; callers queue in arrival order (tokio's
/// semaphore is fair).
#[derive(Debug)]
pub struct Gate {
    server: String,
    limit: usize,
    permits: Semaphore,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl Gate {
    /// A gate for `server` letting `limit` requests through at once (at least one).
    pub fn new(server: impl Into<String>, limit: usize) -> Arc<Gate> {
        let limit = limit.max(1);
        Arc::new(Gate {
            server: server.into(),
            limit,
            permits: Semaphore::new(limit),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }

    /// The server (`scheme://host:port`).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// How many requests may be in flight at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The most requests that were ever in flight at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// A model whose calls pass through a [`Gate`].
#[derive(Debug)]
pub struct Gated<M> {
    inner: M,
    gate: Arc<Gate>,
}

impl<M> Gated<M> {
    /// `inner` behind `gate`.
    pub fn new(inner: M, gate: Arc<Gate>) -> Self {
        Gated { inner, gate }
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for Gated<M> {
    async fn chat(&self, request: ChatRequest, sink: Option<TokenSink>) -> Result<ChatResponse, ModelError> {
        let gate = &self.gate;
        let _permit = gate.permits.acquire().await.map_err(|_| {
            ModelError::new(
                ModelErrorKind::Cancelled,
                &self.inner.info(),
                "the model registry was shut down",
            )
        })?;
        let now = gate.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        gate.peak.fetch_max(now, Ordering::SeqCst);
        let _release = Release(&gate.in_flight);
        self.inner.chat(request, sink).await
    }

    fn info(&self) -> ModelInfo {
        self.inner.info()
    }
}

/// Decrements the in-flight count however the call ends (cancellation included).
struct Release<'a>(&'a AtomicUsize);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
