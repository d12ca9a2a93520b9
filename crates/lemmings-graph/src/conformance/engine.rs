//! Conformance checks that run real graphs on the store: what the executor needs from it
//! (deltas, pending writes, resume, history, interrupts, subgraph namespaces), compared with the
//! in-memory saver.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::checkpoint::{Checkpointer, ListOptions};
use crate::{Command, Ctx, Durability, InMemorySaver, NodeError, Resume, RunConfig, START, StateGraph};

#[derive(crate::State, Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[state(update = TrailUpdate)]
struct Trail {
    #[reducer(append)]
    log: Vec<String>,
    x: i64,
}

fn trail(items: &[&str]) -> TrailUpdate {
    TrailUpdate::default().log(items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
}

/// START → `{prefix}00` → … → `{prefix}{len - 1}`, each node appending its name; node `fail_at`
/// fails its first run ("planned failure"). `runs` counts the node runs.
fn chain_failing_once(
    name: &str,
    prefix: char,
    len: usize,
    fail_at: usize,
    runs: &Arc<AtomicUsize>,
) -> crate::CompiledGraph<Trail> {
    let mut graph = StateGraph::<Trail>::named(name);
    for i in 0..len {
        let runs = Arc::clone(runs);
        let node = format!("{prefix}{i:02}");
        graph.add_node(node.clone(), move |_state: Arc<Trail>, ctx: Ctx| {
            // One node per superstep: node `fail_at`'s first run is run number `fail_at`.
            let run = runs.fetch_add(1, Ordering::SeqCst);
            let fail = i == fail_at && run == fail_at;
            async move {
                if fail {
                    return Err(NodeError::msg("planned failure"));
                }
                Ok(Command::new().update(trail(&[ctx.node()])))
            }
        });
        if i == 0 {
            graph.add_edge(START, node);
        } else {
            graph.add_edge(format!("{prefix}{:02}", i - 1), node);
        }
    }
    graph.compile().expect("the conformance graph compiles")
}

/// Runs the same scenario on `store` and on an [`InMemorySaver`] and compares the snapshots.
pub(super) async fn engine_chain_resume_and_history(store: Arc<dyn Checkpointer>) {
    for durability in [Durability::Sync, Durability::Async, Durability::Exit] {
        let reference = chain_failure_and_resume(Arc::new(InMemorySaver::new()), durability).await;
        let observed = chain_failure_and_resume(Arc::clone(&store), durability).await;
        assert_eq!(
            observed, reference,
            "durability {durability:?}: the store must behave like the in-memory saver"
        );
    }
}

/// A chain of 30 appends whose node 20 fails once: what a run needs from a store (deltas,
/// pending writes, resume, history).
async fn chain_failure_and_resume(
    store: Arc<dyn Checkpointer>,
    durability: Durability,
) -> (Vec<String>, usize, Vec<String>, usize) {
    static THREADS: AtomicUsize = AtomicUsize::new(0);
    let thread = format!("chain-{}", THREADS.fetch_add(1, Ordering::Relaxed));
    let runs = Arc::new(AtomicUsize::new(0));
    let graph = chain_failing_once("conformance", 'n', 30, 20, &runs).with_checkpointer(store);
    let config = RunConfig::thread(thread).durability(durability);
    let error = graph
        .invoke(TrailUpdate::default(), &config)
        .await
        .expect_err("node n20 fails once");
    assert!(error.to_string().contains("planned failure"), "{error}");
    let paused = graph.get_state(&config).await.expect("get_state after a failure");
    assert_eq!(paused.next, ["n20"], "after the failure the failed node is next");
    let done = graph.continue_run(&config).await.expect("resume completes");
    let history = graph
        .get_state_history(&config, &ListOptions::default())
        .await
        .expect("history");
    let sources: Vec<String> = history.iter().map(|s| format!("{:?}@{}", s.source, s.step)).collect();
    (done.value.log, runs.load(Ordering::SeqCst), sources, history.len())
}

pub(super) async fn engine_interrupt_and_subgraph(store: Arc<dyn Checkpointer>) {
    let reference = interrupt_in_subgraph(Arc::new(InMemorySaver::new())).await;
    let observed = interrupt_in_subgraph(store).await;
    assert_eq!(observed, reference, "the store must behave like the in-memory saver");
}

async fn interrupt_in_subgraph(store: Arc<dyn Checkpointer>) -> (Vec<String>, usize, usize) {
    let s1_runs = Arc::new(AtomicUsize::new(0));
    let mut child = StateGraph::<Trail>::named("child");
    let runs = Arc::clone(&s1_runs);
    child.add_node("s1", move |_state: Arc<Trail>, _ctx: Ctx| {
        runs.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, NodeError>(trail(&["s1"])) }
    });
    child.add_node("s2", |_state: Arc<Trail>, ctx: Ctx| async move {
        let answer: String = ctx.interrupt("continue?")?;
        Ok(trail(&[&format!("s2:{answer}")]))
    });
    child.add_edge(START, "s1").add_edge("s1", "s2");
    let child = child.compile().expect("child compiles");
    let mut parent = StateGraph::<Trail>::named("parent");
    parent.add_node("pre", |_state: Arc<Trail>, _ctx: Ctx| async {
        Ok::<_, NodeError>(trail(&["pre"]))
    });
    parent.add_subgraph("child", child);
    parent.add_edge(START, "pre").add_edge("pre", "child");
    let parent = parent
        .compile()
        .expect("parent compiles")
        .with_checkpointer(Arc::clone(&store));
    let config = RunConfig::thread("subgraph");
    let paused = parent
        .invoke(TrailUpdate::default(), &config)
        .await
        .expect("first run pauses");
    assert_eq!(paused.interrupts.len(), 1, "the subgraph's interrupt pauses the parent");
    let done = parent
        .resume(Resume::value("ok"), &config)
        .await
        .expect("resume completes");
    let root_history = store
        .list("subgraph", "", &ListOptions::default())
        .await
        .expect("list")
        .len();
    (done.value.log, s1_runs.load(Ordering::SeqCst), root_history)
}

/// A run holds its thread: a second run of it is refused, naming the holder, and succeeds once
/// the first has ended. A side effect applied by a task that then fails is not applied again
/// when the thread resumes.
pub(super) async fn engine_lease_and_effects(store: Arc<dyn Checkpointer>) {
    let applied = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Notify::new());
    let entered = Arc::new(tokio::sync::Notify::new());
    let mut graph = StateGraph::<Trail>::named("effects");
    let (count, wait, arrived) = (Arc::clone(&applied), Arc::clone(&gate), Arc::clone(&entered));
    let attempts = Arc::new(AtomicUsize::new(0));
    let tries = Arc::clone(&attempts);
    graph.add_node("apply", move |_state: Arc<Trail>, ctx: Ctx| {
        let (count, wait, arrived) = (Arc::clone(&count), Arc::clone(&wait), Arc::clone(&arrived));
        let attempt = tries.fetch_add(1, Ordering::SeqCst);
        async move {
            let written: u32 = ctx
                .effect(0, "write the report", |_attempt| async {
                    count.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, NodeError>(42)
                })
                .await?;
            if attempt == 0 {
                // Hold the thread until the test has tried a second run, then fail after the effect.
                arrived.notify_one();
                wait.notified().await;
                return Err(NodeError::msg("failed after the effect"));
            }
            Ok(Command::new().update(trail(&[&format!("wrote {written}")])))
        }
    });
    graph.add_edge(START, "apply");
    let graph = graph.compile().expect("compiles").with_checkpointer(Arc::clone(&store));
    let config = RunConfig::thread("effects");
    let first = tokio::spawn({
        let (graph, config) = (graph.clone(), config.clone());
        async move { graph.invoke(TrailUpdate::default(), &config).await }
    });
    entered.notified().await;
    match graph.invoke(TrailUpdate::default(), &config).await {
        Err(error) if store_has_leases(&error) => {
            assert!(
                error.to_string().contains("effects"),
                "the refusal names the thread: {error}"
            );
        }
        Err(error) => panic!("a second run of a running thread must be refused as locked, got: {error}"),
        Ok(_) if leases_unsupported(&store).await => {}
        Ok(_) => panic!("a second run of a running thread must be refused"),
    }
    gate.notify_one();
    let error = first
        .await
        .expect("the first run's task")
        .expect_err("the first run fails after its effect");
    assert!(error.to_string().contains("failed after the effect"), "{error}");
    let done = graph.continue_run(&config).await.expect("the resumed run completes");
    assert_eq!(done.value.log, ["wrote 42"], "the resumed node got the recorded result");
    assert_eq!(
        applied.load(Ordering::SeqCst),
        1,
        "the effect was applied once across the failure and the resume"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

fn store_has_leases(error: &crate::GraphError) -> bool {
    matches!(error, crate::GraphError::Checkpointer { source, .. } if source.kind() == crate::CheckpointErrorKind::Locked)
}

async fn leases_unsupported(store: &Arc<dyn Checkpointer>) -> bool {
    match store.acquire_lease("probe-for-lease-support").await {
        Ok(None) => true,
        Ok(Some(lease)) => {
            let _ = store.release_lease(&lease).await;
            false
        }
        Err(_) => false,
    }
}

/// Pruning a thread that failed half-way keeps what resume needs: the resumed run finishes
/// with the same state as without the prune, and the finished tasks do not run again.
pub(super) async fn engine_prune_then_resume(store: Arc<dyn Checkpointer>) {
    let (reference, reference_runs) = prune_and_resume(Arc::new(InMemorySaver::new()), None).await;
    let (pruned, runs) = prune_and_resume(
        Arc::clone(&store),
        Some(crate::checkpoint::Retention {
            keep_latest: Some(1),
            before: None,
        }),
    )
    .await;
    assert_eq!(pruned, reference, "a pruned thread resumes to the same state");
    assert_eq!(runs, reference_runs, "no finished task runs again after a prune");
    let history = store.list("prune", "", &ListOptions::default()).await.expect("list");
    assert!(
        history.len() < 30,
        "the pruned history stays short: {} checkpoints",
        history.len()
    );
}

async fn prune_and_resume(
    store: Arc<dyn Checkpointer>,
    retention: Option<crate::checkpoint::Retention>,
) -> (Vec<String>, usize) {
    let runs = Arc::new(AtomicUsize::new(0));
    let graph = chain_failing_once("prune", 'p', 20, 12, &runs).with_checkpointer(Arc::clone(&store));
    let config = RunConfig::thread("prune");
    graph
        .invoke(TrailUpdate::default(), &config)
        .await
        .expect_err("p12 fails once");
    if let Some(retention) = retention {
        let report = store.prune("prune", &retention).await.expect("prune");
        assert!(report.checkpoints > 0, "something was pruned: {report:?}");
    }
    let done = graph
        .continue_run(&config)
        .await
        .expect("the run resumes after the prune");
    (done.value.log, runs.load(Ordering::SeqCst))
}
