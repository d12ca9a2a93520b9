//! Connecting to PostgreSQL safely: one direct connection first (so a refused connection, an
//! unknown host or a wrong password is reported at once and precisely, instead of after the
//! pool's retries), a refusal of schemas from a newer Lemmings or of another program's tables,
//! the embedded migrations, then a lazily filled pool. Also: driver errors as [`StoreError`]s
//! that name the database by its redacted URL.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use super::url::{is_postgres_url, passwords, redact_url, scrub};
use crate::error::{Location, StoreError};

/// The embedded, forward-only migrations of `migrations/postgres/`.
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// How to connect to a PostgreSQL store.
///
/// To share one database with other programs, give Lemmings a schema of its own in the URL:
/// `postgres://…/db?options=-c%20search_path%3Dlemmings` (the schema must exist).
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// Connections in the pool.
    pub max_connections: u32,
    /// How long connecting (the first connection, and any later wait for a pooled one) may take
    /// before the store reports the database unavailable.
    pub connect_timeout: Duration,
    /// How long a statement waits for a row lock held by another transaction before failing as
    /// busy (PostgreSQL's `lock_timeout`).
    pub lock_timeout: Duration,
    /// How long a lease lives without a heartbeat when its holder runs on another machine (a
    /// holder on this machine is checked directly, so a dead one is taken over at once). The
    /// holder renews its heartbeat every third of this.
    pub lease_ttl: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 8,
            connect_timeout: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(5),
            lease_ttl: Duration::from_secs(30),
        }
    }
}

/// What turns driver errors into store errors: the redacted location, the passwords to scrub
/// from any text a driver returns, and the timeouts a message reports.
#[derive(Clone)]
pub(crate) struct Mapper {
    pub(crate) location: Location,
    secrets: Vec<String>,
    lock_timeout: Duration,
    connect_timeout: Duration,
}

impl std::fmt::Debug for Mapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapper")
            .field("location", &self.location.0)
            .finish_non_exhaustive()
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `Connection refused (os error 111)` → `connection refused (os error 111)`.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl Mapper {
    pub(crate) fn new(url: &str, options: &PostgresOptions) -> Mapper {
        Mapper {
            location: Location(redact_url(url)),
            secrets: passwords(url),
            lock_timeout: options.lock_timeout,
            connect_timeout: options.connect_timeout,
        }
    }

    fn scrub(&self, text: &str) -> String {
        scrub(text, &self.secrets)
    }

    /// A driver error as a store error naming the database. See PostgreSQL's appendix
    /// "Error Codes" for the SQLSTATEs.
    pub(crate) fn map(&self, error: sqlx::Error) -> StoreError {
        let location = self.location.clone();
        match &error {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                let reason = self.scrub(db.message());
                match code.as_str() {
                    // Serialization failure, deadlock, lock timeout: another transaction won.
                    "40001" | "40P01" => StoreError::Busy { location, waited_ms: 0 },
                    "55P03" => StoreError::Busy {
                        location,
                        waited_ms: millis(self.lock_timeout),
                    },
                    "28P01" | "28000" => StoreError::Unavailable {
                        location,
                        reason: format!("{reason}; check the user and password of the URL"),
                    },
                    "3D000" => StoreError::Unavailable {
                        location,
                        reason: format!("{reason}; create it first (createdb) or fix the URL"),
                    },
                    "53100" => StoreError::Unavailable {
                        location,
                        reason: format!("the disk is full ({reason})"),
                    },
                    "53300" | "57P01" | "57P02" | "57P03" => StoreError::Unavailable { location, reason },
                    c if c.starts_with("08") => StoreError::Unavailable { location, reason },
                    "25006" => StoreError::ReadOnly {
                        location,
                        reason: format!("{reason} (is this a standby server?)"),
                    },
                    "42501" => StoreError::ReadOnly {
                        location,
                        reason: format!("{reason}; grant the role access to the lemmings tables"),
                    },
                    "XX001" | "XX002" => StoreError::Corrupt { location, reason },
                    _ => StoreError::Database {
                        location,
                        reason: format!("{reason} (sqlstate {code})"),
                    },
                }
            }
            sqlx::Error::Io(io) => StoreError::Unavailable {
                location,
                reason: match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => {
                        "connection refused: is the server running and listening there?".to_owned()
                    }
                    _ => lowercase_first(&self.scrub(&io.to_string())),
                },
            },
            sqlx::Error::Tls(tls) => StoreError::Unavailable {
                location,
                reason: format!("tls: {}", self.scrub(&tls.to_string())),
            },
            sqlx::Error::PoolTimedOut => StoreError::Unavailable {
                location,
                reason: format!(
                    "no connection within {} ms: the server is down, unreachable or out of connections; retry later",
                    millis(self.connect_timeout)
                ),
            },
            sqlx::Error::PoolClosed => StoreError::Unavailable {
                location,
                reason: "the store was closed".to_owned(),
            },
            sqlx::Error::Configuration(e) => StoreError::Invalid(format!("{location}: {}", self.scrub(&e.to_string()))),
            _ => StoreError::Database {
                location,
                reason: self.scrub(&error.to_string()),
            },
        }
    }

    fn map_migrate(&self, error: MigrateError) -> StoreError {
        match error {
            MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => self.map(e),
            MigrateError::VersionMismatch(version) => StoreError::Migration {
                location: self.location.clone(),
                reason: format!("migration {version} was changed after it was applied (or belongs to another program)"),
            },
            MigrateError::Dirty(version) => StoreError::Migration {
                location: self.location.clone(),
                reason: format!("migration {version} was left half-applied; restore the database from a backup"),
            },
            other => StoreError::Migration {
                location: self.location.clone(),
                reason: self.scrub(&other.to_string()),
            },
        }
    }
}

/// Refuses a schema newer than this build's and a schema holding another program's tables;
/// then migrates. sqlx's migrator serializes concurrent migrations with an advisory lock, so
/// several machines may open a new database at once.
async fn migrate(connection: &mut PgConnection, mapper: &Mapper) -> Result<(), StoreError> {
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
            .fetch_all(&mut *connection)
            .await
            .map_err(|e| mapper.map(e))?;
    let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    if tables.iter().any(|t| t == "_sqlx_migrations") {
        let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&mut *connection)
            .await
            .map_err(|e| mapper.map(e))?;
        if let Some(found) = found.filter(|found| *found > known) {
            return Err(StoreError::TooNew {
                location: mapper.location.clone(),
                found,
                known,
            });
        }
    } else if !tables.is_empty() {
        return Err(StoreError::Migration {
            location: mapper.location.clone(),
            reason: format!(
                "its schema holds tables of another program ({}); give lemmings a database of its own, or a schema \
                 of its own with ?options=-c%20search_path%3D<schema> in the URL",
                tables.join(", ")
            ),
        });
    }
    MIGRATOR.run(&mut *connection).await.map_err(|e| mapper.map_migrate(e))
}

/// Connects to `url` and migrates: see the module documentation.
pub(crate) async fn connect(url: &str, options: &PostgresOptions) -> Result<(PgPool, Mapper), StoreError> {
    let mapper = Mapper::new(url, options);
    if !is_postgres_url(url) {
        return Err(StoreError::Invalid(format!(
            "{} is not a PostgreSQL URL (postgres://user:password@host:port/database)",
            mapper.location
        )));
    }
    let mut connect = PgConnectOptions::from_str(url).map_err(|e| {
        StoreError::Invalid(format!(
            "{} is not a valid PostgreSQL URL: {}",
            mapper.location,
            mapper.scrub(&e.to_string())
        ))
    })?;
    if connect.get_application_name().is_none() {
        connect = connect.application_name("lemmings");
    }
    // Statements run at PostgreSQL's default READ COMMITTED; a lock held too long by another
    // transaction fails the statement as busy instead of hanging the run.
    let connect = connect.options([("lock_timeout", format!("{}ms", millis(options.lock_timeout)))]);
    let first = tokio::time::timeout(options.connect_timeout, PgConnection::connect_with(&connect))
        .await
        .map_err(|_| StoreError::Unavailable {
            location: mapper.location.clone(),
            reason: format!(
                "no answer within {} ms; check the host and port",
                millis(options.connect_timeout)
            ),
        })?;
    let mut first = first.map_err(|e| mapper.map(e))?;
    let migrated = migrate(&mut first, &mapper).await;
    let _ = first.close().await;
    migrated?;
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.connect_timeout)
        .connect_lazy_with(connect);
    Ok((pool, mapper))
}
