//! [`AgentMessage`]: a chat message as an agent's state holds it, with the id the messages
//! reducer merges by and what kind of message it is (the task, a summary, a note).

use lemmings_graph::Message;
use lemmings_models::ChatMessage;
use serde::{Deserialize, Serialize};

/// What a message is to the agent loop, beyond its chat role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// An ordinary message.
    #[default]
    Normal,
    /// The task the agent was given (the first user message): never summarized away.
    Task,
    /// A summary of earlier messages written by the summarization middleware.
    Summary,
    /// A message the loop added to steer the model (a re-prompt, a limit notice).
    Notice,
}

impl MessageKind {
    fn is_normal(&self) -> bool {
        *self == MessageKind::Normal
    }
}

/// One message of an agent's conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentMessage {
    /// Set by the messages reducer when the message is first written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The chat message (`role` and its fields, flattened).
    #[serde(flatten)]
    pub message: ChatMessage,
    /// What the message is to the loop.
    #[serde(default, skip_serializing_if = "MessageKind::is_normal")]
    pub kind: MessageKind,
}

impl AgentMessage {
    /// An ordinary message.
    pub fn new(message: ChatMessage) -> Self {
        AgentMessage {
            id: None,
            message,
            kind: MessageKind::Normal,
        }
    }

    /// The task message (a user message, pinned).
    pub fn task(content: impl Into<String>) -> Self {
        AgentMessage {
            kind: MessageKind::Task,
            ..AgentMessage::new(ChatMessage::user(content))
        }
    }

    /// A summary of earlier messages (a user message, as LangChain inserts it).
    pub fn summary(content: impl Into<String>) -> Self {
        AgentMessage {
            kind: MessageKind::Summary,
            ..AgentMessage::new(ChatMessage::user(content))
        }
    }

    /// A notice from the loop to the model (a user message).
    pub fn notice(content: impl Into<String>) -> Self {
        AgentMessage {
            kind: MessageKind::Notice,
            ..AgentMessage::new(ChatMessage::user(content))
        }
    }

    /// This message with `id`.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The text.
    pub fn content(&self) -> &str {
        self.message.content()
    }

    /// The ids of the tool calls this message makes (empty unless it is an assistant message
    /// with calls).
    pub fn tool_call_ids(&self) -> Vec<&str> {
        match &self.message {
            ChatMessage::Assistant { tool_calls, .. } => tool_calls.iter().map(|call| call.id.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// The call this message answers, when it is a tool result.
    pub fn answers(&self) -> Option<&str> {
        match &self.message {
            ChatMessage::Tool { call_id, .. } => Some(call_id),
            _ => None,
        }
    }
}

impl From<ChatMessage> for AgentMessage {
    fn from(message: ChatMessage) -> Self {
        AgentMessage::new(message)
    }
}

impl Message for AgentMessage {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    fn set_id(&mut self, id: String) {
        self.id = Some(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_flat_and_round_trips() {
        let message = AgentMessage::task("fix the bug").with_id("m1");
        let json = serde_json::to_string(&message).unwrap();
        assert_eq!(
            json,
            r#"{"id":"m1","role":"user","content":"fix the bug","kind":"task"}"#
        );
        assert_eq!(serde_json::from_str::<AgentMessage>(&json).unwrap(), message);
        let plain: AgentMessage = serde_json::from_str(r#"{"role":"assistant","content":"hi"}"#).unwrap();
        assert_eq!(plain, AgentMessage::new(ChatMessage::assistant("hi")));
    }
}
