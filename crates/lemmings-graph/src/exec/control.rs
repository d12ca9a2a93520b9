//! The executor's control state: what runs next (triggers, sends, deferred nodes, join barriers,
//! pending input, background tasks), kept by node index in memory and by name in checkpoints.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::checkpoint::{CheckpointId, TaskId};
use crate::command::Packet;
use crate::compile::Topology;
use crate::state::{State, Update};

/// The input waiting for the START task.
#[derive(Clone)]
pub(crate) enum StartInput<S: State> {
    Update(S::Update),
    /// Decoded lazily from a checkpoint: `(channel, write JSON)`.
    Stored(Vec<(String, Bytes)>),
}

/// A background task that was started and has not had its writes applied yet.
#[derive(Clone, Debug)]
pub(crate) struct BackgroundSpec {
    pub(crate) node: usize,
    pub(crate) packet: Option<Packet>,
    pub(crate) path: String,
    pub(crate) id: TaskId,
    /// Where it started: a restarted task keeps its step, id and idempotency keys.
    pub(crate) step: i64,
    pub(crate) checkpoint: Option<CheckpointId>,
}

pub(crate) struct Control<S: State> {
    /// Nodes to run in the next superstep, sorted (index order is name order).
    pub(crate) triggers: Vec<usize>,
    /// Deferred nodes waiting until nothing else is scheduled, sorted.
    pub(crate) deferred: Vec<usize>,
    /// Per join, the sources seen so far, sorted.
    pub(crate) barriers: Vec<Vec<usize>>,
    /// Tasks with their own input for the next superstep, in send order.
    pub(crate) sends: Vec<(usize, Packet)>,
    pub(crate) start: Option<StartInput<S>>,
    pub(crate) background: Vec<BackgroundSpec>,
    /// The nodes whose writes produced the current checkpoint (for `update_state`).
    pub(crate) last_writers: Vec<String>,
    /// Versions above this were written by this run of a subgraph (not by its input).
    pub(crate) base_version: u64,
    /// Channels overwritten since `base_version`.
    pub(crate) overwritten: Vec<usize>,
}

pub(crate) fn insert_sorted(list: &mut Vec<usize>, value: usize) {
    if let Err(position) = list.binary_search(&value) {
        list.insert(position, value);
    }
}

impl<S: State> Control<S> {
    pub(crate) fn new(joins: usize) -> Self {
        Control {
            triggers: Vec::new(),
            deferred: Vec::new(),
            barriers: vec![Vec::new(); joins],
            sends: Vec::new(),
            start: None,
            background: Vec::new(),
            last_writers: Vec::new(),
            base_version: 0,
            overwritten: Vec::new(),
        }
    }

    /// Whether a superstep is waiting to run (or to finish running).
    pub(crate) fn has_pending_work(&self) -> bool {
        self.start.is_some() || !self.triggers.is_empty() || !self.sends.is_empty() || !self.deferred.is_empty()
    }

    /// New input cancels what was scheduled (LangGraph marks those triggers as seen).
    pub(crate) fn discard_scheduled(&mut self) {
        self.triggers.clear();
        self.deferred.clear();
        self.sends.clear();
        self.start = None;
        self.background.clear();
    }
}

#[derive(Serialize, Deserialize, Default)]
struct ControlJson {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    triggers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    deferred: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    barriers: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sends: Vec<SendJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<BTreeMap<String, Box<RawValue>>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    background: Vec<BackgroundJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    last_writers: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    base_version: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    overwritten: Vec<String>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

#[derive(Serialize, Deserialize)]
struct SendJson {
    node: String,
    arg: Box<RawValue>,
}

#[derive(Serialize, Deserialize)]
struct BackgroundJson {
    node: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    arg: Option<Box<RawValue>>,
    path: String,
    id: TaskId,
    step: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checkpoint: Option<CheckpointId>,
}

fn raw(bytes: &[u8]) -> Result<Box<RawValue>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    RawValue::from_string(text.to_owned()).map_err(|e| e.to_string())
}

fn packet(raw: &RawValue) -> Packet {
    Packet::Stored(Bytes::copy_from_slice(raw.get().as_bytes()))
}

impl<S: State> Control<S> {
    /// The control state as JSON for a checkpoint.
    pub(crate) fn encode(&self, topology: &Topology<S>) -> Result<Bytes, String> {
        let name = |node: &usize| topology.name_of(*node).to_owned();
        let start = match &self.start {
            None => None,
            Some(StartInput::Update(update)) => {
                let channels = S::channels();
                let writes = update
                    .encode()
                    .map_err(|e| format!("the run input does not serialize: {e}"))?;
                Some(
                    writes
                        .into_iter()
                        .map(|(index, bytes)| Ok((channels[index].name.to_owned(), raw(&bytes)?)))
                        .collect::<Result<_, String>>()?,
                )
            }
            Some(StartInput::Stored(writes)) => Some(
                writes
                    .iter()
                    .map(|(c, b)| Ok((c.clone(), raw(b)?)))
                    .collect::<Result<_, String>>()?,
            ),
        };
        let json = ControlJson {
            triggers: self.triggers.iter().map(name).collect(),
            deferred: self.deferred.iter().map(name).collect(),
            barriers: self
                .barriers
                .iter()
                .enumerate()
                .filter(|(_, seen)| !seen.is_empty())
                .map(|(join, seen)| (topology.joins[join].name.clone(), seen.iter().map(name).collect()))
                .collect(),
            sends: self
                .sends
                .iter()
                .map(|(node, packet)| {
                    let arg = packet
                        .encode()
                        .map_err(|e| format!("a packet for `{}` does not serialize: {e}", name(node)))?;
                    Ok(SendJson {
                        node: name(node),
                        arg: raw(&arg)?,
                    })
                })
                .collect::<Result<_, String>>()?,
            start,
            background: self
                .background
                .iter()
                .map(|spec| {
                    let arg = match &spec.packet {
                        Some(packet) => Some(raw(&packet.encode().map_err(|e| e.to_string())?)?),
                        None => None,
                    };
                    Ok(BackgroundJson {
                        node: name(&spec.node),
                        arg,
                        path: spec.path.clone(),
                        id: spec.id,
                        step: spec.step,
                        checkpoint: spec.checkpoint,
                    })
                })
                .collect::<Result<_, String>>()?,
            last_writers: self.last_writers.clone(),
            base_version: self.base_version,
            overwritten: self
                .overwritten
                .iter()
                .map(|c| S::channels()[*c].name.to_owned())
                .collect(),
        };
        serde_json::to_vec(&json).map(Bytes::from).map_err(|e| e.to_string())
    }

    /// The control state from a checkpoint's JSON; names the graph no longer has are an error.
    pub(crate) fn decode(bytes: &[u8], topology: &Topology<S>) -> Result<Self, String> {
        let json: ControlJson = if bytes.is_empty() {
            ControlJson::default()
        } else {
            serde_json::from_slice(bytes).map_err(|e| format!("control state: {e}"))?
        };
        let node = |name: &str| {
            topology.node_index(name).ok_or_else(|| {
                format!(
                    "the checkpoint schedules node `{name}`, which graph `{}` does not have",
                    topology.name
                )
            })
        };
        let nodes = |names: &[String]| -> Result<Vec<usize>, String> {
            let mut indices = names.iter().map(|n| node(n)).collect::<Result<Vec<_>, _>>()?;
            indices.sort_unstable();
            indices.dedup();
            Ok(indices)
        };
        let mut barriers = vec![Vec::new(); topology.joins.len()];
        for (join_name, seen) in &json.barriers {
            let join = topology
                .joins
                .iter()
                .position(|j| j.name == *join_name)
                .ok_or_else(|| {
                    format!(
                        "the checkpoint has a barrier `{join_name}`, which graph `{}` does not have",
                        topology.name
                    )
                })?;
            barriers[join] = nodes(seen)?;
        }
        let channel = |name: &str| {
            topology
                .channel_index
                .get(name)
                .copied()
                .ok_or_else(|| format!("the checkpoint names channel `{name}`, which the state does not have"))
        };
        Ok(Control {
            triggers: nodes(&json.triggers)?,
            deferred: nodes(&json.deferred)?,
            barriers,
            sends: json
                .sends
                .iter()
                .map(|s| Ok((node(&s.node)?, packet(&s.arg))))
                .collect::<Result<_, String>>()?,
            start: json.start.map(|writes| {
                StartInput::Stored(
                    writes
                        .into_iter()
                        .map(|(c, v)| (c, Bytes::copy_from_slice(v.get().as_bytes())))
                        .collect(),
                )
            }),
            background: json
                .background
                .iter()
                .map(|b| {
                    Ok(BackgroundSpec {
                        node: node(&b.node)?,
                        packet: b.arg.as_deref().map(packet),
                        path: b.path.clone(),
                        id: b.id,
                        step: b.step,
                        checkpoint: b.checkpoint,
                    })
                })
                .collect::<Result<_, String>>()?,
            last_writers: json.last_writers,
            base_version: json.base_version,
            overwritten: json.overwritten.iter().map(|c| channel(c)).collect::<Result<_, _>>()?,
        })
    }
}
