//! Running a compiled graph (`invoke`, `resume`, `stream`) and the state API (`get_state`,
//! `get_state_history`, `update_state`).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{CheckpointId, CheckpointTuple, Checkpointer, ListOptions, Source, TaskId, Timestamp};
use crate::command::Command;
use crate::compile::CompiledGraph;
use crate::config::{Durability, RunConfig};
use crate::context::Scope;
use crate::error::GraphError;
use crate::exec::{Input, LeaseGuard, Loop};
use crate::interrupt::{Interrupt, Resume};
use crate::state::{FromState, State};
use crate::stream::{Event, Sink, StreamModes};

/// What a run returns.
#[derive(Debug)]
pub struct Output<O> {
    /// The output, built from the final state (or the state at the pause).
    pub value: O,
    /// Interrupts waiting for answers; empty when done or paused at a breakpoint.
    pub interrupts: Vec<Interrupt>,
    /// Nodes that run when the thread continues; empty when the run is done.
    pub next: Vec<String>,
    /// The thread's checkpoint after the run.
    pub checkpoint_id: Option<CheckpointId>,
}

impl<O> Output<O> {
    /// Whether the run finished (nothing paused, nothing scheduled).
    pub fn is_done(&self) -> bool {
        self.next.is_empty() && self.interrupts.is_empty()
    }
}

/// What a run starts with.
pub enum RunInput<S: State, I> {
    /// New input (on a fresh thread, or after a finished run).
    New(I),
    /// Continue from the checkpoint: after a failure, a breakpoint, or a crash (LangGraph's
    /// `invoke(None)`); with `RunConfig::checkpoint_id`, a replay from that checkpoint.
    Continue,
    /// Answers to pending interrupts.
    Resume(Resume),
    /// An update and gotos applied to the thread before it continues.
    Command(Command<S>),
}

impl<S: State, I> std::fmt::Debug for RunInput<S, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunInput::New(_) => f.write_str("RunInput::New(..)"),
            RunInput::Continue => f.write_str("RunInput::Continue"),
            RunInput::Resume(resume) => write!(f, "RunInput::Resume({resume:?})"),
            RunInput::Command(command) => write!(f, "RunInput::Command({command:?})"),
        }
    }
}

/// One task of a [`StateSnapshot`].
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSnapshot {
    /// The task's id.
    pub id: TaskId,
    /// The node.
    pub name: String,
    /// The task's path.
    pub path: String,
    /// Whether it finished (its writes are saved).
    pub done: bool,
    /// Its error, if its last attempt failed.
    pub error: Option<String>,
    /// Its unanswered interrupts.
    pub interrupts: Vec<Interrupt>,
}

/// A thread's state at a checkpoint.
#[derive(Clone, Debug)]
pub struct StateSnapshot<S> {
    /// The state, with the saved writes of finished tasks applied.
    pub values: S,
    /// The nodes that run when the thread continues.
    pub next: Vec<String>,
    /// The checkpoint (none for a thread with no checkpoint).
    pub checkpoint_id: Option<CheckpointId>,
    /// Its parent.
    pub parent_id: Option<CheckpointId>,
    /// Its superstep.
    pub step: i64,
    /// Why it was written.
    pub source: Option<Source>,
    /// When.
    pub created_at: Option<Timestamp>,
    /// Its metadata.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The tasks of the superstep it starts.
    pub tasks: Vec<TaskSnapshot>,
    /// Interrupts waiting for answers.
    pub interrupts: Vec<Interrupt>,
    /// Why the saved writes could not all be applied (e.g. two writers of a last-value channel);
    /// `values` then leaves them out. Fix the thread with `update_state` or new input.
    pub conflict: Option<String>,
}

/// The events of a streamed run. Poll it as a [`Stream`], then call
/// [`finish`](EventStream::finish) for the output. Dropping it cancels the run.
pub struct EventStream<O> {
    rx: mpsc::UnboundedReceiver<Event>,
    handle: Option<JoinHandle<Result<Output<O>, GraphError>>>,
    cancel: CancellationToken,
}

impl<O> std::fmt::Debug for EventStream<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl<O> Stream for EventStream<O> {
    type Item = Event;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

impl<O> EventStream<O> {
    /// Waits for the run to end and returns its output or error; events not yet polled are
    /// dropped.
    pub async fn finish(mut self) -> Result<Output<O>, GraphError> {
        let Some(handle) = self.handle.take() else {
            return Err(GraphError::usage("the run already finished"));
        };
        match handle.await {
            Ok(result) => result,
            Err(error) => Err(GraphError::usage(format!("the run's task ended abnormally: {error}"))),
        }
    }
}

impl<O> Drop for EventStream<O> {
    fn drop(&mut self) {
        if self.handle.is_some() {
            self.cancel.cancel();
        }
    }
}

impl<S: State, I, O> CompiledGraph<S, I, O> {
    fn store(&self) -> Option<&Arc<dyn Checkpointer>> {
        self.engine.checkpointer.as_ref()
    }

    fn scope(&self, config: &RunConfig, sink: Sink, durability: Durability) -> Result<Scope, GraphError> {
        if self.store().is_some() && config.thread_id.is_none() {
            return Err(GraphError::usage(format!(
                "graph `{}` has a checkpointer, so a run needs a thread id: use RunConfig::thread(\"...\")",
                self.name()
            )));
        }
        if config.recursion_limit == 0 {
            return Err(GraphError::usage("the recursion limit must be at least 1"));
        }
        Ok(Scope {
            thread_id: config.thread_id.as_deref().map(Arc::from),
            ns: Arc::from(""),
            checkpointer: self.engine.checkpointer.clone(),
            cache: self.engine.cache.clone(),
            durability,
            recursion_limit: config.recursion_limit,
            cancel: config.cancel.clone(),
            sink,
            answers: Arc::default(),
            metadata: Arc::new(config.metadata.clone()),
            background: config.background,
            parents: Arc::default(),
        })
    }

    fn thread_of<'c>(
        &self,
        config: &'c RunConfig,
        what: &str,
    ) -> Result<(&Arc<dyn Checkpointer>, &'c str), GraphError> {
        match (self.store(), config.thread_id.as_deref()) {
            (Some(store), Some(thread)) => Ok((store, thread)),
            (None, _) => Err(GraphError::usage(format!(
                "{what} needs a checkpointer: compile graph `{}` with .with_checkpointer(...)",
                self.name()
            ))),
            (Some(_), None) => Err(GraphError::usage(format!(
                "{what} needs a thread id: use RunConfig::thread(\"...\")"
            ))),
        }
    }

    /// A loop over a loaded checkpoint, for the state API (it saves nothing by itself).
    fn inspector(&self, config: &RunConfig, tuple: Option<CheckpointTuple>) -> Result<Loop<S>, GraphError> {
        let scope = self.scope(config, Sink::default(), Durability::Exit)?;
        let mut inspector = Loop::new(&self.engine, scope, config, None);
        if let Some(tuple) = tuple {
            inspector.restore(tuple)?;
        }
        Ok(inspector)
    }

    /// The thread's checkpoint at `config.checkpoint_id` (an error if it has none) or its latest
    /// (`None` for a thread with no checkpoint), with the store it came from.
    async fn load(
        &self,
        config: &RunConfig,
        what: &str,
    ) -> Result<(&Arc<dyn Checkpointer>, Option<CheckpointTuple>), GraphError> {
        let (store, thread) = self.thread_of(config, what)?;
        let tuple = store
            .get(thread, "", config.checkpoint_id)
            .await
            .map_err(|source| GraphError::Checkpointer {
                thread_id: config.thread_id.clone(),
                source,
            })?;
        match (tuple, config.checkpoint_id) {
            (None, Some(checkpoint_id)) => Err(GraphError::CheckpointNotFound {
                thread_id: thread.to_owned(),
                ns: String::new(),
                checkpoint_id,
            }),
            (tuple, _) => Ok((store, tuple)),
        }
    }

    /// The state of a thread at its latest checkpoint, or at `config.checkpoint_id`.
    pub async fn get_state(&self, config: &RunConfig) -> Result<StateSnapshot<S>, GraphError> {
        let (_, tuple) = self.load(config, "get_state").await?;
        let meta = tuple.as_ref().map(|t| t.checkpoint.clone());
        let inspector = self.inspector(config, tuple)?;
        Ok(inspector.snapshot(meta, config.checkpoint_id.is_none()))
    }

    /// A thread's checkpoints, newest first, as snapshots.
    pub async fn get_state_history(
        &self,
        config: &RunConfig,
        options: &ListOptions,
    ) -> Result<Vec<StateSnapshot<S>>, GraphError> {
        let (store, thread) = self.thread_of(config, "get_state_history")?;
        let tuples = store
            .list(thread, "", options)
            .await
            .map_err(|source| GraphError::Checkpointer {
                thread_id: config.thread_id.clone(),
                source,
            })?;
        tuples
            .into_iter()
            .map(|tuple| {
                let meta = Some(tuple.checkpoint.clone());
                Ok(self.inspector(config, Some(tuple))?.snapshot(meta, false))
            })
            .collect()
    }

    /// Applies `update` to a thread as if `as_node` had run (its edges fire), in a new checkpoint
    /// (source `update`). Without `as_node`, the node that wrote the latest checkpoint is used.
    /// At an earlier `config.checkpoint_id`, this forks the thread. Returns the new checkpoint.
    pub async fn update_state(
        &self,
        config: &RunConfig,
        update: S::Update,
        as_node: Option<&str>,
    ) -> Result<CheckpointId, GraphError> {
        let (store, _) = self.thread_of(config, "update_state")?;
        let lease = LeaseGuard::acquire(Some(store), config.thread_id.as_deref()).await?;
        let result = async {
            let (store, tuple) = self.load(config, "update_state").await?;
            let mut inspector = self.inspector(config, tuple)?;
            let put = inspector.update_as(update, as_node)?;
            let id = put.checkpoint.id;
            store
                .put(put, Vec::new())
                .await
                .map_err(|source| GraphError::Checkpointer {
                    thread_id: config.thread_id.clone(),
                    source,
                })?;
            Ok(id)
        }
        .await;
        // Released on every path, so a refused update does not leave the thread locked.
        let released = lease.release().await;
        let id = result?;
        released?;
        Ok(id)
    }
}

impl<S, I, O> CompiledGraph<S, I, O>
where
    S: State,
    I: Into<S::Update> + Send + 'static,
    O: FromState<S>,
{
    async fn run_with(&self, input: RunInput<S, I>, config: &RunConfig, sink: Sink) -> Result<Output<O>, GraphError> {
        let scope = self.scope(config, sink, config.durability)?;
        let input = match input {
            RunInput::New(input) => Input::New(input.into()),
            RunInput::Continue => Input::Continue,
            RunInput::Resume(resume) => Input::Resume(resume),
            RunInput::Command(command) => Input::Command(command),
        };
        let outcome = Loop::new(&self.engine, scope, config, config.checkpoint_id)
            .run(input)
            .await?;
        if outcome.parent.is_some() {
            return Err(GraphError::usage(format!(
                "a node of graph `{}` returned Command::to_parent(), but the graph is not running as a subgraph",
                self.name()
            )));
        }
        Ok(Output {
            value: O::from_state(outcome.state),
            interrupts: outcome.interrupts,
            next: outcome.next,
            checkpoint_id: outcome.checkpoint_id,
        })
    }

    /// Runs the graph on new input until it is done or paused.
    pub async fn invoke(&self, input: I, config: &RunConfig) -> Result<Output<O>, GraphError> {
        self.run_with(RunInput::New(input), config, Sink::default()).await
    }

    /// Answers pending interrupts and continues the thread.
    pub async fn resume(&self, resume: Resume, config: &RunConfig) -> Result<Output<O>, GraphError> {
        self.run_with(RunInput::Resume(resume), config, Sink::default()).await
    }

    /// Continues the thread from its checkpoint (after a failure, a breakpoint or a crash), or
    /// replays from `config.checkpoint_id`.
    pub async fn continue_run(&self, config: &RunConfig) -> Result<Output<O>, GraphError> {
        self.run_with(RunInput::Continue, config, Sink::default()).await
    }

    /// Runs with any [`RunInput`].
    pub async fn run(&self, input: RunInput<S, I>, config: &RunConfig) -> Result<Output<O>, GraphError> {
        self.run_with(input, config, Sink::default()).await
    }

    /// Runs in a tokio task and streams its events in the given modes.
    pub fn stream(&self, input: RunInput<S, I>, config: &RunConfig, modes: impl Into<StreamModes>) -> EventStream<O>
    where
        O: Send,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let cancel = config.cancel.child_token();
        let config = RunConfig {
            cancel: cancel.clone(),
            ..config.clone()
        };
        let graph = self.clone();
        let sink = Sink::new(tx, modes.into());
        let handle = tokio::spawn(async move { graph.run_with(input, &config, sink).await });
        EventStream {
            rx,
            handle: Some(handle),
            cancel,
        }
    }
}
