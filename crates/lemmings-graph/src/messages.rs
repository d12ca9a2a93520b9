//! The messages reducer (LangGraph's `add_messages`): upsert by id, remove by id, remove all.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::reducer::{ReduceError, Reducer, ReducerKind, Write};

/// A message that the [`Messages`] reducer can merge: it has an optional, settable id.
pub trait Message: Clone + fmt::Debug + Send + Sync + Serialize + DeserializeOwned + 'static {
    /// The message's id, if it has one yet.
    fn id(&self) -> Option<&str>;
    /// Gives the message an id; called once, before the write is saved.
    fn set_id(&mut self, id: String);
}

/// One operation on a message list.
///
/// Serialized as the message itself, `{"__remove__": id}`, or `{"__remove__": "__remove_all__"}`.
#[derive(Clone, Debug, PartialEq)]
pub enum MessageUpdate<M> {
    /// Replace the message with the same id in place, or append it if the id is new.
    Upsert(M),
    /// Remove the message with this id; an unknown id is an error.
    Remove(String),
    /// Remove every message written before this operation.
    RemoveAll,
}

impl<M> From<M> for MessageUpdate<M> {
    fn from(message: M) -> Self {
        MessageUpdate::Upsert(message)
    }
}

const REMOVE_KEY: &str = "__remove__";
const REMOVE_ALL: &str = "__remove_all__";

impl<M: Serialize> Serialize for MessageUpdate<M> {
    fn serialize<Se: Serializer>(&self, serializer: Se) -> Result<Se::Ok, Se::Error> {
        use serde::ser::SerializeMap;
        let remove = |serializer: Se, id: &str| {
            let mut map = serializer.serialize_map(Some(1))?;
            map.serialize_entry(REMOVE_KEY, id)?;
            map.end()
        };
        match self {
            MessageUpdate::Upsert(message) => message.serialize(serializer),
            MessageUpdate::Remove(id) => remove(serializer, id),
            MessageUpdate::RemoveAll => remove(serializer, REMOVE_ALL),
        }
    }
}

impl<'de, M: DeserializeOwned> Deserialize<'de> for MessageUpdate<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        if let serde_json::Value::Object(map) = &value
            && map.len() == 1
            && let Some(serde_json::Value::String(id)) = map.get(REMOVE_KEY)
        {
            return Ok(if id == REMOVE_ALL {
                MessageUpdate::RemoveAll
            } else {
                MessageUpdate::Remove(id.clone())
            });
        }
        serde_json::from_value(value)
            .map(MessageUpdate::Upsert)
            .map_err(serde::de::Error::custom)
    }
}

/// `add_messages`: messages without an id get one (a UUID, assigned before the write is saved so
/// replay is deterministic), an existing id is replaced in place, a new id is appended, and
/// [`MessageUpdate::Remove`] deletes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Messages;

impl<M: Message> Reducer<Vec<M>> for Messages {
    type Update = Vec<MessageUpdate<M>>;
    const KIND: ReducerKind = ReducerKind::Messages;
    const DELTA: bool = true;

    fn prepare(update: &mut Self::Update) {
        for op in update {
            if let MessageUpdate::Upsert(message) = op
                && message.id().is_none()
            {
                message.set_id(uuid::Uuid::new_v4().to_string());
            }
        }
    }

    fn prepare_value(value: &mut Vec<M>) {
        for message in value {
            if message.id().is_none() {
                message.set_id(uuid::Uuid::new_v4().to_string());
            }
        }
    }

    fn reduce(value: &mut Vec<M>, update: Self::Update) -> Result<(), ReduceError> {
        // Everything before the last RemoveAll is moot.
        let skip = match update.iter().rposition(|op| matches!(op, MessageUpdate::RemoveAll)) {
            Some(index) => {
                value.clear();
                index + 1
            }
            None => 0,
        };
        // A superstep writes a handful of messages, so a scan beats building an index.
        let position = |value: &[M], id: &str| value.iter().position(|m| m.id() == Some(id));
        for op in update.into_iter().skip(skip) {
            match op {
                MessageUpdate::Upsert(message) => match message.id().and_then(|id| position(value, id)) {
                    Some(found) => value[found] = message,
                    None => value.push(message),
                },
                MessageUpdate::Remove(id) => match position(value, &id) {
                    Some(found) => {
                        value.remove(found);
                    }
                    None => {
                        return Err(ReduceError::new(format!(
                            "cannot remove message {id:?}: no message with that id in the list"
                        )));
                    }
                },
                MessageUpdate::RemoveAll => value.clear(),
            }
        }
        Ok(())
    }

    fn diff(before: &Vec<M>, after: &Vec<M>) -> Write<Vec<M>, Self::Update> {
        // Upserting every message of `after` is idempotent for the ones that did not change and
        // keeps positions; ids that disappeared are removed.
        let kept: std::collections::HashSet<&str> = after.iter().filter_map(Message::id).collect();
        let mut ops: Vec<MessageUpdate<M>> = before
            .iter()
            .filter_map(Message::id)
            .filter(|id| !kept.contains(id))
            .map(|id| MessageUpdate::Remove(id.to_owned()))
            .collect();
        if after.iter().any(|m| m.id().is_none()) {
            return Write::Overwrite(after.clone());
        }
        ops.extend(after.iter().cloned().map(MessageUpdate::Upsert));
        Write::Update(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Msg {
        id: Option<String>,
        text: String,
    }

    impl Message for Msg {
        fn id(&self) -> Option<&str> {
            self.id.as_deref()
        }
        fn set_id(&mut self, id: String) {
            self.id = Some(id);
        }
    }

    fn msg(id: &str, text: &str) -> Msg {
        Msg {
            id: Some(id.into()),
            text: text.into(),
        }
    }

    fn reduce(value: &mut Vec<Msg>, update: Vec<MessageUpdate<Msg>>) -> Result<(), ReduceError> {
        <Messages as Reducer<Vec<Msg>>>::reduce(value, update)
    }

    #[test]
    fn replaces_in_place_and_removes_by_id() {
        // C19: left [h0, h1, ai1:"v1"], right [ai1:"v2", Remove(h0)] -> [h1, ai1:"v2"]
        let mut value = vec![msg("h0", "hi"), msg("h1", "there"), msg("ai1", "v1")];
        reduce(
            &mut value,
            vec![msg("ai1", "v2").into(), MessageUpdate::Remove("h0".into())],
        )
        .unwrap();
        assert_eq!(value, vec![msg("h1", "there"), msg("ai1", "v2")]);
    }

    #[test]
    fn unknown_remove_is_an_error() {
        let mut value = vec![msg("a", "x")];
        let err = reduce(&mut value, vec![MessageUpdate::Remove("zz".into())]).unwrap_err();
        assert!(err.to_string().contains("\"zz\""), "{err}");
    }

    #[test]
    fn remove_all_keeps_only_what_follows() {
        let mut value = vec![msg("a", "x")];
        reduce(
            &mut value,
            vec![msg("b", "y").into(), MessageUpdate::RemoveAll, msg("c", "z").into()],
        )
        .unwrap();
        assert_eq!(value, vec![msg("c", "z")]);
    }

    #[test]
    fn prepare_assigns_missing_ids() {
        let mut update = vec![MessageUpdate::Upsert(Msg {
            id: None,
            text: "t".into(),
        })];
        <Messages as Reducer<Vec<Msg>>>::prepare(&mut update);
        let MessageUpdate::Upsert(m) = &update[0] else {
            panic!("upsert expected")
        };
        assert!(m.id.is_some());
    }

    #[test]
    fn remove_then_readd_appends() {
        let mut value = vec![msg("a", "1"), msg("b", "2")];
        reduce(
            &mut value,
            vec![MessageUpdate::Remove("a".into()), msg("a", "3").into()],
        )
        .unwrap();
        assert_eq!(value, vec![msg("b", "2"), msg("a", "3")]);
    }

    #[test]
    fn diff_round_trips() {
        let before = vec![msg("a", "1"), msg("b", "2")];
        let after = vec![msg("b", "2*"), msg("c", "3")];
        let Write::Update(ops) = <Messages as Reducer<Vec<Msg>>>::diff(&before, &after) else {
            panic!()
        };
        let mut value = before.clone();
        reduce(&mut value, ops).unwrap();
        assert_eq!(value, after);
    }

    #[test]
    fn serialization_of_operations() {
        let ops: Vec<MessageUpdate<Msg>> = vec![
            msg("a", "1").into(),
            MessageUpdate::Remove("b".into()),
            MessageUpdate::RemoveAll,
        ];
        let json = serde_json::to_string(&ops).unwrap();
        assert_eq!(
            json,
            r#"[{"id":"a","text":"1"},{"__remove__":"b"},{"__remove__":"__remove_all__"}]"#
        );
        assert_eq!(serde_json::from_str::<Vec<MessageUpdate<Msg>>>(&json).unwrap(), ops);
    }
}
