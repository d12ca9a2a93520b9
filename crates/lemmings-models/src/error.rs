//! [`ModelError`]: what a model call can fail with, classified so the retry and fallback layers
//! (and callers) can branch without reading messages. Messages name the role and the model and
//! never hold a secret.

use std::fmt;
use std::time::Duration;

use crate::chat::ModelInfo;

/// What kind of failure, and therefore whether retrying can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ModelErrorKind {
    /// The server could not be reached (refused, reset, unknown host). Retryable.
    Connect,
    /// No (complete) answer within the role's time limit. Retryable.
    Timeout,
    /// HTTP 429. Retryable, after `retry_after` when the server said.
    RateLimited,
    /// HTTP 5xx, 408 or 409. Retryable.
    Server,
    /// HTTP 401 or 403: the key is wrong or missing. Not retryable.
    Auth,
    /// Another HTTP 4xx: the request is wrong (model name, parameters). Not retryable.
    Request,
    /// A 200 whose body is not the expected JSON (or has no choices). Retryable.
    BadResponse,
    /// The stream ended before the response was complete. Retryable, as a whole.
    Truncated,
    /// The model returned nothing (no text, no tool call). Retryable.
    Empty,
    /// The role is switched off, or its server is known to be down (circuit open).
    Unavailable,
    /// The call was cancelled.
    Cancelled,
    /// The reply could not be turned into the requested structure, repairs included.
    InvalidOutput,
    /// The role's configuration cannot work (e.g. an unsupported option).
    Config,
}

impl ModelErrorKind {
    /// Whether retrying the same request on the same model may help.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ModelErrorKind::Connect
                | ModelErrorKind::Timeout
                | ModelErrorKind::RateLimited
                | ModelErrorKind::Server
                | ModelErrorKind::BadResponse
                | ModelErrorKind::Truncated
                | ModelErrorKind::Empty
        )
    }

    /// Whether another model (a fallback) may succeed where this one failed.
    pub fn may_fall_back(self) -> bool {
        self.is_retryable() || matches!(self, ModelErrorKind::Unavailable | ModelErrorKind::Auth)
    }
}

/// A failed model call. Boxed inside, so `Result<_, ModelError>` stays one pointer wide.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct ModelError(Box<Inner>);

#[derive(Clone, Debug, PartialEq)]
struct Inner {
    kind: ModelErrorKind,
    role: String,
    model: String,
    message: String,
    status: Option<u16>,
    retry_after: Option<Duration>,
    attempts: u32,
    raw: Option<String>,
}

impl ModelError {
    /// An error of `kind` from the model `info`, with a message (lowercase, no secrets).
    pub fn new(kind: ModelErrorKind, info: &ModelInfo, message: impl Into<String>) -> Self {
        ModelError(Box::new(Inner {
            kind,
            role: info.role.clone(),
            model: info.model.clone(),
            message: message.into(),
            status: None,
            retry_after: None,
            attempts: 1,
            raw: None,
        }))
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.0.status = Some(status);
        self
    }

    /// Sets how long the server asked to wait (`Retry-After`).
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.0.retry_after = Some(delay);
        self
    }

    /// Sets how many attempts were made.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.0.attempts = attempts;
        self
    }

    /// Keeps the model's raw reply (for structured-output failures).
    pub fn with_raw(mut self, raw: impl Into<String>) -> Self {
        self.0.raw = Some(raw.into());
        self
    }

    /// The same error with every known secret value in its message and raw reply replaced.
    pub(crate) fn redacted(mut self, redactor: &crate::layers::Redactor) -> Self {
        self.0.message = redactor.scrub(&self.0.message);
        self.0.raw = self.0.raw.map(|raw| redactor.scrub(&raw));
        self
    }

    /// The kind.
    pub fn kind(&self) -> ModelErrorKind {
        self.0.kind
    }

    /// Whether retrying may help.
    pub fn is_retryable(&self) -> bool {
        self.0.kind.is_retryable()
    }

    /// The role.
    pub fn role(&self) -> &str {
        &self.0.role
    }

    /// The model.
    pub fn model(&self) -> &str {
        &self.0.model
    }

    /// The message, without the role prefix.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The HTTP status, if the server answered with one.
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    /// How long the server asked to wait before retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// How many attempts were made.
    pub fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// The model's raw reply, for structured-output failures.
    pub fn raw(&self) -> Option<&str> {
        self.0.raw.as_deref()
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "role `{}` (model {}): {}", self.0.role, self.0.model, self.0.message)?;
        if let Some(status) = self.0.status {
            write!(f, " (HTTP {status})")?;
        }
        if self.0.attempts > 1 {
            write!(f, " after {} attempts", self.0.attempts)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ModelInfo {
        ModelInfo {
            role: "primary".into(),
            provider: "openai_compatible".into(),
            model: "qwen".into(),
            server: "http://127.0.0.1:5000/v1".into(),
            output_mode: crate::chat::OutputMode::Tool,
        }
    }

    #[test]
    fn messages_name_role_model_status_and_attempts() {
        let error = ModelError::new(ModelErrorKind::Server, &info(), "the server failed")
            .with_status(503)
            .with_attempts(3);
        assert_eq!(
            error.to_string(),
            "role `primary` (model qwen): the server failed (HTTP 503) after 3 attempts"
        );
        assert!(error.is_retryable());
        assert!(!ModelErrorKind::Auth.is_retryable() && ModelErrorKind::Auth.may_fall_back());
        assert!(!ModelErrorKind::Request.may_fall_back());
    }
}
