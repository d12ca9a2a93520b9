//! Subagents as tools (deepagents' pattern, with a model role per subagent): `ask` and
//! `explain_code` answer a question about the workspace in a fresh context with read-only
//! tools; `deep_research` does the same on the research role. The calling agent sees only the
//! short final answer, thinking stripped, never the subagent's conversation.

use std::fmt;

use async_trait::async_trait;
use lemmings_graph::{CompiledGraph, RunConfig};
use lemmings_models::think::split_thinking;
use lemmings_tools::{CallContext, Tool, ToolOutput};
use serde_json::{Value, json};

use crate::agent::{Agent, AgentState, AgentStateUpdate, Stop};
use crate::message::AgentMessage;
use crate::spec::PromptTemplate;
use crate::text::clip;

/// A subagent offered to another agent as a tool taking one `query`.
pub struct Subagent {
    name: String,
    description: String,
    role: String,
    max_chars: usize,
    graph: CompiledGraph<AgentState>,
    task: Option<(PromptTemplate, String)>,
    side_effects: bool,
}

impl fmt::Debug for Subagent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subagent")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("max_chars", &self.max_chars)
            .finish()
    }
}

impl Subagent {
    /// The tool `name` running `agent` (its model already bound to `role`), described to the
    /// calling model by `description`, answering in at most `max_chars` characters.
    ///
    /// # Errors
    /// Only if the agent's loop fails to compile, which would be a bug.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        role: impl Into<String>,
        max_chars: usize,
        agent: Agent,
    ) -> Result<Self, lemmings_graph::CompileError> {
        Ok(Subagent {
            name: name.into(),
            description: description.into(),
            role: role.into(),
            max_chars,
            graph: agent.graph()?,
            task: None,
            side_effects: false,
        })
    }

    /// Builds the task message from `template`'s task part, with the call's argument as the
    /// variable `variable` (the coder's `{{request}}`), instead of sending the argument as it
    /// is. The template must use no other variable.
    pub fn with_task_template(mut self, template: PromptTemplate, variable: impl Into<String>) -> Self {
        self.task = Some((template, variable.into()));
        self
    }

    /// Marks the subagent as changing the workspace (the coder): the calling agent runs each
    /// call as a keyed effect, so a resumed run reports the recorded result instead of making
    /// the change again.
    pub fn with_side_effects(mut self) -> Self {
        self.side_effects = true;
        self
    }
}

#[async_trait]
impl Tool for Subagent {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> String {
        self.description.clone()
    }

    fn parameters(&self) -> Value {
        json!({
            "additionalProperties": false,
            "properties": {
                "query": {
                    "description": "The question, with every detail the helper needs (it sees nothing of your conversation).",
                    "type": "string"
                }
            },
            "required": ["query"],
            "type": "object"
        })
    }

    fn role(&self) -> Option<&str> {
        Some(&self.role)
    }

    fn has_side_effects(&self) -> bool {
        self.side_effects
    }

    async fn call(&self, arguments: Value, context: &CallContext) -> ToolOutput {
        let query = match &arguments {
            Value::Object(map) => map.get("query").and_then(Value::as_str).map(str::to_owned),
            Value::String(text) => serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|value| value.get("query").and_then(Value::as_str).map(str::to_owned))
                .or_else(|| Some(text.clone())),
            _ => None,
        };
        let Some(query) = query.filter(|query| !query.trim().is_empty()) else {
            return ToolOutput {
                text: format!(
                    "invalid arguments for `{}`: expected {{\"query\": \"<your question>\"}}",
                    self.name
                ),
                outcome: lemmings_tools::Outcome::InvalidArguments,
            };
        };
        let task = match &self.task {
            None => query,
            Some((template, variable)) => {
                let vars = std::collections::BTreeMap::from([(variable.clone(), query)]);
                match template.render_task(&vars) {
                    Ok(task) => task,
                    Err(error) => return ToolOutput::failed(format!("`{}` cannot start: {error}", self.name)),
                }
            }
        };
        let input = AgentStateUpdate::default().messages(vec![AgentMessage::task(task).into()]);
        // The subagent's own side-effecting calls are keyed by thread, step and task: each call
        // runs on a thread of its own (the calling effect's key, stable across resumes, else a
        // fresh name), so two calls writing at the same step of their loops never share a key.
        let thread = context.idempotency_key.clone().unwrap_or_else(|| {
            static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("{}-call-{}-{n}", self.name, std::process::id())
        });
        let state = match self.graph.invoke(input, &RunConfig::thread(thread)).await {
            Ok(output) => output.value,
            Err(error) => return ToolOutput::failed(format!("`{}` failed: {error}", self.name)),
        };
        match (&state.stop, state.answer()) {
            (Some(Stop::ModelFailed { message }), _) => {
                ToolOutput::failed(format!("`{}` could not answer: {message}", self.name))
            }
            (_, Some(answer)) => ToolOutput::ok(clip(&split_thinking(answer).answer, self.max_chars)),
            (stop, None) => ToolOutput::failed(format!(
                "`{}` gave no answer ({}); ask a narrower question",
                self.name,
                stop.as_ref().map_or("no reply".to_owned(), |stop| format!("{stop:?}"))
            )),
        }
    }
}
