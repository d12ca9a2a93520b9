//! The typed state of a graph: a struct whose fields are channels, and its partial update.
//!
//! Users write `#[derive(State)]` on a struct; the macro implements [`State`] and generates the
//! update type (`<Struct>Update`) with one optional [`Write`] per field. Both traits are public so
//! that the executor and the stores can work with any state, but implementing them by hand is
//! neither needed nor supported.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::reducer::{ReduceError, ReducerKind, Write};

/// The most channels (fields) a state may have.
pub const MAX_CHANNELS: usize = 256;

/// A set of channel indices (field positions in declaration order).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ChannelSet([u64; MAX_CHANNELS / 64]);

impl ChannelSet {
    /// The empty set.
    pub const EMPTY: ChannelSet = ChannelSet([0; MAX_CHANNELS / 64]);

    /// Adds a channel.
    pub fn insert(&mut self, channel: usize) {
        self.0[channel / 64] |= 1 << (channel % 64);
    }

    /// Whether the set holds a channel.
    pub fn contains(&self, channel: usize) -> bool {
        self.0[channel / 64] & (1 << (channel % 64)) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|word| *word == 0)
    }

    /// Adds every channel of `other`.
    pub fn union_with(&mut self, other: &ChannelSet) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine |= theirs;
        }
    }

    /// Whether the two sets share a channel.
    pub fn intersects(&self, other: &ChannelSet) -> bool {
        self.0.iter().zip(other.0).any(|(a, b)| a & b != 0)
    }

    /// The channels in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(word_index, word)| {
            let mut bits = *word;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let bit = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some(word_index * 64 + bit)
            })
        })
    }
}

impl fmt::Debug for ChannelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A channel's static description, generated from the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelSpec {
    /// The field name; also the channel's name in checkpoints.
    pub name: &'static str,
    /// The reducer's kind.
    pub kind: ReducerKind,
    /// Whether two tasks writing it in one superstep is an error.
    pub single_writer: bool,
    /// Whether checkpoints may store its per-step writes instead of its whole value.
    pub delta: bool,
}

/// What applying a superstep's writes changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Channels written (their version is bumped).
    pub written: ChannelSet,
    /// Channels replaced by an [`Write::Overwrite`] in this superstep.
    pub overwritten: ChannelSet,
}

/// One task's update, tagged with the node that wrote it, as handed to [`State::apply`].
#[derive(Debug)]
pub struct TaskUpdate<'a, U> {
    /// The writing node's name (for error messages).
    pub writer: &'a str,
    /// The update; `apply` takes its fields out.
    pub update: U,
}

/// Why a superstep's writes could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// Two tasks wrote a last-value channel in the same superstep.
    #[error(
        "channel `{channel}` can take one value per superstep but {first} and {second} both wrote it; \
         give it a reducer (e.g. #[reducer(append)]) or route the writers into different supersteps"
    )]
    Conflict {
        /// The channel.
        channel: &'static str,
        /// The first writer, in task-path order.
        first: String,
        /// The second writer.
        second: String,
    },
    /// Two overwrites of one channel in one superstep.
    #[error("channel `{channel}` was overwritten twice in one superstep (by {first} and {second})")]
    DoubleOverwrite {
        /// The channel.
        channel: &'static str,
        /// The first writer.
        first: String,
        /// The second writer.
        second: String,
    },
    /// The reducer refused an update.
    #[error("channel `{channel}` rejected the update from {writer}: {source}")]
    Reduce {
        /// The channel.
        channel: &'static str,
        /// The writer.
        writer: String,
        /// The reducer's error.
        source: ReduceError,
    },
}

/// A stored channel value, as the executor hands it to [`State::restore_channel`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelData {
    /// The whole value, JSON.
    Full(bytes::Bytes),
    /// One superstep's writes to the channel, a JSON array of [`Write`]s in application order.
    Delta(bytes::Bytes),
}

/// A stored channel could not be read back into the state.
#[derive(Debug, thiserror::Error)]
#[error("cannot restore channel `{channel}`: {reason}")]
pub struct RestoreError {
    /// The channel.
    pub channel: &'static str,
    /// What went wrong.
    pub reason: String,
}

/// A graph's state: a struct of channels. Implemented by `#[derive(State)]`.
pub trait State: Clone + Default + fmt::Debug + Send + Sync + 'static {
    /// The partial update a node returns: one optional write per field.
    type Update: Update;

    /// The channels, in field declaration order.
    fn channels() -> &'static [ChannelSpec];

    /// Applies one superstep's updates, in task-path order, through each field's reducer.
    ///
    /// On error the state may be partly updated; the executor then discards it.
    fn apply(&mut self, updates: &mut [TaskUpdate<'_, Self::Update>]) -> Result<Changes, ApplyError>;

    /// Serializes one channel's whole value (JSON).
    fn encode_channel(&self, channel: usize) -> Result<Vec<u8>, serde_json::Error>;

    /// Rebuilds one channel from its stored chain: an optional full value, then deltas, oldest
    /// first. A chain that starts with a delta starts from the field's default (which is why
    /// every field type must implement `Default`).
    fn restore_channel(&mut self, channel: usize, chain: &[ChannelData]) -> Result<(), RestoreError>;

    /// The update that turns `before` into `after` on the channels in `changes`: a subgraph's net
    /// change, handed back to a parent with the same state.
    fn diff(before: &Self, after: &Self, changes: &Changes) -> Self::Update;
}

/// The partial update of a [`State`]. Implemented by `#[derive(State)]` on the generated type.
pub trait Update: Clone + Default + fmt::Debug + Send + Sync + Serialize + DeserializeOwned + 'static {
    /// The channels this update writes.
    fn written(&self) -> ChannelSet;

    /// Makes the update deterministic before it is saved (e.g. assigns message ids).
    fn prepare(&mut self);

    /// Serializes each written channel's write (JSON), by channel index.
    fn encode(&self) -> Result<Vec<(usize, Vec<u8>)>, serde_json::Error>;

    /// Sets one channel's write from its serialized form.
    fn decode_channel(&mut self, channel: usize, bytes: &[u8]) -> Result<(), serde_json::Error>;

    /// Whether the update writes nothing.
    fn is_empty(&self) -> bool {
        self.written().is_empty()
    }
}

/// How a graph's output is taken from its final state. `S` itself is the default output.
pub trait FromState<S>: Sized + Send + 'static {
    /// Builds the output from the final state.
    fn from_state(state: std::sync::Arc<S>) -> Self;
}

impl<S: State> FromState<S> for S {
    fn from_state(state: std::sync::Arc<S>) -> Self {
        std::sync::Arc::try_unwrap(state).unwrap_or_else(|shared| (*shared).clone())
    }
}

/// Support for code generated by `#[derive(State)]`; not a public API.
#[doc(hidden)]
pub mod private {
    pub use serde;
    pub use serde_json;

    use super::*;
    use crate::reducer::Reducer;

    /// Folds one field's writes from every task of a superstep.
    pub fn apply_field<'a, R, T>(
        value: &mut T,
        index: usize,
        channel: &'static str,
        writes: impl Iterator<Item = (&'a str, Option<Write<T, R::Update>>)>,
        changes: &mut Changes,
    ) -> Result<(), ApplyError>
    where
        R: Reducer<T>,
    {
        let mut first: Option<&str> = None;
        let mut overwriter: Option<&str> = None;
        for (writer, write) in writes {
            let Some(write) = write else { continue };
            if let Some(first) = first
                && R::SINGLE_WRITER
            {
                return Err(ApplyError::Conflict {
                    channel,
                    first: first.to_owned(),
                    second: writer.to_owned(),
                });
            }
            first.get_or_insert(writer);
            changes.written.insert(index);
            match write {
                Write::Update(_) if overwriter.is_some() => {}
                Write::Update(update) => R::reduce(value, update).map_err(|source| ApplyError::Reduce {
                    channel,
                    writer: writer.to_owned(),
                    source,
                })?,
                Write::Overwrite(_) if overwriter.is_some() => {
                    return Err(ApplyError::DoubleOverwrite {
                        channel,
                        first: overwriter.unwrap_or_default().to_owned(),
                        second: writer.to_owned(),
                    });
                }
                Write::Overwrite(new) => {
                    *value = new;
                    overwriter = Some(writer);
                    changes.overwritten.insert(index);
                }
            }
        }
        Ok(())
    }

    /// Rebuilds one field from its stored chain.
    pub fn restore_field<R, T>(value: &mut T, channel: &'static str, chain: &[ChannelData]) -> Result<(), RestoreError>
    where
        R: Reducer<T>,
        T: DeserializeOwned + Default,
    {
        let fail = |reason: String| RestoreError { channel, reason };
        for (position, data) in chain.iter().enumerate() {
            match data {
                ChannelData::Full(bytes) => {
                    *value = serde_json::from_slice(bytes).map_err(|e| fail(format!("full value: {e}")))?;
                }
                ChannelData::Delta(bytes) => {
                    if position == 0 {
                        *value = T::default();
                    }
                    let writes: Vec<Write<T, R::Update>> =
                        serde_json::from_slice(bytes).map_err(|e| fail(format!("delta {position}: {e}")))?;
                    // A delta is one superstep's writes: as in `apply_field`, an overwrite
                    // replaces the value and the writes after it in the same superstep are moot.
                    for write in writes {
                        match write {
                            Write::Update(update) => {
                                R::reduce(value, update).map_err(|e| fail(format!("delta {position}: {e}")))?;
                            }
                            Write::Overwrite(new) => {
                                *value = new;
                                break;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The write for one field of a subgraph's net change.
    pub fn diff_field<R, T>(before: &T, after: &T, index: usize, changes: &Changes) -> Option<Write<T, R::Update>>
    where
        R: Reducer<T>,
        T: Clone,
    {
        if !changes.written.contains(index) {
            None
        } else if changes.overwritten.contains(index) {
            Some(Write::Overwrite(after.clone()))
        } else {
            Some(R::diff(before, after))
        }
    }

    /// Prepares one field's write before it is saved.
    pub fn prepare_field<R, T>(write: &mut Option<Write<T, R::Update>>)
    where
        R: Reducer<T>,
    {
        match write {
            Some(Write::Update(update)) => R::prepare(update),
            Some(Write::Overwrite(value)) => R::prepare_value(value),
            None => {}
        }
    }

    /// Builds a channel spec from a reducer.
    pub const fn spec<R: Reducer<T>, T>(name: &'static str) -> ChannelSpec {
        ChannelSpec {
            name,
            kind: R::KIND,
            single_writer: R::SINGLE_WRITER,
            delta: R::DELTA,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_set_iterates_in_order() {
        let mut set = ChannelSet::EMPTY;
        for i in [200, 3, 64, 0] {
            set.insert(i);
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 3, 64, 200]);
        assert!(set.contains(64) && !set.contains(65));
        let mut other = ChannelSet::EMPTY;
        other.insert(65);
        assert!(!set.intersects(&other));
        set.union_with(&other);
        assert!(set.intersects(&other));
    }
}
