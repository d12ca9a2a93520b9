//! [`ConfigError`]: why a config file's `[llm]` section was refused, with the file, line and
//! dotted key it is about, so the user can go straight to the line to fix.

use std::fmt;

/// What is wrong, for callers that branch on it (messages are for people).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The text is not valid TOML (anywhere in the file, not only in `[llm]`).
    Syntax,
    /// There is no `[llm]` section, no role in it, or no `[llm.primary]`.
    MissingRole,
    /// A required key of a role is missing (`provider`, `model`, `base_url` for
    /// `openai_compatible`, `api_key` for `openrouter`).
    MissingField,
    /// A role has a key this crate does not know (a typo, usually).
    UnknownKey,
    /// `provider` is not one of `openai_compatible`, `ollama`, `openrouter`.
    UnknownProvider,
    /// A value has the wrong type or is out of range, a role name or `${...}` is malformed, or
    /// `primary` is marked optional.
    InvalidValue,
    /// A `${VAR}` of a required role names an unset environment variable.
    MissingVariable,
    /// `fallback` names a role that is not defined.
    UnknownFallback,
}

/// A refused configuration. Displayed as `<source>:<line>: <key>: <message>` (the line or the
/// key left out when there is none), e.g. `config.toml:14: llm.research.provider: unknown
/// provider "foo"; expected one of openai_compatible, ollama, openrouter`.
///
/// Config errors are terminal: retrying cannot help, the file has to change
/// ([`ConfigError::is_retryable`] is always false). Messages never hold a value read from an
/// `api_key` or a `base_url` (at most the key and a variable's name).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ConfigError {
    kind: ConfigErrorKind,
    // Not `source`: thiserror would take a field of that name for the error's cause.
    origin: String,
    line: Option<usize>,
    key: Option<String>,
    message: String,
}

impl ConfigError {
    pub(super) fn new(
        kind: ConfigErrorKind,
        origin: &str,
        line: Option<usize>,
        key: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            kind,
            origin: origin.to_owned(),
            line,
            key,
            message: message.into(),
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The name of the text (a path, or "built-in default").
    pub fn file(&self) -> &str {
        &self.origin
    }

    /// The 1-based line, when the problem is at one (a missing key points at its role's header).
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The dotted key, e.g. `llm.research.provider`, when the problem is about one.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The message, without the source, line and key.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Always false: a config error is fixed by editing the file, not by retrying.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}
