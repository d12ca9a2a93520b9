//! The whole coding workflow end to end through the real HTTP model adapters
//! (`LlmRegistry::from_config`, rig's OpenAI-compatible and Ollama providers) against two
//! loopback fake LLM servers: a primary that refuses a request arriving while it is answering
//! another (`max_concurrency = 1`) and an Ollama summarizer that falls back to the primary.
//!
//! It proves that the run finishes complete with the file written, that every summarizer
//! request (condensed status line, normaliser rewrite, conversation summary) reached the
//! summarizer server, that the summarizer ran beside a primary request without queueing behind
//! it, and that the primary never served two requests at once.

use std::sync::Arc;
use std::time::Duration;

use lemmings_agents::spec::AgentSpecs;
use lemmings_agents::workflow::graph::{Workflow, WorkflowBuilder};
use lemmings_agents::workflow::state::{RunLimits, RunStatus, WorkflowState};
use lemmings_graph::InMemorySaver;
use lemmings_models::{LlmConfig, LlmRegistry};
use lemmings_testkit::{Completion, FakeServer, Hold, Recorded, Reply};
use lemmings_tools::{ToolsConfig, Workspace, WorkspaceOptions};
use serde_json::{Value, json};

const PRIMARY_MODEL: &str = "qwen3-8b";
const SUMMARIZER_MODEL: &str = "qwen2.5:0.5b";

/// Long enough (≥ 70 characters) that the planner's status line does not fit in 80 and is sent
/// to the summarizer to be condensed.
const TASK: &str = "Create src/greet.rs with a public greet function that returns a friendly Hello greeting for a name";
const PLAN: &str = "1. Create src/greet.rs with `pub fn greet(name: &str) -> String` returning \
    `Hello, {name}!`.\n2. Check the file exists and holds the function.";
const GREET: &str = "pub fn greet(name: &str) -> String { format!(\"Hello, {name}!\") }\n";
const CONDENSED: &str = "planned the greet task";

/// A distinctive phrase of each prompt the summarizer role is sent: the status line to condense
/// (`status::condense`), the field to shorten (`normalise::rewrite_shorter`) and the
/// conversation to summarize (`summarize::prompt::summary_prompt`).
const SUMMARIZER_PHRASES: &[&str] = &[
    "Condense this status line to at most",
    "Rewrite the following in at most",
    "Context Extraction Assistant",
];

fn config(primary: &FakeServer, summarizer: &FakeServer) -> LlmConfig {
    let text = format!(
        r#"
[llm.primary]
provider = "openai_compatible"
model = "{PRIMARY_MODEL}"
base_url = "{primary}"
max_concurrency = 1
max_attempts = 1
context_tokens = 32768

[llm.summarizer]
provider = "ollama"
model = "{SUMMARIZER_MODEL}"
base_url = "{summarizer}"
fallback = ["primary"]
max_attempts = 1
"#,
        primary = primary.openai_url(),
        summarizer = summarizer.url(),
    );
    LlmConfig::parse(&text, "e2e config", &|_| None).expect("the e2e config parses")
}

/// A completion that calls one tool.
fn call(id: &str, name: &str, arguments: &Value) -> Reply {
    Reply::completion(Completion::text("").tool_call(id, name, &arguments.to_string()))
}

/// The primary's replies in the order its requests arrive: the main path runs one node at a
/// time and the coder runs inside the implementor's tool call, so they are sequential. The
/// implementor's first reply waits for `implementor_hold`.
fn script_primary(primary: &FakeServer, implementor_hold: &Hold) {
    // scope_initial
    primary.push(call(
        "call_1",
        "submit_scope",
        &json!({
            "remit": "Give the project a greeting module with a test.",
            "explicit_needs": ["a greeting function"],
            "implied_needs": ["a test"],
            "milestones": [{"description": "A greeting module exists", "sketch": "small steps"}],
        }),
    ));
    // task_planner, round 1
    primary.push(call(
        "call_2",
        "submit_plan",
        &json!({
            "action": "implement",
            "task_description": TASK,
            "measurable_outcome": "src/greet.rs defines greet",
            "implementation_plan": PLAN,
            "change_type": "feat",
            "task_summary": "feat: add greet",
        }),
    ));
    // implementor, handing the work to the coder
    primary.push(
        call(
            "call_3",
            "coder",
            &json!({"query": "Create src/greet.rs with the greet function."}),
        )
        .held(implementor_hold),
    );
    // coder (inside the implementor's tool call)
    primary.push(call(
        "call_4",
        "write_file",
        &json!({"path": "src/greet.rs", "content": GREET}),
    ));
    primary.push(call(
        "call_5",
        "submit_code_change",
        &json!({"files_modified": ["src/greet.rs"], "summary": "written", "success": true}),
    ));
    // implementor, after the coder
    primary.push(call(
        "call_6",
        "submit_implementation",
        &json!({
            "files_modified": ["src/greet.rs"],
            "result_summary": "created src/greet.rs",
            "issues_noticed": [],
            "success": true,
        }),
    ));
    // qa
    primary.push(call(
        "call_7",
        "submit_qa",
        &json!({"passed": true, "feedback": "meets the outcome", "failure_type": null, "issues": []}),
    ));
    // task_planner, round 2
    primary.push(call(
        "call_8",
        "submit_plan",
        &json!({"action": "milestone_done", "skip_reason": "nothing to do here"}),
    ));
    // assessor
    primary.push(call(
        "call_9",
        "submit_assessment",
        &json!({
            "uncovered_gaps": [],
            "is_complete": true,
            "stability_check": true,
            "milestone_complete": true,
            "assessment_notes": "checked the milestone",
            "correction_hint": null,
            "escalate_to_scope": false,
        }),
    ));
    // report
    primary.push(Reply::text("Added src/greet.rs with greet()."));
}

/// The summarizer phrases `request`'s body holds.
fn summarizer_phrases(request: &Recorded) -> Vec<&'static str> {
    let body = request.body.to_string();
    SUMMARIZER_PHRASES
        .iter()
        .copied()
        .filter(|phrase| body.contains(phrase))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_workflow_runs_end_to_end_over_http_with_a_primary_that_refuses_concurrent_requests() {
    let primary = FakeServer::start().await;
    primary.refuse_concurrent();
    let summarizer = FakeServer::start().await;
    summarizer.set_default(Reply::text(CONDENSED));
    // No default on the primary: an unscripted request gets a 500 and fails the run.
    let implementor_hold = Hold::new();
    script_primary(&primary, &implementor_hold);
    // The implementor's first answer waits until the summarizer has been asked to condense the
    // planner's line: the two requests overlap (the summarizer does not queue behind the
    // primary), and the condensed line is back long before the run ends (a background branch
    // still running then is cancelled).
    let release = tokio::spawn({
        let (summarizer, hold) = (summarizer.clone(), implementor_hold.clone());
        async move {
            summarizer.wait_for_requests(1).await;
            hold.release();
        }
    });

    let models = LlmRegistry::from_config(&config(&primary, &summarizer)).expect("the registry builds");
    let dir = tempfile::tempdir().expect("a temp dir");
    let workspace = Workspace::open(dir.path(), WorkspaceOptions::default()).expect("the workspace opens");
    let workflow = WorkflowBuilder::new(
        AgentSpecs::builtin().expect("the built-in agents load"),
        models,
        workspace,
        ToolsConfig::defaults("e2e config"),
    )
    .build()
    .expect("the workflow builds");
    assert!(!workflow.has_supervisor());
    let graph = workflow
        .graph()
        .clone()
        .with_checkpointer(Arc::new(InMemorySaver::new()));
    let run_config = Workflow::run_config("thread");
    let run = graph.invoke(
        workflow.input("Add a greeting module.", RunLimits::default()),
        &run_config,
    );
    let output = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the run did not finish in 30 s; primary {primary:?} got {:?}; summarizer {summarizer:?}",
                primary.requests().iter().map(Recorded::agent).collect::<Vec<_>>()
            )
        })
        .expect("the run finishes");
    release.await.expect("the release task panicked");
    let state: WorkflowState = output.value;
    let trace = state.events.join("\n");

    // The run completed, with the coder's file in the workspace.
    assert_eq!(state.status, RunStatus::Complete, "trace:\n{trace}");
    let written = std::fs::read_to_string(dir.path().join("src/greet.rs")).expect("src/greet.rs was written");
    assert_eq!(written, GREET);

    // The primary served every agent in turn, never two requests at once.
    let served: Vec<String> = primary.requests().iter().map(Recorded::agent).collect();
    assert_eq!(
        served,
        [
            "scope",
            "plan",
            "implementation",
            "code_change",
            "code_change",
            "implementation",
            "qa",
            "plan",
            "assessment",
            "report"
        ],
        "trace:\n{trace}"
    );
    assert_eq!(primary.remaining(), 0);
    assert_eq!((primary.max_in_flight(), primary.refused()), (1, 0));

    // Every summarizer request went to the summarizer server, none to the primary.
    let summarized = summarizer.requests();
    assert!(
        !summarized.is_empty(),
        "the summarizer server got no request; trace:\n{trace}"
    );
    for request in &summarized {
        assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/api/chat"));
        assert_eq!(request.body["model"], SUMMARIZER_MODEL, "{}", request.body);
        assert!(
            !summarizer_phrases(request).is_empty(),
            "not a summarizer request: {}",
            request.body
        );
    }
    assert!(
        summarized
            .iter()
            .any(|request| summarizer_phrases(request) == [SUMMARIZER_PHRASES[0]]),
        "the planner's status line was not sent to be condensed"
    );
    for request in primary.requests() {
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/v1/chat/completions")
        );
        assert_eq!(request.body["model"], PRIMARY_MODEL, "{}", request.body);
        assert_eq!(
            summarizer_phrases(&request),
            Vec::<&str>::new(),
            "a summarizer request reached the primary: {}",
            request.body
        );
    }

    // The planner's cut status line came back condensed by the summarizer.
    let condensed: Vec<(&str, &str)> = state
        .status_lines
        .iter()
        .filter(|line| line.condensed)
        .map(|line| (line.node.as_str(), line.text.as_str()))
        .collect();
    assert_eq!(
        condensed,
        [("task_planner", format!("✓ {CONDENSED}").as_str())],
        "status lines: {:#?}",
        state.status_lines
    );
}
