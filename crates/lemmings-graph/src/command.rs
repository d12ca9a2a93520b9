//! What nodes and routers return: [`Command`] (update + goto), [`SendTo`] packets and [`Route`]s.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::state::State;

/// The name of the graph's entry point.
pub const START: &str = "__start__";
/// The name of the graph's exit.
pub const END: &str = "__end__";

type Encoder = fn(&(dyn Any + Send + Sync)) -> Result<Vec<u8>, serde_json::Error>;

/// The private input of one task started by a [`SendTo`]: kept as a live value while the run is in
/// memory, serialized only when a checkpoint needs it, decoded on resume.
#[derive(Clone)]
pub(crate) enum Packet {
    Live {
        value: Arc<dyn Any + Send + Sync>,
        encode: Encoder,
        type_name: &'static str,
    },
    Stored(Bytes),
}

/// A packet's value is not of the type its node takes.
#[derive(Debug, thiserror::Error)]
#[error("expected a packet of type {expected}, got {found}")]
pub(crate) struct PacketError {
    pub(crate) expected: &'static str,
    pub(crate) found: String,
}

fn encode_as<T: Serialize + 'static>(value: &(dyn Any + Send + Sync)) -> Result<Vec<u8>, serde_json::Error> {
    match value.downcast_ref::<T>() {
        Some(value) => serde_json::to_vec(value),
        None => Err(<serde_json::Error as serde::ser::Error>::custom("packet type changed")),
    }
}

impl Packet {
    pub(crate) fn new<T: Serialize + Send + Sync + 'static>(value: T) -> Packet {
        Packet::Live {
            value: Arc::new(value),
            encode: encode_as::<T>,
            type_name: std::any::type_name::<T>(),
        }
    }

    /// The packet as JSON bytes, for checkpoints.
    pub(crate) fn encode(&self) -> Result<Bytes, serde_json::Error> {
        match self {
            Packet::Live { value, encode, .. } => encode(value.as_ref()).map(Bytes::from),
            Packet::Stored(bytes) => Ok(bytes.clone()),
        }
    }

    /// The packet's value as `T`: the live value when the types match, else decoded from JSON.
    pub(crate) fn get<T: DeserializeOwned + Send + Sync + 'static>(&self) -> Result<Arc<T>, PacketError> {
        match self {
            Packet::Live { value, type_name, .. } => Arc::clone(value).downcast::<T>().map_err(|_| PacketError {
                expected: std::any::type_name::<T>(),
                found: (*type_name).to_owned(),
            }),
            Packet::Stored(bytes) => serde_json::from_slice::<T>(bytes)
                .map(Arc::new)
                .map_err(|e| PacketError {
                    expected: std::any::type_name::<T>(),
                    found: format!("stored JSON that does not decode ({e})"),
                }),
        }
    }
}

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Packet::Live { type_name, .. } => write!(f, "Packet<{type_name}>"),
            Packet::Stored(bytes) => write!(f, "Packet({})", String::from_utf8_lossy(bytes)),
        }
    }
}

/// LangGraph's `Send`: starts one task of `node` in the next superstep with `arg` as its whole input (map-reduce).
///
/// A node added with [`StateGraph::add_node`](crate::StateGraph::add_node) takes packets of the
/// graph's state type; one added with
/// [`add_node_with_input`](crate::StateGraph::add_node_with_input) takes its input type.
#[derive(Clone, Debug)]
pub struct SendTo {
    pub(crate) node: Cow<'static, str>,
    pub(crate) arg: Packet,
}

impl SendTo {
    /// A packet for `node`.
    pub fn new<T>(node: impl Into<Cow<'static, str>>, arg: T) -> SendTo
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        SendTo {
            node: node.into(),
            arg: Packet::new(arg),
        }
    }

    /// The target node.
    pub fn node(&self) -> &str {
        &self.node
    }
}

/// Where control goes next: a node (or [`END`], which is ignored), or a [`SendTo`].
#[derive(Clone, Debug)]
pub enum Goto {
    /// Trigger a node in the next superstep.
    Node(Cow<'static, str>),
    /// Start a task with its own input in the next superstep.
    Send(SendTo),
}

impl From<&'static str> for Goto {
    fn from(node: &'static str) -> Self {
        Goto::Node(Cow::Borrowed(node))
    }
}

impl From<String> for Goto {
    fn from(node: String) -> Self {
        Goto::Node(Cow::Owned(node))
    }
}

impl From<SendTo> for Goto {
    fn from(send: SendTo) -> Self {
        Goto::Send(send)
    }
}

/// What a router (conditional edge) returns: zero or more node names (or path-map keys) and
/// [`SendTo`]s.
#[derive(Clone, Debug, Default)]
pub struct Route(pub(crate) Vec<Goto>);

impl Route {
    /// Goes nowhere (the branch ends here).
    pub fn end() -> Route {
        Route(vec![Goto::from(END)])
    }

    /// The route's targets.
    pub fn targets(&self) -> &[Goto] {
        &self.0
    }
}

impl<T: Into<Goto>> From<T> for Route {
    fn from(target: T) -> Self {
        Route(vec![target.into()])
    }
}

impl<T: Into<Goto>> From<Vec<T>> for Route {
    fn from(targets: Vec<T>) -> Self {
        Route(targets.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Goto>> FromIterator<T> for Route {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Route(iter.into_iter().map(Into::into).collect())
    }
}

/// A command aimed at the parent graph: its update is applied as the subgraph node's write
/// (decoded into the parent's update type) and its goto routes among the parent's nodes.
#[derive(Clone, Debug, Default)]
pub(crate) struct ParentCommand {
    pub(crate) update: Option<serde_json::Value>,
    pub(crate) goto: Vec<Goto>,
    pub(crate) encode_error: Option<String>,
}

/// What a node returns: an update of the state plus where to go next.
///
/// `goto` adds to the node's static edges (it does not replace them). A node returning its
/// update type directly is the same as `Command::new().update(u)`.
pub struct Command<S: State> {
    pub(crate) update: S::Update,
    pub(crate) goto: Vec<Goto>,
    pub(crate) parent: Option<ParentCommand>,
}

impl<S: State> Command<S> {
    /// A command that writes nothing and goes nowhere beyond the static edges.
    pub fn new() -> Self {
        Command {
            update: S::Update::default(),
            goto: Vec::new(),
            parent: None,
        }
    }

    /// A command for the parent graph (LangGraph's `Command(graph=PARENT)`): `goto` and
    /// [`parent_update`](Self::parent_update) apply there, and this graph stops.
    pub fn to_parent() -> Self {
        Command {
            update: S::Update::default(),
            goto: Vec::new(),
            parent: Some(ParentCommand::default()),
        }
    }

    /// Sets the update of this graph's state.
    pub fn update(mut self, update: S::Update) -> Self {
        self.update = update;
        self
    }

    /// Sets the update applied to the parent's state, as the parent's update type would
    /// serialize it (e.g. `{"log": ["x"]}`). Only for [`to_parent`](Self::to_parent) commands.
    pub fn parent_update(mut self, update: impl Serialize) -> Self {
        let parent = self.parent.get_or_insert_with(ParentCommand::default);
        match serde_json::to_value(update) {
            Ok(value) => parent.update = Some(value),
            Err(e) => parent.encode_error = Some(e.to_string()),
        }
        self
    }

    /// Adds a target: a node name, [`END`] (ignored), or a [`SendTo`].
    pub fn goto(mut self, target: impl Into<Goto>) -> Self {
        match &mut self.parent {
            Some(parent) => parent.goto.push(target.into()),
            None => self.goto.push(target.into()),
        }
        self
    }

    /// Adds several targets.
    pub fn goto_all<T: Into<Goto>>(mut self, targets: impl IntoIterator<Item = T>) -> Self {
        for target in targets {
            self = self.goto(target);
        }
        self
    }
}

impl<S: State> Default for Command<S> {
    fn default() -> Self {
        Command::new()
    }
}

impl<S: State> From<()> for Command<S> {
    fn from((): ()) -> Self {
        Command::new()
    }
}

impl<S: State> fmt::Debug for Command<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("update", &self.update)
            .field("goto", &self.goto)
            .field("parent", &self.parent)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_packets_decode_or_report_the_type() {
        let packet = Packet::new(41_u32);
        assert_eq!(*packet.get::<u32>().unwrap(), 41);
        let err = packet.get::<String>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected a packet of type alloc::string::String, got u32"
        );
        let stored = Packet::Stored(packet.encode().unwrap());
        assert_eq!(*stored.get::<u32>().unwrap(), 41);
        assert!(stored.get::<String>().is_err());
    }
}
