//! Tasks: preparing a superstep's tasks, running them concurrently, and the saved records that
//! let a resumed run reuse what finished instead of running it again.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::Loop;
use super::attempt::{Done, TaskOutcome, TaskSeed, run_task};
use super::control::StartInput;
use super::records::{ErrorJson, TaskRecord, attach_effects, channel_blobs, encode_writes, json_bytes, special_writes};
use crate::checkpoint::{CheckpointError, CheckpointErrorKind, TaskId, TaskWrites, special};
use crate::context::TaskIdentity;
use crate::error::{GraphError, NodeFailure};
use crate::interrupt::Interrupt;
use crate::node::NodeInput;
use crate::state::{State, Update};
use crate::stream::{EventData, Payload, StreamMode};

/// The path of the START task; sorts before every other path.
pub(crate) const START_PATH: &str = "__start__";

pub(crate) fn pull_path(name: &str) -> String {
    format!("pull:{name}")
}

pub(crate) fn push_path(index: usize) -> String {
    format!("push:{index:010}")
}

/// What a superstep runs.
pub(crate) enum TaskInput<S: State> {
    Start(StartInput<S>),
    Node(NodeInput<S>),
}

pub(crate) struct Task<S: State> {
    /// `None` for the START task.
    pub(crate) node: Option<usize>,
    pub(crate) identity: Arc<TaskIdentity>,
    pub(crate) input: TaskInput<S>,
}

/// A task that finished, as the barrier sees it.
pub(crate) struct Finished<S: State> {
    pub(crate) path: String,
    pub(crate) node: Option<usize>,
    pub(crate) done: Done<S>,
    /// The task's writes per channel (JSON), when checkpoints are being saved.
    pub(crate) encoded: Option<Vec<(usize, Bytes)>>,
}

/// How a superstep ended.
pub(crate) enum StepEnd<S: State> {
    Complete(Vec<Finished<S>>),
    Paused(Vec<Interrupt>),
    Failed(GraphError),
}

impl<S: State> Loop<S> {
    /// `(node, identity)` of the pulled and pushed tasks the control state schedules.
    pub(super) fn prepare_identities(&self) -> Vec<(usize, Arc<TaskIdentity>)> {
        let mut identities = Vec::with_capacity(self.control.triggers.len() + self.control.sends.len());
        for node in &self.control.triggers {
            let path = pull_path(self.topo.name_of(*node));
            identities.push((*node, Arc::new(TaskIdentity::new(self.head.id, self.step, path))));
        }
        for (index, (node, _)) in self.control.sends.iter().enumerate() {
            identities.push((
                *node,
                Arc::new(TaskIdentity::new(self.head.id, self.step, push_path(index))),
            ));
        }
        identities
    }

    /// The superstep's tasks: the START task when input waits, else the triggered nodes (by
    /// name) and the sends (by index). Background nodes are started here and left out.
    pub(super) fn prepare(&mut self) -> Vec<Task<S>> {
        if let Some(start) = &self.control.start {
            let identity = Arc::new(TaskIdentity::new(self.head.id, self.step, START_PATH.to_owned()));
            return vec![Task {
                node: None,
                identity,
                input: TaskInput::Start(start.clone()),
            }];
        }
        let mut tasks = Vec::with_capacity(self.control.triggers.len() + self.control.sends.len());
        let identities = self.prepare_identities();
        let pulled = self.control.triggers.len();
        for (position, (node, identity)) in identities.into_iter().enumerate() {
            let input = if position < pulled {
                NodeInput::State(Arc::clone(&self.state))
            } else {
                NodeInput::Packet(self.control.sends[position - pulled].1.clone())
            };
            if self.topo.nodes[node].options.background {
                self.spawn_background(node, input, &identity.path);
                continue;
            }
            tasks.push(Task {
                node: Some(node),
                identity,
                input: TaskInput::Node(input),
            });
        }
        tasks
    }

    /// Whether a breakpoint before one of these tasks pauses the run.
    pub(super) fn breakpoint_before(&mut self, tasks: &[Task<S>]) -> bool {
        let hit = tasks.iter().any(|t| t.node.is_some_and(|n| self.breakpoints_before[n]));
        if hit && self.max_version > self.interrupt_version {
            self.interrupt_version = self.max_version;
            return true;
        }
        false
    }

    /// Runs a superstep's tasks concurrently; reuses saved results; saves each result as it
    /// comes. Siblings of a failed task run to the end, so their (possibly costly) results are
    /// saved and not paid for again on resume.
    pub(super) async fn execute(&mut self, tasks: Vec<Task<S>>) -> Result<StepEnd<S>, GraphError> {
        let saving = self.scope.checkpointer.is_some();
        let mut finished: Vec<Finished<S>> = Vec::with_capacity(tasks.len());
        let mut interrupts: Vec<Interrupt> = Vec::new();
        let mut failure: Option<GraphError> = None;
        let mut running = FuturesUnordered::new();
        for task in tasks {
            let path = task.identity.path.clone();
            // Task ids cost a hash; they are needed only when there are saved records to match.
            let record = if self.pending.is_empty() {
                None
            } else {
                self.pending.get(&task.identity.id(&self.scope.ns))
            };
            let (answers, resuming) = match record {
                Some(record) if record.done() => {
                    let (update, goto) = record
                        .decode::<S>(&self.topo)
                        .map_err(|e| self.corrupt(format!("pending writes of {}", record.node), e))?;
                    let encoded = Some(channel_blobs(&self.topo, &record.writes));
                    let done = Done {
                        update,
                        goto,
                        parent: None,
                        handled: false,
                        cached: false,
                    };
                    finished.push(Finished {
                        path,
                        node: task.node,
                        done,
                        encoded,
                    });
                    continue;
                }
                Some(record) => {
                    let pending = record.interrupts();
                    if pending.iter().any(|i| !self.scope.answers.contains_key(&i.id)) {
                        // Not answered yet: it stays paused without running again.
                        interrupts.extend(pending);
                        continue;
                    }
                    (self.resume_list(task.identity.id(&self.scope.ns)), !pending.is_empty())
                }
                None => (Vec::new(), false),
            };
            match task.input {
                TaskInput::Start(start) => {
                    // The START task has no body; its writes are the input, saved like any task's.
                    let done = self.start_task(start)?;
                    let mut encoded = None;
                    if saving {
                        let id = task.identity.id(&self.scope.ns);
                        let writes = encode_writes::<S>(id, &path, crate::START, &done.update, &done.goto)
                            .map_err(|e| GraphError::usage(format!("the run input does not serialize: {e}")))?;
                        encoded = Some(channel_blobs(&self.topo, &writes.writes));
                        self.step_writes.push(writes);
                    }
                    finished.push(Finished {
                        path,
                        node: None,
                        done,
                        encoded,
                    });
                }
                TaskInput::Node(input) => {
                    let node = task.node.unwrap_or_default();
                    let seed = self.seed(node, Arc::clone(&task.identity), answers, resuming, false);
                    self.scope
                        .sink
                        .emit_with_debug(StreamMode::Tasks, self.step, || EventData::TaskStart {
                            id: task.identity.id(&self.scope.ns),
                            node: self.topo.name_of(node).to_owned(),
                        });
                    let topo = Arc::clone(&self.topo);
                    let identity = Arc::clone(&task.identity);
                    let effects = Arc::clone(&seed.effects);
                    running.push(async move { (node, identity, effects, run_task(topo, node, input, seed).await) });
                }
            }
        }
        let cancel = self.scope.cancel.clone();
        loop {
            let next = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(self.cancelled()),
                next = running.next() => next,
            };
            let Some((node, identity, effects, outcome)) = next else {
                break;
            };
            let remaining = running.len();
            let name = self.topo.name_of(node).to_owned();
            let task_id = identity.id(&self.scope.ns);
            let path = identity.path.clone();
            match outcome {
                TaskOutcome::Done(done) => {
                    self.emit_done(task_id, &name, &done);
                    let mut encoded = None;
                    if saving {
                        let mut writes = match encode_writes::<S>(task_id, &path, &name, &done.update, &done.goto) {
                            Ok(writes) => writes,
                            Err(e) => {
                                failure.get_or_insert(self.node_failed(
                                    &name,
                                    1,
                                    format!("its update does not serialize: {e}"),
                                ));
                                continue;
                            }
                        };
                        attach_effects(&mut writes, &effects);
                        encoded = Some(channel_blobs(&self.topo, &writes.writes));
                        // Known as finished from now on, also if this superstep pauses.
                        match self.pending.get_mut(&task_id) {
                            Some(record) => record.writes.extend(writes.writes.iter().cloned()),
                            None => {
                                self.pending.insert(task_id, TaskRecord::from(writes.clone()));
                            }
                        }
                        let last = remaining == 0 && failure.is_none() && interrupts.is_empty();
                        self.save_task_writes(writes, last).await?;
                    }
                    finished.push(Finished {
                        path,
                        node: Some(node),
                        done,
                        encoded,
                    });
                }
                TaskOutcome::Interrupted(raised) => {
                    self.emit_task_result(task_id, &name, None, raised.clone());
                    if saving {
                        let mut writes = vec![(special::INTERRUPT, json_bytes(&raised))];
                        let answers = self.answers_of(task_id);
                        if !answers.is_empty() {
                            writes.push((special::RESUME, json_bytes(&answers)));
                        }
                        let mut writes = special_writes(task_id, &path, &name, writes);
                        attach_effects(&mut writes, &effects);
                        self.save_task_writes(writes, false).await?;
                    }
                    interrupts.extend(raised);
                }
                TaskOutcome::Failed(node_failure) => {
                    self.emit_task_result(task_id, &name, Some(node_failure.error.to_string()), Vec::new());
                    if saving {
                        let error = json_bytes(&ErrorJson {
                            message: node_failure.error.to_string(),
                        });
                        let mut writes = special_writes(task_id, &path, &name, vec![(special::ERROR, error)]);
                        attach_effects(&mut writes, &effects);
                        self.save_task_writes(writes, false).await?;
                    }
                    // A lost or held lease seen by the node (through the effects API) is the
                    // store's verdict on the whole run, not a failure of this node.
                    let error = match node_failure.error.downcast_ref::<CheckpointError>() {
                        Some(store)
                            if matches!(store.kind(), CheckpointErrorKind::Fenced | CheckpointErrorKind::Locked) =>
                        {
                            self.store_error(CheckpointError::new(store.kind(), store.to_string()))
                        }
                        _ => GraphError::Node(Box::new(node_failure)),
                    };
                    failure.get_or_insert(error);
                }
            }
        }
        if let Some(error) = failure {
            return Ok(StepEnd::Failed(error));
        }
        if !interrupts.is_empty() {
            return Ok(StepEnd::Paused(interrupts));
        }
        finished.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(StepEnd::Complete(finished))
    }

    fn start_task(&self, start: StartInput<S>) -> Result<Done<S>, GraphError> {
        let update = match start {
            StartInput::Update(mut update) => {
                update.prepare();
                update
            }
            StartInput::Stored(writes) => {
                let record = TaskRecord {
                    node: crate::START.into(),
                    path: START_PATH.into(),
                    writes,
                };
                record
                    .decode::<S>(&self.topo)
                    .map_err(|e| self.corrupt("the run input", e))?
                    .0
            }
        };
        Ok(Done {
            update,
            goto: Vec::new(),
            parent: None,
            handled: false,
            cached: false,
        })
    }

    /// Saves a finished task's writes now, or keeps them for the checkpoint's transaction when
    /// it is the last task of a successful superstep (or until the end, with `exit` durability).
    async fn save_task_writes(&mut self, writes: TaskWrites, last: bool) -> Result<(), GraphError> {
        let exit = self.scope.durability == crate::config::Durability::Exit;
        match self.head.id {
            Some(head) if !last && !exit => {
                self.writer_queued = true;
                self.writer
                    .put_writes(head, vec![writes])
                    .await
                    .map_err(|source| self.store_error(source))
            }
            _ => {
                self.step_writes.push(writes);
                Ok(())
            }
        }
    }

    pub(super) fn seed(
        &self,
        node: usize,
        identity: Arc<TaskIdentity>,
        answers: Vec<serde_json::Value>,
        resuming: bool,
        background: bool,
    ) -> TaskSeed<S> {
        let snapshot = self.topo.nodes[node]
            .options
            .error_handler
            .as_ref()
            .map(|_| Arc::clone(&self.state));
        TaskSeed {
            identity,
            scope: Arc::clone(&self.scope),
            stop: self.stop,
            answers,
            resuming,
            background,
            snapshot,
            effects: Arc::default(),
        }
    }

    /// Streams a task that finished: its result (modes `Tasks` and `Debug`) and its update (mode
    /// `Updates`).
    pub(super) fn emit_done(&self, id: TaskId, node: &str, done: &Done<S>) {
        self.emit_task_result(id, node, None, Vec::new());
        if self.scope.sink.wants(StreamMode::Updates) {
            let update = done.update.clone();
            self.scope
                .sink
                .emit(StreamMode::Updates, self.step, || EventData::Update {
                    node: node.to_owned(),
                    update: Payload::serializable(update),
                    cached: done.cached,
                });
        }
    }

    fn emit_task_result(&self, id: TaskId, node: &str, error: Option<String>, interrupts: Vec<Interrupt>) {
        self.scope
            .sink
            .emit_with_debug(StreamMode::Tasks, self.step, || EventData::TaskResult {
                id,
                node: node.to_owned(),
                error: error.clone(),
                interrupts: interrupts.clone(),
            });
    }

    fn node_failed(&self, node: &str, attempts: u32, message: String) -> GraphError {
        GraphError::Node(Box::new(NodeFailure {
            node: node.to_owned(),
            step: self.step,
            thread_id: self.scope.thread(),
            attempts,
            error: crate::error::NodeError::msg(message),
        }))
    }

    pub(super) fn cancelled(&self) -> GraphError {
        GraphError::Cancelled {
            step: self.step,
            thread_id: self.scope.thread(),
            hint: "the last saved checkpoint is intact; continue the thread to resume",
        }
    }
}
