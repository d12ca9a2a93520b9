//! Write batches: a whole write transaction (`BEGIN IMMEDIATE` … `COMMIT`) as one multi-statement
//! query, so a commit costs one round trip to SQLite's worker thread instead of one per
//! statement (the hops, not the SQL, dominated a superstep's commit).

use bytes::Bytes;
use sqlx::AssertSqlSafe;
use sqlx::sqlite::SqliteConnection;

/// A parameter of a batch.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    Blob(Bytes),
    Null,
}

/// SQL statements with their parameters, in order (`?` parameters are consumed across
/// statements in sequence).
#[derive(Debug, Default)]
pub(crate) struct Batch {
    sql: String,
    args: Vec<Arg>,
}

/// The constraint message that means the lease fence matched no row.
pub(crate) const FENCE_LOST: &str = "fence_guard.lost";
/// The constraint message that means a checkpoint's parent is not saved.
pub(crate) const PARENT_MISSING: &str = "parent_guard.missing";

/// SQLite's limit on parameters per statement is 32,766; rows are chunked well below it.
const ROWS_PER_STATEMENT: usize = 200;

impl Batch {
    pub(crate) fn new() -> Batch {
        Batch::default()
    }

    pub(crate) fn statement(&mut self, sql: &str, args: impl IntoIterator<Item = Arg>) {
        self.sql.push_str(sql);
        self.sql.push_str(";\n");
        self.args.extend(args);
    }

    /// `INSERT … VALUES (…), (…)` in chunks: `head` is everything before `VALUES`, `row` one
    /// row's template with its `N` parameters (e.g. `(?, ?, 1, ?)`), `tail` anything after the
    /// rows (`ON CONFLICT …`).
    pub(crate) fn rows<const N: usize>(&mut self, head: &str, row: &str, tail: &str, rows: Vec<[Arg; N]>) {
        debug_assert_eq!(row.matches('?').count(), N, "{row}");
        let mut left = rows.len();
        while left > 0 {
            let chunk = left.min(ROWS_PER_STATEMENT);
            let values = vec![row; chunk].join(", ");
            self.statement(&format!("{head} VALUES {values} {tail}"), []);
            left -= chunk;
        }
        // The statements consume the parameters in order: every row's, chunk after chunk.
        self.args.extend(rows.into_iter().flatten());
    }

    /// Appends another batch's statements.
    pub(crate) fn append(&mut self, other: Batch) {
        self.sql.push_str(&other.sql);
        self.args.extend(other.args);
    }

    /// Renews the thread's lease heartbeat at `epoch`, and aborts the batch if the lease is no
    /// longer held at that epoch.
    pub(crate) fn fence(&mut self, thread: &str, epoch: i64, now: i64, heartbeat: bool) {
        if heartbeat {
            self.statement(
                "UPDATE leases SET heartbeat_at = ? WHERE thread_id = ? AND epoch = ? AND released = 0",
                [Arg::Int(now), Arg::Text(thread.to_owned()), Arg::Int(epoch)],
            );
            self.statement("INSERT INTO fence_guard (lost) SELECT NULL WHERE changes() = 0", []);
        } else {
            // The same check without writing the lease's page: the heartbeat is recent.
            self.statement(
                "INSERT INTO fence_guard (lost) SELECT NULL WHERE NOT EXISTS
                 (SELECT 1 FROM leases WHERE thread_id = ? AND epoch = ? AND released = 0)",
                [Arg::Text(thread.to_owned()), Arg::Int(epoch)],
            );
        }
    }

    /// Runs the batch as its own `BEGIN IMMEDIATE` … `COMMIT` transaction; on any error rolls
    /// back, so the connection goes back to the pool clean.
    pub(crate) async fn commit(self, connection: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        let sql = format!("BEGIN IMMEDIATE;\n{}COMMIT;", self.sql);
        match bind(sql, self.args).execute(&mut *connection).await {
            Ok(_) => Ok(()),
            Err(error) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
                Err(error)
            }
        }
    }

    /// Runs the batch inside a transaction the caller opened.
    pub(crate) async fn execute_in(self, connection: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        if self.sql.is_empty() {
            return Ok(());
        }
        bind(self.sql, self.args).execute(&mut *connection).await.map(|_| ())
    }
}

fn bind(sql: String, args: Vec<Arg>) -> sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for arg in args {
        query = match arg {
            Arg::Text(text) => query.bind(text),
            Arg::Int(value) => query.bind(value),
            Arg::Blob(bytes) => query.bind(bytes.to_vec()),
            Arg::Null => query.bind(Option::<String>::None),
        };
    }
    query
}
