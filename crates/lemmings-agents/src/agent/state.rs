//! The state of one agent run ([`AgentState`]), why the loop stopped ([`Stop`]) and the packet a
//! tool task gets ([`ToolTask`]).

use lemmings_graph::State;
use lemmings_models::ToolCall;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::message::AgentMessage;

/// One agent run: its conversation (without the system prompt), counters, and how it ended.
/// Every model call and every tool call is a task of its own, checkpointed as it finishes.
#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    /// The system prompt of this run, when the caller rendered one (a workflow agent's
    /// prompt template); `None`: the agent's own.
    pub system: Option<String>,
    /// The conversation, merged by message id.
    #[reducer(messages)]
    pub messages: Vec<AgentMessage>,
    /// Model calls made.
    #[reducer(add)]
    pub model_calls: u32,
    /// Tool calls made (blocked ones included).
    #[reducer(add)]
    pub tool_calls: u32,
    /// Invalid structured outputs sent back to the model with their errors.
    #[reducer(add)]
    pub reprompts: u32,
    /// The structured output, once submitted and valid.
    pub output: Option<Value>,
    /// The repairs applied to get `output` (the repair ladder's lines).
    pub repairs: Vec<String>,
    /// Why the loop stopped; `None` while it runs.
    pub stop: Option<Stop>,
    /// What middleware did (summaries, pruning), one line each, in order.
    #[reducer(append)]
    pub notes: Vec<String>,
}

impl AgentState {
    /// The last assistant message's text: a free-text agent's answer.
    pub fn answer(&self) -> Option<&str> {
        self.messages.iter().rev().find_map(|message| match &message.message {
            lemmings_models::ChatMessage::Assistant { content, .. } if !content.trim().is_empty() => {
                Some(content.as_str())
            }
            _ => None,
        })
    }

    /// The tool calls of the last assistant message that no tool result answers yet.
    pub fn pending_calls(&self) -> Vec<ToolCall> {
        let Some(at) = self
            .messages
            .iter()
            .rposition(|message| matches!(message.message, lemmings_models::ChatMessage::Assistant { .. }))
        else {
            return Vec::new();
        };
        let lemmings_models::ChatMessage::Assistant { tool_calls, .. } = &self.messages[at].message else {
            return Vec::new();
        };
        let answered: Vec<&str> = self.messages[at + 1..]
            .iter()
            .filter_map(AgentMessage::answers)
            .collect();
        tool_calls
            .iter()
            .filter(|call| !answered.contains(&call.id.as_str()))
            .cloned()
            .collect()
    }
}

/// Why an agent run stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stop {
    /// A free-text agent answered (the last assistant message).
    Answered,
    /// A structured output was submitted and is valid (`AgentState::output`).
    Submitted,
    /// The model-call limit was reached before an answer.
    ModelCallLimit {
        /// The limit.
        limit: u32,
    },
    /// The structured output was still invalid after the last re-prompt.
    InvalidOutput {
        /// What is wrong with it, one line each.
        errors: Vec<String>,
    },
    /// The model failed (after the models crate's retries and fallbacks).
    ModelFailed {
        /// The error, naming the role and model.
        message: String,
    },
}

impl Stop {
    /// Whether the agent finished its job (answered or submitted).
    pub fn is_success(&self) -> bool {
        matches!(self, Stop::Answered | Stop::Submitted)
    }
}

/// The input of one tool task: the call, and how many tool calls the run made before it (for
/// limits).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolTask {
    /// The call to make.
    pub call: ToolCall,
    /// Tool calls made before this one in this agent run.
    pub calls_before: u32,
}
