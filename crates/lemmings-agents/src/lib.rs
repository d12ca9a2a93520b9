//! Lemmings' agents: the reusable agent loop (a model ⇄ tools subgraph with middleware:
//! summarization, call limits, structured output with repair), subagents as tools, the coding
//! workflow (scope, planning, implementation, verification, QA, assessment, report), the
//! status-line summarizer and the normaliser. (The workflow graph that wires the agents together
//! and the supervisor beside it are still to come.)

pub mod agent;
pub mod message;
pub mod normalise;
pub mod spec;
pub mod status;
pub mod subagents;
pub mod summarize;
mod text;
pub mod workflow;

pub use message::{AgentMessage, MessageKind};
