//! Nodes as the executor sees them: a type-erased async function of the state or of a packet,
//! plus its options (retry, cache, timeout, defer, background, error handler).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::cache::CachePolicy;
use crate::command::{Command, Packet};
use crate::context::Ctx;
use crate::error::NodeError;
use crate::retry::RetryPolicy;
use crate::state::State;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
pub(crate) type NodeResult<S> = Result<Command<S>, NodeError>;

/// A task's input: the state (for a node triggered by an edge) or its own packet (for a task
/// started by a `SendTo`).
pub(crate) enum NodeInput<S> {
    State(Arc<S>),
    Packet(Packet),
}

impl<S> Clone for NodeInput<S> {
    fn clone(&self) -> Self {
        match self {
            NodeInput::State(state) => NodeInput::State(Arc::clone(state)),
            NodeInput::Packet(packet) => NodeInput::Packet(packet.clone()),
        }
    }
}

/// A node's body, erased over how it takes its input.
pub(crate) trait NodeFn<S: State>: Send + Sync + 'static {
    fn call(&self, input: NodeInput<S>, ctx: Ctx) -> BoxFuture<NodeResult<S>>;
    /// Whether an edge (rather than only a `SendTo`) can start it.
    fn takes_state(&self) -> bool;
}

fn packet_error(node: &str, error: impl std::fmt::Display) -> NodeError {
    NodeError::msg(format!("node `{node}` got a packet it cannot take: {error}"))
}

/// A node of the state: `async fn(Arc<S>, Ctx)`. A `SendTo` packet for it must be an `S`.
pub(crate) struct StateNode<F>(pub(crate) F);

impl<S, F, Fut, R> NodeFn<S> for StateNode<F>
where
    S: State,
    F: Fn(Arc<S>, Ctx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, NodeError>> + Send + 'static,
    R: Into<Command<S>> + 'static,
{
    fn call(&self, input: NodeInput<S>, ctx: Ctx) -> BoxFuture<NodeResult<S>> {
        let state = match input {
            NodeInput::State(state) => state,
            NodeInput::Packet(packet) => match crate::exec::decode_state_packet::<S>(&packet) {
                Ok(state) => state,
                Err(e) => {
                    let error = packet_error(ctx.node(), e);
                    return Box::pin(async move { Err(error) });
                }
            },
        };
        let future = (self.0)(state, ctx);
        Box::pin(async move { future.await.map(Into::into) })
    }

    fn takes_state(&self) -> bool {
        true
    }
}

pub(crate) type Projection<S, I> = Arc<dyn Fn(&S) -> I + Send + Sync>;

/// A node of a private input: `async fn(I, Ctx)`, started by `SendTo` packets of type `I`, or by
/// an edge when it has a projection from the state.
pub(crate) struct InputNode<I, S, F> {
    pub(crate) body: F,
    pub(crate) project: Option<Projection<S, I>>,
}

impl<S, I, F, Fut, R> NodeFn<S> for InputNode<I, S, F>
where
    S: State,
    I: DeserializeOwned + Clone + Send + Sync + 'static,
    F: Fn(I, Ctx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, NodeError>> + Send + 'static,
    R: Into<Command<S>> + 'static,
{
    fn call(&self, input: NodeInput<S>, ctx: Ctx) -> BoxFuture<NodeResult<S>> {
        let input = match input {
            NodeInput::Packet(packet) => match packet.get::<I>() {
                Ok(value) => Arc::try_unwrap(value).unwrap_or_else(|shared| (*shared).clone()),
                Err(e) => {
                    let error = packet_error(ctx.node(), e);
                    return Box::pin(async move { Err(error) });
                }
            },
            NodeInput::State(state) => match &self.project {
                Some(project) => project(&state),
                None => {
                    let error = NodeError::msg(format!(
                        "node `{}` takes a private input and can only be started by SendTo",
                        ctx.node()
                    ));
                    return Box::pin(async move { Err(error) });
                }
            },
        };
        let future = (self.body)(input, ctx);
        Box::pin(async move { future.await.map(Into::into) })
    }

    fn takes_state(&self) -> bool {
        self.project.is_some()
    }
}

pub(crate) type ErrorHandler<S> = Arc<dyn Fn(Arc<S>, NodeError) -> BoxFuture<NodeResult<S>> + Send + Sync>;

/// A node's options.
pub(crate) struct NodeOptions<S: State> {
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) cache: Option<CachePolicy>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) defer: bool,
    pub(crate) background: bool,
    pub(crate) error_handler: Option<ErrorHandler<S>>,
    pub(crate) destinations: Vec<String>,
}

impl<S: State> Default for NodeOptions<S> {
    fn default() -> Self {
        NodeOptions {
            retry: None,
            cache: None,
            timeout: None,
            defer: false,
            background: false,
            error_handler: None,
            destinations: Vec::new(),
        }
    }
}

/// A node as compiled.
pub(crate) struct NodeDef<S: State> {
    pub(crate) name: Arc<str>,
    pub(crate) body: Arc<dyn NodeFn<S>>,
    pub(crate) options: NodeOptions<S>,
}
