//! What a node sees through `Ctx` (resuming, remaining steps, ids), the node cache's clearing,
//! background tasks started by packets, and the state API's refusals.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use lemmings_graph::*;

use crate::common::*;

#[tokio::test]
async fn is_resuming_is_true_only_when_a_node_runs_again_after_an_answer() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut g = StateGraph::<Log>::new();
    let s = seen.clone();
    g.add_node("ask", move |_state: Arc<Log>, ctx: Ctx| {
        s.lock().unwrap().push(ctx.is_resuming());
        async move {
            let answer: String = ctx.interrupt("?")?;
            Ok::<_, NodeError>(log(&[&answer]))
        }
    });
    g.add_edge(START, "ask");
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");
    g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    let out = g.resume(Resume::value("yes"), &cfg).await.unwrap();
    assert_eq!(out.value.log, ["yes"]);
    assert_eq!(*seen.lock().unwrap(), [false, true]);
}

#[tokio::test]
async fn remaining_steps_count_down_to_the_recursion_limit() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut g = StateGraph::<Log>::new();
    for name in ["a", "b", "c"] {
        let s = seen.clone();
        g.add_node(name, move |_state: Arc<Log>, ctx: Ctx| {
            s.lock()
                .unwrap()
                .push((ctx.node().to_owned(), ctx.remaining_steps(), ctx.is_last_step()));
            async { Ok::<_, NodeError>(LogUpdate::default()) }
        });
    }
    g.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c");
    let g = g.compile().unwrap();
    // Limit 4: START is step 0, a..c are steps 1..3, step 4 would be the last allowed; like
    // LangGraph's IsLastStep, the flag is up when at most one more step remains.
    g.invoke(LogUpdate::default(), &RunConfig::default().recursion_limit(4))
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("a".to_owned(), 3, false),
            ("b".to_owned(), 2, false),
            ("c".to_owned(), 1, true)
        ]
    );
}

#[tokio::test]
async fn idempotency_keys_survive_a_retry_and_differ_between_tasks() {
    let keys = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut g = StateGraph::<Log>::new();
    for name in ["a", "b"] {
        let k = keys.clone();
        g.add_node(name, move |_state: Arc<Log>, ctx: Ctx| {
            k.lock()
                .unwrap()
                .push((ctx.node().to_owned(), ctx.attempt(), ctx.idempotency_key(0)));
            let fail = ctx.node() == "a" && ctx.attempt() == 1;
            async move {
                if fail {
                    return Err(NodeError::retryable(std::io::Error::other("flaky")));
                }
                Ok::<_, NodeError>(LogUpdate::default())
            }
        })
        .retry(
            RetryPolicy::attempts(2)
                .jitter(false)
                .initial_interval(std::time::Duration::ZERO),
        );
    }
    g.add_edge(START, "a").add_edge(START, "b");
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    g.invoke(LogUpdate::default(), &RunConfig::thread("thread-7"))
        .await
        .unwrap();
    let keys = keys.lock().unwrap().clone();
    let a: Vec<&String> = keys.iter().filter(|(n, _, _)| n == "a").map(|(_, _, k)| k).collect();
    let b: Vec<&String> = keys.iter().filter(|(n, _, _)| n == "b").map(|(_, _, k)| k).collect();
    assert_eq!(a.len(), 2, "a ran twice");
    assert_eq!(a[0], a[1], "the attempt number is not part of the key");
    assert_ne!(a[0], b[0], "tasks have their own keys");
    assert!(a[0].starts_with("thread-7::1:") && a[0].ends_with(":0"), "{}", a[0]);
}

#[tokio::test]
async fn clearing_the_cache_makes_the_node_run_again() {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut g = StateGraph::<Log>::named("cached");
    let r = runs.clone();
    g.add_node("n", move |_state: Arc<Log>, _ctx: Ctx| {
        r.fetch_add(1, SeqCst);
        async { Ok::<_, NodeError>(log(&["n"])) }
    })
    .cache(CachePolicy::new());
    g.add_edge(START, "n");
    let g = g
        .compile_with(CompileOptions {
            cache: Some(Arc::new(InMemoryCache::new())),
            ..CompileOptions::default()
        })
        .unwrap();
    let cfg = RunConfig::default();
    g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    assert_eq!(runs.load(SeqCst), 1, "the second run is served from the cache");
    g.clear_cache(Some(&["other"])).await;
    g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    assert_eq!(runs.load(SeqCst), 1, "clearing another node keeps this node's entries");
    g.clear_cache(Some(&["n"])).await;
    let out = g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    assert_eq!(runs.load(SeqCst), 2);
    assert_eq!(out.value.log, ["n"]);
}

#[tokio::test(start_paused = true)]
async fn cache_entries_expire_after_their_ttl() {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut g = StateGraph::<Log>::new();
    let r = runs.clone();
    g.add_node("n", move |_state: Arc<Log>, _ctx: Ctx| {
        r.fetch_add(1, SeqCst);
        async { Ok::<_, NodeError>(LogUpdate::default()) }
    })
    .cache(CachePolicy::ttl(std::time::Duration::from_secs(60)));
    g.add_edge(START, "n");
    let g = g
        .compile_with(CompileOptions {
            cache: Some(Arc::new(InMemoryCache::new())),
            ..CompileOptions::default()
        })
        .unwrap();
    g.invoke(LogUpdate::default(), &RunConfig::default()).await.unwrap();
    tokio::time::advance(std::time::Duration::from_secs(59)).await;
    g.invoke(LogUpdate::default(), &RunConfig::default()).await.unwrap();
    assert_eq!(runs.load(SeqCst), 1);
    tokio::time::advance(std::time::Duration::from_secs(2)).await;
    g.invoke(LogUpdate::default(), &RunConfig::default()).await.unwrap();
    assert_eq!(runs.load(SeqCst), 2, "an expired entry runs the node again");
}

#[tokio::test]
async fn a_background_node_can_be_started_by_packets() {
    let mut g = StateGraph::<Log>::new();
    g.add_node_with_input("audit", |item: String, _ctx: Ctx| async move {
        Ok::<_, NodeError>(log(&[&format!("audited {item}")]))
    })
    .background();
    g.add_node("work", |_s: Arc<Log>, _ctx: Ctx| async {
        Ok::<_, NodeError>(log(&["work"]))
    });
    g.add_conditional_edges(START, |_s: &Log| {
        vec![
            Goto::from("work"),
            SendTo::new("audit", "x".to_owned()).into(),
            SendTo::new("audit", "y".to_owned()).into(),
        ]
    })
    .targets(["work", "audit"]);
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let out = g.invoke(LogUpdate::default(), &RunConfig::thread("t")).await.unwrap();
    let mut log = out.value.log.clone();
    log.sort();
    assert_eq!(log, ["audited x", "audited y", "work"]);
    assert!(out.is_done());
}

#[tokio::test]
async fn update_state_refuses_unknown_and_ambiguous_nodes() {
    let mut g = StateGraph::<Log>::new();
    let trace = Trace::default();
    g.add_node("p", logger(&trace));
    g.add_node("q", logger(&trace));
    g.add_edge(START, "p").add_edge(START, "q");
    let g = g.compile().unwrap().with_checkpointer(Arc::new(InMemorySaver::new()));
    let cfg = RunConfig::thread("t");
    g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    let err = g.update_state(&cfg, log(&["x"]), None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "ambiguous update: the latest checkpoint was written by p, q; pass as_node"
    );
    let err = g.update_state(&cfg, log(&["x"]), Some("zz")).await.unwrap_err();
    assert_eq!(err.to_string(), "update_state as `zz`: no such node (nodes: p, q)");
    let id = g.update_state(&cfg, log(&["x"]), Some("p")).await.unwrap();
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.checkpoint_id, Some(id));
    assert_eq!(state.source, Some(Source::Update));
    assert_eq!(state.values.log, ["p", "q", "x"]);
}

#[tokio::test]
async fn the_state_api_needs_a_checkpointer_and_a_thread() {
    let mut g = StateGraph::<Log>::named("plain");
    g.add_node("a", |_s: Arc<Log>, _ctx: Ctx| async {
        Ok::<_, NodeError>(LogUpdate::default())
    });
    g.add_edge(START, "a");
    let plain = g.compile().unwrap();
    let err = plain.get_state(&RunConfig::thread("t")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "get_state needs a checkpointer: compile graph `plain` with .with_checkpointer(...)"
    );
    let saved = plain.with_checkpointer(Arc::new(InMemorySaver::new()));
    let err = saved.get_state(&RunConfig::default()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "get_state needs a thread id: use RunConfig::thread(\"...\")"
    );
    let missing = CheckpointId::new_after(None);
    let err = saved.get_state(&RunConfig::thread("t").at(missing)).await.unwrap_err();
    assert_eq!(err.to_string(), format!("thread t has no checkpoint {missing}"));
    // A thread with no checkpoint reads as empty.
    let empty = saved.get_state(&RunConfig::thread("nobody")).await.unwrap();
    assert_eq!(
        (empty.values, empty.next.len(), empty.checkpoint_id),
        (Log::default(), 0, None)
    );
}
