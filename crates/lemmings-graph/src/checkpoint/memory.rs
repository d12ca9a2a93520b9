//! [`InMemorySaver`]: a checkpointer in a mutex-guarded map, for tests and short-lived runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    ChannelData, CheckpointError, CheckpointErrorKind, CheckpointId, CheckpointPut, CheckpointTuple, Checkpointer,
    ListOptions, TaskWrites, special,
};
use crate::checkpoint::Checkpoint;

/// Keeps every checkpoint in memory; nothing survives the process.
///
/// Blob chains are shared `Arc` links, so a put costs only the blobs it adds.
#[derive(Debug, Default)]
pub struct InMemorySaver {
    threads: Mutex<HashMap<String, HashMap<String, Namespace>>>,
}

#[derive(Debug, Default)]
struct Namespace {
    checkpoints: BTreeMap<CheckpointId, Stored>,
}

#[derive(Debug)]
struct Stored {
    checkpoint: Checkpoint,
    blobs: HashMap<String, Arc<Link>>,
    writes: Vec<TaskWrites>,
}

#[derive(Debug)]
struct Link {
    data: ChannelData,
    prev: Option<Arc<Link>>,
}

fn invalid(message: String) -> CheckpointError {
    CheckpointError::new(CheckpointErrorKind::Invalid, message)
}

impl InMemorySaver {
    /// An empty saver.
    pub fn new() -> Self {
        InMemorySaver::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashMap<String, Namespace>>> {
        // A panic while holding the lock cannot leave the map half-updated (every mutation is a
        // single insert after validation), so a poisoned lock is safe to reuse.
        self.threads.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Merges a task's writes into the saved ones: the first value of a state channel wins (a
/// task's writes are saved once), the last value of a special channel wins (a task can fail,
/// then be interrupted, then be answered).
fn merge_writes(saved: &mut Vec<TaskWrites>, incoming: Vec<TaskWrites>) {
    for task in incoming {
        match saved.iter_mut().find(|t| t.task_id == task.task_id) {
            Some(existing) => {
                for (channel, value) in task.writes {
                    match existing.writes.iter_mut().find(|(c, _)| *c == channel) {
                        Some(slot) if special::is_special(&channel) => slot.1 = value,
                        Some(_) => {}
                        None => existing.writes.push((channel, value)),
                    }
                }
            }
            None => saved.push(task),
        }
    }
    saved.sort_by(|a, b| (&a.task_path, a.task_id).cmp(&(&b.task_path, b.task_id)));
}

fn tuple(namespace: &Namespace, stored: &Stored) -> Result<CheckpointTuple, CheckpointError> {
    let checkpoint = &stored.checkpoint;
    let mut values = Vec::with_capacity(checkpoint.channels.len());
    for (channel, reference) in &checkpoint.channels {
        let link = namespace
            .checkpoints
            .get(&reference.head)
            .and_then(|holder| holder.blobs.get(channel))
            .ok_or_else(|| {
                CheckpointError::new(
                    CheckpointErrorKind::Corrupt,
                    format!(
                        "checkpoint {} of thread {} names {} as the head of channel `{channel}`, which has no blob for it",
                        checkpoint.id, checkpoint.thread_id, reference.head
                    ),
                )
            })?;
        let mut chain = Vec::new();
        let mut cursor = Some(link);
        while let Some(link) = cursor {
            chain.push(link.data.clone());
            cursor = link.prev.as_ref();
        }
        chain.reverse();
        values.push((channel.clone(), chain));
    }
    Ok(CheckpointTuple {
        checkpoint: checkpoint.clone(),
        values,
        pending_writes: stored.writes.clone(),
    })
}

fn matches(checkpoint: &Checkpoint, options: &ListOptions) -> bool {
    options.before.is_none_or(|before| checkpoint.id < before)
        && options
            .filter
            .iter()
            .all(|(key, value)| checkpoint.metadata.get(key) == Some(value))
}

#[async_trait]
impl Checkpointer for InMemorySaver {
    async fn get(
        &self,
        thread_id: &str,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        let threads = self.lock();
        let Some(namespace) = threads.get(thread_id).and_then(|t| t.get(ns)) else {
            return Ok(None);
        };
        let stored = match id {
            Some(id) => namespace.checkpoints.get(&id),
            None => namespace.checkpoints.values().next_back(),
        };
        stored.map(|stored| tuple(namespace, stored)).transpose()
    }

    async fn put(&self, put: CheckpointPut, parent_writes: Vec<TaskWrites>) -> Result<(), CheckpointError> {
        let CheckpointPut { checkpoint, blobs } = put;
        let mut threads = self.lock();
        let namespace = threads
            .entry(checkpoint.thread_id.clone())
            .or_default()
            .entry(checkpoint.ns.clone())
            .or_default();
        // Validate everything before changing anything, so a refused put leaves no trace.
        let mut links = HashMap::with_capacity(blobs.len());
        for blob in blobs {
            let prev = match (&blob.data, blob.prev) {
                (ChannelData::Delta(_), Some(prev)) => Some(
                    namespace
                        .checkpoints
                        .get(&prev)
                        .and_then(|holder| holder.blobs.get(&blob.channel))
                        .cloned()
                        .ok_or_else(|| {
                            invalid(format!(
                                "delta for channel `{}` continues a chain at checkpoint {prev} of thread {}, which has no blob for it",
                                blob.channel, checkpoint.thread_id
                            ))
                        })?,
                ),
                _ => None,
            };
            links.insert(blob.channel, Arc::new(Link { data: blob.data, prev }));
        }
        for (channel, reference) in &checkpoint.channels {
            let found = if reference.head == checkpoint.id {
                links.contains_key(channel)
            } else {
                namespace
                    .checkpoints
                    .get(&reference.head)
                    .is_some_and(|holder| holder.blobs.contains_key(channel))
            };
            if !found {
                return Err(invalid(format!(
                    "checkpoint {} of thread {} names {} as the head of channel `{channel}`, which has no blob for it",
                    checkpoint.id, checkpoint.thread_id, reference.head
                )));
            }
        }
        if !parent_writes.is_empty() {
            let parent = checkpoint
                .parent_id
                .and_then(|id| namespace.checkpoints.get_mut(&id))
                .ok_or_else(|| {
                    invalid(format!(
                        "pending writes for the parent of checkpoint {} of thread {}, which is not saved",
                        checkpoint.id, checkpoint.thread_id
                    ))
                })?;
            merge_writes(&mut parent.writes, parent_writes);
        }
        namespace.checkpoints.insert(
            checkpoint.id,
            Stored {
                checkpoint,
                blobs: links,
                writes: Vec::new(),
            },
        );
        Ok(())
    }

    async fn put_writes(
        &self,
        thread_id: &str,
        ns: &str,
        checkpoint_id: CheckpointId,
        writes: Vec<TaskWrites>,
    ) -> Result<(), CheckpointError> {
        let mut threads = self.lock();
        let stored = threads
            .get_mut(thread_id)
            .and_then(|t| t.get_mut(ns))
            .and_then(|n| n.checkpoints.get_mut(&checkpoint_id))
            .ok_or_else(|| {
                invalid(format!(
                    "pending writes for checkpoint {checkpoint_id} of thread {thread_id}, which is not saved"
                ))
            })?;
        merge_writes(&mut stored.writes, writes);
        Ok(())
    }

    async fn list(
        &self,
        thread_id: &str,
        ns: &str,
        options: &ListOptions,
    ) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        let threads = self.lock();
        let Some(namespace) = threads.get(thread_id).and_then(|t| t.get(ns)) else {
            return Ok(Vec::new());
        };
        namespace
            .checkpoints
            .values()
            .rev()
            .filter(|stored| matches(&stored.checkpoint, options))
            .take(options.limit.unwrap_or(usize::MAX))
            .map(|stored| tuple(namespace, stored))
            .collect()
    }

    async fn delete_thread(&self, thread_id: &str) -> Result<(), CheckpointError> {
        self.lock().remove(thread_id);
        Ok(())
    }
}
