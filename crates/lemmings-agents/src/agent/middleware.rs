//! [`Middleware`]: hooks around an agent's loop (LangChain v1's design): `before_model` may
//! rewrite the conversation before a model call (summarization), `wrap_model_call` and
//! `wrap_tool_call` sit around each call (limits, fallback, blocking), first middleware
//! outermost. The chains are [`ModelNext`] and [`ToolNext`]: call `run` to go on inward, or
//! return without calling it to answer in the inner layers' place.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use lemmings_models::{ChatModel, ChatRequest, ChatResponse, ModelError, TokenSink, ToolCall};
use lemmings_tools::{CallContext, Tool, ToolOutput};
use serde_json::Value;

use super::state::Stop;
use crate::message::AgentMessage;

/// What a hook sees of the agent: its conversation and counters, read-only. A tool task runs
/// on its call alone, so in `wrap_tool_call` `messages` is empty, `model_calls` is 0 and
/// `tool_calls` counts the calls made before this one (those of the same turn included).
#[derive(Clone, Copy, Debug)]
pub struct AgentView<'a> {
    /// The agent's name (e.g. `implementor`).
    pub agent: &'a str,
    /// The conversation so far (the system prompt is not part of it).
    pub messages: &'a [AgentMessage],
    /// Model calls made so far in this agent run.
    pub model_calls: u32,
    /// Tool calls made so far in this agent run.
    pub tool_calls: u32,
    /// The context window of the agent's model role, when configured.
    pub context_tokens: Option<u64>,
}

/// A conversation rewrite asked by [`Middleware::before_model`]: the new message list (saved
/// in place of the old one) and a line for the trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Rewrite {
    /// The whole new conversation.
    pub messages: Vec<AgentMessage>,
    /// What was done, e.g. "summarized 42 messages (31,000 tokens) into 1".
    pub note: String,
}

/// Why a middleware failed the agent (a bug or a broken dependency, not a model mistake).
#[derive(Debug, thiserror::Error)]
#[error("middleware `{middleware}` of agent `{agent}`: {message}")]
pub struct MiddlewareError {
    /// The middleware.
    pub middleware: String,
    /// The agent.
    pub agent: String,
    /// What went wrong and what to do.
    pub message: String,
    /// Whether running the step again may help.
    pub retryable: bool,
}

/// Hooks around an agent's loop. Every method has a pass-through default.
#[async_trait]
pub trait Middleware: Send + Sync + fmt::Debug {
    /// The middleware's name, for traces and errors.
    fn name(&self) -> &str;

    /// Before each model call, first: stop the loop instead of calling the model (a limit).
    fn should_stop(&self, _view: AgentView<'_>) -> Option<Stop> {
        None
    }

    /// Before each model call: may replace the conversation (summarization). The rewrite is
    /// saved with the model call's step, so a resume does not redo it.
    async fn before_model(&self, _view: AgentView<'_>) -> Result<Option<Rewrite>, MiddlewareError> {
        Ok(None)
    }

    /// Around each model call: change the request, call `next.run(request)` zero or more
    /// times (retry, fallback), or answer without calling it.
    async fn wrap_model_call(
        &self,
        view: AgentView<'_>,
        request: ChatRequest,
        next: ModelNext<'_>,
    ) -> Result<ChatResponse, ModelError> {
        let _ = view;
        next.run(request).await
    }

    /// Around each tool call: call `next.run(arguments)`, or answer in the tool's place (a
    /// blocked call, a limit).
    async fn wrap_tool_call(&self, view: AgentView<'_>, call: &ToolCall, next: ToolNext<'_>) -> ToolOutput {
        let _ = view;
        next.run(call.arguments.clone()).await
    }
}

/// The inner layers of a model call: the remaining middleware, then the model.
#[derive(Clone, Copy)]
pub struct ModelNext<'a> {
    pub(crate) middleware: &'a [Arc<dyn Middleware>],
    pub(crate) view: AgentView<'a>,
    pub(crate) model: &'a dyn ChatModel,
    pub(crate) sink: Option<&'a TokenSink>,
}

impl fmt::Debug for ModelNext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelNext")
            .field("middleware", &self.middleware.len())
            .field("model", &self.model.info().to_string())
            .finish()
    }
}

impl<'a> ModelNext<'a> {
    /// The innermost layer: no middleware left, only the model.
    pub fn model(&self) -> &'a dyn ChatModel {
        self.model
    }

    /// Where streamed tokens go.
    pub fn sink(&self) -> Option<TokenSink> {
        self.sink.cloned()
    }

    /// Runs the inner layers on `request`.
    pub async fn run(self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        match self.middleware.split_first() {
            Some((first, rest)) => {
                let next = ModelNext {
                    middleware: rest,
                    ..self
                };
                first.wrap_model_call(self.view, request, next).await
            }
            None => self.model.chat(request, self.sink.cloned()).await,
        }
    }
}

/// The inner layers of a tool call: the remaining middleware, then the tool.
#[derive(Clone, Copy)]
pub struct ToolNext<'a> {
    pub(crate) middleware: &'a [Arc<dyn Middleware>],
    pub(crate) view: AgentView<'a>,
    pub(crate) call: &'a ToolCall,
    pub(crate) tool: &'a dyn Tool,
    pub(crate) context: &'a CallContext,
}

impl fmt::Debug for ToolNext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolNext")
            .field("middleware", &self.middleware.len())
            .field("tool", &self.tool.name())
            .finish()
    }
}

impl ToolNext<'_> {
    /// Runs the inner layers with `arguments`.
    pub async fn run(self, arguments: Value) -> ToolOutput {
        match self.middleware.split_first() {
            Some((first, rest)) => {
                let call = ToolCall {
                    arguments,
                    ..self.call.clone()
                };
                let next = ToolNext {
                    middleware: rest,
                    ..self
                };
                first.wrap_tool_call(self.view, &call, next).await
            }
            None => self.tool.call(arguments, self.context).await,
        }
    }
}
