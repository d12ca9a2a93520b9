//! Retention and the thread list: deleting a thread, pruning its history (mark and sweep of the
//! blobs that kept checkpoints' chains still reach), and listing threads.

use lemmings_graph::{PruneReport, Retention, ThreadSummary};
use sqlx::Row;

use super::store::PostgresStore;
use crate::error::StoreError;
use crate::holder::fenced;
use crate::rows::{doomed, thread_summary};

fn count(rows: u64) -> usize {
    usize::try_from(rows).unwrap_or(usize::MAX)
}

impl PostgresStore {
    /// Deletes every row of a thread, fenced like a write: the holder may delete its thread, a
    /// store that lost the lease may not, and nobody may while a live holder runs it.
    pub(super) async fn delete(&self, thread: &str) -> Result<(), StoreError> {
        let mut tx = self.inner.pool.begin().await.map_err(|e| self.map(e))?;
        // Locking the lease row keeps a takeover from slipping between the check and the delete.
        let row = self.lease_row(&mut *tx, thread, true).await?;
        let held = self.held(thread);
        match held {
            Some(epoch) => {
                if !row.as_ref().is_some_and(|(r, _)| r.epoch == epoch && !r.released) {
                    return Err(fenced(thread, row.map(|(r, _)| r)));
                }
            }
            None => {
                if let Some((row, now)) = row
                    && row.is_live(&self.inner.holder, self.inner.options.lease_ttl, now)
                {
                    return Err(row.locked(thread));
                }
            }
        }
        sqlx::query(
            // The lease row stays (released), so a later lease of the thread gets a higher epoch
            // and a stale holder from before the deletion stays fenced out.
            "WITH w AS (DELETE FROM writes WHERE thread_id = $1),
                  b AS (DELETE FROM blobs WHERE thread_id = $1),
                  c AS (DELETE FROM checkpoints WHERE thread_id = $1),
                  e AS (DELETE FROM effects WHERE thread_id = $1)
             UPDATE leases SET released = TRUE WHERE thread_id = $1",
        )
        .bind(thread)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map(e))?;
        tx.commit().await.map_err(|e| self.map(e))?;
        if let Some(epoch) = held {
            self.forget(thread, epoch);
        }
        Ok(())
    }

    /// Deletes the checkpoints `retention` selects (never a namespace's latest), their pending
    /// writes, and every blob no kept checkpoint's chain reaches.
    pub(super) async fn prune_thread(&self, thread: &str, retention: &Retention) -> Result<PruneReport, StoreError> {
        let mut tx = self.inner.pool.begin().await.map_err(|e| self.map(e))?;
        // A holder's commit updates its lease row in the same statement: locking that row makes
        // the holder's next commit wait until the sweep is done, so the sweep never deletes a
        // blob that a checkpoint committing meanwhile chains to.
        sqlx::query("SELECT 1 FROM leases WHERE thread_id = $1 FOR UPDATE")
            .bind(thread)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map(e))?;
        let rows = sqlx::query(
            "SELECT ns, checkpoint_id, created_at FROM checkpoints WHERE thread_id = $1 ORDER BY ns, checkpoint_id DESC",
        )
        .bind(thread)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.map(e))?;
        let (doomed_ns, doomed_ids): (Vec<String>, Vec<String>) =
            doomed(rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))), retention)
                .into_iter()
                .unzip();
        let mut report = PruneReport::default();
        if !doomed_ids.is_empty() {
            for (table, total) in [("writes", &mut report.writes), ("checkpoints", &mut report.checkpoints)] {
                let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} AS t USING UNNEST($2::text[], $3::text[]) AS d(ns, checkpoint_id)
                     WHERE t.thread_id = $1 AND t.ns = d.ns AND t.checkpoint_id = d.checkpoint_id"
                )))
                .bind(thread)
                .bind(&doomed_ns)
                .bind(&doomed_ids)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.map(e))?;
                *total = count(deleted.rows_affected());
            }
            // Mark from every kept checkpoint's channel heads along `prev` while links are
            // deltas; sweep the rest. The recursion walks keys only, never blob data.
            let swept = sqlx::query(
                "WITH RECURSIVE live(ns, channel, cid, delta, prev) AS (
                     SELECT b.ns, b.channel, b.checkpoint_id, b.delta, b.prev
                     FROM checkpoints AS c CROSS JOIN LATERAL jsonb_each(c.channels) AS h
                     JOIN blobs AS b ON b.thread_id = c.thread_id AND b.ns = c.ns
                         AND b.checkpoint_id = h.value ->> 'head' AND b.channel = h.key
                     WHERE c.thread_id = $1
                     UNION
                     SELECT b.ns, b.channel, b.checkpoint_id, b.delta, b.prev
                     FROM live AS l JOIN blobs AS b ON b.thread_id = $1 AND b.ns = l.ns
                         AND b.channel = l.channel AND b.checkpoint_id = l.prev
                     WHERE l.delta
                 )
                 DELETE FROM blobs AS b WHERE b.thread_id = $1 AND NOT EXISTS
                     (SELECT 1 FROM live AS l WHERE l.ns = b.ns AND l.channel = b.channel AND l.cid = b.checkpoint_id)",
            )
            .bind(thread)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map(e))?;
            report.blobs = count(swept.rows_affected());
        }
        tx.commit().await.map_err(|e| self.map(e))?;
        Ok(report)
    }

    /// Threads with a root checkpoint, most recently updated first.
    pub(super) async fn threads(&self) -> Result<Vec<ThreadSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM (
                 SELECT DISTINCT ON (thread_id) thread_id, COUNT(*) OVER (PARTITION BY thread_id),
                     checkpoint_id, step, created_at
                 FROM checkpoints WHERE ns = ''
                 ORDER BY thread_id DESC, checkpoint_id DESC
             ) AS latest ORDER BY checkpoint_id DESC",
        )
        .fetch_all(&self.inner.pool)
        .await
        .map_err(|e| self.map(e))?;
        rows.iter()
            .map(|row| {
                thread_summary(row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)).map_err(|e| self.corrupt(e))
            })
            .collect()
    }
}
