//! Reading checkpoints back: the checkpoint rows, then every blob their channel chains need in
//! one recursive query, then their pending writes; chains are assembled in memory.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use lemmings_graph::{Checkpoint, CheckpointId, CheckpointTuple, ListOptions, Source, TaskId, TaskWrites, Timestamp};
use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Row};

use super::SqliteStore;
use crate::error::StoreError;
use crate::rows::{Link, Links, chains, filter_path, parse_channels, parse_id};

fn parse_source(text: &str) -> Option<Source> {
    match text {
        "input" => Some(Source::Input),
        "loop" => Some(Source::Loop),
        "update" => Some(Source::Update),
        "fork" => Some(Source::Fork),
        _ => None,
    }
}

impl SqliteStore {
    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            location: self.inner.location.clone(),
            reason,
        }
    }

    /// Checkpoints of a namespace, newest first: the one `id`, or those `options` select.
    pub(super) async fn read_tuples(
        &self,
        connection: &mut SqliteConnection,
        thread: &str,
        ns: &str,
        id: Option<CheckpointId>,
        options: &ListOptions,
    ) -> Result<Vec<CheckpointTuple>, StoreError> {
        let mut sql = String::from(
            "SELECT checkpoint_id, parent_id, step, source, created_at, metadata, channels, control
             FROM checkpoints WHERE thread_id = ? AND ns = ?",
        );
        if id.is_some() {
            sql.push_str(" AND checkpoint_id = ?");
        }
        if options.before.is_some() {
            sql.push_str(" AND checkpoint_id < ?");
        }
        let mut filters = Vec::with_capacity(options.filter.len());
        for (key, value) in &options.filter {
            filters.push((filter_path(key)?, value.to_string()));
            sql.push_str(" AND json_extract(metadata, ?) IS json_extract(?, '$')");
        }
        sql.push_str(" ORDER BY checkpoint_id DESC");
        if options.limit.is_some() {
            sql.push_str(" LIMIT ?");
        }
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(thread).bind(ns);
        if let Some(id) = id {
            query = query.bind(id.to_string());
        }
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

        let mut checkpoints = Vec::with_capacity(rows.len());
        for row in &rows {
            let id_text: String = row.get(0);
            let what = || format!("checkpoint {id_text} of thread {thread}");
            let metadata: String = row.get(5);
            let channels_text: String = row.get(6);
            let control: Vec<u8> = row.get(7);
            let source: String = row.get(3);
            let checkpoint = Checkpoint {
                thread_id: thread.to_owned(),
                ns: ns.to_owned(),
                id: parse_id(&id_text, &what).map_err(|e| self.corrupt(e))?,
                parent_id: row
                    .get::<Option<String>, _>(1)
                    .map(|p| parse_id(&p, &what))
                    .transpose()
                    .map_err(|e| self.corrupt(e))?,
                step: row.get(2),
                source: parse_source(&source)
                    .ok_or_else(|| self.corrupt(format!("{}: unknown source {source:?}", what())))?,
                created_at: Timestamp::from_millis(row.get::<i64, _>(4).try_into().unwrap_or(0)),
                metadata: serde_json::from_str(&metadata)
                    .map_err(|e| self.corrupt(format!("{}: metadata: {e}", what())))?,
                channels: parse_channels(&channels_text, &what).map_err(|e| self.corrupt(e))?,
                control: Bytes::from(control),
            };
            checkpoints.push((id_text, checkpoint));
        }

        let heads: BTreeSet<(String, String)> = checkpoints
            .iter()
            .flat_map(|(_, c)| {
                c.channels
                    .iter()
                    .map(|(channel, r)| (channel.clone(), r.head.to_string()))
            })
            .collect();
        let links = self.read_links(connection, thread, ns, &heads).await?;
        let mut writes = self
            .read_writes(connection, thread, ns, checkpoints.iter().map(|(id, _)| id.as_str()))
            .await?;

        checkpoints
            .into_iter()
            .map(|(id_text, checkpoint)| {
                let values = chains(&checkpoint.channels, &links, &id_text).map_err(|e| self.corrupt(e))?;
                let pending_writes = writes.remove(&id_text).unwrap_or_default();
                Ok(CheckpointTuple {
                    checkpoint,
                    values,
                    pending_writes,
                })
            })
            .collect()
    }

    /// Every blob on the chains that start at `heads` (`(channel, checkpoint id)`).
    async fn read_links(
        &self,
        connection: &mut SqliteConnection,
        thread: &str,
        ns: &str,
        heads: &BTreeSet<(String, String)>,
    ) -> Result<Links, StoreError> {
        if heads.is_empty() {
            return Ok(Links::new());
        }
        let heads_json = serde_json::to_string(heads).unwrap_or_else(|_| "[]".into());
        // The recursion walks keys only; the data is joined once at the end.
        let rows = sqlx::query(
            "WITH RECURSIVE keys(channel, cid, delta, prev) AS (
                 SELECT b.channel, b.checkpoint_id, b.delta, b.prev
                 FROM json_each(?3) AS h
                 JOIN blobs AS b ON b.thread_id = ?1 AND b.ns = ?2
                     AND b.channel = json_extract(h.value, '$[0]') AND b.checkpoint_id = json_extract(h.value, '$[1]')
                 UNION
                 SELECT b.channel, b.checkpoint_id, b.delta, b.prev
                 FROM keys AS k JOIN blobs AS b ON b.thread_id = ?1 AND b.ns = ?2
                     AND b.channel = k.channel AND b.checkpoint_id = k.prev
                 WHERE k.delta = 1
             )
             SELECT k.channel, k.cid, k.delta, k.prev, b.data FROM keys AS k
             JOIN blobs AS b ON b.thread_id = ?1 AND b.ns = ?2 AND b.channel = k.channel AND b.checkpoint_id = k.cid",
        )
        .bind(thread)
        .bind(ns)
        .bind(heads_json)
        .fetch_all(&mut *connection)
        .await
        .map_err(|e| self.map(e))?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let data: Vec<u8> = row.get(4);
                (
                    (row.get::<String, _>(1), row.get::<String, _>(0)),
                    Link {
                        delta: row.get::<i64, _>(2) != 0,
                        prev: row.get(3),
                        data: Bytes::from(data),
                    },
                )
            })
            .collect())
    }

    /// The pending writes of these checkpoints, grouped by task in `(task_path, task_id)` order.
    async fn read_writes<'a>(
        &self,
        connection: &mut SqliteConnection,
        thread: &str,
        ns: &str,
        checkpoints: impl Iterator<Item = &'a str>,
    ) -> Result<HashMap<String, Vec<TaskWrites>>, StoreError> {
        let ids: Vec<&str> = checkpoints.collect();
        let ids_json = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
        let rows = sqlx::query(
            "SELECT checkpoint_id, task_id, task_path, node, channel, value FROM writes
             WHERE thread_id = ? AND ns = ? AND checkpoint_id IN (SELECT value FROM json_each(?))
             ORDER BY checkpoint_id, task_path, task_id, idx",
        )
        .bind(thread)
        .bind(ns)
        .bind(ids_json)
        .fetch_all(&mut *connection)
        .await
        .map_err(|e| self.map(e))?;
        let mut writes: HashMap<String, Vec<TaskWrites>> = HashMap::new();
        for row in rows {
            let checkpoint: String = row.get(0);
            let task_text: String = row.get(1);
            let task_id: TaskId = task_text
                .parse()
                .map_err(|e| self.corrupt(format!("a pending write of checkpoint {checkpoint}: {e}")))?;
            let value: Vec<u8> = row.get(5);
            let tasks = writes.entry(checkpoint).or_default();
            match tasks.last_mut() {
                Some(task) if task.task_id == task_id => task.writes.push((row.get(4), Bytes::from(value))),
                _ => tasks.push(TaskWrites {
                    task_id,
                    task_path: row.get(2),
                    node: row.get(3),
                    writes: vec![(row.get(4), Bytes::from(value))],
                }),
            }
        }
        Ok(writes)
    }
}
