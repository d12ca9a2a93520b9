//! The rig for the workflow-graph tests: a temp workspace, the built-in agents, and scripted
//! models behind the real model layers. The primary model answers each agent from its own
//! queue (the agent is told by the submit tool it is offered), so a test scripts each agent's
//! turns in order without caring how they interleave.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use lemmings_agents::spec::AgentSpecs;
use lemmings_agents::workflow::graph::{Workflow, WorkflowBuilder};
use lemmings_agents::workflow::state::{RunLimits, WorkflowState};
use lemmings_graph::{InMemorySaver, RunConfig};
use lemmings_models::{
    ChatModel, ChatRequest, ChatResponse, FinishReason, LlmConfig, LlmRegistry, ModelError, ModelErrorKind, ModelInfo,
    OutputMode, ToolCall,
};
use lemmings_testkit::{Hold, ScriptedModel};
use lemmings_tools::{ToolsConfig, Workspace, WorkspaceOptions};
use serde_json::{Value, json};
use tempfile::TempDir;

/// One scripted turn of an agent.
#[derive(Clone)]
pub(crate) enum Turn {
    /// Waits for the hold, then takes the turn.
    Held(Hold, Box<Turn>),
    /// Runs the hook (when the turn is served), then takes the turn.
    Hook(Arc<dyn Fn() + Send + Sync>, Box<Turn>),
    /// Calls `submit_<output>` with these arguments.
    Submit(Value),
    /// Calls one tool.
    Call(&'static str, Value),
    /// Answers in plain text.
    Text(&'static str),
    /// Fails like a server that is down.
    Down,
}

type Otherwise = Arc<dyn Fn(&ChatRequest) -> Turn + Send + Sync>;

/// The queues of scripted turns, by agent: `scope`, `planner`, `implementor`, `coder`, `qa`,
/// `assessor`, `report`, `supervisor`, `helper` (ask / explain_code).
#[derive(Clone, Default)]
pub(crate) struct Script {
    queues: Arc<Mutex<BTreeMap<String, VecDeque<Turn>>>>,
    otherwise: Arc<Mutex<BTreeMap<String, Otherwise>>>,
    requests: Arc<Mutex<Vec<ChatRequest>>>,
    gauge: Arc<Mutex<(usize, usize)>>,
    served: Arc<Mutex<Vec<String>>>,
    ids: Arc<Mutex<u64>>,
}

impl Script {
    pub(crate) fn push(&self, agent: &str, turns: impl IntoIterator<Item = Turn>) -> &Self {
        self.queues
            .lock()
            .unwrap()
            .entry(agent.to_owned())
            .or_default()
            .extend(turns);
        self
    }

    /// Answers `agent`'s requests with `turn(request)` once its queue is empty.
    pub(crate) fn otherwise(&self, agent: &str, turn: impl Fn(&ChatRequest) -> Turn + Send + Sync + 'static) {
        self.otherwise.lock().unwrap().insert(agent.to_owned(), Arc::new(turn));
    }

    /// Every request the primary received, in order.
    pub(crate) fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// The most primary requests in flight at once.
    pub(crate) fn max_in_flight(&self) -> usize {
        self.gauge.lock().unwrap().1
    }

    /// The agents served, in order.
    pub(crate) fn served(&self) -> Vec<String> {
        self.served.lock().unwrap().clone()
    }

    /// Turns left unused, by agent.
    pub(crate) fn left(&self) -> BTreeMap<String, usize> {
        self.queues
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(k, q)| (k.clone(), q.len()))
            .collect()
    }

    /// The answer to `request` from the queue of the agent that sent it.
    pub(crate) async fn answer(&self, role: &str, request: &ChatRequest) -> Result<ChatResponse, ModelError> {
        let agent = agent_of(request);
        self.served.lock().unwrap().push(agent.clone());
        self.requests.lock().unwrap().push(request.clone());
        let mut turn = self
            .queues
            .lock()
            .unwrap()
            .get_mut(&agent)
            .and_then(VecDeque::pop_front);
        if turn.is_none() {
            let otherwise = self.otherwise.lock().unwrap().get(&agent).cloned();
            turn = otherwise.map(|f| f(request));
        }
        if turn.is_none() && agent == "summarizer-work" {
            turn = Some(Turn::Text("condensed by primary"));
        }
        let info = ModelInfo {
            role: role.to_owned(),
            provider: "scripted".to_owned(),
            model: format!("scripted-{role}"),
            server: "scripted".to_owned(),
            output_mode: OutputMode::Tool,
        };
        let Some(mut turn) = turn else {
            return Err(ModelError::new(
                ModelErrorKind::Request,
                &info,
                format!("no turn scripted for `{agent}`"),
            ));
        };
        let turn = loop {
            turn = match turn {
                Turn::Held(hold, next) => {
                    hold.released().await;
                    *next
                }
                Turn::Hook(hook, next) => {
                    hook();
                    *next
                }
                other => break other,
            };
        };
        let submit = request
            .tools
            .iter()
            .find(|t| t.name.starts_with("submit_"))
            .map(|t| t.name.clone());
        let call = |name: String, arguments: Value| {
            let mut ids = self.ids.lock().unwrap();
            *ids += 1;
            ChatResponse {
                tool_calls: vec![ToolCall {
                    id: format!("call_{ids}"),
                    name,
                    arguments,
                }],
                finish: FinishReason::ToolCalls,
                ..ChatResponse::default()
            }
        };
        Ok(match turn {
            Turn::Submit(arguments) => call(submit.unwrap_or_else(|| "submit_?".to_owned()), arguments),
            Turn::Call(name, arguments) => call(name.to_owned(), arguments),
            Turn::Text(text) => ChatResponse {
                content: text.to_owned(),
                ..ChatResponse::default()
            },
            Turn::Down => {
                return Err(ModelError::new(
                    ModelErrorKind::Unavailable,
                    &info,
                    "connection refused".to_owned(),
                ));
            }
            Turn::Held(..) | Turn::Hook(..) => unreachable!("unwrapped above"),
        })
    }
}

/// The primary model of the tests: answers each agent from its queue in [`Script`].
#[derive(Clone)]
pub(crate) struct Primary {
    script: Script,
}

impl std::fmt::Debug for Primary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Primary")
    }
}

#[async_trait::async_trait]
impl ChatModel for Primary {
    async fn chat(
        &self,
        request: ChatRequest,
        _sink: Option<lemmings_models::TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        {
            let mut gauge = self.script.gauge.lock().unwrap();
            gauge.0 += 1;
            gauge.1 = gauge.1.max(gauge.0);
        }
        let answer = self.script.answer("primary", &request).await;
        self.script.gauge.lock().unwrap().0 -= 1;
        answer
    }

    fn info(&self) -> ModelInfo {
        ModelInfo {
            role: "primary".to_owned(),
            provider: "scripted".to_owned(),
            model: "scripted-primary".to_owned(),
            server: "scripted".to_owned(),
            output_mode: OutputMode::Tool,
        }
    }
}

/// Which agent sent `request`: by the submit tool it is offered; `report` when it has no tools;
/// `helper` for a free-text agent with tools.
pub(crate) fn agent_of(request: &ChatRequest) -> String {
    // The summarizer's work (status lines, summaries, compression) has no system prompt.
    if !matches!(
        request.messages.first(),
        Some(lemmings_models::ChatMessage::System { .. })
    ) {
        return "summarizer-work".to_owned();
    }
    let submit = request.tools.iter().find_map(|t| t.name.strip_prefix("submit_"));
    match submit {
        Some("scope") => "scope",
        Some("plan") => "planner",
        Some("implementation") => "implementor",
        Some("code_change") => "coder",
        Some("qa") => "qa",
        Some("assessment") => "assessor",
        Some("supervision") => "supervisor",
        Some(_) => "unknown",
        None if request.tools.is_empty() => "report",
        None => "helper",
    }
    .to_owned()
}

/// The roles of a test run; `supervisor` and a summarizer `fallback` are optional.
pub(crate) struct Roles {
    pub(crate) supervisor: bool,
    pub(crate) summarizer_fallback: bool,
    pub(crate) context_tokens: u32,
    pub(crate) api_key: Option<&'static str>,
}

impl Default for Roles {
    fn default() -> Self {
        Roles {
            supervisor: false,
            summarizer_fallback: true,
            context_tokens: 32768,
            api_key: None,
        }
    }
}

pub(crate) fn config(roles: &Roles) -> LlmConfig {
    let text = String::from(
        r#"
[llm.primary]
provider = "openai_compatible"
model = "qwen3-8b"
base_url = "http://127.0.0.1:9/v1"
max_attempts = 1
context_tokens = CONTEXT

[llm.summarizer]
provider = "ollama"
model = "qwen2.5:0.5b"
base_url = "http://127.0.0.1:10"
max_attempts = 1
"#,
    );
    let mut text = text.replace("CONTEXT", &roles.context_tokens.to_string());
    if let Some(key) = roles.api_key {
        text = text.replace(
            "max_attempts = 1\ncontext_tokens",
            &format!("api_key = \"{key}\"\nmax_attempts = 1\ncontext_tokens"),
        );
    }
    if roles.summarizer_fallback {
        text.push_str("fallback = [\"primary\"]\n");
    }
    if roles.supervisor {
        text.push_str(
            r#"
[llm.supervisor]
provider = "ollama"
model = "phi3:mini"
base_url = "http://127.0.0.1:11"
optional = true
max_attempts = 1
"#,
        );
    }
    LlmConfig::parse(&text, "test config", &|_| None).expect("the test config parses")
}

/// A workflow over scripted models in a temp workspace.
pub(crate) struct Rig {
    pub(crate) dir: TempDir,
    pub(crate) script: Script,
    pub(crate) summarizer: Arc<ScriptedModel>,
    pub(crate) workflow: Workflow,
    pub(crate) saver: Arc<InMemorySaver>,
}

impl Rig {
    pub(crate) fn new(roles: Roles) -> Rig {
        Rig::with(
            roles,
            None,
            Arc::new(ScriptedModel::new("supervisor")),
            AgentSpecs::builtin().expect("built-ins load"),
        )
    }

    pub(crate) fn with(roles: Roles, check: Option<&str>, supervisor: Arc<ScriptedModel>, specs: AgentSpecs) -> Rig {
        let dir = tempfile::tempdir().expect("a temp dir");
        let workspace = Workspace::open(dir.path(), WorkspaceOptions::default()).expect("the workspace opens");
        let script = Script::default();
        let primary = Arc::new(Primary { script: script.clone() });
        let summarizer = Arc::new(ScriptedModel::new("summarizer"));
        let models = {
            let primary = primary.clone();
            let summarizer = summarizer.clone();
            let supervisor = supervisor.clone();
            LlmRegistry::with_models(&config(&roles), move |role| {
                Ok(match role.name.as_str() {
                    "primary" => primary.clone() as Arc<dyn ChatModel>,
                    "summarizer" => summarizer.clone(),
                    _ => supervisor.clone(),
                })
            })
            .expect("the registry builds")
        };
        let mut tools = ToolsConfig::defaults("test config");
        if let Some(check) = check {
            tools.allowed_commands = vec![check.to_owned()];
        }
        let workflow = WorkflowBuilder::new(specs, models, workspace.clone(), tools)
            .check_command(check.map(str::to_owned))
            .build()
            .expect("the workflow builds");
        Rig {
            dir,
            script,
            summarizer,
            workflow,
            saver: Arc::new(InMemorySaver::new()),
        }
    }

    pub(crate) fn config(&self) -> RunConfig {
        Workflow::run_config("thread-1")
    }

    /// Runs `request` to the end with `limits`, checkpointed in memory.
    pub(crate) async fn run(&self, limits: RunLimits) -> WorkflowState {
        self.run_with(limits, self.config()).await
    }

    pub(crate) async fn run_with(&self, limits: RunLimits, config: RunConfig) -> WorkflowState {
        let graph = self.workflow.graph().clone().with_checkpointer(self.saver.clone());
        let output = graph
            .invoke(self.workflow.input("Add a greeting module.", limits), &config)
            .await
            .expect("the run finishes");
        output.value
    }
}

// ---- scripted turns ----

pub(crate) fn scope(milestones: &[&str]) -> Turn {
    let milestones: Vec<Value> = milestones
        .iter()
        .map(|m| json!({"description": m, "sketch": "small steps"}))
        .collect();
    Turn::Submit(json!({
        "remit": "Give the project a greeting module with a test.",
        "explicit_needs": ["a greeting function"],
        "implied_needs": ["a test"],
        "milestones": milestones,
    }))
}

pub(crate) const PLAN: &str = "1. Create src/greet.rs with `pub fn greet(name: &str) -> String` returning \
    `Hello, {name}!`.\n2. Check the file exists and holds the function.";

pub(crate) fn implement(task: &str) -> Turn {
    Turn::Submit(json!({
        "action": "implement",
        "task_description": task,
        "measurable_outcome": "src/greet.rs defines greet",
        "implementation_plan": PLAN,
        "change_type": "feat",
        "task_summary": "feat: add greet",
    }))
}

pub(crate) fn plan(action: &str) -> Turn {
    Turn::Submit(json!({"action": action, "skip_reason": "nothing to do here"}))
}

/// The implementor's turns for one attempt that writes `path` through the coder (with the
/// coder's turns pushed too).
pub(crate) fn write_through_coder(script: &Script, path: &'static str, content: &'static str) {
    script.push(
        "implementor",
        [
            Turn::Call(
                "coder",
                json!({"query": format!("Create {path} with the greet function.")}),
            ),
            Turn::Submit(json!({
                "files_modified": [path],
                "result_summary": format!("created {path}"),
                "issues_noticed": [],
                "success": true,
            })),
        ],
    );
    script.push(
        "coder",
        [
            Turn::Call("write_file", json!({"path": path, "content": content})),
            Turn::Submit(json!({"files_modified": [path], "summary": "written", "success": true})),
        ],
    );
}

pub(crate) fn qa(passed: bool, failure_type: Option<&str>) -> Turn {
    Turn::Submit(json!({
        "passed": passed,
        "feedback": if passed { "meets the outcome" } else { "greet returns the wrong text" },
        "failure_type": failure_type,
        "issues": [],
    }))
}

pub(crate) fn assess(complete: bool, milestone_complete: bool, escalate: bool) -> Turn {
    Turn::Submit(json!({
        "uncovered_gaps": [],
        "is_complete": complete,
        "stability_check": true,
        "milestone_complete": milestone_complete,
        "assessment_notes": "checked the milestone",
        "correction_hint": null,
        "escalate_to_scope": escalate,
    }))
}

/// The trace: one line per node step (middleware notes included).
pub(crate) fn trace(state: &WorkflowState) -> String {
    state.events.join("\n")
}
