//! The workflow graph: every agent of the coding workflow as a subgraph node (its model and
//! tool calls checkpointed one by one), the deterministic nodes of [`control`](super::control)
//! and the verify step between them, routed by [`decide`], with two branches beside the main
//! path that it never waits for:
//!
//! - `status_line` (background): the summarizer condenses a node's status line that did not
//!   fit in 80 characters (the node has already written it cut);
//! - `supervisor` (background, started by the router naming it, with its own copy of the state
//!   as it was then): the supervisor agent reviews the run and appends directives to the mailbox, which
//!   `apply_guidance` takes in before the next planning round.
//!
//! [`WorkflowBuilder::build`] wires it from the agent specs, the model roles, the workspace and
//! the tools' configuration; [`Workflow::input`] is the state a run starts from.

mod kit;
mod progress;

use std::collections::BTreeMap;
use std::sync::Arc;

use lemmings_graph::{
    BackgroundPolicy, CompileError, CompiledGraph, Ctx, END, Goto, NodeError, Route, RunConfig, START, SendTo,
    StateGraph,
};
use lemmings_models::think::split_thinking;
use lemmings_models::{LlmRegistry, ModelError};
use lemmings_tools::command::CommandPolicy;
use lemmings_tools::{ToolsConfig, Workspace};
use serde::de::DeserializeOwned;

use self::kit::{Kit, known_tools};
use self::progress::{Progress, Settled};
use super::control::{
    AgentFailure, Edge, Node, PROJECT_CONTEXT_CHARS, Transition, apply_agent_failure, apply_assessment,
    apply_implementation, apply_plan, apply_qa, apply_report, apply_scope, apply_verification, decide, edge,
    prompt_variables, run_control, supervisor_sections,
};
use super::outputs::{AssessmentOutput, ImplementationOutput, PlanAction, PlanOutput, QaOutput, ScopeOutput};
use super::state::{Condense, EndReason, RunLimits, WorkflowState, WorkflowStateUpdate};
use super::verify::{CheckCommand, verify};
use crate::agent::{AgentState, AgentStateUpdate, Stop};
use crate::message::AgentMessage;
use crate::spec::{AgentSpecs, PromptTemplate, SpecError};
use crate::status::Mark;
use crate::text::clip;

pub use self::progress::SUPERVISION_POINTS;

/// The name of the background node that condenses status lines.
pub const STATUS_NODE: &str = "status_line";
/// The name of the background supervisor node.
pub const SUPERVISOR_NODE: &str = "supervisor";

/// The supersteps kept in reserve: a control node that finds no more than this many left
/// ends the run, so that the report is still written (the longest stretch between two control
/// nodes is five steps: apply_guidance → task_planner → implementor → verify → qa).
pub const STEP_RESERVE: i64 = 8;

/// The agents left out (with a notice) when their role is off or not configured.
pub const OPTIONAL_AGENTS: &[&str] = &["deep_research", "supervisor"];

/// The files in the workspace root read as the project context, the first that exists.
pub const PROJECT_CONTEXT_FILES: &[&str] = &["LEMMINGS.md", "AGENTS.md"];

/// Why the workflow cannot be built. Always terminal: the configuration or the agent files
/// have to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// An agent file, a prompt or the `[agents]` section is unusable.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A role an agent needs is unknown or switched off.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// An agent the workflow needs has no definition.
    #[error("no agent `{name}` is defined; restore agents/{name}.toml or remove the override that drops it")]
    MissingAgent {
        /// The agent's name.
        name: String,
    },
    /// The check command is not among the allowed commands.
    #[error(
        "the check command `{command}` is not allowed by [tools] allowed_commands in {config}; add it there \
         (or a prefix of it)"
    )]
    CheckNotAllowed {
        /// The command line.
        command: String,
        /// The tools configuration's source.
        config: String,
    },
    /// The graph does not compile (a bug in the wiring).
    #[error("the workflow graph does not compile: {0}")]
    Compile(#[from] CompileError),
}

impl WorkflowError {
    /// Always false: building again with the same configuration fails the same way.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// What the workflow is built from.
#[derive(Clone, Debug)]
pub struct WorkflowBuilder {
    specs: AgentSpecs,
    models: LlmRegistry,
    workspace: Arc<Workspace>,
    tools: ToolsConfig,
    check_command: Option<String>,
}

/// The built workflow: its graph, and how a run of it starts.
#[derive(Clone)]
pub struct Workflow {
    graph: CompiledGraph<WorkflowState>,
    workspace: Arc<Workspace>,
    check_command: Option<String>,
    supervisor: bool,
    notices: Vec<String>,
}

impl std::fmt::Debug for Workflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflow")
            .field("workspace", &self.workspace.root())
            .field("check_command", &self.check_command)
            .field("supervisor", &self.supervisor)
            .field("notices", &self.notices)
            .finish()
    }
}

impl WorkflowBuilder {
    /// The workflow of `specs`' agents on `models`' roles, working in `workspace` with the tools
    /// `tools` allows.
    pub fn new(specs: AgentSpecs, models: LlmRegistry, workspace: Arc<Workspace>, tools: ToolsConfig) -> Self {
        WorkflowBuilder {
            specs,
            models,
            workspace,
            tools,
            check_command: None,
        }
    }

    /// The command verify runs after each implementation (`cargo check`); it must be allowed
    /// by `[tools] allowed_commands`. Without one, a task's evidence is its changed files.
    pub fn check_command(mut self, command: Option<String>) -> Self {
        self.check_command = command.filter(|c| !c.trim().is_empty());
        self
    }

    /// Builds the graph.
    ///
    /// # Errors
    /// [`WorkflowError`]: an agent file naming an unknown tool, role or output, an agent on a
    /// role that is off (other than the supervisor's and the optional subagents', which are
    /// then left out with a notice), a check command that is not allowed.
    pub fn build(self) -> Result<Workflow, WorkflowError> {
        // The optional agents' roles count as known even when not configured: those agents are
        // then left out with a notice.
        let mut roles: Vec<&str> = self.models.roles().collect();
        roles.extend(self.models.disabled_roles().map(|d| d.name.as_str()));
        roles.extend(
            OPTIONAL_AGENTS
                .iter()
                .filter_map(|name| self.specs.get(name))
                .map(|spec| spec.role.as_str()),
        );
        self.specs.check(&known_tools(), &roles)?;
        // One command policy (with the API keys to scrub and redact) for run_command and the
        // check command.
        let policy = Arc::new(self.tools.command_policy(kit::secrets(&self.models)));
        let check = self.check(&policy)?;
        let commands = (!self.tools.allowed_commands.is_empty()).then(|| policy.clone());
        let mut kit = Kit::new(&self.specs, &self.models, &self.workspace, commands)?;

        let supervisor_spec = kit.spec("supervisor")?;
        let supervisor = kit.role_on(supervisor_spec);
        if !supervisor {
            let reason = kit.role_off_reason(supervisor_spec);
            kit.notices.push(format!(
                "no supervisor: its role `{}` is off ({reason})",
                supervisor_spec.role
            ));
        }
        let progress = Arc::new(Progress::new(supervisor));

        let mut graph = StateGraph::<WorkflowState>::named("lemmings");
        for node in Node::ALL {
            if node.is_agent() {
                let spec = kit.spec(node.name())?;
                let agent = kit.agent(spec, false)?;
                add_agent(
                    &mut graph,
                    node,
                    agent.graph()?,
                    spec.prompt.clone(),
                    &self.workspace,
                    &progress,
                );
            } else if node == Node::Verify {
                add_verify(&mut graph, &self.workspace, check.clone(), &progress);
            } else {
                let progress = progress.clone();
                graph.add_node(node.name(), move |state: Arc<WorkflowState>, ctx: Ctx| {
                    let progress = progress.clone();
                    async move {
                        let mut transition = run_control(node, &state)
                            .ok_or_else(|| NodeError::msg(format!("`{node}` is not a control node")))?;
                        if state.end_reason.is_none() && ctx.remaining_steps() <= STEP_RESERVE {
                            let end = EndReason::SuperstepLimit {
                                limit: ctx.step() + ctx.remaining_steps(),
                            };
                            transition.event.push_str(&format!("; {end}"));
                            transition.update = transition.update.end_reason(Some(end));
                        }
                        Ok::<_, NodeError>(progress.finish(node, &state, transition, Settled::control(node)))
                    }
                });
            }
        }

        let summarizer = kit.summarizer();
        graph
            .add_node_with_input(STATUS_NODE, move |task: Condense, _ctx: Ctx| {
                let summarizer = summarizer.clone();
                async move { Ok::<_, NodeError>(progress::condense(task, &*summarizer).await) }
            })
            .background();
        if supervisor {
            let agent = kit.agent(supervisor_spec, false)?;
            add_supervisor(&mut graph, agent.graph()?, supervisor_spec.prompt.clone());
        }

        graph.add_edge(START, Node::ScopeInitial.name());
        for node in Node::ALL {
            let mut targets: Vec<&str> = match edge(node) {
                Edge::To(next) => vec![next.name()],
                Edge::Routed(nodes) => nodes.iter().map(|n| n.name()).collect(),
                Edge::End => vec![END],
            };
            let condenses = node.condenses();
            let supervises = supervisor && SUPERVISION_POINTS.contains(&node);
            if !condenses
                && !supervises
                && let Edge::To(next) = edge(node)
            {
                graph.add_edge(node.name(), next.name());
                continue;
            }
            if condenses {
                targets.push(STATUS_NODE);
            }
            if supervises {
                targets.push(SUPERVISOR_NODE);
            }
            graph
                .add_conditional_edges(node.name(), move |state: &WorkflowState| {
                    route(node, state, condenses, supervises)
                })
                .targets(targets);
        }
        let graph = graph.compile()?;
        Ok(Workflow {
            graph,
            workspace: self.workspace,
            check_command: check.map(|c| c.command),
            supervisor,
            notices: kit.notices,
        })
    }

    fn check(&self, policy: &Arc<CommandPolicy>) -> Result<Option<CheckCommand>, WorkflowError> {
        let Some(command) = &self.check_command else {
            return Ok(None);
        };
        if policy.parse(command).is_err() {
            return Err(WorkflowError::CheckNotAllowed {
                command: command.clone(),
                config: self.tools.source.clone(),
            });
        }
        Ok(Some(CheckCommand {
            command: command.clone(),
            policy: policy.clone(),
        }))
    }
}

impl Workflow {
    /// The compiled graph (add a checkpointer with `with_checkpointer`).
    pub fn graph(&self) -> &CompiledGraph<WorkflowState> {
        &self.graph
    }

    /// Whether the supervisor runs beside the main path.
    pub fn has_supervisor(&self) -> bool {
        self.supervisor
    }

    /// One line per feature left out (a role that is off).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// The state a run of `request` starts from: the request, the limits, the workspace root,
    /// whether it is a git repository, the check command, and the project context (the first
    /// of [`PROJECT_CONTEXT_FILES`] in the workspace root, cut to
    /// [`PROJECT_CONTEXT_CHARS`]).
    pub fn input(&self, request: &str, limits: RunLimits) -> WorkflowStateUpdate {
        let root = self.workspace.root();
        let context = PROJECT_CONTEXT_FILES
            .iter()
            .find_map(|name| self.workspace.peek(std::path::Path::new(name)).ok())
            .map(|bytes| clip(&String::from_utf8_lossy(&bytes), PROJECT_CONTEXT_CHARS))
            .unwrap_or_default();
        WorkflowStateUpdate::default()
            .user_request(request.to_owned())
            .limits(limits)
            .workspace_root(root.display().to_string())
            .in_git(root.join(".git").exists())
            .check_command(self.check_command.clone())
            .project_context(context)
    }

    /// The run configuration a workflow run should use: branches beside the main path are
    /// cancelled when it ends (a supervision started just before the report has nothing left
    /// to steer, and a cut status line is already written), and `thread` as the thread.
    pub fn run_config(thread: &str) -> RunConfig {
        RunConfig::thread(thread).background(BackgroundPolicy::Cancel)
    }
}

/// The workflow with every role on (primary, summarizer, research, supervisor) over models that
/// are never called, in `root`, for drawing its graph (`lemmings graph`) without a configuration
/// or a server.
///
/// # Errors
/// A broken built-in agent file (ruled out by the tests) or a `root` that cannot be opened.
pub fn drawing(root: &std::path::Path) -> Result<Workflow, Box<dyn std::error::Error + Send + Sync>> {
    use lemmings_models::{ChatModel, LlmConfig, ProviderKind, RoleConfig};
    let roles = ["primary", "summarizer", "research", "supervisor"]
        .into_iter()
        .map(|name| (name.to_owned(), RoleConfig::new(name, ProviderKind::Ollama, "drawing")))
        .collect();
    let config = LlmConfig {
        source: "the drawing".to_owned(),
        roles,
        disabled: BTreeMap::new(),
    };
    let models = LlmRegistry::with_models(&config, |role| {
        Ok(Arc::new(Unconnected(role.name.clone())) as Arc<dyn ChatModel>)
    })?;
    let workspace = Workspace::open(root, lemmings_tools::WorkspaceOptions::default())?;
    let mut tools = ToolsConfig::defaults("the drawing");
    tools.allowed_commands = vec!["true".to_owned()];
    Ok(WorkflowBuilder::new(AgentSpecs::builtin()?, models, workspace, tools).build()?)
}

/// A model that is never called (the drawing's).
#[derive(Debug)]
struct Unconnected(String);

#[async_trait::async_trait]
impl lemmings_models::ChatModel for Unconnected {
    async fn chat(
        &self,
        _request: lemmings_models::ChatRequest,
        _sink: Option<lemmings_models::TokenSink>,
    ) -> Result<lemmings_models::ChatResponse, ModelError> {
        Err(ModelError::new(
            lemmings_models::ModelErrorKind::Config,
            &self.info(),
            "this workflow was built for drawing only; build it from a configuration to run it".to_owned(),
        ))
    }

    fn info(&self) -> lemmings_models::ModelInfo {
        lemmings_models::ModelInfo {
            role: self.0.clone(),
            provider: "none".to_owned(),
            model: "drawing".to_owned(),
            server: "none".to_owned(),
            output_mode: lemmings_models::OutputMode::Tool,
        }
    }
}

/// The router after `node`: the next node ([`decide`]), plus a packet for the status line when
/// the node's line was cut, plus the supervisor when the node launched one (a background task
/// starts with its own copy of the state, so no snapshot travels in a packet, and none is
/// saved with every checkpoint while it runs).
fn route(node: Node, state: &WorkflowState, condenses: bool, supervises: bool) -> Route {
    let mut goto: Vec<Goto> = vec![match edge(node) {
        Edge::End => Goto::from(END),
        Edge::To(next) => Goto::from(next.name()),
        Edge::Routed(_) => Goto::from(decide(node, state).next.name()),
    }];
    if condenses && let Some(task) = &state.condense {
        goto.push(SendTo::new(STATUS_NODE, task.clone()).into());
    }
    if supervises && state.supervise {
        goto.push(Goto::from(SUPERVISOR_NODE));
    }
    goto.into_iter().collect()
}

/// The task message and system prompt of an agent run, from the state.
fn agent_input(prompt: &PromptTemplate, vars: &BTreeMap<String, String>) -> Result<AgentStateUpdate, NodeError> {
    let system = prompt.render_system(vars).map_err(NodeError::terminal)?;
    let task = prompt.render_task(vars).map_err(NodeError::terminal)?;
    Ok(AgentStateUpdate::default()
        .system(Some(system))
        .messages(vec![AgentMessage::task(task).into()]))
}

fn add_agent(
    graph: &mut StateGraph<WorkflowState>,
    node: Node,
    agent: CompiledGraph<AgentState>,
    prompt: PromptTemplate,
    workspace: &Arc<Workspace>,
    progress: &Arc<Progress>,
) {
    let workspace = workspace.clone();
    let progress = progress.clone();
    graph.add_subgraph_with(
        node.name(),
        agent,
        move |state: &WorkflowState| {
            // A new agent has read nothing: the read-before-edit guard starts afresh.
            workspace.forget_reads();
            let vars = prompt_variables(node, state).unwrap_or_default();
            agent_input(&prompt, &vars)
        },
        move |state: &WorkflowState, result: AgentState| {
            let (transition, mut settled) = settle(node, state, &result);
            // What the middleware and the repair ladder did, after the node's own line.
            settled.notes = result.notes.iter().map(|note| format!("{node}: {note}")).collect();
            if !result.repairs.is_empty() {
                let repairs = clip(&result.repairs.join("; "), 300);
                settled.notes.push(format!("{node}: output repaired: {repairs}"));
            }
            Ok(progress.finish(node, state, transition, settled))
        },
    );
}

/// What an agent run means for the workflow: its output applied, or its failure.
fn settle(node: Node, state: &WorkflowState, result: &AgentState) -> (Transition, Settled) {
    let failed = |failure: AgentFailure| {
        let transition = apply_agent_failure(state, node, &failure);
        let urgency = if node == Node::Qa { progress::QA_FAILURE } else { 0.0 };
        (transition, Settled::agent(Mark::Failed, urgency))
    };
    let stop = result.stop.clone().unwrap_or(Stop::ModelFailed {
        message: "the agent stopped without an answer".to_owned(),
    });
    if let Some(failure) = AgentFailure::from_stop(&stop) {
        return failed(failure);
    }
    if node == Node::Report {
        let answer = result.answer().map(|text| split_thinking(text).answer);
        return (apply_report(state, answer), Settled::agent(Mark::Done, 0.0));
    }
    let output = result.output.clone().unwrap_or_default();
    let applied = match node {
        Node::ScopeInitial | Node::ScopeReview => {
            parse::<ScopeOutput>(output).map(|out| (apply_scope(state, out, node == Node::ScopeReview), 0.0, true))
        }
        Node::TaskPlanner => parse::<PlanOutput>(output).map(|out| {
            let urgency = if out.action == PlanAction::Abort {
                progress::ABORT
            } else {
                0.0
            };
            (apply_plan(state, out), urgency, true)
        }),
        Node::Implementor => {
            parse::<ImplementationOutput>(output).map(|out| (apply_implementation(state, out), 0.0, true))
        }
        Node::Qa => parse::<QaOutput>(output).map(|out| {
            let passed = out.passed;
            let urgency = if passed { 0.0 } else { progress::QA_FAILURE };
            (apply_qa(state, out), urgency, passed)
        }),
        _ => parse::<AssessmentOutput>(output).map(|out| {
            let urgency = if out.escalate_to_scope {
                progress::ABORT
            } else if out.correction_hint.is_some() || !out.stability_check {
                progress::DRIFT
            } else {
                0.0
            };
            (apply_assessment(state, out), urgency, true)
        }),
    };
    match applied {
        Ok((transition, urgency, good)) => {
            let mark = if good { Mark::Done } else { Mark::Failed };
            (transition, Settled::agent(mark, urgency))
        }
        Err(message) => failed(AgentFailure::Failed { message }),
    }
}

fn parse<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|error| format!("its output does not fit: {error}"))
}

fn add_verify(
    graph: &mut StateGraph<WorkflowState>,
    workspace: &Arc<Workspace>,
    check: Option<CheckCommand>,
    progress: &Arc<Progress>,
) {
    let workspace = workspace.clone();
    let progress = progress.clone();
    graph.add_node(Node::Verify.name(), move |state: Arc<WorkflowState>, _ctx: Ctx| {
        let (workspace, check, progress) = (workspace.clone(), check.clone(), progress.clone());
        async move {
            let claimed = state
                .implementation
                .as_ref()
                .map(|i| i.files_modified.clone())
                .unwrap_or_default();
            let report = verify(&workspace, &claimed, check.as_ref()).await;
            let mark = if report.passed { Mark::Done } else { Mark::Failed };
            let transition = apply_verification(&state, report);
            Ok::<_, NodeError>(progress.finish(Node::Verify, &state, transition, Settled::agent(mark, 0.0)))
        }
    });
}

fn add_supervisor(graph: &mut StateGraph<WorkflowState>, agent: CompiledGraph<AgentState>, prompt: PromptTemplate) {
    graph
        .add_subgraph_with(
            SUPERVISOR_NODE,
            agent,
            move |snapshot: &WorkflowState| agent_input(&prompt, &supervisor_sections(snapshot)),
            |snapshot: &WorkflowState, result: AgentState| Ok(progress::supervised(snapshot, &result)),
        )
        .background()
        .error_handler(|state: Arc<WorkflowState>, error: NodeError| async move {
            Ok::<_, NodeError>(progress::supervision_skipped(&state, &error.to_string()))
        });
}
