//! The [`Checkpointer`] trait and the data it stores: checkpoints, channel blobs, pending writes.
//!
//! A checkpoint does not hold the whole state. It maps each channel to its version and to the
//! *head*: the checkpoint at which the channel's latest blob was written. A blob is either the
//! channel's full value or one superstep's writes to it (a delta) that continues the chain at
//! `prev`. Reading a checkpoint therefore means following each head back to a full value; the
//! executor folds the chain through the channel's reducer. Unchanged channels cost nothing per
//! step, and an append-only list costs only what was appended.

mod ids;
mod memory;

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use ids::{CheckpointId, TaskId, Timestamp};
pub use memory::InMemorySaver;

pub(crate) use crate::state::ChannelData;

/// Why a checkpoint was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// New input was accepted (step −1 on a fresh thread).
    Input,
    /// A superstep finished.
    Loop,
    /// `update_state` changed the state.
    Update,
    /// A replay from an earlier checkpoint started a new branch.
    Fork,
}

impl Source {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Input => "input",
            Source::Loop => "loop",
            Source::Update => "update",
            Source::Fork => "fork",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a channel's value lives in a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRef {
    /// The channel's version (bumped by every superstep that writes it).
    pub version: u64,
    /// The checkpoint holding the channel's latest blob.
    pub head: CheckpointId,
}

/// A checkpoint: the bookkeeping of one moment of a thread.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The thread.
    pub thread_id: String,
    /// The namespace: `""` for the root graph, `node:<task id>` for a subgraph, nested with `|`.
    pub ns: String,
    /// The id; ids of a thread sort in creation order.
    pub id: CheckpointId,
    /// The checkpoint this one continues from.
    pub parent_id: Option<CheckpointId>,
    /// The superstep (−1 for the input checkpoint of a fresh thread).
    pub step: i64,
    /// Why it was written.
    pub source: Source,
    /// When it was created.
    pub created_at: Timestamp,
    /// Metadata: `source`, `step`, `parents`, and the run's scalar metadata. Stores may filter
    /// on it with [`ListOptions::filter`].
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Every channel that has a value, by name.
    pub channels: BTreeMap<String, ChannelRef>,
    /// The executor's control state (triggers, pending sends, barriers), opaque JSON.
    pub control: Bytes,
}

/// A blob written with a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBlob {
    /// The channel.
    pub channel: String,
    /// The value or delta.
    pub data: ChannelData,
    /// For a delta, the checkpoint holding the previous link of the chain (`None`: the chain
    /// starts from the channel's default value). Ignored for full values.
    pub prev: Option<CheckpointId>,
}

/// A checkpoint plus the blobs written with it.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointPut {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Blobs for the channels whose head is this checkpoint.
    pub blobs: Vec<NewBlob>,
}

/// The channel names of pending writes that are not state channels.
pub mod special {
    /// The task failed; the value is `{"message": ...}`.
    pub const ERROR: &str = "__error__";
    /// The task is interrupted; the value is a list of interrupts.
    pub const INTERRUPT: &str = "__interrupt__";
    /// Answers to a task's interrupts, by interrupt id.
    pub const RESUME: &str = "__resume__";
    /// Side effects the task applied: `{idempotency key: result}`. A store records them in its
    /// effects ledger in the same transaction as the task's writes.
    pub const EFFECTS: &str = "__effects__";
    /// Where the task sent control (`Command` gotos and sends).
    pub const GOTO: &str = "__goto__";
    /// The task finished without writing anything.
    pub const DONE: &str = "__done__";
    /// Whether a channel name is one of these.
    pub fn is_special(channel: &str) -> bool {
        channel.starts_with("__") && channel.ends_with("__")
    }
}

/// The writes of one task, saved as soon as it finishes so that it is not run again on resume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskWrites {
    /// The task's deterministic id.
    pub task_id: TaskId,
    /// The task's path (orders writes: pulled nodes by name, then sends by index).
    pub task_path: String,
    /// The node.
    pub node: String,
    /// `(channel, JSON)` pairs: state channels and [`special`] channels. A store keeps the first
    /// value of a state channel per task and the last value of a special channel.
    pub writes: Vec<(String, Bytes)>,
}

impl TaskWrites {
    /// The side effects this task recorded (its [`special::EFFECTS`] write): `(key, result)`.
    pub fn effects(&self) -> Result<Vec<(String, serde_json::Value)>, serde_json::Error> {
        match self.writes.iter().find(|(channel, _)| channel == special::EFFECTS) {
            Some((_, bytes)) => {
                let map: BTreeMap<String, serde_json::Value> = serde_json::from_slice(bytes)?;
                Ok(map.into_iter().collect())
            }
            None => Ok(Vec::new()),
        }
    }
}

/// A checkpoint as read back: its channel chains resolved and its pending writes attached.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointTuple {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// For each channel of the checkpoint, its chain: a full value or a delta from the
    /// default first, then deltas, oldest first.
    pub values: Vec<(String, Vec<ChannelData>)>,
    /// The pending writes saved against this checkpoint, grouped by task, ordered by
    /// `(task_path, task_id)`.
    pub pending_writes: Vec<TaskWrites>,
}

/// Options for [`Checkpointer::list`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListOptions {
    /// Only checkpoints with an id below this one.
    pub before: Option<CheckpointId>,
    /// At most this many.
    pub limit: Option<usize>,
    /// Only checkpoints whose metadata has these exact values.
    pub filter: serde_json::Map<String, serde_json::Value>,
}

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What went wrong in a store, for branching without matching messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointErrorKind {
    /// The store could not be reached; retrying may help.
    Unavailable,
    /// The store was busy; retrying may help.
    Busy,
    /// Another process holds the thread's lease.
    Locked,
    /// This process lost the thread's lease; its writes were refused.
    Fenced,
    /// The stored data is damaged.
    Corrupt,
    /// The store cannot be written.
    ReadOnly,
    /// The store was written by a newer version of Lemmings.
    TooNew,
    /// The request was invalid (e.g. a malformed filter key).
    Invalid,
    /// Anything else.
    Other,
}

/// A store error. Its message names the store's path or URL and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CheckpointError {
    kind: CheckpointErrorKind,
    message: String,
    #[source]
    source: Option<BoxError>,
}

impl CheckpointError {
    /// An error of `kind` with a message (lowercase, naming the path and the cause).
    pub fn new(kind: CheckpointErrorKind, message: impl Into<String>) -> Self {
        CheckpointError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The kind.
    pub fn kind(&self) -> CheckpointErrorKind {
        self.kind
    }

    /// Whether retrying may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, CheckpointErrorKind::Unavailable | CheckpointErrorKind::Busy)
    }
}

/// A durable (or in-memory) home for checkpoints and pending writes.
///
/// Every implementation must pass [`conformance`](crate::conformance).
#[async_trait]
pub trait Checkpointer: Send + Sync + fmt::Debug + 'static {
    /// The checkpoint `id` of a thread's namespace, or its latest (greatest id) when `id` is
    /// `None`; `Ok(None)` when there is none.
    async fn get(
        &self,
        thread_id: &str,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError>;

    /// Saves a checkpoint with its blobs. The checkpoint supersedes its parent's pending writes
    /// (their effect is in it, and resume, replay and forks never read a superseded checkpoint's
    /// writes), so the store deletes them, in the same transaction that records the effects
    /// carried by `parent_writes` (the last tasks of the superstep it closes) in its ledger.
    async fn put(&self, put: CheckpointPut, parent_writes: Vec<TaskWrites>) -> Result<(), CheckpointError>;

    /// Saves several checkpoints of one thread and namespace, each continuing from the one
    /// before it, as [`put`](Checkpointer::put) would one by one; a store that can should save
    /// them in one transaction (group commit: the background writer of `async` durability
    /// hands over everything that queued up while it was saving). The default saves them one
    /// by one.
    async fn put_many(&self, puts: Vec<(CheckpointPut, Vec<TaskWrites>)>) -> Result<(), CheckpointError> {
        for (put, parent_writes) in puts {
            self.put(put, parent_writes).await?;
        }
        Ok(())
    }

    /// Saves the writes of finished tasks against a checkpoint, in one transaction.
    async fn put_writes(
        &self,
        thread_id: &str,
        ns: &str,
        checkpoint_id: CheckpointId,
        writes: Vec<TaskWrites>,
    ) -> Result<(), CheckpointError>;

    /// A namespace's checkpoints, newest first.
    async fn list(
        &self,
        thread_id: &str,
        ns: &str,
        options: &ListOptions,
    ) -> Result<Vec<CheckpointTuple>, CheckpointError>;

    /// Deletes a thread: every namespace, checkpoint, blob, write, lease and effect.
    async fn delete_thread(&self, thread_id: &str) -> Result<(), CheckpointError>;

    /// Claims a thread for one run. While a store holds the lease, every write it makes for the
    /// thread is fenced by the lease's epoch: if another holder took the thread over (because
    /// this one looked dead), the write is refused with [`CheckpointErrorKind::Fenced`]. Fails
    /// with [`CheckpointErrorKind::Locked`], naming the holder, while a live holder has it.
    /// `Ok(None)`: this store does not do leases (runs are then not protected from each other).
    async fn acquire_lease(&self, thread_id: &str) -> Result<Option<Lease>, CheckpointError> {
        let _ = thread_id;
        Ok(None)
    }

    /// Gives a lease back.
    async fn release_lease(&self, lease: &Lease) -> Result<(), CheckpointError> {
        let _ = lease;
        Ok(())
    }

    /// What the effects ledger knows about the side effect with this idempotency key.
    async fn effect(&self, thread_id: &str, key: &str) -> Result<Option<EffectRecord>, CheckpointError> {
        let _ = (thread_id, key);
        Ok(None)
    }

    /// Records, in its own committed transaction, that a side effect is about to be applied; if
    /// the run dies before the effect's result is saved, a resume finds it ambiguous rather
    /// than unknown.
    async fn record_intent(&self, thread_id: &str, key: &str, description: &str) -> Result<(), CheckpointError> {
        let _ = (thread_id, key, description);
        Ok(())
    }

    /// Deletes old history of a thread (every namespace) per `retention`, never a namespace's
    /// latest checkpoint nor anything a kept checkpoint needs, so the thread still resumes.
    async fn prune(&self, thread_id: &str, retention: &Retention) -> Result<PruneReport, CheckpointError> {
        let _ = (thread_id, retention);
        Err(CheckpointError::new(
            CheckpointErrorKind::Invalid,
            "this checkpointer cannot prune",
        ))
    }

    /// Every thread with at least one root checkpoint, most recently updated first.
    async fn list_threads(&self) -> Result<Vec<ThreadSummary>, CheckpointError> {
        Err(CheckpointError::new(
            CheckpointErrorKind::Invalid,
            "this checkpointer cannot list threads",
        ))
    }
}

/// The right to run a thread, held by one run at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The thread.
    pub thread_id: String,
    /// Bumped at every acquisition: writes carrying an older epoch are refused.
    pub epoch: u64,
    /// Who holds it, for messages (e.g. `pid 4242 on host build-1`).
    pub holder: String,
}

/// What the effects ledger knows about one side effect.
#[derive(Clone, Debug, PartialEq)]
pub enum EffectRecord {
    /// Announced with [`Checkpointer::record_intent`] but its result was never saved: it may or
    /// may not have been applied.
    Intent {
        /// What the effect was said to do.
        description: String,
    },
    /// Applied, and its result saved with its task's writes.
    Applied {
        /// The result the task recorded.
        result: serde_json::Value,
    },
}

/// How much history [`Checkpointer::prune`] keeps. Both limits may be combined; a namespace's
/// latest checkpoint is always kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many checkpoints per namespace, newest first.
    pub keep_latest: Option<usize>,
    /// Delete checkpoints created before this time.
    pub before: Option<Timestamp>,
}

impl Retention {
    /// Whether a namespace's checkpoint at `rank` (0 = its newest) created at `created_at` is
    /// deleted. The newest is always kept, so the thread still resumes.
    pub fn deletes(&self, rank: usize, created_at: Timestamp) -> bool {
        rank > 0
            && (self.keep_latest.is_some_and(|keep| rank >= keep)
                || self.before.is_some_and(|before| created_at < before))
    }
}

/// What [`Checkpointer::prune`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Checkpoints deleted.
    pub checkpoints: usize,
    /// Pending-write rows deleted.
    pub writes: usize,
    /// Channel blobs deleted (those no kept checkpoint needs).
    pub blobs: usize,
}

/// One line of [`Checkpointer::list_threads`].
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadSummary {
    /// The thread.
    pub thread_id: String,
    /// How many root checkpoints it has.
    pub checkpoints: usize,
    /// Its latest root checkpoint.
    pub latest: CheckpointId,
    /// That checkpoint's step.
    pub step: i64,
    /// When that checkpoint was written.
    pub updated_at: Timestamp,
}
