//! One run of the whole workflow in one layout: the fake servers with their latencies, the
//! config pointing the roles at them, the real registry (`LlmRegistry::from_config`, rig's
//! HTTP providers), the built-in agents, a temp workspace and a SQLite store; then what the
//! servers saw.

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use lemmings_agents::spec::AgentSpecs;
use lemmings_agents::workflow::graph::{Workflow, WorkflowBuilder};
use lemmings_agents::workflow::state::{RunLimits, RunStatus, WorkflowState};
use lemmings_models::{LlmConfig, LlmRegistry, UsageReport};
use lemmings_testkit::{FakeServer, Recorded};
use lemmings_tools::{ToolsConfig, Workspace, WorkspaceOptions};

use super::Fallible;
use super::script::{self, Script};

const PRIMARY_MODEL: &str = "qwen3-8b";
const SUMMARIZER_MODEL: &str = "qwen2.5:0.5b";
const SUPERVISOR_MODEL: &str = "phi3:mini";

/// The primary's context window: small enough that the long implementor conversation (a dozen
/// reads of 200-line files) goes over the summarization trigger (three quarters of it) again
/// and again, while every other agent's conversation stays under it.
const CONTEXT_TOKENS: u32 = 8192;

/// Where the summarizer and the supervisor run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// The summarizer role on the primary's server: its calls wait for and occupy the primary.
    AllOnPrimary,
    /// The summarizer on a server of its own.
    SummarizerOffloaded,
    /// The summarizer on its own server, and the supervisor (every completed task) on another.
    OffloadedWithSupervisor,
}

impl Layout {
    pub(crate) const ALL: [Layout; 3] = [
        Layout::AllOnPrimary,
        Layout::SummarizerOffloaded,
        Layout::OffloadedWithSupervisor,
    ];

    /// The name in the JSON rows.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Layout::AllOnPrimary => "all_on_primary",
            Layout::SummarizerOffloaded => "summarizer_offloaded",
            Layout::OffloadedWithSupervisor => "offloaded_with_supervisor",
        }
    }

    fn offloaded(self) -> bool {
        self != Layout::AllOnPrimary
    }

    fn supervised(self) -> bool {
        self == Layout::OffloadedWithSupervisor
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Each server's time to answer one request (a serial GPU for the primary: its gate lets one
/// request through at a time).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Latencies {
    pub(crate) primary: Duration,
    pub(crate) summarizer: Duration,
    pub(crate) supervisor: Duration,
}

/// What one run did.
#[derive(Clone, Debug)]
pub(crate) struct RunFacts {
    /// From the input to the report (background branches cancelled then, as `lemmings run`
    /// does).
    pub(crate) wall: Duration,
    /// Chat requests the primary's server answered.
    pub(crate) primary_requests: usize,
    /// Those that were summarizer work.
    pub(crate) primary_summarization_requests: usize,
    /// The primary's service time: its latency for each request it answered.
    pub(crate) primary_busy: Duration,
    /// The part of it spent on summarizer work.
    pub(crate) primary_summarization_busy: Duration,
    /// The most requests the primary's server was answering at once (1: serial).
    pub(crate) primary_max_in_flight: usize,
    /// Requests the summarizer's own server answered (none when it shares the primary's).
    pub(crate) summarizer_requests: usize,
    /// Requests the supervisor's server answered (none without a supervisor).
    pub(crate) supervisor_requests: usize,
    /// Supervisions finished before the run ended.
    pub(crate) supervisions: u32,
    /// Conversation summaries the summarization middleware wrote.
    pub(crate) summaries: usize,
    /// Usage per role, from the registry.
    pub(crate) usage: UsageReport,
}

/// Runs the whole workflow once in `layout`, planning `tasks` tasks, with these latencies.
pub(crate) async fn run_once(layout: Layout, tasks: usize, latencies: Latencies) -> Fallible<RunFacts> {
    let script = Script { tasks };
    let primary = FakeServer::start().await;
    primary.respond_with(move |request| script.primary(request).delay(latencies.primary));
    let summarizer = FakeServer::start().await;
    summarizer.respond_with(move |request| script::summarizer(request).delay(latencies.summarizer));
    let supervisor = FakeServer::start().await;
    supervisor.respond_with(move |request| script::supervisor(request).delay(latencies.supervisor));

    let text = config_text(layout, &primary, &summarizer, &supervisor);
    let config = LlmConfig::parse(&text, "multimodel config", &|_| None)?;
    let models = LlmRegistry::from_config(&config)?;

    let dir = tempfile::tempdir()?;
    let root = dir.path().join("workspace");
    for (path, content) in Script::legacy_files() {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap_or(&root))?;
        std::fs::write(path, content)?;
    }
    let workspace = Workspace::open(&root, WorkspaceOptions::default())?;
    let workflow = WorkflowBuilder::new(
        AgentSpecs::builtin()?,
        models.clone(),
        workspace,
        ToolsConfig::defaults("multimodel config"),
    )
    .build()?;
    if workflow.has_supervisor() != layout.supervised() {
        return Err(format!("{layout}: the workflow's supervisor is {}", workflow.has_supervisor()).into());
    }
    let database = path_text(&dir.path().join("lemmings.db"))?;
    let store = lemmings_store::open(&database, true).await?;
    let graph = workflow.graph().clone().with_checkpointer(store);
    let limits = RunLimits {
        supervise_every: 1,
        // Every done task stays listed in full, for the planner's and the assessor's count.
        done_detail: 10,
        ..RunLimits::default()
    };
    let input = workflow.input(script::REQUEST, limits);
    let limit = Duration::from_secs(120) + latencies.primary * 1000;

    let run_config = Workflow::run_config("multimodel");
    let started = Instant::now();
    let run = graph.invoke(input, &run_config);
    let output = tokio::time::timeout(limit, run)
        .await
        .map_err(|_| format!("{layout}: the run did not finish in {limit:?}"))??;
    let wall = started.elapsed();

    let state: WorkflowState = output.value;
    if state.status != RunStatus::Complete {
        return Err(format!(
            "{layout}: the run ended {:?}, not complete; trace:\n{}",
            state.status,
            state.events.join("\n")
        )
        .into());
    }
    let served = chat_requests(&primary);
    let summarizing = served
        .iter()
        .filter(|request| script::is_summarizer_work(request))
        .count();
    Ok(RunFacts {
        wall,
        primary_requests: served.len(),
        primary_summarization_requests: summarizing,
        primary_busy: latencies.primary * served.len() as u32,
        primary_summarization_busy: latencies.primary * summarizing as u32,
        primary_max_in_flight: primary.max_in_flight(),
        summarizer_requests: chat_requests(&summarizer).len(),
        supervisor_requests: chat_requests(&supervisor).len(),
        supervisions: state.supervisor_done,
        summaries: state
            .events
            .iter()
            .filter(|event| event.contains(": summarization: summarized"))
            .count(),
        usage: models.usage(),
    })
}

/// The `[llm]` roles of `layout`: the primary (one request at a time, the small context
/// window); the summarizer on the primary's server (the same base URL, so the same gate) or on
/// its own, falling back to the primary as the documented default does; the supervisor on its
/// own server in the supervised layout. One attempt per call: nothing here fails.
fn config_text(layout: Layout, primary: &FakeServer, summarizer: &FakeServer, supervisor: &FakeServer) -> String {
    let primary_url = primary.openai_url();
    let mut text = format!(
        r#"
[llm.primary]
provider = "openai_compatible"
model = "{PRIMARY_MODEL}"
base_url = "{primary_url}"
max_concurrency = 1
max_attempts = 1
context_tokens = {CONTEXT_TOKENS}
"#
    );
    if layout.offloaded() {
        text.push_str(&format!(
            r#"
[llm.summarizer]
provider = "ollama"
model = "{SUMMARIZER_MODEL}"
base_url = "{}"
fallback = ["primary"]
max_attempts = 1
"#,
            summarizer.url()
        ));
    } else {
        text.push_str(&format!(
            r#"
[llm.summarizer]
provider = "openai_compatible"
model = "{PRIMARY_MODEL}"
base_url = "{primary_url}"
max_attempts = 1
"#
        ));
    }
    if layout.supervised() {
        text.push_str(&format!(
            r#"
[llm.supervisor]
provider = "ollama"
model = "{SUPERVISOR_MODEL}"
base_url = "{}"
optional = true
fallback = ["primary"]
max_attempts = 1
"#,
            supervisor.url()
        ));
    }
    text
}

/// The chat requests `server` received (model listings left out).
fn chat_requests(server: &FakeServer) -> Vec<Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|request| request.method == "POST")
        .collect()
}

fn path_text(path: &Path) -> Fallible<String> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{} is not UTF-8", path.display()).into())
}
