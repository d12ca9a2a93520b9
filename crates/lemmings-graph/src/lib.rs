//! A typed, async graph runtime with LangGraph's superstep (Pregel/BSP) semantics.
//!
//! A graph is a set of async nodes over a typed [`State`] whose fields are channels with
//! reducers. A run is a sequence of supersteps: the triggered nodes run concurrently on a
//! snapshot, then their writes are applied in a deterministic order and the edges decide what
//! runs next. With a [`Checkpointer`], every superstep is saved, so a thread can be resumed after
//! a failure or a crash, paused for a human ([`Ctx::interrupt`]), inspected, updated and forked.
//!
//! ```
//! use std::sync::Arc;
//! use lemmings_graph::{Append, Ctx, NodeError, RunConfig, State, StateGraph, END, START};
//!
//! #[derive(State, Clone, Debug, Default)]
//! struct Log {
//!     #[reducer(append)]
//!     steps: Vec<String>,
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let mut graph = StateGraph::<Log>::new();
//! graph.add_node("hello", |_state: Arc<Log>, _ctx: Ctx| async {
//!     Ok::<_, NodeError>(LogUpdate::default().steps(vec!["hello".to_owned()]))
//! });
//! graph.add_edge(START, "hello").add_edge("hello", END);
//! let graph = graph.compile().unwrap();
//! let out = graph.invoke(LogUpdate::default(), &RunConfig::default()).await.unwrap();
//! assert_eq!(out.value.steps, ["hello"]);
//! # });
//! ```
//!
//! This crate does no I/O: stores live in `lemmings-store`, models in `lemmings-models`.

// Lets `#[derive(State)]` expansions inside this crate name it `::lemmings_graph`.
extern crate self as lemmings_graph;

mod api;
mod builder;
mod cache;
mod checkpoint;
mod command;
mod compile;
mod config;
pub mod conformance;
mod context;
mod draw;
mod error;
mod exec;
mod interrupt;
mod messages;
mod node;
mod reducer;
mod retry;
mod state;
mod stream;
mod subgraph;

pub use api::{EventStream, Output, RunInput, StateSnapshot, TaskSnapshot};
pub use builder::{BranchBuilder, NodeBuilder, StateGraph};
pub use cache::{Cache, CacheKey, CachePolicy, InMemoryCache};
pub use checkpoint::{
    ChannelRef, Checkpoint, CheckpointError, CheckpointErrorKind, CheckpointId, CheckpointPut, CheckpointTuple,
    Checkpointer, EffectRecord, InMemorySaver, Lease, ListOptions, NewBlob, PruneReport, Retention, Source, TaskId,
    TaskWrites, ThreadSummary, Timestamp, special,
};
pub use command::{Command, END, Goto, Route, START, SendTo};
pub use compile::{CompileError, CompileOptions, CompiledGraph, Problem};
pub use config::{BackgroundPolicy, DEFAULT_RECURSION_LIMIT, Durability, RunConfig};
pub use context::{Ctx, EffectAttempt, EffectStatus};
pub use error::{ErrorKind, GraphError, NodeError, NodeErrorKind, NodeFailure};
pub use interrupt::{Interrupt, Resume};
pub use lemmings_graph_macros::State;
pub use messages::{Message, MessageUpdate, Messages};
pub use reducer::{Add, Append, LastValue, ReduceError, Reducer, ReducerKind, Write};
pub use retry::RetryPolicy;
pub use state::{
    ApplyError, Changes, ChannelData, ChannelSet, ChannelSpec, FromState, MAX_CHANNELS, RestoreError, State,
    TaskUpdate, Update,
};
pub use stream::{CheckpointEvent, Event, EventData, Payload, StreamMode, StreamModes};

#[doc(hidden)]
pub use state::private as __private;
