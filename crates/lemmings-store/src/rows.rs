//! What both backends share: the JSON of a checkpoint's channel map and metadata, checkpoint,
//! pending-write and thread rows as read back, chains rebuilt from blob links, the check that a
//! metadata filter key is safe to put in a JSON path, and the refusals of pending writes without
//! a saved checkpoint.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use lemmings_graph::{
    ChannelData, ChannelRef, Checkpoint, CheckpointTuple, Source, TaskId, TaskWrites, ThreadSummary, Timestamp,
};

use crate::error::StoreError;

/// One stored blob, as read back.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    pub(crate) delta: bool,
    pub(crate) prev: Option<String>,
    pub(crate) data: Bytes,
}

/// Blob links by `(checkpoint id, channel)`.
pub(crate) type Links = HashMap<(String, String), Link>;

/// Pending writes by checkpoint id, grouped by task.
pub(crate) type Writes = HashMap<String, Vec<TaskWrites>>;

/// A time as stored: milliseconds since the Unix epoch.
pub(crate) fn millis(timestamp: Timestamp) -> i64 {
    i64::try_from(timestamp.as_millis()).unwrap_or(i64::MAX)
}

fn timestamp(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis.try_into().unwrap_or(0))
}

pub(crate) fn channels_json(channels: &BTreeMap<String, ChannelRef>) -> Result<String, StoreError> {
    serde_json::to_string(channels).map_err(|e| StoreError::Invalid(format!("channel map does not serialize: {e}")))
}

pub(crate) fn metadata_json(checkpoint: &Checkpoint) -> Result<String, StoreError> {
    serde_json::to_string(&checkpoint.metadata)
        .map_err(|e| StoreError::Invalid(format!("checkpoint metadata does not serialize: {e}")))
}

/// Refuses `parent_writes` for a checkpoint that has no parent.
pub(crate) fn check_parent_writes(checkpoint: &Checkpoint, parent_writes: &[TaskWrites]) -> Result<(), StoreError> {
    if checkpoint.parent_id.is_none() && !parent_writes.is_empty() {
        return Err(StoreError::Invalid(format!(
            "pending writes for the parent of checkpoint {} of thread {}, which has none",
            checkpoint.id, checkpoint.thread_id
        )));
    }
    Ok(())
}

/// The refusal of pending writes for a checkpoint that is not saved.
pub(crate) fn unsaved(checkpoint: &str, thread: &str) -> String {
    format!("pending writes for checkpoint {checkpoint} of thread {thread}, which is not saved")
}

fn parse_source(text: &str) -> Option<Source> {
    match text {
        "input" => Some(Source::Input),
        "loop" => Some(Source::Loop),
        "update" => Some(Source::Update),
        "fork" => Some(Source::Fork),
        _ => None,
    }
}

/// A checkpoint row's columns, as read back.
pub(crate) struct CheckpointRow {
    pub(crate) id: String,
    pub(crate) parent: Option<String>,
    pub(crate) step: i64,
    pub(crate) source: String,
    pub(crate) created_at: i64,
    pub(crate) metadata: String,
    pub(crate) channels: String,
    pub(crate) control: Vec<u8>,
}

impl CheckpointRow {
    /// The checkpoint of `thread`'s namespace `ns`, with its id as stored (the key of its links
    /// and writes); the error says what is damaged.
    pub(crate) fn parse(self, thread: &str, ns: &str) -> Result<(String, Checkpoint), String> {
        let what = || format!("checkpoint {} of thread {thread}", self.id);
        let id = |text: &str| text.parse().map_err(|e| format!("{}: {e}", what()));
        let checkpoint = Checkpoint {
            thread_id: thread.to_owned(),
            ns: ns.to_owned(),
            id: id(&self.id)?,
            parent_id: self.parent.as_deref().map(id).transpose()?,
            step: self.step,
            source: parse_source(&self.source)
                .ok_or_else(|| format!("{}: unknown source {:?}", what(), self.source))?,
            created_at: timestamp(self.created_at),
            metadata: serde_json::from_str(&self.metadata).map_err(|e| format!("{}: metadata: {e}", what()))?,
            channels: serde_json::from_str(&self.channels).map_err(|e| format!("{}: channel map: {e}", what()))?,
            control: Bytes::from(self.control),
        };
        Ok((self.id, checkpoint))
    }
}

/// A pending-write row, as read back.
pub(crate) struct WriteRow {
    pub(crate) checkpoint: String,
    pub(crate) task_id: String,
    pub(crate) task_path: String,
    pub(crate) node: String,
    pub(crate) channel: String,
    pub(crate) value: Bytes,
}

impl WriteRow {
    /// Adds the write to its checkpoint's tasks. Rows must come grouped by task, each task's
    /// writes in the order it made them.
    pub(crate) fn push_to(self, writes: &mut Writes) -> Result<(), String> {
        let task_id: TaskId = self
            .task_id
            .parse()
            .map_err(|e| format!("a pending write of checkpoint {}: {e}", self.checkpoint))?;
        let tasks = writes.entry(self.checkpoint).or_default();
        match tasks.last_mut() {
            Some(task) if task.task_id == task_id => task.writes.push((self.channel, self.value)),
            _ => tasks.push(TaskWrites {
                task_id,
                task_path: self.task_path,
                node: self.node,
                writes: vec![(self.channel, self.value)],
            }),
        }
        Ok(())
    }
}

/// The tuples of `checkpoints`: each with its chains from `links` and its pending writes.
pub(crate) fn tuples(
    checkpoints: Vec<(String, Checkpoint)>,
    links: &Links,
    mut writes: Writes,
) -> Result<Vec<CheckpointTuple>, String> {
    checkpoints
        .into_iter()
        .map(|(id, checkpoint)| {
            Ok(CheckpointTuple {
                values: chains(&checkpoint.channels, links, &id)?,
                pending_writes: writes.remove(&id).unwrap_or_default(),
                checkpoint,
            })
        })
        .collect()
}

/// A row of the thread list: the thread, its number of root checkpoints, and the id, step and
/// creation time of its latest.
pub(crate) fn thread_summary(
    thread: String,
    checkpoints: i64,
    latest: &str,
    step: i64,
    created_at: i64,
) -> Result<ThreadSummary, String> {
    Ok(ThreadSummary {
        latest: latest.parse().map_err(|e| format!("thread {thread}: {e}"))?,
        thread_id: thread,
        checkpoints: usize::try_from(checkpoints).unwrap_or(0),
        step,
        updated_at: timestamp(created_at),
    })
}

/// Each channel's chain, oldest link first, following `prev` from its head.
fn chains(
    channels: &BTreeMap<String, ChannelRef>,
    links: &Links,
    checkpoint: &str,
) -> Result<Vec<(String, Vec<ChannelData>)>, String> {
    let mut values = Vec::with_capacity(channels.len());
    for (channel, reference) in channels {
        let mut chain = Vec::new();
        let mut cursor = Some(reference.head.to_string());
        while let Some(id) = cursor {
            let link = links.get(&(id.clone(), channel.clone())).ok_or_else(|| {
                format!(
                    "checkpoint {checkpoint} needs the blob of channel `{channel}` at checkpoint {id}, which is missing"
                )
            })?;
            chain.push(if link.delta {
                ChannelData::Delta(link.data.clone())
            } else {
                ChannelData::Full(link.data.clone())
            });
            cursor = if link.delta { link.prev.clone() } else { None };
            if chain.len() > 1_000_000 {
                return Err(format!(
                    "channel `{channel}` of checkpoint {checkpoint} has a cyclic chain"
                ));
            }
        }
        chain.reverse();
        values.push((channel.clone(), chain));
    }
    Ok(values)
}

/// The JSON path of a metadata key, refusing keys that are not plain names (LangGraph allows
/// `^[a-zA-Z0-9_.-]+$` too).
pub(crate) fn filter_path(key: &str) -> Result<String, StoreError> {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if plain {
        Ok(format!("$.\"{key}\""))
    } else {
        Err(StoreError::Invalid(format!(
            "metadata filter key {key:?} is not allowed: use letters, digits, `_`, `-` and `.` only"
        )))
    }
}

/// An effects-ledger row as a record: applied with its (JSON) result, or an intent.
pub(crate) fn effect_record(
    applied: bool,
    description: String,
    result: Option<Vec<u8>>,
) -> lemmings_graph::EffectRecord {
    if applied {
        let result = result
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::Value::Null);
        lemmings_graph::EffectRecord::Applied { result }
    } else {
        lemmings_graph::EffectRecord::Intent { description }
    }
}

/// The `(namespace, checkpoint id)`s `retention` deletes, from a thread's checkpoints given as
/// `(namespace, id, created_at ms)` sorted by namespace, then newest first.
pub(crate) fn doomed(
    checkpoints: impl IntoIterator<Item = (String, String, i64)>,
    retention: &lemmings_graph::Retention,
) -> Vec<(String, String)> {
    let mut doomed = Vec::new();
    let mut rank = 0;
    let mut current_ns: Option<String> = None;
    for (ns, id, created) in checkpoints {
        if current_ns.as_ref() != Some(&ns) {
            current_ns = Some(ns.clone());
            rank = 0;
        }
        if retention.deletes(rank, timestamp(created)) {
            doomed.push((ns, id));
        }
        rank += 1;
    }
    doomed
}
