//! Per-run configuration: thread, checkpoint, limits, durability, breakpoints, cancellation.

use std::fmt;

use tokio_util::sync::CancellationToken;

use crate::checkpoint::CheckpointId;

/// The default recursion limit: high enough for long agent runs, low enough to stop a runaway
/// loop. (LangGraph 1.2 uses 10,007; its older default of 25 is the source of many bug reports.)
pub const DEFAULT_RECURSION_LIMIT: u32 = 10_000;

/// When checkpoints are saved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Each superstep's checkpoint is saved before the next superstep starts. The default: with
    /// one commit per superstep it costs one fsync per step, which is noise next to a model call.
    #[default]
    Sync,
    /// Checkpoints are saved in the background, in order, while the next superstep runs; the run
    /// waits for them before returning. A crash can lose the last few supersteps.
    Async,
    /// Nothing is saved until the run stops (done, failed, interrupted or cancelled); then one
    /// checkpoint and its pending writes are saved.
    Exit,
}

/// What happens to background tasks still running when the main path has nothing left to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BackgroundPolicy {
    /// Wait for them; their writes may trigger more work.
    #[default]
    Wait,
    /// Cancel them; the checkpoint keeps them, so a resume restarts them.
    Cancel,
}

/// The configuration of one run or state API call.
#[derive(Clone)]
pub struct RunConfig {
    /// The thread; required when the graph has a checkpointer.
    pub thread_id: Option<String>,
    /// A checkpoint to start from (replay or fork) instead of the thread's latest.
    pub checkpoint_id: Option<CheckpointId>,
    /// The most supersteps one run may take (the input superstep counts).
    pub recursion_limit: u32,
    /// When checkpoints are saved.
    pub durability: Durability,
    /// Pause before these nodes (in addition to the compiled ones); `"*"` means every node.
    pub interrupt_before: Vec<String>,
    /// Pause after these nodes (in addition to the compiled ones); `"*"` means every node.
    pub interrupt_after: Vec<String>,
    /// Scalar metadata copied into every checkpoint of the run.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Cancels the run when triggered. A cancelled token stays cancelled: continue the thread
    /// with a config holding a fresh token (`RunConfig { cancel: CancellationToken::new(), ..}`
    /// or a new `RunConfig`).
    pub cancel: CancellationToken,
    /// What to do with background tasks when the main path is done.
    pub background: BackgroundPolicy,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            thread_id: None,
            checkpoint_id: None,
            recursion_limit: DEFAULT_RECURSION_LIMIT,
            durability: Durability::default(),
            interrupt_before: Vec::new(),
            interrupt_after: Vec::new(),
            metadata: serde_json::Map::new(),
            cancel: CancellationToken::new(),
            background: BackgroundPolicy::default(),
        }
    }
}

impl RunConfig {
    /// A configuration for a thread.
    pub fn thread(thread_id: impl Into<String>) -> Self {
        RunConfig {
            thread_id: Some(thread_id.into()),
            ..RunConfig::default()
        }
    }

    /// Starts from (or inspects) a given checkpoint.
    pub fn at(mut self, checkpoint_id: CheckpointId) -> Self {
        self.checkpoint_id = Some(checkpoint_id);
        self
    }

    /// Sets the recursion limit.
    pub fn recursion_limit(mut self, limit: u32) -> Self {
        self.recursion_limit = limit;
        self
    }

    /// Sets the durability mode.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Adds breakpoints before nodes.
    pub fn interrupt_before<T: Into<String>>(mut self, nodes: impl IntoIterator<Item = T>) -> Self {
        self.interrupt_before.extend(nodes.into_iter().map(Into::into));
        self
    }

    /// Adds breakpoints after nodes.
    pub fn interrupt_after<T: Into<String>>(mut self, nodes: impl IntoIterator<Item = T>) -> Self {
        self.interrupt_after.extend(nodes.into_iter().map(Into::into));
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Uses a cancellation token.
    pub fn cancel_token(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Sets the background policy.
    pub fn background(mut self, policy: BackgroundPolicy) -> Self {
        self.background = policy;
        self
    }
}

impl fmt::Debug for RunConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunConfig")
            .field("thread_id", &self.thread_id)
            .field("checkpoint_id", &self.checkpoint_id)
            .field("recursion_limit", &self.recursion_limit)
            .field("durability", &self.durability)
            .field("interrupt_before", &self.interrupt_before)
            .field("interrupt_after", &self.interrupt_after)
            .field("metadata", &self.metadata)
            .field("cancelled", &self.cancel.is_cancelled())
            .field("background", &self.background)
            .finish()
    }
}
