//! [`StoreError`]: every way opening or using a store can fail, naming the database (path, or
//! URL without its password) and saying what to do.

use std::fmt;

use lemmings_graph::{CheckpointError, CheckpointErrorKind};

/// Where a database lives, as shown in messages: a file path, or a URL with its password
/// replaced by `***`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location(pub(crate) String);

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file does not exist (and the store was not asked to create it).
    #[error("no database at {location}; a run creates it, or check the path")]
    NotFound {
        /// The database.
        location: Location,
    },
    /// The directory meant to hold the database does not exist.
    #[error("cannot create database {location}: directory {directory} does not exist; create it first")]
    MissingDirectory {
        /// The database.
        location: Location,
        /// The missing directory.
        directory: String,
    },
    /// The file is damaged or not a database; it was not modified.
    #[error(
        "database {location} is corrupt: {reason}; the file was left untouched (restore it from a backup or move it away)"
    )]
    Corrupt {
        /// The database.
        location: Location,
        /// What is wrong.
        reason: String,
    },
    /// The database (or its directory) cannot be written.
    #[error("database {location} is read-only: {reason}")]
    ReadOnly {
        /// The database.
        location: Location,
        /// Why.
        reason: String,
    },
    /// Another process held the database's write lock for longer than the busy timeout.
    #[error(
        "database {location} is locked by another process (still busy after {waited_ms} ms); retry, or stop the other process"
    )]
    Busy {
        /// The database.
        location: Location,
        /// How long this process waited.
        waited_ms: u64,
    },
    /// The database was migrated by a newer version of Lemmings.
    #[error(
        "database {location} was written by a newer Lemmings (schema version {found}, this build knows up to {known}); upgrade lemmings"
    )]
    TooNew {
        /// The database.
        location: Location,
        /// The newest schema version in the database.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A migration applied to the database differs from this build's.
    #[error("database {location}: {reason}; it was left untouched")]
    Migration {
        /// The database.
        location: Location,
        /// What sqlx found.
        reason: String,
    },
    /// A live run holds the thread.
    #[error("thread {thread_id} is being run by {holder} (lease epoch {epoch}); wait for that run to end or stop it")]
    Locked {
        /// The thread.
        thread_id: String,
        /// Who runs it.
        holder: String,
        /// The lease epoch.
        epoch: u64,
    },
    /// This process lost the thread's lease to another holder; its writes are refused.
    #[error(
        "thread {thread_id} was taken over by {holder} (lease epoch {epoch}); this run's writes were refused, stop it"
    )]
    Fenced {
        /// The thread.
        thread_id: String,
        /// Who holds it now.
        holder: String,
        /// The new epoch.
        epoch: u64,
    },
    /// The database could not be reached.
    #[error("cannot reach database {location}: {reason}")]
    Unavailable {
        /// The database.
        location: Location,
        /// Why.
        reason: String,
    },
    /// A request the store refuses (a malformed filter, a write for a missing checkpoint).
    #[error("{0}")]
    Invalid(String),
    /// Any other database error.
    #[error("database {location}: {reason}")]
    Database {
        /// The database.
        location: Location,
        /// What the driver said.
        reason: String,
    },
}

impl StoreError {
    /// What kind of failure this is, for branching.
    pub fn kind(&self) -> CheckpointErrorKind {
        match self {
            StoreError::NotFound { .. } | StoreError::MissingDirectory { .. } | StoreError::Invalid(_) => {
                CheckpointErrorKind::Invalid
            }
            StoreError::Corrupt { .. } | StoreError::Migration { .. } => CheckpointErrorKind::Corrupt,
            StoreError::ReadOnly { .. } => CheckpointErrorKind::ReadOnly,
            StoreError::Busy { .. } => CheckpointErrorKind::Busy,
            StoreError::TooNew { .. } => CheckpointErrorKind::TooNew,
            StoreError::Locked { .. } => CheckpointErrorKind::Locked,
            StoreError::Fenced { .. } => CheckpointErrorKind::Fenced,
            StoreError::Unavailable { .. } => CheckpointErrorKind::Unavailable,
            StoreError::Database { .. } => CheckpointErrorKind::Other,
        }
    }

    /// Whether retrying later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            CheckpointErrorKind::Busy | CheckpointErrorKind::Unavailable
        )
    }
}

impl From<StoreError> for CheckpointError {
    fn from(error: StoreError) -> Self {
        CheckpointError::new(error.kind(), error.to_string())
    }
}
