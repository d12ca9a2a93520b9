//! [`Ctx`]: what a running node can see and do besides its input: where it is, interrupts,
//! streaming, cancellation and idempotency keys.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::cache::Cache;
use crate::checkpoint::{CheckpointError, CheckpointId, Checkpointer, EffectRecord, TaskId};
use crate::config::{BackgroundPolicy, Durability};
use crate::error::NodeError;
use crate::interrupt::Interrupt;
use crate::stream::{EventData, Sink, StreamMode};

/// Everything one graph level of a run shares: the thread and namespace, the store, the stream,
/// cancellation and the answers to interrupts.
#[derive(Clone)]
pub(crate) struct Scope {
    pub(crate) thread_id: Option<Arc<str>>,
    pub(crate) ns: Arc<str>,
    pub(crate) checkpointer: Option<Arc<dyn Checkpointer>>,
    pub(crate) cache: Option<Arc<dyn Cache>>,
    pub(crate) durability: Durability,
    pub(crate) recursion_limit: u32,
    pub(crate) cancel: CancellationToken,
    pub(crate) sink: Sink,
    pub(crate) answers: Arc<BTreeMap<String, serde_json::Value>>,
    pub(crate) metadata: Arc<serde_json::Map<String, serde_json::Value>>,
    pub(crate) background: BackgroundPolicy,
    /// `{parent namespace: parent checkpoint id}` for a subgraph's checkpoint metadata.
    pub(crate) parents: Arc<serde_json::Map<String, serde_json::Value>>,
}

impl Scope {
    pub(crate) fn thread(&self) -> Option<String> {
        self.thread_id.as_deref().map(str::to_owned)
    }
}

/// Identifies a task; its id is derived lazily, since a run without a checkpointer rarely needs it.
#[derive(Debug)]
pub(crate) struct TaskIdentity {
    pub(crate) checkpoint: Option<CheckpointId>,
    pub(crate) step: i64,
    pub(crate) path: String,
    id: OnceLock<TaskId>,
}

impl TaskIdentity {
    pub(crate) fn new(checkpoint: Option<CheckpointId>, step: i64, path: String) -> Self {
        TaskIdentity {
            checkpoint,
            step,
            path,
            id: OnceLock::new(),
        }
    }

    pub(crate) fn id(&self, ns: &str) -> TaskId {
        *self
            .id
            .get_or_init(|| TaskId::derive(self.checkpoint, ns, self.step, &self.path))
    }
}

#[derive(Debug, Default)]
struct InterruptLog {
    calls: usize,
    raised: Vec<Interrupt>,
}

pub(crate) struct CtxInner {
    pub(crate) node: Arc<str>,
    pub(crate) attempt: u32,
    pub(crate) stop: i64,
    pub(crate) task: Arc<TaskIdentity>,
    pub(crate) scope: Arc<Scope>,
    pub(crate) resume: Vec<serde_json::Value>,
    /// The task runs again after an interrupt: a subgraph continues from its own checkpoint.
    pub(crate) resuming: bool,
    pub(crate) background: bool,
    interrupts: Mutex<InterruptLog>,
    effects: Effects,
}

/// The side effects a task completed, by idempotency key: shared by its attempts (a retry sees
/// what an earlier attempt applied) and saved with its writes.
pub(crate) type Effects = Arc<Mutex<BTreeMap<String, serde_json::Value>>>;

/// What the effects ledger knows about one of a task's side effects.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EffectStatus {
    /// Never started (or the store keeps no ledger).
    New,
    /// Started ([`Ctx::begin_effect`]) but its result was never saved: the run died in between,
    /// so the effect may or may not have been applied.
    Ambiguous {
        /// What the effect was said to do.
        description: String,
    },
    /// Applied; its recorded result.
    Applied(serde_json::Value),
}

/// What [`Ctx::effect`] tells the code that applies an effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectAttempt {
    /// The idempotency key: the same on every attempt and after a resume.
    pub key: String,
    /// An earlier run started this effect and died before saving its result: check whether it
    /// was applied (using the key) before applying it again.
    pub ambiguous: bool,
}

/// The handle a node gets beside its input.
#[derive(Clone)]
pub struct Ctx {
    pub(crate) inner: Arc<CtxInner>,
}

impl Ctx {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        node: Arc<str>,
        attempt: u32,
        stop: i64,
        task: Arc<TaskIdentity>,
        scope: Arc<Scope>,
        resume: Vec<serde_json::Value>,
        resuming: bool,
        background: bool,
        effects: Effects,
    ) -> Ctx {
        Ctx {
            inner: Arc::new(CtxInner {
                node,
                attempt,
                stop,
                task,
                scope,
                resume,
                resuming,
                background,
                interrupts: Mutex::new(InterruptLog::default()),
                effects,
            }),
        }
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// Whether this task runs again after an interrupt was answered (work before the
    /// `interrupt` call is being repeated).
    pub fn is_resuming(&self) -> bool {
        self.inner.resuming
    }

    /// The superstep.
    pub fn step(&self) -> i64 {
        self.inner.task.step
    }

    /// The attempt, from 1 (retries count up).
    pub fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    /// The thread, when the run has one.
    pub fn thread_id(&self) -> Option<&str> {
        self.inner.scope.thread_id.as_deref()
    }

    /// The checkpoint namespace: `""` at the root, `node:<task id>` inside a subgraph.
    pub fn namespace(&self) -> &str {
        &self.inner.scope.ns
    }

    /// The task's deterministic id (the same when the task runs again after a resume).
    pub fn task_id(&self) -> TaskId {
        self.inner.task.id(&self.inner.scope.ns)
    }

    /// How many supersteps may still run before the recursion limit.
    pub fn remaining_steps(&self) -> i64 {
        self.inner.stop - self.inner.task.step
    }

    /// Whether the recursion limit leaves at most one more superstep after this one, so a loop
    /// should wrap up now (LangGraph's `IsLastStep`: `remaining_steps() <= 1`).
    pub fn is_last_step(&self) -> bool {
        self.remaining_steps() <= 1
    }

    /// A key for the `index`-th side effect of this task: the same on every attempt and after a
    /// resume (it leaves out the attempt number), different for every task and step.
    pub fn idempotency_key(&self, index: u32) -> String {
        format!(
            "{}:{}:{}:{}:{index}",
            self.thread_id().unwrap_or("-"),
            self.namespace(),
            self.step(),
            self.task_id()
        )
    }

    /// What the effects ledger knows about this task's side effect number `index`.
    pub async fn effect_status(&self, index: u32) -> Result<EffectStatus, NodeError> {
        let key = self.idempotency_key(index);
        if let Some(result) = self.inner.effects.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(EffectStatus::Applied(result.clone()));
        }
        let scope = &self.inner.scope;
        let (Some(store), Some(thread)) = (&scope.checkpointer, &scope.thread_id) else {
            return Ok(EffectStatus::New);
        };
        let record = store.effect(thread, &key).await.map_err(store_error)?;
        Ok(match record {
            None => EffectStatus::New,
            Some(EffectRecord::Intent { description }) => EffectStatus::Ambiguous { description },
            Some(EffectRecord::Applied { result }) => EffectStatus::Applied(result),
        })
    }

    /// Records, committed now, that side effect `index` is about to be applied; a resume after a
    /// crash in between then finds it [`EffectStatus::Ambiguous`] instead of unknown.
    pub async fn begin_effect(&self, index: u32, description: &str) -> Result<(), NodeError> {
        let scope = &self.inner.scope;
        if let (Some(store), Some(thread)) = (&scope.checkpointer, &scope.thread_id) {
            store
                .record_intent(thread, &self.idempotency_key(index), description)
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }

    /// Records that side effect `index` was applied, with its result; saved with the task's
    /// writes, in the same transaction.
    pub fn complete_effect(&self, index: u32, result: impl Serialize) -> Result<(), NodeError> {
        let result = serde_json::to_value(result).map_err(|e| {
            NodeError::msg(format!(
                "the result of effect {index} of node `{}` does not serialize: {e}",
                self.node()
            ))
        })?;
        self.inner
            .effects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(self.idempotency_key(index), result);
        Ok(())
    }

    /// Applies side effect `index` at most once per task, across retries and resumes: returns
    /// the recorded result if it was applied, else records the intent, runs `apply`, and records
    /// its result. `apply` is told when an earlier run died mid-effect ([`EffectAttempt`]).
    pub async fn effect<T, F, Fut>(&self, index: u32, description: &str, apply: F) -> Result<T, NodeError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(EffectAttempt) -> Fut,
        Fut: Future<Output = Result<T, NodeError>>,
    {
        let status = self.effect_status(index).await?;
        let ambiguous = match status {
            EffectStatus::Applied(result) => {
                return serde_json::from_value(result).map_err(|e| {
                    NodeError::msg(format!(
                        "the recorded result of effect {index} of node `{}` does not decode: {e}",
                        self.node()
                    ))
                });
            }
            EffectStatus::Ambiguous { .. } => true,
            EffectStatus::New => {
                self.begin_effect(index, description).await?;
                false
            }
        };
        let result = apply(EffectAttempt {
            key: self.idempotency_key(index),
            ambiguous,
        })
        .await?;
        self.complete_effect(index, &result)?;
        Ok(result)
    }

    /// Pauses the run and asks `value`; returns the answer once the run is resumed with one.
    ///
    /// The node runs again from its start on resume: the k-th call returns the k-th answer, so
    /// work before the call is repeated. Propagate the error with `?`: it is the pause.
    pub fn interrupt<T: DeserializeOwned>(&self, value: impl Serialize) -> Result<T, NodeError> {
        if self.inner.scope.checkpointer.is_none() {
            return Err(NodeError::msg(format!(
                "node `{}` called interrupt() but the graph has no checkpointer: compile it with \
                 .with_checkpointer(...) and run it with a thread id",
                self.node()
            )));
        }
        if self.inner.background {
            return Err(NodeError::msg(format!(
                "node `{}` runs in the background, where interrupt() is not available",
                self.node()
            )));
        }
        let mut log = self.inner.interrupts.lock().unwrap_or_else(|p| p.into_inner());
        let index = log.calls;
        log.calls += 1;
        if let Some(answer) = self.inner.resume.get(index) {
            return serde_json::from_value(answer.clone()).map_err(|e| {
                NodeError::msg(format!(
                    "the answer to interrupt {index} of node `{}` does not decode: {e}",
                    self.node()
                ))
            });
        }
        let value = serde_json::to_value(value).map_err(|e| {
            NodeError::msg(format!(
                "the interrupt value of node `{}` does not serialize: {e}",
                self.node()
            ))
        })?;
        let id = interrupt_id(self.task_id(), index);
        let node = if self.namespace().is_empty() {
            self.node().to_owned()
        } else {
            format!("{}|{}", self.namespace(), self.node())
        };
        log.raised.push(Interrupt { id, value, node });
        Err(NodeError::interrupted())
    }

    /// Streams a custom value (mode `Custom`).
    pub fn emit(&self, value: impl Serialize) {
        let sink = &self.inner.scope.sink;
        if sink.wants(StreamMode::Custom) {
            let value = serde_json::to_value(value).unwrap_or_else(|e| serde_json::Value::String(e.to_string()));
            sink.emit(StreamMode::Custom, self.step(), || EventData::Custom {
                node: self.node().to_owned(),
                value,
            });
        }
    }

    /// Streams a message chunk, e.g. a token (mode `Messages`).
    pub fn emit_message(&self, chunk: impl Serialize) {
        let sink = &self.inner.scope.sink;
        if sink.wants(StreamMode::Messages) {
            let chunk = serde_json::to_value(chunk).unwrap_or_else(|e| serde_json::Value::String(e.to_string()));
            sink.emit(StreamMode::Messages, self.step(), || EventData::Message {
                node: self.node().to_owned(),
                chunk,
            });
        }
    }

    /// Whether the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.inner.scope.cancel.is_cancelled()
    }

    /// Completes when the run is cancelled.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.inner.scope.cancel.cancelled()
    }

    /// The interrupts this attempt raised.
    pub(crate) fn take_interrupts(&self) -> Vec<Interrupt> {
        std::mem::take(&mut self.inner.interrupts.lock().unwrap_or_else(|p| p.into_inner()).raised)
    }

    /// Records interrupts raised inside a subgraph run by this task.
    pub(crate) fn add_interrupts(&self, interrupts: Vec<Interrupt>) {
        self.inner
            .interrupts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .raised
            .extend(interrupts);
    }
}

impl fmt::Debug for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("node", &self.node())
            .field("step", &self.step())
            .field("attempt", &self.attempt())
            .field("thread_id", &self.thread_id())
            .field("namespace", &self.namespace())
            .finish()
    }
}

/// A store error inside a node: retryable when the store says so.
fn store_error(error: CheckpointError) -> NodeError {
    if error.is_retryable() {
        NodeError::retryable(error)
    } else {
        NodeError::terminal(error)
    }
}

/// The id of the `index`-th interrupt of a task: stable until the task's superstep completes.
pub(crate) fn interrupt_id(task: TaskId, index: usize) -> String {
    let mut name = task.as_uuid().as_bytes().to_vec();
    name.extend_from_slice(index.to_string().as_bytes());
    uuid::Uuid::new_v5(&task.as_uuid(), &name).simple().to_string()
}
