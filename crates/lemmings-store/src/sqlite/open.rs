//! Opening a SQLite database safely: refuse a missing directory or file (unless asked to
//! create it), a damaged file (before anything writes to it), a read-only one, or a schema from
//! a newer Lemmings; then WAL, an explicit `synchronous`, a busy timeout, and the migrations.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row};

use crate::error::{Location, StoreError};

/// The embedded, forward-only migrations of `migrations/sqlite/`.
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How hard SQLite works to keep a commit across a power loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Every commit fsyncs the WAL: a commit survives power loss (if the disk honours fsync).
    #[default]
    Full,
    /// The WAL is synced at checkpoints only: a commit survives a process crash, but the last
    /// few may roll back on power loss. Faster.
    Normal,
}

/// How to open a SQLite store.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// Create the database file if it does not exist (otherwise a missing file is an error).
    pub create: bool,
    /// With `create`, also create missing parent directories.
    pub create_dirs: bool,
    /// `PRAGMA synchronous`.
    pub synchronous: Synchronous,
    /// How long a write waits for another process's write lock before failing as busy.
    pub busy_timeout: Duration,
    /// Run `PRAGMA quick_check` on an existing file before using it.
    pub verify: bool,
    /// How long a lease held by a process on another host lives without a heartbeat (a holder
    /// on this host is checked directly, so a dead one is taken over at once).
    pub lease_ttl: Duration,
    /// Connections in the pool.
    pub max_connections: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            create: false,
            create_dirs: false,
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            verify: true,
            lease_ttl: Duration::from_secs(30),
            max_connections: 4,
        }
    }
}

impl SqliteOptions {
    /// Options that create the file (and its directories) when missing.
    pub fn create() -> Self {
        SqliteOptions {
            create: true,
            create_dirs: true,
            ..SqliteOptions::default()
        }
    }
}

/// Maps a driver error to a store error naming the database.
pub(crate) fn map_error(error: sqlx::Error, location: &Location, busy_timeout: Duration) -> StoreError {
    let location = location.clone();
    match &error {
        sqlx::Error::Database(db) => {
            let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
            let reason = db.message().to_owned();
            match code & 0xff {
                5 | 6 => StoreError::Busy {
                    location,
                    waited_ms: u64::try_from(busy_timeout.as_millis()).unwrap_or(u64::MAX),
                },
                8 => StoreError::ReadOnly { location, reason },
                11 | 26 => StoreError::Corrupt { location, reason },
                13 => StoreError::Unavailable {
                    location,
                    reason: format!("the disk is full ({reason})"),
                },
                10 | 14 => StoreError::Unavailable { location, reason },
                _ => StoreError::Database { location, reason },
            }
        }
        sqlx::Error::Io(io) => StoreError::Unavailable {
            location,
            reason: io.to_string(),
        },
        sqlx::Error::PoolTimedOut => StoreError::Busy {
            location,
            waited_ms: 30_000,
        },
        _ => StoreError::Database {
            location,
            reason: error.to_string(),
        },
    }
}

/// Checks the file's header without going through SQLite, so a file that is not a database
/// (or was cut short) is refused before SQLite could rewrite it.
fn check_header(path: &Path, location: &Location) -> Result<(), StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        location: location.clone(),
        reason,
    };
    let mut file = std::fs::File::open(path).map_err(|e| StoreError::Unavailable {
        location: location.clone(),
        reason: format!("cannot read it: {e}"),
    })?;
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    if length == 0 {
        return Err(corrupt("the file is empty".into()));
    }
    let mut header = [0u8; 100];
    let read = file.read(&mut header).unwrap_or(0);
    if read < 100 {
        return Err(corrupt(format!(
            "the file is truncated ({length} bytes; a SQLite header alone has 100)"
        )));
    }
    if &header[..16] != b"SQLite format 3\0" {
        return Err(corrupt("it is not a SQLite database (the header is wrong)".into()));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        size => u64::from(size),
    };
    let pages = u64::from(u32::from_be_bytes([header[28], header[29], header[30], header[31]]));
    // The in-header size counts only when the change counter matches "version valid for", and
    // only without a -wal: a checkpoint cut short writes page 1 before the rest, which the WAL
    // still holds.
    let size_valid = header[24..28] == header[92..96] && self::length(&sidecar(path, "-wal")) == 0;
    if size_valid && pages > 0 && length < page_size * pages {
        return Err(corrupt(format!(
            "the file is truncated ({length} bytes; its header says {} pages of {page_size} bytes)",
            pages
        )));
    }
    Ok(())
}

/// Refuses a file or directory marked read-only: the mark is honoured even for root, who could
/// write anyway.
fn check_writable(path: &Path, directory: &Path, location: &Location) -> Result<(), StoreError> {
    let readonly = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().readonly())
            .unwrap_or(false)
    };
    if readonly(path) {
        return Err(StoreError::ReadOnly {
            location: location.clone(),
            reason: "the file is marked read-only".into(),
        });
    }
    if readonly(directory) {
        return Err(StoreError::ReadOnly {
            location: location.clone(),
            reason: format!(
                "directory {} is read-only, and SQLite needs to create its -wal and -shm files there",
                directory.display()
            ),
        });
    }
    Ok(())
}

/// The path of a file SQLite keeps beside the database (`-wal`, `-shm`, `-journal`).
fn sidecar(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

fn length(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Refuses a `-wal` file that is not a WAL (SQLite would silently ignore it, and delete it).
fn check_wal(path: &Path, location: &Location) -> Result<(), StoreError> {
    let wal = sidecar(path, "-wal");
    if length(&wal) == 0 {
        return Ok(());
    }
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(&wal).and_then(|mut f| f.read_exact(&mut magic));
    match (read, u32::from_be_bytes(magic)) {
        (Ok(()), 0x377f_0682 | 0x377f_0683) => Ok(()),
        _ => Err(StoreError::Corrupt {
            location: location.clone(),
            reason: format!("its write-ahead log {} is not a SQLite WAL file", wal.display()),
        }),
    }
}

/// What an existing file holds, read on a read-only connection (so nothing is written to a
/// damaged or foreign file): `quick_check` (when asked), and the schema: another program's
/// tables, or migrations newer than this build's, are refused before the file is switched to WAL.
async fn inspect(path: &Path, location: &Location, verify: bool, busy_timeout: Duration) -> Result<(), StoreError> {
    // A hot rollback journal (a crash mid-write before the file was switched to WAL) needs a
    // writer to roll it back; that recovery is SQLite's own and loses nothing committed.
    let hot_journal = length(&sidecar(path, "-journal")) > 0;
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(!hot_journal)
        .busy_timeout(busy_timeout);
    let map = |e| map_error(e, location, busy_timeout);
    let mut connection = options.connect().await.map_err(map)?;
    let result = async {
        if verify {
            let rows = sqlx::query("PRAGMA quick_check")
                .fetch_all(&mut connection)
                .await
                .map_err(map)?;
            let messages: Vec<String> = rows.iter().filter_map(|r| r.try_get::<String, _>(0).ok()).collect();
            if !messages.is_empty() && messages != ["ok"] {
                return Err(StoreError::Corrupt {
                    location: location.clone(),
                    reason: format!(
                        "integrity check failed: {}",
                        messages.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
                    ),
                });
            }
        }
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                .fetch_all(&mut connection)
                .await
                .map_err(map)?;
        if tables.iter().any(|t| t == "_sqlx_migrations") {
            let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
                .fetch_one(&mut connection)
                .await
                .map_err(map)?;
            let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
            if let Some(found) = found.filter(|found| *found > known) {
                return Err(StoreError::TooNew {
                    location: location.clone(),
                    found,
                    known,
                });
            }
        } else if !tables.is_empty() {
            return Err(StoreError::Corrupt {
                location: location.clone(),
                reason: format!(
                    "it is a SQLite database of another program (tables: {})",
                    tables.join(", ")
                ),
            });
        }
        Ok(())
    }
    .await;
    let _ = connection.close().await;
    result
}

/// Applies the embedded migrations. Another process may be applying the same migration right
/// now (sqlx's SQLite migrator takes no lock): its tables then already exist here, and once it
/// has committed, running again finds the migration applied.
async fn migrate(pool: &SqlitePool, location: &Location, busy_timeout: Duration) -> Result<(), StoreError> {
    let mut result = MIGRATOR.run(pool).await;
    for _ in 0..3 {
        match &result {
            Err(MigrateError::ExecuteMigration(..) | MigrateError::Execute(..)) => result = MIGRATOR.run(pool).await,
            _ => break,
        }
    }
    result.map_err(|error| match error {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => map_error(e, location, busy_timeout),
        MigrateError::VersionMismatch(version) => StoreError::Migration {
            location: location.clone(),
            reason: format!("migration {version} was changed after it was applied"),
        },
        other => StoreError::Migration {
            location: location.clone(),
            reason: other.to_string(),
        },
    })
}

/// Opens (or creates) the database at `path`: see the module documentation for the checks.
pub(crate) async fn open_pool(path: &Path, options: &SqliteOptions) -> Result<(SqlitePool, Location), StoreError> {
    let location = Location(path.display().to_string());
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !directory.is_dir() {
        if options.create && options.create_dirs {
            std::fs::create_dir_all(directory).map_err(|e| StoreError::Unavailable {
                location: location.clone(),
                reason: format!("cannot create directory {}: {e}", directory.display()),
            })?;
        } else {
            return Err(StoreError::MissingDirectory {
                location,
                directory: directory.display().to_string(),
            });
        }
    }
    let existed = match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(StoreError::Invalid(format!(
                "{location} is a directory, not a database file"
            )));
        }
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            return Err(StoreError::Unavailable {
                location,
                reason: e.to_string(),
            });
        }
    };
    if !existed && !options.create {
        return Err(StoreError::NotFound { location });
    }
    // An empty file is what a crash while creating the database leaves (or a concurrent
    // creator that has not written yet): with `create` there is nothing to lose.
    let existed = existed && !(options.create && length(path) == 0);
    if existed {
        check_header(path, &location)?;
        check_wal(path, &location)?;
    }
    check_writable(path, directory, &location)?;
    if existed {
        inspect(path, &location, options.verify, options.busy_timeout).await?;
    }
    let synchronous = match options.synchronous {
        Synchronous::Full => SqliteSynchronous::Full,
        Synchronous::Normal => SqliteSynchronous::Normal,
    };
    let connect = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(options.create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .busy_timeout(options.busy_timeout)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .connect_with(connect)
        .await
        .map_err(|e| map_error(e, &location, options.busy_timeout))?;
    if let Err(error) = migrate(&pool, &location, options.busy_timeout).await {
        // Closing now removes the -wal and -shm the pool made, before the caller exits.
        pool.close().await;
        return Err(error);
    }
    Ok((pool, location))
}
