//! The fake LLM servers of a run (an OpenAI-compatible primary, an Ollama summarizer), the
//! config that points at them, and the primary's script: the replies of one whole run in the
//! order its requests arrive, and which agent sent each request.

use lemmings_testkit::{Completion, FakeServer, Hold, Recorded, Reply};
use serde_json::{Value, json};

pub(crate) const PRIMARY_MODEL: &str = "qwen3-8b";
pub(crate) const SUMMARIZER_MODEL: &str = "qwen2.5:0.5b";
pub(crate) const TASK: &str = "Add a greeting module.";
/// Long enough (≥ 70 characters) that the planner's status line is sent to the summarizer.
const PLANNED: &str =
    "Create src/greet.rs with a public greet function that returns a friendly Hello greeting for a name";
const PLAN: &str = "1. Create src/greet.rs with `pub fn greet(name: &str) -> String` returning \
    `Hello, {name}!`.\n2. Check the file exists and holds the function.";
pub(crate) const GREET: &str = "pub fn greet(name: &str) -> String { format!(\"Hello, {name}!\") }\n";
pub(crate) const REPORT: &str = "Added src/greet.rs with greet().";
pub(crate) const CONDENSED: &str = "planned the greet task";

/// A config with the primary (OpenAI-compatible, one request at a time) and the summarizer
/// (Ollama, falling back to the primary) at these URLs; one attempt per call and per task, and
/// short timeouts.
pub(crate) fn config(primary_url: &str, summarizer_url: &str) -> String {
    format!(
        r#"[llm.primary]
provider = "openai_compatible"
model = "{PRIMARY_MODEL}"
base_url = "{primary_url}"
max_concurrency = 1
max_attempts = 1
timeout_s = 30
connect_timeout_s = 2
context_tokens = 32768

[llm.summarizer]
provider = "ollama"
model = "{SUMMARIZER_MODEL}"
base_url = "{summarizer_url}"
fallback = ["primary"]
max_attempts = 1
timeout_s = 30
connect_timeout_s = 2

[run]
max_attempts = 1
"#
    )
}

/// The two fake servers of a run, listing their models for the pre-flight probe.
#[derive(Debug)]
pub(crate) struct Servers {
    pub(crate) primary: FakeServer,
    pub(crate) summarizer: FakeServer,
}

impl Servers {
    pub(crate) async fn start() -> Servers {
        let primary = FakeServer::start().await;
        primary.set_models(vec![PRIMARY_MODEL.to_owned()]);
        let summarizer = FakeServer::start().await;
        summarizer.set_models(vec![SUMMARIZER_MODEL.to_owned()]);
        summarizer.set_default(Reply::text(CONDENSED));
        Servers { primary, summarizer }
    }

    /// The config for these servers.
    pub(crate) fn config(&self) -> String {
        config(&self.primary.openai_url(), &self.summarizer.url())
    }

    /// Replaces the servers' URLs with `<primary>` and `<summarizer>`.
    pub(crate) fn urls(&self, text: &str) -> String {
        text.replace(&self.primary.openai_url(), "<primary>")
            .replace(&self.summarizer.url(), "<summarizer>")
    }

    /// The agents the primary's chat requests came from, in order (model listings left out).
    pub(crate) fn primary_agents(&self) -> Vec<String> {
        self.primary
            .requests()
            .iter()
            .filter(|request| request.method == "POST")
            .map(Recorded::agent)
            .collect()
    }
}

/// A completion that calls one tool.
fn call(id: &str, name: &str, arguments: &Value) -> Reply {
    Reply::completion(Completion::text("").tool_call(id, name, &arguments.to_string()))
}

/// The agents of a whole run, in the order the primary serves them (see [`script_primary`]).
pub(crate) const RUN_AGENTS: [&str; 10] = [
    "scope",
    "plan",
    "implementation",
    "code_change",
    "code_change",
    "implementation",
    "qa",
    "plan",
    "assessment",
    "report",
];

/// Queues the primary's replies for the scope and the first planner round.
pub(crate) fn script_until_implementor(primary: &FakeServer) {
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
    primary.push(call(
        "call_2",
        "submit_plan",
        &json!({
            "action": "implement",
            "task_description": PLANNED,
            "measurable_outcome": "src/greet.rs defines greet",
            "implementation_plan": PLAN,
            "change_type": "feat",
            "task_summary": "feat: add greet",
        }),
    ));
}

/// The implementor's first reply: it hands the work to the coder. With `hold`, it waits for it.
pub(crate) fn implementor_reply(hold: Option<&Hold>) -> Reply {
    let reply = call(
        "call_3",
        "coder",
        &json!({"query": "Create src/greet.rs with the greet function."}),
    );
    match hold {
        Some(hold) => reply.held(hold),
        None => reply,
    }
}

/// Queues the primary's replies after the implementor's first: the coder, the implementor's
/// submission, QA, the planner's second round (milestone done), the assessor and the report.
pub(crate) fn script_after_implementor(primary: &FakeServer) {
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
    primary.push(call(
        "call_7",
        "submit_qa",
        &json!({"passed": true, "feedback": "meets the outcome", "failure_type": null, "issues": []}),
    ));
    primary.push(call(
        "call_8",
        "submit_plan",
        &json!({"action": "milestone_done", "skip_reason": "nothing to do here"}),
    ));
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
    primary.push(Reply::text(REPORT));
}

/// Queues the primary's replies of a whole run, in the order its requests arrive (the main
/// path runs one node at a time and the coder runs inside the implementor's tool call). With
/// `hold`, the implementor's first reply waits for it.
pub(crate) fn script_primary(primary: &FakeServer, hold: Option<&Hold>) {
    script_until_implementor(primary);
    primary.push(implementor_reply(hold));
    script_after_implementor(primary);
}

/// Resolves once `server` has received a chat request (a POST) that `matches`; model listings
/// (the pre-flight probe's GETs) do not count.
pub(crate) async fn wait_for_post(server: &FakeServer, matches: impl Fn(&Recorded) -> bool) {
    let mut arrived = 1;
    loop {
        server.wait_for_requests(arrived).await;
        let requests = server.requests();
        if requests
            .iter()
            .any(|request| request.method == "POST" && matches(request))
        {
            return;
        }
        arrived = requests.len() + 1;
    }
}

/// Opens `hold` once the summarizer has been asked to condense the planner's status line, so
/// the condensed line is always made (and back long before the run ends: the implementor's
/// reply waits for it, and the coder and six more primary calls follow).
pub(crate) fn release_after_condensing(servers: &Servers, hold: &Hold) {
    let (summarizer, hold) = (servers.summarizer.clone(), hold.clone());
    tokio::spawn(async move {
        wait_for_post(&summarizer, |_| true).await;
        hold.release();
    });
}
