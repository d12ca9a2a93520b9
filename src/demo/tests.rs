//! The demo's models drive the real workflow to the end, and a run stopped after the first
//! task's implementor continues from its checkpoint to the same end.

use std::sync::Arc;
use std::time::Duration;

use expect_test::expect;
use futures::StreamExt;
use lemmings_agents::spec::AgentSpecs;
use lemmings_agents::workflow::graph::{Workflow, WorkflowBuilder};
use lemmings_agents::workflow::state::{RunStatus, TaskStatus, WorkflowState};
use lemmings_graph::{BackgroundPolicy, CompiledGraph, ErrorKind, EventData, InMemorySaver, RunInput, StreamMode};
use lemmings_models::{ChatMessage, ChatModel, ChatRequest, LlmRegistry, ModelErrorKind, StreamEvent, TokenSink};
use lemmings_tools::{ToolsConfig, Workspace, WorkspaceOptions};
use tempfile::TempDir;

use super::model::Served;
use super::steps::{GREET_RS, README_MD};
use super::supervisor::DIRECTIVE;
use super::{DEMO_TASK, config, limits, registry_with};

/// The agents that run beside the main path.
const BESIDE: [&str; 2] = ["summarizer", "supervisor"];

/// The demo's workflow in a scratch workspace, checkpointed in memory.
struct Demo {
    dir: Arc<TempDir>,
    saver: Arc<InMemorySaver>,
    models: LlmRegistry,
    served: Served,
    workflow: Workflow,
    graph: CompiledGraph<WorkflowState>,
}

impl Demo {
    /// A fresh workspace and checkpointer.
    fn new() -> Demo {
        let dir = Arc::new(tempfile::tempdir().expect("a temp dir"));
        Demo::on(dir, Arc::new(InMemorySaver::new()))
    }

    /// The same workspace and checkpointer with everything else new, as in a new process.
    fn reopen(&self) -> Demo {
        Demo::on(self.dir.clone(), self.saver.clone())
    }

    fn on(dir: Arc<TempDir>, saver: Arc<InMemorySaver>) -> Demo {
        let served = Served::default();
        let models = registry_with(dir.path(), Duration::ZERO, &served).expect("the demo registry builds");
        let workspace = Workspace::open(dir.path(), WorkspaceOptions::default()).expect("the workspace opens");
        let workflow = WorkflowBuilder::new(
            AgentSpecs::builtin().expect("the built-in agents load"),
            models.clone(),
            workspace,
            ToolsConfig::defaults("the demo"),
        )
        .build()
        .expect("the workflow builds");
        let graph = workflow.graph().clone().with_checkpointer(saver.clone());
        Demo {
            dir,
            saver,
            models,
            served,
            workflow,
            graph,
        }
    }

    fn served(&self) -> Vec<String> {
        self.served.lock().unwrap().clone()
    }

    /// The agents served on the main path, in order (the summarizer's and the supervisor's
    /// work runs beside it).
    fn main_path(&self) -> Vec<String> {
        self.served()
            .into_iter()
            .filter(|agent| !BESIDE.contains(&agent.as_str()))
            .collect()
    }

    fn file(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join(path)).ok()
    }

    fn assert_complete(&self, state: &WorkflowState) {
        let trace = state.events.join("\n");
        assert_eq!(state.status, RunStatus::Complete, "trace:\n{trace}");
        assert_eq!(self.file("src/greet.rs").as_deref(), Some(GREET_RS));
        assert_eq!(self.file("README.md").as_deref(), Some(README_MD));
        // The planner's `milestone_done` is recorded as a skipped task.
        let count = |status: TaskStatus| state.tasks.values().filter(|task| task.status == status).count();
        let counts = (count(TaskStatus::Completed), count(TaskStatus::Failed));
        assert_eq!(counts, (2, 0), "trace:\n{trace}");
        let report = state.work_report.as_deref().unwrap_or_default();
        assert!(report.contains("scripted demo models"), "report: {report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_the_whole_workflow_to_completion() {
    let demo = Demo::new();
    // Waiting for the background work at the end, so the supervisor's reviews all land.
    let config = Workflow::run_config("demo").background(BackgroundPolicy::Wait);
    let run = demo.graph.invoke(demo.workflow.input(DEMO_TASK, limits()), &config);
    let state = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the demo finishes within 60 s")
        .expect("the demo run succeeds")
        .value;
    demo.assert_complete(&state);
    let condensed: Vec<&str> = state
        .status_lines
        .iter()
        .filter(|line| line.condensed)
        .map(|line| line.text.as_str())
        .collect();
    assert!(
        condensed.contains(&"✓ task_planner: implement task_001: src/greet.rs (round 1)"),
        "{condensed:?}"
    );
    expect![[r#"
        scope
        task planner
        implementor
        coder
        coder
        implementor
        QA
        task planner
        implementor
        coder
        coder
        coder
        implementor
        QA
        task planner
        assessor
        report"#]]
    .assert_eq(&demo.main_path().join("\n"));

    // The supervisor gave its one directive after the first task, and the planner answered it
    // in the first round that showed it (round 2 or 3, as the supervisor's answer raced the
    // main path); later reviews gave none.
    let trace = state.events.join("\n");
    let [directive] = state.mailbox.as_slice() else {
        panic!("one directive: {:#?}\ntrace:\n{trace}", state.mailbox);
    };
    assert_eq!(
        (
            directive.id.as_str(),
            directive.description.as_str(),
            directive.files.as_slice()
        ),
        ("directive_001", DIRECTIVE, ["README.md".to_owned()].as_slice())
    );
    let given: Vec<&String> = state
        .events
        .iter()
        .filter(|e| e.starts_with("supervisor: ") && !e.starts_with("supervisor: 0 directive(s)"))
        .collect();
    assert_eq!(
        given,
        ["supervisor: 1 directive(s) (0 critical), 0 dropped"],
        "trace:\n{trace}"
    );
    let answered: Vec<&String> = state
        .events
        .iter()
        .filter(|e| e.starts_with("task_planner: ") && e.contains("directive"))
        .collect();
    let [answer] = answered.as_slice() else {
        panic!("the planner answered once: {answered:?}\ntrace:\n{trace}");
    };
    let by_task = "task_planner: implement task_002: Write README.md explaining what the greet function does, wi… \
                   (round 2); directives: answered directive_001: this task writes README.md with that exact output";
    let as_done = "task_planner: milestone_done (round 3); directives: answered directive_001: done: the README.md \
                   task already shows that output";
    assert!(*answer == by_task || *answer == as_done, "{answer}");
    assert!(
        state.pending_directives.is_empty(),
        "the directive retired: trace:\n{trace}"
    );
    assert_eq!(state.supervisor_runs, state.supervisor_done);
    let supervisions = demo.served().iter().filter(|agent| *agent == "supervisor").count();
    assert_eq!(supervisions as u32, state.supervisor_runs);
    assert!(supervisions >= 1);

    let usage = demo.models.usage();
    let summarizer = &usage["summarizer"];
    assert!(summarizer.answers >= 1, "usage: {usage:#?}");
    assert_eq!((summarizer.fallbacks, summarizer.failures), (0, 0), "usage: {usage:#?}");
    let supervisor = &usage["supervisor"];
    assert_eq!(
        supervisor.answers,
        u64::from(state.supervisor_runs),
        "usage: {usage:#?}"
    );
    assert_eq!((supervisor.fallbacks, supervisor.failures), (0, 0), "usage: {usage:#?}");
    let primary = &usage["primary"];
    assert_eq!(primary.answers, 17, "usage: {usage:#?}");
    assert!(
        primary.prompt_tokens > 1000 && primary.completion_tokens > 100,
        "usage: {usage:#?}"
    );
    assert_eq!(primary.unreported, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_stopped_after_the_first_implementor_continues_from_its_checkpoint() {
    let demo = Demo::new();
    let first = Workflow::run_config("demo");
    let stop = first.cancel.clone();
    let input = RunInput::New(demo.workflow.input(DEMO_TASK, limits()));
    let mut events = demo
        .graph
        .stream(input, &first, [StreamMode::Updates, StreamMode::Messages]);
    let mut tokens = String::new();
    while let Some(event) = events.next().await {
        match &event.data {
            EventData::Update { node, .. } if node == "verify" && event.ns.is_empty() => {
                stop.cancel();
                break;
            }
            EventData::Message { chunk, .. } => {
                if let Ok(StreamEvent::Text { delta, .. }) = serde_json::from_value::<StreamEvent>(chunk.clone()) {
                    tokens.push_str(&delta);
                }
            }
            _ => {}
        }
    }
    let stopped = events.finish().await.expect_err("the run was stopped");
    assert_eq!(stopped.kind(), ErrorKind::Cancelled, "{stopped}");
    assert!(
        tokens.contains("Handing src/greet.rs to the coder."),
        "streamed: {tokens}"
    );
    assert_eq!(demo.file("src/greet.rs").as_deref(), Some(GREET_RS));
    assert_eq!(demo.file("README.md"), None);
    let before = demo.served();
    assert_eq!(before.iter().filter(|agent| *agent == "coder").count(), 2, "{before:?}");

    // Continued on the same thread by a new registry and workflow, as `lemmings resume` would.
    let resumed = demo.reopen();
    let again = Workflow::run_config("demo");
    let state = tokio::time::timeout(
        Duration::from_secs(60),
        resumed
            .graph
            .stream(RunInput::Continue, &again, StreamMode::Updates)
            .finish(),
    )
    .await
    .expect("the continued demo finishes within 60 s")
    .expect("the continued demo succeeds")
    .value;
    resumed.assert_complete(&state);
    let after = resumed.main_path();
    assert!(
        !after.contains(&"scope".to_owned()),
        "the scope agent was asked again: {after:?}"
    );
    // Only task 2's coder runs (it reads, writes, submits): task 1's is not asked again.
    assert_eq!(after.iter().filter(|agent| *agent == "coder").count(), 3, "{after:?}");
    assert!(
        after.ends_with(&["assessor".to_owned(), "report".to_owned()]),
        "{after:?}"
    );
}

#[tokio::test]
async fn requests_the_script_does_not_know_get_a_request_error_naming_the_agent() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let models = registry_with(dir.path(), Duration::ZERO, &Served::default()).expect("builds");
    let helper = ChatRequest {
        tools: vec![lemmings_models::ToolSpec {
            name: "grep".to_owned(),
            description: "search".to_owned(),
            parameters: serde_json::json!({"type": "object"}),
        }],
        ..ChatRequest::new(vec![
            ChatMessage::system("You answer."),
            ChatMessage::user("What is here?"),
        ])
    };
    let primary = models.get("primary").expect("the primary role");
    let error = primary.chat(helper, None).await.expect_err("no answer for a helper");
    assert_eq!(error.kind(), ModelErrorKind::Request);
    assert!(
        error.to_string().contains("a helper agent with the tools grep"),
        "{error}"
    );

    // The summarizer role only condenses and summarizes: an agent's request is refused.
    let report = ChatRequest::new(vec![
        ChatMessage::system("Report."),
        ChatMessage::user("## STATUS\ncomplete"),
    ]);
    let summarizer = models.get("summarizer").expect("the summarizer role");
    let error = summarizer
        .chat(report.clone(), None)
        .await
        .expect_err("no agent answers");
    assert_eq!(error.kind(), ModelErrorKind::Request);
    assert!(error.to_string().contains("for the report"), "{error}");

    // The supervisor role only supervises: its base model refuses the report (the registry's
    // role would fall back to the primary, which answers it).
    let info = models.config("supervisor").expect("the supervisor role");
    let supervisor = super::model::DemoModel::new(info, dir.path(), Duration::ZERO, Served::default());
    let error = supervisor
        .chat(report, None)
        .await
        .expect_err("no answer for the report");
    assert_eq!(error.kind(), ModelErrorKind::Request);
    assert!(error.to_string().contains("only supervises"), "{error}");
}

#[tokio::test]
async fn the_report_is_streamed_a_word_at_a_time_and_the_roles_are_labelled() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let models = registry_with(dir.path(), Duration::from_millis(1), &Served::default()).expect("builds");
    let pieces = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink: TokenSink = {
        let pieces = pieces.clone();
        Arc::new(move |event: &StreamEvent| {
            if let StreamEvent::Text { role, delta } = event {
                pieces.lock().unwrap().push((role.clone(), delta.clone()));
            }
        })
    };
    let report = ChatRequest::new(vec![
        ChatMessage::system("Report."),
        ChatMessage::user("## STATUS\ncomplete"),
    ]);
    let primary = models.get("primary").expect("the primary role");
    let answer = primary.chat(report, Some(sink)).await.expect("answers");
    let pieces = pieces.lock().unwrap().clone();
    assert!(pieces.len() > 20, "{pieces:?}");
    assert!(pieces.iter().all(|(role, _)| role == "primary"));
    assert_eq!(
        pieces.iter().map(|(_, delta)| delta.as_str()).collect::<String>(),
        answer.content
    );
    assert!(answer.usage.prompt_tokens.is_some() && answer.usage.completion_tokens.is_some());

    let info = primary.info();
    assert_eq!(
        (info.provider.as_str(), info.model.as_str()),
        ("scripted", "demo-primary (scripted)")
    );
    let config = config();
    let urls: Vec<&str> = config.roles.values().map(|role| role.base_url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "http://primary.demo.invalid/v1",
            "http://summarizer.demo.invalid/v1",
            "http://supervisor.demo.invalid/v1"
        ]
    );
    assert_eq!(config.roles["summarizer"].fallback, ["primary"]);
    let supervisor = &config.roles["supervisor"];
    assert_eq!(
        (
            supervisor.model.as_str(),
            supervisor.optional,
            supervisor.fallback.as_slice()
        ),
        ("demo-supervisor (scripted)", true, ["primary".to_owned()].as_slice())
    );
    assert_eq!(models.gates().count(), 3, "each role has its own gate");
}
