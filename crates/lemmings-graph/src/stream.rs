//! Streaming: the events a run emits, the modes that select them, and the sink that carries them.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::checkpoint::{CheckpointId, Source, TaskId};
use crate::interrupt::Interrupt;
use crate::state::State;

/// A kind of event to stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamMode {
    /// The whole state after the input and after every superstep.
    Values,
    /// Each task's update as it finishes, and interrupts.
    Updates,
    /// Message chunks (tokens) that nodes emit with [`Ctx::emit_message`](crate::Ctx::emit_message).
    Messages,
    /// Anything nodes emit with [`Ctx::emit`](crate::Ctx::emit).
    Custom,
    /// One event per checkpoint.
    Checkpoints,
    /// Task starts and results.
    Tasks,
    /// Checkpoint and task events, tagged as debug.
    Debug,
}

impl StreamMode {
    const ALL: [StreamMode; 7] = [
        StreamMode::Values,
        StreamMode::Updates,
        StreamMode::Messages,
        StreamMode::Custom,
        StreamMode::Checkpoints,
        StreamMode::Tasks,
        StreamMode::Debug,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of [`StreamMode`]s.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StreamModes(u8);

impl StreamModes {
    /// No events.
    pub const NONE: StreamModes = StreamModes(0);

    /// Whether the set holds a mode.
    pub fn contains(self, mode: StreamMode) -> bool {
        self.0 & mode.bit() != 0
    }

    /// Every mode.
    pub fn all() -> StreamModes {
        StreamMode::ALL.into_iter().collect()
    }
}

impl fmt::Debug for StreamModes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(StreamMode::ALL.into_iter().filter(|m| self.contains(*m)))
            .finish()
    }
}

impl From<StreamMode> for StreamModes {
    fn from(mode: StreamMode) -> Self {
        StreamModes(mode.bit())
    }
}

impl<const N: usize> From<[StreamMode; N]> for StreamModes {
    fn from(modes: [StreamMode; N]) -> Self {
        modes.into_iter().collect()
    }
}

impl FromIterator<StreamMode> for StreamModes {
    fn from_iter<I: IntoIterator<Item = StreamMode>>(iter: I) -> Self {
        StreamModes(iter.into_iter().fold(0, |bits, mode| bits | mode.bit()))
    }
}

/// A value carried by an event: typed for the graph that made it, JSON for anyone.
#[derive(Clone)]
pub struct Payload {
    value: Arc<dyn Any + Send + Sync>,
    to_json: fn(&(dyn Any + Send + Sync)) -> serde_json::Value,
}

impl Payload {
    /// A state, shared with the run rather than copied: the run copies it only if it changes
    /// the state while the event is still held.
    pub(crate) fn state<S: State>(state: Arc<S>) -> Payload {
        fn to_json<S: State>(value: &(dyn Any + Send + Sync)) -> serde_json::Value {
            let Some(state) = value.downcast_ref::<S>() else {
                return serde_json::Value::Null;
            };
            state_json(state)
        }
        Payload {
            value: state,
            to_json: to_json::<S>,
        }
    }

    pub(crate) fn serializable<T: serde::Serialize + Send + Sync + 'static>(value: T) -> Payload {
        fn to_json<T: serde::Serialize + 'static>(value: &(dyn Any + Send + Sync)) -> serde_json::Value {
            value
                .downcast_ref::<T>()
                .and_then(|v| serde_json::to_value(v).ok())
                .unwrap_or_default()
        }
        Payload {
            value: Arc::new(value),
            to_json: to_json::<T>,
        }
    }

    /// The value, if it is a `T` (the graph's state type for values events, its update type for
    /// update events).
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        self.value.downcast_ref::<T>()
    }

    /// The value as JSON (a state as an object of channels).
    pub fn to_json(&self) -> serde_json::Value {
        (self.to_json)(self.value.as_ref())
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

/// A state as a JSON object, one key per channel; a channel that does not serialize shows as an
/// error string rather than failing the stream.
pub(crate) fn state_json<S: State>(state: &S) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    for (index, spec) in S::channels().iter().enumerate() {
        let value = state
            .encode_channel(index)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_else(|| serde_json::Value::String(format!("<{} does not serialize>", spec.name)));
        object.insert(spec.name.to_owned(), value);
    }
    serde_json::Value::Object(object)
}

/// What a checkpoint event reports.
#[derive(Clone, Debug)]
pub struct CheckpointEvent {
    /// The checkpoint's id.
    pub id: CheckpointId,
    /// Its parent.
    pub parent_id: Option<CheckpointId>,
    /// Why it was written.
    pub source: Source,
    /// The nodes that run next.
    pub next: Vec<String>,
}

/// The content of an event.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum EventData {
    /// The state (mode `Values`).
    Values(Payload),
    /// A task's update (mode `Updates`).
    Update {
        /// The node.
        node: String,
        /// The update.
        update: Payload,
        /// Whether it came from the node cache instead of running the node.
        cached: bool,
    },
    /// The run paused (mode `Updates`): the interrupts raised, empty for a breakpoint.
    Interrupt(Vec<Interrupt>),
    /// A message chunk (mode `Messages`).
    Message {
        /// The node.
        node: String,
        /// The chunk.
        chunk: serde_json::Value,
    },
    /// A custom value (mode `Custom`).
    Custom {
        /// The node.
        node: String,
        /// The value.
        value: serde_json::Value,
    },
    /// A checkpoint was created (modes `Checkpoints` and `Debug`).
    Checkpoint(CheckpointEvent),
    /// A task started (modes `Tasks` and `Debug`).
    TaskStart {
        /// The task id.
        id: TaskId,
        /// The node.
        node: String,
    },
    /// A task finished (modes `Tasks` and `Debug`).
    TaskResult {
        /// The task id.
        id: TaskId,
        /// The node.
        node: String,
        /// Its error, if it failed.
        error: Option<String>,
        /// Its interrupts, if it paused.
        interrupts: Vec<Interrupt>,
    },
}

/// One streamed event.
#[derive(Clone, Debug)]
pub struct Event {
    /// The mode that selected it.
    pub mode: StreamMode,
    /// The namespace: empty for the root graph, one entry per subgraph level (`node:<task id>`).
    pub ns: Arc<[String]>,
    /// The superstep.
    pub step: i64,
    /// The content.
    pub data: EventData,
}

/// Where a run sends its events; inert when nobody streams.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sink {
    tx: Option<mpsc::UnboundedSender<Event>>,
    modes: StreamModes,
    ns: Arc<[String]>,
}

impl Sink {
    pub(crate) fn new(tx: mpsc::UnboundedSender<Event>, modes: StreamModes) -> Sink {
        Sink {
            tx: Some(tx),
            modes,
            ns: Arc::from(Vec::new()),
        }
    }

    /// The sink of a subgraph running as task `segment` of this graph.
    pub(crate) fn child(&self, segment: String) -> Sink {
        let mut ns = self.ns.to_vec();
        ns.push(segment);
        Sink {
            tx: self.tx.clone(),
            modes: self.modes,
            ns: Arc::from(ns),
        }
    }

    pub(crate) fn wants(&self, mode: StreamMode) -> bool {
        self.tx.is_some() && self.modes.contains(mode)
    }

    /// Sends an event if its mode is wanted; a dropped receiver is not an error (the caller
    /// stopped listening, and the run goes on).
    pub(crate) fn emit(&self, mode: StreamMode, step: i64, data: impl FnOnce() -> EventData) {
        if let Some(tx) = &self.tx
            && self.modes.contains(mode)
        {
            let _ = tx.send(Event {
                mode,
                ns: Arc::clone(&self.ns),
                step,
                data: data(),
            });
        }
    }

    /// Sends a checkpoint or task event under its own mode and, if wanted, under `Debug`.
    pub(crate) fn emit_with_debug(&self, mode: StreamMode, step: i64, data: impl Fn() -> EventData) {
        self.emit(mode, step, &data);
        self.emit(StreamMode::Debug, step, data);
    }
}
