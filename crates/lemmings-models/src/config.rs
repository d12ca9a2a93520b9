//! The `[llm.*]` roles of `config.toml`: parsed from TOML text (this crate reads no files and no
//! environment itself; the caller passes the text, its name and an environment lookup), with
//! `${VAR}` expansion, per-provider defaults, and errors that name the file, line and key.
//!
//! The types below are what the rest of the crate is built from; [`LlmConfig::parse`] is the one
//! way to get them from text. The parser lives in submodules: `document` walks the `[llm]` table,
//! `role` reads one role's keys (with `value`'s typed readers), `expand` does `${VAR}`, and
//! `error` is [`ConfigError`].

mod document;
mod error;
mod expand;
mod role;
mod value;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::chat::{OutputMode, Sampling, Thinking};
use crate::secret::Secret;

pub use error::{ConfigError, ConfigErrorKind};

/// Where an `ollama` role's server is when `base_url` is not set (Ollama's default port).
pub const DEFAULT_OLLAMA_BASE_URL: &str = "http://127.0.0.1:11434";

/// Where an `openrouter` role's server is when `base_url` is not set.
pub const DEFAULT_OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";

/// Every key a `[llm.<role>]` table may hold, in the order `config.toml` documents them.
pub const ROLE_KEYS: &[&str] = &[
    "provider",
    "model",
    "base_url",
    "api_key",
    "optional",
    "fallback",
    "timeout_s",
    "connect_timeout_s",
    "max_concurrency",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "max_tokens",
    "thinking",
    "context_tokens",
    "structured_output",
    "max_attempts",
    "backoff_s",
    "max_backoff_s",
    "retry_budget",
    "breaker_failures",
    "breaker_cooldown_s",
];

/// Which wire protocol a role's server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI chat completions (`POST {base_url}/chat/completions`): text-generation-webui,
    /// llama.cpp server, vLLM, LM Studio, ...
    OpenaiCompatible,
    /// Ollama's native API (`POST {host}/api/chat`); a `base_url` ending in `/v1` uses its
    /// OpenAI-compatible API instead.
    Ollama,
    /// OpenRouter (`POST {base_url}/chat/completions`, `usage.cost` reported).
    Openrouter,
}

impl ProviderKind {
    /// Every provider, in the order messages list them.
    pub const ALL: [ProviderKind; 3] = [
        ProviderKind::OpenaiCompatible,
        ProviderKind::Ollama,
        ProviderKind::Openrouter,
    ];

    /// The name `config.toml` spells it with (`provider = "..."`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenaiCompatible => "openai_compatible",
            ProviderKind::Ollama => "ollama",
            ProviderKind::Openrouter => "openrouter",
        }
    }

    /// The `base_url` used when none is configured (`openai_compatible` has none: it is required).
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::OpenaiCompatible => None,
            ProviderKind::Ollama => Some(DEFAULT_OLLAMA_BASE_URL),
            ProviderKind::Openrouter => Some(DEFAULT_OPENROUTER_BASE_URL),
        }
    }

    /// The default `max_concurrency`: one request at a time for a local server (one GPU or CPU
    /// stream), eight for a cloud API.
    pub fn default_max_concurrency(self) -> usize {
        match self {
            ProviderKind::OpenaiCompatible | ProviderKind::Ollama => 1,
            ProviderKind::Openrouter => 8,
        }
    }
}

/// Retries of one role's model: bounded per call and by a budget across calls.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RetryConfig {
    /// Attempts per call, the first included (`max_attempts`, default 4).
    pub max_attempts: u32,
    /// The first backoff; doubled per retry (`backoff_s`, default 1).
    pub backoff: Duration,
    /// The longest wait between attempts, `Retry-After` included (`max_backoff_s`, default 60).
    pub max_backoff: Duration,
    /// Retries allowed as a fraction of calls, over and above a reserve of 10 per minute
    /// (`retry_budget`, default 0.2), so a dead server does not multiply the load.
    pub budget_ratio: f64,
}

impl Default for RetryConfig {
    /// The documented defaults: 4 attempts, 1 s doubling up to 60 s, a budget of 0.2.
    fn default() -> Self {
        RetryConfig {
            max_attempts: 4,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            budget_ratio: 0.2,
        }
    }
}

/// When a role's model is considered down, so calls go straight to the fallback.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BreakerConfig {
    /// Consecutive failed calls (retries exhausted) that open the circuit
    /// (`breaker_failures`, default 1).
    pub failures: u32,
    /// How long it stays open before one probe call is let through (`breaker_cooldown_s`,
    /// default 30; doubled after each failed probe, up to 10 minutes).
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    /// The documented defaults: open after 1 failed call, for 30 s.
    fn default() -> Self {
        BreakerConfig {
            failures: 1,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// One role: a model on a server, and how it is called.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoleConfig {
    /// The role's name (the key of `[llm.<name>]`).
    pub name: String,
    /// The wire protocol.
    pub provider: ProviderKind,
    /// The model name sent to the server.
    pub model: String,
    /// The server's base URL, as configured (after `${VAR}` expansion), no trailing slash.
    pub base_url: String,
    /// The API key, if any. Serialized as `"[redacted]"`.
    #[serde(serialize_with = "crate::secret::serialize_redacted")]
    pub api_key: Option<Secret>,
    /// The limit on one attempt, from sending the request to the end of the answer
    /// (`timeout_s`, default 300). Waiting for the concurrency gate does not count.
    pub timeout: Duration,
    /// The limit on connecting to the server (`connect_timeout_s`, default 10).
    pub connect_timeout: Duration,
    /// The most requests in flight to this role's server (`max_concurrency`; default 1 for
    /// `openai_compatible` and `ollama`, a local GPU or CPU that serves one request at a time,
    /// and 8 for `openrouter`). Roles on the same server share one gate whose size is the
    /// smallest of theirs.
    pub max_concurrency: usize,
    /// Sampling sent with every request (`temperature`, `top_p`, `top_k`, `min_p`, `max_tokens`).
    pub sampling: Sampling,
    /// Thinking mode (`thinking = "on" | "off" | "strip"`, default `strip`).
    pub thinking: Thinking,
    /// The model's context window in tokens (`context_tokens`), for summarization triggers.
    pub context_tokens: Option<u32>,
    /// Roles to fall back to, in order, when this one fails or is down (`fallback`; default
    /// `["primary"]` for `summarizer` and `supervisor`, none for the others).
    pub fallback: Vec<String>,
    /// Whether the role may be missing: when its key's variable is unset it is switched off
    /// with a notice instead of failing (`optional`; default true for `research` and
    /// `supervisor`).
    pub optional: bool,
    /// Structured output mode (`structured_output`, default `tool`).
    pub structured_output: OutputMode,
    /// Retries (`max_attempts`, `backoff_s`, `max_backoff_s`, `retry_budget`).
    pub retry: RetryConfig,
    /// Circuit breaker (`breaker_failures`, `breaker_cooldown_s`).
    pub breaker: BreakerConfig,
}

impl RoleConfig {
    /// A role with every optional key at its documented default: the provider's default
    /// `base_url` (empty for `openai_compatible`, which has none) and `max_concurrency`, no API
    /// key, and the name's defaults for `fallback` and `optional`.
    pub fn new(name: impl Into<String>, provider: ProviderKind, model: impl Into<String>) -> RoleConfig {
        let name = name.into();
        RoleConfig {
            provider,
            model: model.into(),
            base_url: provider.default_base_url().unwrap_or_default().to_owned(),
            api_key: None,
            timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            max_concurrency: provider.default_max_concurrency(),
            sampling: Sampling::default(),
            thinking: Thinking::default(),
            context_tokens: None,
            fallback: default_fallback(&name),
            optional: default_optional(&name),
            structured_output: OutputMode::default(),
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
            name,
        }
    }
}

/// `summarizer` and `supervisor` are small side models: when they fail, the primary answers.
fn default_fallback(name: &str) -> Vec<String> {
    match name {
        "summarizer" | "supervisor" => vec!["primary".to_owned()],
        _ => Vec::new(),
    }
}

/// `research` (a cloud key) and `supervisor` (an extra server) are features one may not have.
fn default_optional(name: &str) -> bool {
    matches!(name, "research" | "supervisor")
}

/// An optional role that was switched off, and why (one line, for the user).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DisabledRole {
    /// The role.
    pub name: String,
    /// Why, e.g. "environment variable OPENROUTER_API_KEY is not set".
    pub reason: String,
}

/// The parsed `[llm]` section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LlmConfig {
    /// Where it came from (a path, or "built-in default"), for messages.
    pub source: String,
    /// The enabled roles, by name.
    pub roles: BTreeMap<String, RoleConfig>,
    /// Optional roles switched off, by name.
    pub disabled: BTreeMap<String, DisabledRole>,
}

impl LlmConfig {
    /// Parses the `[llm]` section of a config file's text; the other top-level tables are left
    /// to their owners (but a TOML syntax error anywhere is reported). `source` names the text
    /// in messages (a path, or "built-in default"); `env` looks up the variables of `${VAR}`.
    ///
    /// An optional role that cannot be set up (a variable unset, no OpenRouter key) is put in
    /// [`LlmConfig::disabled`] and dropped from every other role's `fallback`; see
    /// [`LlmConfig::notices`].
    ///
    /// # Errors
    /// The first problem in the file, as a [`ConfigError`] naming the source, line and key.
    /// Config errors are terminal: the file has to change, retrying cannot help.
    pub fn parse(text: &str, source: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<LlmConfig, ConfigError> {
        document::parse(&document::Doc { text, source, env })
    }

    /// An enabled role, by name (`None` for a switched-off or unknown role).
    pub fn role(&self, name: &str) -> Option<&RoleConfig> {
        self.roles.get(name)
    }

    /// One line per switched-off optional role, for the user, e.g. "role `research` is switched
    /// off: environment variable OPENROUTER_API_KEY is not set (set it to enable it)".
    pub fn notices(&self) -> Vec<String> {
        self.disabled
            .values()
            .map(|role| {
                format!(
                    "role `{}` is switched off: {} (set it to enable it)",
                    role.name, role.reason
                )
            })
            .collect()
    }
}
