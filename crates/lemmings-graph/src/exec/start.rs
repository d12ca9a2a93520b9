//! Starting a run: loading the thread's checkpoint, rebuilding the state, and applying the input
//! (new input, a subgraph's start, a continue or replay, answers, an input command).

use std::collections::HashMap;
use std::sync::Arc;

use super::control::{Control, StartInput};
use super::records::{TaskRecord, encode_writes};
use super::{Head, Input, Loop, SubgraphStart};
use crate::checkpoint::{CheckpointId, CheckpointTuple, Source, TaskId};
use crate::command::Command;
use crate::error::GraphError;
use crate::interrupt::Resume;
use crate::state::{State, TaskUpdate, Update};

impl<S: State> Loop<S> {
    /// Loads the thread and applies the input.
    pub(super) async fn start(&mut self, input: Input<S>) -> Result<(), GraphError> {
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

    pub(super) async fn load(&self, id: Option<CheckpointId>) -> Result<Option<CheckpointTuple>, GraphError> {
        let (Some(store), Some(thread)) = (&self.scope.checkpointer, &self.scope.thread_id) else {
            return Ok(None);
        };
        store
            .get(thread, &self.scope.ns, id)
            .await
            .map_err(|source| self.store_error(source))
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
        let record = encode_writes::<S>(TaskId::NULL, "__input__", "__input__", &update, &command.goto)
            .map_err(|e| GraphError::usage(format!("the input command does not serialize: {e}")))?;
        if let (Some(store), Some(thread), Some(head)) = (&self.scope.checkpointer, &self.scope.thread_id, self.head.id)
        {
            store
                .put_writes(thread, &self.scope.ns, head, vec![record.clone()])
                .await
                .map_err(|source| self.store_error(source))?;
        }
        self.pending.insert(TaskId::NULL, TaskRecord::from(record));
        Ok(())
    }
}
