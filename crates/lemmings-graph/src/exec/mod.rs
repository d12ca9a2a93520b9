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
mod lease;
mod persist;
mod records;
mod resume;
mod start;
mod tasks;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use crate::checkpoint::{CheckpointId, Source, TaskId, TaskWrites};
use crate::command::{Command, Packet, ParentCommand};
use crate::compile::{Engine, Topology};
use crate::config::{BackgroundPolicy, Durability, RunConfig};
use crate::context::Scope;
use crate::error::GraphError;
use crate::interrupt::{Interrupt, Resume};
use crate::state::{Changes, ChannelData, State};
use crate::stream::{EventData, Payload, StreamMode};

use background::Background;
use control::Control;
pub(crate) use lease::LeaseGuard;
use persist::{Chan, Writer};
pub(crate) use records::TaskRecord;
use tasks::StepEnd;

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
        // One run at a time per thread: the root level holds the thread's lease throughout;
        // subgraphs run inside their parent's.
        let thread = if self.scope.ns.is_empty() {
            self.scope.thread_id.clone()
        } else {
            None
        };
        let lease = lease::LeaseGuard::acquire(self.scope.checkpointer.as_ref(), thread.as_deref()).await?;
        let result = match self.start(input).await {
            Ok(()) => self.drive().await,
            Err(e) => Err(e),
        };
        let closed = self.close().await;
        let released = lease.release().await;
        let stop = result?;
        closed?;
        released?;
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
            // Several sends to one node are one writer.
            let mut writers: Vec<String> = finished.iter().map(|f| self.writer_name(f.node)).collect();
            writers.sort_unstable();
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

    /// Streams the state (mode `Values`).
    fn emit_values(&self) {
        self.scope.sink.emit(StreamMode::Values, self.step, || {
            EventData::Values(Payload::state(Arc::clone(&self.state)))
        });
    }
}
