//! LangGraph conformance scenarios C01–C17 (`langgraph-semantics.md` §8), confirmed on
//! langgraph 1.2.24. Each test quotes its row of the scenario table.
//!
//! "Steps" are the node supersteps (START's superstep 0 excluded), names sorted within a step.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
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
async fn history<S: State, I, O>(graph: &CompiledGraph<S, I, O>, cfg: &RunConfig) -> Vec<String> {
    let history = graph.get_state_history(cfg, &ListOptions::default()).await.unwrap();
    history
        .iter()
        .rev()
        .map(|s| format!("{}({})", s.source.expect("a saved checkpoint has a source"), s.step))
        .collect()
}

/// Every event of a streamed run, then its output.
async fn drain<O>(mut stream: EventStream<O>) -> (Vec<Event>, Result<Output<O>, GraphError>) {
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event);
    }
    (events, stream.finish().await)
}

/// The root graph's superstep schedule from `Tasks` events, as `[a],[b,c]`.
fn schedule(events: &[Event]) -> String {
    let mut steps: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for event in events {
        if let (true, EventData::TaskStart { node, .. }) = (event.ns.is_empty(), &event.data) {
            steps.entry(event.step).or_default().push(node.clone());
        }
    }
    steps
        .into_values()
        .map(|mut names| {
            names.sort();
            format!("[{}]", names.join(","))
        })
        .collect::<Vec<_>>()
        .join(",")
}

// ---------------------------------------------------------------------------------------------
// C01–C04: static edges, fan-out, fan-in, joins
// ---------------------------------------------------------------------------------------------

// C01 | START→a→b→c→END | {log:[]} | log [a,b,c]; steps [a],[b],[c]; 5 checkpoints,
//     | sources input(-1),loop(0..3)
#[tokio::test]
async fn c01_chain() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    for n in ["a", "b", "c"] {
        g.add_node(n, logger(&trace));
    }
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", "c")
        .add_edge("c", END);
    let saver = CountingSaver::new();
    let g = g.compile().unwrap().with_checkpointer(saver.clone());
    let cfg = RunConfig::thread("t1");

    let out = g.invoke(log(&[]), &cfg).await.unwrap();

    assert_eq!(out.value.log, ["a", "b", "c"]);
    assert!(out.is_done());
    assert_eq!(trace.steps(), "[a],[b],[c]");
    assert_eq!(saver.counts().0, 5, "checkpoints saved");
    assert_eq!(
        history(&g, &cfg).await,
        ["input(-1)", "loop(0)", "loop(1)", "loop(2)", "loop(3)"]
    );
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.values.log, ["a", "b", "c"]);
    assert!(state.next.is_empty(), "{:?}", state.next);
    assert_eq!(state.step, 3);

    // §2.1/§2.7: each history entry is the checkpoint itself, with the node it schedules as
    // `next` (`input(-1) → loop(0) [next=first node] → …`); the writes saved against it by the
    // following superstep are not applied (LangGraph applies pending writes only in get_state of
    // the latest checkpoint). This is how a user finds "the checkpoint before b" to replay.
    let entries: Vec<(String, Vec<String>, Vec<String>)> = g
        .get_state_history(&cfg, &ListOptions::default())
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|s| (format!("{}({})", s.source.unwrap(), s.step), s.next, s.values.log))
        .collect();
    let expected: Vec<(String, Vec<String>, Vec<String>)> = [
        ("input(-1)", vec![START], vec![]),
        ("loop(0)", vec!["a"], vec![]),
        ("loop(1)", vec!["b"], vec!["a"]),
        ("loop(2)", vec!["c"], vec!["a", "b"]),
        ("loop(3)", vec![], vec!["a", "b", "c"]),
    ]
    .into_iter()
    .map(|(c, next, values)| {
        (
            c.to_owned(),
            next.into_iter().map(str::to_owned).collect(),
            values.into_iter().map(str::to_owned).collect(),
        )
    })
    .collect();
    assert_eq!(entries, expected);
}

// C02 | a→b, a→c, b→d, c→d | {log:[]} | [a,b,c,d]; steps [a],[b,c],[d] (d once); 5 checkpoints
#[tokio::test]
async fn c02_fan_out_fan_in() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    for n in ["a", "b", "c", "d"] {
        g.add_node(n, logger(&trace));
    }
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge("b", "d")
        .add_edge("c", "d");
    let saver = CountingSaver::new();
    let g = g.compile().unwrap().with_checkpointer(saver.clone());
    let cfg = RunConfig::thread("t");

    let out = g.invoke(log(&[]), &cfg).await.unwrap();

    assert_eq!(out.value.log, ["a", "b", "c", "d"]);
    assert_eq!(trace.steps(), "[a],[b,c],[d]");
    assert_eq!(trace.count("d"), 1);
    assert_eq!(saver.counts().0, 5, "checkpoints saved");
    assert_eq!(
        history(&g, &cfg).await,
        ["input(-1)", "loop(0)", "loop(1)", "loop(2)", "loop(3)"]
    );
}

// C03 | a→{b,c}, c→c2, b→d, c2→d (separate edges) | {log:[]} | [a,b,c,c2,d,d];
//     | steps [a],[b,c],[c2,d],[d]
// (Checkpoints: not in the table; by §2.1, 4 node supersteps give input(-1) + loop(0..4) = 6.)
#[tokio::test]
async fn c03_uneven_branches_separate_edges() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    for n in ["a", "b", "c", "c2", "d"] {
        g.add_node(n, logger(&trace));
    }
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge("c", "c2")
        .add_edge("b", "d")
        .add_edge("c2", "d");
    let saver = CountingSaver::new();
    let g = g.compile().unwrap().with_checkpointer(saver.clone());
    let cfg = RunConfig::thread("t");

    let out = g.invoke(log(&[]), &cfg).await.unwrap();

    assert_eq!(out.value.log, ["a", "b", "c", "c2", "d", "d"]);
    assert_eq!(trace.steps(), "[a],[b,c],[c2,d],[d]");
    assert_eq!(trace.count("d"), 2);
    assert_eq!(saver.counts().0, 6, "checkpoints saved");
}

// C04 | same as C03, but add_edge([b,c2],d) | {log:[]} | [a,b,c,c2,d]; steps [a],[b,c],[c2],[d];
//     | channel join:b+c2:d
// (Lemmings keeps the barrier in the checkpoint's control state under the same name; after step
// 2, b has been seen and c2 not yet.)
#[tokio::test]
async fn c04_join_edge() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    for n in ["a", "b", "c", "c2", "d"] {
        g.add_node(n, logger(&trace));
    }
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge("c", "c2")
        .add_join(["b", "c2"], "d");
    let saver = CountingSaver::new();
    let g = g.compile().unwrap().with_checkpointer(saver.clone());
    let cfg = RunConfig::thread("t");

    let out = g.invoke(log(&[]), &cfg).await.unwrap();

    assert_eq!(out.value.log, ["a", "b", "c", "c2", "d"]);
    assert_eq!(trace.steps(), "[a],[b,c],[c2],[d]");
    assert_eq!(trace.count("d"), 1);
    assert_eq!(saver.counts().0, 6, "checkpoints saved");

    // The checkpoint after step 2 (b and c ran) holds the half-filled barrier `join:b+c2:d`.
    let tuples = saver.list("t", "", &ListOptions::default()).await.unwrap();
    let step2 = tuples
        .iter()
        .find(|t| t.checkpoint.step == 2)
        .expect("a checkpoint at step 2");
    let control: serde_json::Value = serde_json::from_slice(&step2.checkpoint.control).unwrap();
    assert_eq!(
        control["barriers"],
        json!({ "join:b+c2:d": ["b"] }),
        "control: {control}"
    );
    // Once d ran, the barrier is consumed.
    let last = &tuples[0];
    assert_eq!(last.checkpoint.step, 4);
    let control: serde_json::Value = serde_json::from_slice(&last.checkpoint.control).unwrap();
    assert!(control.get("barriers").is_none(), "control: {control}");
}

// ---------------------------------------------------------------------------------------------
// C05–C06: write conflicts and write order
// ---------------------------------------------------------------------------------------------

// C05 | START→p,q, both write LastValue x | {x:0} | InvalidUpdateError
//     | (INVALID_CONCURRENT_GRAPH_UPDATE); 2 checkpoints saved; head pending writes [x,x];
//     | get_state also raises
// Lemmings differs on purpose in the last point: get_state returns a snapshot whose `conflict`
// explains the conflict, with values that leave the conflicting writes out.
#[tokio::test]
async fn c05_last_value_conflict() {
    let mut g = StateGraph::<Log>::new();
    g.add_node("p", |_s: Arc<Log>, _ctx: Ctx| async {
        Ok::<_, NodeError>(LogUpdate::default().x(1))
    });
    g.add_node("q", |_s: Arc<Log>, _ctx: Ctx| async {
        Ok::<_, NodeError>(LogUpdate::default().x(2))
    });
    g.add_edge(START, "p").add_edge(START, "q");
    let saver = CountingSaver::new();
    let g = g.compile().unwrap().with_checkpointer(saver.clone());
    let cfg = RunConfig::thread("t");

    let err = g.invoke(LogUpdate::default().x(0), &cfg).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidUpdate);
    match &err {
        GraphError::InvalidUpdate {
            step,
            thread_id,
            source: ApplyError::Conflict { channel, first, second },
        } => {
            assert_eq!(*step, 1);
            assert_eq!(thread_id.as_deref(), Some("t"));
            assert_eq!(*channel, "x");
            assert_eq!((first.as_str(), second.as_str()), ("p", "q"));
        }
        other => panic!("expected a conflict on `x`, got {other:?}"),
    }
    let message = err.to_string();
    for part in ["step 1", "thread t", "`x`", "p and q"] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }

    // input(-1) and loop(0); the failed superstep 1 saved no checkpoint.
    assert_eq!(saver.counts().0, 2, "checkpoints saved");
    assert_eq!(history(&g, &cfg).await, ["input(-1)", "loop(0)"]);

    // Both writes are saved as pending writes of the head checkpoint.
    let head = saver.get("t", "", None).await.unwrap().expect("a head checkpoint");
    assert_eq!(head.checkpoint.step, 0);
    let pending: Vec<(String, String)> = head
        .pending_writes
        .iter()
        .flat_map(|w| {
            w.writes
                .iter()
                .filter(|(c, _)| !special::is_special(c))
                .map(|(c, _)| (w.node.clone(), c.clone()))
        })
        .collect();
    assert_eq!(
        pending,
        [("p".to_owned(), "x".to_owned()), ("q".to_owned(), "x".to_owned())]
    );

    // get_state does not raise: it reports the conflict and leaves the conflicting writes out.
    let state = g.get_state(&cfg).await.unwrap();
    let conflict = state.conflict.as_deref().expect("the snapshot reports the conflict");
    for part in ["`x`", "p", "q"] {
        assert!(conflict.contains(part), "{part:?} missing from: {conflict}");
    }
    assert_eq!(state.values.x, 0);
    assert_eq!(state.step, 0);
    let tasks: Vec<(&str, bool)> = state.tasks.iter().map(|t| (t.name.as_str(), t.done)).collect();
    assert_eq!(tasks, [("p", true), ("q", true)]);
}

// C06 | START→z,m,a (in that add order) | {log:[in]} | [in,a,m,z] (path order, one step)
#[tokio::test]
async fn c06_writes_apply_in_task_path_order() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    for n in ["z", "m", "a"] {
        g.add_node(n, logger(&trace));
    }
    g.add_edge(START, "z").add_edge(START, "m").add_edge(START, "a");
    let saver = CountingSaver::new();
    let g = g.compile().unwrap().with_checkpointer(saver.clone());
    let cfg = RunConfig::thread("t");

    let out = g.invoke(log(&["in"]), &cfg).await.unwrap();

    assert_eq!(out.value.log, ["in", "a", "m", "z"]);
    assert_eq!(trace.steps(), "[a,m,z]");
    assert_eq!(history(&g, &cfg).await, ["input(-1)", "loop(0)", "loop(1)"]);
}

// ---------------------------------------------------------------------------------------------
// C07–C09: conditional edges and Send
// ---------------------------------------------------------------------------------------------

fn c07_graph(trace: &Trace) -> CompiledGraph<Log> {
    let mut g = StateGraph::<Log>::new();
    let t = trace.clone();
    g.add_node("a", move |s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        async move { Ok::<_, NodeError>(log(&["a"]).x(s.x + 1)) }
    });
    g.add_node("b", logger(trace));
    g.add_node("c", logger(trace));
    g.add_edge(START, "a");
    g.add_conditional_edges("a", |s: &Log| if s.x > 1 { vec!["B", "C"] } else { vec!["stop"] })
        .path_map([("B", "b"), ("C", "c"), ("stop", END)]);
    g.compile().unwrap()
}

// C07 | a sets x+=1; cond(a): x>1 → ["B","C"] else "stop"; map B→b, C→c, stop→END
//     | {x:1} / {x:0} | [a,b,c], steps [a],[b,c] / [a], x=1
#[tokio::test]
async fn c07_conditional_edges_with_path_map() {
    let trace = Trace::default();
    let g = c07_graph(&trace);
    let out = g
        .invoke(LogUpdate::default().x(1), &RunConfig::default())
        .await
        .unwrap();
    assert_eq!(out.value.log, ["a", "b", "c"]);
    assert_eq!(out.value.x, 2);
    assert_eq!(trace.steps(), "[a],[b,c]");

    let trace = Trace::default();
    let g = c07_graph(&trace);
    let out = g
        .invoke(LogUpdate::default().x(0), &RunConfig::default())
        .await
        .unwrap();
    assert_eq!(out.value.log, ["a"]);
    assert_eq!(out.value.x, 1);
    assert_eq!(trace.steps(), "[a]");
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Pq {
    p: i64,
    q: i64,
    #[reducer(append)]
    seen: Vec<String>,
}

// C08 | START→p,q; cond after p → r; r records (p,q) | p=q=0 | router saw (1,0); r saw (1,1);
//     | steps [p,q],[r]
#[tokio::test]
async fn c08_router_sees_own_writes_only() {
    let trace = Trace::default();
    let router_saw: Arc<Mutex<Vec<(i64, i64)>>> = Arc::default();
    let mut g = StateGraph::<Pq>::new();
    let t = trace.clone();
    g.add_node("p", move |_s: Arc<Pq>, ctx: Ctx| {
        t.record(&ctx);
        async { Ok::<_, NodeError>(PqUpdate::default().p(1)) }
    });
    let t = trace.clone();
    g.add_node("q", move |_s: Arc<Pq>, ctx: Ctx| {
        t.record(&ctx);
        async { Ok::<_, NodeError>(PqUpdate::default().q(1)) }
    });
    let t = trace.clone();
    g.add_node("r", move |s: Arc<Pq>, ctx: Ctx| {
        t.record(&ctx);
        async move { Ok::<_, NodeError>(PqUpdate::default().seen(vec![format!("r saw ({},{})", s.p, s.q)])) }
    });
    g.add_edge(START, "p").add_edge(START, "q");
    let saw = router_saw.clone();
    g.add_conditional_edges("p", move |s: &Pq| {
        saw.lock().unwrap().push((s.p, s.q));
        "r"
    })
    .targets(["r"]);
    let g = g.compile().unwrap();

    let out = g
        .invoke(PqUpdate::default().p(0).q(0), &RunConfig::default())
        .await
        .unwrap();

    assert_eq!(*router_saw.lock().unwrap(), [(1, 0)]);
    assert_eq!(out.value.seen, ["r saw (1,1)"]);
    assert_eq!((out.value.p, out.value.q), (1, 1));
    assert_eq!(trace.steps(), "[p,q],[r]");
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct MapReduce {
    items: Vec<i64>,
    #[reducer(append)]
    out: Vec<serde_json::Value>,
}

/// The private input of the `w` workers of C09.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Item {
    i: i64,
}

// C09 | cond(START) → [Send("w",{i}) for i in [3,1,2]]; w→done | items
//     | out=[30,10,20,"done"]; steps [w,w,w],[done]
// (Checkpoints: not in the table; by §2.1, input(-1), loop(0) (START, holding the sends),
// loop(1) (the w tasks), loop(2) (done).)
#[tokio::test]
async fn c09_send_map_reduce() {
    let trace = Trace::default();
    let mut g = StateGraph::<MapReduce>::new();
    let t = trace.clone();
    g.add_node_with_input("w", move |item: Item, ctx: Ctx| {
        t.record(&ctx);
        async move { Ok::<_, NodeError>(MapReduceUpdate::default().out(vec![json!(item.i * 10)])) }
    });
    let t = trace.clone();
    g.add_node("done", move |_s: Arc<MapReduce>, ctx: Ctx| {
        t.record(&ctx);
        async { Ok::<_, NodeError>(MapReduceUpdate::default().out(vec![json!("done")])) }
    });
    g.add_conditional_edges(START, |s: &MapReduce| {
        s.items
            .iter()
            .map(|&i| SendTo::new("w", Item { i }))
            .collect::<Vec<_>>()
    });
    g.add_edge("w", "done");
    let saver = CountingSaver::new();
    let g = g.compile().unwrap().with_checkpointer(saver.clone());
    let cfg = RunConfig::thread("t");

    let out = g
        .invoke(MapReduceUpdate::default().items(vec![3, 1, 2]), &cfg)
        .await
        .unwrap();

    assert_eq!(out.value.out, [json!(30), json!(10), json!(20), json!("done")]);
    assert_eq!(trace.steps(), "[w,w,w],[done]");
    assert_eq!(trace.count("done"), 1);
    assert_eq!(history(&g, &cfg).await, ["input(-1)", "loop(0)", "loop(1)", "loop(2)"]);
    // The checkpoint after START holds the three sends, in send order.
    let loop0 = g
        .get_state_history(&cfg, &ListOptions::default())
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.step == 0)
        .unwrap();
    let tasks: Vec<&str> = loop0.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tasks, ["w", "w", "w"]);
}

// ---------------------------------------------------------------------------------------------
// C10–C12: Command
// ---------------------------------------------------------------------------------------------

// C10 | a returns Command(update, goto="b") and has a static edge a→c | {log:[]} | [a,b,c];
//     | steps [a],[b,c]
// (goto adds to the static edges. Lemmings' compile rejects a node reachable only through a
// command unless it is declared with `.destinations`.)
#[tokio::test]
async fn c10_command_goto_adds_to_static_edges() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    let t = trace.clone();
    g.add_node("a", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        async { Ok::<_, NodeError>(Command::<Log>::new().update(log(&["a"])).goto("b")) }
    })
    .destinations(["b"]);
    g.add_node("b", logger(&trace));
    g.add_node("c", logger(&trace));
    g.add_edge(START, "a").add_edge("a", "c");
    let g = g.compile().unwrap();

    let out = g.invoke(log(&[]), &RunConfig::default()).await.unwrap();

    assert_eq!(out.value.log, ["a", "b", "c"]);
    assert_eq!(trace.steps(), "[a],[b,c]");
}

// C11 | a returns Command(goto=[Send("b",{log:["sent"]}), END]) | {log:[]}
//     | [a, "b saw sent"] (b sees only its Send arg)
// (The packet also carries x=42, which the graph's state never has, to show that b's input is the
// packet and not the state.)
#[tokio::test]
async fn c11_command_send_carries_whole_input() {
    let trace = Trace::default();
    let b_saw: Arc<Mutex<Vec<Log>>> = Arc::default();
    let mut g = StateGraph::<Log>::new();
    let t = trace.clone();
    g.add_node("a", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        async {
            let packet = Log {
                log: vec!["sent".into()],
                x: 42,
            };
            Ok::<_, NodeError>(
                Command::<Log>::new()
                    .update(log(&["a"]))
                    .goto(SendTo::new("b", packet))
                    .goto(END),
            )
        }
    })
    .destinations(["b"]);
    let t = trace.clone();
    let saw = b_saw.clone();
    g.add_node("b", move |s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        saw.lock().unwrap().push((*s).clone());
        async move { Ok::<_, NodeError>(log(&[&format!("b saw {}", s.log.join(","))])) }
    });
    g.add_edge(START, "a");
    let g = g.compile().unwrap();

    let out = g.invoke(log(&[]), &RunConfig::default()).await.unwrap();

    assert_eq!(out.value.log, ["a", "b saw sent"]);
    assert_eq!(out.value.x, 0);
    assert_eq!(
        *b_saw.lock().unwrap(),
        [Log {
            log: vec!["sent".into()],
            x: 42
        }]
    );
    assert_eq!(trace.steps(), "[a],[b]");
}

// C12 | subgraph node returns Command(graph=PARENT, goto="other", update) | {log:[]}
//     | [child, other]; steps [sub],[other]
// (The parent's schedule is read from its `Tasks` events: `sub` has no body of its own to
// record.)
#[tokio::test]
async fn c12_command_to_parent() {
    let child_runs = Arc::new(AtomicUsize::new(0));
    let mut child = StateGraph::<Log>::named("child");
    let runs = child_runs.clone();
    child.add_node("inner", move |_s: Arc<Log>, _ctx: Ctx| {
        runs.fetch_add(1, SeqCst);
        async {
            Ok::<_, NodeError>(
                Command::<Log>::to_parent()
                    .goto("other")
                    .parent_update(json!({ "log": ["child"] })),
            )
        }
    });
    child.add_edge(START, "inner");
    let child = child.compile().unwrap();

    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    g.add_subgraph("sub", child).destinations(["other"]);
    g.add_node("other", logger(&trace));
    g.add_edge(START, "sub");
    let g = g.compile().unwrap();

    let (events, out) = drain(g.stream(RunInput::New(log(&[])), &RunConfig::default(), StreamMode::Tasks)).await;
    let out = out.unwrap();

    assert_eq!(out.value.log, ["child", "other"]);
    assert_eq!(schedule(&events), "[sub],[other]");
    assert_eq!(child_runs.load(SeqCst), 1);
    assert_eq!(trace.count("other"), 1);
}

// ---------------------------------------------------------------------------------------------
// C13: defer
// ---------------------------------------------------------------------------------------------

// C13 | a→{b,c}, c→c2, b→agg, c2→agg with agg defer=True | {log:[]} | [a,b,c,c2,agg];
//     | steps [a],[b,c],[c2],[agg]
#[tokio::test]
async fn c13_deferred_node_runs_once_at_the_end() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    for n in ["a", "b", "c", "c2"] {
        g.add_node(n, logger(&trace));
    }
    g.add_node("agg", logger(&trace)).defer();
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge("c", "c2")
        .add_edge("b", "agg")
        .add_edge("c2", "agg");
    let g = g.compile().unwrap();

    let out = g.invoke(log(&[]), &RunConfig::default()).await.unwrap();

    assert_eq!(out.value.log, ["a", "b", "c", "c2", "agg"]);
    assert_eq!(trace.steps(), "[a],[b,c],[c2],[agg]");
    assert_eq!(trace.count("agg"), 1);
}

// ---------------------------------------------------------------------------------------------
// C14–C15: recursion limit
// ---------------------------------------------------------------------------------------------

// C14 | a→a loop, recursion_limit=4, checkpointer | {log:[]} | GraphRecursionError after 4 runs
//     | of a; 6 checkpoints; last step 4; next (a,)
#[tokio::test]
async fn c14_recursion_limit_on_a_loop() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&trace));
    g.add_edge(START, "a").add_edge("a", "a");
    let saver = CountingSaver::new();
    let g = g.compile().unwrap().with_checkpointer(saver.clone());
    let cfg = RunConfig::thread("t").recursion_limit(4);

    let err = g.invoke(log(&[]), &cfg).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Recursion);
    match &err {
        GraphError::Recursion { limit, step, thread_id } => {
            assert_eq!(*limit, 4);
            // Steps 1..=4 ran a; step 5 would have exceeded the limit.
            assert_eq!(*step, 5);
            assert_eq!(thread_id.as_deref(), Some("t"));
        }
        other => panic!("expected a recursion error, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("recursion limit of 4 reached at step 5 of thread t without hitting a stop condition"),
        "{err}"
    );
    assert_eq!(trace.count("a"), 4);
    assert_eq!(trace.steps(), "[a],[a],[a],[a]");
    assert_eq!(saver.counts().0, 6, "checkpoints saved");
    assert_eq!(
        history(&g, &cfg).await,
        ["input(-1)", "loop(0)", "loop(1)", "loop(2)", "loop(3)", "loop(4)"]
    );
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.step, 4);
    assert_eq!(state.next, ["a"]);
    assert_eq!(state.values.log, ["a", "a", "a", "a"]);
}

fn chain(trace: &Trace) -> CompiledGraph<Log> {
    let mut g = StateGraph::<Log>::new();
    for n in ["a", "b", "c"] {
        g.add_node(n, logger(trace));
    }
    g.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c");
    g.compile().unwrap()
}

// C15 | 3-node chain | limit 3 / 4 | GraphRecursionError / ok
// (With limit 3, stop = 3: supersteps 0 (START) to 3 (c) run, and step 4 raises before looking
// for tasks, §1.6.)
#[tokio::test]
async fn c15_recursion_limit_counts_the_start_superstep() {
    let trace = Trace::default();
    let err = chain(&trace)
        .invoke(log(&[]), &RunConfig::default().recursion_limit(3))
        .await
        .unwrap_err();
    match &err {
        GraphError::Recursion { limit, step, thread_id } => {
            assert_eq!((*limit, *step, thread_id.as_deref()), (3, 4, None));
        }
        other => panic!("expected a recursion error, got {other:?}"),
    }
    assert!(
        err.to_string().starts_with("recursion limit of 3 reached at step 4 "),
        "{err}"
    );
    assert_eq!(trace.steps(), "[a],[b],[c]");

    let trace = Trace::default();
    let out = chain(&trace)
        .invoke(log(&[]), &RunConfig::default().recursion_limit(4))
        .await
        .unwrap();
    assert_eq!(out.value.log, ["a", "b", "c"]);
    assert_eq!(trace.steps(), "[a],[b],[c]");
}

// ---------------------------------------------------------------------------------------------
// C16: retries
// ---------------------------------------------------------------------------------------------

/// Runs START→flaky→END where `flaky` fails its first `failures` attempts with `error()`.
/// Returns the run's result and the attempt numbers the node saw.
async fn run_flaky(
    policy: RetryPolicy,
    failures: usize,
    error: fn() -> NodeError,
) -> (Result<Output<Log>, GraphError>, Vec<u32>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let attempts: Arc<Mutex<Vec<u32>>> = Arc::default();
    let mut g = StateGraph::<Log>::new();
    let (c, a) = (calls.clone(), attempts.clone());
    g.add_node("flaky", move |_s: Arc<Log>, ctx: Ctx| {
        a.lock().unwrap().push(ctx.attempt());
        let call = c.fetch_add(1, SeqCst);
        async move {
            if call < failures {
                Err(error())
            } else {
                Ok(log(&["flaky"]))
            }
        }
    })
    .retry(policy);
    g.add_edge(START, "flaky").add_edge("flaky", END);
    let out = g.compile().unwrap().invoke(log(&[]), &RunConfig::default()).await;
    let attempts = attempts.lock().unwrap().clone();
    assert_eq!(calls.load(SeqCst), attempts.len());
    (out, attempts)
}

fn connection_error() -> NodeError {
    NodeError::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "connection refused",
    ))
}

fn value_error() -> NodeError {
    NodeError::msg("bad value")
}

// C16 | node raises ConnectionError twice; RetryPolicy(max_attempts=3) | | succeeds; 3 attempts.
//     | ValueError → 1 attempt; retry_on=ValueError, max 5 → 5 attempts
#[tokio::test(start_paused = true)]
async fn c16_retry_policy() {
    // Two connection errors, then success: 3 attempts, with backoff 0.5 s then 1 s (§1.7).
    let started = tokio::time::Instant::now();
    let (out, attempts) = run_flaky(RetryPolicy::attempts(3).jitter(false), 2, connection_error).await;
    let out = out.unwrap();
    assert_eq!(out.value.log, ["flaky"]);
    assert_eq!(attempts, [1, 2, 3]);
    assert_eq!(started.elapsed(), Duration::from_millis(1500));

    // A terminal error (LangGraph's ValueError) is not retried by the default predicate.
    let (out, attempts) = run_flaky(RetryPolicy::attempts(3), usize::MAX, value_error).await;
    assert_eq!(attempts, [1]);
    let err = out.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Node);
    let failure = err.node_failure().expect("a node failure");
    assert_eq!((failure.node.as_str(), failure.step, failure.attempts), ("flaky", 1, 1));
    assert_eq!(failure.error.to_string(), "bad value");
    assert_eq!(err.to_string(), "node `flaky` failed at step 1: bad value");
    assert!(!err.is_retryable());

    // A predicate that retries it: all 5 attempts are made.
    let (out, attempts) = run_flaky(RetryPolicy::attempts(5).retry_on(|_| true), usize::MAX, value_error).await;
    assert_eq!(attempts, [1, 2, 3, 4, 5]);
    let err = out.unwrap_err();
    let failure = err.node_failure().expect("a node failure");
    assert_eq!((failure.node.as_str(), failure.step, failure.attempts), ("flaky", 1, 5));
    assert_eq!(
        err.to_string(),
        "node `flaky` failed at step 1 after 5 attempts: bad value"
    );

    // Without a retry policy, even a connection error fails at once.
    let calls = Arc::new(AtomicUsize::new(0));
    let mut g = StateGraph::<Log>::new();
    let c = calls.clone();
    g.add_node("once", move |_s: Arc<Log>, _ctx: Ctx| {
        c.fetch_add(1, SeqCst);
        async { Err::<LogUpdate, _>(connection_error()) }
    });
    g.add_edge(START, "once");
    let err = g
        .compile()
        .unwrap()
        .invoke(log(&[]), &RunConfig::default())
        .await
        .unwrap_err();
    assert_eq!(calls.load(SeqCst), 1);
    assert!(err.is_retryable(), "a connection error is transient: {err}");
}

// ---------------------------------------------------------------------------------------------
// C17: cache
// ---------------------------------------------------------------------------------------------

// C17 | CachePolicy + InMemoryCache; invoke with inputs k, k, other | | node executed 2 times;
//     | the cached `updates` chunk carries __metadata__.cached=True
#[tokio::test]
async fn c17_node_cache() {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut g = StateGraph::<Log>::new();
    let r = runs.clone();
    g.add_node("n", move |s: Arc<Log>, _ctx: Ctx| {
        r.fetch_add(1, SeqCst);
        async move { Ok::<_, NodeError>(log(&[&format!("n:{}", s.log.join(","))])) }
    })
    .cache(CachePolicy::new());
    g.add_edge(START, "n");
    let g = g
        .compile_with(CompileOptions {
            cache: Some(Arc::new(InMemoryCache::new())),
            ..Default::default()
        })
        .unwrap();
    let cfg = RunConfig::default();

    let updates = |events: &[Event]| -> Vec<(String, serde_json::Value, bool)> {
        events
            .iter()
            .filter_map(|e| match &e.data {
                EventData::Update { node, update, cached } => Some((node.clone(), update.to_json(), *cached)),
                _ => None,
            })
            .collect()
    };

    // k: runs the node.
    let (events, out) = drain(g.stream(RunInput::New(log(&["k"])), &cfg, StreamMode::Updates)).await;
    assert_eq!(out.unwrap().value.log, ["k", "n:k"]);
    assert_eq!(updates(&events), [("n".to_owned(), json!({"log": ["n:k"]}), false)]);
    assert_eq!(runs.load(SeqCst), 1);

    // k again: served from the cache, and the update event says so.
    let (events, out) = drain(g.stream(RunInput::New(log(&["k"])), &cfg, StreamMode::Updates)).await;
    assert_eq!(out.unwrap().value.log, ["k", "n:k"]);
    assert_eq!(updates(&events), [("n".to_owned(), json!({"log": ["n:k"]}), true)]);
    assert_eq!(runs.load(SeqCst), 1);

    // other: a new input runs the node.
    let out = g.invoke(log(&["other"]), &cfg).await.unwrap();
    assert_eq!(out.value.log, ["other", "n:other"]);
    assert_eq!(runs.load(SeqCst), 2);
}
