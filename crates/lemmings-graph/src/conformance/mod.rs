//! The conformance suite every [`Checkpointer`] must pass: the in-memory saver runs it here, the
//! SQLite and PostgreSQL stores run it in their own crates.
//!
//! Each check takes a fresh, empty store and panics with a message naming the property that
//! failed (it is test support, not a runtime API). [`checkpointer_conformance!`] expands to one
//! `#[tokio::test]` per check:
//!
//! ```text
//! lemmings_graph::checkpointer_conformance!(async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = MyStore::open(dir.path().join("db")).await.unwrap();
//!     (Arc::new(store) as Arc<dyn Checkpointer>, dir)
//! });
//! ```
//!
//! (The macro needs `tokio` with the `macros` and `rt` features in the calling crate.)

mod engine;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::checkpoint::{
    ChannelData, ChannelRef, Checkpoint, CheckpointErrorKind, CheckpointId, CheckpointPut, Checkpointer, EffectRecord,
    ListOptions, NewBlob, Source, TaskId, TaskWrites, Timestamp,
};

/// Every check, by name, for [`run_all`]. [`checkpointer_conformance!`] lists the same names.
pub const CHECKS: &[&str] = &[
    "missing_thread_reads_as_empty",
    "put_then_get_round_trips",
    "latest_is_the_greatest_id",
    "chains_resolve_full_and_deltas",
    "forks_keep_their_own_chains",
    "pending_writes_attach_to_their_checkpoint",
    "a_checkpoint_supersedes_its_parents_writes",
    "writes_to_a_missing_checkpoint_fail",
    "list_is_newest_first_and_filters",
    "namespaces_and_threads_are_isolated",
    "delete_thread_removes_everything",
    "large_blobs_round_trip",
    "engine_chain_resume_and_history",
    "engine_interrupt_and_subgraph",
    "leases_are_exclusive",
    "effects_ledger_records_intents_and_results",
    "prune_keeps_what_resume_needs",
    "list_threads_newest_first",
    "engine_lease_and_effects",
    "engine_prune_then_resume",
];

/// Runs every check, each on a store from `make`.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Checkpointer>>,
{
    for name in CHECKS {
        run(name, make().await).await;
    }
}

/// Runs the check called `name` on `store`.
pub async fn run(name: &str, store: Arc<dyn Checkpointer>) {
    match name {
        "missing_thread_reads_as_empty" => missing_thread_reads_as_empty(store).await,
        "put_then_get_round_trips" => put_then_get_round_trips(store).await,
        "latest_is_the_greatest_id" => latest_is_the_greatest_id(store).await,
        "chains_resolve_full_and_deltas" => chains_resolve_full_and_deltas(store).await,
        "forks_keep_their_own_chains" => forks_keep_their_own_chains(store).await,
        "pending_writes_attach_to_their_checkpoint" => pending_writes_attach_to_their_checkpoint(store).await,
        "a_checkpoint_supersedes_its_parents_writes" => a_checkpoint_supersedes_its_parents_writes(store).await,
        "writes_to_a_missing_checkpoint_fail" => writes_to_a_missing_checkpoint_fail(store).await,
        "list_is_newest_first_and_filters" => list_is_newest_first_and_filters(store).await,
        "namespaces_and_threads_are_isolated" => namespaces_and_threads_are_isolated(store).await,
        "delete_thread_removes_everything" => delete_thread_removes_everything(store).await,
        "large_blobs_round_trip" => large_blobs_round_trip(store).await,
        "engine_chain_resume_and_history" => engine::engine_chain_resume_and_history(store).await,
        "engine_interrupt_and_subgraph" => engine::engine_interrupt_and_subgraph(store).await,
        "leases_are_exclusive" => leases_are_exclusive(store).await,
        "effects_ledger_records_intents_and_results" => effects_ledger_records_intents_and_results(store).await,
        "prune_keeps_what_resume_needs" => prune_keeps_what_resume_needs(store).await,
        "list_threads_newest_first" => list_threads_newest_first(store).await,
        "engine_lease_and_effects" => engine::engine_lease_and_effects(store).await,
        "engine_prune_then_resume" => engine::engine_prune_then_resume(store).await,
        other => panic!("no conformance check named {other}"),
    }
}

/// One `#[tokio::test]` per conformance check, each on a fresh store from `$make`: an expression
/// evaluating to a future of `(Arc<dyn Checkpointer>, guard)`, where the guard (e.g. a temporary
/// directory) lives until the check ends.
#[macro_export]
macro_rules! checkpointer_conformance {
    ($make:expr) => {
        $crate::checkpointer_conformance!(@tests $make;
            missing_thread_reads_as_empty, put_then_get_round_trips, latest_is_the_greatest_id,
            chains_resolve_full_and_deltas, forks_keep_their_own_chains,
            pending_writes_attach_to_their_checkpoint, a_checkpoint_supersedes_its_parents_writes,
            writes_to_a_missing_checkpoint_fail, list_is_newest_first_and_filters,
            namespaces_and_threads_are_isolated, delete_thread_removes_everything, large_blobs_round_trip,
            engine_chain_resume_and_history, engine_interrupt_and_subgraph, leases_are_exclusive,
            effects_ledger_records_intents_and_results, prune_keeps_what_resume_needs, list_threads_newest_first,
            engine_lease_and_effects, engine_prune_then_resume);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                // `_guard` (not `_`) lives to the end of the check.
                let (store, _guard) = $make.await;
                $crate::conformance::run(stringify!($name), store).await;
            }
        )*
    };
}

// ---- raw store checks -------------------------------------------------------------------

fn bytes(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

fn checkpoint(thread: &str, ns: &str, parent: Option<CheckpointId>, step: i64) -> Checkpoint {
    let id = CheckpointId::new_after(parent);
    let mut metadata = serde_json::Map::new();
    metadata.insert("source".into(), "loop".into());
    metadata.insert("step".into(), step.into());
    metadata.insert("parents".into(), serde_json::json!({}));
    Checkpoint {
        thread_id: thread.into(),
        ns: ns.into(),
        id,
        parent_id: parent,
        step,
        source: Source::Loop,
        created_at: Timestamp::from_millis(1_700_000_000_000 + step.unsigned_abs()),
        metadata,
        channels: BTreeMap::new(),
        control: bytes(r#"{"triggers":["a"]}"#),
    }
}

/// A checkpoint writing `blobs` (channel, data) on top of `parent`'s channels.
fn put_with(base: &Checkpoint, parent: Option<&Checkpoint>, blobs: &[(&str, ChannelData)]) -> CheckpointPut {
    let mut checkpoint = base.clone();
    if let Some(parent) = parent {
        for (name, reference) in &parent.channels {
            checkpoint.channels.entry(name.clone()).or_insert(*reference);
        }
    }
    let mut new_blobs = Vec::new();
    for (channel, data) in blobs {
        let prev = parent.and_then(|p| p.channels.get(*channel)).map(|r| r.head);
        let version = checkpoint.channels.get(*channel).map_or(0, |r| r.version) + 1;
        checkpoint.channels.insert(
            (*channel).to_owned(),
            ChannelRef {
                version,
                head: checkpoint.id,
            },
        );
        new_blobs.push(NewBlob {
            channel: (*channel).to_owned(),
            data: data.clone(),
            prev,
        });
    }
    CheckpointPut {
        checkpoint,
        blobs: new_blobs,
    }
}

fn writes(task: &str, path: &str, entries: &[(&str, &str)]) -> TaskWrites {
    TaskWrites {
        task_id: TaskId::derive(None, "", 0, task),
        task_path: path.into(),
        node: task.into(),
        writes: entries.iter().map(|(c, v)| ((*c).to_owned(), bytes(v))).collect(),
    }
}

/// Saves one task's writes against checkpoint `id` of thread `t`'s root namespace.
async fn put_task(store: &Arc<dyn Checkpointer>, id: CheckpointId, task: TaskWrites) {
    store.put_writes("t", "", id, vec![task]).await.unwrap();
}

fn chain_of(tuple: &crate::CheckpointTuple, channel: &str) -> Vec<ChannelData> {
    tuple
        .values
        .iter()
        .find(|(name, _)| name == channel)
        .map(|(_, chain)| chain.clone())
        .unwrap_or_else(|| panic!("channel {channel} missing from checkpoint {}", tuple.checkpoint.id))
}

async fn missing_thread_reads_as_empty(store: Arc<dyn Checkpointer>) {
    assert!(
        store.get("nobody", "", None).await.unwrap().is_none(),
        "get of an unknown thread must be None"
    );
    let id = CheckpointId::new_after(None);
    assert!(
        store.get("nobody", "", Some(id)).await.unwrap().is_none(),
        "get of an unknown id must be None"
    );
    assert!(
        store
            .list("nobody", "", &ListOptions::default())
            .await
            .unwrap()
            .is_empty(),
        "list of an unknown thread"
    );
    store
        .delete_thread("nobody")
        .await
        .expect("deleting an unknown thread is not an error");
}

async fn put_then_get_round_trips(store: Arc<dyn Checkpointer>) {
    let mut base = checkpoint("t", "", None, -1);
    base.source = Source::Input;
    base.metadata.insert("user".into(), "u1".into());
    let put = put_with(&base, None, &[("x", ChannelData::Full(bytes("1")))]);
    store.put(put.clone(), Vec::new()).await.unwrap();
    let tuple = store
        .get("t", "", Some(base.id))
        .await
        .unwrap()
        .expect("the checkpoint just put");
    assert_eq!(
        tuple.checkpoint, put.checkpoint,
        "every checkpoint field must round-trip"
    );
    assert_eq!(chain_of(&tuple, "x"), vec![ChannelData::Full(bytes("1"))]);
    assert!(tuple.pending_writes.is_empty());
}

async fn latest_is_the_greatest_id(store: Arc<dyn Checkpointer>) {
    let first = checkpoint("t", "", None, 0);
    let second = checkpoint("t", "", Some(first.id), 1);
    let third = checkpoint("t", "", Some(second.id), 2);
    // Put out of order: the latest is the greatest id, not the last put.
    for c in [&first, &third, &second] {
        store.put(put_with(c, None, &[]), Vec::new()).await.unwrap();
    }
    let latest = store.get("t", "", None).await.unwrap().expect("a latest checkpoint");
    assert_eq!(latest.checkpoint.id, third.id, "get(None) must return the greatest id");
    assert_eq!(latest.checkpoint.parent_id, Some(second.id));
}

async fn chains_resolve_full_and_deltas(store: Arc<dyn Checkpointer>) {
    let c0 = checkpoint("t", "", None, 0);
    let p0 = put_with(
        &c0,
        None,
        &[
            ("log", ChannelData::Full(bytes(r#"["a"]"#))),
            ("x", ChannelData::Full(bytes("1"))),
        ],
    );
    store.put(p0.clone(), Vec::new()).await.unwrap();
    let c1 = checkpoint("t", "", Some(c0.id), 1);
    let p1 = put_with(
        &c1,
        Some(&p0.checkpoint),
        &[("log", ChannelData::Delta(bytes(r#"[["b"]]"#)))],
    );
    store.put(p1.clone(), Vec::new()).await.unwrap();
    let c2 = checkpoint("t", "", Some(c1.id), 2);
    let p2 = put_with(
        &c2,
        Some(&p1.checkpoint),
        &[("log", ChannelData::Delta(bytes(r#"[["c"]]"#)))],
    );
    store.put(p2.clone(), Vec::new()).await.unwrap();
    let tuple = store.get("t", "", Some(c2.id)).await.unwrap().unwrap();
    assert_eq!(
        chain_of(&tuple, "log"),
        vec![
            ChannelData::Full(bytes(r#"["a"]"#)),
            ChannelData::Delta(bytes(r#"[["b"]]"#)),
            ChannelData::Delta(bytes(r#"[["c"]]"#))
        ],
        "a chain is the full value then the deltas, oldest first"
    );
    assert_eq!(
        chain_of(&tuple, "x"),
        vec![ChannelData::Full(bytes("1"))],
        "an unchanged channel resolves at its head"
    );
    let middle = store.get("t", "", Some(c1.id)).await.unwrap().unwrap();
    assert_eq!(
        chain_of(&middle, "log").len(),
        2,
        "an earlier checkpoint sees the chain as it was then"
    );
    // A full value cuts the chain.
    let c3 = checkpoint("t", "", Some(c2.id), 3);
    let p3 = put_with(
        &c3,
        Some(&p2.checkpoint),
        &[("log", ChannelData::Full(bytes(r#"["z"]"#)))],
    );
    store.put(p3, Vec::new()).await.unwrap();
    let latest = store.get("t", "", None).await.unwrap().unwrap();
    assert_eq!(chain_of(&latest, "log"), vec![ChannelData::Full(bytes(r#"["z"]"#))]);
    // A chain may start with a delta from the default value.
    let d0 = checkpoint("u", "", None, 0);
    store
        .put(
            put_with(&d0, None, &[("log", ChannelData::Delta(bytes(r#"[["q"]]"#)))]),
            Vec::new(),
        )
        .await
        .unwrap();
    let fresh = store.get("u", "", None).await.unwrap().unwrap();
    assert_eq!(chain_of(&fresh, "log"), vec![ChannelData::Delta(bytes(r#"[["q"]]"#))]);
}

async fn forks_keep_their_own_chains(store: Arc<dyn Checkpointer>) {
    let root = checkpoint("t", "", None, 0);
    let p_root = put_with(&root, None, &[("log", ChannelData::Full(bytes(r#"["a"]"#)))]);
    store.put(p_root.clone(), Vec::new()).await.unwrap();
    let left = checkpoint("t", "", Some(root.id), 1);
    let p_left = put_with(
        &left,
        Some(&p_root.checkpoint),
        &[("log", ChannelData::Delta(bytes(r#"[["left"]]"#)))],
    );
    store.put(p_left, Vec::new()).await.unwrap();
    let right = checkpoint("t", "", Some(root.id), 1);
    let p_right = put_with(
        &right,
        Some(&p_root.checkpoint),
        &[("log", ChannelData::Delta(bytes(r#"[["right"]]"#)))],
    );
    store.put(p_right, Vec::new()).await.unwrap();
    let l = store.get("t", "", Some(left.id)).await.unwrap().unwrap();
    let r = store.get("t", "", Some(right.id)).await.unwrap().unwrap();
    assert_eq!(chain_of(&l, "log")[1], ChannelData::Delta(bytes(r#"[["left"]]"#)));
    assert_eq!(chain_of(&r, "log")[1], ChannelData::Delta(bytes(r#"[["right"]]"#)));
}

async fn pending_writes_attach_to_their_checkpoint(store: Arc<dyn Checkpointer>) {
    let c0 = checkpoint("t", "", None, 0);
    let c1 = checkpoint("t", "", Some(c0.id), 1);
    store.put(put_with(&c0, None, &[]), Vec::new()).await.unwrap();
    store.put(put_with(&c1, None, &[]), Vec::new()).await.unwrap();
    put_task(&store, c0.id, writes("b", "pull:b", &[("log", r#"["b"]"#)])).await;
    let first = [("log", r#"["a"]"#), ("__error__", r#"{"message":"1"}"#)];
    put_task(&store, c0.id, writes("a", "pull:a", &first)).await;
    // A state channel keeps its first value; a special channel its last.
    let again = [("log", r#"["again"]"#), ("__error__", r#"{"message":"2"}"#)];
    put_task(&store, c0.id, writes("a", "pull:a", &again)).await;
    let tuple = store.get("t", "", Some(c0.id)).await.unwrap().unwrap();
    let order: Vec<&str> = tuple.pending_writes.iter().map(|w| w.node.as_str()).collect();
    assert_eq!(order, ["a", "b"], "pending writes are ordered by task path");
    let a = &tuple.pending_writes[0];
    let get = |channel: &str| a.writes.iter().find(|(c, _)| c == channel).map(|(_, v)| v.clone());
    assert_eq!(
        get("log"),
        Some(bytes(r#"["a"]"#)),
        "the first write of a state channel is kept"
    );
    assert_eq!(
        get("__error__"),
        Some(bytes(r#"{"message":"2"}"#)),
        "the last write of a special channel is kept"
    );
    assert_eq!(a.task_id, TaskId::derive(None, "", 0, "a"));
    let other = store.get("t", "", Some(c1.id)).await.unwrap().unwrap();
    assert!(other.pending_writes.is_empty(), "writes belong to one checkpoint only");
}

async fn a_checkpoint_supersedes_its_parents_writes(store: Arc<dyn Checkpointer>) {
    let c0 = checkpoint("t", "", None, 0);
    store.put(put_with(&c0, None, &[]), Vec::new()).await.unwrap();
    put_task(&store, c0.id, writes("b", "pull:b", &[("x", "4")])).await;
    let c1 = checkpoint("t", "", Some(c0.id), 1);
    let last = writes("a", "pull:a", &[("x", "5"), ("__effects__", r#"{"key-a":"done"}"#)]);
    store.put(put_with(&c1, None, &[]), vec![last]).await.unwrap();
    let parent = store.get("t", "", Some(c0.id)).await.unwrap().unwrap();
    assert!(
        parent.pending_writes.is_empty(),
        "a committed child supersedes every pending write of its parent: {:?}",
        parent.pending_writes
    );
    assert_eq!(
        store.effect("t", "key-a").await.unwrap(),
        Some(EffectRecord::Applied { result: "done".into() }),
        "the effects of the parent writes are recorded in the same transaction"
    );
    assert!(
        store
            .get("t", "", Some(c1.id))
            .await
            .unwrap()
            .unwrap()
            .pending_writes
            .is_empty()
    );
}

async fn writes_to_a_missing_checkpoint_fail(store: Arc<dyn Checkpointer>) {
    let ghost = CheckpointId::new_after(None);
    let result = store
        .put_writes("t", "", ghost, vec![writes("a", "pull:a", &[("x", "1")])])
        .await;
    assert!(
        result.is_err(),
        "writes for a checkpoint that was never saved must be refused"
    );
}

async fn list_is_newest_first_and_filters(store: Arc<dyn Checkpointer>) {
    let mut previous: Option<Checkpoint> = None;
    let mut ids = Vec::new();
    for step in 0..5 {
        let mut c = checkpoint("t", "", previous.as_ref().map(|p| p.id), step);
        if step == 0 {
            c.source = Source::Input;
            c.metadata.insert("source".into(), "input".into());
        }
        c.metadata
            .insert("tag".into(), if step % 2 == 0 { "even" } else { "odd" }.into());
        store.put(put_with(&c, None, &[]), Vec::new()).await.unwrap();
        ids.push(c.id);
        previous = Some(c);
    }
    let all = store.list("t", "", &ListOptions::default()).await.unwrap();
    let listed: Vec<CheckpointId> = all.iter().map(|t| t.checkpoint.id).collect();
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(listed, expected, "list is newest first");
    let limited = store
        .list(
            "t",
            "",
            &ListOptions {
                limit: Some(2),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(limited.len(), 2);
    assert_eq!(limited[0].checkpoint.id, ids[4]);
    let before = store
        .list(
            "t",
            "",
            &ListOptions {
                before: Some(ids[2]),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        before.iter().map(|t| t.checkpoint.id).collect::<Vec<_>>(),
        vec![ids[1], ids[0]]
    );
    let mut filter = serde_json::Map::new();
    filter.insert("tag".into(), "odd".into());
    let odd = store
        .list(
            "t",
            "",
            &ListOptions {
                filter,
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(odd.iter().map(|t| t.checkpoint.step).collect::<Vec<_>>(), vec![3, 1]);
    let mut filter = serde_json::Map::new();
    filter.insert("source".into(), "input".into());
    filter.insert("step".into(), 0.into());
    let input = store
        .list(
            "t",
            "",
            &ListOptions {
                filter,
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(input.len(), 1, "filters combine with and");
}

async fn namespaces_and_threads_are_isolated(store: Arc<dyn Checkpointer>) {
    let root = checkpoint("t", "", None, 0);
    let child = checkpoint("t", "child:1", None, 0);
    let other = checkpoint("u", "", None, 0);
    for c in [&root, &child, &other] {
        store
            .put(
                put_with(c, None, &[("x", ChannelData::Full(bytes(&c.ns.len().to_string())))]),
                Vec::new(),
            )
            .await
            .unwrap();
    }
    assert_eq!(store.get("t", "", None).await.unwrap().unwrap().checkpoint.id, root.id);
    assert_eq!(
        store.get("t", "child:1", None).await.unwrap().unwrap().checkpoint.id,
        child.id
    );
    assert_eq!(store.get("u", "", None).await.unwrap().unwrap().checkpoint.id, other.id);
    assert!(
        store.get("t", "", Some(child.id)).await.unwrap().is_none(),
        "an id is found only in its namespace"
    );
    assert_eq!(
        store.list("t", "child:1", &ListOptions::default()).await.unwrap().len(),
        1
    );
}

async fn delete_thread_removes_everything(store: Arc<dyn Checkpointer>) {
    let root = checkpoint("t", "", None, 0);
    let child = checkpoint("t", "child:1", None, 0);
    let keep = checkpoint("u", "", None, 0);
    for c in [&root, &child, &keep] {
        store
            .put(put_with(c, None, &[("x", ChannelData::Full(bytes("1")))]), Vec::new())
            .await
            .unwrap();
    }
    put_task(&store, root.id, writes("a", "pull:a", &[("x", "2")])).await;
    store.delete_thread("t").await.unwrap();
    assert!(store.get("t", "", None).await.unwrap().is_none());
    assert!(
        store.get("t", "child:1", None).await.unwrap().is_none(),
        "every namespace of the thread goes"
    );
    assert!(store.get("u", "", None).await.unwrap().is_some(), "other threads stay");
}

async fn large_blobs_round_trip(store: Arc<dyn Checkpointer>) {
    let big = format!("[\"{}\"]", "x".repeat(1 << 20));
    let c = checkpoint("t", "", None, 0);
    store
        .put(
            put_with(&c, None, &[("log", ChannelData::Full(bytes(&big)))]),
            Vec::new(),
        )
        .await
        .unwrap();
    let tuple = store.get("t", "", None).await.unwrap().unwrap();
    assert_eq!(chain_of(&tuple, "log"), vec![ChannelData::Full(bytes(&big))]);
}

async fn leases_are_exclusive(store: Arc<dyn Checkpointer>) {
    let Some(first) = store.acquire_lease("t").await.expect("the first acquisition succeeds") else {
        // A store without leases passes: it promises nothing here.
        return;
    };
    assert_eq!(first.thread_id, "t");
    let refused = store
        .acquire_lease("t")
        .await
        .expect_err("a held thread cannot be acquired again");
    assert_eq!(refused.kind(), CheckpointErrorKind::Locked, "{refused}");
    assert!(
        refused.to_string().contains(&first.holder),
        "the refusal names the holder: {refused}"
    );
    let other = store
        .acquire_lease("u")
        .await
        .expect("other threads are free")
        .expect("a lease");
    store.release_lease(&first).await.expect("release");
    let second = store
        .acquire_lease("t")
        .await
        .expect("a released thread can be acquired")
        .expect("a lease");
    assert!(second.epoch > first.epoch, "every acquisition bumps the epoch");
    store.release_lease(&second).await.expect("release");
    store.release_lease(&other).await.expect("release");
}

async fn effects_ledger_records_intents_and_results(store: Arc<dyn Checkpointer>) {
    assert_eq!(
        store.effect("t", "k1").await.unwrap(),
        None,
        "an unknown key is unknown"
    );
    store.record_intent("t", "k1", "write a.txt").await.unwrap();
    assert_eq!(
        store.effect("t", "k1").await.unwrap(),
        Some(EffectRecord::Intent {
            description: "write a.txt".into()
        })
    );
    let c0 = checkpoint("t", "", None, 0);
    store.put(put_with(&c0, None, &[]), Vec::new()).await.unwrap();
    let applied = writes("a", "pull:a", &[("__effects__", r#"{"k1":{"bytes":12},"k2":"ok"}"#)]);
    put_task(&store, c0.id, applied).await;
    assert_eq!(
        store.effect("t", "k1").await.unwrap(),
        Some(EffectRecord::Applied {
            result: serde_json::json!({"bytes": 12})
        }),
        "a result saved with the task's writes marks the effect applied"
    );
    assert_eq!(
        store.effect("t", "k2").await.unwrap(),
        Some(EffectRecord::Applied { result: "ok".into() })
    );
    store.record_intent("t", "k1", "again").await.unwrap();
    assert!(
        matches!(
            store.effect("t", "k1").await.unwrap(),
            Some(EffectRecord::Applied { .. })
        ),
        "a later intent does not hide an applied effect"
    );
    assert_eq!(
        store.effect("u", "k1").await.unwrap(),
        None,
        "keys belong to their thread"
    );
    // Effects also ride with a checkpoint's parent writes.
    let c1 = checkpoint("t", "", Some(c0.id), 1);
    store
        .put(
            put_with(&c1, None, &[]),
            vec![writes("b", "pull:b", &[("__effects__", r#"{"k3":1}"#)])],
        )
        .await
        .unwrap();
    assert_eq!(
        store.effect("t", "k3").await.unwrap(),
        Some(EffectRecord::Applied { result: 1.into() })
    );
    store.delete_thread("t").await.unwrap();
    assert_eq!(
        store.effect("t", "k1").await.unwrap(),
        None,
        "deleting a thread deletes its effects"
    );
}

async fn prune_keeps_what_resume_needs(store: Arc<dyn Checkpointer>) {
    // Six checkpoints: `x` written once at the first (so its head stays there), `log` a full
    // value then deltas; each with pending writes.
    let mut previous: Option<CheckpointPut> = None;
    let mut ids = Vec::new();
    for step in 0..6 {
        let c = checkpoint("t", "", previous.as_ref().map(|p| p.checkpoint.id), step);
        let blobs: Vec<(&str, ChannelData)> = match step {
            0 => vec![
                ("x", ChannelData::Full(bytes("7"))),
                ("log", ChannelData::Full(bytes(r#"["a"]"#))),
            ],
            _ => vec![("log", ChannelData::Delta(bytes(r#"[["b"]]"#)))],
        };
        let put = put_with(&c, previous.as_ref().map(|p| &p.checkpoint), &blobs);
        store.put(put.clone(), Vec::new()).await.unwrap();
        put_task(&store, c.id, writes("n", "pull:n", &[("log", r#"["w"]"#)])).await;
        ids.push(c.id);
        previous = Some(put);
    }
    let before = store.get("t", "", None).await.unwrap().unwrap();
    let report = store
        .prune(
            "t",
            &crate::checkpoint::Retention {
                keep_latest: Some(2),
                before: None,
            },
        )
        .await
        .expect("prune");
    assert_eq!(report.checkpoints, 4, "{report:?}");
    assert_eq!(
        report.writes, 0,
        "superseded checkpoints hold no pending writes: {report:?}"
    );
    assert_eq!(
        store.get("t", "", None).await.unwrap().unwrap().pending_writes.len(),
        1,
        "the latest checkpoint keeps its pending writes"
    );
    let left: Vec<CheckpointId> = store
        .list("t", "", &ListOptions::default())
        .await
        .unwrap()
        .iter()
        .map(|t| t.checkpoint.id)
        .collect();
    assert_eq!(left, vec![ids[5], ids[4]]);
    let after = store.get("t", "", None).await.unwrap().unwrap();
    assert_eq!(
        after.values, before.values,
        "the latest checkpoint reads back exactly as before"
    );
    assert!(store.get("t", "", Some(ids[0])).await.unwrap().is_none());
    // Time-based retention never removes the latest checkpoint.
    let report = store
        .prune(
            "t",
            &crate::checkpoint::Retention {
                keep_latest: None,
                before: Some(Timestamp::from_millis(u64::MAX)),
            },
        )
        .await
        .unwrap();
    assert_eq!(report.checkpoints, 1);
    let latest = store.get("t", "", None).await.unwrap().unwrap();
    assert_eq!(latest.checkpoint.id, ids[5]);
    assert_eq!(latest.values, before.values);
}

async fn list_threads_newest_first(store: Arc<dyn Checkpointer>) {
    let a0 = checkpoint("a", "", None, 0);
    store.put(put_with(&a0, None, &[]), Vec::new()).await.unwrap();
    let b0 = checkpoint("b", "", Some(a0.id), 0);
    store.put(put_with(&b0, None, &[]), Vec::new()).await.unwrap();
    let a1 = checkpoint("a", "", Some(b0.id), 1);
    store.put(put_with(&a1, None, &[]), Vec::new()).await.unwrap();
    // A subgraph namespace alone does not make a thread.
    store
        .put(put_with(&checkpoint("c", "child:1", None, 0), None, &[]), Vec::new())
        .await
        .unwrap();
    let threads = match store.list_threads().await {
        Ok(threads) => threads,
        Err(error) if error.kind() == CheckpointErrorKind::Invalid => return,
        Err(error) => panic!("list_threads: {error}"),
    };
    let summary: Vec<(&str, usize, i64)> = threads
        .iter()
        .map(|t| (t.thread_id.as_str(), t.checkpoints, t.step))
        .collect();
    assert_eq!(summary, vec![("a", 2, 1), ("b", 1, 0)]);
    assert_eq!(threads[0].latest, a1.id);
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::checkpointer_conformance!(async { (Arc::new(crate::InMemorySaver::new()) as Arc<dyn Checkpointer>, ()) });
}
