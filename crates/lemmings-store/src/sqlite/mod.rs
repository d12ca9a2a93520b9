//! [`SqliteStore`]: the embedded checkpointer. One file in WAL mode; every write transaction is
//! `BEGIN IMMEDIATE` (so concurrent writers wait on the busy timeout instead of failing) and is
//! fenced by the thread's lease.

mod batch;
pub mod calibrate;
mod open;
mod read;
mod stats;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use lemmings_graph::{
    ChannelData, CheckpointError, CheckpointId, CheckpointPut, CheckpointTuple, Checkpointer, EffectRecord, Lease,
    ListOptions, PruneReport, Retention, TaskWrites, ThreadSummary, Timestamp,
};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Connection, Row};

pub use open::{SqliteOptions, Synchronous};
pub use stats::{RowCounts, SqliteSettings};

use batch::{Arg, Batch, FENCE_LOST, PARENT_MISSING};

use crate::error::{Location, StoreError};
use crate::holder::{Holder, LeaseRow, fenced};
use crate::rows::{
    channels_json, check_parent_writes, doomed, effect_record, metadata_json, millis, thread_summary, unsaved,
};

/// A checkpointer on a SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlitePool,
    location: Location,
    options: SqliteOptions,
    holder: Holder,
    /// Leases this store holds: thread → epoch. Its writes to these threads are fenced.
    leases: Mutex<HashMap<String, u64>>,
    /// When this store last wrote each held lease's heartbeat.
    heartbeats: Mutex<HashMap<String, Timestamp>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.inner.location.0)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the database at `path` with `options` (see [`SqliteOptions`]; by default the file
    /// must exist).
    pub async fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let (pool, location) = open::open_pool(path.as_ref(), &options).await?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                pool,
                location,
                options,
                holder: Holder::current(),
                leases: Mutex::default(),
                heartbeats: Mutex::default(),
            }),
        })
    }

    /// The database's path, for messages.
    pub fn location(&self) -> &str {
        &self.inner.location.0
    }

    /// Runs `PRAGMA quick_check` and returns its findings (`["ok"]` when sound).
    pub async fn quick_check(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("PRAGMA quick_check")
            .fetch_all(&self.inner.pool)
            .await
            .map_err(|e| self.map(e))?;
        Ok(rows.iter().filter_map(|r| r.try_get::<String, _>(0).ok()).collect())
    }

    /// Closes the pool (checkpointing the WAL into the main file).
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    fn map(&self, error: sqlx::Error) -> StoreError {
        open::map_error(error, &self.inner.location, self.inner.options.busy_timeout)
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        // IMMEDIATE takes the write lock now: a deferred transaction that reads then writes can
        // fail with SQLITE_BUSY without waiting on the busy timeout.
        self.inner
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.map(e))
    }

    async fn lease_row(&self, connection: &mut SqliteConnection, thread: &str) -> Result<Option<LeaseRow>, StoreError> {
        let row = sqlx::query(
            "SELECT epoch, holder, host, pid, started, heartbeat_at, released FROM leases WHERE thread_id = ?",
        )
        .bind(thread)
        .fetch_optional(&mut *connection)
        .await
        .map_err(|e| self.map(e))?;
        Ok(row.map(|r| LeaseRow {
            epoch: r.get::<i64, _>(0).try_into().unwrap_or(0),
            holder: r.get(1),
            host: r.get(2),
            pid: r.get::<i64, _>(3).try_into().unwrap_or(0),
            started: r.get(4),
            heartbeat_at: r.get::<i64, _>(5).try_into().unwrap_or(0),
            released: r.get::<i64, _>(6) != 0,
        }))
    }

    /// Inside a write transaction, for a thread this store does not hold: no live run holds it.
    async fn check_free(&self, connection: &mut SqliteConnection, thread: &str) -> Result<(), StoreError> {
        match self.lease_row(connection, thread).await? {
            Some(row) if row.is_live(&self.inner.holder, self.inner.options.lease_ttl, Timestamp::now()) => {
                Err(row.locked(thread))
            }
            _ => Ok(()),
        }
    }

    /// Whether a write to `thread` should refresh its lease's heartbeat: at most every eighth
    /// of `lease_ttl` (what another host waits for before taking a silent lease over), so most
    /// commits only check the fence and leave the lease's page alone.
    fn heartbeat_due(&self, thread: &str, now: Timestamp) -> bool {
        let every = u64::try_from(self.inner.options.lease_ttl.as_millis() / 8).unwrap_or(u64::MAX);
        let mut beats = self.inner.heartbeats.lock().unwrap_or_else(|p| p.into_inner());
        match beats.get(thread) {
            Some(last) if now.as_millis().saturating_sub(last.as_millis()) < every => false,
            _ => {
                beats.insert(thread.to_owned(), now);
                true
            }
        }
    }

    /// Adds the statements that save one checkpoint (see `put`) to `batch`; the thread and the
    /// parent, for messages.
    fn push_put(
        &self,
        batch: &mut Batch,
        put: CheckpointPut,
        parent_writes: &[TaskWrites],
    ) -> Result<(String, Option<String>), CheckpointError> {
        let CheckpointPut { checkpoint, blobs } = put;
        check_parent_writes(&checkpoint, parent_writes)?;
        let thread = checkpoint.thread_id.as_str();
        let ns = checkpoint.ns.as_str();
        let id = checkpoint.id.to_string();
        let channels = channels_json(&checkpoint.channels)?;
        let metadata = metadata_json(&checkpoint)?;
        batch.statement(
            "INSERT OR REPLACE INTO checkpoints
             (thread_id, ns, checkpoint_id, parent_id, step, source, created_at, metadata, channels, control)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                Arg::Text(thread.to_owned()),
                Arg::Text(ns.to_owned()),
                Arg::Text(id.clone()),
                checkpoint.parent_id.map_or(Arg::Null, |p| Arg::Text(p.to_string())),
                Arg::Int(checkpoint.step),
                Arg::Text(checkpoint.source.as_str().to_owned()),
                Arg::Int(millis(checkpoint.created_at)),
                Arg::Text(metadata),
                Arg::Text(channels),
                Arg::Blob(checkpoint.control.clone()),
            ],
        );
        let rows = blobs
            .iter()
            .map(|blob| {
                let (delta, data) = match &blob.data {
                    ChannelData::Full(data) => (0, data),
                    ChannelData::Delta(data) => (1, data),
                };
                let prev = match (delta, blob.prev) {
                    (1, Some(prev)) => Arg::Text(prev.to_string()),
                    _ => Arg::Null,
                };
                [
                    Arg::Text(thread.to_owned()),
                    Arg::Text(ns.to_owned()),
                    Arg::Text(id.clone()),
                    Arg::Text(blob.channel.clone()),
                    Arg::Int(delta),
                    prev,
                    Arg::Blob(data.clone()),
                ]
            })
            .collect();
        batch.rows(
            "INSERT OR REPLACE INTO blobs (thread_id, ns, checkpoint_id, channel, delta, prev, data)",
            "(?, ?, ?, ?, ?, ?, ?)",
            "",
            rows,
        );
        let parent = checkpoint.parent_id.map(|p| p.to_string());
        if let Some(parent) = &parent {
            if !parent_writes.is_empty() {
                // Writes for a parent that is not saved are refused, as in put_writes.
                batch.statement(
                    "INSERT INTO parent_guard (missing) SELECT NULL WHERE NOT EXISTS
                     (SELECT 1 FROM checkpoints WHERE thread_id = ? AND ns = ? AND checkpoint_id = ?)",
                    [
                        Arg::Text(thread.to_owned()),
                        Arg::Text(ns.to_owned()),
                        Arg::Text(parent.clone()),
                    ],
                );
            }
            // The new checkpoint supersedes the parent's pending writes; only the effects they
            // carry are kept, in the ledger.
            batch.statement(
                "DELETE FROM writes WHERE thread_id = ? AND ns = ? AND checkpoint_id = ?",
                [
                    Arg::Text(thread.to_owned()),
                    Arg::Text(ns.to_owned()),
                    Arg::Text(parent.clone()),
                ],
            );
            self.push_effects(batch, thread, parent_writes)?;
        }
        Ok((thread.to_owned(), parent))
    }

    fn leases(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.inner.leases.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The epoch of the thread's lease if this store holds it.
    fn held(&self, thread: &str) -> Option<u64> {
        self.leases().get(thread).copied()
    }

    /// Forgets the thread's lease if this store holds it at `epoch` (a stale lease value leaves
    /// the current one in place).
    fn forget(&self, thread: &str, epoch: u64) {
        let mut leases = self.leases();
        if leases.get(thread) == Some(&epoch) {
            leases.remove(thread);
            self.inner
                .heartbeats
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(thread);
        }
    }

    /// Adds tasks' writes to a batch (a state channel keeps its first value, a special one its
    /// last) and the effects they applied.
    fn push_writes(
        &self,
        batch: &mut Batch,
        thread: &str,
        ns: &str,
        checkpoint: &str,
        writes: &[TaskWrites],
    ) -> Result<(), StoreError> {
        let mut rows = Vec::new();
        for task in writes {
            let task_id = task.task_id.to_string();
            for (channel, value) in &task.writes {
                rows.push([
                    Arg::Text(thread.to_owned()),
                    Arg::Text(ns.to_owned()),
                    Arg::Text(checkpoint.to_owned()),
                    Arg::Text(task_id.clone()),
                    Arg::Text(task.task_path.clone()),
                    Arg::Text(task.node.clone()),
                    Arg::Text(channel.clone()),
                    Arg::Blob(value.clone()),
                ]);
            }
        }
        // One upsert in arrival order (rowids keep it): a state channel keeps its first value,
        // a special one (`__name__`, as `special::is_special`) takes the last.
        batch.rows(
            "INSERT INTO writes (thread_id, ns, checkpoint_id, task_id, task_path, node, channel, value)",
            "(?, ?, ?, ?, ?, ?, ?, ?)",
            "ON CONFLICT (thread_id, ns, checkpoint_id, task_id, channel) DO UPDATE SET value = CASE
                 WHEN substr(excluded.channel, 1, 2) = '__' AND substr(excluded.channel, -2) = '__' THEN excluded.value
                 ELSE writes.value END",
            rows,
        );
        self.push_effects(batch, thread, writes)
    }

    /// Adds the effects that tasks applied to the ledger, as applied.
    fn push_effects(&self, batch: &mut Batch, thread: &str, writes: &[TaskWrites]) -> Result<(), StoreError> {
        let now = millis(Timestamp::now());
        let mut effects = Vec::new();
        for task in writes {
            let applied = task.effects().map_err(|e| {
                StoreError::Invalid(format!("effects of task {} of thread {thread}: {e}", task.task_id))
            })?;
            for (key, result) in applied {
                let result = serde_json::to_vec(&result).unwrap_or_default();
                effects.push([
                    Arg::Text(thread.to_owned()),
                    Arg::Text(key),
                    Arg::Blob(result.into()),
                    Arg::Int(now),
                ]);
            }
        }
        batch.rows(
            "INSERT INTO effects (thread_id, key, applied, description, result, updated_at)",
            "(?, ?, 1, '', ?, ?)",
            "ON CONFLICT (thread_id, key) DO UPDATE SET applied = 1, result = excluded.result, updated_at = excluded.updated_at",
            effects,
        );
        Ok(())
    }

    /// Commits a write batch for `thread`. Holding the thread's lease, the fence and the
    /// statements go in one round trip; otherwise the thread is first checked to be free in the
    /// same transaction. `missing` names what a foreign-key failure means (writes for a
    /// checkpoint that is not saved).
    ///
    /// A caller dropped mid-write (a cancelled background branch) cannot leave a connection
    /// inside an open `BEGIN IMMEDIATE` holding the write lock: until the transaction has ended,
    /// the connection is marked to be closed (which rolls back) rather than returned to the pool.
    async fn write(&self, thread: &str, batch: Batch, missing: impl FnOnce() -> String) -> Result<(), StoreError> {
        match self.write_now(thread, batch).await {
            Ok(()) => Ok(()),
            Err(WriteFailure::Missing) => Err(StoreError::Invalid(missing())),
            Err(WriteFailure::Store(error)) => Err(error),
        }
    }

    async fn write_now(&self, thread: &str, batch: Batch) -> Result<(), WriteFailure> {
        let connection = self.inner.pool.acquire().await.map_err(|e| self.map(e))?;
        let mut connection = CloseUnlessDone {
            connection,
            done: false,
        };
        let result = match self.held(thread) {
            Some(epoch) => {
                let mut whole = Batch::new();
                let now = Timestamp::now();
                whole.fence(
                    thread,
                    i64::try_from(epoch).unwrap_or(i64::MAX),
                    millis(now),
                    self.heartbeat_due(thread, now),
                );
                whole.append(batch);
                whole.commit(&mut connection).await
            }
            None => {
                let mut tx = connection
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(|e| self.map(e))?;
                self.check_free(&mut tx, thread).await?;
                match batch.execute_in(&mut tx).await {
                    Ok(()) => tx.commit().await,
                    Err(error) => Err(error),
                }
            }
        };
        // The transaction has ended (committed, rolled back, or never begun).
        connection.done = true;
        match result {
            Ok(()) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.message().contains(FENCE_LOST) => {
                Err(fenced(thread, self.lease_row(&mut connection, thread).await?).into())
            }
            Err(sqlx::Error::Database(db))
                if db.is_foreign_key_violation() || db.message().contains(PARENT_MISSING) =>
            {
                Err(WriteFailure::Missing)
            }
            Err(error) => Err(self.map(error).into()),
        }
    }
}

/// A pooled connection that is closed (rolling back whatever it had open) instead of going
/// back to the pool if it is dropped before `done` is set: a write whose caller was dropped.
struct CloseUnlessDone {
    connection: sqlx::pool::PoolConnection<sqlx::Sqlite>,
    done: bool,
}

impl std::ops::Deref for CloseUnlessDone {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.connection
    }
}

impl std::ops::DerefMut for CloseUnlessDone {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.connection
    }
}

impl Drop for CloseUnlessDone {
    fn drop(&mut self) {
        if !self.done {
            self.connection.close_on_drop();
        }
    }
}

/// Why a write failed: a store error, or a reference to a checkpoint that is not saved (the
/// caller names what that means).
enum WriteFailure {
    Missing,
    Store(StoreError),
}

impl From<StoreError> for WriteFailure {
    fn from(error: StoreError) -> Self {
        WriteFailure::Store(error)
    }
}

#[async_trait]
impl Checkpointer for SqliteStore {
    async fn get(
        &self,
        thread_id: &str,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        let mut connection = self.inner.pool.acquire().await.map_err(|e| self.map(e))?;
        Ok(self.read_one(&mut connection, thread_id, ns, id).await?)
    }

    async fn put(&self, put: CheckpointPut, parent_writes: Vec<TaskWrites>) -> Result<(), CheckpointError> {
        self.put_many(vec![(put, parent_writes)]).await
    }

    async fn put_many(&self, puts: Vec<(CheckpointPut, Vec<TaskWrites>)>) -> Result<(), CheckpointError> {
        // One transaction, one fsync, however many checkpoints.
        let mut batch = Batch::new();
        let mut first: Option<(String, Option<String>)> = None;
        for (put, parent_writes) in puts {
            let saved = self.push_put(&mut batch, put, &parent_writes)?;
            first.get_or_insert(saved);
        }
        let Some((thread, parent)) = first else {
            return Ok(());
        };
        let missing = || unsaved(parent.as_deref().unwrap_or("(none)"), &thread);
        Ok(self.write(&thread, batch, missing).await?)
    }

    async fn put_writes(
        &self,
        thread_id: &str,
        ns: &str,
        checkpoint_id: CheckpointId,
        writes: Vec<TaskWrites>,
    ) -> Result<(), CheckpointError> {
        if writes.is_empty() {
            return Ok(());
        }
        let id = checkpoint_id.to_string();
        let mut batch = Batch::new();
        self.push_writes(&mut batch, thread_id, ns, &id, &writes)?;
        Ok(self.write(thread_id, batch, || unsaved(&id, thread_id)).await?)
    }

    async fn list(
        &self,
        thread_id: &str,
        ns: &str,
        options: &ListOptions,
    ) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        let mut connection = self.inner.pool.acquire().await.map_err(|e| self.map(e))?;
        Ok(self.read_list(&mut connection, thread_id, ns, options).await?)
    }

    async fn delete_thread(&self, thread_id: &str) -> Result<(), CheckpointError> {
        let held = self.held(thread_id);
        let mut batch = Batch::new();
        // The lease row stays (released), so a later lease of the thread gets a higher epoch and
        // a stale holder from before the deletion stays fenced out.
        for sql in [
            "UPDATE leases SET released = 1 WHERE thread_id = ?",
            "DELETE FROM writes WHERE thread_id = ?",
            "DELETE FROM blobs WHERE thread_id = ?",
            "DELETE FROM checkpoints WHERE thread_id = ?",
            "DELETE FROM effects WHERE thread_id = ?",
        ] {
            batch.statement(sql, [Arg::Text(thread_id.to_owned())]);
        }
        self.write(thread_id, batch, String::new).await?;
        if let Some(epoch) = held {
            self.forget(thread_id, epoch);
        }
        Ok(())
    }

    async fn acquire_lease(&self, thread_id: &str) -> Result<Option<Lease>, CheckpointError> {
        let mut tx = self.begin().await?;
        let now = Timestamp::now();
        let row = self.lease_row(&mut tx, thread_id).await?;
        if let Some(row) = &row
            && row.is_live(&self.inner.holder, self.inner.options.lease_ttl, now)
        {
            return Err(row.clone().locked(thread_id).into());
        }
        let epoch = row.map_or(0, |r| r.epoch) + 1;
        let holder = self.inner.holder.describe();
        sqlx::query(
            "INSERT OR REPLACE INTO leases (thread_id, epoch, holder, host, pid, started, acquired_at, heartbeat_at, released)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
        )
        .bind(thread_id)
        .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
        .bind(&holder)
        .bind(&self.inner.holder.host)
        .bind(i64::from(self.inner.holder.pid))
        .bind(self.inner.holder.started)
        .bind(millis(now))
        .bind(millis(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map(e))?;
        tx.commit().await.map_err(|e| self.map(e))?;
        self.leases().insert(thread_id.to_owned(), epoch);
        // Taking the lease wrote its heartbeat.
        self.inner
            .heartbeats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(thread_id.to_owned(), now);
        Ok(Some(Lease {
            thread_id: thread_id.to_owned(),
            epoch,
            holder,
        }))
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), CheckpointError> {
        self.forget(&lease.thread_id, lease.epoch);
        sqlx::query("UPDATE leases SET released = 1 WHERE thread_id = ? AND epoch = ?")
            .bind(&lease.thread_id)
            .bind(i64::try_from(lease.epoch).unwrap_or(i64::MAX))
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.map(e))?;
        Ok(())
    }

    async fn effect(&self, thread_id: &str, key: &str) -> Result<Option<EffectRecord>, CheckpointError> {
        let row = sqlx::query("SELECT applied, description, result FROM effects WHERE thread_id = ? AND key = ?")
            .bind(thread_id)
            .bind(key)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| self.map(e))?;
        Ok(row.map(|row| effect_record(row.get::<i64, _>(0) != 0, row.get(1), row.get(2))))
    }

    async fn record_intent(&self, thread_id: &str, key: &str, description: &str) -> Result<(), CheckpointError> {
        let mut batch = Batch::new();
        batch.statement(
            "INSERT OR IGNORE INTO effects (thread_id, key, applied, description, result, updated_at) VALUES (?, ?, 0, ?, NULL, ?)",
            [
                Arg::Text(thread_id.to_owned()),
                Arg::Text(key.to_owned()),
                Arg::Text(description.to_owned()),
                Arg::Int(millis(Timestamp::now())),
            ],
        );
        Ok(self.write(thread_id, batch, String::new).await?)
    }

    async fn prune(&self, thread_id: &str, retention: &Retention) -> Result<PruneReport, CheckpointError> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "SELECT ns, checkpoint_id, created_at FROM checkpoints WHERE thread_id = ? ORDER BY ns, checkpoint_id DESC",
        )
        .bind(thread_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.map(e))?;
        let doomed = doomed(rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))), retention);
        let mut report = PruneReport::default();
        if !doomed.is_empty() {
            let doomed = serde_json::to_string(&doomed).unwrap_or_else(|_| "[]".into());
            let selected = "(ns, checkpoint_id) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))";
            for (table, count) in [("writes", &mut report.writes), ("checkpoints", &mut report.checkpoints)] {
                *count = usize::try_from(
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM {table} WHERE thread_id = ? AND {selected}"
                    )))
                    .bind(thread_id)
                    .bind(&doomed)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.map(e))?
                    .rows_affected(),
                )
                .unwrap_or(usize::MAX);
            }
            // Sweep: keep every blob on the chain of a kept checkpoint's channel; drop the rest.
            let swept = sqlx::query(
                "WITH RECURSIVE live(ns, channel, cid, delta, prev) AS (
                     SELECT b.ns, b.channel, b.checkpoint_id, b.delta, b.prev
                     FROM checkpoints AS c CROSS JOIN json_each(c.channels) AS h CROSS JOIN blobs AS b
                     WHERE c.thread_id = ?1 AND b.thread_id = c.thread_id AND b.ns = c.ns
                         AND b.checkpoint_id = json_extract(h.value, '$.head') AND b.channel = h.key
                     UNION
                     SELECT b.ns, b.channel, b.checkpoint_id, b.delta, b.prev
                     FROM live AS l JOIN blobs AS b ON b.thread_id = ?1 AND b.ns = l.ns
                         AND b.channel = l.channel AND b.checkpoint_id = l.prev
                     WHERE l.delta = 1
                 )
                 DELETE FROM blobs WHERE thread_id = ?1
                     AND (ns, channel, checkpoint_id) NOT IN (SELECT ns, channel, cid FROM live)",
            )
            .bind(thread_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map(e))?
            .rows_affected();
            report.blobs = usize::try_from(swept).unwrap_or(usize::MAX);
        }
        tx.commit().await.map_err(|e| self.map(e))?;
        Ok(report)
    }

    async fn list_threads(&self) -> Result<Vec<ThreadSummary>, CheckpointError> {
        let rows = sqlx::query(
            "SELECT c.thread_id, t.n, c.checkpoint_id, c.step, c.created_at
             FROM (SELECT thread_id, COUNT(*) AS n, MAX(checkpoint_id) AS latest FROM checkpoints WHERE ns = '' GROUP BY thread_id) AS t
             JOIN checkpoints AS c ON c.thread_id = t.thread_id AND c.ns = '' AND c.checkpoint_id = t.latest
             ORDER BY c.checkpoint_id DESC",
        )
        .fetch_all(&self.inner.pool)
        .await
        .map_err(|e| self.map(e))?;
        rows.iter()
            .map(|row| {
                thread_summary(row.get(0), row.get(1), row.get(2), row.get(3), row.get(4))
                    .map_err(|e| self.corrupt(e).into())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use lemmings_graph::{Checkpointer, Timestamp};

    use super::{SqliteOptions, SqliteStore};

    #[tokio::test]
    async fn a_held_lease_s_heartbeat_is_written_at_most_every_eighth_of_its_ttl() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut options = SqliteOptions::create();
        options.lease_ttl = std::time::Duration::from_secs(8);
        let store = SqliteStore::open(dir.path().join("beat.db"), options)
            .await
            .expect("opens");
        store.acquire_lease("t").await.expect("no error").expect("the lease");
        let taken = store.inner.heartbeats.lock().unwrap()["t"];
        let at = |ms: u64| Timestamp::from_millis(taken.as_millis() + ms);
        // Taking the lease wrote the heartbeat: writes within a second only check the fence.
        assert!(!store.heartbeat_due("t", at(10)));
        assert!(!store.heartbeat_due("t", at(999)));
        assert!(
            store.heartbeat_due("t", at(1000)),
            "a second (ttl / 8) later it is written"
        );
        assert!(!store.heartbeat_due("t", at(1500)));
        assert!(store.heartbeat_due("t", at(2000)));
        assert!(
            store.heartbeat_due("u", at(0)),
            "a thread never beaten is written at once"
        );
    }
}
