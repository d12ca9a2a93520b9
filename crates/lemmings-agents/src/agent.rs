//! The reusable agent loop: a subgraph of a `model` node and a `tools` node (LangChain v1's
//! `create_agent` on our engine). Each model call is one task and each tool call another (the
//! calls of one answer run in parallel, as a fan-out), so every finished call is checkpointed
//! and a resumed run never pays for it twice. Middleware wraps the calls ([`middleware`]);
//! the built-in limits and fallback are in [`limits`].
//!
//! ```text
//! START → model ─┬→ (tool calls) SendTo(tools) × n → model
//!                ├→ (re-prompt)  model
//!                └→ (answered, submitted, a limit, a failure) END
//! ```

pub mod limits;
pub mod middleware;
mod model;
mod state;
mod tools;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use lemmings_graph::{CompileError, CompiledGraph, Ctx, END, Route, START, SendTo, StateGraph};
use lemmings_models::structured::OutputSchema;
use lemmings_models::{ChatModel, Sampling, Thinking};
use lemmings_tools::Tool;

use self::middleware::Middleware;
pub use self::state::{AgentState, AgentStateUpdate, Stop, ToolTask};
use crate::normalise::Normaliser;

/// The default number of times an invalid structured output is sent back with its errors.
pub const DEFAULT_MAX_REPROMPTS: u32 = 2;

/// An agent: a model (already bound to its role), a system prompt, tools, an optional
/// structured output and middleware. [`Agent::graph`] compiles its loop.
#[derive(Clone)]
pub struct Agent {
    pub(crate) name: String,
    pub(crate) model: Arc<dyn ChatModel>,
    pub(crate) system_prompt: String,
    pub(crate) tools: BTreeMap<String, Arc<dyn Tool>>,
    pub(crate) output: Option<OutputSchema>,
    pub(crate) middleware: Vec<Arc<dyn Middleware>>,
    pub(crate) max_reprompts: u32,
    pub(crate) context_tokens: Option<u64>,
    pub(crate) sampling: Sampling,
    pub(crate) thinking: Option<Thinking>,
    pub(crate) normaliser: Option<Normaliser>,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("name", &self.name)
            .field("model", &self.model.info().to_string())
            .field("tools", &self.tools.keys().collect::<Vec<_>>())
            .field("output", &self.output.as_ref().map(OutputSchema::name))
            .field(
                "middleware",
                &self.middleware.iter().map(|m| m.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Agent {
    /// An agent named `name` (used in traces, errors and stream events) on `model`.
    pub fn new(name: impl Into<String>, model: Arc<dyn ChatModel>) -> Self {
        Agent {
            name: name.into(),
            model,
            system_prompt: String::new(),
            tools: BTreeMap::new(),
            output: None,
            middleware: Vec::new(),
            max_reprompts: DEFAULT_MAX_REPROMPTS,
            context_tokens: None,
            sampling: Sampling::default(),
            thinking: None,
            normaliser: None,
        }
    }

    /// With this system prompt (the OUTPUT FORMAT section is appended when there is an output).
    pub fn with_system_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.system_prompt = prompt.into();
        self
    }

    /// With these tools (a later tool with the same name replaces an earlier one).
    pub fn with_tools(mut self, tools: impl IntoIterator<Item = Arc<dyn Tool>>) -> Self {
        for tool in tools {
            self.tools.insert(tool.name().to_owned(), tool);
        }
        self
    }

    /// Asking for this structured output: the agent ends by submitting it (`submit_<name>`).
    pub fn with_output(mut self, output: OutputSchema) -> Self {
        self.output = Some(output);
        self
    }

    /// With this middleware, inside the middleware added before it (the first added is outermost).
    pub fn with_middleware(mut self, middleware: Arc<dyn Middleware>) -> Self {
        self.middleware.push(middleware);
        self
    }

    /// Sending an invalid structured output back at most this many times.
    pub fn with_max_reprompts(mut self, max: u32) -> Self {
        self.max_reprompts = max;
        self
    }

    /// The context window of the agent's model, for summarization triggers.
    pub fn with_context_tokens(mut self, tokens: Option<u64>) -> Self {
        self.context_tokens = tokens;
        self
    }

    /// Sampling for this agent's calls (unset fields keep the role's).
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Thinking for this agent's calls (`None`: the role's).
    pub fn with_thinking(mut self, thinking: Option<Thinking>) -> Self {
        self.thinking = thinking;
        self
    }

    /// Shortens over-long string fields of a submitted output with `normaliser` (the
    /// summarizer role) before the output is checked, instead of only cutting them.
    pub fn with_normaliser(mut self, normaliser: Normaliser) -> Self {
        self.normaliser = Some(normaliser);
        self
    }

    /// The agent's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The agent's tools' names, sorted.
    pub fn tool_names(&self) -> Vec<&str> {
        self.tools.keys().map(String::as_str).collect()
    }

    /// Compiles the agent's loop. Start it with the task as the first message
    /// (`AgentStateUpdate::default().messages(vec![AgentMessage::task(..).into()])`).
    ///
    /// # Errors
    /// Only if the loop's fixed shape failed to compile, which would be a bug here.
    pub fn graph(self) -> Result<CompiledGraph<AgentState>, CompileError> {
        let agent = Arc::new(self);
        let mut graph = StateGraph::<AgentState>::named(agent.name.clone());
        let model_agent = agent.clone();
        graph.add_node("model", move |state: Arc<AgentState>, ctx: Ctx| {
            let agent = model_agent.clone();
            async move { model::run(&agent, &state, &ctx).await }
        });
        let tools_agent = agent.clone();
        graph.add_node_with_input("tools", move |task: ToolTask, ctx: Ctx| {
            let agent = tools_agent.clone();
            async move { tools::run(&agent, task, &ctx).await }
        });
        graph.add_edge(START, "model");
        graph
            .add_conditional_edges("model", route_after_model)
            .targets(["tools", "model", END]);
        graph.add_edge("tools", "model");
        graph.compile()
    }
}

/// After a model call: stop, run the pending tool calls in parallel, or call the model again.
fn route_after_model(state: &AgentState) -> Route {
    if state.stop.is_some() {
        return Route::end();
    }
    let pending = state.pending_calls();
    if pending.is_empty() {
        return Route::from("model");
    }
    pending
        .into_iter()
        .enumerate()
        .map(|(index, call)| {
            SendTo::new(
                "tools",
                ToolTask {
                    call,
                    calls_before: state.tool_calls + index as u32,
                },
            )
        })
        .collect()
}
