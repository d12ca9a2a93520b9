//! Compiled graphs used as nodes: their own namespace of checkpoints in the same thread,
//! interrupts that pause the parent, and a resume that continues the subgraph from its own
//! checkpoint instead of starting it again.

use std::sync::Arc;

use crate::command::{Command, Goto, ParentCommand};
use crate::compile::Engine;
use crate::config::RunConfig;
use crate::context::{Ctx, Scope};
use crate::error::NodeError;
use crate::exec::{Input, Loop, Outcome, SubgraphStart, decode_state_packet};
use crate::interrupt::Interrupt;
use crate::node::{BoxFuture, NodeFn, NodeInput, NodeResult};
use crate::state::{FromState, State};

/// A subgraph over the parent's own state type.
pub(crate) struct SharedSubgraph<S: State> {
    pub(crate) child: Arc<Engine<S>>,
}

/// A subgraph over another state type, with mappings both ways.
pub(crate) struct MappedSubgraph<P: State, C: State, CI, CO> {
    pub(crate) child: Arc<Engine<C>>,
    pub(crate) into_child: IntoChild<P, CI>,
    pub(crate) from_child: FromChild<P, CO>,
}

/// Builds a mapped subgraph's input from the parent's state (or the packet that started it).
pub(crate) type IntoChild<P, CI> = Arc<dyn Fn(&P) -> Result<CI, NodeError> + Send + Sync>;

/// Turns a mapped subgraph's output into the parent's update, seeing the parent's state.
pub(crate) type FromChild<P, CO> = Arc<dyn Fn(&P, CO) -> Result<<P as State>::Update, NodeError> + Send + Sync>;

/// The scope of the subgraph run by the task behind `ctx`: namespace `node:<task id>` under the
/// parent's, the same thread, store, stream, cancellation and answers.
fn child_scope<C: State>(ctx: &Ctx, child: &Engine<C>) -> Scope {
    let parent = &ctx.inner.scope;
    let segment = format!("{}:{}", ctx.node(), ctx.task_id());
    let ns = if parent.ns.is_empty() {
        segment.clone()
    } else {
        format!("{}|{segment}", parent.ns)
    };
    let mut parents = (*parent.parents).clone();
    if let Some(checkpoint) = ctx.inner.task.checkpoint {
        parents.insert(parent.ns.to_string(), checkpoint.to_string().into());
    }
    Scope {
        thread_id: parent.thread_id.clone(),
        ns: Arc::from(ns),
        checkpointer: child.checkpointer.clone().or_else(|| parent.checkpointer.clone()),
        cache: child.cache.clone().or_else(|| parent.cache.clone()),
        durability: parent.durability,
        recursion_limit: parent.recursion_limit,
        cancel: parent.cancel.clone(),
        sink: parent.sink.child(segment),
        answers: Arc::clone(&parent.answers),
        metadata: Arc::clone(&parent.metadata),
        background: parent.background,
        parents: Arc::new(parents),
    }
}

/// Runs the subgraph; its pause becomes this task's pause.
async fn run_child<C: State>(ctx: &Ctx, child: &Engine<C>, start: SubgraphStart<C>) -> Result<Outcome<C>, NodeError> {
    let scope = child_scope(ctx, child);
    let outcome = Loop::new(child, scope, &RunConfig::default(), None)
        .run(Input::Subgraph(start))
        .await
        .map_err(|error| {
            let retryable = error.is_retryable();
            let error = Box::new(error) as Box<dyn std::error::Error + Send + Sync>;
            if retryable {
                NodeError::retryable(error)
            } else {
                NodeError::terminal(error)
            }
        })?;
    if !outcome.interrupts.is_empty() {
        ctx.add_interrupts(outcome.interrupts);
        return Err(NodeError::interrupted());
    }
    if !outcome.next.is_empty() && outcome.parent.is_none() {
        // Paused at a breakpoint of the subgraph: surfaced as an interrupt of this task, so the
        // parent pauses too; answering it (with anything) continues the subgraph.
        let id = crate::context::interrupt_id(ctx.task_id(), usize::MAX);
        let value = serde_json::json!({ "breakpoint": outcome.next });
        ctx.add_interrupts(vec![Interrupt {
            id,
            value,
            node: format!("{}:{}", ctx.node(), ctx.task_id()),
        }]);
        return Err(NodeError::interrupted());
    }
    Ok(outcome)
}

/// A command a subgraph node sent to this graph, as this graph's command.
fn from_parent_command<P: State>(command: ParentCommand) -> NodeResult<P> {
    let update = match command.update {
        Some(value) => serde_json::from_value::<P::Update>(value).map_err(|e| {
            NodeError::msg(format!(
                "the update a subgraph sent to its parent does not fit the parent's state: {e}"
            ))
        })?,
        None => P::Update::default(),
    };
    let goto: Vec<Goto> = command.goto;
    Ok(Command::new().update(update).goto_all(goto))
}

impl<S: State> NodeFn<S> for SharedSubgraph<S> {
    fn call(&self, input: NodeInput<S>, ctx: Ctx) -> BoxFuture<NodeResult<S>> {
        let child = Arc::clone(&self.child);
        Box::pin(async move {
            let before = match input {
                NodeInput::State(state) => state,
                NodeInput::Packet(packet) => decode_state_packet::<S>(&packet).map_err(NodeError::msg)?,
            };
            let outcome = run_child(&ctx, &child, SubgraphStart::State(Arc::clone(&before))).await?;
            if let Some(command) = outcome.parent {
                return from_parent_command::<S>(command);
            }
            // Only the net change goes back: appends made by the subgraph, not the whole list it
            // started from (LangGraph writes the full values back and counts them twice).
            Ok(Command::new().update(S::diff(&before, &outcome.state, &outcome.changes)))
        })
    }

    fn takes_state(&self) -> bool {
        true
    }
}

impl<P, C, CI, CO> NodeFn<P> for MappedSubgraph<P, C, CI, CO>
where
    P: State,
    C: State,
    CI: Into<C::Update> + 'static,
    CO: FromState<C>,
{
    fn call(&self, input: NodeInput<P>, ctx: Ctx) -> BoxFuture<NodeResult<P>> {
        let child = Arc::clone(&self.child);
        let into_child = Arc::clone(&self.into_child);
        let from_child = Arc::clone(&self.from_child);
        Box::pin(async move {
            let state = match input {
                NodeInput::State(state) => state,
                NodeInput::Packet(packet) => decode_state_packet::<P>(&packet).map_err(NodeError::msg)?,
            };
            let start = SubgraphStart::Update(into_child(&state)?.into());
            let outcome = run_child(&ctx, &child, start).await?;
            if let Some(command) = outcome.parent {
                return from_parent_command::<P>(command);
            }
            Ok(Command::new().update(from_child(&state, CO::from_state(outcome.state))?))
        })
    }

    fn takes_state(&self) -> bool {
        true
    }
}
