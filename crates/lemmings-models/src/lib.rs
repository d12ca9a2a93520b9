//! Role-based chat models for Lemmings: the `ChatModel` trait and the project's own chat types,
//! configuration of roles from `config.toml`, rig-core adapters for the providers, the layers
//! every call goes through (timeout, retry, fallback, concurrency gate, tracing), usage
//! accounting, and structured output with repair. The only crate that touches rig-core or HTTP.

mod chat;
pub mod config;
mod error;
pub mod layers;
mod probe;
mod provider;
mod registry;
pub mod secret;
pub mod structured;
pub mod think;
mod usage;

pub use chat::{
    Answerer, ChatMessage, ChatModel, ChatRequest, ChatResponse, FinishReason, ModelInfo, OutputMode, ResponseFormat,
    Sampling, StreamEvent, Thinking, TokenSink, ToolCall, ToolChoice, ToolSpec, Usage,
};
pub use config::{ConfigError, ConfigErrorKind, DisabledRole, LlmConfig, ProviderKind, RoleConfig};
pub use error::{ModelError, ModelErrorKind};
pub use probe::Probe;
pub use registry::LlmRegistry;
pub use usage::{ActiveCall, RoleUsage, UsageLedger, UsageReport};
