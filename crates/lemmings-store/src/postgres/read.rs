//! Reading checkpoints back in ONE statement, for `get` and `list` alike: a CTE selects the
//! checkpoints, a recursive CTE walks every link of their channel chains (keys only; the data is
//! joined once at the end), and the pending writes of those checkpoints follow. The three kinds
//! of rows come back as one `UNION ALL`, told apart by their first column. One statement means
//! one round trip and one snapshot, so a prune committing meanwhile cannot make a chain look
//! broken. Chains and task groups are assembled in memory.

use bytes::Bytes;
use lemmings_graph::{Checkpoint, CheckpointId, CheckpointTuple, ListOptions};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};

use super::store::PostgresStore;
use crate::error::StoreError;
use crate::rows::{CheckpointRow, Link, Links, WriteRow, Writes, filter_path, tuples};

/// Everything after the `cps` CTE: the chain walk and the three row kinds. Columns: kind, six
/// texts, two integers, a flag, the bytes.
///
/// Every blob lookup is a `LATERAL` subquery with `LIMIT 1` (the primary key makes it exact):
/// that keeps it an index seek per link. As plain joins, the planner (which guesses 100 rows for
/// `jsonb_each`) hashes all of the thread's blobs instead, and a read would grow with history.
const CHAINS_AND_ROWS: &str = "
    heads AS (
        SELECT DISTINCT h.key AS channel, h.value ->> 'head' AS cid
        FROM cps CROSS JOIN LATERAL jsonb_each(cps.channels) AS h
    ),
    keys(channel, cid, delta, prev) AS (
        SELECT b.channel, b.checkpoint_id, b.delta, b.prev
        FROM heads AS h CROSS JOIN LATERAL (
            SELECT b.channel, b.checkpoint_id, b.delta, b.prev FROM blobs AS b
            WHERE b.thread_id = $1 AND b.ns = $2 AND b.channel = h.channel AND b.checkpoint_id = h.cid
            LIMIT 1
        ) AS b
        UNION
        SELECT b.channel, b.checkpoint_id, b.delta, b.prev
        FROM keys AS k CROSS JOIN LATERAL (
            SELECT b.channel, b.checkpoint_id, b.delta, b.prev FROM blobs AS b
            WHERE b.thread_id = $1 AND b.ns = $2 AND b.channel = k.channel AND b.checkpoint_id = k.prev
            LIMIT 1
        ) AS b
        WHERE k.delta
    )
    SELECT 'c'::text, checkpoint_id, parent_id, source, metadata::text, channels::text, NULL::text,
        step, created_at, NULL::boolean, control
    FROM cps
    UNION ALL
    SELECT 'b', k.channel, k.cid, k.prev, NULL, NULL, NULL, NULL, NULL, k.delta, b.data
    FROM keys AS k CROSS JOIN LATERAL (
        SELECT b.data FROM blobs AS b
        WHERE b.thread_id = $1 AND b.ns = $2 AND b.channel = k.channel AND b.checkpoint_id = k.cid
        LIMIT 1
    ) AS b
    UNION ALL
    SELECT 'w', w.checkpoint_id, w.task_id, w.task_path, w.node, w.channel, NULL, w.seq, NULL, NULL, w.value
    FROM writes AS w
    WHERE w.thread_id = $1 AND w.ns = $2 AND w.checkpoint_id IN (SELECT checkpoint_id FROM cps)";

impl PostgresStore {
    pub(super) fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            location: self.inner.mapper.location.clone(),
            reason,
        }
    }

    /// Checkpoints of a namespace, newest first: the one `id` (or the latest, with a limit of
    /// one), or those `options` select.
    pub(super) async fn read_tuples(
        &self,
        thread: &str,
        ns: &str,
        id: Option<CheckpointId>,
        options: &ListOptions,
    ) -> Result<Vec<CheckpointTuple>, StoreError> {
        for key in options.filter.keys() {
            filter_path(key)?;
        }
        let mut select = String::from(
            "SELECT checkpoint_id, parent_id, step, source, created_at, metadata, channels, control
             FROM checkpoints WHERE thread_id = $1 AND ns = $2",
        );
        let mut next = 3;
        let mut param = || {
            next += 1;
            format!("${}", next - 1)
        };
        if id.is_some() {
            select.push_str(&format!(" AND checkpoint_id = {}", param()));
        }
        if options.before.is_some() {
            select.push_str(&format!(" AND checkpoint_id < {}", param()));
        }
        for _ in &options.filter {
            // Keys and values are parameters, never spliced into the SQL.
            select.push_str(&format!(" AND metadata -> {} = {}::jsonb", param(), param()));
        }
        select.push_str(" ORDER BY checkpoint_id DESC");
        if options.limit.is_some() {
            select.push_str(&format!(" LIMIT {}", param()));
        }
        let sql = format!("WITH RECURSIVE cps AS ({select}),{CHAINS_AND_ROWS}");
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(thread).bind(ns);
        if let Some(id) = id {
            query = query.bind(id.to_string());
        }
        if let Some(before) = options.before {
            query = query.bind(before.to_string());
        }
        for (key, value) in &options.filter {
            query = query.bind(key).bind(value.to_string());
        }
        if let Some(limit) = options.limit {
            query = query.bind(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        let rows = query.fetch_all(&self.inner.pool).await.map_err(|e| self.map(e))?;

        let (mut checkpoints, mut links, mut writes) = (Vec::new(), Links::new(), Vec::new());
        for row in &rows {
            match row.get::<String, _>(0).as_str() {
                "c" => checkpoints.push(self.parse_checkpoint(row, thread, ns)?),
                "b" => {
                    links.insert(
                        (row.get(2), row.get(1)),
                        Link {
                            delta: row.get(9),
                            prev: row.get(3),
                            data: Bytes::from(row.get::<Vec<u8>, _>(10)),
                        },
                    );
                }
                _ => writes.push((
                    row.get::<i64, _>(7),
                    WriteRow {
                        checkpoint: row.get(1),
                        task_id: row.get(2),
                        task_path: row.get(3),
                        node: row.get(4),
                        channel: row.get(5),
                        value: Bytes::from(row.get::<Vec<u8>, _>(10)),
                    },
                )),
            }
        }
        // `UNION ALL` promises no order: checkpoints newest first, writes by task.
        checkpoints.sort_by(|a, b| b.0.cmp(&a.0));
        let writes = self.group_writes(writes)?;
        tuples(checkpoints, &links, writes).map_err(|e| self.corrupt(e))
    }

    fn parse_checkpoint(&self, row: &PgRow, thread: &str, ns: &str) -> Result<(String, Checkpoint), StoreError> {
        CheckpointRow {
            id: row.get(1),
            parent: row.get(2),
            step: row.get(7),
            source: row.get(3),
            created_at: row.get(8),
            metadata: row.get(4),
            channels: row.get(5),
            control: row.get(10),
        }
        .parse(thread, ns)
        .map_err(|e| self.corrupt(e))
    }

    /// Pending writes `(seq, row)` by checkpoint, grouped by task in `(task_path, task_id)`
    /// order, each task's writes in the order it made them (`seq`).
    fn group_writes(&self, mut rows: Vec<(i64, WriteRow)>) -> Result<Writes, StoreError> {
        rows.sort_by(|(a_seq, a), (b_seq, b)| {
            (&a.checkpoint, &a.task_path, &a.task_id, a_seq).cmp(&(&b.checkpoint, &b.task_path, &b.task_id, b_seq))
        });
        let mut writes = Writes::new();
        for (_, row) in rows {
            row.push_to(&mut writes).map_err(|e| self.corrupt(e))?;
        }
        Ok(writes)
    }
}
