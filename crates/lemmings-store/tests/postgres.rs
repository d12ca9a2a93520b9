//! The PostgreSQL store: the conformance suite on a fresh database per check, then what only
//! PostgreSQL has: URL redaction in errors, refusals at connect, leases across machines (a remote
//! holder's heartbeat, takeover, fencing), big commits, and two stores sharing a database.
//!
//! The server comes from `pg` (LEMMINGS_TEST_POSTGRES, or a private one); without either,
//! these tests fail saying how to provide one. A build without the `postgres` feature (off only
//! on request) has no PostgreSQL store to test; `lib.rs` tests its refusal instead.
#![cfg(feature = "postgres")]

mod pg;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lemmings_graph::{
    ChannelData, ChannelRef, Checkpoint, CheckpointErrorKind, CheckpointId, CheckpointPut, Checkpointer, EffectRecord,
    ListOptions, NewBlob, Source, TaskId, TaskWrites, Timestamp,
};
use lemmings_store::{PostgresOptions, PostgresStore, StoreError};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// Options for test stores: few connections, since many tests run at once.
fn options() -> PostgresOptions {
    PostgresOptions {
        max_connections: 3,
        ..PostgresOptions::default()
    }
}

lemmings_graph::checkpointer_conformance!(async {
    let database = pg::database().await;
    let store = PostgresStore::connect(&database.url, options())
        .await
        .unwrap_or_else(|e| panic!("the store connects: {e}"));
    (Arc::new(store) as Arc<dyn Checkpointer>, database)
});

// ---- helpers ----------------------------------------------------------------------------

async fn sql(database: &pg::Database) -> PgConnection {
    PgConnection::connect(&database.url).await.expect("a direct connection")
}

async fn execute(database: &pg::Database, statement: &str) {
    let mut connection = sql(database).await;
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    let _ = connection.close().await;
}

fn checkpoint(thread: &str, parent: Option<&Checkpoint>, step: i64, blobs: &[(&str, ChannelData)]) -> CheckpointPut {
    let id = CheckpointId::new_after(parent.map(|p| p.id));
    let mut channels: BTreeMap<String, ChannelRef> = parent.map(|p| p.channels.clone()).unwrap_or_default();
    let mut new_blobs = Vec::new();
    for (channel, data) in blobs {
        let previous = channels.get(*channel).copied();
        channels.insert(
            (*channel).to_owned(),
            ChannelRef {
                version: previous.map_or(1, |r| r.version + 1),
                head: id,
            },
        );
        new_blobs.push(NewBlob {
            channel: (*channel).to_owned(),
            data: data.clone(),
            prev: previous.map(|r| r.head),
        });
    }
    CheckpointPut {
        checkpoint: Checkpoint {
            thread_id: thread.to_owned(),
            ns: String::new(),
            id,
            parent_id: parent.map(|p| p.id),
            step,
            source: Source::Loop,
            created_at: Timestamp::now(),
            metadata: serde_json::Map::new(),
            channels,
            control: Bytes::from_static(b"{}"),
        },
        blobs: new_blobs,
    }
}

fn task(name: &str, writes: &[(&str, &str)]) -> TaskWrites {
    TaskWrites {
        task_id: TaskId::derive(None, "", 0, name),
        task_path: format!("pull:{name}"),
        node: name.to_owned(),
        writes: writes
            .iter()
            .map(|(c, v)| ((*c).to_owned(), Bytes::copy_from_slice(v.as_bytes())))
            .collect(),
    }
}

fn full(text: &str) -> ChannelData {
    ChannelData::Full(Bytes::copy_from_slice(text.as_bytes()))
}

fn delta(text: &str) -> ChannelData {
    ChannelData::Delta(Bytes::copy_from_slice(text.as_bytes()))
}

/// A pid on this host that belongs to no process: a child that has been waited for.
fn dead_pid() -> i64 {
    let mut child = std::process::Command::new("true").spawn().expect("spawn true");
    child.wait().expect("wait");
    i64::from(child.id())
}

// ---- connecting -------------------------------------------------------------------------

#[tokio::test]
async fn errors_and_debug_output_never_show_the_password() {
    let server = pg::server();
    let secret = "s3cret-Password-xyz";
    // A closed port: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let url = format!("postgres://someone:{secret}@127.0.0.1:{port}/lemmings");
    let error = PostgresStore::connect(&url, options())
        .await
        .expect_err("nothing listens there");
    let message = error.to_string();
    assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert!(
        !message.contains(secret) && !format!("{error:?}").contains(secret),
        "{message}"
    );
    assert!(
        message.contains(&format!("127.0.0.1:{port}")) && message.contains("***"),
        "{message}"
    );
    assert!(message.contains("connection refused"), "{message}");

    // A host that does not resolve (bounded: a slow resolver ends in the connect timeout).
    let url = format!("postgres://someone:{secret}@lemmings-no-such-host.invalid:5432/lemmings");
    let quick = PostgresOptions {
        connect_timeout: Duration::from_secs(5),
        ..options()
    };
    let error = PostgresStore::connect(&url, quick).await.expect_err("no such host");
    let message = error.to_string();
    assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
    assert!(
        !message.contains(secret) && !format!("{error:?}").contains(secret),
        "{message}"
    );
    assert!(message.contains("lemmings-no-such-host.invalid"), "{message}");

    // The right server, a wrong password.
    let url = server.admin.with(&server.admin.database, Some(secret));
    let error = PostgresStore::connect(&url, options())
        .await
        .expect_err("a wrong password is refused (the test server must use password authentication)");
    let message = error.to_string();
    assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
    assert!(
        !message.contains(secret) && !format!("{error:?}").contains(secret),
        "{message}"
    );
    assert!(
        message.contains(server.admin.host()) && message.contains("***"),
        "{message}"
    );
    assert!(message.contains("password"), "the reason says what failed: {message}");

    // A database that does not exist.
    let url = server.admin.database("lemmings_no_such_database");
    let error = PostgresStore::connect(&url, options())
        .await
        .expect_err("no such database");
    assert!(
        error.to_string().contains("lemmings_no_such_database") && error.to_string().contains("createdb"),
        "{error}"
    );
    if let Some(password) = server.admin.password.as_deref().filter(|p| !p.is_empty()) {
        assert!(!error.to_string().contains(password), "{error}");
    }
}

#[tokio::test]
async fn a_store_shows_its_url_without_the_password() {
    let database = pg::database().await;
    let store = PostgresStore::connect(&database.url, options())
        .await
        .expect("connects");
    let shown = format!("{store:?} {}", store.location());
    assert!(shown.contains(&database.name), "{shown}");
    if let Some(password) = pg::server().admin.password.as_deref().filter(|p| !p.is_empty()) {
        assert!(!shown.contains(password), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }
    // The façade picks PostgreSQL for a postgres URL.
    let opened = lemmings_store::open(&database.url, false).await.expect("open");
    assert!(format!("{opened:?}").starts_with("PostgresStore"), "{opened:?}");
    store.close().await;
}

#[tokio::test]
async fn a_schema_from_a_newer_lemmings_is_refused() {
    let database = pg::database().await;
    PostgresStore::connect(&database.url, options())
        .await
        .expect("migrates")
        .close()
        .await;
    execute(
        &database,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'from the future', TRUE, '\\x00', 0)",
    )
    .await;
    let error = PostgresStore::connect(&database.url, options())
        .await
        .expect_err("a newer schema is refused");
    assert!(matches!(error, StoreError::TooNew { found: 9999, .. }), "{error:?}");
    assert!(error.to_string().contains("upgrade lemmings"), "{error}");
}

#[tokio::test]
async fn a_database_of_another_program_is_refused_and_left_alone() {
    let database = pg::database().await;
    execute(&database, "CREATE TABLE customers (id INTEGER PRIMARY KEY)").await;
    let error = PostgresStore::connect(&database.url, options())
        .await
        .expect_err("foreign tables are refused");
    assert_eq!(error.kind(), CheckpointErrorKind::Corrupt, "{error}");
    assert!(error.to_string().contains("customers"), "{error}");
    let mut connection = sql(&database).await;
    let tables: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'")
        .fetch_one(&mut connection)
        .await
        .expect("count");
    assert_eq!(tables, 1, "nothing was created next to the other program's table");
}

// ---- commits ----------------------------------------------------------------------------

#[tokio::test]
async fn big_commits_round_trip_and_settle_duplicate_writes() {
    let database = pg::database().await;
    let store = PostgresStore::connect(&database.url, options())
        .await
        .expect("connects");
    let names: Vec<String> = (0..300).map(|i| format!("channel_{i:03}")).collect();
    let blobs: Vec<(&str, ChannelData)> = names.iter().map(|n| (n.as_str(), full(n))).collect();
    let c0 = checkpoint("t", None, 0, &blobs);
    store.put(c0.clone(), Vec::new()).await.expect("put 300 blobs");
    let tasks: Vec<TaskWrites> = (0..200)
        .map(|i| task(&format!("n{i:03}"), &[("x", "1"), ("y", "2"), ("x", "ignored")]))
        .collect();
    // A state channel keeps its first value; a special one its last, also within one call.
    let mut last = task("z", &[("__error__", "\"first\""), ("__error__", "\"second\"")]);
    last.writes.push(("log".into(), Bytes::from_static(b"[1]")));
    let mut all = tasks.clone();
    all.push(last);
    store
        .put_writes("t", "", c0.checkpoint.id, all)
        .await
        .expect("601 pending writes in one call");
    let parent = store.get("t", "", Some(c0.checkpoint.id)).await.unwrap().expect("c0");
    assert_eq!(parent.values.len(), 300);
    assert_eq!(parent.pending_writes.len(), 201);
    assert_eq!(
        parent.pending_writes[0].writes,
        vec![
            ("x".to_owned(), Bytes::from_static(b"1")),
            ("y".to_owned(), Bytes::from_static(b"2"))
        ]
    );
    let z = parent.pending_writes.last().expect("task z");
    assert_eq!(
        z.writes,
        vec![
            ("__error__".to_owned(), Bytes::from_static(b"\"second\"")),
            ("log".to_owned(), Bytes::from_static(b"[1]"))
        ]
    );
    // The child supersedes them all, in the same statement that records the last task's effects.
    let c1 = checkpoint("t", Some(&c0.checkpoint), 1, &[("channel_000", delta("[[1]]"))]);
    let last = vec![task("w", &[("__effects__", r#"{"k1":1,"k2":2}"#)])];
    store.put(c1.clone(), last).await.expect("put");
    let parent = store.get("t", "", Some(c0.checkpoint.id)).await.unwrap().expect("c0");
    assert!(parent.pending_writes.is_empty(), "{:?}", parent.pending_writes.len());
    assert_eq!(
        store.effect("t", "k2").await.unwrap(),
        Some(EffectRecord::Applied { result: 2.into() })
    );
    let latest = store.get("t", "", None).await.unwrap().expect("c1");
    let chain = &latest.values.iter().find(|(c, _)| c == "channel_000").expect("chain").1;
    assert_eq!(chain, &vec![full("channel_000"), delta("[[1]]")]);

    // The last tasks of a parent that was never saved: refused, and nothing is written.
    let ghost = checkpoint("u", None, 0, &[]);
    let child = checkpoint("u", Some(&ghost.checkpoint), 1, &[("x", full("1"))]);
    let error = store
        .put(child, vec![task("a", &[("__effects__", r#"{"k9":9}"#)])])
        .await
        .expect_err("the parent is not saved");
    assert_eq!(error.kind(), CheckpointErrorKind::Invalid, "{error}");
    assert!(error.to_string().contains("not saved"), "{error}");
    assert!(store.get("u", "", None).await.unwrap().is_none());
    assert_eq!(store.effect("u", "k9").await.unwrap(), None);
}

// ---- leases across machines -------------------------------------------------------------

#[tokio::test]
async fn a_remote_holder_is_live_while_its_heartbeat_is_fresh_and_taken_over_after() {
    let database = pg::database().await;
    let store = PostgresStore::connect(
        &database.url,
        PostgresOptions {
            lease_ttl: Duration::from_secs(2),
            ..options()
        },
    )
    .await
    .expect("connects");
    let c0 = checkpoint("remote", None, 0, &[("x", full("1"))]);
    store.put(c0.clone(), Vec::new()).await.expect("a free thread");
    // A holder on another machine, heartbeat just now (by the database's clock).
    execute(
        &database,
        "INSERT INTO leases (thread_id, epoch, holder, host, pid, started, acquired_at, heartbeat_at)
         VALUES ('remote', 4, 'pid 4242 on host far-away', 'far-away', 4242, 1,
                 (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
                 (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
    )
    .await;
    let error = store
        .acquire_lease("remote")
        .await
        .expect_err("the remote holder is live");
    assert_eq!(error.kind(), CheckpointErrorKind::Locked, "{error}");
    assert!(error.to_string().contains("pid 4242 on host far-away"), "{error}");
    let c1 = checkpoint("remote", Some(&c0.checkpoint), 1, &[("x", full("2"))]);
    let error = store
        .put(c1.clone(), Vec::new())
        .await
        .expect_err("a store that does not hold the thread cannot write it");
    assert_eq!(error.kind(), CheckpointErrorKind::Locked, "{error}");
    let error = store
        .put_writes("remote", "", c0.checkpoint.id, vec![task("a", &[("x", "1")])])
        .await
        .expect_err("nor its pending writes");
    assert_eq!(error.kind(), CheckpointErrorKind::Locked, "{error}");
    assert_eq!(
        store.get("remote", "", None).await.unwrap().unwrap().checkpoint.id,
        c0.checkpoint.id,
        "the refused write left nothing"
    );

    // Its heartbeat is now 10 s old, beyond the 2 s time to live: the holder is dead.
    execute(
        &database,
        "UPDATE leases SET heartbeat_at = heartbeat_at - 10000 WHERE thread_id = 'remote'",
    )
    .await;
    store
        .put(c1.clone(), Vec::new())
        .await
        .expect("a dead holder does not block writes");
    let lease = store
        .acquire_lease("remote")
        .await
        .expect("a dead holder's lease is taken over")
        .expect("a lease");
    assert_eq!(lease.epoch, 5, "the takeover bumps the epoch");
    store.release_lease(&lease).await.expect("release");
}

#[tokio::test]
async fn a_store_whose_lease_was_taken_over_is_fenced() {
    let database = pg::database().await;
    let first = PostgresStore::connect(&database.url, options())
        .await
        .expect("connects");
    let second = PostgresStore::connect(&database.url, options())
        .await
        .expect("connects");
    let lease = first.acquire_lease("t").await.expect("acquire").expect("a lease");
    let c0 = checkpoint("t", None, 0, &[("x", full("1"))]);
    first.put(c0.clone(), Vec::new()).await.expect("the holder writes");
    let error = second.acquire_lease("t").await.expect_err("held by a live process");
    assert_eq!(error.kind(), CheckpointErrorKind::Locked, "{error}");
    let error = second
        .put(checkpoint("t", Some(&c0.checkpoint), 1, &[]), Vec::new())
        .await
        .expect_err("another store cannot write a held thread");
    assert_eq!(error.kind(), CheckpointErrorKind::Locked, "{error}");

    // The first holder now looks dead (its pid belongs to no process), so the second takes over.
    execute(
        &database,
        &format!(
            "UPDATE leases SET pid = {}, started = 0 WHERE thread_id = 't'",
            dead_pid()
        ),
    )
    .await;
    let taken = second.acquire_lease("t").await.expect("takeover").expect("a lease");
    assert_eq!(taken.epoch, lease.epoch + 1);

    let c1 = checkpoint("t", Some(&c0.checkpoint), 1, &[("x", full("2"))]);
    let refusals = [
        first.put(c1.clone(), Vec::new()).await.expect_err("put is fenced"),
        first
            .put_writes("t", "", c0.checkpoint.id, vec![task("a", &[("x", "3")])])
            .await
            .expect_err("put_writes is fenced"),
        first
            .record_intent("t", "k", "write")
            .await
            .expect_err("intents are fenced"),
        first.delete_thread("t").await.expect_err("delete is fenced"),
    ];
    for error in refusals {
        assert_eq!(error.kind(), CheckpointErrorKind::Fenced, "{error}");
        let message = error.to_string();
        assert!(
            message.contains(&taken.holder) && message.contains(&format!("epoch {}", taken.epoch)),
            "the refusal names the new holder: {message}"
        );
    }
    let latest = second.get("t", "", None).await.unwrap().expect("c0");
    assert_eq!(latest.checkpoint.id, c0.checkpoint.id, "fenced writes left nothing");
    assert!(latest.pending_writes.is_empty());
    assert_eq!(second.effect("t", "k").await.unwrap(), None);
    second.put(c1.clone(), Vec::new()).await.expect("the new holder writes");
    second.release_lease(&taken).await.expect("release");
}

#[tokio::test]
async fn the_heartbeat_keeps_a_remote_looking_lease_alive_until_release() {
    let database = pg::database().await;
    let ttl = Duration::from_secs(1);
    let short = PostgresOptions {
        lease_ttl: ttl,
        ..options()
    };
    let holder = PostgresStore::connect(&database.url, short.clone())
        .await
        .expect("connects");
    let other = PostgresStore::connect(&database.url, short).await.expect("connects");
    let lease = holder.acquire_lease("t").await.expect("acquire").expect("a lease");
    // Judge the holder as if it ran on another machine: only its heartbeat keeps it alive.
    execute(&database, "UPDATE leases SET host = 'far-away' WHERE thread_id = 't'").await;
    let mut connection = sql(&database).await;
    let read = "SELECT heartbeat_at, (extract(epoch FROM clock_timestamp()) * 1000)::bigint FROM leases
                WHERE thread_id = 't'";
    let (_, start): (i64, i64) = sqlx::query_as(read).fetch_one(&mut connection).await.expect("row");
    // Wait (bounded) until the heartbeat was renewed after the time to live had run out from
    // the start: without renewals the lease would be dead by now.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (beat, _): (i64, i64) = sqlx::query_as(read).fetch_one(&mut connection).await.expect("row");
        if beat > start + 1_000 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the heartbeat never advanced past the ttl"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let error = other.acquire_lease("t").await.expect_err("a renewed lease is live");
    assert_eq!(error.kind(), CheckpointErrorKind::Locked, "{error}");
    holder.release_lease(&lease).await.expect("release");
    let next = other
        .acquire_lease("t")
        .await
        .expect("a released lease is free")
        .expect("a lease");
    assert_eq!(next.epoch, lease.epoch + 1);
    other.release_lease(&next).await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_run_their_own_threads_on_one_database_at_once() {
    let database = pg::database().await;
    // Both connect to the fresh database at once: one migrates, the other waits for it (sqlx
    // serializes migrations with an advisory lock) and then finds the schema current.
    let (first, second) = tokio::join!(
        PostgresStore::connect(&database.url, options()),
        PostgresStore::connect(&database.url, options())
    );
    let stores = [first.expect("connects"), second.expect("connects")];
    let runs = stores.iter().enumerate().map(|(i, store)| {
        let store = store.clone();
        tokio::spawn(async move {
            let thread = format!("thread-{i}");
            let lease = store.acquire_lease(&thread).await.expect("acquire").expect("a lease");
            let mut parent = checkpoint(&thread, None, 0, &[("log", full("[]"))]);
            store.put(parent.clone(), Vec::new()).await.expect("put");
            for step in 1..=30 {
                let writes = vec![task(
                    "n",
                    &[
                        ("log", &format!("[{step}]")),
                        ("__effects__", &format!("{{\"k{step}\":{step}}}")),
                    ],
                )];
                let next = checkpoint(
                    &thread,
                    Some(&parent.checkpoint),
                    step,
                    &[("log", delta(&format!("[[{step}]]")))],
                );
                store.put(next.clone(), writes).await.expect("put");
                parent = next;
            }
            store.release_lease(&lease).await.expect("release");
            (thread, parent.checkpoint.id)
        })
    });
    let results = futures::future::join_all(runs).await;
    for (i, result) in results.into_iter().enumerate() {
        let (thread, latest) = result.expect("the run finished");
        // Either store reads either thread.
        let reader = &stores[1 - i];
        let tuple = reader.get(&thread, "", None).await.unwrap().expect("latest");
        assert_eq!(tuple.checkpoint.id, latest);
        assert_eq!(tuple.values[0].1.len(), 31, "a full value and 30 deltas");
        assert_eq!(
            reader.list(&thread, "", &ListOptions::default()).await.unwrap().len(),
            31
        );
        assert_eq!(
            reader.effect(&thread, "k30").await.unwrap(),
            Some(EffectRecord::Applied { result: 30.into() })
        );
    }
    let threads = stores[0].list_threads().await.expect("list");
    assert_eq!(threads.len(), 2);
    assert!(
        threads.iter().all(|t| t.checkpoints == 31 && t.step == 30),
        "{threads:?}"
    );
}
