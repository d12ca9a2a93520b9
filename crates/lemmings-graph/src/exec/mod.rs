//! The superstep executor: loads a thread, runs supersteps until nothing is triggered, and saves
//! checkpoints as the durability mode says.
//!
//! One superstep: prepare the tasks (pending input, sends, triggered nodes), run them
//! concurrently on a snapshot of the state, then at the barrier apply their writes in task-path
//! order, evaluate edges and routers, and write a checkpoint. A task's writes are saved as soon as
//! it finishes, so a resumed run never runs a finished task again.

mod attempt;
mod background;
mod barrier;
pub(crate) mod control;
mod inspect;
mod persist;
mod tasks;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use crate::checkpoint::{CheckpointId, CheckpointTuple, Source, TaskId, TaskWrites};
use crate::command::{Command, Packet, ParentCommand};
use crate::compile::{Engine, Topology};
use crate::config::{BackgroundPolicy, Durability, RunConfig};
use crate::context::Scope;
use crate::error::GraphError;
use crate::interrupt::{Interrupt, Resume};
use crate::state::{Changes, ChannelData, State, TaskUpdate, Update};
use crate::stream::{EventData, Payload, StreamMode};

use background::Background;
use control::{Control, StartInput};
use persist::{Chan, Writer};
pub(crate) use tasks::{StepEnd, TaskRecord};

/// What a run starts with.
pub(crate) enum Input<S: State> {
    /// New input, written by the START task through the reducers.
    New(S::Update),
    /// A subgraph's start: the parent's state (shared state) or an update (mapped), unless the
    /// subgraph's own checkpoint has unfinished work, which then continues.
    Subgraph(SubgraphStart<S>),
    /// Continue from the checkpoint (LangGraph's `invoke(None)`); with an explicit checkpoint
    /// id, a replay that forks from it.
    Continue,
    /// Answers to pending interrupts.
    Resume(Resume),
    /// An update and gotos applied before continuing (LangGraph's `invoke(Command(...))`).
    Command(Command<S>),
}

/// How a subgraph starts when it has no unfinished work.
pub(crate) enum SubgraphStart<S: State> {
    /// From a copy of the parent's state (same state type).
    State(Arc<S>),
    /// From input (mapped from the parent's state).
    Update(S::Update),
}

/// How a run ended (other than with an error).
pub(crate) struct Outcome<S> {
    pub(crate) state: Arc<S>,
    pub(crate) interrupts: Vec<Interrupt>,
    pub(crate) next: Vec<String>,
    pub(crate) checkpoint_id: Option<CheckpointId>,
    /// Channels this run wrote above the base version (a subgraph's net change).
    pub(crate) changes: Changes,
    /// A command a subgraph node sent to its parent.
    pub(crate) parent: Option<ParentCommand>,
}

/// The checkpoint the next superstep starts from.
#[derive(Clone, Copy, Debug)]
struct Head {
    id: Option<CheckpointId>,
    step: i64,
}

enum Stop {
    Done,
    Paused(Vec<Interrupt>),
    Parent(ParentCommand),
}

pub(crate) struct Loop<S: State> {
    topo: Arc<Topology<S>>,
    scope: Arc<Scope>,
    state: Arc<S>,
    chans: Vec<Chan>,
    max_version: u64,
    control: Control<S>,
    step: i64,
    stop: i64,
    head: Head,
    last_persisted: Option<CheckpointId>,
    pending: HashMap<TaskId, TaskRecord>,
    writer: Writer,
    /// Whether the writer may hold unsaved operations (a sync checkpoint then goes through it).
    writer_queued: bool,
    /// Breakpoints fire only when a channel changed since the last pause.
    interrupt_version: u64,
    breakpoints_before: Vec<bool>,
    breakpoints_after: Vec<bool>,
    background: Background<S>,
    /// Writes of finished tasks of the current superstep not saved yet: the last task's (saved
    /// with the checkpoint) or, with `exit` durability, all of them.
    step_writes: Vec<TaskWrites>,
    /// An explicit checkpoint to start from (replay or fork).
    explicit: Option<CheckpointId>,
}

fn resolve_breakpoints<S: State>(topo: &Topology<S>, names: &[String], extra: &[String]) -> Vec<bool> {
    let all = names.iter().chain(extra).any(|n| n == "*");
    topo.nodes
        .iter()
        .map(|n| all || names.iter().chain(extra).any(|b| **b == *n.name))
        .collect()
}

/// Decodes a packet for a node of the state: a live `S`, or a stored JSON object of channels.
pub(crate) fn decode_state_packet<S: State>(packet: &Packet) -> Result<Arc<S>, String> {
    match packet {
        Packet::Live { value, type_name, .. } => Arc::clone(value).downcast::<S>().map_err(|_| {
            format!(
                "expected a packet of type {}, got {type_name}",
                std::any::type_name::<S>()
            )
        }),
        Packet::Stored(bytes) => {
            let object: BTreeMap<String, Box<serde_json::value::RawValue>> =
                serde_json::from_slice(bytes).map_err(|e| format!("a stored state packet does not decode: {e}"))?;
            let mut state = S::default();
            for (name, value) in object {
                let index = S::channels().iter().position(|c| c.name == name).ok_or_else(|| {
                    format!("a stored state packet has a field `{name}` that the state does not have")
                })?;
                let chain = [ChannelData::Full(Bytes::copy_from_slice(value.get().as_bytes()))];
                state.restore_channel(index, &chain).map_err(|e| e.to_string())?;
            }
            Ok(Arc::new(state))
        }
    }
}

impl<S: State> Loop<S> {
    /// A loop for one graph level. `config` adds per-call breakpoints; `explicit` is a
    /// checkpoint to start from instead of the latest.
    pub(crate) fn new(engine: &Engine<S>, scope: Scope, config: &RunConfig, explicit: Option<CheckpointId>) -> Self {
        let topo = Arc::clone(&engine.topology);
        let breakpoints_before = resolve_breakpoints(&topo, &engine.interrupt_before, &config.interrupt_before);
        let breakpoints_after = resolve_breakpoints(&topo, &engine.interrupt_after, &config.interrupt_after);
        let writer = match (&scope.checkpointer, scope.durability) {
            (Some(store), Durability::Sync | Durability::Async) => Writer::spawn(
                Arc::clone(store),
                scope.thread().unwrap_or_default(),
                scope.ns.to_string(),
            ),
            _ => Writer::off(),
        };
        let joins = topo.joins.len();
        Loop {
            chans: vec![Chan::default(); S::channels().len()],
            state: Arc::new(S::default()),
            max_version: 0,
            control: Control::new(joins),
            step: -1,
            stop: 0,
            head: Head { id: None, step: -2 },
            last_persisted: None,
            pending: HashMap::new(),
            writer,
            writer_queued: false,
            interrupt_version: 0,
            breakpoints_before,
            breakpoints_after,
            background: Background::new(),
            step_writes: Vec::new(),
            explicit,
            scope: Arc::new(scope),
            topo,
        }
    }

    fn thread(&self) -> Option<String> {
        self.scope.thread()
    }

    fn corrupt(&self, what: impl Into<String>, message: impl Into<String>) -> GraphError {
        GraphError::Corrupt {
            what: what.into(),
            thread_id: self.thread(),
            message: message.into(),
        }
    }

    /// Runs to the end: done, paused, failed or cancelled. Saves what the durability mode says
    /// whatever the outcome.
    pub(crate) async fn run(mut self, input: Input<S>) -> Result<Outcome<S>, GraphError> {
        let result = match self.start(input).await {
            Ok(()) => self.drive().await,
            Err(e) => Err(e),
        };
        let closed = self.close().await;
        let stop = result?;
        closed?;
        let (interrupts, parent) = match stop {
            Stop::Done => (Vec::new(), None),
            Stop::Paused(interrupts) => (interrupts, None),
            Stop::Parent(command) => (Vec::new(), Some(command)),
        };
        let next = self.next_names(true);
        let changes = self.changes_since_base();
        Ok(Outcome {
            state: self.state,
            interrupts,
            next,
            checkpoint_id: self.head.id,
            changes,
            parent,
        })
    }

    /// Loads the thread and applies the input.
    async fn start(&mut self, input: Input<S>) -> Result<(), GraphError> {
        let explicit = self.explicit;
        let saved = self.load(explicit).await?;
        if let (Some(id), None) = (explicit, &saved) {
            return Err(GraphError::CheckpointNotFound {
                thread_id: self.thread().unwrap_or_default(),
                ns: self.scope.ns.to_string(),
                checkpoint_id: id,
            });
        }
        let had_checkpoint = saved.is_some();
        if let Some(tuple) = saved {
            self.restore(tuple)?;
        }
        self.step = self.head.step + 1;
        self.stop = self.step + i64::from(self.scope.recursion_limit) + 1;
        // Continuing from an explicit checkpoint that is not the thread's latest replays it on a
        // new branch.
        let replay = match explicit {
            Some(id) => self.load(None).await?.is_some_and(|latest| latest.checkpoint.id != id),
            None => false,
        };
        match input {
            Input::New(update) => self.accept_input(update).await,
            Input::Subgraph(start) => {
                if had_checkpoint && (self.control.has_pending_work() || !self.control.background.is_empty()) {
                    self.resume_existing(None, false).await
                } else {
                    match start {
                        SubgraphStart::State(parent_state) => self.accept_state(parent_state).await,
                        SubgraphStart::Update(update) => self.accept_input(update).await,
                    }
                }
            }
            Input::Continue => {
                if self.scope.checkpointer.is_none() {
                    return Err(GraphError::usage(
                        "continuing a thread needs a checkpointer: compile the graph with .with_checkpointer(...) and run it with a thread id",
                    ));
                }
                self.resume_existing(None, replay).await
            }
            Input::Resume(resume) => {
                if self.scope.checkpointer.is_none() {
                    return Err(GraphError::usage(
                        "resuming needs a checkpointer: compile the graph with .with_checkpointer(...) and run it with a thread id",
                    ));
                }
                self.resume_existing(Some(resume), false).await
            }
            Input::Command(command) => {
                self.apply_input_command(command).await?;
                self.resume_existing(None, false).await
            }
        }
    }

    async fn load(&self, id: Option<CheckpointId>) -> Result<Option<CheckpointTuple>, GraphError> {
        let (Some(store), Some(thread)) = (&self.scope.checkpointer, &self.scope.thread_id) else {
            return Ok(None);
        };
        store
            .get(thread, &self.scope.ns, id)
            .await
            .map_err(|source| GraphError::Checkpointer {
                thread_id: self.thread(),
                source,
            })
    }

    /// Rebuilds the state, versions and control state of a saved checkpoint.
    pub(crate) fn restore(&mut self, tuple: CheckpointTuple) -> Result<(), GraphError> {
        let checkpoint = &tuple.checkpoint;
        let mut state = S::default();
        for (name, chain) in &tuple.values {
            // A channel the state no longer has (a removed field) is skipped, so old threads stay
            // readable after a schema change; a new field starts from its default.
            let Some(&index) = self.topo.channel_index.get(name.as_str()) else {
                continue;
            };
            state
                .restore_channel(index, chain)
                .map_err(|e| self.corrupt(format!("checkpoint {}", checkpoint.id), e.to_string()))?;
            self.chans[index].restored(chain);
        }
        for (name, reference) in &checkpoint.channels {
            if let Some(&index) = self.topo.channel_index.get(name.as_str()) {
                self.chans[index].version = reference.version;
                self.chans[index].persisted_version = reference.version;
                self.chans[index].head = Some(reference.head);
                self.max_version = self.max_version.max(reference.version);
            }
        }
        self.state = Arc::new(state);
        self.control = Control::decode(&checkpoint.control, &self.topo)
            .map_err(|e| self.corrupt(format!("checkpoint {}", checkpoint.id), e))?;
        self.head = Head {
            id: Some(checkpoint.id),
            step: checkpoint.step,
        };
        self.last_persisted = Some(checkpoint.id);
        self.pending = tuple
            .pending_writes
            .into_iter()
            .map(|w| (w.task_id, TaskRecord::from(w)))
            .collect::<HashMap<_, _>>();
        Ok(())
    }

    /// New input on a fresh or existing thread: cancels what was scheduled, saves an input
    /// checkpoint, and leaves the input for the START task.
    async fn accept_input(&mut self, update: S::Update) -> Result<(), GraphError> {
        self.control.discard_scheduled();
        self.pending.clear();
        self.control.start = Some(StartInput::Update(update));
        self.checkpoint(Source::Input, Vec::new()).await?;
        self.step += 1;
        Ok(())
    }

    /// A subgraph starts from its parent's state: every channel is written at once.
    async fn accept_state(&mut self, parent_state: Arc<S>) -> Result<(), GraphError> {
        self.control.discard_scheduled();
        self.pending.clear();
        self.state = Arc::new((*parent_state).clone());
        let version = self.max_version + 1;
        for chan in &mut self.chans {
            chan.written(version, None);
        }
        self.max_version = version;
        self.control.base_version = version;
        self.control.overwritten.clear();
        self.control.start = Some(StartInput::Update(S::Update::default()));
        self.checkpoint(Source::Input, Vec::new()).await?;
        self.step += 1;
        Ok(())
    }

    /// Continue (or resume) from the loaded checkpoint: a fork when replaying an explicit
    /// checkpoint, answers attached to interrupted tasks, background tasks restarted.
    async fn resume_existing(&mut self, resume: Option<Resume>, replay: bool) -> Result<(), GraphError> {
        if replay {
            // Replaying an earlier checkpoint re-runs its tasks on a new branch.
            self.pending.clear();
            self.checkpoint(Source::Fork, Vec::new()).await?;
            self.step += 1;
        }
        self.attach_answers(resume).await?;
        self.apply_null_writes()?;
        self.interrupt_version = self.max_version;
        self.restart_background();
        Ok(())
    }

    /// Runs supersteps until nothing is scheduled, a pause, or a command for the parent graph.
    async fn drive(&mut self) -> Result<Stop, GraphError> {
        loop {
            self.check_writer()?;
            if self.step > self.stop {
                return Err(GraphError::Recursion {
                    limit: self.scope.recursion_limit,
                    step: self.step,
                    thread_id: self.thread(),
                });
            }
            let tasks = self.prepare();
            if tasks.is_empty() {
                if !self.background_running() {
                    return Ok(Stop::Done);
                }
                match self.scope.background {
                    BackgroundPolicy::Wait => self.wait_background().await?,
                    BackgroundPolicy::Cancel => {
                        self.background.abort_all();
                        return Ok(Stop::Done);
                    }
                }
            } else if self.breakpoint_before(&tasks) {
                self.emit_pause(Vec::new());
                return Ok(Stop::Paused(Vec::new()));
            }
            let ran: Vec<usize> = tasks.iter().filter_map(|t| t.node).collect();
            let mut finished = if tasks.is_empty() {
                Vec::new()
            } else {
                match self.execute(tasks).await? {
                    StepEnd::Complete(finished) => finished,
                    StepEnd::Paused(interrupts) => {
                        self.emit_pause(interrupts.clone());
                        return Ok(Stop::Paused(interrupts));
                    }
                    StepEnd::Failed(error) => return Err(error),
                }
            };
            self.collect_background(&mut finished)?;
            let mut writers: Vec<String> = finished
                .iter()
                .map(|f| {
                    f.node
                        .map_or_else(|| crate::START.to_owned(), |n| self.topo.name_of(n).to_owned())
                })
                .collect();
            writers.dedup();
            if let Some(parent) = self.barrier(finished)? {
                return Ok(Stop::Parent(parent));
            }
            self.emit_values();
            self.checkpoint(Source::Loop, writers).await?;
            let pause_after = ran.iter().any(|node| self.breakpoints_after[*node]);
            self.step += 1;
            if pause_after {
                self.emit_pause(Vec::new());
                return Ok(Stop::Paused(Vec::new()));
            }
        }
    }

    /// Streams a pause (mode `Updates`, LangGraph's `__interrupt__` chunk).
    fn emit_pause(&self, interrupts: Vec<Interrupt>) {
        self.scope
            .sink
            .emit(StreamMode::Updates, self.step, || EventData::Interrupt(interrupts));
    }

    /// Names of the nodes that run next (or are paused), one per task, sorted; with
    /// `skip_done`, tasks whose writes are saved are left out (as `get_state().next` does for
    /// the latest checkpoint).
    pub(crate) fn next_names(&self, skip_done: bool) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        if self.control.start.is_some() {
            names.push(crate::START.to_owned());
        }
        for task in self.prepare_identities() {
            let done = skip_done
                && self
                    .pending
                    .get(&task.1.id(&self.scope.ns))
                    .is_some_and(TaskRecord::done);
            if !done {
                names.push(self.topo.name_of(task.0).to_owned());
            }
        }
        if names.is_empty() && self.control.triggers.is_empty() && self.control.sends.is_empty() {
            names.extend(self.control.deferred.iter().map(|n| self.topo.name_of(*n).to_owned()));
        }
        // Unfinished background tasks run again when the thread continues.
        for spec in &self.control.background {
            if !(skip_done && self.pending.get(&spec.id).is_some_and(TaskRecord::done)) {
                names.push(self.topo.name_of(spec.node).to_owned());
            }
        }
        names.sort();
        names
    }

    fn changes_since_base(&self) -> Changes {
        let mut changes = Changes::default();
        for (index, chan) in self.chans.iter().enumerate() {
            if chan.version > self.control.base_version {
                changes.written.insert(index);
            }
        }
        for index in &self.control.overwritten {
            changes.overwritten.insert(*index);
        }
        changes
    }

    /// Applies writes that no task made (a `Command` input saved against the checkpoint), as
    /// LangGraph does before preparing tasks.
    fn apply_null_writes(&mut self) -> Result<(), GraphError> {
        let Some(record) = self.pending.remove(&TaskId::NULL) else {
            return Ok(());
        };
        let (update, goto) = record
            .decode::<S>(&self.topo)
            .map_err(|e| self.corrupt("input command", e))?;
        self.apply_outside_step(update, "__input__")?;
        self.route_gotos(None, goto)?;
        self.pending.insert(TaskId::NULL, record);
        Ok(())
    }

    /// Applies one update outside a superstep (input commands): its channels get a new version
    /// and are saved in full with the next checkpoint.
    fn apply_outside_step(&mut self, update: S::Update, writer: &str) -> Result<(), GraphError> {
        let state = Arc::make_mut(&mut self.state);
        let mut updates = [TaskUpdate { writer, update }];
        let changes = state.apply(&mut updates).map_err(|source| GraphError::InvalidUpdate {
            step: self.step,
            thread_id: self.scope.thread(),
            source,
        })?;
        self.bump_versions(&changes, &HashMap::new());
        Ok(())
    }

    async fn apply_input_command(&mut self, command: Command<S>) -> Result<(), GraphError> {
        if command.parent.is_some() {
            return Err(GraphError::usage("a run's input command cannot target a parent graph"));
        }
        // Refuse a bad goto before saving it: a saved command is applied again on every
        // continue, so a bad one would stick to the thread.
        for goto in &command.goto {
            let (name, is_send) = match goto {
                crate::command::Goto::Node(name) => (name.as_ref(), false),
                crate::command::Goto::Send(send) => (send.node(), true),
            };
            if name == crate::END && is_send {
                return Err(GraphError::usage(
                    "the input command sends a packet to END; send it to a node",
                ));
            }
            if name != crate::END && self.topo.node_index(name).is_none() {
                return Err(GraphError::usage(format!(
                    "the input command goes to `{name}`, which is not a node of graph `{}`",
                    self.topo.name
                )));
            }
        }
        let mut update = command.update;
        update.prepare();
        let record = tasks::encode_writes::<S>(TaskId::NULL, "__input__", "__input__", &update, &command.goto)
            .map_err(|e| GraphError::usage(format!("the input command does not serialize: {e}")))?;
        if let (Some(store), Some(thread), Some(head)) = (&self.scope.checkpointer, &self.scope.thread_id, self.head.id)
        {
            store
                .put_writes(thread, &self.scope.ns, head, vec![record.clone()])
                .await
                .map_err(|source| GraphError::Checkpointer {
                    thread_id: self.thread(),
                    source,
                })?;
        }
        self.pending.insert(TaskId::NULL, TaskRecord::from(record));
        Ok(())
    }

    /// Streams the state (mode `Values`).
    fn emit_values(&self) {
        let sink = &self.scope.sink;
        if sink.wants(StreamMode::Values) {
            let state = (*self.state).clone();
            sink.emit(StreamMode::Values, self.step, || {
                EventData::Values(Payload::state(state))
            });
        }
    }
}
