//! `lemmings run`, `lemmings resume` and `lemmings demo`: build the workflow from the
//! configuration, check the model servers, run or continue a thread with the live view, stop
//! cleanly on Ctrl-C, and end with a summary and an exit code.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lemmings_agents::spec::AgentSpecs;
use lemmings_agents::workflow::graph::{Workflow, WorkflowBuilder};
use lemmings_agents::workflow::settings::RunSettings;
use lemmings_agents::workflow::state::{RunStatus, TaskStatus, WorkflowState};
use lemmings_graph::{
    CheckpointErrorKind, Checkpointer, CompiledGraph, GraphError, Resume, RunInput, StreamMode, StreamModes,
};
use lemmings_models::LlmRegistry;
use lemmings_tools::{ToolsConfig, Workspace};

use crate::check::required;
use crate::exit::{Exit, usage};
use crate::inspect::{reader, state_of, status_word};
use crate::settings::{Config, checkpoint_id, database, open_store, thread_id, workspace};
use crate::view::{Output, Summary, View};

/// How a run starts.
#[derive(Debug)]
pub(crate) enum Start {
    /// `lemmings run <TASK>`: a new run, on a new thread unless one is named.
    New { task: String, thread: Option<String> },
    /// `lemmings resume <THREAD_ID>`: continue, fork from a checkpoint, or answer.
    Resume {
        thread: String,
        from: Option<String>,
        answer: Option<String>,
    },
}

/// `run` or `resume`, as the command line gave it.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) start: Start,
    pub(crate) config: Option<PathBuf>,
    pub(crate) workspace: Option<PathBuf>,
    pub(crate) db: Option<String>,
    pub(crate) output: Output,
}

/// What the engine is asked to do, once the thread is checked.
enum Plan {
    New(String),
    Continue,
    Answer(String),
}

/// `lemmings run` and `lemmings resume`.
pub(crate) async fn run(request: Request) -> anyhow::Result<Exit> {
    // Bad input first, before anything touches the network or the database.
    let config = Config::load(request.config)?;
    let root = workspace(request.workspace.as_deref())?;
    let mut named_thread = false;
    let (thread, from, plan) = match request.start {
        Start::New { task, thread } => {
            if task.trim().is_empty() {
                return Err(usage(
                    "the task is empty: say what to do, e.g. lemmings run \"add a README\"",
                ));
            }
            named_thread = thread.is_some();
            let thread = match thread {
                Some(thread) => thread_id(&thread)?,
                None => uuid::Uuid::now_v7().hyphenated().to_string(),
            };
            (thread, None, Plan::New(task))
        }
        Start::Resume { thread, from, answer } => {
            let from = from.as_deref().map(checkpoint_id).transpose()?;
            let plan = match answer {
                Some(answer) => Plan::Answer(answer),
                None => Plan::Continue,
            };
            (thread_id(&thread)?, from, plan)
        }
    };
    let resuming = !matches!(plan, Plan::New(_));
    let db = database(request.db.as_deref(), &root);
    // An existing database is checked now (a fresh thread id cannot name a thread that ran, so
    // only a resume or `--thread` needs the check); a new one is created once the servers are up.
    let existing = if resuming || lemmings_store::is_url(&db) || Path::new(&db).exists() {
        let store = open_store(&db, false).await?;
        if resuming || named_thread {
            check_thread(&store, &thread, &root, from, &plan).await?;
        }
        Some(store)
    } else {
        None
    };

    let mut view = View::new(request.output);
    let mut registry = LlmRegistry::from_config(&config.llm).map_err(|error| usage(error.to_string()))?;
    let mut notices = registry.notices();
    match preflight(&mut registry, &config).await {
        Ok(more) => notices.extend(more),
        Err(message) => {
            view.fail_fast(&message);
            return Ok(Exit::Failed);
        }
    }
    let store = match existing {
        Some(store) => store,
        None => open_store(&db, true).await?,
    };
    let workspace = Workspace::open(&root, config.tools.workspace_options())
        .map_err(|error| usage(format!("cannot open workspace {}: {error}", root.display())))?;
    let workflow = WorkflowBuilder::new(config.specs.clone(), registry.clone(), workspace, config.tools.clone())
        .check_command(config.run.check_command.clone())
        .build()
        .map_err(|error| usage(error.to_string()))?;
    let job = Job {
        workflow: &workflow,
        registry: &registry,
        store,
        thread: &thread,
        root: &root,
        settings: &config.run,
        resume_hint: resume_hint(&thread, &root, request.db.as_deref()),
        place: place_options(&root, request.db.as_deref()),
        stop_after: None,
        save_report: true,
    };
    let mut header = job.thread_header(&db, &config.describe(), resuming);
    notices.extend(header.notices);
    header.notices = notices;
    view.header(&header);
    let input = match plan {
        Plan::New(task) => RunInput::New(workflow.input(&task, config.run.limits.clone())),
        Plan::Continue => RunInput::Continue,
        Plan::Answer(answer) => RunInput::Resume(Resume::value(answer)),
    };
    let ended = job.execute(input, from, &mut view).await?;
    Ok(ended.exit)
}

/// Refuses what cannot be run: a new run on a thread that already has one, a resume of an
/// unknown, finished or elsewhere-run thread, an answer nobody asked for.
async fn check_thread(
    store: &Arc<dyn Checkpointer>,
    thread: &str,
    root: &Path,
    from: Option<lemmings_graph::CheckpointId>,
    plan: &Plan,
) -> anyhow::Result<()> {
    let graph = reader(store.clone())?;
    if let Plan::New(_) = plan {
        let mut config = lemmings_graph::RunConfig::thread(thread);
        config.checkpoint_id = None;
        let existing = graph
            .get_state(&config)
            .await
            .map_err(|error| anyhow::Error::new(error).context(format!("cannot read thread {thread}")))?;
        if existing.checkpoint_id.is_some() {
            return Err(usage(format!(
                "thread {thread} already has a run ({}): resume it with `lemmings resume {thread}`, or leave out \
                 --thread to start a new one",
                status_word(&existing)
            )));
        }
        return Ok(());
    }
    let latest = state_of(&graph, thread, None).await?;
    let recorded = Path::new(&latest.values.workspace_root);
    if !latest.values.workspace_root.is_empty() && recorded != root {
        return Err(usage(format!(
            "thread {thread} works on {}, not {}: pass --workspace {}",
            recorded.display(),
            root.display(),
            recorded.display()
        )));
    }
    if let Some(from) = from {
        state_of(&graph, thread, Some(from)).await?;
        return Ok(());
    }
    match plan {
        Plan::Answer(_) if latest.interrupts.is_empty() => Err(usage(format!(
            "thread {thread} is not waiting for an answer ({}): leave out --answer",
            status_word(&latest)
        ))),
        Plan::Continue if !latest.interrupts.is_empty() => Err(usage(format!(
            "thread {thread} is waiting for an answer to: {}; pass it with --answer",
            latest.interrupts[0].value
        ))),
        Plan::Continue if latest.next.is_empty() => Err(usage(format!(
            "thread {thread} has finished ({}): nothing to resume; fork it from an earlier checkpoint with \
             --from (`lemmings history {thread}` lists them)",
            status_word(&latest)
        ))),
        _ => Ok(()),
    }
}

/// Checks the servers before any work: the optional roles that are down are switched off, a
/// down role with a fallback is reported, a down required role stops the run (the message
/// names its URL and how to start a server).
async fn preflight(registry: &mut LlmRegistry, config: &Config) -> Result<Vec<String>, String> {
    let limit = Duration::from_secs(5);
    let mut notices = registry.switch_off_unreachable(limit).await;
    let roles: Vec<String> = registry.roles().map(str::to_owned).collect();
    let probes = futures::future::join_all(roles.iter().map(|role| registry.probe(role, limit))).await;
    for probe in probes.into_iter().flatten() {
        let Err(error) = &probe.outcome else { continue };
        let Some(role) = config.llm.role(&probe.info.role) else {
            continue;
        };
        if required(role) {
            return Err(format!(
                "the `{}` model's server is not reachable: {}\n{}\nOr point [llm.{}] in {} at a running server; \
                 `lemmings models check` probes every role.",
                role.name,
                error.message(),
                start_hint(role),
                role.name,
                config.source,
            ));
        }
        notices.push(format!(
            "role `{}` is down ({}): its calls fall back to {}",
            role.name,
            error.message(),
            role.fallback.join(", ")
        ));
    }
    Ok(notices)
}

/// How to start the server a role expects.
fn start_hint(role: &lemmings_models::RoleConfig) -> String {
    use lemmings_models::ProviderKind;
    match role.provider {
        ProviderKind::Ollama => format!(
            "Start Ollama: `ollama serve`, then `ollama pull {}` (it serves {}).",
            role.model, role.base_url
        ),
        ProviderKind::Openrouter => {
            "OpenRouter is a cloud service: check the network and the API key's variable.".to_owned()
        }
        _ => format!(
            "Start text-generation-webui with its API on (`./start_linux.sh --api`, serving \
             http://127.0.0.1:5000/v1) or another OpenAI-compatible server (llama.cpp's `llama-server`, vLLM) \
             at {}; or run the model on Ollama (`ollama serve`) with provider = \"ollama\".",
            role.base_url
        ),
    }
}

/// `lemmings resume <id>` with the options needed to find the thread again from here.
fn resume_hint(thread: &str, root: &Path, db_flag: Option<&str>) -> String {
    format!("lemmings resume {thread}{}", place_options(root, db_flag))
}

/// ` --workspace <root>` when it is not the current directory, and ` --db <db>` when it was
/// given on the command line: what another command needs to find the thread.
fn place_options(root: &Path, db_flag: Option<&str>) -> String {
    let mut options = String::new();
    let here = std::env::current_dir().ok().and_then(|dir| dir.canonicalize().ok());
    if here.as_deref() != Some(root) {
        options.push_str(&format!(" --workspace {}", root.display()));
    }
    if let Some(db) = db_flag {
        // A PostgreSQL URL without its password (the user supplies it again, or $LEMMINGS_DB).
        options.push_str(&format!(" --db {}", lemmings_store::shown(db)));
    }
    options
}

/// One run of the workflow on a thread.
struct Job<'a> {
    workflow: &'a Workflow,
    registry: &'a LlmRegistry,
    store: Arc<dyn Checkpointer>,
    thread: &'a str,
    root: &'a Path,
    settings: &'a RunSettings,
    resume_hint: String,
    /// The options other commands need to find the thread (`--workspace`, `--db`).
    place: String,
    /// The demo stops the run (as Ctrl-C would) once this node has written.
    stop_after: Option<&'static str>,
    /// Whether the report is written to `.lemmings/reports/` (not in a scratch workspace that
    /// is removed afterwards: the summary prints it instead).
    save_report: bool,
}

/// How a run ended.
struct Ended {
    exit: Exit,
    /// Whether it was stopped by `stop_after`.
    stopped: bool,
}

impl Job<'_> {
    fn graph(&self) -> CompiledGraph<WorkflowState> {
        self.workflow.graph().clone().with_checkpointer(self.store.clone())
    }

    fn thread_header(&self, db: &str, config: &str, resumed: bool) -> crate::view::Header {
        crate::view::Header {
            thread: self.thread.to_owned(),
            resumed,
            workspace: self.root.display().to_string(),
            database: lemmings_store::shown(db),
            config: config.to_owned(),
            models: self
                .registry
                .roles()
                .filter_map(|role| self.registry.info(role))
                .map(|info| (info.role, format!("{} at {}", info.model, info.server)))
                .collect(),
            notices: self.workflow.notices().to_vec(),
        }
    }

    /// Runs until the end, an error, Ctrl-C or `stop_after`, feeding the view.
    async fn execute(
        &self,
        input: RunInput<WorkflowState, lemmings_agents::workflow::state::WorkflowStateUpdate>,
        from: Option<lemmings_graph::CheckpointId>,
        view: &mut View,
    ) -> anyhow::Result<Ended> {
        let graph = self.graph();
        let mut config = Workflow::run_config(self.thread);
        config.recursion_limit = self.settings.recursion_limit;
        config.durability = self.settings.durability;
        config.checkpoint_id = from;
        let cancel = config.cancel.clone();
        let modes: StreamModes = if view.wants_everything() {
            // The engine's stream, without whole-state snapshots and the debug duplicates.
            [
                StreamMode::Updates,
                StreamMode::Tasks,
                StreamMode::Checkpoints,
                StreamMode::Messages,
                StreamMode::Custom,
            ]
            .into()
        } else {
            [StreamMode::Updates, StreamMode::Tasks, StreamMode::Checkpoints].into()
        };
        let started = tokio::time::Instant::now();
        let mut events = graph.stream(input, &config, modes);
        let mut interrupts = Interrupts::new()?;
        let mut ticker = tokio::time::interval(Duration::from_millis(100));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let (mut interrupted, mut stopped) = (false, false);
        loop {
            tokio::select! {
                event = events.next() => {
                    let Some(event) = event else { break };
                    view.event(&event);
                    if let (Some(node), lemmings_graph::EventData::Update { node: wrote, .. }) = (self.stop_after, &event.data)
                        && event.ns.is_empty() && wrote == node && !stopped
                    {
                        stopped = true;
                        cancel.cancel();
                    }
                }
                _ = ticker.tick(), if view.is_live() => view.tick(self.registry, started.elapsed()),
                () = interrupts.next(), if !interrupted => {
                    interrupted = true;
                    view.notice("stopping: the step in flight is abandoned, the last checkpoint stays (Ctrl-C again to quit at once)");
                    interrupts.quit_on_next();
                    cancel.cancel();
                }
            }
        }
        let result = events.finish().await;
        let elapsed = started.elapsed();
        match result {
            Ok(output) => {
                let state = output.value;
                let exit = if !output.interrupts.is_empty() {
                    view.paused(&output.interrupts, &self.resume_hint);
                    Exit::Success
                } else {
                    let summary = self.summary(&state, elapsed);
                    let exit = summary.exit;
                    view.summary(&summary);
                    exit
                };
                Ok(Ended { exit, stopped: false })
            }
            Err(GraphError::Cancelled { step, .. }) if interrupted || stopped => {
                if interrupted {
                    view.interrupted(step, &self.resume_hint, elapsed);
                }
                Ok(Ended {
                    exit: Exit::Interrupted,
                    stopped: !interrupted,
                })
            }
            Err(GraphError::Checkpointer { source, .. }) if source.kind() == CheckpointErrorKind::Locked => {
                Err(usage(format!(
                    "thread {} is being run by another process: wait for it to end, or stop it and resume here \
                     ({source})",
                    self.thread
                )))
            }
            Err(error) => {
                view.crashed(&error.to_string(), &self.resume_hint, elapsed);
                Ok(Ended {
                    exit: Exit::Failed,
                    stopped: false,
                })
            }
        }
    }

    /// The final summary: status, tasks, usage per role, the report file and the changes.
    fn summary(&self, state: &WorkflowState, elapsed: Duration) -> Summary {
        let count = |status: TaskStatus| state.tasks.values().filter(|t| t.status == status).count();
        let (exit, status, reason) = match &state.status {
            RunStatus::Complete => (Exit::Success, "complete", None),
            RunStatus::Failed { reason } => (Exit::Failed, "failed", Some(reason.clone())),
            RunStatus::Incomplete { reason } => (Exit::Failed, "incomplete", Some(reason.clone())),
            RunStatus::Running => (
                Exit::Failed,
                "stopped",
                Some("the run ended without a report".to_owned()),
            ),
        };
        let mut changes: Vec<String> = state
            .tasks
            .values()
            .filter(|t| t.status == TaskStatus::Completed)
            .filter_map(|t| t.evidence.as_ref())
            .flat_map(|evidence| evidence.changed.iter().cloned())
            .collect();
        changes.sort();
        changes.dedup();
        let report = state
            .work_report
            .as_ref()
            .filter(|_| self.save_report)
            .and_then(|text| self.save_report(text));
        Summary {
            thread: self.thread.to_owned(),
            place: self.place.clone(),
            exit,
            status,
            reason,
            elapsed,
            completed: count(TaskStatus::Completed),
            failed: count(TaskStatus::Failed),
            skipped: count(TaskStatus::Skipped),
            usage: self.registry.usage(),
            report,
            report_text: state.work_report.clone(),
            changes,
            workspace: self.root.display().to_string(),
            in_git: state.in_git,
        }
    }

    /// Writes the report to `.lemmings/reports/<thread>.md` in the workspace; a failure is
    /// reported, not fatal (the report is also in the state: `lemmings show`).
    fn save_report(&self, text: &str) -> Option<String> {
        let dir = self.root.join(".lemmings").join("reports");
        let path = dir.join(format!("{}.md", self.thread));
        let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, text));
        match written {
            Ok(()) => Some(path.display().to_string()),
            Err(error) => {
                eprintln!(
                    "warning: cannot write the report to {}: {error} (`lemmings show {}` shows it)",
                    path.display(),
                    self.thread
                );
                None
            }
        }
    }
}

/// SIGINT (Ctrl-C): the first one stops the run cleanly, a second one quits at once.
struct Interrupts {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupts {
    fn new() -> anyhow::Result<Interrupts> {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .map_err(|error| anyhow::anyhow!("cannot listen for Ctrl-C: {error}"))?;
            Ok(Interrupts { signal })
        }
        #[cfg(not(unix))]
        Ok(Interrupts {})
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        {
            if self.signal.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// A second Ctrl-C ends the process with 130 without waiting for the run to wind down.
    fn quit_on_next(&mut self) {
        #[cfg(unix)]
        {
            if let Ok(mut again) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
                tokio::spawn(async move {
                    again.recv().await;
                    eprintln!("error: interrupted twice: quitting without waiting");
                    std::process::exit(i32::from(Exit::Interrupted.number()));
                });
            }
        }
    }
}

/// `lemmings demo`: the whole workflow on a scratch workspace against the built-in scripted
/// models, stopped once midway (as Ctrl-C would) and resumed from its checkpoint.
pub(crate) async fn demo(dir: Option<PathBuf>, pace: Duration, output: Output) -> anyhow::Result<Exit> {
    let (root, scratch) = match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|error| usage(format!("cannot create the demo workspace {}: {error}", dir.display())))?;
            let root = workspace(Some(&dir))?;
            let busy = std::fs::read_dir(&root)
                .map(|mut entries| entries.next().is_some())
                .unwrap_or(true);
            if busy {
                return Err(usage(format!(
                    "the demo workspace {} is not empty: give the demo an empty or new directory",
                    root.display()
                )));
            }
            (root, false)
        }
        None => {
            let dir = std::env::temp_dir().join(format!("lemmings-demo-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir)
                .map_err(|error| anyhow::anyhow!("cannot create a scratch workspace {}: {error}", dir.display()))?;
            (workspace(Some(&dir))?, true)
        }
    };
    let result = demo_in(&root, pace, output, !scratch).await;
    if scratch {
        let _ = std::fs::remove_dir_all(&root);
    }
    result
}

async fn demo_in(root: &Path, pace: Duration, output: Output, kept: bool) -> anyhow::Result<Exit> {
    let registry = crate::demo::registry(root, pace).map_err(|error| anyhow::anyhow!("demo models: {error}"))?;
    let db = root.join(crate::settings::DEFAULT_DB).display().to_string();
    let store = open_store(&db, true).await?;
    let tools = ToolsConfig::defaults("the demo's built-in defaults");
    let workspace = Workspace::open(root, tools.workspace_options())
        .map_err(|error| anyhow::anyhow!("cannot open the demo workspace {}: {error}", root.display()))?;
    let specs = AgentSpecs::builtin().map_err(|error| anyhow::anyhow!("the built-in agents: {error}"))?;
    let workflow = WorkflowBuilder::new(specs, registry.clone(), workspace, tools)
        .build()
        .map_err(|error| anyhow::anyhow!("cannot build the demo workflow: {error}"))?;
    let thread = uuid::Uuid::now_v7().hyphenated().to_string();
    let settings = RunSettings {
        limits: crate::demo::limits(),
        ..RunSettings::default()
    };
    let mut job = Job {
        workflow: &workflow,
        registry: &registry,
        store,
        thread: &thread,
        root,
        settings: &settings,
        resume_hint: format!("lemmings resume {thread} --workspace {}", root.display()),
        place: format!(" --workspace {}", root.display()),
        stop_after: Some(STOP_AFTER),
        save_report: kept,
    };
    let mut view = View::new(output);
    let mut header = job.thread_header(&db, "built-in demo configuration (scripted models)", false);
    header.notices.insert(
        0,
        "DEMO: the models are built-in scripts playing each agent; no model server is used".to_owned(),
    );
    view.header(&header);
    let input = RunInput::New(workflow.input(crate::demo::DEMO_TASK, settings.limits.clone()));
    let first = job.execute(input, None, &mut view).await?;
    if !first.stopped {
        return Ok(first.exit);
    }
    view.notice(&format!(
        "DEMO: stopped the run after `{STOP_AFTER}`, as Ctrl-C would; every finished step is in the database"
    ));
    view.notice(&format!(
        "DEMO: resuming thread {thread} from its latest checkpoint (what `lemmings resume` does)"
    ));
    job.stop_after = None;
    let second = job.execute(RunInput::Continue, None, &mut view).await?;
    if kept {
        view.notice(&format!(
            "DEMO: look around: `lemmings history {thread} --workspace {0}`, `lemmings show {thread} --workspace {0}`",
            root.display()
        ));
    } else {
        view.notice("DEMO: the scratch workspace is removed; `lemmings demo --workspace DIR` keeps it to inspect");
    }
    Ok(second.exit)
}

/// Where the demo stops its first run: after the first task's implementor.
const STOP_AFTER: &str = "implementor";
