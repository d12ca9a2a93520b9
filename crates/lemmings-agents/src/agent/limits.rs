//! The loop's built-in middleware: model-call and tool-call limits (LangChain's
//! `ModelCallLimitMiddleware` and `ToolCallLimitMiddleware` in "continue" mode) and model
//! fallback (`ModelFallbackMiddleware`).

use std::sync::Arc;

use async_trait::async_trait;
use lemmings_models::{ChatModel, ChatRequest, ChatResponse, ModelError, ToolCall};
use lemmings_tools::ToolOutput;

use super::middleware::{AgentView, Middleware, ModelNext, ToolNext};
use super::state::Stop;

/// Stops the loop when the agent has made `limit` model calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelCallLimit {
    /// The most model calls in one agent run.
    pub limit: u32,
}

impl Middleware for ModelCallLimit {
    fn name(&self) -> &str {
        "model_call_limit"
    }

    fn should_stop(&self, view: AgentView<'_>) -> Option<Stop> {
        (view.model_calls >= self.limit).then_some(Stop::ModelCallLimit { limit: self.limit })
    }
}

/// Blocks tool calls beyond `limit` in one agent run, telling the model to finish instead (the
/// run goes on, so the agent can still submit its result).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToolCallLimit {
    /// The most tool calls in one agent run.
    pub limit: u32,
}

#[async_trait]
impl Middleware for ToolCallLimit {
    fn name(&self) -> &str {
        "tool_call_limit"
    }

    async fn wrap_tool_call(&self, view: AgentView<'_>, call: &ToolCall, next: ToolNext<'_>) -> ToolOutput {
        if view.tool_calls >= self.limit {
            return ToolOutput::failed(format!(
                "not run: the tool-call limit of this agent ({}) is reached; stop calling tools and \
                 give your final answer with what you know",
                self.limit
            ));
        }
        next.run(call.arguments.clone()).await
    }
}

/// Tries other models, in order, when the agent's model fails with an error another model may
/// not have (`ModelError::may_fall_back`); the last error is returned when all fail. (Roles'
/// own `fallback` lists already apply inside the models crate; this is per agent.)
#[derive(Clone, Debug)]
pub struct ModelFallback {
    /// The models to try after the agent's own.
    pub models: Vec<Arc<dyn ChatModel>>,
}

#[async_trait]
impl Middleware for ModelFallback {
    fn name(&self) -> &str {
        "model_fallback"
    }

    async fn wrap_model_call(
        &self,
        _view: AgentView<'_>,
        request: ChatRequest,
        next: ModelNext<'_>,
    ) -> Result<ChatResponse, ModelError> {
        let mut error = match next.run(request.clone()).await {
            Ok(response) => return Ok(response),
            Err(error) => error,
        };
        for model in &self.models {
            if !error.kind().may_fall_back() {
                break;
            }
            tracing::warn!(failed = %error, to = %model.info(), "agent falls back to another model");
            match model.chat(request.clone(), next.sink()).await {
                Ok(response) => return Ok(response),
                Err(next_error) => error = next_error,
            }
        }
        Err(error)
    }
}
