//! Leases across machines: who runs a thread, taken over when its holder died, kept alive by a
//! heartbeat. Lease times come from the database's clock, so machines need not agree on the time.
//!
//! Acquiring locks the lease row (`SELECT … FOR UPDATE`) in a transaction, judges its holder with
//! [`LeaseRow::is_live`] (a process on this host is asked of the kernel; one on another host is
//! alive while its heartbeat is younger than `lease_ttl`), then writes epoch + 1. A thread never
//! leased before has no row to lock: there the insert itself is guarded, so of two machines
//! racing for a new thread one wins and the other is told who holds it.

use std::time::Duration;

use lemmings_graph::{Lease, Timestamp};
use sqlx::postgres::{PgExecutor, PgPool};
use sqlx::{AssertSqlSafe, Row};

use super::open::Mapper;
use super::store::{HeldLease, PostgresStore};
use super::write::NOW_MS;
use crate::error::StoreError;
use crate::holder::LeaseRow;

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl PostgresStore {
    /// The thread's lease row and the database's clock, optionally locking the row until the
    /// caller's transaction ends.
    pub(super) async fn lease_row<'e>(
        &self,
        executor: impl PgExecutor<'e>,
        thread: &str,
        lock: bool,
    ) -> Result<Option<(LeaseRow, Timestamp)>, StoreError> {
        let sql = format!(
            "SELECT epoch, holder, host, pid, started, heartbeat_at, released, {NOW_MS}
             FROM leases WHERE thread_id = $1{}",
            if lock { " FOR UPDATE" } else { "" }
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(thread)
            .fetch_optional(executor)
            .await
            .map_err(|e| self.map(e))?;
        Ok(row.map(|r| {
            let lease = LeaseRow {
                epoch: to_u64(r.get(0)),
                holder: r.get(1),
                host: r.get(2),
                pid: u32::try_from(r.get::<i64, _>(3)).unwrap_or(0),
                started: r.get(4),
                heartbeat_at: to_u64(r.get(5)),
                released: r.get(6),
            };
            (lease, Timestamp::from_millis(to_u64(r.get(7))))
        }))
    }

    pub(super) async fn acquire(&self, thread: &str) -> Result<Lease, StoreError> {
        let me = &self.inner.holder;
        let mut tx = self.inner.pool.begin().await.map_err(|e| self.map(e))?;
        let row = self.lease_row(&mut *tx, thread, true).await?;
        if let Some((row, now)) = &row
            && row.is_live(me, self.inner.options.lease_ttl, *now)
        {
            return Err(row.clone().locked(thread));
        }
        let seen = row.map_or(0, |(row, _)| row.epoch);
        let holder = me.describe();
        // `WHERE leases.epoch = seen`: with the row locked above this always holds; without a
        // row, a conflict means another machine inserted one meanwhile, and it wins.
        let epoch: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "INSERT INTO leases (thread_id, epoch, holder, host, pid, started, acquired_at, heartbeat_at, released)
             VALUES ($1, $2, $3, $4, $5, $6, {NOW_MS}, {NOW_MS}, FALSE)
             ON CONFLICT (thread_id) DO UPDATE SET epoch = EXCLUDED.epoch, holder = EXCLUDED.holder,
                 host = EXCLUDED.host, pid = EXCLUDED.pid, started = EXCLUDED.started,
                 acquired_at = EXCLUDED.acquired_at, heartbeat_at = EXCLUDED.heartbeat_at, released = FALSE
             WHERE leases.epoch = $7
             RETURNING epoch"
        )))
        .bind(thread)
        .bind(to_i64(seen + 1))
        .bind(&holder)
        .bind(&me.host)
        .bind(i64::from(me.pid))
        .bind(me.started)
        .bind(to_i64(seen))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.map(e))?;
        if epoch.is_none() {
            drop(tx);
            let winner = self.lease_row(&self.inner.pool, thread, false).await?;
            return Err(match winner {
                Some((row, _)) => row.locked(thread),
                None => StoreError::Busy {
                    location: self.inner.mapper.location.clone(),
                    waited_ms: 0,
                },
            });
        }
        tx.commit().await.map_err(|e| self.map(e))?;
        let epoch = seen + 1;
        let heartbeat = tokio::spawn(heartbeat(
            self.inner.pool.clone(),
            self.inner.mapper.clone(),
            thread.to_owned(),
            epoch,
            self.inner.options.lease_ttl / 3,
        ));
        if let Some(previous) = self.leases().insert(thread.to_owned(), HeldLease { epoch, heartbeat }) {
            previous.heartbeat.abort();
        }
        Ok(Lease {
            thread_id: thread.to_owned(),
            epoch,
            holder,
        })
    }

    pub(super) async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.forget(&lease.thread_id, lease.epoch);
        sqlx::query("UPDATE leases SET released = TRUE WHERE thread_id = $1 AND epoch = $2")
            .bind(&lease.thread_id)
            .bind(to_i64(lease.epoch))
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.map(e))?;
        Ok(())
    }

    /// Forgets the thread's lease and stops its heartbeat if this store holds it at `epoch`
    /// (a stale lease value leaves the current one in place).
    pub(super) fn forget(&self, thread: &str, epoch: u64) {
        let mut leases = self.leases();
        if leases.get(thread).is_some_and(|held| held.epoch == epoch)
            && let Some(held) = leases.remove(thread)
        {
            held.heartbeat.abort();
        }
    }
}

/// Renews a held lease's heartbeat every `period` until it is released (the task is aborted),
/// the store is dropped (aborted too), or a renewal finds the lease lost. A failed renewal is
/// only logged: the next may succeed, and writes are fenced on their own.
async fn heartbeat(pool: PgPool, mapper: Mapper, thread: String, epoch: u64, period: Duration) {
    let period = period.max(Duration::from_millis(10));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sql = format!("UPDATE leases SET heartbeat_at = {NOW_MS} WHERE thread_id = $1 AND epoch = $2 AND NOT released");
    loop {
        ticker.tick().await;
        let renewed = sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(&thread)
            .bind(to_i64(epoch))
            .execute(&pool)
            .await;
        match renewed {
            Ok(done) if done.rows_affected() == 0 => {
                tracing::warn!(
                    database = %mapper.location, thread = %thread, epoch,
                    "the lease of thread {thread} was released or taken over; its heartbeat stops"
                );
                return;
            }
            Ok(_) => {}
            // Mapped, so the message names the redacted URL and carries no password.
            Err(error) => tracing::warn!(
                thread = %thread, epoch,
                "cannot renew the lease of thread {thread}: {}", mapper.map(error)
            ),
        }
    }
}
