//! A run dropped in the middle of a checkpoint write (a cancelled background branch, a caller
//! that stopped listening) never leaves the database locked: the next run on the same file
//! proceeds at once.

use std::sync::Arc;
use std::time::Duration;

use lemmings_graph::{Ctx, END, NodeError, RunConfig, START, State, StateGraph};
use lemmings_store::{SqliteOptions, SqliteStore};
use serde::{Deserialize, Serialize};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Count {
    x: i64,
    #[reducer(append)]
    log: Vec<String>,
}

fn chain(n: usize) -> lemmings_graph::CompiledGraph<Count> {
    let mut graph = StateGraph::<Count>::named("cancel");
    for k in 0..n {
        graph.add_node(format!("n{k}"), |state: Arc<Count>, _ctx: Ctx| async move {
            Ok::<_, NodeError>(CountUpdate::default().x(state.x + 1).log(vec!["step".repeat(64)]))
        });
    }
    graph.add_edge(START, "n0");
    for k in 1..n {
        graph.add_edge(format!("n{}", k - 1), format!("n{k}"));
    }
    graph.add_edge(format!("n{}", n - 1), END);
    graph.compile().expect("the chain compiles")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_dropped_mid_write_leaves_no_lock_behind() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("cancel.db");
    let store = Arc::new(SqliteStore::open(&path, SqliteOptions::create()).await.expect("opens"));
    let graph = chain(40).with_checkpointer(store.clone());
    // Drop runs after a growing number of polls, so some drops land inside a commit (the
    // statements of one write are in flight on the connection's worker thread).
    for (i, polls) in (1..=60_usize).enumerate() {
        let config = RunConfig::thread(format!("t{i}"));
        let mut run = Box::pin(graph.invoke(CountUpdate::default(), &config));
        for _ in 0..polls {
            if futures::poll!(run.as_mut()).is_ready() {
                break;
            }
            tokio::task::yield_now().await;
        }
        drop(run);
        // Whatever state the dropped run left, another thread's run finishes well inside the
        // busy timeout (a commit left open would hold the write lock for good).
        let fresh = RunConfig::thread(format!("fresh{i}"));
        let out = tokio::time::timeout(Duration::from_secs(20), graph.invoke(CountUpdate::default(), &fresh))
            .await
            .expect("no run waits for a lock a dropped write left")
            .unwrap_or_else(|error| panic!("after drop {i} ({polls} polls): {error}"));
        assert_eq!(out.value.x, 40);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_dropped_right_after_it_starts_leaves_no_open_transaction() {
    use lemmings_graph::Checkpointer;
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("drop.db");
    let store = SqliteStore::open(&path, SqliteOptions::create()).await.expect("opens");
    let other = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .expect("opens again");
    for i in 0..40 {
        let thread = format!("t{i}");
        // Holding the lease, a write is one multi-statement round trip: `BEGIN IMMEDIATE; …;
        // COMMIT;` sent to the connection's worker thread. Dropped while the worker runs it, the
        // statements after the first used to be skipped, leaving the transaction open and the
        // write lock held by a pooled connection.
        store
            .acquire_lease(&thread)
            .await
            .expect("no error")
            .expect("the lease");
        let mut write = Box::pin(store.delete_thread(&thread));
        for _ in 0..=(i % 4) {
            let _ = futures::poll!(write.as_mut());
        }
        drop(write);
        // Another connection (another store on the file) writes at once, not after the busy
        // timeout with "database is locked".
        let started = std::time::Instant::now();
        other
            .acquire_lease(&format!("other{i}"))
            .await
            .unwrap_or_else(|error| panic!("after drop {i}: {error}"));
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "after drop {i} the write waited {:?} for a lock",
            started.elapsed()
        );
    }
}

/// Lease writes leave the pooled connection as configured (FULL), so checkpoints stay fully
/// synced; a held lease refuses a second claim until it is released. One connection in the
/// pool, so the settings are read on the very connection the lease writes used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_writes_leave_the_connection_fully_synced() {
    use lemmings_graph::Checkpointer;
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut options = SqliteOptions::create();
    options.max_connections = 1;
    let store = SqliteStore::open(dir.path().join("lease.db"), options)
        .await
        .expect("opens");
    assert_eq!(store.settings().await.expect("settings").synchronous, 2);
    let lease = store.acquire_lease("t").await.expect("no error").expect("the lease");
    assert_eq!(
        store.settings().await.expect("settings").synchronous,
        2,
        "after the acquire"
    );
    // A second claim is refused until the lease is released.
    let refused = SqliteStore::open(dir.path().join("lease.db"), SqliteOptions::default())
        .await
        .expect("opens again");
    assert!(refused.acquire_lease("t").await.is_err(), "the lease is held");
    store.release_lease(&lease).await.expect("released");
    assert_eq!(
        store.settings().await.expect("settings").synchronous,
        2,
        "after the release"
    );
    assert!(
        refused.acquire_lease("t").await.expect("no error").is_some(),
        "free again"
    );
}
