//! Reading checkpoints back. One checkpoint (`get`, the hot path of resume and `get_state`) is
//! a single multi-statement query (row, chain links, pending writes); a listing is three queries
//! however many checkpoints it returns. Chains are assembled in memory.

use std::collections::BTreeSet;

use bytes::Bytes;
use lemmings_graph::{Checkpoint, CheckpointId, CheckpointTuple, ListOptions};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::SqliteStore;
use crate::error::StoreError;
use crate::rows::{CheckpointRow, Link, Links, WriteRow, Writes, filter_path, tuples};

const CHECKPOINT_COLUMNS: &str = "checkpoint_id, parent_id, step, source, created_at, metadata, channels, control";

/// The recursive walk from `heads(channel, cid)` to every link of their chains; the recursion
/// walks keys only and the data is joined once at the end. CROSS JOIN keeps the heads as the
/// outer loop, so each head is an index seek rather than a scan of the thread's blobs.
const CHAIN_LINKS: &str = "keys(channel, cid, delta, prev) AS (
         SELECT b.channel, b.checkpoint_id, b.delta, b.prev
         FROM heads AS h CROSS JOIN blobs AS b
         WHERE b.thread_id = ?1 AND b.ns = ?2 AND b.checkpoint_id = h.cid AND b.channel = h.channel
         UNION
         SELECT b.channel, b.checkpoint_id, b.delta, b.prev
         FROM keys AS k JOIN blobs AS b ON b.thread_id = ?1 AND b.ns = ?2
             AND b.channel = k.channel AND b.checkpoint_id = k.prev
         WHERE k.delta = 1
     )
     SELECT 'b', k.channel, k.cid, k.delta, k.prev, b.data FROM keys AS k
     JOIN blobs AS b ON b.thread_id = ?1 AND b.ns = ?2 AND b.channel = k.channel AND b.checkpoint_id = k.cid";

impl SqliteStore {
    pub(super) fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            location: self.inner.location.clone(),
            reason,
        }
    }

    /// A checkpoint row whose columns ([`CHECKPOINT_COLUMNS`]) start at `at`.
    fn parse_checkpoint(
        &self,
        row: &SqliteRow,
        at: usize,
        thread: &str,
        ns: &str,
    ) -> Result<(String, Checkpoint), StoreError> {
        CheckpointRow {
            id: row.get(at),
            parent: row.get(at + 1),
            step: row.get(at + 2),
            source: row.get(at + 3),
            created_at: row.get(at + 4),
            metadata: row.get(at + 5),
            channels: row.get(at + 6),
            control: row.get(at + 7),
        }
        .parse(thread, ns)
        .map_err(|e| self.corrupt(e))
    }

    /// A link row `(channel, cid, delta, prev, data)` whose columns start at `at`.
    fn parse_link(row: &SqliteRow, at: usize, links: &mut Links) {
        links.insert(
            (row.get(at + 1), row.get(at)),
            Link {
                delta: row.get::<i64, _>(at + 2) != 0,
                prev: row.get(at + 3),
                data: Bytes::from(row.get::<Vec<u8>, _>(at + 4)),
            },
        );
    }

    /// A write row `(checkpoint, task_id, task_path, node, channel, value)` whose columns start
    /// at `at`, grouped into tasks (rows come ordered by task).
    fn parse_write(&self, row: &SqliteRow, at: usize, writes: &mut Writes) -> Result<(), StoreError> {
        WriteRow {
            checkpoint: row.get(at),
            task_id: row.get(at + 1),
            task_path: row.get(at + 2),
            node: row.get(at + 3),
            channel: row.get(at + 4),
            value: Bytes::from(row.get::<Vec<u8>, _>(at + 5)),
        }
        .push_to(writes)
        .map_err(|e| self.corrupt(e))
    }

    fn assemble(
        &self,
        checkpoints: Vec<(String, Checkpoint)>,
        links: &Links,
        writes: Writes,
    ) -> Result<Vec<CheckpointTuple>, StoreError> {
        tuples(checkpoints, links, writes).map_err(|e| self.corrupt(e))
    }

    /// One checkpoint (`id`, or the latest) in a single round trip: three statements whose
    /// rows are told apart by their first column.
    pub(super) async fn read_one(
        &self,
        connection: &mut SqliteConnection,
        thread: &str,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, StoreError> {
        let target = match id {
            Some(_) => "?3",
            None => {
                "(SELECT checkpoint_id FROM checkpoints WHERE thread_id = ?1 AND ns = ?2 ORDER BY checkpoint_id DESC LIMIT 1)"
            }
        };
        // One read transaction: the three statements see one snapshot, so a commit landing
        // between them cannot pair a checkpoint with another checkpoint's links or writes.
        let sql = format!(
            "BEGIN;
             SELECT 'c', {CHECKPOINT_COLUMNS} FROM checkpoints WHERE thread_id = ?1 AND ns = ?2 AND checkpoint_id = {target};
             WITH RECURSIVE heads(channel, cid) AS (
                 SELECT j.key, json_extract(j.value, '$.head')
                 FROM checkpoints AS c CROSS JOIN json_each(c.channels) AS j
                 WHERE c.thread_id = ?1 AND c.ns = ?2 AND c.checkpoint_id = {target}
             ),
             {CHAIN_LINKS};
             SELECT 'w', checkpoint_id, task_id, task_path, node, channel, value FROM writes
             WHERE thread_id = ?1 AND ns = ?2 AND checkpoint_id = {target}
             ORDER BY task_path, task_id, rowid;
             COMMIT;"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(thread).bind(ns);
        if let Some(id) = id {
            query = query.bind(id.to_string());
        }
        let rows = match query.fetch_all(&mut *connection).await {
            Ok(rows) => rows,
            Err(error) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
                return Err(self.map(error));
            }
        };
        let (mut checkpoints, mut links, mut writes) = (Vec::new(), Links::new(), Writes::new());
        for row in &rows {
            match row.get::<String, _>(0).as_str() {
                "c" => checkpoints.push(self.parse_checkpoint(row, 1, thread, ns)?),
                "b" => Self::parse_link(row, 1, &mut links),
                _ => self.parse_write(row, 1, &mut writes)?,
            }
        }
        Ok(self.assemble(checkpoints, &links, writes)?.pop())
    }

    /// Checkpoints of a namespace that `options` select, newest first, read in one transaction
    /// (its three queries see one snapshot).
    pub(super) async fn read_list(
        &self,
        connection: &mut SqliteConnection,
        thread: &str,
        ns: &str,
        options: &ListOptions,
    ) -> Result<Vec<CheckpointTuple>, StoreError> {
        let mut tx = connection.begin().await.map_err(|e| self.map(e))?;
        let tuples = self.read_list_in(&mut tx, thread, ns, options).await?;
        tx.commit().await.map_err(|e| self.map(e))?;
        Ok(tuples)
    }

    async fn read_list_in(
        &self,
        connection: &mut SqliteConnection,
        thread: &str,
        ns: &str,
        options: &ListOptions,
    ) -> Result<Vec<CheckpointTuple>, StoreError> {
        let mut sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE thread_id = ? AND ns = ?");
        if options.before.is_some() {
            sql.push_str(" AND checkpoint_id < ?");
        }
        let mut filters = Vec::with_capacity(options.filter.len());
        for (key, value) in &options.filter {
            filters.push((filter_path(key)?, value.to_string()));
            // Compared as JSON text: `true` is not 1, and `null` is not a missing key.
            sql.push_str(" AND metadata -> ? IS json(?)");
        }
        sql.push_str(" ORDER BY checkpoint_id DESC");
        if options.limit.is_some() {
            sql.push_str(" LIMIT ?");
        }
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(thread).bind(ns);
        if let Some(before) = options.before {
            query = query.bind(before.to_string());
        }
        for (path, value) in filters {
            query = query.bind(path).bind(value);
        }
        if let Some(limit) = options.limit {
            query = query.bind(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        let rows = query.fetch_all(&mut *connection).await.map_err(|e| self.map(e))?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let checkpoints = rows
            .iter()
            .map(|row| self.parse_checkpoint(row, 0, thread, ns))
            .collect::<Result<Vec<_>, _>>()?;

        let heads: BTreeSet<(String, String)> = checkpoints
            .iter()
            .flat_map(|(_, c)| {
                c.channels
                    .iter()
                    .map(|(channel, r)| (channel.clone(), r.head.to_string()))
            })
            .collect();
        let mut links = Links::new();
        if !heads.is_empty() {
            let sql = format!(
                "WITH RECURSIVE heads(channel, cid) AS (
                     SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?3)
                 ),
                 {CHAIN_LINKS}"
            );
            let rows = sqlx::query(AssertSqlSafe(sql))
                .bind(thread)
                .bind(ns)
                .bind(serde_json::to_string(&heads).unwrap_or_else(|_| "[]".into()))
                .fetch_all(&mut *connection)
                .await
                .map_err(|e| self.map(e))?;
            for row in &rows {
                Self::parse_link(row, 1, &mut links);
            }
        }

        let ids: Vec<&str> = checkpoints.iter().map(|(id, _)| id.as_str()).collect();
        let rows = sqlx::query(
            "SELECT checkpoint_id, task_id, task_path, node, channel, value FROM writes
             WHERE thread_id = ? AND ns = ? AND checkpoint_id IN (SELECT value FROM json_each(?))
             ORDER BY checkpoint_id, task_path, task_id, rowid",
        )
        .bind(thread)
        .bind(ns)
        .bind(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()))
        .fetch_all(&mut *connection)
        .await
        .map_err(|e| self.map(e))?;
        let mut writes = Writes::new();
        for row in &rows {
            self.parse_write(row, 0, &mut writes)?;
        }
        self.assemble(checkpoints, &links, writes)
    }
}
