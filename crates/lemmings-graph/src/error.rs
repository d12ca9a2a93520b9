//! Errors: what a node returns ([`NodeError`]) and what a run returns ([`GraphError`]).
//!
//! Every error says whether retrying can help ([`GraphError::is_retryable`]) and names the
//! thread, node, step or channel involved.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::checkpoint::{CheckpointError, CheckpointId};
use crate::state::ApplyError;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// How a [`NodeError`] was classified by the node that raised it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeErrorKind {
    /// Retrying may succeed (a dropped connection, an overloaded server).
    Retryable,
    /// Retrying will not help (bad input, a bug, a refused request).
    Terminal,
    /// Not classified: retried only when the cause is a transient I/O error (see
    /// [`NodeError::is_retryable`]).
    Unclassified,
    /// The node ran past its timeout; retryable.
    Timeout,
    /// The node called [`Ctx::interrupt`](crate::Ctx::interrupt) and is waiting for an answer.
    Interrupted,
}

/// An error returned by a node. Any `std::error::Error` converts into it with `?`.
///
/// Like `anyhow::Error`, it deliberately does not implement `std::error::Error` itself, so that
/// the blanket `From` works; use [`NodeError::source_error`] to reach the cause.
pub struct NodeError {
    kind: NodeErrorKind,
    error: BoxError,
}

#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

impl NodeError {
    /// An error worth retrying.
    pub fn retryable(error: impl Into<BoxError>) -> Self {
        NodeError {
            kind: NodeErrorKind::Retryable,
            error: error.into(),
        }
    }

    /// An error not worth retrying.
    pub fn terminal(error: impl Into<BoxError>) -> Self {
        NodeError {
            kind: NodeErrorKind::Terminal,
            error: error.into(),
        }
    }

    /// A terminal error with a message.
    pub fn msg(message: impl Into<String>) -> Self {
        NodeError::terminal(Message(message.into()))
    }

    /// An unclassified error from a boxed error (e.g. `anyhow::Error::into()`).
    pub fn from_boxed(error: BoxError) -> Self {
        NodeError {
            kind: NodeErrorKind::Unclassified,
            error,
        }
    }

    pub(crate) fn timeout(limit: Duration) -> Self {
        NodeError {
            kind: NodeErrorKind::Timeout,
            error: Box::new(Message(format!("timed out after {limit:?}"))),
        }
    }

    pub(crate) fn interrupted() -> Self {
        NodeError {
            kind: NodeErrorKind::Interrupted,
            error: Box::new(Message("interrupted".into())),
        }
    }

    /// The classification.
    pub fn kind(&self) -> NodeErrorKind {
        self.kind
    }

    /// Whether the default retry predicate retries it: retryable errors and timeouts always;
    /// unclassified errors when their cause chain holds a transient I/O error (connection
    /// refused, reset or aborted, broken pipe, timed out, interrupted, unexpected EOF).
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            NodeErrorKind::Retryable | NodeErrorKind::Timeout => true,
            NodeErrorKind::Terminal | NodeErrorKind::Interrupted => false,
            NodeErrorKind::Unclassified => {
                let mut cause: Option<&(dyn StdError + 'static)> = Some(self.error.as_ref());
                while let Some(error) = cause {
                    if let Some(io) = error.downcast_ref::<std::io::Error>() {
                        use std::io::ErrorKind::*;
                        return matches!(
                            io.kind(),
                            ConnectionRefused
                                | ConnectionReset
                                | ConnectionAborted
                                | NotConnected
                                | BrokenPipe
                                | TimedOut
                                | Interrupted
                                | UnexpectedEof
                        );
                    }
                    cause = error.source();
                }
                false
            }
        }
    }

    /// Whether this is the marker of an interrupt rather than a failure.
    pub fn is_interrupt(&self) -> bool {
        self.kind == NodeErrorKind::Interrupted
    }

    /// The underlying error.
    pub fn source_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self.error.as_ref()
    }

    /// The underlying error as `T`, if it is one.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.error.downcast_ref::<T>()
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for NodeError {
    fn from(error: E) -> Self {
        NodeError {
            kind: NodeErrorKind::Unclassified,
            error: Box::new(error),
        }
    }
}

impl fmt::Debug for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeError")
            .field("kind", &self.kind)
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

/// A node failed for good: after its retries, with no error handler.
#[derive(Debug)]
pub struct NodeFailure {
    /// The node.
    pub node: String,
    /// The superstep.
    pub step: i64,
    /// The thread, when the run has one.
    pub thread_id: Option<String>,
    /// How many attempts were made.
    pub attempts: u32,
    /// The last attempt's error.
    pub error: NodeError,
}

impl fmt::Display for NodeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node `{}` failed at step {}", self.node, self.step)?;
        if let Some(thread) = &self.thread_id {
            write!(f, " of thread {thread}")?;
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        write!(f, ": {}", self.error)
    }
}

impl StdError for NodeFailure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.error.source_error())
    }
}

/// What a caller can branch on without matching messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The run hit its recursion limit.
    Recursion,
    /// Writes of one superstep could not be applied.
    InvalidUpdate,
    /// A node failed.
    Node,
    /// The checkpointer failed.
    Checkpointer,
    /// The run was cancelled.
    Cancelled,
    /// The call was not valid for this graph, thread or configuration.
    Usage,
    /// Stored data could not be decoded.
    Corrupt,
}

/// An error that ended a run or a state API call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// The run needed more supersteps than its recursion limit.
    #[error(
        "recursion limit of {limit} reached at step {step}{} without hitting a stop condition; \
         raise RunConfig::recursion_limit or check the graph's loop exits",
        thread_suffix(.thread_id)
    )]
    Recursion {
        /// The limit.
        limit: u32,
        /// The step that would have run.
        step: i64,
        /// The thread.
        thread_id: Option<String>,
    },
    /// A superstep's writes were invalid (e.g. two writers of a last-value channel).
    #[error("invalid update at step {step}{}: {source}", thread_suffix(.thread_id))]
    InvalidUpdate {
        /// The step.
        step: i64,
        /// The thread.
        thread_id: Option<String>,
        /// What was wrong.
        source: ApplyError,
    },
    /// A node failed.
    #[error(transparent)]
    Node(Box<NodeFailure>),
    /// The checkpointer failed.
    #[error("checkpointer failed{}: {source}", thread_suffix(.thread_id))]
    Checkpointer {
        /// The thread.
        thread_id: Option<String>,
        /// The store's error.
        source: CheckpointError,
    },
    /// The run was cancelled; the last saved checkpoint is intact.
    #[error("run cancelled at step {step}{}; {hint}", thread_suffix(.thread_id))]
    Cancelled {
        /// The step in flight.
        step: i64,
        /// The thread.
        thread_id: Option<String>,
        /// How to continue.
        hint: &'static str,
    },
    /// The call is not valid here: a message says why and what to do.
    #[error("{0}")]
    Usage(String),
    /// A node or router sent control somewhere invalid.
    #[error("routing from `{node}` at step {step}: {message}")]
    Routing {
        /// The node whose edge or command routed.
        node: String,
        /// The step.
        step: i64,
        /// What was wrong.
        message: String,
    },
    /// Stored data (a checkpoint, a pending write, a packet) could not be decoded.
    #[error("cannot decode {what}{}: {message}", thread_suffix(.thread_id))]
    Corrupt {
        /// What was being decoded.
        what: String,
        /// The thread.
        thread_id: Option<String>,
        /// Why.
        message: String,
    },
    /// A checkpoint id that the thread does not have.
    #[error("thread {thread_id} has no checkpoint {checkpoint_id}{}", ns_suffix(.ns))]
    CheckpointNotFound {
        /// The thread.
        thread_id: String,
        /// The namespace.
        ns: String,
        /// The id asked for.
        checkpoint_id: CheckpointId,
    },
}

fn thread_suffix(thread: &Option<String>) -> String {
    thread.as_ref().map(|t| format!(" of thread {t}")).unwrap_or_default()
}

fn ns_suffix(ns: &str) -> String {
    if ns.is_empty() {
        String::new()
    } else {
        format!(" in namespace {ns}")
    }
}

impl GraphError {
    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            GraphError::Recursion { .. } => ErrorKind::Recursion,
            GraphError::InvalidUpdate { .. } => ErrorKind::InvalidUpdate,
            GraphError::Node(_) => ErrorKind::Node,
            GraphError::Checkpointer { .. } => ErrorKind::Checkpointer,
            GraphError::Cancelled { .. } => ErrorKind::Cancelled,
            GraphError::Usage(_) | GraphError::Routing { .. } | GraphError::CheckpointNotFound { .. } => {
                ErrorKind::Usage
            }
            GraphError::Corrupt { .. } => ErrorKind::Corrupt,
        }
    }

    /// Whether resuming the thread later may succeed without changing anything: a retryable
    /// node error or a transient store error.
    pub fn is_retryable(&self) -> bool {
        match self {
            GraphError::Node(failure) => failure.error.is_retryable(),
            GraphError::Checkpointer { source, .. } => source.is_retryable(),
            _ => false,
        }
    }

    /// The node failure, if a node failed.
    pub fn node_failure(&self) -> Option<&NodeFailure> {
        match self {
            GraphError::Node(failure) => Some(failure),
            _ => None,
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        GraphError::Usage(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unclassified_io_errors_retry_only_when_transient() {
        let refused = NodeError::from(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "no"));
        assert!(refused.is_retryable());
        let missing = NodeError::from(std::io::Error::new(std::io::ErrorKind::NotFound, "no"));
        assert!(!missing.is_retryable());
        assert!(!NodeError::msg("bad").is_retryable());
        assert!(NodeError::retryable(Message("busy".into())).is_retryable());
        assert!(NodeError::timeout(Duration::from_secs(1)).is_retryable());
    }

    #[test]
    fn messages_name_thread_and_step() {
        let err = GraphError::Recursion {
            limit: 4,
            step: 5,
            thread_id: Some("t1".into()),
        };
        assert_eq!(
            err.to_string(),
            "recursion limit of 4 reached at step 5 of thread t1 without hitting a stop condition; \
             raise RunConfig::recursion_limit or check the graph's loop exits"
        );
        let failure = GraphError::Node(Box::new(NodeFailure {
            node: "b".into(),
            step: 2,
            thread_id: None,
            attempts: 3,
            error: NodeError::msg("boom"),
        }));
        assert_eq!(failure.to_string(), "node `b` failed at step 2 after 3 attempts: boom");
        assert_eq!(failure.kind(), ErrorKind::Node);
    }
}
