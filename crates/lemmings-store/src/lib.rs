//! Durable checkpointers for lemmings-graph: [`SqliteStore`] (the embedded default) and, with
//! the `postgres` feature (on by default), `PostgresStore` for several machines sharing one
//! database. [`open`] picks one from a location: a `postgres://` URL or a file path.
//!
//! Both keep the same model: checkpoints that name each channel's head, blobs (full values or
//! deltas) chained by `prev`, pending writes per task, leases that let one process run a thread
//! at a time, and an effects ledger. This is the only crate that talks SQL, so it also holds
//! what benchmarks need from SQLite: [`SqliteStore::row_counts`], [`SqliteStore::settings`] and
//! the disk's commit floor ([`calibrate`]).

mod error;
mod holder;
mod postgres;
mod rows;
mod sqlite;

use std::sync::Arc;

use lemmings_graph::Checkpointer;

pub use error::{Location, StoreError};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::{RowCounts, SqliteOptions, SqliteSettings, SqliteStore, Synchronous, calibrate};

/// Whether `location` names a PostgreSQL database (a `postgres://` or `postgresql://` URL)
/// rather than a SQLite file.
pub fn is_url(location: &str) -> bool {
    postgres::is_postgres_url(location)
}

/// `location` as it may be shown (in messages, logs, JSON events): a PostgreSQL URL with its
/// password replaced by `***`; a SQLite path as it is.
pub fn shown(location: &str) -> String {
    if is_url(location) {
        postgres::redact_url(location)
    } else {
        location.to_owned()
    }
}

/// Opens the store at `location`: a `postgres://` or `postgresql://` URL (with the `postgres`
/// feature; the database must exist, its tables are created), or else a SQLite file path.
/// `create` makes a missing SQLite file (and its directories).
pub async fn open(location: &str, create: bool) -> Result<Arc<dyn Checkpointer>, StoreError> {
    if postgres::is_postgres_url(location) {
        return open_postgres(location).await;
    }
    let options = if create {
        SqliteOptions::create()
    } else {
        SqliteOptions::default()
    };
    Ok(Arc::new(SqliteStore::open(location, options).await?))
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<Arc<dyn Checkpointer>, StoreError> {
    Ok(Arc::new(PostgresStore::connect(url, PostgresOptions::default()).await?))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(url: &str) -> Result<Arc<dyn Checkpointer>, StoreError> {
    Err(StoreError::Invalid(format!(
        "{}: lemmings was built without PostgreSQL support; rebuild it with the `postgres` feature (on by default) \
         or use a SQLite file",
        postgres::redact_url(url)
    )))
}

#[cfg(all(test, not(feature = "postgres")))]
mod tests {
    #[tokio::test]
    async fn a_build_without_postgres_refuses_urls_clearly_and_without_the_password() {
        let error = super::open("postgres://u:hunter22@db.example/lemmings", false)
            .await
            .expect_err("no PostgreSQL in this build");
        let message = error.to_string();
        assert!(message.contains("built without PostgreSQL support"), "{message}");
        assert!(message.contains("postgres://u:***@db.example/lemmings"), "{message}");
        assert!(!message.contains("hunter22"), "{message}");
    }
}

#[cfg(test)]
mod shown_tests {
    #[test]
    fn a_location_is_shown_without_its_password() {
        assert_eq!(
            super::shown("postgres://lem:hunter22@db.example:5432/lemmings"),
            "postgres://lem:***@db.example:5432/lemmings"
        );
        assert_eq!(
            super::shown("/work/.lemmings/lemmings.db"),
            "/work/.lemmings/lemmings.db"
        );
        assert!(super::is_url("postgresql://db/x") && !super::is_url("postgres.db"));
    }
}
