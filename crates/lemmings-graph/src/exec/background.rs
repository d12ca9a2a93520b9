//! Background tasks: started like any task but outside the superstep barrier. The main path does
//! not wait for them; their writes apply at the first barrier after they finish. The checkpoint
//! lists the unfinished ones, so a resume restarts them (or reuses their saved writes).

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::Loop;
use super::attempt::{TaskOutcome, run_task};
use super::control::BackgroundSpec;
use super::records::{attach_effects, channel_blobs, encode_writes};
use super::tasks::Finished;
use crate::context::TaskIdentity;
use crate::error::GraphError;
use crate::node::NodeInput;
use crate::state::State;
use crate::stream::{EventData, StreamMode};

type Report<S> = (String, TaskOutcome<S>, crate::context::Effects);

pub(crate) struct Background<S: State> {
    tx: mpsc::UnboundedSender<Report<S>>,
    rx: mpsc::UnboundedReceiver<Report<S>>,
    running: Vec<(String, AbortHandle)>,
    /// Results received (or found saved) and not yet applied.
    ready: Vec<Report<S>>,
    spawned: u64,
}

impl<S: State> Background<S> {
    pub(crate) fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Background {
            tx,
            rx,
            running: Vec::new(),
            ready: Vec::new(),
            spawned: 0,
        }
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.running.is_empty() && self.ready.is_empty()
    }

    pub(crate) fn abort_all(&mut self) {
        for (_, handle) in self.running.drain(..) {
            handle.abort();
        }
    }
}

impl<S: State> Drop for Background<S> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<S: State> Loop<S> {
    /// Starts a background task for `node` (triggered at this superstep) and records it.
    pub(super) fn spawn_background(&mut self, node: usize, input: NodeInput<S>, origin: &str) {
        let path = format!("~bg:{:010}:{}:{origin}", self.step, self.background.spawned);
        self.background.spawned += 1;
        let identity = TaskIdentity::new(self.head.id, self.step, path.clone());
        let id = identity.id(&self.scope.ns);
        let (step, checkpoint) = (self.step, self.head.id);
        let packet = match &input {
            NodeInput::Packet(packet) => Some(packet.clone()),
            NodeInput::State(_) => None,
        };
        self.control.background.push(BackgroundSpec {
            node,
            packet,
            path: path.clone(),
            id,
            step,
            checkpoint,
        });
        self.start_background(node, input, path, Arc::new(identity));
    }

    fn start_background(&mut self, node: usize, input: NodeInput<S>, path: String, identity: Arc<TaskIdentity>) {
        // A background task keeps its own copy of the state, so the main path's state is not
        // shared with it and can still be updated in place at each barrier.
        let input = match input {
            NodeInput::State(state) => NodeInput::State(Arc::new((*state).clone())),
            packet => packet,
        };
        let seed = self.seed(node, Arc::clone(&identity), Vec::new(), false, true);
        let topo = Arc::clone(&self.topo);
        let tx = self.background.tx.clone();
        let report_path = path.clone();
        self.scope
            .sink
            .emit_with_debug(StreamMode::Tasks, self.step, || EventData::TaskStart {
                id: identity.id(&self.scope.ns),
                node: self.topo.name_of(node).to_owned(),
            });
        let effects = Arc::clone(&seed.effects);
        let handle = tokio::spawn(async move {
            let outcome = run_task(topo, node, input, seed).await;
            let _ = tx.send((report_path, outcome, effects));
        });
        self.background.running.push((path, handle.abort_handle()));
    }

    /// On resume: background tasks whose writes were saved are ready; the others start again.
    pub(super) fn restart_background(&mut self) {
        for spec in self.control.background.clone() {
            if self.background.running.iter().any(|(path, _)| *path == spec.path) {
                continue;
            }
            if let Some(record) = self.pending.get(&spec.id).filter(|r| r.done())
                && let Ok((update, goto)) = record.decode::<S>(&self.topo)
            {
                let done = super::attempt::Done {
                    update,
                    goto,
                    parent: None,
                    handled: false,
                    cached: false,
                };
                self.background
                    .ready
                    .push((spec.path.clone(), TaskOutcome::Done(done), Arc::default()));
                continue;
            }
            let input = match &spec.packet {
                Some(packet) => NodeInput::Packet(packet.clone()),
                None => NodeInput::State(Arc::clone(&self.state)),
            };
            let identity = Arc::new(TaskIdentity::new(spec.checkpoint, spec.step, spec.path.clone()));
            self.start_background(spec.node, input, spec.path, identity);
        }
    }

    pub(super) fn background_running(&self) -> bool {
        !self.background.is_idle()
    }

    /// Waits until a background task finishes (or the run is cancelled).
    pub(super) async fn wait_background(&mut self) -> Result<(), GraphError> {
        if !self.background.ready.is_empty() {
            return Ok(());
        }
        let cancel = self.scope.cancel.clone();
        tokio::select! {
            biased;
            () = cancel.cancelled() => Err(self.cancelled()),
            report = self.background.rx.recv() => {
                if let Some(report) = report {
                    self.background.ready.push(report);
                }
                Ok(())
            }
        }
    }

    /// Moves finished background tasks into the barrier's list; a failed one fails the run.
    pub(super) fn collect_background(&mut self, finished: &mut Vec<Finished<S>>) -> Result<(), GraphError> {
        while let Ok(report) = self.background.rx.try_recv() {
            self.background.ready.push(report);
        }
        let saving = self.scope.checkpointer.is_some();
        for (path, outcome, effects) in std::mem::take(&mut self.background.ready) {
            self.background.running.retain(|(p, _)| *p != path);
            let Some(position) = self.control.background.iter().position(|s| s.path == path) else {
                continue;
            };
            let spec = self.control.background.remove(position);
            let name = self.topo.name_of(spec.node).to_owned();
            match outcome {
                TaskOutcome::Done(done) => {
                    self.emit_done(spec.id, &name, &done);
                    let encoded = if saving {
                        let mut writes =
                            encode_writes::<S>(spec.id, &path, &name, &done.update, &done.goto).map_err(|e| {
                                GraphError::usage(format!(
                                    "the update of background node `{name}` does not serialize: {e}"
                                ))
                            })?;
                        attach_effects(&mut writes, &effects);
                        let blobs = channel_blobs(&self.topo, &writes.writes);
                        self.step_writes.push(writes);
                        Some(blobs)
                    } else {
                        None
                    };
                    finished.push(Finished {
                        path,
                        node: Some(spec.node),
                        done,
                        encoded,
                    });
                }
                TaskOutcome::Failed(failure) => return Err(GraphError::Node(Box::new(failure))),
                TaskOutcome::Interrupted(_) => {
                    return Err(GraphError::usage(format!(
                        "background node `{name}` was interrupted; interrupts are not available in the background"
                    )));
                }
            }
        }
        finished.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(())
    }
}
