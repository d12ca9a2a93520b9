//! The PostgreSQL checkpointer, for several machines sharing one database (the `postgres`
//! feature, on by default). Same model and semantics as the SQLite store; what differs:
//!
//! - **Round trips.** A commit (a checkpoint with its blobs and its parent's last pending writes,
//!   or a task's writes) is one statement of data-modifying CTEs whose rows travel as arrays, so
//!   it costs one round trip whatever its size (`write`). Reading is one statement too: the
//!   checkpoint rows, every link of their chains (a recursive CTE) and their pending writes, in
//!   one snapshot (`read`).
//! - **Leases across machines.** The lease fence is the first CTE of every write statement; lease
//!   times come from the database's clock; a held lease is renewed by a background heartbeat
//!   every third of `lease_ttl` (`lease`).
//! - **Secrets.** The URL is only ever shown with its password replaced by `***` (`url`).

mod url;

pub(crate) use url::{is_postgres_url, redact_url};

#[cfg(feature = "postgres")]
mod lease;
#[cfg(feature = "postgres")]
mod open;
#[cfg(feature = "postgres")]
mod read;
#[cfg(feature = "postgres")]
mod retention;
#[cfg(feature = "postgres")]
mod store;
#[cfg(feature = "postgres")]
mod write;

#[cfg(feature = "postgres")]
pub use open::PostgresOptions;
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
