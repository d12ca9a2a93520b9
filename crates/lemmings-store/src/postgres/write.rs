//! Write statements: a checkpoint with its blobs (superseding its parent's pending writes and
//! recording the effects of the last tasks), a task's pending writes, or an effect's intent,
//! each as ONE statement of data-modifying CTEs, so a commit costs one round trip whatever the
//! number of rows (rows travel as arrays and come apart with `UNNEST`).
//!
//! The statement's first CTE, `fence`, is the lease check. For a thread this store holds, it
//! renews the heartbeat at the lease's epoch (`UPDATE … RETURNING`); for any other thread it
//! passes only while no unreleased lease (other than one already judged dead) exists. The
//! second, `go`, adds the statement's precondition (e.g. the parent checkpoint exists). Every
//! insert and delete is conditional on `go` having a row, and the statement returns whether
//! `fence` and `go` had one: a lost fence writes nothing, in the same round trip. A single
//! statement is atomic on its own, so no `BEGIN`/`COMMIT` round trips are needed either.

use std::collections::HashMap;

use bytes::Bytes;
use lemmings_graph::{ChannelData, Checkpoint, NewBlob, TaskWrites, special};
use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::Query;

use crate::error::StoreError;
use crate::rows::{channels_json, metadata_json, millis};

/// Milliseconds since the Unix epoch by the database's clock, which every machine shares.
pub(crate) const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// How a write is fenced by the thread's lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Guard {
    /// This store holds the lease at this epoch.
    Held(i64),
    /// This store does not hold the lease; an unreleased lease at this epoch was judged dead
    /// (-1: none was).
    Free(i64),
}

/// A bound parameter.
#[derive(Debug)]
enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    /// Shared with the caller's values, never copied (bound as slices).
    Bytes(Bytes),
    Texts(Vec<String>),
    OptTexts(Vec<Option<String>>),
    Bools(Vec<bool>),
    Blobs(Vec<Bytes>),
}

/// One write statement for one thread's namespace: `$1` is the thread, `$2` the namespace, `$3`
/// the guard's epoch; the CTEs after `fence` number their own parameters from `$4`.
#[derive(Debug)]
pub(crate) struct Statement {
    ctes: Vec<String>,
    args: Vec<Arg>,
    /// A condition the write needs besides the fence (SQL over the parameters).
    precondition: Option<String>,
}

/// A pending-write row, before it becomes a column of the arrays.
struct WriteRow<'a> {
    task_id: &'a str,
    task_path: &'a str,
    node: &'a str,
    channel: &'a str,
    value: &'a Bytes,
}

impl Statement {
    pub(crate) fn new() -> Statement {
        Statement {
            ctes: Vec::new(),
            args: Vec::new(),
            precondition: None,
        }
    }

    fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len() + 3)
    }

    fn cte(&mut self, name: &str, body: String) {
        self.ctes.push(format!("{name} AS ({body})"));
    }

    /// Inserts (or replaces) a checkpoint and its blobs.
    pub(crate) fn checkpoint(&mut self, checkpoint: &Checkpoint, blobs: &[NewBlob]) -> Result<(), StoreError> {
        let channels = channels_json(&checkpoint.channels)?;
        let metadata = metadata_json(checkpoint)?;
        let id = self.arg(Arg::Text(checkpoint.id.to_string()));
        let values = [
            self.arg(Arg::OptText(checkpoint.parent_id.map(|p| p.to_string()))),
            self.arg(Arg::Int(checkpoint.step)),
            self.arg(Arg::Text(checkpoint.source.as_str().to_owned())),
            self.arg(Arg::Int(millis(checkpoint.created_at))),
            format!("{}::jsonb", self.arg(Arg::Text(metadata))),
            format!("{}::jsonb", self.arg(Arg::Text(channels))),
            self.arg(Arg::Bytes(checkpoint.control.clone())),
        ]
        .join(", ");
        self.cte(
            "cp",
            format!(
                "INSERT INTO checkpoints
                 (thread_id, ns, checkpoint_id, parent_id, step, source, created_at, metadata, channels, control)
                 SELECT $1, $2, {id}, {values} WHERE EXISTS (SELECT 1 FROM go)
                 ON CONFLICT (thread_id, ns, checkpoint_id) DO UPDATE SET parent_id = EXCLUDED.parent_id,
                     step = EXCLUDED.step, source = EXCLUDED.source, created_at = EXCLUDED.created_at,
                     metadata = EXCLUDED.metadata, channels = EXCLUDED.channels, control = EXCLUDED.control"
            ),
        );
        // A channel's blob is written once per checkpoint; the last one given wins, as with
        // SQLite's INSERT OR REPLACE (one statement cannot upsert the same row twice).
        let mut latest: HashMap<&str, usize> = HashMap::new();
        for (index, blob) in blobs.iter().enumerate() {
            latest.insert(blob.channel.as_str(), index);
        }
        let mut kept: Vec<&NewBlob> = latest.into_values().map(|i| &blobs[i]).collect();
        kept.sort_by(|a, b| a.channel.cmp(&b.channel));
        let (mut channel, mut delta, mut prev, mut data) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for blob in kept {
            let (is_delta, bytes) = match &blob.data {
                ChannelData::Full(bytes) => (false, bytes),
                ChannelData::Delta(bytes) => (true, bytes),
            };
            channel.push(blob.channel.clone());
            delta.push(is_delta);
            prev.push(blob.prev.filter(|_| is_delta).map(|p| p.to_string()));
            data.push(bytes.clone());
        }
        let columns = [
            format!("{}::text[]", self.arg(Arg::Texts(channel))),
            format!("{}::bool[]", self.arg(Arg::Bools(delta))),
            format!("{}::text[]", self.arg(Arg::OptTexts(prev))),
            format!("{}::bytea[]", self.arg(Arg::Blobs(data))),
        ]
        .join(", ");
        self.cte(
            "bl",
            format!(
                "INSERT INTO blobs (thread_id, ns, checkpoint_id, channel, delta, prev, data)
                 SELECT $1, $2, {id}, b.channel, b.delta, b.prev, b.data
                 FROM UNNEST({columns}) AS b(channel, delta, prev, data) WHERE EXISTS (SELECT 1 FROM go)
                 ON CONFLICT (thread_id, ns, checkpoint_id, channel) DO UPDATE SET
                     delta = EXCLUDED.delta, prev = EXCLUDED.prev, data = EXCLUDED.data"
            ),
        );
        Ok(())
    }

    /// Adds tasks' writes against `checkpoint` (a state channel keeps its first value per task,
    /// a special channel its last) and records the effects they applied.
    pub(crate) fn writes(&mut self, thread: &str, checkpoint: &str, tasks: &[TaskWrites]) -> Result<(), StoreError> {
        // First wins for state channels, last wins for special ones, within this call too: one
        // statement may not upsert a row twice, so duplicates are settled here, each row keeping
        // the place of its first appearance (as sequential upserts would).
        let task_ids: Vec<String> = tasks.iter().map(|task| task.task_id.to_string()).collect();
        let mut rows: Vec<WriteRow<'_>> = Vec::new();
        let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
        for (task, task_id) in tasks.iter().zip(&task_ids) {
            for (channel, value) in &task.writes {
                match seen.get(&(task_id.as_str(), channel.as_str())) {
                    Some(&at) if special::is_special(channel) => rows[at].value = value,
                    Some(_) => {}
                    None => {
                        seen.insert((task_id, channel), rows.len());
                        rows.push(WriteRow {
                            task_id,
                            task_path: &task.task_path,
                            node: &task.node,
                            channel,
                            value,
                        });
                    }
                }
            }
        }
        let checkpoint = self.arg(Arg::Text(checkpoint.to_owned()));
        let columns = [
            format!(
                "{}::text[]",
                self.arg(Arg::Texts(rows.iter().map(|r| r.task_id.to_owned()).collect()))
            ),
            format!(
                "{}::text[]",
                self.arg(Arg::Texts(rows.iter().map(|r| r.task_path.to_owned()).collect()))
            ),
            format!(
                "{}::text[]",
                self.arg(Arg::Texts(rows.iter().map(|r| r.node.to_owned()).collect()))
            ),
            format!(
                "{}::text[]",
                self.arg(Arg::Texts(rows.iter().map(|r| r.channel.to_owned()).collect()))
            ),
            format!(
                "{}::bytea[]",
                self.arg(Arg::Blobs(rows.iter().map(|r| r.value.clone()).collect()))
            ),
        ]
        .join(", ");
        // Inserted in arrival order, so `seq` (an identity) keeps it for reads; on conflict a
        // state channel keeps its first value and a special one (`__name__`) takes the new one.
        self.cte(
            "wr",
            format!(
                "INSERT INTO writes (thread_id, ns, checkpoint_id, task_id, task_path, node, channel, value)
                 SELECT $1, $2, {checkpoint}, w.task_id, w.task_path, w.node, w.channel, w.value
                 FROM UNNEST({columns}) WITH ORDINALITY AS w(task_id, task_path, node, channel, value, ord)
                 WHERE EXISTS (SELECT 1 FROM go)
                 ORDER BY w.ord
                 ON CONFLICT (thread_id, ns, checkpoint_id, task_id, channel) DO UPDATE SET value = CASE
                     WHEN left(EXCLUDED.channel, 2) = '__' AND right(EXCLUDED.channel, 2) = '__' THEN EXCLUDED.value
                     ELSE writes.value END"
            ),
        );
        self.effects(thread, tasks)
    }

    /// Records the effects that tasks applied (their `__effects__` writes) in the ledger.
    pub(crate) fn effects(&mut self, thread: &str, tasks: &[TaskWrites]) -> Result<(), StoreError> {
        // The last result of a key wins, as sequential upserts would have it.
        let mut effects: Vec<(String, Bytes)> = Vec::new();
        for task in tasks {
            let applied = task.effects().map_err(|e| {
                StoreError::Invalid(format!("effects of task {} of thread {thread}: {e}", task.task_id))
            })?;
            for (key, result) in applied {
                let result = Bytes::from(serde_json::to_vec(&result).unwrap_or_default());
                match effects.iter_mut().find(|(k, _)| *k == key) {
                    Some(existing) => existing.1 = result,
                    None => effects.push((key, result)),
                }
            }
        }
        let (keys, results): (Vec<String>, Vec<Bytes>) = effects.into_iter().unzip();
        let keys = self.arg(Arg::Texts(keys));
        let results = self.arg(Arg::Blobs(results));
        self.cte(
            "ef",
            format!(
                "INSERT INTO effects (thread_id, key, applied, description, result, updated_at)
                 SELECT $1, e.key, TRUE, '', e.result, {NOW_MS}
                 FROM UNNEST({keys}::text[], {results}::bytea[]) AS e(key, result) WHERE EXISTS (SELECT 1 FROM go)
                 ON CONFLICT (thread_id, key) DO UPDATE SET
                     applied = TRUE, result = EXCLUDED.result, updated_at = EXCLUDED.updated_at"
            ),
        );
        Ok(())
    }

    /// Deletes the pending writes of `parent`, which the checkpoint being put supersedes (their
    /// effect is in it; resume, replay and forks never read a superseded checkpoint's writes).
    /// With `must_exist`, the whole statement writes nothing unless the parent is saved.
    pub(crate) fn supersede(&mut self, parent: &str, must_exist: bool) {
        let parent = self.arg(Arg::Text(parent.to_owned()));
        self.cte(
            "sp",
            format!(
                "DELETE FROM writes WHERE thread_id = $1 AND ns = $2 AND checkpoint_id = {parent}
                 AND EXISTS (SELECT 1 FROM go)"
            ),
        );
        if must_exist {
            self.precondition = Some(format!(
                "EXISTS (SELECT 1 FROM checkpoints WHERE thread_id = $1 AND ns = $2 AND checkpoint_id = {parent})"
            ));
        }
    }

    /// Records that a side effect is about to be applied, unless the ledger already knows it.
    pub(crate) fn intent(&mut self, key: &str, description: &str) {
        let key = self.arg(Arg::Text(key.to_owned()));
        let description = self.arg(Arg::Text(description.to_owned()));
        self.cte(
            "it",
            format!(
                "INSERT INTO effects (thread_id, key, applied, description, result, updated_at)
                 SELECT $1, {key}, FALSE, {description}, NULL, {NOW_MS} WHERE EXISTS (SELECT 1 FROM go)
                 ON CONFLICT (thread_id, key) DO NOTHING"
            ),
        );
    }

    /// The SQL under `guard`, with its parameters bound; it returns two booleans: whether the
    /// fence held, and whether the precondition did too (and so whether anything was written).
    pub(crate) fn query<'a>(&'a self, thread: &'a str, ns: &'a str, guard: Guard) -> Query<'a, Postgres, PgArguments> {
        let (fence, epoch) = match guard {
            Guard::Held(epoch) => (
                format!(
                    "UPDATE leases SET heartbeat_at = {NOW_MS}
                     WHERE thread_id = $1 AND epoch = $3 AND NOT released RETURNING 1"
                ),
                epoch,
            ),
            Guard::Free(epoch) => (
                "SELECT 1 WHERE NOT EXISTS
                 (SELECT 1 FROM leases WHERE thread_id = $1 AND NOT released AND epoch <> $3)"
                    .to_owned(),
                epoch,
            ),
        };
        let precondition = self.precondition.as_deref().unwrap_or("TRUE");
        let mut sql = format!("WITH fence AS ({fence}),\ngo AS (SELECT 1 FROM fence WHERE {precondition})");
        for cte in &self.ctes {
            sql.push_str(",\n");
            sql.push_str(cte);
        }
        sql.push_str("\nSELECT EXISTS (SELECT 1 FROM fence), EXISTS (SELECT 1 FROM go)");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(thread).bind(ns).bind(epoch);
        for arg in &self.args {
            query = match arg {
                Arg::Text(value) => query.bind(value),
                Arg::OptText(value) => query.bind(value),
                Arg::Int(value) => query.bind(value),
                Arg::Bytes(value) => query.bind(value.as_ref()),
                Arg::Texts(value) => query.bind(value),
                Arg::OptTexts(value) => query.bind(value),
                Arg::Bools(value) => query.bind(value),
                Arg::Blobs(value) => query.bind(value.iter().map(Bytes::as_ref).collect::<Vec<&[u8]>>()),
            };
        }
        query
    }
}
