//! Tasks: preparing a superstep's tasks, running them concurrently, and the saved records that
//! let a resumed run reuse what finished instead of running it again.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::Loop;
use super::attempt::{Done, TaskOutcome, TaskSeed, run_task};
use super::control::StartInput;
use crate::checkpoint::{TaskId, TaskWrites, special};
use crate::command::{Goto, Packet, SendTo};
use crate::compile::Topology;
use crate::context::{TaskIdentity, interrupt_id};
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

/// A task's saved writes, read back from a checkpoint.
#[derive(Clone, Debug)]
pub(crate) struct TaskRecord {
    pub(crate) node: String,
    pub(crate) path: String,
    pub(crate) writes: Vec<(String, Bytes)>,
}

impl From<TaskWrites> for TaskRecord {
    fn from(writes: TaskWrites) -> Self {
        TaskRecord {
            node: writes.node,
            path: writes.task_path,
            writes: writes.writes,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum GotoJson {
    Node(String),
    Send { node: String, arg: Box<RawValue> },
}

#[derive(Serialize, Deserialize)]
struct ErrorJson {
    message: String,
}

impl TaskRecord {
    fn special(&self, channel: &str) -> Option<&Bytes> {
        self.writes.iter().find(|(c, _)| c == channel).map(|(_, v)| v)
    }

    /// Whether the task finished (its writes stand; it does not run again).
    pub(crate) fn done(&self) -> bool {
        self.writes
            .iter()
            .any(|(c, _)| !special::is_special(c) || c == special::GOTO || c == special::DONE)
    }

    pub(crate) fn interrupts(&self) -> Vec<Interrupt> {
        self.special(special::INTERRUPT)
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default()
    }

    /// Answers saved for this task's interrupts, by interrupt id.
    pub(crate) fn answers(&self) -> BTreeMap<String, serde_json::Value> {
        self.special(special::RESUME)
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default()
    }

    pub(crate) fn error(&self) -> Option<String> {
        self.special(special::ERROR).map(|b| {
            serde_json::from_slice::<ErrorJson>(b)
                .map(|e| e.message)
                .unwrap_or_else(|e| e.to_string())
        })
    }

    /// The saved update and gotos.
    pub(crate) fn decode<S: State>(&self, topo: &Topology<S>) -> Result<(S::Update, Vec<Goto>), String> {
        let mut update = S::Update::default();
        let mut goto = Vec::new();
        for (channel, bytes) in &self.writes {
            if channel == special::GOTO {
                let gotos: Vec<GotoJson> =
                    serde_json::from_slice(bytes).map_err(|e| format!("gotos of {}: {e}", self.node))?;
                goto.extend(gotos.into_iter().map(|g| match g {
                    GotoJson::Node(node) => Goto::Node(node.into()),
                    GotoJson::Send { node, arg } => Goto::Send(SendTo {
                        node: node.into(),
                        arg: Packet::Stored(Bytes::copy_from_slice(arg.get().as_bytes())),
                    }),
                }));
            } else if !special::is_special(channel) {
                // A channel the state no longer has is skipped, like in checkpoints.
                if let Some(&index) = topo.channel_index.get(channel.as_str()) {
                    update
                        .decode_channel(index, bytes)
                        .map_err(|e| format!("the write of {} to `{channel}`: {e}", self.node))?;
                }
            }
        }
        Ok((update, goto))
    }

    /// The encoded writes per channel index, for deltas.
    fn encoded<S: State>(&self, topo: &Topology<S>) -> Vec<(usize, Bytes)> {
        self.writes
            .iter()
            .filter_map(|(c, b)| topo.channel_index.get(c.as_str()).map(|i| (*i, b.clone())))
            .collect()
    }
}

fn json_bytes(value: &impl Serialize) -> Bytes {
    Bytes::from(
        serde_json::to_vec(value)
            .unwrap_or_else(|e| format!("{{\"unserializable\":{:?}}}", e.to_string()).into_bytes()),
    )
}

/// Encodes a finished task's writes for the store: one entry per written channel, its gotos,
/// or a marker that it finished without writing.
pub(crate) fn encode_writes<S: State>(
    task_id: TaskId,
    path: &str,
    node: &str,
    update: &S::Update,
    goto: &[Goto],
) -> Result<TaskWrites, String> {
    let specs = S::channels();
    let mut writes: Vec<(String, Bytes)> = update
        .encode()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(index, bytes)| (specs[index].name.to_owned(), Bytes::from(bytes)))
        .collect();
    if !goto.is_empty() {
        let gotos = goto
            .iter()
            .map(|g| match g {
                Goto::Node(node) => Ok(GotoJson::Node(node.to_string())),
                Goto::Send(send) => {
                    let arg = send
                        .arg
                        .encode()
                        .map_err(|e| format!("a packet for `{}`: {e}", send.node))?;
                    let arg =
                        RawValue::from_string(String::from_utf8_lossy(&arg).into_owned()).map_err(|e| e.to_string())?;
                    Ok(GotoJson::Send {
                        node: send.node.to_string(),
                        arg,
                    })
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        writes.push((special::GOTO.to_owned(), json_bytes(&gotos)));
    }
    if writes.is_empty() {
        writes.push((special::DONE.to_owned(), Bytes::from_static(b"true")));
    }
    Ok(TaskWrites {
        task_id,
        task_path: path.to_owned(),
        node: node.to_owned(),
        writes,
    })
}

fn special_writes(task_id: TaskId, path: &str, node: &str, writes: Vec<(&str, Bytes)>) -> TaskWrites {
    TaskWrites {
        task_id,
        task_path: path.to_owned(),
        node: node.to_owned(),
        writes: writes.into_iter().map(|(c, b)| (c.to_owned(), b)).collect(),
    }
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
        let packets: Vec<Packet> = self.control.sends.iter().map(|(_, p)| p.clone()).collect();
        let pulled = self.control.triggers.len();
        for (position, (node, identity)) in identities.into_iter().enumerate() {
            let input = if position < pulled {
                NodeInput::State(Arc::clone(&self.state))
            } else {
                NodeInput::Packet(packets[position - pulled].clone())
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
                    let encoded = Some(record.encoded::<S>(&self.topo));
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
                        encoded = Some(self.channel_blobs(&writes));
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
                    running.push(async move { (node, identity, run_task(topo, node, input, seed).await) });
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
            let Some((node, identity, outcome)) = next else { break };
            let remaining = running.len();
            let name = self.topo.name_of(node).to_owned();
            let task_id = identity.id(&self.scope.ns);
            let path = identity.path.clone();
            match outcome {
                TaskOutcome::Done(done) => {
                    self.emit_task_result(task_id, &name, None, Vec::new());
                    if self.scope.sink.wants(StreamMode::Updates) {
                        let update = done.update.clone();
                        let cached = done.cached;
                        self.scope
                            .sink
                            .emit(StreamMode::Updates, self.step, || EventData::Update {
                                node: name.clone(),
                                update: Payload::serializable(update),
                                cached,
                            });
                    }
                    let mut encoded = None;
                    if saving {
                        let writes = match encode_writes::<S>(task_id, &path, &name, &done.update, &done.goto) {
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
                        encoded = Some(self.channel_blobs(&writes));
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
                        self.save_task_writes(special_writes(task_id, &path, &name, writes), false)
                            .await?;
                    }
                    interrupts.extend(raised);
                }
                TaskOutcome::Failed(node_failure) => {
                    self.emit_task_result(task_id, &name, Some(node_failure.error.to_string()), Vec::new());
                    if saving {
                        let error = json_bytes(&ErrorJson {
                            message: node_failure.error.to_string(),
                        });
                        self.save_task_writes(
                            special_writes(task_id, &path, &name, vec![(special::ERROR, error)]),
                            false,
                        )
                        .await?;
                    }
                    failure.get_or_insert(GraphError::Node(Box::new(node_failure)));
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

    /// A task's answers in order: the answer to its k-th interrupt is found by the k-th
    /// interrupt's id, which is derived from the task id and k.
    fn resume_list(&self, task_id: TaskId) -> Vec<serde_json::Value> {
        (0..)
            .map_while(|k| self.scope.answers.get(&interrupt_id(task_id, k)).cloned())
            .collect()
    }

    /// A task's answers by interrupt id: its own consecutive answers, and answers to the
    /// interrupts it last raised (a subgraph's, whose ids are the subgraph's own).
    fn answers_of(&self, task_id: TaskId) -> BTreeMap<String, serde_json::Value> {
        let mut answers: BTreeMap<String, serde_json::Value> = (0..)
            .map(|k| interrupt_id(task_id, k))
            .map_while(|id| self.scope.answers.get(&id).map(|v| (id, v.clone())))
            .collect();
        for interrupt in self
            .pending
            .get(&task_id)
            .map(TaskRecord::interrupts)
            .unwrap_or_default()
        {
            if let Some(value) = self.scope.answers.get(&interrupt.id) {
                answers.insert(interrupt.id, value.clone());
            }
        }
        answers
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

    fn channel_blobs(&self, writes: &TaskWrites) -> Vec<(usize, Bytes)> {
        writes
            .writes
            .iter()
            .filter_map(|(c, b)| self.topo.channel_index.get(c.as_str()).map(|i| (*i, b.clone())))
            .collect()
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
                    .map_err(|source| GraphError::Checkpointer {
                        thread_id: self.scope.thread(),
                        source,
                    })
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

    /// Attaches answers to the interrupts of the loaded checkpoint and saves them, so a crash
    /// after this point does not lose them. Answers saved by earlier resumes count too.
    pub(super) async fn attach_answers(&mut self, resume: Option<crate::interrupt::Resume>) -> Result<(), GraphError> {
        let mut known: BTreeMap<String, serde_json::Value> = (*self.scope.answers).clone();
        let mut ids: Vec<TaskId> = self.pending.keys().copied().collect();
        ids.sort();
        for id in &ids {
            known.extend(self.pending[id].answers());
        }
        let unanswered: Vec<(TaskId, Interrupt)> = ids
            .iter()
            .flat_map(|id| self.pending[id].interrupts().into_iter().map(move |i| (*id, i)))
            .filter(|(_, i)| !known.contains_key(&i.id))
            .collect();
        let new: BTreeMap<String, serde_json::Value> = match resume {
            None => BTreeMap::new(),
            Some(crate::interrupt::Resume::Value(value)) => match unanswered.as_slice() {
                [(_, only)] => [(only.id.clone(), value)].into(),
                [] => {
                    return Err(GraphError::usage(format!(
                        "thread {} has no pending interrupt to resume",
                        self.thread().unwrap_or_default()
                    )));
                }
                several => {
                    let ids: Vec<&str> = several.iter().map(|(_, i)| i.id.as_str()).collect();
                    return Err(GraphError::usage(format!(
                        "thread {} has {} pending interrupts ({}); answer them by id with Resume::by_id",
                        self.thread().unwrap_or_default(),
                        ids.len(),
                        ids.join(", ")
                    )));
                }
            },
            Some(crate::interrupt::Resume::ById(answers)) => {
                // Ids not pending here may be a subgraph's own; the root knows every pending
                // interrupt (subgraph ones included), so the check is made there.
                if self.scope.ns.is_empty() {
                    let pending: Vec<&str> = unanswered.iter().map(|(_, i)| i.id.as_str()).collect();
                    if let Some(unknown) = answers.keys().find(|id| !pending.contains(&id.as_str())) {
                        return Err(GraphError::usage(format!(
                            "thread {} has no pending interrupt {unknown}; pending: {}",
                            self.thread().unwrap_or_default(),
                            if pending.is_empty() {
                                "none".to_owned()
                            } else {
                                pending.join(", ")
                            }
                        )));
                    }
                }
                answers
            }
        };
        known.extend(new.clone());
        Arc::make_mut(&mut self.scope).answers = Arc::new(known);
        let mut saves = Vec::new();
        for (task_id, interrupt) in &unanswered {
            if new.contains_key(&interrupt.id) {
                let record = &self.pending[task_id];
                let answers = self.answers_of(*task_id);
                saves.push(special_writes(
                    *task_id,
                    &record.path,
                    &record.node,
                    vec![(special::RESUME, json_bytes(&answers))],
                ));
            }
        }
        saves.dedup_by_key(|w| w.task_id);
        if let (Some(store), Some(thread), Some(head), false) = (
            &self.scope.checkpointer,
            &self.scope.thread_id,
            self.head.id,
            saves.is_empty(),
        ) {
            store
                .put_writes(thread, &self.scope.ns, head, saves)
                .await
                .map_err(|source| GraphError::Checkpointer {
                    thread_id: self.scope.thread(),
                    source,
                })?;
        }
        Ok(())
    }
}
