//! What both backends share: the JSON of a checkpoint's channel map, chains rebuilt from blob
//! links, and the check that a metadata filter key is safe to put in a JSON path.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use lemmings_graph::{ChannelData, ChannelRef, CheckpointId};

use crate::error::StoreError;

/// One stored blob, as read back.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    pub(crate) delta: bool,
    pub(crate) prev: Option<String>,
    pub(crate) data: Bytes,
}

/// Blob links by `(checkpoint id, channel)`.
pub(crate) type Links = HashMap<(String, String), Link>;

pub(crate) fn channels_json(channels: &BTreeMap<String, ChannelRef>) -> Result<String, StoreError> {
    serde_json::to_string(channels).map_err(|e| StoreError::Invalid(format!("channel map does not serialize: {e}")))
}

pub(crate) fn parse_channels(text: &str, what: &dyn Fn() -> String) -> Result<BTreeMap<String, ChannelRef>, String> {
    serde_json::from_str(text).map_err(|e| format!("{}: channel map: {e}", what()))
}

pub(crate) fn parse_id(text: &str, what: &dyn Fn() -> String) -> Result<CheckpointId, String> {
    text.parse().map_err(|e| format!("{}: {e}", what()))
}

/// Each channel's chain, oldest link first, following `prev` from its head.
pub(crate) fn chains(
    channels: &BTreeMap<String, ChannelRef>,
    links: &Links,
    checkpoint: &str,
) -> Result<Vec<(String, Vec<ChannelData>)>, String> {
    let mut values = Vec::with_capacity(channels.len());
    for (channel, reference) in channels {
        let mut chain = Vec::new();
        let mut cursor = Some(reference.head.to_string());
        while let Some(id) = cursor {
            let link = links.get(&(id.clone(), channel.clone())).ok_or_else(|| {
                format!(
                    "checkpoint {checkpoint} needs the blob of channel `{channel}` at checkpoint {id}, which is missing"
                )
            })?;
            chain.push(if link.delta {
                ChannelData::Delta(link.data.clone())
            } else {
                ChannelData::Full(link.data.clone())
            });
            cursor = if link.delta { link.prev.clone() } else { None };
            if chain.len() > 1_000_000 {
                return Err(format!(
                    "channel `{channel}` of checkpoint {checkpoint} has a cyclic chain"
                ));
            }
        }
        chain.reverse();
        values.push((channel.clone(), chain));
    }
    Ok(values)
}

/// The JSON path of a metadata key, refusing keys that are not plain names (LangGraph allows
/// `^[a-zA-Z0-9_.-]+$` too).
pub(crate) fn filter_path(key: &str) -> Result<String, StoreError> {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if plain {
        Ok(format!("$.\"{key}\""))
    } else {
        Err(StoreError::Invalid(format!(
            "metadata filter key {key:?} is not allowed: use letters, digits, `_`, `-` and `.` only"
        )))
    }
}

/// An effects-ledger row as a record: applied with its (JSON) result, or an intent.
pub(crate) fn effect_record(
    applied: bool,
    description: String,
    result: Option<Vec<u8>>,
) -> lemmings_graph::EffectRecord {
    if applied {
        let result = result
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::Value::Null);
        lemmings_graph::EffectRecord::Applied { result }
    } else {
        lemmings_graph::EffectRecord::Intent { description }
    }
}

/// The `(namespace, checkpoint id)`s `retention` deletes, from a thread's checkpoints given as
/// `(namespace, id, created_at ms)` sorted by namespace, then newest first.
pub(crate) fn doomed(
    checkpoints: impl IntoIterator<Item = (String, String, i64)>,
    retention: &lemmings_graph::Retention,
) -> Vec<(String, String)> {
    let mut doomed = Vec::new();
    let mut rank = 0;
    let mut current_ns: Option<String> = None;
    for (ns, id, created) in checkpoints {
        if current_ns.as_ref() != Some(&ns) {
            current_ns = Some(ns.clone());
            rank = 0;
        }
        if retention.deletes(
            rank,
            lemmings_graph::Timestamp::from_millis(created.try_into().unwrap_or(0)),
        ) {
            doomed.push((ns, id));
        }
        rank += 1;
    }
    doomed
}
