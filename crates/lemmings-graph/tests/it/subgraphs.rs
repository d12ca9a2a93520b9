//! Subgraphs beyond C12/C31: mapped state, nesting, commands to the parent from a mapped child.

use std::sync::Arc;

use lemmings_graph::*;
use serde::{Deserialize, Serialize};

use crate::common::*;

/// The child's own state: it knows nothing of the parent's.
#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Research {
    question: String,
    #[reducer(append)]
    notes: Vec<String>,
    answer: String,
}

#[derive(Clone, Debug, PartialEq)]
struct Answer(String);

impl FromState<Research> for Answer {
    fn from_state(state: Arc<Research>) -> Self {
        Answer(state.answer.clone())
    }
}

/// A child that takes notes, asks a human, then answers.
fn research(trace: &Trace) -> CompiledGraph<Research, ResearchUpdate, Answer> {
    let mut child = StateGraph::<Research>::named("research");
    let t = trace.clone();
    child.add_node("gather", move |state: Arc<Research>, ctx: Ctx| {
        t.record(&ctx);
        async move { Ok::<_, NodeError>(ResearchUpdate::default().notes(vec![format!("about {}", state.question)])) }
    });
    let t = trace.clone();
    child.add_node("confirm", move |state: Arc<Research>, ctx: Ctx| {
        t.record(&ctx);
        async move {
            let ok: bool = ctx.interrupt(format!("use {} notes?", state.notes.len()))?;
            let answer = if ok {
                format!("{} ({})", state.question, state.notes.join(", "))
            } else {
                "declined".into()
            };
            Ok(ResearchUpdate::default().answer(answer))
        }
    });
    child.add_edge(START, "gather").add_edge("gather", "confirm");
    child.with_output::<Answer>().compile().unwrap()
}

#[tokio::test]
async fn mapped_subgraph_pauses_the_parent_and_continues_from_its_own_checkpoint() {
    let trace = Trace::default();
    let mut parent = StateGraph::<Log>::new();
    parent.add_node("ask", logger(&trace));
    parent.add_subgraph_mapped(
        "research",
        research(&trace),
        |state: &Log| ResearchUpdate::default().question(format!("q{}", state.log.len())),
        |answer: Answer| LogUpdate::default().log(vec![format!("answer: {}", answer.0)]),
    );
    parent.add_edge(START, "ask").add_edge("ask", "research");
    let parent = parent.compile().unwrap().with_checkpointer(CountingSaver::new());
    let cfg = RunConfig::thread("t");

    let paused = parent.invoke(LogUpdate::default(), &cfg).await.unwrap();
    assert_eq!(paused.interrupts.len(), 1);
    assert_eq!(paused.interrupts[0].value, serde_json::json!("use 1 notes?"));
    assert!(
        paused.interrupts[0].node.starts_with("research:"),
        "{}",
        paused.interrupts[0].node
    );
    assert!(
        paused.interrupts[0].node.ends_with("|confirm"),
        "{}",
        paused.interrupts[0].node
    );
    assert_eq!(paused.next, ["research"]);

    let done = parent.resume(Resume::value(true), &cfg).await.unwrap();
    assert_eq!(done.value.log, ["ask", "answer: q1 (about q1)"]);
    // The child's first node ran once: on resume it continued from its own checkpoint.
    assert_eq!(
        (trace.count("ask"), trace.count("gather"), trace.count("confirm")),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn nested_subgraphs_pause_and_resume_through_every_level() {
    let trace = Trace::default();
    // inner: one node that asks.
    let mut inner = StateGraph::<Log>::named("inner");
    let t = trace.clone();
    inner.add_node("deep", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        async move {
            let word: String = ctx.interrupt("word?")?;
            Ok::<_, NodeError>(log(&[&format!("deep:{word}")]))
        }
    });
    inner.add_edge(START, "deep");
    // middle: a node, then the inner graph.
    let mut middle = StateGraph::<Log>::named("middle");
    middle.add_node("mid", logger(&trace));
    middle.add_subgraph("inner", inner.compile().unwrap());
    middle.add_edge(START, "mid").add_edge("mid", "inner");
    // outer: a node, then the middle graph.
    let mut outer = StateGraph::<Log>::named("outer");
    outer.add_node("top", logger(&trace));
    outer.add_subgraph("middle", middle.compile().unwrap());
    outer.add_edge(START, "top").add_edge("top", "middle");
    let saver = CountingSaver::new();
    let outer = outer.compile().unwrap().with_checkpointer(saver.clone());
    let cfg = RunConfig::thread("t");

    let paused = outer.invoke(LogUpdate::default(), &cfg).await.unwrap();
    let interrupt = &paused.interrupts[0];
    // The namespace nests: middle:<task>|inner:<task>|deep.
    let parts: Vec<&str> = interrupt.node.split('|').collect();
    assert_eq!(parts.len(), 3, "{}", interrupt.node);
    assert!(parts[0].starts_with("middle:") && parts[1].starts_with("inner:") && parts[2] == "deep");
    let done = outer
        .resume(Resume::by_id([(interrupt.id.clone(), "bird")]), &cfg)
        .await
        .unwrap();
    // Net changes flow up once per level: nothing is counted twice.
    assert_eq!(done.value.log, ["top", "mid", "deep:bird"]);
    assert_eq!((trace.count("top"), trace.count("mid"), trace.count("deep")), (1, 1, 2));
    // Each level keeps its own history under its namespace.
    let inner_ns = format!("{}|{}", parts[0], parts[1]);
    let inner_history = saver.list("t", &inner_ns, &ListOptions::default()).await.unwrap();
    assert_eq!(inner_history.len(), 3, "input, loop(0), loop(1) of the inner graph");
    let parents = &inner_history[0].checkpoint.metadata["parents"];
    assert_eq!(
        parents.as_object().unwrap().len(),
        2,
        "the root and the middle level: {parents}"
    );
}

#[tokio::test]
async fn a_mapped_child_can_command_its_parent() {
    let mut child = StateGraph::<Research>::named("child");
    child.add_node("escalate", |_s: Arc<Research>, _ctx: Ctx| async {
        Ok::<_, NodeError>(
            Command::<Research>::to_parent()
                .goto("human")
                .parent_update(serde_json::json!({"log": ["escalated"]})),
        )
    });
    child.add_edge(START, "escalate");
    let trace = Trace::default();
    let mut parent = StateGraph::<Log>::new();
    parent.add_subgraph_mapped(
        "child",
        child.compile().unwrap(),
        |_s: &Log| ResearchUpdate::default(),
        |_r: Research| LogUpdate::default().log(vec!["child finished".into()]),
    );
    parent.add_node("human", logger(&trace));
    parent.add_edge(START, "child");
    let parent = parent.compile_with(CompileOptions::default());
    // `human` is reached only through the child's command, so it is declared as a destination.
    assert!(
        matches!(parent, Err(CompileError { .. })),
        "undeclared command targets are unreachable"
    );
    let mut parent = StateGraph::<Log>::new();
    let mut child = StateGraph::<Research>::named("child");
    child.add_node("escalate", |_s: Arc<Research>, _ctx: Ctx| async {
        Ok::<_, NodeError>(
            Command::<Research>::to_parent()
                .goto("human")
                .parent_update(serde_json::json!({"log": ["escalated"]})),
        )
    });
    child.add_edge(START, "escalate");
    parent
        .add_subgraph_mapped(
            "child",
            child.compile().unwrap(),
            |_s: &Log| ResearchUpdate::default(),
            |_r: Research| LogUpdate::default().log(vec!["child finished".into()]),
        )
        .destinations(["human"]);
    parent.add_node("human", logger(&trace));
    parent.add_edge(START, "child");
    let parent = parent.compile().unwrap();
    let out = parent
        .invoke(LogUpdate::default(), &RunConfig::default())
        .await
        .unwrap();
    // The command's update replaces the child's output, and its goto routes in the parent.
    assert_eq!(out.value.log, ["escalated", "human"]);
    assert_eq!(trace.steps(), "[human]");
}

#[tokio::test]
async fn a_parent_update_that_does_not_fit_the_parent_fails_the_node() {
    let mut child = StateGraph::<Log>::named("child");
    child.add_node("bad", |_s: Arc<Log>, _ctx: Ctx| async {
        Ok::<_, NodeError>(Command::<Log>::to_parent().parent_update(serde_json::json!({"no_such_field": 1})))
    });
    child.add_edge(START, "bad");
    let mut parent = StateGraph::<Log>::new();
    parent.add_subgraph("sub", child.compile().unwrap());
    parent.add_edge(START, "sub");
    let err = parent
        .compile()
        .unwrap()
        .invoke(LogUpdate::default(), &RunConfig::default())
        .await
        .unwrap_err();
    assert_eq!(err.node_failure().map(|f| f.node.as_str()), Some("sub"));
    assert!(err.to_string().contains("does not fit the parent's state"), "{err}");
    assert!(err.to_string().contains("no_such_field"), "{err}");
}

#[tokio::test]
async fn a_command_to_the_parent_at_the_root_is_a_usage_error() {
    let mut g = StateGraph::<Log>::named("root");
    g.add_node("a", |_s: Arc<Log>, _ctx: Ctx| async {
        Ok::<_, NodeError>(Command::<Log>::to_parent().goto("x"))
    });
    g.add_edge(START, "a");
    let err = g
        .compile()
        .unwrap()
        .invoke(LogUpdate::default(), &RunConfig::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage);
    assert_eq!(
        err.to_string(),
        "a node of graph `root` returned Command::to_parent(), but the graph is not running as a subgraph"
    );
}

#[tokio::test]
async fn subgraph_with_judges_the_child_against_the_parent_and_can_fail() {
    let trace = Trace::default();
    let mut parent = StateGraph::<Log>::new();
    parent.add_node("ask", logger(&trace));
    parent.add_subgraph_with(
        "research",
        research(&trace),
        |state: &Log| match state.log.len() {
            0 => Err(NodeError::msg("nothing to research")),
            n => Ok(ResearchUpdate::default().question(format!("q{n}"))),
        },
        // The parent's state the node started from is there to judge the child's answer.
        |state: &Log, answer: Answer| {
            Ok(LogUpdate::default().log(vec![format!("answer after {:?}: {}", state.log, answer.0)]))
        },
    );
    parent.add_edge(START, "ask").add_edge("ask", "research");
    let parent = parent.compile().unwrap().with_checkpointer(CountingSaver::new());
    let cfg = RunConfig::thread("t");
    parent.invoke(LogUpdate::default(), &cfg).await.unwrap();
    let done = parent.resume(Resume::value(true), &cfg).await.unwrap();
    assert_eq!(done.value.log, ["ask", "answer after [\"ask\"]: q1 (about q1)"]);

    // A mapping's error is the node's error, naming the node.
    let mut failing = StateGraph::<Log>::new();
    failing.add_subgraph_with(
        "research",
        research(&trace),
        |_: &Log| Err::<ResearchUpdate, _>(NodeError::msg("nothing to research")),
        |_: &Log, _: Answer| Ok(LogUpdate::default()),
    );
    failing.add_edge(START, "research");
    let error = failing
        .compile()
        .unwrap()
        .invoke(LogUpdate::default(), &RunConfig::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("research") && error.contains("nothing to research"),
        "{error}"
    );
}
