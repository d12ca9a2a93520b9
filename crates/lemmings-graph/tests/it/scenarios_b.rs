//! LangGraph conformance scenarios C18–C34 (`/work/shared/reference/langgraph-semantics.md` §8),
//! ported to lemmings-graph. Each test quotes its scenario row; where Lemmings deliberately differs
//! from LangGraph, the comment says so and the test asserts the Lemmings behaviour.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use lemmings_graph::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A thread's checkpoints, oldest first, as `source(step)`.
fn sources<S>(history: &[StateSnapshot<S>]) -> Vec<String> {
    history
        .iter()
        .rev()
        .map(|s| format!("{}({})", s.source.map_or("none", Source::as_str), s.step))
        .collect()
}

async fn history<S: State, I, O>(graph: &CompiledGraph<S, I, O>, cfg: &RunConfig) -> Vec<StateSnapshot<S>> {
    graph
        .get_state_history(cfg, &ListOptions::default())
        .await
        .expect("get_state_history")
}

/// Reads every event of a stream (until the run drops its sender), then the run's output.
async fn collect<O>(mut stream: EventStream<O>) -> (Vec<Event>, Result<Output<O>, GraphError>) {
    let mut events = Vec::new();
    let drained = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = stream.next().await {
            events.push(event);
        }
    })
    .await;
    assert!(
        drained.is_ok(),
        "the event stream did not end within 20s; events so far: {events:#?}"
    );
    let output = stream.finish().await;
    (events, output)
}

/// An event's namespace as node names: `""` for the root, `child` for `child:<task id>`.
fn ns_label(event: &Event) -> String {
    event
        .ns
        .iter()
        .map(|segment| segment.split(':').next().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("|")
}

/// A node that appends its name after failing its first attempt (the flag is shared by runs).
fn fails_once(
    trace: &Trace,
) -> impl Fn(Arc<Log>, Ctx) -> std::future::Ready<Result<LogUpdate, NodeError>> + Send + Sync + 'static {
    let trace = trace.clone();
    let failed = Arc::new(AtomicBool::new(false));
    move |_state, ctx| {
        trace.record(&ctx);
        if failed.swap(true, Ordering::SeqCst) {
            std::future::ready(Ok(log(&[ctx.node()])))
        } else {
            std::future::ready(Err(NodeError::msg(format!("{} failed", ctx.node()))))
        }
    }
}

/// START → a → b → c → END over `Log`, each node appending its name.
fn chain(trace: &Trace) -> StateGraph<Log> {
    let mut g = StateGraph::<Log>::new();
    for n in ["a", "b", "c"] {
        g.add_node(n, logger(trace));
    }
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", "c")
        .add_edge("c", END);
    g
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Messages (C19, C33)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ToolCall {
    id: String,
    name: String,
    args: (i64, i64),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Msg {
    id: Option<String>,
    role: String,
    text: String,
    #[serde(default)]
    tool_calls: Vec<ToolCall>,
    #[serde(default)]
    tool_call_id: Option<String>,
}

impl Message for Msg {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn set_id(&mut self, id: String) {
        self.id = Some(id);
    }
}

fn msg(role: &str, id: Option<&str>, text: &str) -> Msg {
    Msg {
        id: id.map(str::to_owned),
        role: role.to_owned(),
        text: text.to_owned(),
        tool_calls: Vec::new(),
        tool_call_id: None,
    }
}

fn human(id: &str, text: &str) -> Msg {
    msg("human", Some(id), text)
}

fn ai(text: &str, id: &str) -> Msg {
    msg("ai", Some(id), text)
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Chat {
    #[reducer(messages)]
    messages: Vec<Msg>,
}

// ---------------------------------------------------------------------------------------------
// C18: input / output / private schemas
// ---------------------------------------------------------------------------------------------

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Overall {
    question: String,
    answer: String,
    scratch: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct In {
    question: String,
}

impl From<In> for OverallUpdate {
    fn from(input: In) -> Self {
        OverallUpdate::default().question(input.question)
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Out {
    answer: String,
}

impl FromState<Overall> for Out {
    fn from_state(state: Arc<Overall>) -> Self {
        Out {
            answer: state.answer.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pv {
    scratch: String,
}

/// C18 | Overall(question, answer), input_schema In(question), output_schema Out(answer), private
/// Pv(scratch); n1(In)→Pv, n2(Pv)→Out | `{question:"hi"}` | `{answer:"A:hi!"}` only
#[tokio::test]
async fn c18_input_output_private_state() {
    let trace = Trace::default();
    let mut g = StateGraph::<Overall>::new().with_input::<In>().with_output::<Out>();
    let t = trace.clone();
    g.add_node_mapped(
        "n1",
        |s: &Overall| In {
            question: s.question.clone(),
        },
        move |input: In, ctx: Ctx| {
            t.record(&ctx);
            async move { Ok::<_, NodeError>(OverallUpdate::default().scratch(format!("{}!", input.question))) }
        },
    );
    let t = trace.clone();
    g.add_node_mapped(
        "n2",
        |s: &Overall| Pv {
            scratch: s.scratch.clone(),
        },
        move |pv: Pv, ctx: Ctx| {
            t.record(&ctx);
            async move { Ok::<_, NodeError>(OverallUpdate::default().answer(format!("A:{}", pv.scratch))) }
        },
    );
    g.add_edge(START, "n1").add_edge("n1", "n2").add_edge("n2", END);
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");
    let out = g.invoke(In { question: "hi".into() }, &cfg).await.unwrap();
    assert_eq!(out.value, Out { answer: "A:hi!".into() });
    assert!(out.is_done());
    assert_eq!(trace.steps(), "[n1],[n2]");
    // The private channel is part of the thread's state, just not of the output.
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(
        state.values,
        Overall {
            question: "hi".into(),
            answer: "A:hi!".into(),
            scratch: "hi!".into(),
        }
    );
}

// ---------------------------------------------------------------------------------------------
// C19: add_messages
// ---------------------------------------------------------------------------------------------

/// C19 | MessagesState; bot returns `[AI("v2",id=ai1), Remove(h0)]` | `[H(h0),H(h1),AI(ai1,"v1")]` |
/// `[(h1,keep),(ai1,v2)]`
#[tokio::test]
async fn c19_messages_upsert_and_remove() {
    let trace = Trace::default();
    let mut g = StateGraph::<Chat>::new();
    let t = trace.clone();
    g.add_node("bot", move |_s: Arc<Chat>, ctx: Ctx| {
        t.record(&ctx);
        async move {
            Ok::<_, NodeError>(ChatUpdate::default().messages(vec![
                MessageUpdate::Upsert(ai("v2", "ai1")),
                MessageUpdate::Remove("h0".into()),
            ]))
        }
    });
    g.add_edge(START, "bot").add_edge("bot", END);
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");
    let input = ChatUpdate::default().messages(vec![
        MessageUpdate::from(human("h0", "drop")),
        MessageUpdate::from(human("h1", "keep")),
        MessageUpdate::from(ai("v1", "ai1")),
    ]);
    let out = g.invoke(input, &cfg).await.unwrap();
    let expected = vec![human("h1", "keep"), ai("v2", "ai1")];
    assert_eq!(out.value.messages, expected);
    assert_eq!(trace.steps(), "[bot]");
    // The same list read back from the checkpoint (the saved writes replay to the same value).
    assert_eq!(g.get_state(&cfg).await.unwrap().values.messages, expected);
}

// ---------------------------------------------------------------------------------------------
// C20: Overwrite
// ---------------------------------------------------------------------------------------------

/// C20 | a returns `{log: Overwrite(["only"])}` | `{log:[x,y]}` | `["only"]`
#[tokio::test]
async fn c20_overwrite_bypasses_reducer() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    let t = trace.clone();
    g.add_node("a", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        async move { Ok::<_, NodeError>(LogUpdate::default().overwrite_log(vec!["only".to_owned()])) }
    });
    g.add_edge(START, "a").add_edge("a", END);
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");
    let out = g.invoke(log(&["x", "y"]), &cfg).await.unwrap();
    assert_eq!(out.value.log, ["only"]);
    assert_eq!(trace.steps(), "[a]");
    assert_eq!(g.get_state(&cfg).await.unwrap().values.log, ["only"]);
}

// ---------------------------------------------------------------------------------------------
// C21, C22: failure and resume
// ---------------------------------------------------------------------------------------------

/// C21 | a→{b,c}, `add_edge([b,c],d)`; c fails once; then `invoke(None)` | after the failure: next
/// `(c,)`, values `[a,b]`, pending `log,join,__error__`, 3 checkpoints. After resume: `[a,b,c,d]`,
/// runs a1 b1 c2 d1, 5 checkpoints
#[tokio::test]
async fn c21_parallel_failure_resume_keeps_sibling_writes() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&trace));
    g.add_node("b", logger(&trace));
    g.add_node("c", fails_once(&trace));
    g.add_node("d", logger(&trace));
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_join(["b", "c"], "d")
        .add_edge("d", END);
    let saver = Arc::new(InMemorySaver::new());
    let g = g.compile().unwrap().with_checkpointer(saver.clone());
    let cfg = RunConfig::thread("t");

    let err = g.invoke(LogUpdate::default(), &cfg).await.unwrap_err();
    match &err {
        GraphError::Node(failure) => {
            assert_eq!((failure.node.as_str(), failure.step), ("c", 2), "{err}");
            assert_eq!(failure.error.to_string(), "c failed");
        }
        other => panic!("expected a node failure, got {other:?}"),
    }
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.next, ["c"]);
    assert_eq!(state.values.log, ["a", "b"]);
    assert_eq!(sources(&history(&g, &cfg).await), ["input(-1)", "loop(0)", "loop(1)"]);
    // Pending writes of the head checkpoint. LangGraph also stores b's `join:b+c:d` write; in
    // Lemmings the join barrier is control state derived at the barrier, so b saves only `log`.
    let head = saver.get("t", "", None).await.unwrap().expect("a head checkpoint");
    let pending: Vec<(String, Vec<String>)> = head
        .pending_writes
        .iter()
        .map(|w| (w.node.clone(), w.writes.iter().map(|(c, _)| c.clone()).collect()))
        .collect();
    assert_eq!(
        pending,
        [
            ("b".to_owned(), strings(&["log"])),
            ("c".to_owned(), strings(&[special::ERROR]))
        ]
    );
    let tasks: Vec<(String, bool, Option<String>)> = state
        .tasks
        .iter()
        .map(|t| (t.name.clone(), t.done, t.error.clone()))
        .collect();
    assert_eq!(
        tasks,
        [
            ("b".to_owned(), true, None),
            ("c".to_owned(), false, Some("c failed".to_owned()))
        ]
    );

    let out = g.continue_run(&cfg).await.unwrap();
    assert_eq!(out.value.log, ["a", "b", "c", "d"]);
    assert!(out.is_done());
    assert_eq!(
        (trace.count("a"), trace.count("b"), trace.count("c"), trace.count("d")),
        (1, 1, 2, 1)
    );
    assert_eq!(trace.steps(), "[a],[b,c,c],[d]", "c ran twice in superstep 2");
    assert_eq!(
        sources(&history(&g, &cfg).await),
        ["input(-1)", "loop(0)", "loop(1)", "loop(2)", "loop(3)"]
    );
}

/// C22 | a→b→c; b fails once; `invoke(None)` | after the failure: next `(b,)`, 3 checkpoints.
/// After resume: `[a,b,c]`, runs a1 b2 c1, 5 checkpoints (no new input checkpoint)
#[tokio::test]
async fn c22_chain_failure_resume() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&trace));
    g.add_node("b", fails_once(&trace));
    g.add_node("c", logger(&trace));
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", "c")
        .add_edge("c", END);
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");

    let err = g.invoke(LogUpdate::default(), &cfg).await.unwrap_err();
    assert!(
        matches!(&err, GraphError::Node(f) if f.node == "b" && f.step == 2),
        "{err:?}"
    );
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.next, ["b"]);
    assert_eq!(state.values.log, ["a"]);
    assert_eq!(sources(&history(&g, &cfg).await), ["input(-1)", "loop(0)", "loop(1)"]);

    let out = g.continue_run(&cfg).await.unwrap();
    assert_eq!(out.value.log, ["a", "b", "c"]);
    assert!(out.is_done());
    assert_eq!((trace.count("a"), trace.count("b"), trace.count("c")), (1, 2, 1));
    assert_eq!(
        sources(&history(&g, &cfg).await),
        ["input(-1)", "loop(0)", "loop(1)", "loop(2)", "loop(3)"]
    );
}

// ---------------------------------------------------------------------------------------------
// C23–C25: interrupts
// ---------------------------------------------------------------------------------------------

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Hitl {
    #[reducer(append)]
    log: Vec<String>,
    ans: String,
}

/// C23 | pre→ask(interrupt)→post; `Command(resume="Bob")` | 1st return has `__interrupt__` (value
/// "name?"), next `(ask,)`, 3 checkpoints. Final `ans=Bob`, log `[pre,ask,post]`; ask ran 2 times;
/// 5 checkpoints
#[tokio::test]
async fn c23_interrupt_and_resume() {
    let trace = Trace::default();
    let mut g = StateGraph::<Hitl>::new();
    for name in ["pre", "post"] {
        let t = trace.clone();
        g.add_node(name, move |_s: Arc<Hitl>, ctx: Ctx| {
            t.record(&ctx);
            let update = HitlUpdate::default().log(vec![ctx.node().to_owned()]);
            async move { Ok::<_, NodeError>(update) }
        });
    }
    let t = trace.clone();
    g.add_node("ask", move |_s: Arc<Hitl>, ctx: Ctx| {
        t.record(&ctx);
        async move {
            let name: String = ctx.interrupt("name?")?;
            Ok::<_, NodeError>(HitlUpdate::default().log(vec!["ask".to_owned()]).ans(name))
        }
    });
    g.add_edge(START, "pre")
        .add_edge("pre", "ask")
        .add_edge("ask", "post")
        .add_edge("post", END);
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");

    let out = g.invoke(HitlUpdate::default(), &cfg).await.unwrap();
    assert_eq!(out.interrupts.len(), 1);
    assert_eq!(out.interrupts[0].value, json!("name?"));
    assert_eq!(out.interrupts[0].node, "ask");
    assert_eq!(out.next, ["ask"]);
    assert_eq!(out.value.log, ["pre"]);
    assert_eq!(sources(&history(&g, &cfg).await), ["input(-1)", "loop(0)", "loop(1)"]);
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.next, ["ask"]);
    assert_eq!(state.interrupts, out.interrupts);

    let out = g.resume(Resume::value("Bob"), &cfg).await.unwrap();
    assert!(out.is_done());
    assert_eq!(out.value.ans, "Bob");
    assert_eq!(out.value.log, ["pre", "ask", "post"]);
    assert_eq!((trace.count("pre"), trace.count("ask"), trace.count("post")), (1, 2, 1));
    assert_eq!(
        sources(&history(&g, &cfg).await),
        ["input(-1)", "loop(0)", "loop(1)", "loop(2)", "loop(3)"]
    );
}

/// C24 | one node with 2 `interrupt()` calls; resume "A" then "B" | interrupts `q1` then `q2`;
/// result `AB`; node ran 3 times
#[tokio::test]
async fn c24_two_interrupts_in_one_node() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    let t = trace.clone();
    g.add_node("n", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        async move {
            let first: String = ctx.interrupt("q1")?;
            let second: String = ctx.interrupt("q2")?;
            Ok::<_, NodeError>(log(&[&format!("{first}{second}")]))
        }
    });
    g.add_edge(START, "n").add_edge("n", END);
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");

    let out = g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    let values: Vec<_> = out.interrupts.iter().map(|i| i.value.clone()).collect();
    assert_eq!(values, [json!("q1")]);
    assert_eq!(out.next, ["n"]);

    let out = g.resume(Resume::value("A"), &cfg).await.unwrap();
    let values: Vec<_> = out.interrupts.iter().map(|i| i.value.clone()).collect();
    assert_eq!(values, [json!("q2")]);
    assert_eq!(out.next, ["n"]);
    assert!(out.value.log.is_empty());

    let out = g.resume(Resume::value("B"), &cfg).await.unwrap();
    assert!(out.is_done());
    assert_eq!(out.value.log, ["AB"]);
    assert_eq!(trace.count("n"), 3);
}

/// C25 | START→p1,p2, each interrupting | 2 interrupts. A scalar resume raises RuntimeError. A map
/// `{id: v}` gives `[p1:P1?, p2:P2?]`
///
/// Lemmings: the scalar resume is `GraphError::Usage` naming the pending ids. Also asserted (a
/// Lemmings improvement over LangGraph, where the rest re-run and interrupt again): answering only
/// one of two pending interrupts re-runs only that task; the other stays pending without running.
#[tokio::test]
async fn c25_parallel_interrupts_resume_by_id() {
    fn graph(trace: &Trace) -> CompiledGraph<Log> {
        let mut g = StateGraph::<Log>::new();
        for (name, question) in [("p1", "P1?"), ("p2", "P2?")] {
            let t = trace.clone();
            g.add_node(name, move |_s: Arc<Log>, ctx: Ctx| {
                t.record(&ctx);
                async move {
                    let answer: String = ctx.interrupt(question)?;
                    Ok::<_, NodeError>(log(&[&format!("{}:{answer}", ctx.node())]))
                }
            });
            g.add_edge(START, name).add_edge(name, END);
        }
        g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()))
    }
    /// `(node, id, value)` of each interrupt, by node.
    fn pending(interrupts: &[Interrupt]) -> Vec<(String, String, serde_json::Value)> {
        let mut list: Vec<_> = interrupts
            .iter()
            .map(|i| (i.node.clone(), i.id.clone(), i.value.clone()))
            .collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    // Both answered at once.
    let trace = Trace::default();
    let g = graph(&trace);
    let cfg = RunConfig::thread("t");
    let out = g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    let asked = pending(&out.interrupts);
    let nodes: Vec<(&str, &serde_json::Value)> = asked.iter().map(|(n, _, v)| (n.as_str(), v)).collect();
    assert_eq!(nodes, [("p1", &json!("P1?")), ("p2", &json!("P2?"))]);
    assert_ne!(asked[0].1, asked[1].1, "interrupt ids must differ");
    assert_eq!(out.next, ["p1", "p2"]);

    let err = g.resume(Resume::value("x"), &cfg).await.unwrap_err();
    match &err {
        GraphError::Usage(message) => {
            assert!(
                message.contains(&asked[0].1) && message.contains(&asked[1].1),
                "the error should name both pending ids: {message}"
            );
        }
        other => panic!("expected a usage error, got {other:?}"),
    }
    assert_eq!((trace.count("p1"), trace.count("p2")), (1, 1));

    let answers = asked.iter().map(|(_, id, value)| (id.clone(), value.clone()));
    let out = g.resume(Resume::by_id(answers), &cfg).await.unwrap();
    assert!(out.is_done());
    assert_eq!(out.value.log, ["p1:P1?", "p2:P2?"]);
    assert_eq!((trace.count("p1"), trace.count("p2")), (2, 2));
    assert_eq!(trace.steps(), "[p1,p1,p2,p2]");
    assert_eq!(sources(&history(&g, &cfg).await), ["input(-1)", "loop(0)", "loop(1)"]);

    // Only p1 answered: p1 runs again and finishes; p2 stays pending and does not run.
    let trace = Trace::default();
    let g = graph(&trace);
    let cfg = RunConfig::thread("t2");
    let out = g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    let asked = pending(&out.interrupts);
    let out = g
        .resume(Resume::by_id([(asked[0].1.clone(), json!("one"))]), &cfg)
        .await
        .unwrap();
    assert_eq!(pending(&out.interrupts), asked[1..]);
    // Checked last (below), so that the rest of the scenario runs whatever it says.
    let partial_next = out.next.clone();
    assert_eq!((trace.count("p1"), trace.count("p2")), (2, 1));
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.next, ["p2"]);
    assert_eq!(pending(&state.interrupts), asked[1..]);
    assert_eq!(state.values.log, ["p1:one"], "p1's saved write shows in the snapshot");

    // One interrupt left: a scalar answer is now unambiguous; p1 is not run again.
    let out = g.resume(Resume::value("two"), &cfg).await.unwrap();
    assert!(out.is_done());
    assert_eq!(out.value.log, ["p1:one", "p2:two"]);
    assert_eq!((trace.count("p1"), trace.count("p2")), (2, 2));

    // The partial resume's output must agree with get_state: p1 finished, only p2 runs next.
    assert_eq!(
        partial_next,
        ["p2"],
        "Output::next after answering only p1 (get_state().next said [\"p2\"])"
    );
}

// ---------------------------------------------------------------------------------------------
// C26–C28: breakpoints and update_state
// ---------------------------------------------------------------------------------------------

/// Runs the 3-node chain with a breakpoint that pauses it between a and b (set at compile time
/// through `options`, or per call through `cfg`), then continues it: C26 and C27 expect the same.
async fn pauses_between_a_and_b(options: CompileOptions, cfg: RunConfig, label: &str) {
    let trace = Trace::default();
    let options = CompileOptions {
        checkpointer: Some(Arc::new(InMemorySaver::new())),
        ..options
    };
    let g = chain(&trace).compile_with(options).unwrap();
    let out = g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    assert_eq!(out.value.log, ["a"], "{label}");
    assert_eq!(out.next, ["b"], "{label}");
    assert!(
        out.interrupts.is_empty(),
        "{label}: a breakpoint raises no interrupt value"
    );
    assert_eq!(trace.steps(), "[a]", "{label}");
    assert_eq!(g.get_state(&cfg).await.unwrap().next, ["b"], "{label}");

    let out = g.continue_run(&cfg).await.unwrap();
    assert_eq!(out.value.log, ["a", "b", "c"], "{label}");
    assert!(out.is_done(), "{label}");
    assert_eq!(trace.steps(), "[a],[b],[c]", "{label}");
    assert_eq!(
        sources(&history(&g, &cfg).await),
        ["input(-1)", "loop(0)", "loop(1)", "loop(2)", "loop(3)"],
        "{label}"
    );
}

/// C26 | 3-node chain, `interrupt_before=[b]`; then `invoke(None)` | 1st `{log:[a]}` with next
/// `(b,)`; then `[a,b,c]`; 5 checkpoints. Checked with the breakpoint set at compile time and per
/// call.
#[tokio::test]
async fn c26_interrupt_before() {
    let compiled = CompileOptions {
        interrupt_before: vec!["b".into()],
        ..Default::default()
    };
    pauses_between_a_and_b(compiled, RunConfig::thread("t"), "compiled").await;
    let per_call = RunConfig::thread("t").interrupt_before(["b"]);
    pauses_between_a_and_b(CompileOptions::default(), per_call, "per call").await;
}

/// C27 | same with `interrupt_after=[a]` | identical to C26. Checked with the breakpoint set at
/// compile time and per call.
#[tokio::test]
async fn c27_interrupt_after() {
    let compiled = CompileOptions {
        interrupt_after: vec!["a".into()],
        ..Default::default()
    };
    pauses_between_a_and_b(compiled, RunConfig::thread("t"), "compiled").await;
    let per_call = RunConfig::thread("t").interrupt_after(["a"]);
    pauses_between_a_and_b(CompileOptions::default(), per_call, "per call").await;
}

/// C28 | paused before b: `update_state({log:[human]})`, and `as_node="b"` | no as_node: next
/// `(b,)`, source update, step 2, final `[a,human,b,c]`. With as_node=b: next `(c,)`, final
/// `[a,fake-b,c]`
#[tokio::test]
async fn c28_update_state_while_paused() {
    let compile = |trace: &Trace| {
        chain(trace)
            .compile_with(CompileOptions {
                checkpointer: Some(Arc::new(InMemorySaver::new())),
                interrupt_before: vec!["b".into()],
                ..Default::default()
            })
            .unwrap()
    };

    // Without as_node: the update counts as a's (the latest writer); b stays next.
    let trace = Trace::default();
    let g = compile(&trace);
    let cfg = RunConfig::thread("t");
    let out = g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    assert_eq!(out.next, ["b"]);
    let paused = g.get_state(&cfg).await.unwrap();
    let id = g.update_state(&cfg, log(&["human"]), None).await.unwrap();
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.checkpoint_id, Some(id));
    assert_eq!(state.parent_id, paused.checkpoint_id);
    assert_eq!(state.next, ["b"]);
    assert_eq!(state.source, Some(Source::Update));
    assert_eq!(state.step, 2);
    assert_eq!(state.values.log, ["a", "human"]);
    let out = g.continue_run(&cfg).await.unwrap();
    assert!(out.is_done());
    assert_eq!(out.value.log, ["a", "human", "b", "c"]);
    assert_eq!((trace.count("a"), trace.count("b"), trace.count("c")), (1, 1, 1));

    // As b: b's task is consumed and its edge fires, so c is next and b never runs.
    let trace = Trace::default();
    let g = compile(&trace);
    let cfg = RunConfig::thread("t2");
    g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    g.update_state(&cfg, log(&["fake-b"]), Some("b")).await.unwrap();
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.next, ["c"]);
    assert_eq!(state.source, Some(Source::Update));
    assert_eq!(state.step, 2);
    let out = g.continue_run(&cfg).await.unwrap();
    assert!(out.is_done());
    assert_eq!(out.value.log, ["a", "fake-b", "c"]);
    assert_eq!((trace.count("a"), trace.count("b"), trace.count("c")), (1, 0, 1));
}

// ---------------------------------------------------------------------------------------------
// C29: replay and fork
// ---------------------------------------------------------------------------------------------

/// C29 | after C01: `invoke(None, ckpt before b)`; then `update_state(ckpt before b,
/// {log:[forked]})` and `invoke(None, fork)` | replay returns `[a,b,c]`, b and c re-run, a does not;
/// history gains `fork(2), loop(3), loop(4)`. The fork is `source=update`; the branch gives
/// `[a,forked,b,c]`
///
/// Lemmings writes a `fork` checkpoint only when continuing from a checkpoint that is not the
/// thread's latest. Continuing from the fork's `update` checkpoint (the latest) writes none, so
/// that branch adds `update(2), loop(3), loop(4)`.
///
/// The checkpoint "before b" is found the LangGraph way, as the history entry whose `next` is
/// `[b]`: history snapshots (and `get_state` at an explicit checkpoint) show the checkpoint itself,
/// without the pending writes of its tasks (LangGraph applies them only for the latest state).
/// Those snapshot checks run last so that the replay and fork checks run whatever they say.
#[tokio::test]
async fn c29_replay_and_fork() {
    let trace = Trace::default();
    let g = chain(&trace)
        .compile()
        .unwrap()
        .with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");
    let out = g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    assert_eq!(out.value.log, ["a", "b", "c"]);
    let past = history(&g, &cfg).await;
    assert_eq!(
        sources(&past),
        ["input(-1)", "loop(0)", "loop(1)", "loop(2)", "loop(3)"]
    );
    // The checkpoint written after a (source loop, step 1).
    let before_b = past[2].checkpoint_id.unwrap();
    assert_eq!((past[2].source, past[2].step), (Some(Source::Loop), 1));

    // Replay.
    let out = g.continue_run(&cfg.clone().at(before_b)).await.unwrap();
    assert_eq!(out.value.log, ["a", "b", "c"]);
    assert!(out.is_done());
    assert_eq!((trace.count("a"), trace.count("b"), trace.count("c")), (1, 2, 2));
    let after_replay = history(&g, &cfg).await;
    assert_eq!(
        sources(&after_replay),
        [
            "input(-1)",
            "loop(0)",
            "loop(1)",
            "loop(2)",
            "loop(3)",
            "fork(2)",
            "loop(3)",
            "loop(4)"
        ]
    );
    let fork = after_replay.iter().find(|s| s.source == Some(Source::Fork)).unwrap();
    assert_eq!(fork.parent_id, Some(before_b));
    let fork_id = fork.checkpoint_id.unwrap();

    // Fork.
    let forked = g
        .update_state(&cfg.clone().at(before_b), log(&["forked"]), None)
        .await
        .unwrap();
    let update = g.get_state(&cfg.clone().at(forked)).await.unwrap();
    assert_eq!(update.source, Some(Source::Update));
    assert_eq!(update.parent_id, Some(before_b));
    assert_eq!(update.step, 2);
    assert_eq!(update.next, ["b"]);
    assert_eq!(update.values.log, ["a", "forked"]);
    let out = g.continue_run(&cfg.clone().at(forked)).await.unwrap();
    assert_eq!(out.value.log, ["a", "forked", "b", "c"]);
    assert!(out.is_done());
    assert_eq!((trace.count("a"), trace.count("b"), trace.count("c")), (1, 3, 3));
    assert_eq!(
        sources(&history(&g, &cfg).await),
        [
            "input(-1)",
            "loop(0)",
            "loop(1)",
            "loop(2)",
            "loop(3)",
            "fork(2)",
            "loop(3)",
            "loop(4)",
            "update(2)",
            "loop(3)",
            "loop(4)"
        ]
    );
    // The thread's state is its newest branch head.
    assert_eq!(g.get_state(&cfg).await.unwrap().values.log, ["a", "forked", "b", "c"]);

    // History entries are the checkpoints themselves (LangGraph: `get_state_history` and
    // `get_state` with a checkpoint id do not apply pending writes), so `next == [b]` finds the
    // checkpoint before b.
    let all = history(&g, &cfg).await;
    let view = |s: &StateSnapshot<Log>| (s.source, s.step, s.next.clone(), s.values.log.clone());
    let before: Vec<_> = all.iter().filter(|s| s.next == ["b"]).map(view).collect();
    let b = || vec!["b".to_owned()];
    assert_eq!(
        before,
        [
            (Some(Source::Update), 2, b(), strings(&["a", "forked"])),
            (Some(Source::Fork), 2, b(), strings(&["a"])),
            (Some(Source::Loop), 1, b(), strings(&["a"])),
        ],
        "history: {:#?}",
        all.iter().map(view).collect::<Vec<_>>()
    );
    let at = g.get_state(&cfg.clone().at(before_b)).await.unwrap();
    assert_eq!((at.next.clone(), at.values.log.clone()), (b(), strings(&["a"])));
    let at = g.get_state(&cfg.clone().at(fork_id)).await.unwrap();
    assert_eq!((at.next.clone(), at.values.log.clone()), (b(), strings(&["a"])));
}

// ---------------------------------------------------------------------------------------------
// C30: durability
// ---------------------------------------------------------------------------------------------

/// C30 | 3-node chain with durability sync / async / exit | SQLite rows (checkpoints, writes):
/// (5,7) / (5,7) / (1,0)
///
/// Lemmings stores only state-channel writes and commands as pending-write rows; LangGraph also
/// stores its derived trigger channels (`branch:to:x`). So the Lemmings rows are (5,4) / (5,4) /
/// (1,0): the START task's input write plus one row per node.
#[tokio::test]
async fn c30_durability_modes() {
    for (durability, expected, checkpoints) in [
        (
            Durability::Sync,
            (5, 4),
            vec!["input(-1)", "loop(0)", "loop(1)", "loop(2)", "loop(3)"],
        ),
        (
            Durability::Async,
            (5, 4),
            vec!["input(-1)", "loop(0)", "loop(1)", "loop(2)", "loop(3)"],
        ),
        (Durability::Exit, (1, 0), vec!["loop(3)"]),
    ] {
        let trace = Trace::default();
        let saver = CountingSaver::new();
        let g = chain(&trace).compile().unwrap().with_checkpointer(saver.clone());
        let cfg = RunConfig::thread("t").durability(durability);
        let out = g.invoke(LogUpdate::default(), &cfg).await.unwrap();
        assert_eq!(out.value.log, ["a", "b", "c"], "{durability:?}");
        assert_eq!(saver.counts(), expected, "{durability:?}: (checkpoints, write rows)");
        assert_eq!(sources(&history(&g, &cfg).await), checkpoints, "{durability:?}");
        let state = g.get_state(&cfg).await.unwrap();
        assert_eq!(state.values.log, ["a", "b", "c"], "{durability:?}");
        assert!(state.next.is_empty(), "{durability:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// C31: subgraph with an interrupt, streamed
// ---------------------------------------------------------------------------------------------

/// C31 | parent pre→child(s1→s2 interrupt); stream `subgraphs=True`; resume | stream1:
/// `((),pre),(child,s1),(child,__interrupt__),((),__interrupt__)`. stream2: `(child,s2),((),child)`.
/// Final `[pre,pre,s1,s2:ok]`. 4 checkpoints at `""` and 4 at `child:<tid>`
///
/// Lemmings deliberately differs: a subgraph over the same state hands back only its net change,
/// so the final log is `[pre, s1, s2:ok]`.
#[tokio::test]
async fn c31_subgraph_interrupt_stream_and_resume() {
    let trace = Trace::default();
    let mut child = StateGraph::<Log>::named("child_graph");
    child.add_node("s1", logger(&trace));
    let t = trace.clone();
    child.add_node("s2", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        async move {
            let answer: String = ctx.interrupt("continue?")?;
            Ok::<_, NodeError>(log(&[&format!("s2:{answer}")]))
        }
    });
    child.add_edge(START, "s1").add_edge("s1", "s2").add_edge("s2", END);
    let child = child.compile().unwrap();

    let mut parent = StateGraph::<Log>::new();
    parent.add_node("pre", logger(&trace));
    parent.add_subgraph("child", child);
    parent
        .add_edge(START, "pre")
        .add_edge("pre", "child")
        .add_edge("child", END);
    let saver = Arc::new(InMemorySaver::new());
    let g = parent.compile().unwrap().with_checkpointer(saver.clone());
    let cfg = RunConfig::thread("t");

    let describe = |events: &[Event]| -> Vec<(String, String)> {
        events
            .iter()
            .map(|e| {
                let what = match &e.data {
                    EventData::Update { node, .. } => node.clone(),
                    EventData::Interrupt(_) => "__interrupt__".to_owned(),
                    other => format!("{other:?}"),
                };
                (ns_label(e), what)
            })
            .collect()
    };
    let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
        items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    };

    let (events, out) = collect(g.stream(RunInput::New(LogUpdate::default()), &cfg, StreamMode::Updates)).await;
    let out = out.unwrap();
    assert_eq!(
        describe(&events),
        pairs(&[
            ("", "pre"),
            ("child", "s1"),
            ("child", "__interrupt__"),
            ("", "__interrupt__")
        ])
    );
    assert_eq!(out.interrupts.len(), 1);
    assert_eq!(out.interrupts[0].value, json!("continue?"));
    assert_eq!(out.next, ["child"]);
    assert_eq!(out.value.log, ["pre"]);
    let child_ns = events[1].ns[0].clone();
    assert!(child_ns.starts_with("child:"), "{child_ns}");
    assert!(
        events[1..3].iter().all(|e| *e.ns == *std::slice::from_ref(&child_ns)),
        "both child events are in one namespace"
    );
    // The interrupt events carry the child's interrupt (the root one re-raises it).
    for event in &events[2..4] {
        match &event.data {
            EventData::Interrupt(interrupts) => assert_eq!(interrupts, &out.interrupts),
            other => panic!("expected an interrupt, got {other:?}"),
        }
    }

    let (events, out) = collect(g.stream(RunInput::Resume(Resume::value("ok")), &cfg, StreamMode::Updates)).await;
    let out = out.unwrap();
    assert_eq!(describe(&events), pairs(&[("child", "s2"), ("", "child")]));
    assert_eq!(
        *events[0].ns,
        *std::slice::from_ref(&child_ns),
        "the resumed child keeps its namespace"
    );
    match &events[1].data {
        EventData::Update { update, .. } => {
            assert_eq!(
                update.to_json(),
                json!({"log": ["s1", "s2:ok"]}),
                "the child's net change"
            )
        }
        other => panic!("expected an update, got {other:?}"),
    }
    assert!(out.is_done());
    assert_eq!(out.value.log, ["pre", "s1", "s2:ok"]);
    assert_eq!(
        (trace.count("pre"), trace.count("s1"), trace.count("s2")),
        (1, 1, 2),
        "s1 must not re-run on resume"
    );

    let root = saver.list("t", "", &ListOptions::default()).await.unwrap();
    let inner = saver.list("t", &child_ns, &ListOptions::default()).await.unwrap();
    let describe_ckpts = |list: &[CheckpointTuple]| -> Vec<String> {
        list.iter()
            .rev()
            .map(|t| format!("{}({})", t.checkpoint.source, t.checkpoint.step))
            .collect()
    };
    assert_eq!(describe_ckpts(&root), ["input(-1)", "loop(0)", "loop(1)", "loop(2)"]);
    assert_eq!(describe_ckpts(&inner), ["input(-1)", "loop(0)", "loop(1)", "loop(2)"]);
    // Child checkpoints name the root checkpoint whose task ran them.
    let scheduling = root.iter().find(|t| t.checkpoint.step == 1).unwrap().checkpoint.id;
    for tuple in &inner {
        assert_eq!(
            tuple.checkpoint.metadata.get("parents"),
            Some(&json!({"": scheduling.to_string()})),
            "{:?}",
            tuple.checkpoint.metadata
        );
    }
}

// ---------------------------------------------------------------------------------------------
// C32: stream modes and their order
// ---------------------------------------------------------------------------------------------

/// C32 | w (writes custom `{p:1}`) → z; modes values, updates, custom, checkpoints | the exact order
/// in §5: `ckpt(-1), values(input), ckpt(0), custom, updates(w), values, ckpt(1), updates(z),
/// values, ckpt(2)`
#[tokio::test]
async fn c32_stream_mode_order() {
    let mut g = StateGraph::<Log>::new();
    g.add_node("w", |_s: Arc<Log>, ctx: Ctx| async move {
        ctx.emit(json!({"p": 1}));
        Ok::<_, NodeError>(log(&["w"]))
    });
    g.add_node("z", |_s: Arc<Log>, _ctx: Ctx| async { Ok::<_, NodeError>(log(&["z"])) });
    g.add_edge(START, "w").add_edge("w", "z").add_edge("z", END);
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");
    let modes = [
        StreamMode::Values,
        StreamMode::Updates,
        StreamMode::Custom,
        StreamMode::Checkpoints,
    ];
    let (events, out) = collect(g.stream(RunInput::New(log(&["in"])), &cfg, modes)).await;
    assert_eq!(out.unwrap().value.log, ["in", "w", "z"]);
    let described: Vec<String> = events
        .iter()
        .map(|e| {
            let what = match &e.data {
                EventData::Checkpoint(c) => format!("checkpoint {}({}) next={:?}", c.source, e.step, c.next),
                EventData::Values(state) => {
                    format!("values {:?}", state.downcast_ref::<Log>().map(|s| s.log.clone()))
                }
                EventData::Update { node, update, cached } => {
                    format!("updates {node} {} cached={cached}", update.to_json())
                }
                EventData::Custom { node, value } => format!("custom {node} {value}"),
                other => format!("{other:?}"),
            };
            assert!(e.ns.is_empty(), "root events only: {e:?}");
            format!("{:?}: {what}", e.mode)
        })
        .collect();
    assert_eq!(
        described,
        [
            r#"Checkpoints: checkpoint input(-1) next=["__start__"]"#,
            r#"Values: values Some(["in"])"#,
            r#"Checkpoints: checkpoint loop(0) next=["w"]"#,
            r#"Custom: custom w {"p":1}"#,
            r#"Updates: updates w {"log":["w"]} cached=false"#,
            r#"Values: values Some(["in", "w"])"#,
            r#"Checkpoints: checkpoint loop(1) next=["z"]"#,
            r#"Updates: updates z {"log":["z"]} cached=false"#,
            r#"Values: values Some(["in", "w", "z"])"#,
            r#"Checkpoints: checkpoint loop(2) next=[]"#,
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// C33: ReAct loop
// ---------------------------------------------------------------------------------------------

/// C33 | ReAct: model (scripted: 2 tool calls, then a final answer) ⇄ ToolNode, `tools_condition` |
/// `[H("go")]` | updates `model, tools, model`; messages `H, AI(tool_calls), Tool("3"), Tool("12"),
/// AI("done…")`; 5 checkpoints
///
/// The tool calls of one AI message run in one `tools` node (like ToolNode called on the whole
/// message), not one `SendTo` per call, so `tools` makes one update.
#[tokio::test]
async fn c33_react_loop() {
    let mut first = msg("ai", None, "");
    first.tool_calls = vec![
        ToolCall {
            id: "call_1".into(),
            name: "add".into(),
            args: (1, 2),
        },
        ToolCall {
            id: "call_2".into(),
            name: "mul".into(),
            args: (3, 4),
        },
    ];
    let script = Arc::new(Mutex::new(VecDeque::from([first, msg("ai", None, "done: 3 and 12")])));
    let trace = Trace::default();
    let mut g = StateGraph::<Chat>::new();
    let (t, s) = (trace.clone(), Arc::clone(&script));
    g.add_node("model", move |_state: Arc<Chat>, ctx: Ctx| {
        t.record(&ctx);
        let reply = s.lock().unwrap().pop_front();
        async move {
            let reply = reply.ok_or_else(|| NodeError::msg("the model script is exhausted"))?;
            Ok::<_, NodeError>(ChatUpdate::default().messages(vec![MessageUpdate::Upsert(reply)]))
        }
    });
    let t = trace.clone();
    g.add_node("tools", move |state: Arc<Chat>, ctx: Ctx| {
        t.record(&ctx);
        async move {
            let last = state.messages.last().ok_or_else(|| NodeError::msg("no messages"))?;
            let mut results = Vec::new();
            for call in &last.tool_calls {
                let (a, b) = call.args;
                let value = match call.name.as_str() {
                    "add" => a + b,
                    "mul" => a * b,
                    other => return Err(NodeError::msg(format!("unknown tool {other}"))),
                };
                let mut result = msg("tool", None, &value.to_string());
                result.tool_call_id = Some(call.id.clone());
                results.push(MessageUpdate::Upsert(result));
            }
            Ok(ChatUpdate::default().messages(results))
        }
    });
    g.add_edge(START, "model").add_edge("tools", "model");
    g.add_conditional_edges("model", |s: &Chat| {
        if s.messages.last().is_some_and(|m| !m.tool_calls.is_empty()) {
            "tools"
        } else {
            END
        }
    })
    .targets(["tools", END]);
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");

    let input = ChatUpdate::default().messages(vec![MessageUpdate::Upsert(human("h0", "go"))]);
    let (events, out) = collect(g.stream(RunInput::New(input), &cfg, StreamMode::Updates)).await;
    let out = out.unwrap();
    let updates: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::Update { node, .. } => Some(node.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(updates, ["model", "tools", "model"]);
    assert_eq!(trace.steps(), "[model],[tools],[model]");
    assert!(script.lock().unwrap().is_empty());

    let messages = &out.value.messages;
    let summary: Vec<(&str, &str, usize, Option<&str>)> = messages
        .iter()
        .map(|m| {
            (
                m.role.as_str(),
                m.text.as_str(),
                m.tool_calls.len(),
                m.tool_call_id.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("human", "go", 0, None),
            ("ai", "", 2, None),
            ("tool", "3", 0, Some("call_1")),
            ("tool", "12", 0, Some("call_2")),
            ("ai", "done: 3 and 12", 0, None),
        ]
    );
    // Every message got an id, all distinct, and the checkpoint holds the same list.
    let mut ids: Vec<&str> = messages.iter().map(|m| m.id.as_deref().expect("an id")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    assert_eq!(&g.get_state(&cfg).await.unwrap().values.messages, messages);
    assert_eq!(
        sources(&history(&g, &cfg).await),
        ["input(-1)", "loop(0)", "loop(1)", "loop(2)", "loop(3)"]
    );
}

// ---------------------------------------------------------------------------------------------
// C34: error handler
// ---------------------------------------------------------------------------------------------

/// C34 | boom raises; `error_handler` returns `{log:[handled…]}`; static edge boom→after |
/// `{log:["handled boom: boom"]}`; `after` does **not** run
#[tokio::test]
async fn c34_error_handler_replaces_update_and_skips_edges() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    let t = trace.clone();
    g.add_node("boom", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        async move { Err::<LogUpdate, _>(NodeError::msg("boom")) }
    })
    .error_handler(|_state: Arc<Log>, err: NodeError| async move {
        Ok::<_, NodeError>(log(&[&format!("handled boom: {err}")]))
    });
    g.add_node("after", logger(&trace));
    g.add_edge(START, "boom")
        .add_edge("boom", "after")
        .add_edge("after", END);
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");
    let out = g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    assert!(out.is_done());
    assert_eq!(out.value.log, ["handled boom: boom"]);
    assert_eq!(trace.count("boom"), 1);
    assert_eq!(trace.count("after"), 0);
    assert_eq!(trace.steps(), "[boom]");
    assert_eq!(sources(&history(&g, &cfg).await), ["input(-1)", "loop(0)", "loop(1)"]);
}
