//! One task, start to finish: the node cache, attempts with a timeout, retries with backoff,
//! interrupts, and the error handler.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;

use bytes::Bytes;

use super::records::{TaskRecord, encode_writes};
use crate::cache::CacheKey;
use crate::command::{Command, Goto, ParentCommand};
use crate::compile::Topology;
use crate::context::{Ctx, Scope, TaskIdentity};
use crate::error::{NodeError, NodeFailure};
use crate::interrupt::Interrupt;
use crate::node::NodeInput;
use crate::state::{State, Update};

/// A task's successful result.
pub(crate) struct Done<S: State> {
    pub(crate) update: S::Update,
    pub(crate) goto: Vec<Goto>,
    pub(crate) parent: Option<ParentCommand>,
    /// The error handler produced it: the node's own edges do not fire.
    pub(crate) handled: bool,
    pub(crate) cached: bool,
}

impl<S: State> Done<S> {
    fn from_command(command: Command<S>, handled: bool) -> Self {
        let Command {
            mut update,
            goto,
            parent,
        } = command;
        update.prepare();
        Done {
            update,
            goto,
            parent,
            handled,
            cached: false,
        }
    }
}

pub(crate) enum TaskOutcome<S: State> {
    Done(Done<S>),
    Interrupted(Vec<Interrupt>),
    Failed(NodeFailure),
}

/// What a task needs besides its node and input.
pub(crate) struct TaskSeed<S> {
    pub(crate) identity: Arc<TaskIdentity>,
    pub(crate) scope: Arc<Scope>,
    pub(crate) stop: i64,
    /// Answers to the task's interrupts, in order.
    pub(crate) answers: Vec<serde_json::Value>,
    pub(crate) resuming: bool,
    pub(crate) background: bool,
    /// The state the error handler sees, when the node has one.
    pub(crate) snapshot: Option<Arc<S>>,
    /// Side effects completed by any attempt of the task.
    pub(crate) effects: crate::context::Effects,
}

/// A stable hash of the task's input, for the cache key.
fn input_hash<S: State>(input: &NodeInput<S>) -> Option<String> {
    let bytes = match input {
        NodeInput::State(state) => {
            let mut bytes = Vec::new();
            for (index, spec) in S::channels().iter().enumerate() {
                bytes.extend_from_slice(spec.name.as_bytes());
                bytes.push(0);
                bytes.extend(state.encode_channel(index).ok()?);
                bytes.push(0);
            }
            bytes
        }
        NodeInput::Packet(packet) => packet.encode().ok()?.to_vec(),
    };
    Some(
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, &bytes)
            .simple()
            .to_string(),
    )
}

/// Runs `future`, turning a panic into a terminal error naming `what` panicked.
async fn guarded<T>(future: impl Future<Output = Result<T, NodeError>>, what: &str) -> Result<T, NodeError> {
    AssertUnwindSafe(future).catch_unwind().await.unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string payload".to_owned());
        Err(NodeError::msg(format!("{what} panicked: {message}")))
    })
}

pub(crate) async fn run_task<S: State>(
    topo: Arc<Topology<S>>,
    node: usize,
    input: NodeInput<S>,
    seed: TaskSeed<S>,
) -> TaskOutcome<S> {
    let def = &topo.nodes[node];
    let cache = match (&def.options.cache, &seed.scope.cache) {
        (Some(policy), Some(cache)) => input_hash(&input).map(|hash| {
            (
                policy,
                cache,
                CacheKey {
                    node: format!("{}:{}", topo.name, def.name),
                    input: hash,
                },
            )
        }),
        _ => None,
    };
    if let Some((_, cache, key)) = &cache
        && let Some(writes) = cache.get(key).await
    {
        let record = TaskRecord {
            node: def.name.to_string(),
            path: String::new(),
            writes,
        };
        // A cache entry that no longer decodes (the state changed) is ignored, not fatal.
        if let Ok((update, goto)) = record.decode::<S>(&topo) {
            return TaskOutcome::Done(Done {
                update,
                goto,
                parent: None,
                handled: false,
                cached: true,
            });
        }
    }
    let mut attempt = 1;
    loop {
        let ctx = Ctx::new(
            Arc::clone(&def.name),
            attempt,
            seed.stop,
            Arc::clone(&seed.identity),
            Arc::clone(&seed.scope),
            seed.answers.clone(),
            seed.resuming,
            seed.background,
            Arc::clone(&seed.effects),
        );
        // A panicking node fails its task like an error instead of unwinding through the run:
        // the checkpoint stays valid and siblings' results are saved. The body is called inside
        // the guarded future, so a panic before it returns its future is caught too.
        let body = Arc::clone(&def.body);
        let (node_input, node_ctx) = (input.clone(), ctx.clone());
        let call = guarded(async move { body.call(node_input, node_ctx).await }, "the node");
        let result = match def.options.timeout {
            Some(limit) => tokio::time::timeout(limit, call)
                .await
                .unwrap_or_else(|_| Err(NodeError::timeout(limit))),
            None => call.await,
        };
        // A node that swallowed its interrupt error is still paused.
        let raised = ctx.take_interrupts();
        if !raised.is_empty() {
            return TaskOutcome::Interrupted(raised);
        }
        let error = match result {
            Ok(command) => {
                let done = Done::from_command(command, false);
                if let Some((policy, cache, key)) = cache
                    && done.parent.is_none()
                    && let Ok(writes) =
                        encode_writes::<S>(crate::checkpoint::TaskId::NULL, "", &def.name, &done.update, &done.goto)
                {
                    let writes: Vec<(String, Bytes)> = writes.writes;
                    cache.set(key, writes, policy.ttl).await;
                }
                return TaskOutcome::Done(done);
            }
            Err(error) => error,
        };
        if let Some(policy) = &def.options.retry
            && policy.should_retry(attempt, &error)
        {
            let delay = policy.delay(attempt);
            tracing::debug!(node = %def.name, attempt, ?delay, error = %error, "retrying node");
            tokio::time::sleep(delay).await;
            attempt += 1;
            continue;
        }
        let failure = |error: NodeError, attempts: u32| NodeFailure {
            node: def.name.to_string(),
            step: seed.identity.step,
            thread_id: seed.scope.thread(),
            attempts,
            error,
        };
        if let Some(handler) = &def.options.error_handler {
            let state = match (&input, &seed.snapshot) {
                (NodeInput::State(state), _) => Arc::clone(state),
                (NodeInput::Packet(_), Some(snapshot)) => Arc::clone(snapshot),
                (NodeInput::Packet(_), None) => Arc::new(S::default()),
            };
            let handler = Arc::clone(handler);
            let original = error.to_string();
            return match guarded(async move { handler(state, error).await }, "the error handler").await {
                Ok(command) => TaskOutcome::Done(Done::from_command(command, true)),
                Err(handler_error) => TaskOutcome::Failed(failure(
                    NodeError::msg(format!(
                        "its error handler failed: {handler_error} (handling: {original})"
                    )),
                    attempt,
                )),
            };
        }
        return TaskOutcome::Failed(failure(error, attempt));
    }
}
