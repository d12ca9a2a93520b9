//! [`InMemorySaver`]: a checkpointer in a mutex-guarded map, for tests and short-lived runs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    ChannelData, CheckpointError, CheckpointErrorKind, CheckpointId, CheckpointPut, CheckpointTuple, Checkpointer,
    EffectRecord, Lease, ListOptions, PruneReport, Retention, TaskWrites, ThreadSummary, special,
};
use crate::checkpoint::Checkpoint;

/// Keeps every checkpoint in memory; nothing survives the process.
///
/// Blob chains are shared `Arc` links, so a put costs only the blobs it adds. Leases protect a
/// thread from two runs in this process; they never expire.
#[derive(Debug, Default)]
pub struct InMemorySaver {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    threads: HashMap<String, HashMap<String, Namespace>>,
    /// Per thread: the last epoch handed out, and the holder while the lease is held.
    leases: HashMap<String, (u64, Option<String>)>,
    effects: HashMap<(String, String), EffectRecord>,
    runs: u64,
}

#[derive(Debug, Default)]
struct Namespace {
    checkpoints: BTreeMap<CheckpointId, Stored>,
    /// Blobs by the checkpoint that wrote them; kept apart from checkpoints so that pruning a
    /// checkpoint keeps the blobs later checkpoints still name as heads.
    blobs: HashMap<(CheckpointId, String), Arc<Link>>,
}

#[derive(Debug)]
struct Stored {
    checkpoint: Checkpoint,
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

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map half-updated (every mutation is
        // made after validation), so a poisoned lock is safe to reuse.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Merges a task's writes into the saved ones: the first value of a state channel wins (a
/// task's writes are saved once), the last value of a special channel wins (a task can fail,
/// then be interrupted, then be answered).
fn merge_writes(saved: &mut Vec<TaskWrites>, incoming: Vec<TaskWrites>) {
    for task in incoming {
        let position = match saved.iter().position(|t| t.task_id == task.task_id) {
            Some(position) => position,
            None => {
                saved.push(TaskWrites {
                    writes: Vec::new(),
                    ..task.clone()
                });
                saved.len() - 1
            }
        };
        // Every channel goes through the rule, also within one batch.
        let existing = &mut saved[position];
        for (channel, value) in task.writes {
            match existing.writes.iter_mut().find(|(c, _)| *c == channel) {
                Some(slot) if special::is_special(&channel) => slot.1 = value,
                Some(_) => {}
                None => existing.writes.push((channel, value)),
            }
        }
    }
    saved.sort_by(|a, b| (&a.task_path, a.task_id).cmp(&(&b.task_path, b.task_id)));
}

/// Records the effects a batch of task writes applied.
fn record_effects(inner: &mut Inner, thread: &str, writes: &[TaskWrites]) -> Result<(), CheckpointError> {
    for task in writes {
        let effects = task
            .effects()
            .map_err(|e| invalid(format!("effects of task {}: {e}", task.task_id)))?;
        for (key, result) in effects {
            inner
                .effects
                .insert((thread.to_owned(), key), EffectRecord::Applied { result });
        }
    }
    Ok(())
}

fn tuple(namespace: &Namespace, stored: &Stored) -> Result<CheckpointTuple, CheckpointError> {
    let checkpoint = &stored.checkpoint;
    let mut values = Vec::with_capacity(checkpoint.channels.len());
    for (channel, reference) in &checkpoint.channels {
        let link = namespace.blobs.get(&(reference.head, channel.clone())).ok_or_else(|| {
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
        let inner = self.lock();
        let Some(namespace) = inner.threads.get(thread_id).and_then(|t| t.get(ns)) else {
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
        let mut inner = self.lock();
        let inner = &mut *inner;
        let thread = checkpoint.thread_id.clone();
        let namespace = inner
            .threads
            .entry(thread.clone())
            .or_default()
            .entry(checkpoint.ns.clone())
            .or_default();
        // Validate everything before changing anything, so a refused put leaves no trace.
        let mut links = Vec::with_capacity(blobs.len());
        for blob in blobs {
            let prev = match (&blob.data, blob.prev) {
                (ChannelData::Delta(_), Some(prev)) => {
                    Some(namespace.blobs.get(&(prev, blob.channel.clone())).cloned().ok_or_else(|| {
                        invalid(format!(
                            "delta for channel `{}` continues a chain at checkpoint {prev} of thread {thread}, which has no blob for it",
                            blob.channel
                        ))
                    })?)
                }
                _ => None,
            };
            links.push((blob.channel, Arc::new(Link { data: blob.data, prev })));
        }
        for (channel, reference) in &checkpoint.channels {
            let found = if reference.head == checkpoint.id {
                links.iter().any(|(c, _)| c == channel)
            } else {
                namespace.blobs.contains_key(&(reference.head, channel.clone()))
            };
            if !found {
                return Err(invalid(format!(
                    "checkpoint {} of thread {thread} names {} as the head of channel `{channel}`, which has no blob for it",
                    checkpoint.id, reference.head
                )));
            }
        }
        for task in &parent_writes {
            task.effects()
                .map_err(|e| invalid(format!("effects of task {}: {e}", task.task_id)))?;
        }
        match checkpoint.parent_id.and_then(|id| namespace.checkpoints.get_mut(&id)) {
            // The new checkpoint supersedes its parent's pending writes.
            Some(parent) => parent.writes.clear(),
            None if !parent_writes.is_empty() => {
                return Err(invalid(format!(
                    "pending writes for the parent of checkpoint {} of thread {thread}, which is not saved",
                    checkpoint.id
                )));
            }
            None => {}
        }
        for (channel, link) in links {
            namespace.blobs.insert((checkpoint.id, channel), link);
        }
        namespace.checkpoints.insert(
            checkpoint.id,
            Stored {
                checkpoint,
                writes: Vec::new(),
            },
        );
        record_effects(inner, &thread, &parent_writes)
    }

    async fn put_writes(
        &self,
        thread_id: &str,
        ns: &str,
        checkpoint_id: CheckpointId,
        writes: Vec<TaskWrites>,
    ) -> Result<(), CheckpointError> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut inner = self.lock();
        for task in &writes {
            task.effects()
                .map_err(|e| invalid(format!("effects of task {}: {e}", task.task_id)))?;
        }
        let stored = inner
            .threads
            .get_mut(thread_id)
            .and_then(|t| t.get_mut(ns))
            .and_then(|n| n.checkpoints.get_mut(&checkpoint_id))
            .ok_or_else(|| {
                invalid(format!(
                    "pending writes for checkpoint {checkpoint_id} of thread {thread_id}, which is not saved"
                ))
            })?;
        merge_writes(&mut stored.writes, writes.clone());
        record_effects(&mut inner, thread_id, &writes)
    }

    async fn list(
        &self,
        thread_id: &str,
        ns: &str,
        options: &ListOptions,
    ) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        let inner = self.lock();
        let Some(namespace) = inner.threads.get(thread_id).and_then(|t| t.get(ns)) else {
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
        let mut inner = self.lock();
        inner.threads.remove(thread_id);
        inner.effects.retain(|(thread, _), _| thread != thread_id);
        if let Some((_, holder)) = inner.leases.get_mut(thread_id) {
            *holder = None;
        }
        Ok(())
    }

    async fn acquire_lease(&self, thread_id: &str) -> Result<Option<Lease>, CheckpointError> {
        let mut inner = self.lock();
        inner.runs += 1;
        let run = inner.runs;
        let (epoch, holder) = inner.leases.entry(thread_id.to_owned()).or_default();
        if let Some(holder) = holder {
            return Err(CheckpointError::new(
                CheckpointErrorKind::Locked,
                format!(
                    "thread {thread_id} is being run by {holder} (lease epoch {epoch}); wait for that run to end or cancel it"
                ),
            ));
        }
        *epoch += 1;
        let name = format!("run {run} in this process");
        *holder = Some(name.clone());
        Ok(Some(Lease {
            thread_id: thread_id.to_owned(),
            epoch: *epoch,
            holder: name,
        }))
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), CheckpointError> {
        let mut inner = self.lock();
        if let Some((epoch, holder)) = inner.leases.get_mut(&lease.thread_id)
            && *epoch == lease.epoch
        {
            *holder = None;
        }
        Ok(())
    }

    async fn effect(&self, thread_id: &str, key: &str) -> Result<Option<EffectRecord>, CheckpointError> {
        Ok(self
            .lock()
            .effects
            .get(&(thread_id.to_owned(), key.to_owned()))
            .cloned())
    }

    async fn record_intent(&self, thread_id: &str, key: &str, description: &str) -> Result<(), CheckpointError> {
        let mut inner = self.lock();
        let entry = inner.effects.entry((thread_id.to_owned(), key.to_owned()));
        // An applied effect stays applied; an intent is recorded once.
        entry.or_insert_with(|| EffectRecord::Intent {
            description: description.to_owned(),
        });
        Ok(())
    }

    async fn prune(&self, thread_id: &str, retention: &Retention) -> Result<PruneReport, CheckpointError> {
        let mut inner = self.lock();
        let mut report = PruneReport::default();
        let Some(namespaces) = inner.threads.get_mut(thread_id) else {
            return Ok(report);
        };
        for namespace in namespaces.values_mut() {
            let ids: Vec<CheckpointId> = namespace.checkpoints.keys().rev().copied().collect();
            for (rank, id) in ids.iter().enumerate() {
                let stored = &namespace.checkpoints[id];
                if retention.deletes(rank, stored.checkpoint.created_at)
                    && let Some(removed) = namespace.checkpoints.remove(id)
                {
                    report.checkpoints += 1;
                    report.writes += removed.writes.iter().map(|w| w.writes.len()).sum::<usize>();
                }
            }
            // Sweep: a blob stays while a kept checkpoint names it as a head or a kept chain runs
            // through it, as in a durable store, so each link is counted once, when its last
            // chain dies.
            let heads: HashSet<(CheckpointId, String)> = namespace
                .checkpoints
                .values()
                .flat_map(|s| s.checkpoint.channels.iter().map(|(c, r)| (r.head, c.clone())))
                .collect();
            let mut needed: HashSet<*const Link> = HashSet::new();
            for key in &heads {
                let mut cursor = namespace.blobs.get(key);
                while let Some(link) = cursor {
                    if !needed.insert(Arc::as_ptr(link)) {
                        break;
                    }
                    cursor = link.prev.as_ref();
                }
            }
            namespace.blobs.retain(|key, link| {
                let keep = heads.contains(key) || needed.contains(&Arc::as_ptr(link));
                if !keep {
                    report.blobs += 1;
                }
                keep
            });
        }
        Ok(report)
    }

    async fn list_threads(&self) -> Result<Vec<ThreadSummary>, CheckpointError> {
        let inner = self.lock();
        let mut threads: Vec<ThreadSummary> = inner
            .threads
            .iter()
            .filter_map(|(thread, namespaces)| {
                let root = namespaces.get("")?;
                let latest = root.checkpoints.values().next_back()?;
                Some(ThreadSummary {
                    thread_id: thread.clone(),
                    checkpoints: root.checkpoints.len(),
                    latest: latest.checkpoint.id,
                    step: latest.checkpoint.step,
                    updated_at: latest.checkpoint.created_at,
                })
            })
            .collect();
        threads.sort_by_key(|t| std::cmp::Reverse(t.latest));
        Ok(threads)
    }
}
