//! Reducers: how a state field folds the writes of one superstep into its value.
//!
//! Every field of a [`State`](crate::State) is a channel with a reducer. The derive macro picks
//! [`LastValue`] unless the field says otherwise (`#[reducer(append)]`, `#[reducer(add)]`,
//! `#[reducer(messages)]`, `#[reducer(fn = path)]` or `#[reducer(with = Type)]`).

use std::fmt;
use std::ops::{AddAssign, Sub};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What kind of reducer a channel has; shown in diagrams and used to pick a storage strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReducerKind {
    /// The update replaces the value; two writers in one superstep is an error.
    LastValue,
    /// The update is a list appended to the current list.
    Append,
    /// The update is added to the current value.
    Add,
    /// `add_messages`: upsert by id, remove by id.
    Messages,
    /// A user-supplied function or type.
    Custom,
}

impl ReducerKind {
    /// A short lowercase name, as written in `#[reducer(...)]`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReducerKind::LastValue => "last_value",
            ReducerKind::Append => "append",
            ReducerKind::Add => "add",
            ReducerKind::Messages => "messages",
            ReducerKind::Custom => "custom",
        }
    }
}

/// A reducer failed to fold an update (for example, removing a message id that does not exist).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReduceError {
    message: String,
}

impl ReduceError {
    /// A reduce error with the given message (lowercase, no trailing period).
    pub fn new(message: impl Into<String>) -> Self {
        ReduceError {
            message: message.into(),
        }
    }
}

/// Folds updates into a value of type `T`.
///
/// Implement this on a (usually zero-sized) type and name it with `#[reducer(with = Type)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot reduce a field of type `{T}`",
    label = "pick a reducer that fits `{T}` in #[reducer(...)]",
    note = "append needs a Vec<_>, add needs a number, messages needs a Vec<M: Message>"
)]
pub trait Reducer<T>: 'static {
    /// What a node writes to the channel.
    type Update: Clone + fmt::Debug + Send + Sync + Serialize + DeserializeOwned + 'static;
    /// The reducer's kind.
    const KIND: ReducerKind;
    /// Whether at most one task may write the channel per superstep.
    const SINGLE_WRITER: bool = false;
    /// Whether a checkpoint may store the superstep's updates instead of the whole value:
    /// worth it when updates are small next to the value (appends), not for replacements.
    const DELTA: bool = false;

    /// Folds one update into the value.
    fn reduce(value: &mut T, update: Self::Update) -> Result<(), ReduceError>;

    /// Makes an update deterministic before it is saved, e.g. gives messages their ids, so that
    /// replaying the saved update gives the same value.
    fn prepare(_update: &mut Self::Update) {}

    /// Like [`prepare`](Reducer::prepare), for a value written by an overwrite.
    fn prepare_value(_value: &mut T) {}

    /// The write that turns `before` into `after` when applied to a value equal to `before`; used
    /// to hand a subgraph's net change back to its parent. The default overwrites.
    fn diff(_before: &T, after: &T) -> Write<T, Self::Update>
    where
        T: Clone,
    {
        Write::Overwrite(after.clone())
    }
}

/// One write to a channel: an update folded by the reducer, or an overwrite that bypasses it.
///
/// Serialized as the update itself, or as `{"__overwrite__": value}` (LangGraph's spelling).
#[derive(Clone, Debug, PartialEq)]
pub enum Write<T, U> {
    /// Folded into the current value by the channel's reducer.
    Update(U),
    /// Replaces the value; later writes in the same superstep are ignored, and a second
    /// overwrite in one superstep is an error.
    Overwrite(T),
}

const OVERWRITE_KEY: &str = "__overwrite__";

impl<T: Serialize, U: Serialize> Serialize for Write<T, U> {
    fn serialize<Se: Serializer>(&self, serializer: Se) -> Result<Se::Ok, Se::Error> {
        match self {
            Write::Update(update) => update.serialize(serializer),
            Write::Overwrite(value) => {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(OVERWRITE_KEY, value)?;
                map.end()
            }
        }
    }
}

impl<'de, T: DeserializeOwned, U: DeserializeOwned> Deserialize<'de> for Write<T, U> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = serde_json::Value::deserialize(deserializer)?;
        if let serde_json::Value::Object(map) = &mut value
            && map.len() == 1
            && let Some(inner) = map.remove(OVERWRITE_KEY)
        {
            return serde_json::from_value(inner)
                .map(Write::Overwrite)
                .map_err(serde::de::Error::custom);
        }
        serde_json::from_value(value)
            .map(Write::Update)
            .map_err(serde::de::Error::custom)
    }
}

/// The default reducer: the update replaces the value.
#[derive(Clone, Copy, Debug, Default)]
pub struct LastValue;

impl<T> Reducer<T> for LastValue
where
    T: Clone + fmt::Debug + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    type Update = T;
    const KIND: ReducerKind = ReducerKind::LastValue;
    const SINGLE_WRITER: bool = true;

    fn reduce(value: &mut T, update: T) -> Result<(), ReduceError> {
        *value = update;
        Ok(())
    }

    fn diff(_before: &T, after: &T) -> Write<T, T> {
        Write::Update(after.clone())
    }
}

/// Appends the update (a list) to the current list.
#[derive(Clone, Copy, Debug, Default)]
pub struct Append;

impl<X> Reducer<Vec<X>> for Append
where
    X: Clone + fmt::Debug + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    type Update = Vec<X>;
    const KIND: ReducerKind = ReducerKind::Append;
    const DELTA: bool = true;

    fn reduce(value: &mut Vec<X>, mut update: Vec<X>) -> Result<(), ReduceError> {
        value.append(&mut update);
        Ok(())
    }

    fn diff(before: &Vec<X>, after: &Vec<X>) -> Write<Vec<X>, Vec<X>> {
        // A subgraph started from `before` and only appended unless it overwrote; an overwrite
        // that left the list at least as long is indistinguishable here, which is why the
        // executor asks for `diff` only on channels it saw written without an overwrite.
        match after.get(before.len()..) {
            Some(tail) => Write::Update(tail.to_vec()),
            None => Write::Overwrite(after.clone()),
        }
    }
}

/// Adds the update to the current value (`+=`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Add;

impl<T> Reducer<T> for Add
where
    T: AddAssign + Sub<Output = T> + Clone + fmt::Debug + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    type Update = T;
    const KIND: ReducerKind = ReducerKind::Add;

    fn reduce(value: &mut T, update: T) -> Result<(), ReduceError> {
        *value += update;
        Ok(())
    }

    fn diff(before: &T, after: &T) -> Write<T, T> {
        Write::Update(after.clone() - before.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_round_trips_through_json() {
        let update: Write<Vec<i32>, Vec<i32>> = Write::Update(vec![1, 2]);
        let json = serde_json::to_string(&update).unwrap();
        assert_eq!(json, "[1,2]");
        assert_eq!(
            serde_json::from_str::<Write<Vec<i32>, Vec<i32>>>(&json).unwrap(),
            update
        );

        let overwrite: Write<Vec<i32>, Vec<i32>> = Write::Overwrite(vec![7]);
        let json = serde_json::to_string(&overwrite).unwrap();
        assert_eq!(json, r#"{"__overwrite__":[7]}"#);
        assert_eq!(
            serde_json::from_str::<Write<Vec<i32>, Vec<i32>>>(&json).unwrap(),
            overwrite
        );
    }

    #[test]
    fn append_diff_is_the_tail() {
        let before = vec![1, 2];
        let after = vec![1, 2, 3];
        assert_eq!(
            <Append as Reducer<Vec<i32>>>::diff(&before, &after),
            Write::Update(vec![3])
        );
        assert_eq!(
            <Append as Reducer<Vec<i32>>>::diff(&after, &before),
            Write::Overwrite(before.clone())
        );
    }

    #[test]
    fn add_diff_is_the_difference() {
        assert_eq!(<Add as Reducer<i64>>::diff(&5, &12), Write::Update(7));
    }
}
