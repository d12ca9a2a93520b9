//! Classifying rig-core's `ProviderError` into [`ModelErrorKind`]s, with the HTTP status and
//! `Retry-After` kept, and messages that never carry the API key.

use std::time::{Duration, SystemTime};

use rig_core::ProviderError;

use super::RigModel;
use crate::error::{ModelError, ModelErrorKind};

/// The longest excerpt of a server's error body quoted in a message.
const BODY_EXCERPT: usize = 300;

pub(super) fn classify(model: &RigModel, error: &ProviderError) -> ModelError {
    if let Some(status) = error.provider_response_status() {
        let code = status.as_u16();
        let body = excerpt(error.provider_response_body().unwrap_or(""));
        let (kind, what) = match code {
            429 => (ModelErrorKind::RateLimited, "the server is rate limiting requests"),
            401 | 403 => (
                ModelErrorKind::Auth,
                "the server refused the credentials; check the role's api_key",
            ),
            408 | 409 | 425 => (ModelErrorKind::Server, "the server could not take the request now"),
            500..=599 => (ModelErrorKind::Server, "the server failed"),
            404 => (
                ModelErrorKind::Request,
                "the server has no such model or route; check the role's model and base_url",
            ),
            400..=499 => (ModelErrorKind::Request, "the server rejected the request"),
            _ => (ModelErrorKind::BadResponse, "the server answered with an error"),
        };
        let message = if body.is_empty() {
            what.to_owned()
        } else {
            format!("{what}: {body}")
        };
        let mut out = model.error(kind, message).with_status(code);
        if let Some(delay) = error.provider_response_headers().and_then(retry_after) {
            out = out.with_retry_after(delay);
        }
        return out;
    }
    let (kind, message) = match error {
        ProviderError::Http(inner) => {
            let text = error_chain(inner.as_ref());
            if text.contains("timed out") || text.contains("timeout") {
                (
                    ModelErrorKind::Timeout,
                    format!("the server did not answer in time: {text}"),
                )
            } else if matches!(inner.as_ref(), rig_core::http_client::Error::StreamEnded) {
                (
                    ModelErrorKind::Truncated,
                    "the connection closed before the answer was complete".to_owned(),
                )
            } else if text.contains("connect") || text.contains("Connection refused") || text.contains("dns") {
                (ModelErrorKind::Connect, format!("cannot reach the server: {text}"))
            } else {
                (
                    ModelErrorKind::Connect,
                    format!("the connection to the server failed: {text}"),
                )
            }
        }
        ProviderError::Truncated => (
            ModelErrorKind::Truncated,
            "the answer ended before it was complete (a stream cut short, or a body without choices)".to_owned(),
        ),
        ProviderError::Json(inner) => (
            ModelErrorKind::BadResponse,
            format!("the server's answer is not valid JSON: {inner}"),
        ),
        ProviderError::Response(message) | ProviderError::Provider(message) => (
            ModelErrorKind::BadResponse,
            format!("the server's answer cannot be read: {}", excerpt(message)),
        ),
        ProviderError::InvalidAuthentication(_) => (
            ModelErrorKind::Auth,
            "the server refused the credentials; check the role's api_key".to_owned(),
        ),
        ProviderError::UnsupportedOption(option) => (
            ModelErrorKind::Config,
            format!("the server does not support an option of the request: {option}"),
        ),
        ProviderError::Request(inner) => (ModelErrorKind::Request, format!("the request cannot be built: {inner}")),
        ProviderError::Url(inner) => (
            ModelErrorKind::Config,
            format!("the role's base_url is not usable: {inner}"),
        ),
        other if other.is_retryable() => (
            ModelErrorKind::Server,
            format!("the call failed: {}", excerpt(&other.to_string())),
        ),
        other => (
            ModelErrorKind::Request,
            format!("the call failed: {}", excerpt(&other.to_string())),
        ),
    };
    model.error(kind, message)
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = inner.source();
    }
    text
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(BODY_EXCERPT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// `Retry-After` as a delay: seconds, or an HTTP date (relative to the wall clock).
pub(super) fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}
