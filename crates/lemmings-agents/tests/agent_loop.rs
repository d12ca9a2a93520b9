//! The agent loop on scripted models: tool calls (in parallel), free-text answers, structured
//! output through the submit call or the repair ladder, re-prompts, limits, failures, middleware
//! order, and a resume that does not pay twice for a finished model call or apply a write twice.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use expect_test::{Expect, expect};
use lemmings_agents::agent::limits::{ModelCallLimit, ModelFallback, ToolCallLimit};
use lemmings_agents::agent::middleware::{AgentView, Middleware, MiddlewareError, ModelNext, Rewrite, ToolNext};
use lemmings_agents::agent::{Agent, AgentState, AgentStateUpdate, Stop};
use lemmings_agents::{AgentMessage, MessageKind};
use lemmings_graph::{InMemorySaver, RunConfig};
use lemmings_models::structured::OutputSchema;
use lemmings_models::{ChatMessage, ChatModel, ChatRequest, ChatResponse, ModelError, ModelErrorKind, ToolCall};
use lemmings_testkit::ScriptedModel;
use lemmings_tools::{CallContext, Tool, ToolOutput};
use serde_json::{Value, json};

/// A tool that echoes its `text` argument and counts its calls; side-effecting on demand.
#[derive(Debug)]
struct Echo {
    name: &'static str,
    side_effects: bool,
    calls: AtomicU32,
    keys: Mutex<Vec<Option<String>>>,
}

impl Echo {
    fn new(name: &'static str, side_effects: bool) -> Arc<Self> {
        Arc::new(Echo {
            name,
            side_effects,
            calls: AtomicU32::new(0),
            keys: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl Tool for Echo {
    fn name(&self) -> &str {
        self.name
    }

    fn description(&self) -> String {
        format!("{}: echoes `text`", self.name)
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})
    }

    fn has_side_effects(&self) -> bool {
        self.side_effects
    }

    async fn call(&self, arguments: Value, context: &CallContext) -> ToolOutput {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.keys.lock().unwrap().push(context.idempotency_key.clone());
        match arguments.get("text").and_then(Value::as_str) {
            Some(text) => ToolOutput::ok(format!("{}: {text}", self.name)),
            None => ToolOutput::failed("missing `text`"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize, schemars::JsonSchema)]
struct Verdict {
    /// Whether it passed.
    passed: bool,
    /// Why, in one line.
    feedback: String,
}

fn task(text: &str) -> AgentStateUpdate {
    AgentStateUpdate::default().messages(vec![AgentMessage::task(text).into()])
}

async fn run(agent: Agent, text: &str) -> AgentState {
    let graph = agent.graph().expect("the loop compiles");
    graph
        .invoke(task(text), &RunConfig::default())
        .await
        .expect("the loop runs")
        .value
}

/// The conversation, one line per message, for snapshots.
fn trace(state: &AgentState) -> String {
    let mut lines: Vec<String> = state
        .messages
        .iter()
        .map(|message| {
            let kind = match message.kind {
                MessageKind::Normal => String::new(),
                other => format!(" ({other:?})"),
            };
            match &message.message {
                ChatMessage::System { content } => format!("system: {content}"),
                ChatMessage::User { content } => format!("user{kind}: {content}"),
                ChatMessage::Assistant { content, tool_calls } => {
                    let calls: Vec<String> = tool_calls
                        .iter()
                        .map(|call| format!("{}#{}({})", call.name, call.id, call.arguments))
                        .collect();
                    format!("assistant: {content:?} calls [{}]", calls.join(", "))
                }
                ChatMessage::Tool { call_id, name, content } => format!("tool {name}#{call_id}: {content}"),
            }
        })
        .collect();
    lines.push(format!(
        "-- stop {:?}, model calls {}, tool calls {}, reprompts {}, output {}",
        state.stop,
        state.model_calls,
        state.tool_calls,
        state.reprompts,
        state.output.as_ref().map_or("none".to_owned(), Value::to_string)
    ));
    lines.join("\n")
}

fn check(state: &AgentState, expect: Expect) {
    expect.assert_eq(&trace(state));
}

#[tokio::test]
async fn tool_call_then_answer() {
    let model = Arc::new(
        ScriptedModel::new("primary")
            .tool_call("echo", json!({"text": "hello"}))
            .text("The tool said hello."),
    );
    let echo = Echo::new("echo", false);
    let agent = Agent::new("helper", model.clone())
        .with_system_prompt("You help.")
        .with_tools([echo.clone() as Arc<dyn Tool>]);
    let state = run(agent, "say hello").await;
    check(
        &state,
        expect![[r#"
            user (Task): say hello
            assistant: "" calls [echo#call_1({"text":"hello"})]
            tool echo#call_1: echo: hello
            assistant: "The tool said hello." calls []
            -- stop Some(Answered), model calls 2, tool calls 1, reprompts 0, output none"#]],
    );
    assert_eq!(state.answer(), Some("The tool said hello."));
    let requests = model.requests();
    assert_eq!(requests[0].messages[0], ChatMessage::system("You help."));
    assert_eq!(
        requests[0].tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["echo"]
    );
    assert_eq!(requests[1].messages.len(), 4, "system, task, call, result");
    assert_eq!(
        echo.keys.lock().unwrap().as_slice(),
        [None],
        "read-only tools get no key"
    );
}

#[tokio::test]
async fn parallel_calls_run_as_a_fan_out_and_answer_in_call_order() {
    let model = Arc::new(
        ScriptedModel::new("primary")
            .tool_calls([
                ("echo", json!({"text": "a"})),
                ("other", json!({"text": "b"})),
                ("echo", json!({"text": "c"})),
                ("nope", json!({})),
            ])
            .text("done"),
    );
    let agent = Agent::new("helper", model).with_tools([
        Echo::new("echo", false) as Arc<dyn Tool>,
        Echo::new("other", false) as Arc<dyn Tool>,
    ]);
    let state = run(agent, "fan out").await;
    check(
        &state,
        expect![[r#"
            user (Task): fan out
            assistant: "" calls [echo#call_1({"text":"a"}), other#call_2({"text":"b"}), echo#call_3({"text":"c"}), nope#call_4({})]
            tool echo#call_1: echo: a
            tool other#call_2: other: b
            tool echo#call_3: echo: c
            tool nope#call_4: unknown tool `nope`; the tools are: echo, other
            assistant: "done" calls []
            -- stop Some(Answered), model calls 2, tool calls 4, reprompts 0, output none"#]],
    );
}

#[tokio::test]
async fn repeated_or_empty_call_ids_are_made_unique() {
    let call = |id: &str, text: &str| ToolCall {
        id: id.to_owned(),
        name: "echo".to_owned(),
        arguments: json!({"text": text}),
    };
    let response = |calls: Vec<ToolCall>| ChatResponse {
        tool_calls: calls,
        ..ChatResponse::default()
    };
    let model = Arc::new(
        ScriptedModel::new("primary")
            .respond(response(vec![call("x", "1"), call("x", "2")]))
            .respond(response(vec![call("", "3")]))
            .text("ok"),
    );
    let agent = Agent::new("helper", model).with_tools([Echo::new("echo", false) as Arc<dyn Tool>]);
    let state = run(agent, "ids").await;
    let ids: Vec<String> = state
        .messages
        .iter()
        .filter_map(|m| m.answers().map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 3);
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 3, "{ids:?}");
    assert!(ids.iter().all(|id| !id.is_empty()));
}

#[tokio::test]
async fn structured_output_through_the_submit_call() {
    let model = Arc::new(
        ScriptedModel::new("primary")
            .tool_call("submit_verdict", json!({"passed": "yes", "feedback": "fine"}))
            .tool_call("submit_verdict", json!({"passed": true, "feedback": "all good"})),
    );
    let agent = Agent::new("qa", model.clone())
        .with_system_prompt("Judge it.")
        .with_output(OutputSchema::of::<Verdict>(Some("verdict")));
    let state = run(agent, "judge").await;
    check(
        &state,
        expect![[r#"
            user (Task): judge
            assistant: "" calls [submit_verdict#call_1({"passed":"yes","feedback":"fine"})]
            tool submit_verdict#call_1: Returning structured response.
            -- stop Some(Submitted), model calls 1, tool calls 0, reprompts 0, output {"passed":true,"feedback":"fine"}"#]],
    );
    assert!(
        !state.repairs.is_empty(),
        "the coercion of \"yes\" is a repair: {:?}",
        state.repairs
    );
    let system = model.requests()[0].messages[0].content().to_owned();
    assert!(system.starts_with("Judge it.\n\n## OUTPUT FORMAT\n"), "{system}");
    assert_eq!(model.requests()[0].tools[0].name, "submit_verdict");
}

#[tokio::test]
async fn invalid_output_is_sent_back_then_given_up() {
    let bad = json!({"feedback": 3});
    let model = Arc::new(
        ScriptedModel::new("primary")
            .tool_call("submit_verdict", bad.clone())
            .text("I think it passed")
            .tool_call("submit_verdict", bad),
    );
    let agent = Agent::new("qa", model.clone())
        .with_output(OutputSchema::of::<Verdict>(Some("verdict")))
        .with_max_reprompts(2);
    let state = run(agent, "judge").await;
    check(
        &state,
        expect![[r#"
            user (Task): judge
            assistant: "" calls [submit_verdict#call_1({"feedback":3})]
            tool submit_verdict#call_1: Error: the result does not match the schema:
            - (root): "passed" is a required property
            Please fix your mistakes and call `submit_verdict` again with the whole corrected result.
            assistant: "I think it passed" calls []
            user (Notice): Error: the result does not match the schema:
            - the reply holds no JSON object
            Please fix your mistakes and call `submit_verdict` again with the whole corrected result.
            assistant: "" calls [submit_verdict#call_2({"feedback":3})]
            tool submit_verdict#call_2: Error: the result does not match the schema:
            - (root): "passed" is a required property
            Please fix your mistakes and call `submit_verdict` again with the whole corrected result.
            -- stop Some(InvalidOutput { errors: ["(root): \"passed\" is a required property"] }), model calls 3, tool calls 0, reprompts 2, output none"#]],
    );
    assert_eq!(model.calls(), 3);
}

#[tokio::test]
async fn a_json_reply_without_the_call_goes_down_the_repair_ladder() {
    let model = Arc::new(
        ScriptedModel::new("primary")
            .text("<think>hmm</think>Here you go:\n```json\n{\"passed\": true, \"feedback\": \"ok\",}\n```"),
    );
    let agent = Agent::new("qa", model).with_output(OutputSchema::of::<Verdict>(Some("verdict")));
    let state = run(agent, "judge").await;
    assert_eq!(state.stop, Some(Stop::Submitted));
    assert_eq!(state.output, Some(json!({"passed": true, "feedback": "ok"})));
    assert!(state.repairs.len() >= 2, "{:?}", state.repairs);
}

#[tokio::test]
async fn the_model_call_limit_stops_the_loop() {
    let model = Arc::new(ScriptedModel::new("primary").fallback_to(|_| {
        Ok(ChatResponse {
            tool_calls: vec![ToolCall {
                id: String::new(),
                name: "echo".to_owned(),
                arguments: json!({"text": "again"}),
            }],
            ..ChatResponse::default()
        })
    }));
    let agent = Agent::new("looper", model.clone())
        .with_tools([Echo::new("echo", false) as Arc<dyn Tool>])
        .with_middleware(Arc::new(ModelCallLimit { limit: 3 }));
    let state = run(agent, "loop").await;
    assert_eq!(state.stop, Some(Stop::ModelCallLimit { limit: 3 }));
    assert_eq!((model.calls(), state.model_calls, state.tool_calls), (3, 3, 3));
}

#[tokio::test]
async fn the_tool_call_limit_blocks_calls_and_tells_the_model() {
    let model = Arc::new(
        ScriptedModel::new("primary")
            .tool_calls([("echo", json!({"text": "1"})), ("echo", json!({"text": "2"}))])
            .tool_call("echo", json!({"text": "3"}))
            .text("stopping"),
    );
    let echo = Echo::new("echo", false);
    let agent = Agent::new("helper", model)
        .with_tools([echo.clone() as Arc<dyn Tool>])
        .with_middleware(Arc::new(ToolCallLimit { limit: 1 }));
    let state = run(agent, "many").await;
    check(
        &state,
        expect![[r#"
            user (Task): many
            assistant: "" calls [echo#call_1({"text":"1"}), echo#call_2({"text":"2"})]
            tool echo#call_1: echo: 1
            tool echo#call_2: not run: the tool-call limit of this agent (1) is reached; stop calling tools and give your final answer with what you know
            assistant: "" calls [echo#call_3({"text":"3"})]
            tool echo#call_3: not run: the tool-call limit of this agent (1) is reached; stop calling tools and give your final answer with what you know
            assistant: "stopping" calls []
            -- stop Some(Answered), model calls 3, tool calls 3, reprompts 0, output none"#]],
    );
    assert_eq!(echo.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_model_ends_the_loop_with_the_error() {
    let model = Arc::new(ScriptedModel::new("primary").fail(ModelErrorKind::Auth, "bad key"));
    let state = run(Agent::new("helper", model), "hi").await;
    let Some(Stop::ModelFailed { message }) = &state.stop else {
        panic!("expected a model failure: {:?}", state.stop)
    };
    assert!(message.contains("primary") && message.contains("bad key"), "{message}");
}

#[tokio::test]
async fn fallback_middleware_tries_the_next_model() {
    let primary = Arc::new(ScriptedModel::new("primary").fail(ModelErrorKind::Connect, "refused"));
    let backup = Arc::new(ScriptedModel::new("backup").text("from backup"));
    let agent = Agent::new("helper", primary.clone()).with_middleware(Arc::new(ModelFallback {
        models: vec![backup.clone() as Arc<dyn ChatModel>],
    }));
    let state = run(agent, "hi").await;
    assert_eq!(state.answer(), Some("from backup"));
    assert_eq!((primary.calls(), backup.calls()), (1, 1));
}

/// Records the order hooks run in.
#[derive(Debug)]
struct Recorder {
    name: &'static str,
    log: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Middleware for Recorder {
    fn name(&self) -> &str {
        self.name
    }

    async fn before_model(&self, view: AgentView<'_>) -> Result<Option<Rewrite>, MiddlewareError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} before_model ({} messages)", self.name, view.messages.len()));
        Ok(None)
    }

    async fn wrap_model_call(
        &self,
        _view: AgentView<'_>,
        request: ChatRequest,
        next: ModelNext<'_>,
    ) -> Result<ChatResponse, ModelError> {
        self.log.lock().unwrap().push(format!("{} model in", self.name));
        let response = next.run(request).await;
        self.log.lock().unwrap().push(format!("{} model out", self.name));
        response
    }

    async fn wrap_tool_call(&self, view: AgentView<'_>, call: &ToolCall, next: ToolNext<'_>) -> ToolOutput {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} tool {} (#{})", self.name, call.name, view.tool_calls));
        next.run(call.arguments.clone()).await
    }
}

#[tokio::test]
async fn middleware_wraps_calls_first_outermost() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let model = Arc::new(
        ScriptedModel::new("primary")
            .tool_call("echo", json!({"text": "x"}))
            .text("done"),
    );
    let agent = Agent::new("helper", model)
        .with_tools([Echo::new("echo", false) as Arc<dyn Tool>])
        .with_middleware(Arc::new(Recorder {
            name: "outer",
            log: log.clone(),
        }))
        .with_middleware(Arc::new(Recorder {
            name: "inner",
            log: log.clone(),
        }));
    run(agent, "go").await;
    expect![[r#"
        outer before_model (1 messages)
        inner before_model (1 messages)
        outer model in
        inner model in
        inner model out
        outer model out
        outer tool echo (#0)
        inner tool echo (#0)
        outer before_model (3 messages)
        inner before_model (3 messages)
        outer model in
        inner model in
        inner model out
        outer model out"#]]
    .assert_eq(&log.lock().unwrap().join("\n"));
}

/// Replaces the conversation with its task message and a note, once.
#[derive(Debug)]
struct Shrink;

#[async_trait]
impl Middleware for Shrink {
    fn name(&self) -> &str {
        "shrink"
    }

    async fn before_model(&self, view: AgentView<'_>) -> Result<Option<Rewrite>, MiddlewareError> {
        if view.messages.len() < 3 {
            return Ok(None);
        }
        let task = view.messages[0].clone();
        Ok(Some(Rewrite {
            messages: vec![task, AgentMessage::summary("earlier: the echo said x")],
            note: format!("{} messages into 2", view.messages.len()),
        }))
    }
}

#[tokio::test]
async fn a_rewrite_replaces_the_saved_conversation() {
    let model = Arc::new(
        ScriptedModel::new("primary")
            .tool_call("echo", json!({"text": "x"}))
            .text("done"),
    );
    let agent = Agent::new("helper", model.clone())
        .with_tools([Echo::new("echo", false) as Arc<dyn Tool>])
        .with_middleware(Arc::new(Shrink));
    let state = run(agent, "go").await;
    check(
        &state,
        expect![[r#"
            user (Task): go
            user (Summary): earlier: the echo said x
            assistant: "done" calls []
            -- stop Some(Answered), model calls 2, tool calls 1, reprompts 0, output none"#]],
    );
    assert_eq!(state.notes, ["shrink: 3 messages into 2"]);
    assert_eq!(
        model.requests()[1].messages.len(),
        2,
        "the rewritten conversation was sent"
    );
}

/// Fails the run once, at the model call after the first tool result (a crash stand-in).
#[derive(Debug, Default)]
struct FailOnce {
    failed: AtomicBool,
}

#[async_trait]
impl Middleware for FailOnce {
    fn name(&self) -> &str {
        "fail_once"
    }

    async fn before_model(&self, view: AgentView<'_>) -> Result<Option<Rewrite>, MiddlewareError> {
        if view.tool_calls >= 1 && !self.failed.swap(true, Ordering::SeqCst) {
            return Err(MiddlewareError {
                middleware: "fail_once".to_owned(),
                agent: view.agent.to_owned(),
                message: "the process died here".to_owned(),
                retryable: false,
            });
        }
        Ok(None)
    }
}

#[tokio::test]
async fn a_resumed_loop_pays_for_no_finished_call_and_applies_no_write_twice() {
    let model = Arc::new(
        ScriptedModel::new("primary")
            .tool_call("write", json!({"text": "once"}))
            .text("written"),
    );
    let write = Echo::new("write", true);
    let agent = Agent::new("implementor", model.clone())
        .with_tools([write.clone() as Arc<dyn Tool>])
        .with_middleware(Arc::new(FailOnce::default()));
    let graph = agent
        .graph()
        .expect("compiles")
        .with_checkpointer(Arc::new(InMemorySaver::new()));
    let config = RunConfig::thread("t-resume");

    let error = graph.invoke(task("write it"), &config).await.expect_err("the run dies");
    assert!(error.to_string().contains("the process died here"), "{error}");
    assert_eq!((model.calls(), write.calls.load(Ordering::SeqCst)), (1, 1));

    let state = graph.continue_run(&config).await.expect("the resume finishes").value;
    assert_eq!(state.answer(), Some("written"));
    assert_eq!(model.calls(), 2, "the first model call was not paid again");
    assert_eq!(write.calls.load(Ordering::SeqCst), 1, "the write was not applied again");
    assert_eq!((state.model_calls, state.tool_calls), (2, 1));
    let keys = write.keys.lock().unwrap().clone();
    assert!(
        keys[0].as_deref().is_some_and(|key| key.starts_with("t-resume:")),
        "{keys:?}"
    );
}

#[tokio::test]
async fn a_subagent_answers_in_a_fresh_context_with_thinking_stripped() {
    use lemmings_agents::subagents::Subagent;
    let inner = Arc::new(
        ScriptedModel::new("summarizer")
            .tool_call("echo", json!({"text": "src/lib.rs"}))
            .text("<think>let me see</think>It is defined in src/lib.rs, line 3, and it is used twice in the tests."),
    );
    let ask = Subagent::new(
        "ask",
        "Ask a quick question about the code.",
        "summarizer",
        40,
        Agent::new("ask", inner.clone()).with_tools([Echo::new("echo", false) as Arc<dyn Tool>]),
    )
    .expect("compiles");
    assert_eq!(ask.role(), Some("summarizer"));
    let outer = Arc::new(
        ScriptedModel::new("primary")
            .tool_call("ask", json!({"query": "where is foo defined?"}))
            .text("ok"),
    );
    let agent = Agent::new("implementor", outer.clone()).with_tools([Arc::new(ask) as Arc<dyn Tool>]);
    let state = run(agent, "long private context that the subagent must not see").await;
    check(
        &state,
        expect![[r#"
            user (Task): long private context that the subagent must not see
            assistant: "" calls [ask#call_1({"query":"where is foo defined?"})]
            tool ask#call_1: It is defined in src/lib.rs, line 3, an…
            assistant: "ok" calls []
            -- stop Some(Answered), model calls 2, tool calls 1, reprompts 0, output none"#]],
    );
    let asked = inner.requests()[0].clone();
    assert_eq!(
        asked.messages,
        [ChatMessage::user("where is foo defined?")],
        "a fresh context"
    );
}

#[tokio::test]
async fn two_calls_of_a_side_effecting_subagent_never_share_an_idempotency_key() {
    use lemmings_agents::subagents::Subagent;
    // Each coder call writes at the first step of its own loop: the same step, the same task
    // position. Keyed only by those, the second write would be taken for the first one.
    let writer = Echo::new("write", true);
    let inner = Arc::new(
        ScriptedModel::new("primary")
            .tool_call("write", json!({"text": "a.txt"}))
            .text("wrote a.txt")
            .tool_call("write", json!({"text": "b.txt"}))
            .text("wrote b.txt"),
    );
    let coder = Subagent::new(
        "coder",
        "Make a change.",
        "primary",
        200,
        Agent::new("coder", inner).with_tools([writer.clone() as Arc<dyn Tool>]),
    )
    .expect("compiles")
    .with_side_effects();
    let first = coder
        .call(json!({"query": "write a"}), &CallContext::keyed("impl-step-3-a"))
        .await;
    let second = coder
        .call(json!({"query": "write b"}), &CallContext::keyed("impl-step-5-b"))
        .await;
    assert_eq!(
        (first.text.as_str(), second.text.as_str()),
        ("wrote a.txt", "wrote b.txt")
    );
    let keys: Vec<String> = writer.keys.lock().unwrap().iter().flatten().cloned().collect();
    assert_eq!(keys.len(), 2, "both keyed writes ran: {keys:?}");
    assert_ne!(keys[0], keys[1], "each call's writes have their own key");
    assert!(
        keys[0].contains("impl-step-3-a") && keys[1].contains("impl-step-5-b"),
        "{keys:?}"
    );
}
