//! What a SQLite store holds and runs with, for benchmarks and diagnostics: row counts and byte
//! sizes of its tables ([`RowCounts`]), and SQLite's version, journal mode and `synchronous`
//! ([`SqliteSettings`]). Read-only; each is one statement, so it sees one snapshot.

use sqlx::Row;

use super::SqliteStore;
use crate::error::StoreError;

/// What a SQLite store's tables hold, over every thread and namespace.
///
/// Checkpoints hold bookkeeping only; channel values live in blobs (a full value or one
/// superstep's delta), written with the checkpoint whose superstep changed them. Pending-write
/// rows are deleted when the next checkpoint of their thread is committed, so a thread whose
/// run finished has none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RowCounts {
    /// Checkpoint rows.
    pub checkpoints: u64,
    /// Channel blobs: full values and deltas.
    pub blobs: u64,
    /// The blobs holding a full value (the others are deltas).
    pub full_blobs: u64,
    /// Pending-write rows still stored.
    pub writes: u64,
    /// Bytes of the checkpoints' own columns (metadata, channel heads, control state).
    pub checkpoint_bytes: u64,
    /// Bytes of blob data.
    pub blob_bytes: u64,
    /// Bytes of pending-write values.
    pub write_bytes: u64,
    /// The largest checkpoint: its own columns plus the blobs written with it (what one
    /// superstep's save added to the database, the counterpart of a full-state checkpoint blob).
    pub largest_checkpoint_bytes: u64,
}

/// What SQLite runs with, as one pooled connection reports it (every connection is opened with
/// the same settings).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteSettings {
    /// `sqlite_version()`, e.g. `3.51.3`.
    pub version: String,
    /// `PRAGMA journal_mode`: `wal` for a store.
    pub journal_mode: String,
    /// `PRAGMA synchronous`: 0 off, 1 normal, 2 full, 3 extra.
    pub synchronous: i64,
}

/// The byte length of a column, whether it is stored as text or as a blob (`length` of text
/// counts characters).
macro_rules! bytes_of {
    ($column:literal) => {
        concat!("length(CAST(", $column, " AS BLOB))")
    };
}

const COUNTS: &str = concat!(
    "SELECT
         (SELECT count(*) FROM checkpoints),
         (SELECT count(*) FROM blobs),
         (SELECT count(*) FROM blobs WHERE delta = 0),
         (SELECT count(*) FROM writes),
         (SELECT coalesce(sum(",
    bytes_of!("metadata"),
    " + ",
    bytes_of!("channels"),
    " + ",
    bytes_of!("control"),
    "), 0) FROM checkpoints),
         (SELECT coalesce(sum(",
    bytes_of!("data"),
    "), 0) FROM blobs),
         (SELECT coalesce(sum(",
    bytes_of!("value"),
    "), 0) FROM writes),
         (SELECT coalesce(max(",
    bytes_of!("c.metadata"),
    " + ",
    bytes_of!("c.channels"),
    " + ",
    bytes_of!("c.control"),
    " + coalesce((SELECT sum(",
    bytes_of!("b.data"),
    ") FROM blobs AS b
                  WHERE b.thread_id = c.thread_id AND b.ns = c.ns AND b.checkpoint_id = c.checkpoint_id), 0)), 0)
          FROM checkpoints AS c)"
);

fn count(row: &sqlx::sqlite::SqliteRow, index: usize) -> u64 {
    u64::try_from(row.get::<i64, _>(index)).unwrap_or(0)
}

impl SqliteStore {
    /// Counts the rows and bytes of the store's tables (see [`RowCounts`]).
    pub async fn row_counts(&self) -> Result<RowCounts, StoreError> {
        let row = sqlx::query(COUNTS)
            .fetch_one(&self.inner.pool)
            .await
            .map_err(|e| self.map(e))?;
        Ok(RowCounts {
            checkpoints: count(&row, 0),
            blobs: count(&row, 1),
            full_blobs: count(&row, 2),
            writes: count(&row, 3),
            checkpoint_bytes: count(&row, 4),
            blob_bytes: count(&row, 5),
            write_bytes: count(&row, 6),
            largest_checkpoint_bytes: count(&row, 7),
        })
    }

    /// SQLite's version, journal mode and `synchronous` setting on this store's connections.
    pub async fn settings(&self) -> Result<SqliteSettings, StoreError> {
        // One connection for all three, so the pragmas describe the connection that answered.
        let mut connection = self.inner.pool.acquire().await.map_err(|e| self.map(e))?;
        let version: String = sqlx::query_scalar("SELECT sqlite_version()")
            .fetch_one(&mut *connection)
            .await
            .map_err(|e| self.map(e))?;
        let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *connection)
            .await
            .map_err(|e| self.map(e))?;
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *connection)
            .await
            .map_err(|e| self.map(e))?;
        Ok(SqliteSettings {
            version,
            journal_mode,
            synchronous,
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use lemmings_graph::{
        ChannelData, ChannelRef, Checkpoint, CheckpointId, CheckpointPut, Checkpointer, NewBlob, Source, TaskId,
        TaskWrites, Timestamp,
    };

    use super::RowCounts;
    use crate::{SqliteOptions, SqliteStore};

    const CONTROL: &[u8] = b"{}";

    /// A root checkpoint of thread `t` whose `x` channel is written with it as `data`.
    fn put(id: CheckpointId, parent: Option<CheckpointId>, data: ChannelData) -> CheckpointPut {
        let checkpoint = Checkpoint {
            thread_id: "t".into(),
            ns: String::new(),
            id,
            parent_id: parent,
            step: parent.map_or(-1, |_| 0),
            source: Source::Loop,
            created_at: Timestamp::now(),
            metadata: serde_json::Map::new(),
            channels: [("x".to_owned(), ChannelRef { version: 1, head: id })].into(),
            control: Bytes::from_static(CONTROL),
        };
        CheckpointPut {
            checkpoint,
            blobs: vec![NewBlob {
                channel: "x".into(),
                data,
                prev: parent,
            }],
        }
    }

    /// The bytes of a checkpoint's own columns, as the store serialises them.
    async fn own_bytes(store: &SqliteStore) -> u64 {
        let (metadata, channels): (String, String) =
            sqlx::query_as("SELECT metadata, channels FROM checkpoints ORDER BY checkpoint_id LIMIT 1")
                .fetch_one(&store.inner.pool)
                .await
                .unwrap();
        (metadata.len() + channels.len() + CONTROL.len()) as u64
    }

    #[tokio::test]
    async fn counts_rows_and_bytes_and_sees_superseded_writes_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("stats.db"), SqliteOptions::create())
            .await
            .unwrap();
        assert_eq!(store.row_counts().await.unwrap(), RowCounts::default());

        let first = CheckpointId::new_after(None);
        store
            .put(
                put(first, None, ChannelData::Full(Bytes::from_static(b"1234567890"))),
                Vec::new(),
            )
            .await
            .unwrap();
        let writes = TaskWrites {
            task_id: TaskId::derive(Some(first), "", 0, "a"),
            task_path: "a".into(),
            node: "a".into(),
            writes: vec![
                ("x".into(), Bytes::from_static(b"42")),
                ("y".into(), Bytes::from_static(b"7")),
            ],
        };
        store.put_writes("t", "", first, vec![writes]).await.unwrap();
        let own = own_bytes(&store).await;
        let counts = store.row_counts().await.unwrap();
        assert_eq!(
            counts,
            RowCounts {
                checkpoints: 1,
                blobs: 1,
                full_blobs: 1,
                writes: 2,
                checkpoint_bytes: own,
                blob_bytes: 10,
                write_bytes: 3,
                largest_checkpoint_bytes: own + 10,
            }
        );

        // The child checkpoint (a 3-byte delta) supersedes the first one's pending writes.
        let second = CheckpointId::new_after(Some(first));
        store
            .put(
                put(second, Some(first), ChannelData::Delta(Bytes::from_static(b"[1]"))),
                Vec::new(),
            )
            .await
            .unwrap();
        let counts = store.row_counts().await.unwrap();
        assert_eq!(
            (
                counts.checkpoints,
                counts.blobs,
                counts.full_blobs,
                counts.writes,
                counts.write_bytes
            ),
            (2, 2, 1, 0, 0)
        );
        assert_eq!(counts.blob_bytes, 13);
        assert!(counts.checkpoint_bytes > own, "{counts:?}");
        assert!(counts.largest_checkpoint_bytes >= own + 10, "{counts:?}");
        store.close().await;
    }

    #[tokio::test]
    async fn settings_report_wal_and_full_synchronous_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("settings.db"), SqliteOptions::create())
            .await
            .unwrap();
        let settings = store.settings().await.unwrap();
        assert_eq!(settings.journal_mode, "wal");
        assert_eq!(settings.synchronous, 2);
        assert!(settings.version.starts_with("3."), "{settings:?}");
        store.close().await;
    }
}
