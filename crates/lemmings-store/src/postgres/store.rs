//! [`PostgresStore`]: the checkpointer on a PostgreSQL database that several machines may share.
//! This file holds the handle and the [`Checkpointer`] implementation; the SQL lives in the
//! sibling modules (`write`, `read`, `lease`, `retention`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use lemmings_graph::{
    CheckpointError, CheckpointId, CheckpointPut, CheckpointTuple, Checkpointer, EffectRecord, Lease, ListOptions,
    PruneReport, Retention, TaskWrites, ThreadSummary,
};
use sqlx::Row;
use sqlx::postgres::PgPool;

use super::open::{self, Mapper, PostgresOptions};
use super::write::{Guard, Statement};
use crate::error::StoreError;
use crate::holder::{Holder, fenced};
use crate::rows::{check_parent_writes, effect_record, unsaved};

/// A checkpointer on a PostgreSQL database. Cheap to clone (clones share the pool and leases).
#[derive(Clone)]
pub struct PostgresStore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) pool: PgPool,
    pub(super) mapper: Mapper,
    pub(super) options: PostgresOptions,
    pub(super) holder: Holder,
    /// Leases this store holds, by thread: its writes to these threads are fenced.
    pub(super) leases: Mutex<HashMap<String, HeldLease>>,
}

/// A lease this store holds, with the task renewing its heartbeat.
pub(super) struct HeldLease {
    pub(super) epoch: u64,
    pub(super) heartbeat: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The heartbeat tasks hold only the pool: without this they would keep renewing the
        // leases of a store nobody uses.
        for (_, held) in self.leases.get_mut().unwrap_or_else(|p| p.into_inner()).drain() {
            held.heartbeat.abort();
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The location is the redacted URL: never the password.
        f.debug_struct("PostgresStore")
            .field("location", &self.inner.mapper.location.0)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`),
    /// refusing a schema written by a newer Lemmings or holding another program's tables, and
    /// applies the migrations. The database must exist.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<PostgresStore, StoreError> {
        let (pool, mapper) = open::connect(url, &options).await?;
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                mapper,
                options,
                holder: Holder::current(),
                leases: Mutex::default(),
            }),
        })
    }

    /// The database's URL with its password replaced by `***`, for messages.
    pub fn location(&self) -> &str {
        &self.inner.mapper.location.0
    }

    /// Closes the pool. Leases still held stay in the database until released or taken over.
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    pub(super) fn map(&self, error: sqlx::Error) -> StoreError {
        self.inner.mapper.map(error)
    }

    pub(super) fn leases(&self) -> MutexGuard<'_, HashMap<String, HeldLease>> {
        self.inner.leases.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The epoch of the thread's lease if this store holds it.
    pub(super) fn held(&self, thread: &str) -> Option<u64> {
        self.leases().get(thread).map(|held| held.epoch)
    }

    /// Runs a write statement for `thread`, fenced by its lease (see `write`). `missing` names
    /// what a failed precondition or foreign key means (writes for a checkpoint that is not
    /// saved).
    async fn commit(
        &self,
        thread: &str,
        ns: &str,
        statement: Statement,
        missing: impl Fn() -> String,
    ) -> Result<(), StoreError> {
        let mut guard = match self.held(thread) {
            Some(epoch) => Guard::Held(i64::try_from(epoch).unwrap_or(i64::MAX)),
            None => Guard::Free(-1),
        };
        // A free thread whose lease is found dead is written again with that lease excused; a
        // third round means leases keep changing hands under us, which is reported as busy.
        for _ in 0..3 {
            let outcome = statement
                .query(thread, ns, guard)
                .fetch_one(&self.inner.pool)
                .await
                .map(|row| (row.get::<bool, _>(0), row.get::<bool, _>(1)));
            match outcome {
                Ok((true, true)) => return Ok(()),
                Ok((true, false)) => return Err(StoreError::Invalid(missing())),
                Ok((false, _)) => {}
                Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                    return Err(StoreError::Invalid(missing()));
                }
                Err(error) => return Err(self.map(error)),
            }
            let row = self.lease_row(&self.inner.pool, thread, false).await?;
            match (guard, row) {
                (Guard::Held(_), row) => return Err(fenced(thread, row.map(|(row, _)| row))),
                (Guard::Free(_), Some((row, now)))
                    if row.is_live(&self.inner.holder, self.inner.options.lease_ttl, now) =>
                {
                    return Err(row.locked(thread));
                }
                (Guard::Free(_), Some((row, _))) => guard = Guard::Free(i64::try_from(row.epoch).unwrap_or(i64::MAX)),
                (Guard::Free(_), None) => guard = Guard::Free(-1),
            }
        }
        Err(StoreError::Busy {
            location: self.inner.mapper.location.clone(),
            waited_ms: 0,
        })
    }
}

#[async_trait]
impl Checkpointer for PostgresStore {
    async fn get(
        &self,
        thread_id: &str,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        let options = ListOptions {
            before: None,
            limit: Some(1),
            filter: Default::default(),
        };
        Ok(self.read_tuples(thread_id, ns, id, &options).await?.pop())
    }

    async fn put(&self, put: CheckpointPut, parent_writes: Vec<TaskWrites>) -> Result<(), CheckpointError> {
        let CheckpointPut { checkpoint, blobs } = put;
        check_parent_writes(&checkpoint, &parent_writes)?;
        let thread = checkpoint.thread_id.as_str();
        let mut statement = Statement::new();
        statement.checkpoint(&checkpoint, &blobs)?;
        let parent = checkpoint.parent_id.map(|p| p.to_string());
        if let Some(parent) = &parent {
            // The new checkpoint supersedes its parent's pending writes: they are deleted, and
            // the effects the last tasks carry go to the ledger in the same statement.
            statement.supersede(parent, !parent_writes.is_empty());
            statement.effects(thread, &parent_writes)?;
        }
        let missing = || unsaved(parent.as_deref().unwrap_or("(none)"), thread);
        Ok(self.commit(thread, &checkpoint.ns, statement, missing).await?)
    }

    async fn put_writes(
        &self,
        thread_id: &str,
        ns: &str,
        checkpoint_id: CheckpointId,
        writes: Vec<TaskWrites>,
    ) -> Result<(), CheckpointError> {
        if writes.is_empty() {
            // Nothing to save: no round trip (and no lease check for nothing).
            return Ok(());
        }
        let id = checkpoint_id.to_string();
        let mut statement = Statement::new();
        statement.writes(thread_id, &id, &writes)?;
        Ok(self
            .commit(thread_id, ns, statement, || unsaved(&id, thread_id))
            .await?)
    }

    async fn list(
        &self,
        thread_id: &str,
        ns: &str,
        options: &ListOptions,
    ) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        Ok(self.read_tuples(thread_id, ns, None, options).await?)
    }

    async fn delete_thread(&self, thread_id: &str) -> Result<(), CheckpointError> {
        Ok(self.delete(thread_id).await?)
    }

    async fn acquire_lease(&self, thread_id: &str) -> Result<Option<Lease>, CheckpointError> {
        Ok(Some(self.acquire(thread_id).await?))
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), CheckpointError> {
        Ok(self.release(lease).await?)
    }

    async fn effect(&self, thread_id: &str, key: &str) -> Result<Option<EffectRecord>, CheckpointError> {
        let row = sqlx::query("SELECT applied, description, result FROM effects WHERE thread_id = $1 AND key = $2")
            .bind(thread_id)
            .bind(key)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| self.map(e))?;
        Ok(row.map(|row| effect_record(row.get::<bool, _>(0), row.get(1), row.get(2))))
    }

    async fn record_intent(&self, thread_id: &str, key: &str, description: &str) -> Result<(), CheckpointError> {
        let mut statement = Statement::new();
        statement.intent(key, description);
        // The namespace parameter is unused by an intent; effects belong to the thread.
        Ok(self.commit(thread_id, "", statement, String::new).await?)
    }

    async fn prune(&self, thread_id: &str, retention: &Retention) -> Result<PruneReport, CheckpointError> {
        Ok(self.prune_thread(thread_id, retention).await?)
    }

    async fn list_threads(&self) -> Result<Vec<ThreadSummary>, CheckpointError> {
        Ok(self.threads().await?)
    }
}
