//! The SQLite store of a checkpointed variant: a fresh file per variant ([`Db`]), the
//! [`Checkpointer`] calls it received (counted by [`Counted`], since pending writes are deleted
//! once superseded and the tables alone cannot tell how many were committed), and the fields a
//! row reports when it closes: row counts, bytes, settings and the file size.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use lemmings_graph::{
    CheckpointError, CheckpointId, CheckpointPut, CheckpointTuple, Checkpointer, EffectRecord, Lease, ListOptions,
    PruneReport, Retention, TaskWrites, ThreadSummary,
};
use lemmings_store::{SqliteOptions, SqliteStore};

use crate::Fallible;
use crate::row::{Row, round};

/// What the store's rows mean, for every checkpointed row (SCENARIOS.md §2 asks a delta store to
/// say so).
pub(crate) const STORAGE_NOTE: &str = "lemmings-store SQLite: WAL, synchronous=FULL (2, the default), one commit \
     per write transaction; checkpoints store deltas, not full state: per channel only what the superstep wrote \
     (appends as deltas, a chain cut by a full value at 4x the last full value or 1024 links), plus a small \
     control document; the last task of a superstep has its writes committed with the checkpoint (one commit), \
     other tasks' writes are committed as they finish, batched by the ordered writer when several are queued; a \
     committed checkpoint deletes its parent's pending writes, so write_rows (rows left) is 0 for a finished \
     thread and write_rows_saved counts the rows committed during the runs; trigger channels are not stored; \
     every run also commits a lease acquisition and release";

/// One [`Checkpointer`] call counter per method the runs use.
#[derive(Debug, Default)]
struct Calls {
    get: AtomicU64,
    put: AtomicU64,
    put_writes: AtomicU64,
    write_rows: AtomicU64,
    list: AtomicU64,
    acquire_lease: AtomicU64,
    release_lease: AtomicU64,
    other: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// A [`SqliteStore`] that counts the calls it receives (a relaxed atomic add per call: noise
/// next to a commit) and forwards them unchanged.
#[derive(Debug)]
pub(crate) struct Counted {
    store: SqliteStore,
    calls: Calls,
}

#[async_trait]
impl Checkpointer for Counted {
    async fn get(
        &self,
        thread_id: &str,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        bump(&self.calls.get, 1);
        self.store.get(thread_id, ns, id).await
    }

    async fn put(&self, put: CheckpointPut, parent_writes: Vec<TaskWrites>) -> Result<(), CheckpointError> {
        bump(&self.calls.put, 1);
        self.store.put(put, parent_writes).await
    }

    async fn put_many(&self, puts: Vec<(CheckpointPut, Vec<TaskWrites>)>) -> Result<(), CheckpointError> {
        // One call, one transaction: counted as one put (the checkpoints are in `checkpoint_rows`).
        bump(&self.calls.put, 1);
        self.store.put_many(puts).await
    }

    async fn put_writes(
        &self,
        thread_id: &str,
        ns: &str,
        checkpoint_id: CheckpointId,
        writes: Vec<TaskWrites>,
    ) -> Result<(), CheckpointError> {
        if !writes.is_empty() {
            bump(&self.calls.put_writes, 1);
            bump(
                &self.calls.write_rows,
                writes.iter().map(|w| w.writes.len() as u64).sum(),
            );
        }
        self.store.put_writes(thread_id, ns, checkpoint_id, writes).await
    }

    async fn list(
        &self,
        thread_id: &str,
        ns: &str,
        options: &ListOptions,
    ) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        bump(&self.calls.list, 1);
        self.store.list(thread_id, ns, options).await
    }

    async fn delete_thread(&self, thread_id: &str) -> Result<(), CheckpointError> {
        bump(&self.calls.other, 1);
        self.store.delete_thread(thread_id).await
    }

    async fn acquire_lease(&self, thread_id: &str) -> Result<Option<Lease>, CheckpointError> {
        bump(&self.calls.acquire_lease, 1);
        self.store.acquire_lease(thread_id).await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), CheckpointError> {
        bump(&self.calls.release_lease, 1);
        self.store.release_lease(lease).await
    }

    async fn effect(&self, thread_id: &str, key: &str) -> Result<Option<EffectRecord>, CheckpointError> {
        bump(&self.calls.other, 1);
        self.store.effect(thread_id, key).await
    }

    async fn record_intent(&self, thread_id: &str, key: &str, description: &str) -> Result<(), CheckpointError> {
        bump(&self.calls.other, 1);
        self.store.record_intent(thread_id, key, description).await
    }

    async fn prune(&self, thread_id: &str, retention: &Retention) -> Result<PruneReport, CheckpointError> {
        bump(&self.calls.other, 1);
        self.store.prune(thread_id, retention).await
    }

    async fn list_threads(&self) -> Result<Vec<ThreadSummary>, CheckpointError> {
        bump(&self.calls.other, 1);
        self.store.list_threads().await
    }
}

/// A fresh SQLite store in a variant's temporary directory.
#[derive(Debug)]
pub(crate) struct Db {
    path: PathBuf,
    counted: Arc<Counted>,
}

impl Db {
    /// Creates `dir/name` (which must not exist) with the store's default options; the schema is
    /// created here, outside any timed region.
    pub(crate) async fn open(dir: &Path, name: &str) -> Fallible<Db> {
        let path = dir.join(name);
        if path.exists() {
            return Err(format!("{} exists; every variant needs a fresh database", path.display()).into());
        }
        let store = SqliteStore::open(&path, SqliteOptions::create()).await?;
        Ok(Db {
            path,
            counted: Arc::new(Counted {
                store,
                calls: Calls::default(),
            }),
        })
    }

    /// The checkpointer to compile graphs with.
    pub(crate) fn checkpointer(&self) -> Arc<dyn Checkpointer> {
        self.counted.clone()
    }

    /// Reads the counts and settings, closes the store (folding the WAL into the main file) and
    /// returns the row's store fields: `bench.py`'s first, then Lemmings' own.
    pub(crate) async fn close(self) -> Fallible<Row> {
        let store = &self.counted.store;
        let counts = store.row_counts().await?;
        let settings = store.settings().await?;
        store.close().await;
        let calls = &self.counted.calls;
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let commits =
            load(&calls.put) + load(&calls.put_writes) + load(&calls.acquire_lease) + load(&calls.release_lease);
        let size = ["", "-wal", "-shm"]
            .iter()
            .map(|suffix| {
                let mut name = self.path.clone().into_os_string();
                name.push(suffix);
                std::fs::metadata(PathBuf::from(name)).map_or(0, |m| m.len())
            })
            .sum::<u64>();
        Ok(Row::new()
            .with("checkpoint_rows", counts.checkpoints)
            .with(
                "checkpoint_blob_bytes_total",
                counts.checkpoint_bytes + counts.blob_bytes,
            )
            .with("checkpoint_blob_bytes_max", counts.largest_checkpoint_bytes)
            .with("write_rows", counts.writes)
            .with("write_blob_bytes_total", counts.write_bytes)
            .with("db_mib", round(size as f64 / 1_048_576.0, 3))
            .with("checkpoint_storage", "delta")
            .with("blob_rows", counts.blobs)
            .with("full_blob_rows", counts.full_blobs)
            .with("blob_bytes_total", counts.blob_bytes)
            .with("write_rows_saved", load(&calls.write_rows))
            .with("store_commits", commits)
            .with(
                "store_calls",
                Row::new()
                    .with("put", load(&calls.put))
                    .with("put_writes", load(&calls.put_writes))
                    .with("acquire_lease", load(&calls.acquire_lease))
                    .with("release_lease", load(&calls.release_lease))
                    .with("get", load(&calls.get))
                    .with("list", load(&calls.list))
                    .with("other", load(&calls.other)),
            )
            .with("sqlite_journal_mode", settings.journal_mode)
            .with("sqlite_synchronous", settings.synchronous)
            .with("sqlite_version", settings.version))
    }
}
