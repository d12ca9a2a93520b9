//! A typed, async graph runtime with LangGraph's superstep (Pregel/BSP) semantics.
#![doc = include_str!("../README.md")]

mod command;
mod messages;
mod reducer;
mod state;

pub use command::{Command, END, Goto, Route, START, SendTo};
pub use lemmings_graph_macros::State;
pub use messages::{Message, MessageUpdate, Messages};
pub use reducer::{Add, Append, LastValue, ReduceError, Reducer, ReducerKind, Write};
pub use state::{
    ApplyError, ChannelData, ChannelSet, ChannelSpec, Changes, FromState, MAX_CHANNELS, RestoreError, State,
    TaskUpdate, Update,
};

#[doc(hidden)]
pub use state::private as __private;
