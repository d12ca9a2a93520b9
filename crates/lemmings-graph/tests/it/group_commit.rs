//! Group commit: with `async` durability, the checkpoints that queue up behind a slow save are
//! handed to the store together (`Checkpointer::put_many`), and the thread's history is the same
//! as one saved checkpoint by checkpoint.

use std::sync::{Arc, Mutex};

use lemmings_graph::{
    CheckpointError, CheckpointId, CheckpointPut, CheckpointTuple, Checkpointer, Ctx, Durability, END, InMemorySaver,
    ListOptions, NodeError, RunConfig, START, StateGraph, TaskWrites,
};
use tokio::sync::Notify;

use crate::common::{Log, LogUpdate};

/// An in-memory saver whose first save waits for `release`, recording the size of every save
/// call (1 for `put`, n for `put_many`).
#[derive(Debug, Default)]
struct SlowSaver {
    inner: InMemorySaver,
    release: Notify,
    held: Mutex<bool>,
    calls: Mutex<Vec<usize>>,
}

impl SlowSaver {
    /// The first save, whichever method makes it, waits for `release`.
    async fn hold_first(&self) {
        let first = !std::mem::replace(&mut *self.held.lock().unwrap(), true);
        if first {
            self.release.notified().await;
        }
    }
}

#[async_trait::async_trait]
impl Checkpointer for SlowSaver {
    async fn get(
        &self,
        thread_id: &str,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        self.inner.get(thread_id, ns, id).await
    }

    async fn put(&self, put: CheckpointPut, parent_writes: Vec<TaskWrites>) -> Result<(), CheckpointError> {
        self.hold_first().await;
        self.calls.lock().unwrap().push(1);
        self.inner.put(put, parent_writes).await
    }

    async fn put_many(&self, puts: Vec<(CheckpointPut, Vec<TaskWrites>)>) -> Result<(), CheckpointError> {
        self.hold_first().await;
        self.calls.lock().unwrap().push(puts.len());
        for (put, parent_writes) in puts {
            self.inner.put(put, parent_writes).await?;
        }
        Ok(())
    }

    async fn put_writes(
        &self,
        thread_id: &str,
        ns: &str,
        checkpoint_id: CheckpointId,
        writes: Vec<TaskWrites>,
    ) -> Result<(), CheckpointError> {
        self.inner.put_writes(thread_id, ns, checkpoint_id, writes).await
    }

    async fn list(
        &self,
        thread_id: &str,
        ns: &str,
        options: &ListOptions,
    ) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        self.inner.list(thread_id, ns, options).await
    }

    async fn delete_thread(&self, thread_id: &str) -> Result<(), CheckpointError> {
        self.inner.delete_thread(thread_id).await
    }
}

#[tokio::test]
async fn checkpoints_queued_behind_a_slow_save_are_saved_together() {
    let saver = Arc::new(SlowSaver::default());
    let last_ran = Arc::new(Notify::new());
    let mut graph = StateGraph::<Log>::new();
    for k in 1..=10 {
        let last_ran = last_ran.clone();
        graph.add_node(format!("n{k}"), move |state: Arc<Log>, _ctx: Ctx| {
            let last_ran = last_ran.clone();
            async move {
                if k == 10 {
                    last_ran.notify_one();
                }
                Ok::<_, NodeError>(LogUpdate::default().x(state.x + 1))
            }
        });
    }
    graph.add_edge(START, "n1");
    for k in 1..10 {
        graph.add_edge(format!("n{k}"), format!("n{}", k + 1));
    }
    graph.add_edge("n10", END);
    let graph = graph.compile().expect("compiles").with_checkpointer(saver.clone());
    let mut config = RunConfig::thread("t");
    config.durability = Durability::Async;
    let run = tokio::spawn({
        let (graph, config) = (graph.clone(), config.clone());
        async move { graph.invoke(LogUpdate::default(), &config).await }
    });
    // The first save (the input's checkpoint) is held while the run goes on to its last node:
    // by then the checkpoints of the earlier supersteps are queued behind it.
    last_ran.notified().await;
    saver.release.notify_one();
    let out = run.await.expect("joins").expect("the run ends");
    assert_eq!(out.value.x, 10);

    let calls = saver.calls.lock().unwrap().clone();
    let saved: usize = calls.iter().sum();
    // The input's checkpoint, step 0's, and one per node.
    assert_eq!(saved, 12, "{calls:?}");
    assert!(
        calls.iter().any(|&n| n >= 9),
        "the queued checkpoints went in one call: {calls:?}"
    );
    // The history is whole and chained, as if saved one by one.
    let history = graph
        .get_state_history(&config, &ListOptions::default())
        .await
        .expect("history");
    assert_eq!(history.len(), 12);
    for pair in history.windows(2) {
        assert_eq!(pair[0].parent_id, pair[1].checkpoint_id);
    }
    assert_eq!(history[0].values.x, 10);
}

#[tokio::test]
async fn task_writes_between_queued_checkpoints_join_the_group() {
    // Two branches side by side: each superstep has two tasks, the first of which saves its
    // writes on its own (queued between the checkpoints), the second with the checkpoint.
    let saver = Arc::new(SlowSaver::default());
    let last_ran = Arc::new(Notify::new());
    let mut graph = StateGraph::<Log>::new();
    for branch in ["a", "b"] {
        for k in 1..=6 {
            let last_ran = last_ran.clone();
            let name = format!("{branch}{k}");
            graph.add_node(name.clone(), move |_state: Arc<Log>, _ctx: Ctx| {
                let (last_ran, name) = (last_ran.clone(), name.clone());
                async move {
                    if name == "a6" {
                        last_ran.notify_one();
                    }
                    Ok::<_, NodeError>(LogUpdate::default().log(vec![name]))
                }
            });
        }
        graph.add_edge(START, format!("{branch}1"));
        for k in 1..6 {
            graph.add_edge(format!("{branch}{k}"), format!("{branch}{}", k + 1));
        }
        graph.add_edge(format!("{branch}6"), END);
    }
    let graph = graph.compile().expect("compiles").with_checkpointer(saver.clone());
    let mut config = RunConfig::thread("t");
    config.durability = Durability::Async;
    let run = tokio::spawn({
        let (graph, config) = (graph.clone(), config.clone());
        async move { graph.invoke(LogUpdate::default(), &config).await }
    });
    last_ran.notified().await;
    saver.release.notify_one();
    let out = run.await.expect("joins").expect("the run ends");
    assert_eq!(out.value.log.len(), 12);

    let calls = saver.calls.lock().unwrap().clone();
    // The input's checkpoint, step 0's, and one per superstep (6).
    assert_eq!(calls.iter().sum::<usize>(), 8, "{calls:?}");
    assert!(
        calls.iter().any(|&n| n >= 5),
        "the writes did not split the group: {calls:?}"
    );
    let history = graph
        .get_state_history(&config, &ListOptions::default())
        .await
        .expect("history");
    assert_eq!(history.len(), 8);
    assert_eq!(history[0].values.log.len(), 12, "every task's writes were saved");
    // Each superstep's checkpoint holds both branches' writes.
    for snapshot in &history[..6] {
        assert_eq!(snapshot.values.log.len() % 2, 0, "{:?}", snapshot.values.log);
    }
}
