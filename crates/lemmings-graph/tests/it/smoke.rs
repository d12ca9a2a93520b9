//! First end-to-end checks of the executor.

use std::sync::Arc;

use lemmings_graph::*;

use crate::common::*;

#[tokio::test]
async fn chain_runs_in_order() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    for n in ["a", "b", "c"] {
        g.add_node(n, logger(&trace));
    }
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", "c")
        .add_edge("c", END);
    let g = g.compile().unwrap();
    let out = g.invoke(LogUpdate::default(), &RunConfig::default()).await.unwrap();
    assert_eq!(out.value.log, ["a", "b", "c"]);
    assert_eq!(trace.steps(), "[a],[b],[c]");
}

#[tokio::test]
async fn checkpointed_chain_and_history() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    for n in ["a", "b", "c"] {
        g.add_node(n, logger(&trace));
    }
    g.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c");
    let saver = Arc::new(InMemorySaver::new());
    let g = g.compile().unwrap().with_checkpointer(saver.clone());
    let cfg = RunConfig::thread("t1");
    let out = g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    assert_eq!(out.value.log, ["a", "b", "c"]);
    let history = g.get_state_history(&cfg, &ListOptions::default()).await.unwrap();
    let sources: Vec<String> = history
        .iter()
        .rev()
        .map(|s| format!("{}({})", s.source.unwrap(), s.step))
        .collect();
    assert_eq!(sources, ["input(-1)", "loop(0)", "loop(1)", "loop(2)", "loop(3)"]);
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.values.log, ["a", "b", "c"]);
    assert!(state.next.is_empty());
}

#[tokio::test]
async fn fanout_with_sends() {
    let mut g = StateGraph::<Log>::new();
    g.add_node_with_input("w", |i: i64, _ctx: Ctx| async move {
        Ok::<_, NodeError>(log(&[&format!("w{i}")]))
    });
    g.add_node("done", |_s: Arc<Log>, _ctx: Ctx| async {
        Ok::<_, NodeError>(log(&["done"]))
    });
    g.add_conditional_edges(START, |_s: &Log| {
        vec![SendTo::new("w", 3i64), SendTo::new("w", 1i64), SendTo::new("w", 2i64)]
    });
    g.add_edge("w", "done");
    let g = g.compile().unwrap();
    let out = g.invoke(LogUpdate::default(), &RunConfig::default()).await.unwrap();
    assert_eq!(out.value.log, ["w3", "w1", "w2", "done"]);
}

#[tokio::test]
async fn failure_then_resume_skips_finished_tasks() {
    let trace = Trace::default();
    let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&trace));
    g.add_node("b", logger(&trace));
    let t = trace.clone();
    let f = failed.clone();
    g.add_node("c", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        let first = !f.swap(true, std::sync::atomic::Ordering::SeqCst);
        async move {
            if first {
                Err(NodeError::msg("boom"))
            } else {
                Ok(log(&["c"]))
            }
        }
    });
    g.add_node("d", logger(&trace));
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_join(["b", "c"], "d");
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");
    let err = g.invoke(LogUpdate::default(), &cfg).await.unwrap_err();
    assert!(err.to_string().contains("boom"), "{err}");
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.next, ["c"]);
    assert_eq!(state.values.log, ["a", "b"]);
    let out = g.continue_run(&cfg).await.unwrap();
    assert_eq!(out.value.log, ["a", "b", "c", "d"]);
    assert_eq!(
        (trace.count("a"), trace.count("b"), trace.count("c"), trace.count("d")),
        (1, 1, 2, 1)
    );
}

#[tokio::test]
async fn interrupt_and_resume() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    g.add_node("pre", logger(&trace));
    let t = trace.clone();
    g.add_node("ask", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        async move {
            let name: String = ctx.interrupt("name?")?;
            Ok(log(&[&format!("ask:{name}")]))
        }
    });
    g.add_node("post", logger(&trace));
    g.add_edge(START, "pre").add_edge("pre", "ask").add_edge("ask", "post");
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");
    let out = g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    assert_eq!(out.interrupts.len(), 1);
    assert_eq!(out.interrupts[0].value, serde_json::json!("name?"));
    assert_eq!(out.next, ["ask"]);
    let out = g.resume(Resume::value("Bob"), &cfg).await.unwrap();
    assert!(out.is_done());
    assert_eq!(out.value.log, ["pre", "ask:Bob", "post"]);
    assert_eq!(trace.count("ask"), 2);
}
