//! Every scenario at a tiny size, without and with the store: the graph builds, the run passes
//! the scenario's own result check, and the row has its fields and the store's row counts.
//! Nothing here depends on timing: timed fields are only checked to be present.

use serde_json::{Value, json};

use super::run;
use crate::row::Row;
use crate::spec::{Params, Spec};

async fn row(name: &str, params: Value) -> Row {
    let params: Params = serde_json::from_value(params).unwrap();
    let spec = Spec {
        name: name.to_owned(),
        params,
    };
    let tmp = tempfile::tempdir().unwrap();
    run(&spec, tmp.path())
        .await
        .unwrap_or_else(|e| panic!("{name} {:?}: {e}", spec.params))
}

fn has(row: &Row, fields: &[&str]) {
    for field in fields {
        assert!(row.get(field).is_some(), "no `{field}` in {}", row.line());
    }
}

/// The store's row counts: checkpoints, and pending-write rows left at the end.
fn rows(row: &Row) -> (Value, Value) {
    (row.get("checkpoint_rows").unwrap(), row.get("write_rows").unwrap())
}

const TIMED: &[&str] = &["wall_s", "unit", "us_per_unit"];
const STORE: &[&str] = &[
    "checkpoint_rows",
    "checkpoint_blob_bytes_total",
    "checkpoint_blob_bytes_max",
    "write_rows",
    "write_blob_bytes_total",
    "db_mib",
    "write_rows_saved",
    "store_commits",
    "store_calls",
    "sqlite_synchronous",
    "notes",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commit_floor_runs_on_wal_with_full_sync() {
    let r = row(
        "sqlite_commit_floor",
        json!({"commits": 3, "blob_bytes": 64, "checkpointer": "none", "when": "start"}),
    )
    .await;
    has(&r, TIMED);
    assert_eq!(r.get("unit"), Some(json!("commit")));
    assert_eq!(r.get("sqlite_synchronous"), Some(json!(2)));
    assert_eq!(r.get("sqlite_journal_mode"), Some(json!("wal")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_counts_to_its_length_without_and_with_the_store() {
    let r = row("chain_nocp", json!({"nodes": 5, "invokes": 2, "checkpointer": "none"})).await;
    has(&r, &[TIMED, &["invoke_ms_median"]].concat());
    assert_eq!(r.get("checkpoint_rows"), None);
    for (durability, checkpoints) in [("async", 2 * 7), ("sync", 2 * 7), ("exit", 2)] {
        let params = json!({"nodes": 5, "invokes": 2, "checkpointer": "sqlite", "durability": durability});
        let r = row("chain_sqlite", params).await;
        has(&r, &[TIMED, STORE].concat());
        // Per thread: the input checkpoint, the one after it is applied, one per node (`exit`: one).
        assert_eq!(rows(&r), (json!(checkpoints), json!(0)), "{durability}: {}", r.line());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fanout_sums_every_worker_without_and_with_the_store() {
    let r = row("fanout", json!({"n": 10, "invokes": 2, "checkpointer": "none"})).await;
    has(&r, &[TIMED, &["total_ms", "invoke_ms_median"]].concat());
    let r = row(
        "fanout",
        json!({"n": 10, "invokes": 2, "checkpointer": "sqlite", "durability": "async"}),
    )
    .await;
    has(&r, &[TIMED, STORE].concat());
    // Per run: input, after input, after dispatch, after the workers, after fanin.
    assert_eq!(rows(&r), (json!(2 * 5), json!(0)), "{}", r.line());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_grows_to_its_message_count_without_and_with_the_store() {
    let fields = ["step_us_deciles", "step_us_first10pct", "last_node_to_return_ms"];
    let params = json!({"nodes": 20, "max_messages": 40, "msg_bytes": 1024, "checkpointer": "none"});
    let r = row("state_size", params).await;
    has(&r, &[TIMED, &fields].concat());
    assert_eq!(r.get("step_us_deciles").unwrap().as_array().map(Vec::len), Some(10));
    for durability in ["async", "sync"] {
        let params = json!({"nodes": 20, "max_messages": 40, "msg_bytes": 1024,
            "checkpointer": "sqlite", "durability": durability});
        let r = row("state_size", params).await;
        has(&r, &[TIMED, STORE, &fields].concat());
        assert_eq!(rows(&r), (json!(42), json!(0)), "{durability}: {}", r.line());
        // Deltas: 40 KiB of messages, stored about once (not 40 × 20 KiB as full states).
        let blob_bytes = r.get("blob_bytes_total").unwrap().as_u64().unwrap();
        assert!((40 * 1024..3 * 40 * 1024).contains(&blob_bytes), "{blob_bytes}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_reruns_only_the_failed_node() {
    let params = json!({"nodes": 10, "fail_at": 8, "reps": 2, "checkpointer": "sqlite", "durability": "async"});
    let r = row("resume", params).await;
    has(
        &r,
        &[TIMED, STORE, &["resume_ms_median", "first_run_to_failure_ms_median"]].concat(),
    );
    assert_eq!(r.get("nodes_before_failure_not_rerun"), Some(json!(true)));
    // Per thread: input, after input, n1..n7, then n8..n10 on resume.
    assert_eq!(rows(&r), (json!(2 * 12), json!(0)), "{}", r.line());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_every_checkpoint_of_the_thread() {
    let params = json!({"steps": 20, "history_reps": 1, "get_state_reps": 2,
        "checkpointer": "sqlite", "durability": "async"});
    let r = row("history", params).await;
    has(
        &r,
        &[TIMED, STORE, &["history_ms_median", "get_state_ms_median", "run_ms"]].concat(),
    );
    assert_eq!(r.get("history_entries"), Some(json!(22)));
    assert_eq!(rows(&r), (json!(22), json!(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_branches_count_every_node_without_and_with_the_store() {
    let r = row(
        "parallel_branches",
        json!({"branches": 2, "depth": 3, "invokes": 2, "checkpointer": "none"}),
    )
    .await;
    has(&r, &[TIMED, &["us_per_superstep", "invoke_ms_median"]].concat());
    let params = json!({"branches": 2, "depth": 3, "invokes": 2, "checkpointer": "sqlite", "durability": "async"});
    let r = row("parallel_branches", params).await;
    has(&r, &[TIMED, STORE].concat());
    // Per run: input, after input, 3 branch supersteps, the join.
    assert_eq!(rows(&r), (json!(2 * 6), json!(0)), "{}", r.line());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_scenarios_and_missing_parameters_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = |name: &str, params: Value| Spec {
        name: name.to_owned(),
        params: serde_json::from_value(params).unwrap(),
    };
    let error = run(&spec("chain_sqlit", json!({})), tmp.path()).await.unwrap_err();
    assert_eq!(error.to_string(), "unknown scenario `chain_sqlit`");
    let error = run(&spec("chain_nocp", json!({"nodes": 3})), tmp.path())
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "missing parameter `invokes`");
}
