//! The project's own chat types and the [`ChatModel`] trait: what agents and nodes program
//! against. rig-core stays behind it (`provider`), so its frequent API changes touch one module.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// A message of a conversation. Reasoning ("thinking") is never part of it: models' thinking
/// is stripped from answers before they are stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    /// Instructions.
    System {
        /// The text.
        content: String,
    },
    /// The user (or the calling agent).
    User {
        /// The text.
        content: String,
    },
    /// The model's answer, with the tools it called.
    Assistant {
        /// The text (may be empty when the model only called tools).
        content: String,
        /// Tool calls, in order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    /// A tool's result, answering one call.
    Tool {
        /// The call it answers.
        call_id: String,
        /// The tool's name.
        name: String,
        /// The result, as text for the model.
        content: String,
    },
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage::System {
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage::User {
            content: content.into(),
        }
    }

    /// An assistant message without tool calls.
    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage::Assistant {
            content: content.into(),
            tool_calls: Vec::new(),
        }
    }

    /// A tool result.
    pub fn tool(call_id: impl Into<String>, name: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage::Tool {
            call_id: call_id.into(),
            name: name.into(),
            content: content.into(),
        }
    }

    /// The message's text.
    pub fn content(&self) -> &str {
        match self {
            ChatMessage::System { content }
            | ChatMessage::User { content }
            | ChatMessage::Assistant { content, .. }
            | ChatMessage::Tool { content, .. } => content,
        }
    }
}

/// One tool call made by the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id (answered by a [`ChatMessage::Tool`] with the same `call_id`).
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments: JSON, or a string holding what the model sent when it was not JSON (the
    /// tool then reports the problem to the model).
    pub arguments: serde_json::Value,
}

/// A tool offered to the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The name the model calls it by.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// Its arguments' JSON schema.
    pub parameters: serde_json::Value,
}

/// Whether and which tool the model must call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// No tool.
    None,
    /// Some tool.
    Required,
    /// This tool.
    Tool(String),
}

/// Sampling parameters; `None` leaves the role's configured value (or the server's default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Top-k sampling.
    pub top_k: Option<u32>,
    /// Min-p sampling.
    pub min_p: Option<f64>,
    /// The most tokens to generate.
    pub max_tokens: Option<u32>,
}

impl Sampling {
    /// Each parameter from `self`, else from `fallback`.
    pub fn or(self, fallback: Sampling) -> Sampling {
        Sampling {
            temperature: self.temperature.or(fallback.temperature),
            top_p: self.top_p.or(fallback.top_p),
            top_k: self.top_k.or(fallback.top_k),
            min_p: self.min_p.or(fallback.min_p),
            max_tokens: self.max_tokens.or(fallback.max_tokens),
        }
    }
}

/// What the model does with its reasoning ("thinking", e.g. Qwen3's `<think>` blocks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Thinking {
    /// Think; the reasoning is returned apart from the answer.
    On,
    /// Ask the model not to think.
    Off,
    /// Let it think, and drop the reasoning (it is stripped from the answer in every mode).
    #[default]
    Strip,
}

/// A JSON schema the reply must follow, for servers that enforce it natively.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseFormat {
    /// A name for the schema.
    pub name: String,
    /// The schema.
    pub schema: serde_json::Value,
}

/// One request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Which tool it must call.
    #[serde(default)]
    pub tool_choice: ToolChoice,
    /// Overrides of the role's sampling.
    #[serde(default)]
    pub sampling: Sampling,
    /// Overrides the role's thinking mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking>,
    /// A schema for native structured output (ignored by servers that lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
}

impl ChatRequest {
    /// A request with these messages.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        ChatRequest {
            messages,
            ..ChatRequest::default()
        }
    }
}

/// Why generation stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model finished.
    #[default]
    Stop,
    /// It hit `max_tokens`.
    Length,
    /// It called tools.
    ToolCalls,
    /// Something else (content filter, unknown).
    Other,
}

/// Token counts and cost of one response (or a sum of them). Servers may omit any of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: Option<u64>,
    /// Generated tokens.
    pub completion_tokens: Option<u64>,
    /// Cost in US dollars, when the provider reports it (OpenRouter's `usage.cost`).
    pub cost_usd: Option<f64>,
}

/// A model's answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The answer, with any thinking stripped.
    pub content: String,
    /// The thinking, when the model produced some (kept for tracing, never for history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Tool calls, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Why it stopped.
    pub finish: FinishReason,
    /// What it cost.
    pub usage: Usage,
    /// The role that answered (after any fallback) and its model.
    pub answered_by: Answerer,
}

impl ChatResponse {
    /// The answer as a history message (no thinking).
    pub fn message(&self) -> ChatMessage {
        ChatMessage::Assistant {
            content: self.content.clone(),
            tool_calls: self.tool_calls.clone(),
        }
    }
}

/// Which role and model produced a response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answerer {
    /// The role.
    pub role: String,
    /// The model.
    pub model: String,
}

/// A piece of a streamed response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StreamEvent {
    /// Answer text.
    Text {
        /// The role generating.
        role: String,
        /// The text.
        delta: String,
    },
    /// Thinking text.
    Reasoning {
        /// The role generating.
        role: String,
        /// The text.
        delta: String,
    },
    /// A complete tool call.
    ToolCall {
        /// The role generating.
        role: String,
        /// The call.
        call: ToolCall,
    },
    /// What this role streamed so far in this call is void: the attempt failed and the call is
    /// being retried, or handed to a fallback role. Displays drop the partial text.
    Discard {
        /// The role whose attempt failed.
        role: String,
        /// Why, in a few words.
        reason: String,
    },
}

/// Receives stream events as they arrive (e.g. to forward tokens to a graph's message stream).
pub type TokenSink = Arc<dyn Fn(&StreamEvent) + Send + Sync>;

/// What a model is, for messages and the CLI. Never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The role.
    pub role: String,
    /// The provider kind (`openai_compatible`, `ollama`, `openrouter`, `scripted`, ...).
    pub provider: String,
    /// The model name.
    pub model: String,
    /// The server, for messages (no credentials).
    pub server: String,
    /// How structured output is requested from it.
    pub output_mode: OutputMode,
}

/// How structured output is requested from a model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputMode {
    /// A forced `submit_<name>` tool call whose parameters are the schema (the default).
    #[default]
    Tool,
    /// The server's native JSON-schema output (`response_format`, Ollama's `format`).
    Native,
    /// Only the schema in the prompt, then parse and repair the reply.
    Prompt,
}

impl fmt::Display for ModelInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "role `{}` ({} model {} at {})",
            self.role, self.provider, self.model, self.server
        )
    }
}

/// A chat model. Implemented by the rig-core adapters, by every layer (timeout, retry,
/// fallback, concurrency gate, tracing), and by the scripted test model.
#[async_trait]
pub trait ChatModel: Send + Sync + fmt::Debug {
    /// Sends one request and waits for the whole answer; streamed pieces go to `sink` as they
    /// arrive when one is given.
    async fn chat(&self, request: ChatRequest, sink: Option<TokenSink>) -> Result<ChatResponse, ModelError>;

    /// What this model is.
    fn info(&self) -> ModelInfo;
}

#[async_trait]
impl<M: ChatModel + ?Sized> ChatModel for Arc<M> {
    async fn chat(&self, request: ChatRequest, sink: Option<TokenSink>) -> Result<ChatResponse, ModelError> {
        (**self).chat(request, sink).await
    }

    fn info(&self) -> ModelInfo {
        (**self).info()
    }
}
