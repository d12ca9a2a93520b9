//! Lemmings' agents: the reusable agent loop (a model ⇄ tools subgraph with middleware:
//! summarization, call limits, structured output with repair), subagents as tools, the coding
//! workflow (scope, planning, implementation, verification, QA, assessment, report), the
//! status-line summarizer, the normaliser and the supervisor that runs beside the workflow.

pub mod agent;
pub mod message;
pub mod normalise;
pub mod spec;
pub mod status;
pub mod subagents;
pub mod summarize;
pub mod workflow;

pub use message::{AgentMessage, MessageKind};
