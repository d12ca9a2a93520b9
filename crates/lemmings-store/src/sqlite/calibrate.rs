//! Calibration for benchmarks: the disk's commit floor ([`commit_floor`]) measured through the
//! SQLite build and driver the store uses, and that build's version ([`sqlite_version`]).
//!
//! Checkpointed timings are dominated by fsync'd commits, whose cost moves by an order of
//! magnitude from one day (or minute) to the next on a shared disk; dividing them by the floor
//! measured in the same sitting makes runs comparable. This lives here because this crate is
//! the only one that talks SQL.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection};

use super::open::map_error;
use crate::error::{Location, StoreError};

/// What [`commit_floor`] measured.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommitFloor {
    /// Wall time of the timed commits (the warm-up ones excluded).
    pub elapsed: Duration,
    /// How many commits were timed.
    pub commits: usize,
    /// `PRAGMA synchronous` the commits ran with: SQLite's default, 2 (full).
    pub synchronous: i64,
    /// `PRAGMA journal_mode`: `wal`.
    pub journal_mode: String,
    /// `sqlite_version()`.
    pub sqlite_version: String,
}

impl CommitFloor {
    /// The mean time of one commit.
    pub fn per_commit(&self) -> Duration {
        self.elapsed / u32::try_from(self.commits.max(1)).unwrap_or(u32::MAX)
    }
}

/// Untimed commits before the timed ones (page cache, WAL file growth).
const WARM_UP: usize = 10;

/// Measures the commit floor on a fresh database file at `path` (which must not exist): WAL
/// journal, `synchronous` left at SQLite's default (full: every commit fsyncs the WAL), a table
/// `t(id INTEGER PRIMARY KEY, b BLOB)`; 10 untimed, then `commits` timed iterations of "insert
/// one row holding `blob_bytes` bytes of `x`, commit", on one connection. The file is left in
/// place (with its `-wal` and `-shm` removed by closing); the caller owns its directory.
pub async fn commit_floor(
    path: impl AsRef<Path>,
    commits: usize,
    blob_bytes: usize,
) -> Result<CommitFloor, StoreError> {
    let path = path.as_ref();
    let location = Location(path.display().to_string());
    if path.exists() {
        return Err(StoreError::Invalid(format!(
            "{location} already exists; the commit floor is measured on a fresh file"
        )));
    }
    // The default busy timeout: nothing else opens this file.
    let map = |e| map_error(e, &location, Duration::from_secs(5));
    let mut connection = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .connect()
        .await
        .map_err(map)?;
    let result = async {
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)")
            .execute(&mut connection)
            .await
            .map_err(map)?;
        let blob = vec![b'x'; blob_bytes];
        // Outside an explicit transaction every INSERT is its own committed transaction.
        for _ in 0..WARM_UP {
            sqlx::query("INSERT INTO t (b) VALUES (?)")
                .bind(&blob)
                .execute(&mut connection)
                .await
                .map_err(map)?;
        }
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut connection)
            .await
            .map_err(map)?;
        let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut connection)
            .await
            .map_err(map)?;
        let sqlite_version: String = sqlx::query_scalar("SELECT sqlite_version()")
            .fetch_one(&mut connection)
            .await
            .map_err(map)?;
        let started = Instant::now();
        for _ in 0..commits {
            sqlx::query("INSERT INTO t (b) VALUES (?)")
                .bind(&blob)
                .execute(&mut connection)
                .await
                .map_err(map)?;
        }
        Ok(CommitFloor {
            elapsed: started.elapsed(),
            commits,
            synchronous,
            journal_mode,
            sqlite_version,
        })
    }
    .await;
    let closed = connection.close().await.map_err(map);
    let floor = result?;
    closed?;
    Ok(floor)
}

/// The version of the SQLite library the store is built with (asked of an in-memory database).
pub async fn sqlite_version() -> Result<String, StoreError> {
    let location = Location(":memory:".into());
    let map = |e| map_error(e, &location, Duration::from_secs(5));
    let mut connection = SqliteConnectOptions::new()
        .filename(":memory:")
        .connect()
        .await
        .map_err(map)?;
    let version = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut connection)
        .await
        .map_err(map);
    let _ = connection.close().await;
    version
}

#[cfg(test)]
mod tests {
    use super::{commit_floor, sqlite_version};

    #[tokio::test]
    async fn commit_floor_commits_every_row_on_a_fresh_wal_file_with_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("floor.db");
        let floor = commit_floor(&path, 5, 4096).await.unwrap();
        assert_eq!(floor.commits, 5);
        assert_eq!(floor.journal_mode, "wal");
        assert_eq!(floor.synchronous, 2);
        assert_eq!(floor.sqlite_version, sqlite_version().await.unwrap());
        // 10 warm-up rows + 5 timed rows of 4 KiB each are in the file after closing.
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size >= 15 * 4096, "{size}");
        assert!(!dir.path().join("floor.db-wal").exists());

        let error = commit_floor(&path, 1, 1).await.expect_err("the file exists");
        assert!(error.to_string().contains("already exists"), "{error}");
    }
}
