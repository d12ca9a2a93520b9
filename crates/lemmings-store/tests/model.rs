//! Model-based property test: random operation sequences applied to both the SQLite store and
//! the in-memory reference checkpointer (`InMemorySaver`), comparing every result.
//!
//! A hand-rolled state machine: proptest generates a `Vec<Op>` whose references to existing
//! checkpoints are abstract (`Target`s and `Index`es resolved against the reference's state when
//! the op runs), so every generated sequence is valid and shrinks well. Ops run over three
//! threads and two namespaces (`""`, `"child:1"`): puts (parents latest, older (forks), in the
//! other namespace or never saved; full and delta blobs continuing the parent's chains; parent
//! writes carrying effects), pending writes (state and special channels, `__effects__`, tasks and
//! channels repeated within and across batches), gets, lists (`before`, `limit`, metadata
//! filters), `delete_thread`, `prune`, intents and effect look-ups, `list_threads`, leases (so
//! that SQLite writes also go through its fenced batch path), and closing and reopening the
//! SQLite file. After each op its own results are compared (`Ok` values equal, errors by
//! `kind()`); after each mutating op the whole observable state is compared too: every
//! namespace's full `list`, `get` of its latest and of each of its checkpoints, `list_threads`,
//! and the effects ledger.
//!
//! `PruneReport::blobs` is also checked against the blobs no kept checkpoint needs, tracked here
//! independently of both stores (a link counted once, when the last chain through it dies).
//!
//! The disagreements found in the SQLite store are pinned as named regression tests at the end.
//! `PROPTEST_CASES` overrides the number of cases.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::PathBuf;

use bytes::Bytes;
use lemmings_graph::{
    ChannelData, ChannelRef, Checkpoint, CheckpointError, CheckpointId, CheckpointPut, Checkpointer, InMemorySaver,
    Lease, ListOptions, NewBlob, PruneReport, Retention, Source, TaskId, TaskWrites, Timestamp,
};
use lemmings_store::{SqliteOptions, SqliteStore};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

const THREADS: [&str; 3] = ["t0", "t1", "t2"];
const NAMESPACES: [&str; 2] = ["", "child:1"];
const CHANNELS: [&str; 3] = ["x", "log", "ü.ch"];
const SPECIALS: [&str; 4] = ["__error__", "__interrupt__", "__resume__", "__effects__"];
/// Tasks: (node, task path). Paths are not in node order, so ordering by path is exercised.
const TASKS: [(&str, &str); 3] = [("a", "pull:b"), ("b", "pull:a"), ("c", "push:0")];
const EFFECT_KEYS: [&str; 3] = ["k0", "k1", "k2"];
/// Creation times are `BASE + 0..20` ms, so time-based pruning cuts through them.
const BASE: u64 = 1_700_000_000_000;

/// Values of the custom metadata key `tag`, and of filters on it.
fn tag_value(i: u8) -> serde_json::Value {
    match i % 6 {
        0 => "a".into(),
        1 => "b".into(),
        2 => 7.into(),
        3 => 1.into(),
        4 => true.into(),
        _ => serde_json::Value::Null,
    }
}

#[derive(Clone, Debug)]
enum Write {
    /// A state channel (`CHANNELS`), value number.
    State(u8, u8),
    /// A special channel (`SPECIALS` without effects), value number.
    Special(u8, u8),
    /// `__effects__`: (key, result kind).
    Effects(Vec<(u8, u8)>),
}

#[derive(Clone, Debug)]
struct Task {
    task: u8,
    writes: Vec<Write>,
}

#[derive(Clone, Debug)]
struct Blob {
    channel: u8,
    delta: bool,
    data: u8,
    /// For a full value: still name the parent's head as `prev` (which must be ignored).
    prev_on_full: bool,
}

/// Which checkpoint an op names, resolved against the reference when the op runs (falling
/// back to a never-saved id when there is none).
#[derive(Clone, Debug)]
enum Target {
    /// The namespace's latest.
    Latest,
    /// Any checkpoint of the namespace.
    Existing(Index),
    /// A checkpoint of the thread's other namespace.
    OtherNs(Index),
    /// An id that was never saved.
    Ghost,
}

#[derive(Clone, Debug)]
enum Filter {
    Step(i64),
    Tag(u8),
    Both(i64, u8),
}

#[derive(Clone, Debug)]
enum Op {
    Put {
        thread: u8,
        ns: u8,
        parent: Option<Target>,
        /// Send `parent_writes` even when the parent is not a saved checkpoint of the namespace
        /// (both stores must refuse the whole put).
        orphan_writes: bool,
        step: i64,
        source: u8,
        created: u64,
        tag: Option<u8>,
        control: u8,
        blobs: Vec<Blob>,
        parent_writes: Vec<Task>,
    },
    PutWrites {
        thread: u8,
        ns: u8,
        target: Target,
        tasks: Vec<Task>,
    },
    Get {
        thread: u8,
        ns: u8,
        /// `None`: the latest.
        which: Option<Target>,
    },
    List {
        thread: u8,
        ns: u8,
        before: Option<Target>,
        limit: Option<usize>,
        filter: Option<Filter>,
    },
    DeleteThread {
        thread: u8,
    },
    Prune {
        thread: u8,
        keep_latest: Option<usize>,
        before: Option<u64>,
    },
    RecordIntent {
        thread: u8,
        key: u8,
        description: u8,
    },
    Effect {
        thread: u8,
        key: u8,
    },
    ListThreads,
    /// Both stores claim the thread (the SQLite store then writes through its fenced path).
    AcquireLease {
        thread: u8,
    },
    /// Both stores give back the lease they hold on the thread, if any.
    ReleaseLease {
        thread: u8,
    },
    /// Close the SQLite store (giving back its leases, as a run ending) and open the file again.
    Reopen,
}

fn write_strategy() -> impl Strategy<Value = Write> {
    prop_oneof![
        4 => (0..CHANNELS.len() as u8, 0..4u8).prop_map(|(c, v)| Write::State(c, v)),
        3 => (0..3u8, 0..4u8).prop_map(|(c, v)| Write::Special(c, v)),
        2 => prop::collection::vec((0..EFFECT_KEYS.len() as u8, 0..4u8), 1..3).prop_map(Write::Effects),
    ]
}

fn task_strategy() -> impl Strategy<Value = Task> {
    (0..TASKS.len() as u8, prop::collection::vec(write_strategy(), 1..5))
        .prop_map(|(task, writes)| Task { task, writes })
}

fn target_strategy() -> impl Strategy<Value = Target> {
    prop_oneof![
        6 => Just(Target::Latest),
        3 => any::<Index>().prop_map(Target::Existing),
        1 => any::<Index>().prop_map(Target::OtherNs),
        1 => Just(Target::Ghost),
    ]
}

/// Thread and namespace, skewed so that histories grow long enough to be interesting.
fn place() -> impl Strategy<Value = (u8, u8)> {
    (
        prop_oneof![6 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8)],
        prop_oneof![4 => Just(0u8), 1 => Just(1u8)],
    )
}

fn filter_strategy() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (-1..5i64).prop_map(Filter::Step),
        (0..6u8).prop_map(Filter::Tag),
        (-1..5i64, 0..6u8).prop_map(|(s, t)| Filter::Both(s, t)),
    ]
}

fn put_strategy() -> impl Strategy<Value = Op> {
    (
        place(),
        (
            prop::option::weighted(0.9, target_strategy()),
            prop::bool::weighted(0.1),
        ),
        (-1..5i64, 0..4u8, 0..20u64),
        prop::option::of(0..6u8),
        0..3u8,
        prop::collection::vec(
            (
                0..CHANNELS.len() as u8,
                prop::bool::weighted(0.6),
                0..4u8,
                any::<bool>(),
            )
                .prop_map(|(channel, delta, data, prev_on_full)| Blob {
                    channel,
                    delta,
                    data,
                    prev_on_full,
                }),
            0..=3,
        ),
        prop::collection::vec(task_strategy(), 0..3),
    )
        .prop_map(
            |((thread, ns), (parent, orphan_writes), (step, source, created), tag, control, blobs, parent_writes)| {
                Op::Put {
                    thread,
                    ns,
                    parent,
                    orphan_writes,
                    step,
                    source,
                    created,
                    tag,
                    control,
                    blobs,
                    parent_writes,
                }
            },
        )
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let thread = || prop_oneof![6 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8)];
    prop_oneof![
        12 => put_strategy(),
        6 => (place(), target_strategy(), prop::collection::vec(task_strategy(), 0..4))
            .prop_map(|((thread, ns), target, tasks)| Op::PutWrites { thread, ns, target, tasks }),
        1 => (place(), prop::option::weighted(0.7, target_strategy()))
            .prop_map(|((thread, ns), which)| Op::Get { thread, ns, which }),
        3 => (
            place(),
            prop::option::of(target_strategy()),
            prop::option::of(0..4usize),
            prop::option::of(filter_strategy()),
        )
            .prop_map(|((thread, ns), before, limit, filter)| Op::List { thread, ns, before, limit, filter }),
        1 => thread().prop_map(|thread| Op::DeleteThread { thread }),
        2 => (thread(), prop::option::of(1..=3usize), prop::option::of(0..22u64))
            .prop_map(|(thread, keep_latest, before)| Op::Prune { thread, keep_latest, before }),
        1 => (thread(), 0..EFFECT_KEYS.len() as u8, 0..2u8)
            .prop_map(|(thread, key, description)| Op::RecordIntent { thread, key, description }),
        1 => (thread(), 0..EFFECT_KEYS.len() as u8).prop_map(|(thread, key)| Op::Effect { thread, key }),
        1 => Just(Op::ListThreads),
        2 => thread().prop_map(|thread| Op::AcquireLease { thread }),
        1 => thread().prop_map(|thread| Op::ReleaseLease { thread }),
        1 => Just(Op::Reopen),
    ]
}

fn bytes(text: String) -> Bytes {
    Bytes::from(text)
}

fn effect_result(kind: u8) -> serde_json::Value {
    match kind % 4 {
        0 => 12.into(),
        1 => "ok".into(),
        2 => serde_json::json!({"bytes": 3, "path": "a.txt"}),
        _ => serde_json::Value::Null,
    }
}

fn task_writes(task: &Task) -> TaskWrites {
    let (node, path) = TASKS[usize::from(task.task)];
    let mut effects_seen = false;
    let writes = task
        .writes
        .iter()
        // One `__effects__` write per batch of a task: with two, which one the ledger records
        // is unspecified (both stores record the first and keep another as the write).
        .filter(|write| !matches!(write, Write::Effects(_)) || !std::mem::replace(&mut effects_seen, true))
        .map(|write| match write {
            Write::State(c, v) => (CHANNELS[usize::from(*c)].to_owned(), bytes(format!("[\"{node}{v}\"]"))),
            Write::Special(c, v) => {
                let channel = SPECIALS[usize::from(*c)];
                let value = match *c {
                    0 => format!(r#"{{"message":"failed {v}"}}"#),
                    1 => format!(r#"[{{"id":"i{v}","value":"ask"}}]"#),
                    _ => format!(r#"{{"i{v}":"answer"}}"#),
                };
                (channel.to_owned(), bytes(value))
            }
            Write::Effects(effects) => {
                let map: serde_json::Map<String, serde_json::Value> = effects
                    .iter()
                    .map(|(k, r)| (EFFECT_KEYS[usize::from(*k)].to_owned(), effect_result(*r)))
                    .collect();
                (
                    "__effects__".to_owned(),
                    bytes(serde_json::Value::Object(map).to_string()),
                )
            }
        })
        .collect();
    TaskWrites {
        task_id: TaskId::derive(None, "", 0, path),
        task_path: path.to_owned(),
        node: node.to_owned(),
        writes,
    }
}

/// Compares two results: equal `Ok` values, or errors of the same kind.
fn same<T: PartialEq + Debug>(
    what: &str,
    model: Result<T, CheckpointError>,
    sut: Result<T, CheckpointError>,
) -> Result<Option<T>, TestCaseError> {
    match (model, sut) {
        (Ok(m), Ok(s)) => {
            prop_assert_eq!(&s, &m, "{}: sqlite (left) vs in-memory (right)", what);
            Ok(Some(m))
        }
        (Err(m), Err(s)) => {
            prop_assert_eq!(
                s.kind(),
                m.kind(),
                "{}: error kinds: sqlite {} / in-memory {}",
                what,
                s,
                m
            );
            Ok(None)
        }
        (Ok(m), Err(s)) => Err(TestCaseError::fail(format!(
            "{what}: sqlite failed ({:?}: {s}) but in-memory gave {m:?}",
            s.kind()
        ))),
        (Err(m), Ok(s)) => Err(TestCaseError::fail(format!(
            "{what}: in-memory failed ({:?}: {m}) but sqlite gave {s:?}",
            m.kind()
        ))),
    }
}

struct Machine {
    _dir: tempfile::TempDir,
    path: PathBuf,
    model: InMemorySaver,
    sut: SqliteStore,
    /// The last id handed out (to a checkpoint, or as a never-saved id): every new id is greater.
    last_id: Cell<Option<CheckpointId>>,
    /// Every blob a correct store holds: `(thread, ns, checkpoint, channel)` → the `prev` of a
    /// delta, tracked here independently of both stores to check prune's blob count.
    blobs: BTreeMap<BlobKey, Option<CheckpointId>>,
    /// The leases each store holds, by thread: (reference's, SQLite's).
    leases: BTreeMap<String, (Lease, Lease)>,
}

type BlobKey = (String, String, CheckpointId, String);

impl Machine {
    async fn new() -> Machine {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("model.db");
        let sut = SqliteStore::open(&path, SqliteOptions::create())
            .await
            .expect("the store opens");
        Machine {
            _dir: dir,
            path,
            model: InMemorySaver::new(),
            sut,
            last_id: Cell::new(None),
            blobs: BTreeMap::new(),
            leases: BTreeMap::new(),
        }
    }

    fn next_id(&self) -> CheckpointId {
        let id = CheckpointId::new_after(self.last_id.get());
        self.last_id.set(Some(id));
        id
    }

    /// The reference's checkpoints of a namespace, oldest first.
    async fn checkpoints(&self, thread: &str, ns: &str) -> Vec<Checkpoint> {
        let mut all: Vec<Checkpoint> = self
            .model
            .list(thread, ns, &ListOptions::default())
            .await
            .expect("the reference lists")
            .into_iter()
            .map(|t| t.checkpoint)
            .collect();
        all.reverse();
        all
    }

    /// Resolves a target: the checkpoint when it is one of the namespace's, and its id (a
    /// checkpoint of the other namespace, or a never-saved one, has no checkpoint).
    async fn resolve(&self, thread: &str, ns: &str, target: &Target) -> (CheckpointId, Option<Checkpoint>) {
        let here = self.checkpoints(thread, ns).await;
        let pick = |all: &[Checkpoint], index: &Index| all.get(index.index(all.len().max(1))).cloned();
        let found = match target {
            Target::Latest => (here.last().cloned(), true),
            Target::Existing(index) => (pick(&here, index), true),
            Target::OtherNs(index) => {
                let other = NAMESPACES.iter().find(|n| **n != ns).expect("two namespaces");
                (pick(&self.checkpoints(thread, other).await, index), false)
            }
            Target::Ghost => (None, false),
        };
        match found {
            (Some(checkpoint), true) => (checkpoint.id, Some(checkpoint)),
            (Some(checkpoint), false) => (checkpoint.id, None),
            // Never saved (nor ever handed to a checkpoint).
            (None, _) => (self.next_id(), None),
        }
    }

    async fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let mutating = match op {
            Op::Put {
                thread,
                ns,
                parent,
                orphan_writes,
                step,
                source,
                created,
                tag,
                control,
                blobs,
                parent_writes,
            } => {
                let (thread, ns) = (THREADS[usize::from(*thread)], NAMESPACES[usize::from(*ns)]);
                // The parent's id, and the parent itself when it is a checkpoint of this
                // namespace (only then are its channels carried over).
                let (parent_id, parent) = match parent {
                    Some(target) => {
                        let (id, parent) = self.resolve(thread, ns, target).await;
                        // A fresh namespace has no latest: start a new history instead.
                        match (target, &parent) {
                            (Target::Latest | Target::Existing(_), None) => (None, None),
                            _ => (Some(id), parent),
                        }
                    }
                    None => (None, None),
                };
                let parent_writes: &[Task] = if parent.is_some() || *orphan_writes {
                    parent_writes
                } else {
                    &[]
                };
                let id = self.next_id();
                let source = [Source::Input, Source::Loop, Source::Update, Source::Fork][usize::from(*source)];
                let mut metadata = serde_json::Map::new();
                metadata.insert("source".into(), source.as_str().into());
                metadata.insert("step".into(), (*step).into());
                metadata.insert(
                    "parents".into(),
                    match ns {
                        "" => serde_json::json!({}),
                        _ => serde_json::json!({ "": id.to_string() }),
                    },
                );
                if let Some(tag) = tag {
                    metadata.insert("tag".into(), tag_value(*tag));
                }
                let mut channels: BTreeMap<String, ChannelRef> =
                    parent.as_ref().map(|p| p.channels.clone()).unwrap_or_default();
                let mut new_blobs: Vec<NewBlob> = Vec::new();
                for blob in blobs {
                    let channel = CHANNELS[usize::from(blob.channel)];
                    if new_blobs.iter().any(|b| b.channel == channel) {
                        continue;
                    }
                    let head = parent.as_ref().and_then(|p| p.channels.get(channel)).map(|r| r.head);
                    let (data, prev) = if blob.delta {
                        // Continues the parent's chain, or starts from the default value.
                        (ChannelData::Delta(bytes(format!("[[{}]]", blob.data))), head)
                    } else {
                        (
                            ChannelData::Full(bytes(format!("[{}]", blob.data))),
                            head.filter(|_| blob.prev_on_full),
                        )
                    };
                    let version = channels.get(channel).map_or(0, |r| r.version) + 1;
                    channels.insert(channel.to_owned(), ChannelRef { version, head: id });
                    new_blobs.push(NewBlob {
                        channel: channel.to_owned(),
                        data,
                        prev,
                    });
                }
                let checkpoint = Checkpoint {
                    thread_id: thread.to_owned(),
                    ns: ns.to_owned(),
                    id,
                    parent_id,
                    step: *step,
                    source,
                    created_at: Timestamp::from_millis(BASE + created),
                    metadata,
                    channels,
                    control: match control {
                        0 => Bytes::new(),
                        1 => Bytes::from_static(br#"{"triggers":["a"]}"#),
                        _ => Bytes::from_static(br#"{"sends":[{"node":"b","arg":1}],"barriers":{}}"#),
                    },
                };
                let put = CheckpointPut {
                    checkpoint,
                    blobs: new_blobs,
                };
                let keys: Vec<(BlobKey, Option<CheckpointId>)> = put
                    .blobs
                    .iter()
                    .map(|b| {
                        let prev = match b.data {
                            ChannelData::Delta(_) => b.prev,
                            ChannelData::Full(_) => None,
                        };
                        ((thread.to_owned(), ns.to_owned(), id, b.channel.clone()), prev)
                    })
                    .collect();
                let writes: Vec<TaskWrites> = parent_writes.iter().map(task_writes).collect();
                let m = self.model.put(put.clone(), writes.clone()).await;
                let s = self.sut.put(put, writes).await;
                if same("put", m, s)?.is_some() {
                    self.blobs.extend(keys);
                }
                true
            }
            Op::PutWrites {
                thread,
                ns,
                target,
                tasks,
            } => {
                let (thread, ns) = (THREADS[usize::from(*thread)], NAMESPACES[usize::from(*ns)]);
                let (id, _) = self.resolve(thread, ns, target).await;
                let writes: Vec<TaskWrites> = tasks.iter().map(task_writes).collect();
                let m = self.model.put_writes(thread, ns, id, writes.clone()).await;
                let s = self.sut.put_writes(thread, ns, id, writes).await;
                same("put_writes", m, s)?;
                true
            }
            Op::Get { thread, ns, which } => {
                let (thread, ns) = (THREADS[usize::from(*thread)], NAMESPACES[usize::from(*ns)]);
                let id = match which {
                    Some(target) => Some(self.resolve(thread, ns, target).await.0),
                    None => None,
                };
                let m = self.model.get(thread, ns, id).await;
                let s = self.sut.get(thread, ns, id).await;
                same("get", m, s)?;
                false
            }
            Op::List {
                thread,
                ns,
                before,
                limit,
                filter,
            } => {
                let (thread, ns) = (THREADS[usize::from(*thread)], NAMESPACES[usize::from(*ns)]);
                let before = match before {
                    Some(target) => Some(self.resolve(thread, ns, target).await.0),
                    None => None,
                };
                let mut map = serde_json::Map::new();
                match filter {
                    Some(Filter::Step(step)) => {
                        map.insert("step".into(), (*step).into());
                    }
                    Some(Filter::Tag(tag)) => {
                        map.insert("tag".into(), tag_value(*tag));
                    }
                    Some(Filter::Both(step, tag)) => {
                        map.insert("step".into(), (*step).into());
                        map.insert("tag".into(), tag_value(*tag));
                    }
                    None => {}
                }
                let options = ListOptions {
                    before,
                    limit: *limit,
                    filter: map,
                };
                let m = self.model.list(thread, ns, &options).await;
                let s = self.sut.list(thread, ns, &options).await;
                same("list", m, s)?;
                false
            }
            Op::DeleteThread { thread } => {
                let thread = THREADS[usize::from(*thread)];
                let m = self.model.delete_thread(thread).await;
                let s = self.sut.delete_thread(thread).await;
                same("delete_thread", m, s)?;
                // Deleting a thread deletes its lease.
                self.leases.remove(thread);
                self.blobs.retain(|(t, ..), _| t != thread);
                true
            }
            Op::Prune {
                thread,
                keep_latest,
                before,
            } => {
                let thread = THREADS[usize::from(*thread)];
                let retention = Retention {
                    keep_latest: *keep_latest,
                    before: before.map(|b| Timestamp::from_millis(BASE + b)),
                };
                let m = self.model.prune(thread, &retention).await;
                let s = self.sut.prune(thread, &retention).await;
                let swept = self.sweep(thread).await;
                if let Ok(report) = &m {
                    prop_assert_eq!(report.blobs, swept, "prune: in-memory (left) vs the tracked sweep");
                }
                let m = m.map(|report| PruneReport { blobs: swept, ..report });
                same("prune", m, s)?;
                true
            }
            Op::RecordIntent {
                thread,
                key,
                description,
            } => {
                let (thread, key) = (THREADS[usize::from(*thread)], EFFECT_KEYS[usize::from(*key)]);
                let description = format!("write file {description}");
                let m = self.model.record_intent(thread, key, &description).await;
                let s = self.sut.record_intent(thread, key, &description).await;
                same("record_intent", m, s)?;
                true
            }
            Op::Effect { thread, key } => {
                let (thread, key) = (THREADS[usize::from(*thread)], EFFECT_KEYS[usize::from(*key)]);
                let m = self.model.effect(thread, key).await;
                let s = self.sut.effect(thread, key).await;
                same("effect", m, s)?;
                false
            }
            Op::ListThreads => {
                let m = self.model.list_threads().await;
                let s = self.sut.list_threads().await;
                same("list_threads", m, s)?;
                false
            }
            Op::AcquireLease { thread } => {
                let thread = THREADS[usize::from(*thread)];
                let m = self.model.acquire_lease(thread).await;
                let s = self.sut.acquire_lease(thread).await;
                // Holders are named differently; the thread and the epoch must agree.
                let strip = |l: &Option<Lease>| l.as_ref().map(|l| (l.thread_id.clone(), l.epoch));
                let (m_lease, s_lease) = (m.as_ref().ok().cloned().flatten(), s.as_ref().ok().cloned().flatten());
                same("acquire_lease", m.map(|l| strip(&l)), s.map(|l| strip(&l)))?;
                if let (Some(m), Some(s)) = (m_lease, s_lease) {
                    self.leases.insert(thread.to_owned(), (m, s));
                }
                true
            }
            Op::ReleaseLease { thread } => {
                let thread = THREADS[usize::from(*thread)];
                if let Some((m, s)) = self.leases.remove(thread) {
                    let m = self.model.release_lease(&m).await;
                    let s = self.sut.release_lease(&s).await;
                    same("release_lease", m, s)?;
                }
                true
            }
            Op::Reopen => {
                for (thread, (m, s)) in std::mem::take(&mut self.leases) {
                    let m = self.model.release_lease(&m).await;
                    let s = self.sut.release_lease(&s).await;
                    same(&format!("release_lease({thread:?}) before reopening"), m, s)?;
                }
                self.sut.close().await;
                self.sut = SqliteStore::open(&self.path, SqliteOptions::default())
                    .await
                    .map_err(|e| TestCaseError::fail(format!("reopening the store: {e}")))?;
                true
            }
        };
        if mutating {
            self.compare_everything().await?;
        }
        Ok(())
    }

    /// Forgets the blobs of `thread` that no checkpoint left needs (neither a head nor on a
    /// head's delta chain); returns how many.
    async fn sweep(&mut self, thread: &str) -> usize {
        let mut live = std::collections::BTreeSet::new();
        for ns in NAMESPACES {
            for checkpoint in self.checkpoints(thread, ns).await {
                for (channel, reference) in &checkpoint.channels {
                    let mut cursor = Some(reference.head);
                    while let Some(id) = cursor {
                        let key = (thread.to_owned(), ns.to_owned(), id, channel.clone());
                        cursor = self.blobs.get(&key).copied().flatten();
                        live.insert(key);
                    }
                }
            }
        }
        let before = self.blobs.len();
        self.blobs.retain(|key, _| key.0 != thread || live.contains(key));
        before - self.blobs.len()
    }

    /// Compares all observable state: every namespace's history, the thread summaries, and
    /// the effects ledger.
    async fn compare_everything(&self) -> Result<(), TestCaseError> {
        for thread in THREADS {
            for ns in NAMESPACES {
                let options = ListOptions::default();
                let m = self.model.list(thread, ns, &options).await;
                let s = self.sut.list(thread, ns, &options).await;
                let listed = same(&format!("state: list({thread:?}, {ns:?})"), m, s)?.unwrap_or_default();
                // `get` reads through its own query: check it on every checkpoint too.
                let ids = listed.iter().map(|t| Some(t.checkpoint.id));
                for id in std::iter::once(None).chain(ids) {
                    let m = self.model.get(thread, ns, id).await;
                    let s = self.sut.get(thread, ns, id).await;
                    same(&format!("state: get({thread:?}, {ns:?}, {id:?})"), m, s)?;
                }
            }
            for key in EFFECT_KEYS {
                let m = self.model.effect(thread, key).await;
                let s = self.sut.effect(thread, key).await;
                same(&format!("state: effect({thread:?}, {key:?})"), m, s)?;
            }
        }
        let m = self.model.list_threads().await;
        let s = self.sut.list_threads().await;
        same("state: list_threads", m, s)?;
        Ok(())
    }
}

proptest! {
    // No persistence file: the minimal failing sequence is in the failure message.
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// SQLite and the in-memory reference agree on every result of every op sequence.
    #[test]
    fn sqlite_store_matches_the_in_memory_reference(ops in prop::collection::vec(op_strategy(), 1..=40)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let mut machine = Machine::new().await;
            for (i, op) in ops.iter().enumerate() {
                machine
                    .apply(op)
                    .await
                    .map_err(|e| TestCaseError::fail(format!("op {i} {op:?}: {e}")))?;
            }
            machine.sut.close().await;
            Ok::<(), TestCaseError>(())
        })?;
    }
}

// ---- pinned sequences ----------------------------------------------------------------------
//
// Minimal sequences found by the machine, each naming the behaviour it checks. Those marked
// "SQLite differed" record a disagreement the SQLite store had (since fixed); the others guard
// what the machine checks against the contract rather than against the reference.

fn replay(ops: Vec<Op>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut machine = Machine::new().await;
        for (i, op) in ops.iter().enumerate() {
            if let Err(error) = machine.apply(op).await {
                panic!("op {i} {op:?}: {error}");
            }
        }
        machine.sut.close().await;
    });
}

/// A put on thread `t0`, namespace `""`, with only the given parts set.
fn put(parent: Option<Target>, tag: Option<u8>, blobs: Vec<Blob>, parent_writes: Vec<Task>) -> Op {
    Op::Put {
        thread: 0,
        ns: 0,
        orphan_writes: parent.is_some(),
        parent,
        step: 0,
        source: 1,
        created: 0,
        tag,
        control: 1,
        blobs,
        parent_writes,
    }
}

fn put_writes(target: Target, tasks: Vec<Task>) -> Op {
    Op::PutWrites {
        thread: 0,
        ns: 0,
        target,
        tasks,
    }
}

fn list_tagged(tag: u8) -> Op {
    Op::List {
        thread: 0,
        ns: 0,
        before: None,
        limit: None,
        filter: Some(Filter::Tag(tag)),
    }
}

fn blob(channel: u8, delta: bool) -> Blob {
    Blob {
        channel,
        delta,
        data: 0,
        prev_on_full: false,
    }
}

/// SQLite differed: `put_writes` with no writes for a checkpoint that was never saved succeeded
/// while the reference refused it; both now take no writes as a no-op, whatever the checkpoint.
#[test]
fn no_writes_for_a_missing_checkpoint_are_a_no_op() {
    replay(vec![put_writes(Target::Ghost, vec![])]);
}

/// SQLite differed: a task's writes saved in two batches came back interleaved (an `idx` that
/// restarted at 0 in every batch, ties ordered arbitrarily), not in the order they were saved.
#[test]
fn a_tasks_writes_keep_the_order_they_were_saved_in() {
    replay(vec![
        put(None, None, vec![], vec![]),
        put_writes(
            Target::Latest,
            vec![Task {
                task: 1,
                writes: vec![Write::State(2, 0), Write::State(0, 0)],
            }],
        ),
        put_writes(
            Target::Latest,
            vec![Task {
                task: 1,
                writes: vec![Write::Special(0, 0)],
            }],
        ),
    ]);
}

/// SQLite differed: a `null` filter value matched checkpoints without the key
/// (`json_extract` yields SQL NULL for both, and `NULL IS NULL`).
#[test]
fn a_null_filter_does_not_match_a_missing_key() {
    replay(vec![put(None, None, vec![], vec![]), list_tagged(5)]);
}

/// SQLite differed: a `true` filter value matched the number 1 (`json_extract` turns JSON
/// booleans into the integers 1 and 0).
#[test]
fn a_boolean_filter_does_not_match_a_number() {
    replay(vec![put(None, Some(3), vec![], vec![]), list_tagged(4)]);
}

/// SQLite differed: a put whose parent is not a saved checkpoint of its namespace, with parent
/// writes, succeeded (and recorded their effects) instead of being refused.
#[test]
fn parent_writes_for_an_unsaved_parent_are_refused() {
    replay(vec![put(
        Some(Target::Ghost),
        None,
        vec![],
        vec![Task {
            task: 0,
            writes: vec![Write::Effects(vec![(0, 0)])],
        }],
    )]);
}

/// SQLite differed: `delete_thread` deleted the lease row, so the next acquisition started
/// again at epoch 1 and a holder from before the deletion carried a current epoch.
#[test]
fn lease_epochs_keep_increasing_across_delete_thread() {
    replay(vec![
        Op::AcquireLease { thread: 0 },
        Op::DeleteThread { thread: 0 },
        Op::AcquireLease { thread: 0 },
    ]);
}

/// A channel repeated within one batch of a task: first value of a state channel, last value
/// of a special one, and a later batch still replaces the special value.
#[test]
fn repeated_channels_in_one_batch_follow_the_merge_rule() {
    replay(vec![
        put(None, None, vec![], vec![]),
        put_writes(
            Target::Latest,
            vec![
                Task {
                    task: 1,
                    writes: vec![
                        Write::State(0, 0),
                        Write::State(0, 1),
                        Write::Special(0, 0),
                        Write::Special(0, 1),
                    ],
                },
                Task {
                    task: 1,
                    writes: vec![Write::Special(0, 2)],
                },
            ],
        ),
    ]);
}

/// Pruning the checkpoint holding the start of a kept checkpoint's delta chain deletes no blob.
#[test]
fn prune_counts_only_blobs_no_kept_checkpoint_needs() {
    replay(vec![
        put(None, None, vec![blob(0, false), blob(1, false)], vec![]),
        put(Some(Target::Latest), None, vec![blob(0, true)], vec![]),
        Op::Prune {
            thread: 0,
            keep_latest: Some(1),
            before: None,
        },
    ]);
}
