//! Saved task records: what a finished, failed or interrupted task leaves in the store, how a
//! resumed run reads it back, and how a task's writes are encoded.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::checkpoint::{TaskId, TaskWrites, special};
use crate::command::{Goto, Packet, SendTo};
use crate::compile::Topology;
use crate::interrupt::Interrupt;
use crate::state::{State, Update};

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
pub(crate) struct ErrorJson {
    pub(crate) message: String,
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
}

/// A task's encoded writes per channel index, for deltas: special channels (and channels the
/// state no longer has) are left out.
pub(crate) fn channel_blobs<S: State>(topo: &Topology<S>, writes: &[(String, Bytes)]) -> Vec<(usize, Bytes)> {
    writes
        .iter()
        .filter_map(|(c, b)| topo.channel_index.get(c.as_str()).map(|i| (*i, b.clone())))
        .collect()
}

pub(crate) fn json_bytes(value: &impl Serialize) -> Bytes {
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

pub(crate) fn special_writes(task_id: TaskId, path: &str, node: &str, writes: Vec<(&str, Bytes)>) -> TaskWrites {
    TaskWrites {
        task_id,
        task_path: path.to_owned(),
        node: node.to_owned(),
        writes: writes.into_iter().map(|(c, b)| (c.to_owned(), b)).collect(),
    }
}

/// Adds the task's completed side effects to its writes, so the store records them in the
/// same transaction.
pub(crate) fn attach_effects(writes: &mut TaskWrites, effects: &crate::context::Effects) {
    let effects = effects.lock().unwrap_or_else(|p| p.into_inner());
    if !effects.is_empty() {
        writes.writes.retain(|(channel, _)| channel != special::EFFECTS);
        writes.writes.push((special::EFFECTS.to_owned(), json_bytes(&*effects)));
    }
}
