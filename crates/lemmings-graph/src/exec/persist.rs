//! Saving: which blob each changed channel gets (full value or delta, with compaction), the
//! ordered background writer that batches pending writes into checkpoint commits, and the
//! checkpoint itself.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::Loop;
use crate::checkpoint::{
    ChannelData, ChannelRef, Checkpoint, CheckpointError, CheckpointErrorKind, CheckpointId, CheckpointPut,
    Checkpointer, NewBlob, Source, TaskWrites, Timestamp,
};
use crate::config::Durability;
use crate::error::GraphError;
use crate::state::State;
use crate::stream::{CheckpointEvent, EventData, StreamMode};

/// A delta chain is cut by a full value once its deltas outweigh four times the last full value
/// (and 64 KiB), or once it has this many links. For a list growing by appends, the full values
/// then add up to about the final size (sizes grow fivefold), so storage is about twice the data
/// written, and a read follows a bounded chain.
const MIN_FULL_BYTES: u64 = 64 * 1024;
const FULL_RATIO: u64 = 4;
const MAX_DELTAS: u32 = 1024;

#[derive(Clone, Debug)]
pub(crate) enum PendingBlob {
    Full,
    Delta(Bytes),
}

/// The executor's bookkeeping for one channel.
#[derive(Clone, Debug, Default)]
pub(crate) struct Chan {
    pub(crate) version: u64,
    pub(crate) persisted_version: u64,
    /// The checkpoint holding the channel's latest saved blob.
    pub(crate) head: Option<CheckpointId>,
    /// What the next saved checkpoint must write for it.
    pub(crate) pending: Option<PendingBlob>,
    deltas: u32,
    delta_bytes: u64,
    full_bytes: u64,
}

impl Chan {
    /// Records a write: `delta` is this superstep's writes to the channel as a JSON array, when
    /// known. Two unsaved supersteps of writes collapse into a full value.
    pub(crate) fn written(&mut self, version: u64, delta: Option<Bytes>) {
        self.version = version;
        self.pending = match (self.pending.take(), delta) {
            (None, Some(delta)) => Some(PendingBlob::Delta(delta)),
            _ => Some(PendingBlob::Full),
        };
    }

    /// Records what a loaded chain looks like, for the compaction policy.
    pub(crate) fn restored(&mut self, chain: &[ChannelData]) {
        self.deltas = 0;
        self.delta_bytes = 0;
        self.full_bytes = 0;
        for link in chain {
            match link {
                ChannelData::Full(bytes) => {
                    self.full_bytes = bytes.len() as u64;
                    self.deltas = 0;
                    self.delta_bytes = 0;
                }
                ChannelData::Delta(bytes) => {
                    self.deltas += 1;
                    self.delta_bytes += bytes.len() as u64;
                }
            }
        }
    }

    /// Whether a delta of `len` bytes may extend the chain instead of a full value.
    fn delta_fits(&self, len: usize) -> bool {
        self.deltas < MAX_DELTAS && self.delta_bytes + len as u64 <= (FULL_RATIO * self.full_bytes).max(MIN_FULL_BYTES)
    }
}

enum Op {
    Writes {
        checkpoint: CheckpointId,
        writes: Vec<TaskWrites>,
    },
    Put {
        put: Box<CheckpointPut>,
        parent_writes: Vec<TaskWrites>,
        ack: Option<oneshot::Sender<Result<(), CheckpointError>>>,
    },
    Flush(oneshot::Sender<Result<(), CheckpointError>>),
}

type Failure = Arc<Mutex<Option<(CheckpointErrorKind, String)>>>;

/// Saves in order, in the background: pending writes as tasks finish, checkpoints as supersteps
/// end. Queued writes for a checkpoint's parent join that checkpoint's transaction, so a chain
/// costs one commit per superstep however the tasks finish.
pub(crate) struct Writer {
    tx: Option<mpsc::Sender<Op>>,
    failure: Failure,
}

/// How many operations may wait before a finishing task waits for the store (back-pressure:
/// LangGraph's unbounded queue is what makes its `async` durability grow memory).
const QUEUE: usize = 64;

fn failed(failure: &Failure) -> Option<CheckpointError> {
    let guard = failure.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .as_ref()
        .map(|(kind, message)| CheckpointError::new(*kind, message.clone()))
}

impl Writer {
    pub(crate) fn off() -> Writer {
        Writer {
            tx: None,
            failure: Arc::default(),
        }
    }

    pub(crate) fn spawn(store: Arc<dyn Checkpointer>, thread: String, ns: String) -> Writer {
        let (tx, rx) = mpsc::channel(QUEUE);
        let failure = Failure::default();
        tokio::spawn(write_loop(store, thread, ns, rx, Arc::clone(&failure)));
        Writer { tx: Some(tx), failure }
    }

    /// The first error the writer hit, if any.
    pub(crate) fn failure(&self) -> Option<CheckpointError> {
        failed(&self.failure)
    }

    fn closed(&self) -> CheckpointError {
        self.failure()
            .unwrap_or_else(|| CheckpointError::new(CheckpointErrorKind::Other, "the checkpoint writer stopped"))
    }

    pub(crate) async fn put_writes(
        &self,
        checkpoint: CheckpointId,
        writes: Vec<TaskWrites>,
    ) -> Result<(), CheckpointError> {
        let Some(tx) = &self.tx else { return Ok(()) };
        tx.send(Op::Writes { checkpoint, writes })
            .await
            .map_err(|_| self.closed())
    }

    pub(crate) async fn put(
        &self,
        put: CheckpointPut,
        parent_writes: Vec<TaskWrites>,
        wait: bool,
    ) -> Result<(), CheckpointError> {
        let Some(tx) = &self.tx else { return Ok(()) };
        let (ack, done) = if wait {
            let (ack, done) = oneshot::channel();
            (Some(ack), Some(done))
        } else {
            (None, None)
        };
        tx.send(Op::Put {
            put: Box::new(put),
            parent_writes,
            ack,
        })
        .await
        .map_err(|_| self.closed())?;
        match done {
            Some(done) => done.await.map_err(|_| self.closed())?,
            None => Ok(()),
        }
    }

    /// Waits until everything queued is saved.
    pub(crate) async fn flush(&self) -> Result<(), CheckpointError> {
        let Some(tx) = &self.tx else { return Ok(()) };
        let (ack, done) = oneshot::channel();
        tx.send(Op::Flush(ack)).await.map_err(|_| self.closed())?;
        done.await.map_err(|_| self.closed())?
    }
}

async fn write_loop(
    store: Arc<dyn Checkpointer>,
    thread: String,
    ns: String,
    mut rx: mpsc::Receiver<Op>,
    failure: Failure,
) {
    let mut queue: VecDeque<Op> = VecDeque::new();
    while let Some(op) = rx.recv().await {
        queue.push_back(op);
        while let Ok(op) = rx.try_recv() {
            queue.push_back(op);
        }
        while let Some(op) = queue.pop_front() {
            let (result, ack) = match op {
                Op::Writes { checkpoint, mut writes } => {
                    // Batch: later writes for the same checkpoint, then fold into the put of its child.
                    while let Some(Op::Writes { checkpoint: next, .. }) = queue.front()
                        && *next == checkpoint
                    {
                        if let Some(Op::Writes { writes: more, .. }) = queue.pop_front() {
                            writes.extend(more);
                        }
                    }
                    if let Some(Op::Put { put, parent_writes, .. }) = queue.front_mut()
                        && put.checkpoint.parent_id == Some(checkpoint)
                    {
                        writes.append(parent_writes);
                        *parent_writes = writes;
                        continue;
                    }
                    if failed(&failure).is_some() {
                        continue;
                    }
                    (store.put_writes(&thread, &ns, checkpoint, writes).await, None)
                }
                Op::Put {
                    put,
                    parent_writes,
                    ack,
                } => {
                    // Group commit: the checkpoints queued right behind this one, each the child
                    // of the one before, are saved with it in one transaction; their acks wait
                    // for it.
                    let mut last = put.checkpoint.id;
                    let mut puts = vec![(*put, parent_writes)];
                    let mut acks = vec![ack];
                    // Task writes saved against the last checkpoint of the group join the put of
                    // its child, as they would one by one.
                    while let Some((next, parent_writes, ack)) = take_child(&mut queue, last) {
                        last = next.checkpoint.id;
                        puts.push((next, parent_writes));
                        acks.push(ack);
                    }
                    let result = match failed(&failure) {
                        Some(error) => Err(error),
                        None => store.put_many(puts).await,
                    };
                    let last_ack = acks.pop().flatten();
                    for ack in acks.into_iter().flatten() {
                        let copy = match &result {
                            Ok(()) => Ok(()),
                            Err(error) => Err(CheckpointError::new(error.kind(), error.to_string())),
                        };
                        let _ = ack.send(copy);
                    }
                    (result, last_ack)
                }
                Op::Flush(ack) => (failed(&failure).map_or(Ok(()), Err), Some(ack)),
            };
            let result = record(&failure, result);
            if let Some(ack) = ack {
                let _ = ack.send(result);
            }
        }
    }
}

/// An acknowledgement a caller waiting for a save receives.
type Ack = Option<oneshot::Sender<Result<(), CheckpointError>>>;

/// The put of `last`'s child from the front of the queue, with any task writes for `last`
/// queued before it put ahead of its own parent writes (as the `Writes` branch would fold them
/// one by one); `None`, leaving the queue alone, when the front is anything else.
fn take_child(queue: &mut VecDeque<Op>, last: CheckpointId) -> Option<(CheckpointPut, Vec<TaskWrites>, Ack)> {
    let writes_ahead = queue
        .iter()
        .take_while(|op| matches!(op, Op::Writes { checkpoint, .. } if *checkpoint == last))
        .count();
    match queue.get(writes_ahead) {
        Some(Op::Put { put, .. }) if put.checkpoint.parent_id == Some(last) => {}
        _ => return None,
    }
    let mut writes = Vec::new();
    for op in queue.drain(..writes_ahead) {
        if let Op::Writes { writes: more, .. } = op {
            writes.extend(more);
        }
    }
    match queue.pop_front() {
        Some(Op::Put {
            put,
            parent_writes,
            ack,
        }) => {
            writes.extend(parent_writes);
            Some((*put, writes, ack))
        }
        _ => None,
    }
}

/// Remembers the first failure, so later operations fail fast.
fn record(failure: &Failure, result: Result<(), CheckpointError>) -> Result<(), CheckpointError> {
    if let Err(error) = &result {
        let mut guard = failure.lock().unwrap_or_else(|p| p.into_inner());
        guard.get_or_insert_with(|| (error.kind(), error.to_string()));
    }
    result
}

impl<S: State> Loop<S> {
    pub(super) fn store_error(&self, source: CheckpointError) -> GraphError {
        GraphError::Checkpointer {
            thread_id: self.thread(),
            source,
        }
    }

    /// Fails the run if a background save failed.
    pub(super) fn check_writer(&self) -> Result<(), GraphError> {
        match self.writer.failure() {
            Some(source) => Err(self.store_error(source)),
            None => Ok(()),
        }
    }

    /// Ends a superstep (or accepts input): a new checkpoint becomes the head, saved now
    /// (`sync`), queued (`async`) or kept in memory until the run stops (`exit`).
    pub(super) async fn checkpoint(&mut self, source: Source, writers: Vec<String>) -> Result<(), GraphError> {
        if !writers.is_empty() || source == Source::Input {
            self.control.last_writers = writers;
        }
        let store = self.scope.checkpointer.is_some();
        let events = self.scope.sink.wants(StreamMode::Checkpoints) || self.scope.sink.wants(StreamMode::Debug);
        let parent = self.head.id;
        self.head.step = self.step;
        self.pending.clear();
        if !store && !events {
            // Without a store nothing needs an id: task ids derive from "no checkpoint".
            self.head.id = None;
            return Ok(());
        }
        let id = CheckpointId::new_after(parent.or(self.last_persisted));
        self.head.id = Some(id);
        if store && self.scope.durability != Durability::Exit {
            let put = self.build_put(id, parent, source, self.step)?;
            let parent_writes = std::mem::take(&mut self.step_writes);
            match (&self.scope.checkpointer, self.scope.durability, self.writer_queued) {
                // Nothing queued: save directly, sparing the writer's two task switches.
                (Some(store), Durability::Sync, false) => {
                    store.put(put, parent_writes).await.map_err(|e| self.store_error(e))?;
                }
                // Queued task writes join this checkpoint's transaction in the writer.
                _ => {
                    let wait = self.scope.durability == Durability::Sync;
                    self.writer
                        .put(put, parent_writes, wait)
                        .await
                        .map_err(|e| self.store_error(e))?;
                    self.writer_queued = !wait;
                }
            }
            self.last_persisted = Some(id);
        } else {
            // With `exit` durability the writes of a finished superstep are moot: its effect is
            // in the state that the final checkpoint saves.
            self.step_writes.clear();
        }
        if events {
            let next = self.next_names(true);
            self.scope.sink.emit_with_debug(StreamMode::Checkpoints, self.step, || {
                EventData::Checkpoint(CheckpointEvent {
                    id,
                    parent_id: parent,
                    source,
                    next: next.clone(),
                })
            });
        }
        Ok(())
    }

    /// The checkpoint `id` with blobs for every channel changed since the last save.
    pub(super) fn build_put(
        &mut self,
        id: CheckpointId,
        parent: Option<CheckpointId>,
        source: Source,
        step: i64,
    ) -> Result<CheckpointPut, GraphError> {
        let specs = S::channels();
        let mut blobs = Vec::new();
        for (index, chan) in self.chans.iter_mut().enumerate() {
            let Some(pending) = chan.pending.take() else { continue };
            let data = match pending {
                PendingBlob::Delta(bytes) if chan.delta_fits(bytes.len()) => {
                    chan.deltas += 1;
                    chan.delta_bytes += bytes.len() as u64;
                    ChannelData::Delta(bytes)
                }
                _ => {
                    let bytes = self.state.encode_channel(index).map_err(|e| GraphError::Corrupt {
                        what: format!("channel `{}`", specs[index].name),
                        thread_id: self.scope.thread(),
                        message: format!("it does not serialize: {e}"),
                    })?;
                    chan.full_bytes = bytes.len() as u64;
                    chan.deltas = 0;
                    chan.delta_bytes = 0;
                    ChannelData::Full(Bytes::from(bytes))
                }
            };
            blobs.push(NewBlob {
                channel: specs[index].name.to_owned(),
                data,
                prev: chan.head,
            });
            chan.head = Some(id);
            chan.persisted_version = chan.version;
        }
        let channels: BTreeMap<String, ChannelRef> = self
            .chans
            .iter()
            .enumerate()
            .filter_map(|(index, chan)| {
                Some((
                    specs[index].name.to_owned(),
                    ChannelRef {
                        version: chan.version,
                        head: chan.head?,
                    },
                ))
            })
            .collect();
        let control = self
            .control
            .encode(&self.topo)
            .map_err(|message| self.corrupt("the control state", message))?;
        let mut metadata = serde_json::Map::new();
        for (key, value) in self.scope.metadata.iter() {
            if !key.starts_with("__") && !value.is_object() && !value.is_array() {
                metadata.insert(key.clone(), value.clone());
            }
        }
        metadata.insert("source".into(), source.as_str().into());
        metadata.insert("step".into(), step.into());
        metadata.insert(
            "parents".into(),
            serde_json::Value::Object((*self.scope.parents).clone()),
        );
        let checkpoint = Checkpoint {
            thread_id: self.scope.thread().unwrap_or_default(),
            ns: self.scope.ns.to_string(),
            id,
            parent_id: parent,
            step,
            source,
            created_at: Timestamp::now(),
            metadata,
            channels,
            control,
        };
        Ok(CheckpointPut { checkpoint, blobs })
    }

    /// Saves what the durability mode still owes (`exit`: the head checkpoint and the writes of
    /// an unfinished superstep), then waits for queued saves. Runs whatever the outcome.
    pub(super) async fn close(&mut self) -> Result<(), GraphError> {
        if self.scope.durability == Durability::Exit
            && let (Some(store), Some(thread), Some(head)) =
                (self.scope.checkpointer.clone(), self.scope.thread(), self.head.id)
        {
            let dirty = self.chans.iter().any(|c| c.pending.is_some());
            if dirty || self.last_persisted != Some(head) {
                let put = self.build_put(head, self.last_persisted, self.exit_source(), self.head.step)?;
                store.put(put, Vec::new()).await.map_err(|e| self.store_error(e))?;
                self.last_persisted = Some(head);
            }
            let writes = std::mem::take(&mut self.step_writes);
            if !writes.is_empty() {
                store
                    .put_writes(&thread, &self.scope.ns, head, writes)
                    .await
                    .map_err(|e| self.store_error(e))?;
            }
        }
        // Writes held back for a checkpoint that never came (the barrier failed, or the run was
        // cancelled) are saved on their own, so those tasks do not run again.
        if self.scope.durability != Durability::Exit
            && !self.step_writes.is_empty()
            && let Some(head) = self.head.id
        {
            let writes = std::mem::take(&mut self.step_writes);
            self.writer
                .put_writes(head, writes)
                .await
                .map_err(|e| self.store_error(e))?;
        }
        self.writer.flush().await.map_err(|e| self.store_error(e))
    }

    fn exit_source(&self) -> Source {
        if self.control.start.is_some() {
            Source::Input
        } else {
            Source::Loop
        }
    }
}
