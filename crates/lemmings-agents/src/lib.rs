//! Lemmings' agents: the reusable agent loop (a model ⇄ tools subgraph with middleware:
//! summarization, call limits, structured output with repair), subagents as tools, the coding
//! workflow (scope, planning, implementation, verification, QA, assessment, report), the
//! status-line summarizer and the normaliser, and the workflow graph that wires them together
//! with the supervisor beside it (`workflow::graph`).

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
