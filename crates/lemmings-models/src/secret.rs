//! [`Secret`]: an API key that prints as `[redacted]` and is never serialized. Only the
//! provider adapters call [`Secret::expose`], to put the key in a request header.

use std::fmt;

/// A secret string (an API key). `Debug` and `Display` print `[redacted]`; it has no
/// `Serialize` impl, and structures that hold one serialize it with [`serialize_redacted`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// What a secret prints as.
pub const REDACTED: &str = "[redacted]";

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that sends it (a request header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Serializes a present secret as `"[redacted]"` and an absent one as `null` (for
/// `#[serde(serialize_with = ...)]` on an `Option<Secret>` field).
pub fn serialize_redacted<S: serde::Serializer>(secret: &Option<Secret>, serializer: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => serializer.serialize_str(REDACTED),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_print_and_serialize_redacted() {
        let secret = Secret::new("sk-canary-123");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.expose(), "sk-canary-123");

        #[derive(serde::Serialize)]
        struct Holder {
            #[serde(serialize_with = "serialize_redacted")]
            key: Option<Secret>,
        }
        let json = serde_json::to_string(&Holder { key: Some(secret) }).unwrap();
        assert_eq!(json, r#"{"key":"[redacted]"}"#);
        assert_eq!(serde_json::to_string(&Holder { key: None }).unwrap(), r#"{"key":null}"#);
    }
}
