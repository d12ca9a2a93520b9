//! Shared fixtures: the `Log` state of the LangGraph scenarios and a trace recorder.

use std::sync::{Arc, Mutex};

use lemmings_graph::{Ctx, NodeError, State};
use serde::{Deserialize, Serialize};

/// LangGraph's `log: Annotated[list, add]` plus a last-value `x`.
#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Log {
    #[reducer(append)]
    pub log: Vec<String>,
    pub x: i64,
}

pub(crate) fn log(items: &[&str]) -> LogUpdate {
    LogUpdate::default().log(items.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

/// Records which node ran at which step: `step 1: [a]`.
#[derive(Clone, Default)]
pub(crate) struct Trace(Arc<Mutex<Vec<(i64, String)>>>);

impl Trace {
    pub(crate) fn record(&self, ctx: &Ctx) {
        self.0.lock().unwrap().push((ctx.step(), ctx.node().to_owned()));
    }

    /// The node supersteps as `[a],[b,c]`.
    pub(crate) fn steps(&self) -> String {
        let mut entries = self.0.lock().unwrap().clone();
        entries.sort();
        let mut out: Vec<String> = Vec::new();
        let mut current: Option<i64> = None;
        let mut names: Vec<String> = Vec::new();
        for (step, name) in entries {
            if current != Some(step) {
                if current.is_some() {
                    out.push(format!("[{}]", names.join(",")));
                }
                names.clear();
                current = Some(step);
            }
            names.push(name);
        }
        if current.is_some() {
            out.push(format!("[{}]", names.join(",")));
        }
        out.join(",")
    }

    pub(crate) fn count(&self, node: &str) -> usize {
        self.0.lock().unwrap().iter().filter(|(_, n)| n == node).count()
    }
}

/// A node that appends its own name and records itself.
pub(crate) fn logger(
    trace: &Trace,
) -> impl Fn(Arc<Log>, Ctx) -> std::future::Ready<Result<LogUpdate, NodeError>> + Send + Sync + 'static {
    let trace = trace.clone();
    move |_state, ctx| {
        trace.record(&ctx);
        std::future::ready(Ok(log(&[ctx.node()])))
    }
}

/// An [`InMemorySaver`](lemmings_graph::InMemorySaver) that counts what it is asked to save:
/// checkpoints, and write rows (one per `(task, channel)` pair, as a SQL store would hold them).
#[derive(Debug, Default)]
pub(crate) struct CountingSaver {
    inner: lemmings_graph::InMemorySaver,
    checkpoints: std::sync::atomic::AtomicUsize,
    write_rows: std::sync::atomic::AtomicUsize,
}

impl CountingSaver {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(CountingSaver::default())
    }

    /// `(checkpoints, write rows)` saved so far.
    pub(crate) fn counts(&self) -> (usize, usize) {
        use std::sync::atomic::Ordering::SeqCst;
        (self.checkpoints.load(SeqCst), self.write_rows.load(SeqCst))
    }
}

#[async_trait::async_trait]
impl lemmings_graph::Checkpointer for CountingSaver {
    async fn get(
        &self,
        thread_id: &str,
        ns: &str,
        id: Option<lemmings_graph::CheckpointId>,
    ) -> Result<Option<lemmings_graph::CheckpointTuple>, lemmings_graph::CheckpointError> {
        self.inner.get(thread_id, ns, id).await
    }

    async fn put(
        &self,
        put: lemmings_graph::CheckpointPut,
        parent_writes: Vec<lemmings_graph::TaskWrites>,
    ) -> Result<(), lemmings_graph::CheckpointError> {
        use std::sync::atomic::Ordering::SeqCst;
        self.checkpoints.fetch_add(1, SeqCst);
        self.write_rows
            .fetch_add(parent_writes.iter().map(|w| w.writes.len()).sum(), SeqCst);
        self.inner.put(put, parent_writes).await
    }

    async fn put_writes(
        &self,
        thread_id: &str,
        ns: &str,
        checkpoint_id: lemmings_graph::CheckpointId,
        writes: Vec<lemmings_graph::TaskWrites>,
    ) -> Result<(), lemmings_graph::CheckpointError> {
        use std::sync::atomic::Ordering::SeqCst;
        self.write_rows
            .fetch_add(writes.iter().map(|w| w.writes.len()).sum(), SeqCst);
        self.inner.put_writes(thread_id, ns, checkpoint_id, writes).await
    }

    async fn list(
        &self,
        thread_id: &str,
        ns: &str,
        options: &lemmings_graph::ListOptions,
    ) -> Result<Vec<lemmings_graph::CheckpointTuple>, lemmings_graph::CheckpointError> {
        self.inner.list(thread_id, ns, options).await
    }

    async fn delete_thread(&self, thread_id: &str) -> Result<(), lemmings_graph::CheckpointError> {
        self.inner.delete_thread(thread_id).await
    }
}
