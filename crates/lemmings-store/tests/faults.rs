//! T3, storage faults: a damaged, foreign, read-only, missing, too new, edited or locked
//! database ends in a typed error that names the path and the cause. Never a panic, never a new
//! file where none should be, and a damaged file is left byte for byte as it was.
//!
//! Each refused open goes through [`refused`], which snapshots the directory (every file's name
//! and bytes) before and after, and prints the figures of the row: fault, kind, time to error,
//! first line of the message.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lemmings_graph::{CheckpointErrorKind, Checkpointer, GraphError, RunConfig};
use lemmings_store::{SqliteOptions, SqliteStore, StoreError};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use support::{Proc, Rng, Spec};

/// How long any open or write may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(30);

/// The test graph with chains of `chain` links, one ledger effect per task.
fn spec(chain: usize) -> Spec {
    Spec {
        chain,
        effects: 1,
        ledger: None,
        hook: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Every file under `dir`, recursively: path → bytes (directories map to `None`).
fn snapshot(dir: &Path) -> Snapshot {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                files.insert(path.clone(), None);
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                files.insert(path, Some(bytes));
            }
        }
    }
    files
}

type Snapshot = BTreeMap<PathBuf, Option<Vec<u8>>>;

/// What changed between two snapshots: files created, removed, modified (empty: nothing).
fn changes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut changes = Vec::new();
    for (file, bytes) in after {
        match before.get(file) {
            None => changes.push(format!(
                "created {} ({} bytes)",
                file.display(),
                bytes.as_ref().map_or(0, Vec::len)
            )),
            Some(old) if old != bytes => {
                let (old, new) = (old.as_deref().unwrap_or_default(), bytes.as_deref().unwrap_or_default());
                let first = old.iter().zip(new).position(|(a, b)| a != b);
                changes.push(format!(
                    "modified {} ({} → {} bytes, first difference at byte {first:?})",
                    file.display(),
                    old.len(),
                    new.len()
                ));
            }
            Some(_) => {}
        }
    }
    for file in before.keys().filter(|f| !after.contains_key(*f)) {
        changes.push(format!("removed {}", file.display()));
    }
    changes
}

/// Opens `path` with `options`, which must fail; asserts that nothing under `watch` was created,
/// removed or modified; returns the error.
async fn refused(fault: &str, watch: &Path, path: &Path, options: SqliteOptions) -> StoreError {
    refused_with(fault, watch, path, options, false).await
}

/// [`refused`], where a database that is a sound Lemmings store in WAL mode may keep an empty
/// `-wal` and a `-shm` next to it (SQLite's own companions, removed when the refused open's
/// connections finish closing, which may be after `open` returned).
async fn refused_with(
    fault: &str,
    watch: &Path,
    path: &Path,
    options: SqliteOptions,
    companions_allowed: bool,
) -> StoreError {
    let before = snapshot(watch);
    let companions = [support::with_suffix(path, "-wal"), support::with_suffix(path, "-shm")];
    let started = Instant::now();
    let result = tokio::time::timeout(HANG, SqliteStore::open(path, options))
        .await
        .unwrap_or_else(|_| panic!("{fault}: opening {} hung for {HANG:?}", path.display()));
    let elapsed = started.elapsed();
    let error = match result {
        Ok(store) => {
            let opened = snapshot(watch);
            store.close().await;
            panic!(
                "{fault}: opening {} must fail, but it opened; files changed by the open: {:#?}; after close: {:#?}",
                path.display(),
                changes(&before, &opened),
                changes(&before, &snapshot(watch))
            );
        }
        Err(error) => error,
    };
    let mut after = snapshot(watch);
    let mut left = Vec::new();
    if companions_allowed {
        for companion in &companions {
            let empty_wal = companion.to_string_lossy().ends_with("-wal")
                && after
                    .get(companion)
                    .is_some_and(|b| b.as_ref().is_some_and(Vec::is_empty));
            let shm = companion.to_string_lossy().ends_with("-shm") && after.contains_key(companion);
            if !before.contains_key(companion) && (empty_wal || shm) {
                after.remove(companion);
                left.push(companion.file_name().unwrap_or_default().to_string_lossy().into_owned());
            }
        }
    }
    let changed = changes(&before, &after);
    assert!(
        changed.is_empty(),
        "{fault}: a refused open must leave every file as it was (error: {error}); it changed: {changed:#?}"
    );
    println!(
        "faults: {fault:<44} {:<12} {:>7.1} ms  {}{}",
        format!("{:?}", error.kind()),
        elapsed.as_secs_f64() * 1e3,
        error.to_string().lines().next().unwrap_or_default(),
        if left.is_empty() {
            String::new()
        } else {
            format!(" [left for now: {}]", left.join(", "))
        }
    );
    error
}

/// The message names the path and says `cause`.
fn assert_names(error: &StoreError, path: &Path, cause: &str) {
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "the message must name {}: {message}",
        path.display()
    );
    assert!(message.contains(cause), "the message must say {cause:?}: {message}");
}

/// A real store database with a finished thread in it (several pages), closed cleanly.
async fn real_db(path: &Path) {
    let store = SqliteStore::open(path, SqliteOptions::create())
        .await
        .expect("a new store opens");
    let graph = support::graph_on(&spec(6), &store);
    let output = graph
        .invoke(support::work_input(), &RunConfig::thread("t1"))
        .await
        .expect("the thread runs");
    assert!(output.is_done());
    store.close().await;
    assert!(
        !support::with_suffix(path, "-wal").exists(),
        "a clean close leaves no -wal file"
    );
}

/// The bytes of a real store database.
async fn real_db_bytes() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("real.db");
    real_db(&path).await;
    std::fs::read(&path).expect("read the database")
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// Table-driven: a file holding `bytes` is refused as corrupt, with `reason` in the message,
/// and left untouched.
async fn corrupt_file(fault: &str, bytes: Vec<u8>, reason: &str) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("lemmings.db");
    std::fs::write(&path, &bytes).expect("write the damaged file");
    for options in [SqliteOptions::default(), SqliteOptions::create()] {
        let create = options.create;
        let error = refused(&format!("{fault} (create: {create})"), dir.path(), &path, options).await;
        assert!(
            matches!(&error, StoreError::Corrupt { location, reason: why }
                if location.to_string() == path.display().to_string() && why.contains(reason)),
            "{fault}: expected Corrupt naming {} because {reason:?}, got {error:?}",
            path.display()
        );
        assert_eq!(error.kind(), CheckpointErrorKind::Corrupt);
        assert_names(&error, &path, "is corrupt");
        assert_names(&error, &path, reason);
        assert_names(&error, &path, "left untouched");
    }
    assert_eq!(
        std::fs::read(&path).expect("read"),
        bytes,
        "{fault}: the file is unchanged"
    );
}

// ---------------------------------------------------------------------------------------------
// Damaged files
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn header_overwritten_with_100_random_bytes() {
    let mut bytes = real_db_bytes().await;
    bytes[..100].copy_from_slice(&random_bytes(100, 1));
    corrupt_file("header overwritten (bytes 0..100)", bytes, "not a SQLite database").await;
}

#[tokio::test]
async fn header_fields_overwritten_behind_the_magic_string() {
    // The magic string survives; page size, counters and schema cookie are garbage.
    let mut bytes = real_db_bytes().await;
    bytes[16..100].copy_from_slice(&random_bytes(84, 2));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("lemmings.db");
    std::fs::write(&path, &bytes).expect("write the damaged file");
    let error = refused(
        "header fields overwritten (bytes 16..100)",
        dir.path(),
        &path,
        SqliteOptions::default(),
    )
    .await;
    assert!(
        matches!(&error, StoreError::Corrupt { location, .. } if location.to_string() == path.display().to_string()),
        "expected Corrupt naming the path, got {error:?}"
    );
    assert_eq!(error.kind(), CheckpointErrorKind::Corrupt);
    assert_names(&error, &path, "is corrupt");
    assert_eq!(std::fs::read(&path).expect("read"), bytes, "the file is unchanged");
}

#[tokio::test]
async fn truncated_to_half() {
    let mut bytes = real_db_bytes().await;
    assert!(
        bytes.len() >= 8 * 4096,
        "the sample spans several pages ({} bytes)",
        bytes.len()
    );
    bytes.truncate(bytes.len() / 2);
    corrupt_file("truncated to half", bytes, "truncated").await;
}

#[tokio::test]
async fn empty_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("lemmings.db");
    std::fs::write(&path, b"").expect("write an empty file");
    // Without `create`, an empty file is not a database: refused, untouched.
    let error = refused("empty file", dir.path(), &path, SqliteOptions::default()).await;
    assert!(
        matches!(&error, StoreError::Corrupt { location, reason }
            if location.to_string() == path.display().to_string() && reason.contains("the file is empty")),
        "{error:?}"
    );
    assert_eq!(error.kind(), CheckpointErrorKind::Corrupt);
    assert_names(&error, &path, "is corrupt: the file is empty");
    // With `create`, an empty file holds nothing to lose (it is what a crash while creating
    // the database leaves, see the crash test's second phase): either refused untouched, or
    // made a sound store.
    let before = snapshot(dir.path());
    match tokio::time::timeout(HANG, SqliteStore::open(&path, SqliteOptions::create()))
        .await
        .expect("no hang")
    {
        Err(error) => {
            assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
            assert!(changes(&before, &snapshot(dir.path())).is_empty());
        }
        Ok(store) => {
            assert_eq!(store.quick_check().await.expect("quick_check"), ["ok"]);
            store.close().await;
        }
    }
}

#[tokio::test]
async fn not_a_sqlite_file() {
    let text = "[lemmings]\nmodel = \"x\"\n".repeat(100).into_bytes();
    corrupt_file("a text file", text, "not a SQLite database").await;
}

#[tokio::test]
async fn a_file_shorter_than_a_header() {
    corrupt_file("a 12-byte file", b"hello world\n".to_vec(), "truncated").await;
}

#[tokio::test]
async fn garbage_wal_file() {
    // A sound database next to a `-wal` file of random bytes (not a WAL: wrong magic). SQLite
    // would silently ignore it and then delete or overwrite it: the database and the WAL
    // together are damaged, and both must be left as they are.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("lemmings.db");
    real_db(&path).await;
    let wal = support::with_suffix(&path, "-wal");
    std::fs::write(&wal, random_bytes(64 * 1024, 3)).expect("write the garbage WAL");
    let error = refused("garbage -wal file", dir.path(), &path, SqliteOptions::default()).await;
    assert!(
        matches!(&error, StoreError::Corrupt { location, .. } if location.to_string() == path.display().to_string()),
        "expected Corrupt naming the path, got {error:?}"
    );
    assert_names(&error, &path, "-wal");
}

/// A crash image of a database killed in the middle of a WAL checkpoint: SQLite copies pages
/// from the `-wal` into the file in page order, so page 1 (whose header gives the new page
/// count) is already in the file while the file is not yet extended to that many pages. The WAL
/// still holds every page, so nothing is lost and SQLite recovers: the store must open it.
#[tokio::test]
async fn killed_in_the_middle_of_a_checkpoint() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("live.db");
    real_db(&path).await;
    // More threads, committed to the WAL of an open store (too few pages for an automatic
    // checkpoint: they stay in the WAL).
    let store = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .expect("the store opens");
    let graph = support::graph_on(&spec(8), &store);
    let mut expected = Vec::new();
    for t in 0..3 {
        let output = graph
            .invoke(support::work_input(), &RunConfig::thread(format!("w{t}")))
            .await
            .expect("a thread runs");
        expected.push(output.value);
    }
    // The crash image: the file and its WAL as they are now (every commit is already synced).
    let image = dir.path().join("image");
    std::fs::create_dir(&image).expect("mkdir");
    let crashed = image.join("lemmings.db");
    std::fs::copy(&path, &crashed).expect("copy the file");
    std::fs::copy(
        support::with_suffix(&path, "-wal"),
        support::with_suffix(&crashed, "-wal"),
    )
    .expect("copy the WAL");
    store.close().await;

    // The checkpoint got as far as page 1: its last version in the WAL (frames of 24 bytes of
    // header, the first 4 the page number, then the page, after the WAL's 32-byte header).
    let mut file = std::fs::read(&crashed).expect("read the file");
    let wal = std::fs::read(support::with_suffix(&crashed, "-wal")).expect("read the WAL");
    let page_size = u32::from_be_bytes(wal[8..12].try_into().expect("4 bytes")) as usize;
    let page_one = (32..wal.len())
        .step_by(24 + page_size)
        .filter(|at| at + 24 + page_size <= wal.len())
        .rfind(|at| u32::from_be_bytes(wal[*at..*at + 4].try_into().expect("4 bytes")) == 1)
        .map(|at| &wal[at + 24..at + 24 + page_size])
        .expect("page 1 is in the WAL");
    let pages = u32::from_be_bytes(page_one[28..32].try_into().expect("4 bytes")) as usize;
    assert!(
        pages * page_size > file.len(),
        "the WAL grew the database ({pages} pages of {page_size} bytes, the file has {} bytes)",
        file.len()
    );
    file[..page_size].copy_from_slice(page_one);
    std::fs::write(&crashed, &file).expect("write page 1");

    // SQLite itself finds it sound (on a copy: its recovery checkpoints the WAL).
    let copy = dir.path().join("copy.db");
    std::fs::copy(&crashed, &copy).expect("copy the image");
    std::fs::copy(
        support::with_suffix(&crashed, "-wal"),
        support::with_suffix(&copy, "-wal"),
    )
    .expect("copy the WAL");
    let mut connection = plain_connection(&copy, false).await;
    let check: Vec<String> = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_all(&mut connection)
        .await
        .expect("quick_check");
    assert_eq!(check, ["ok"], "SQLite recovers the image");
    let threads: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT thread_id) FROM checkpoints")
        .fetch_one(&mut connection)
        .await
        .expect("count");
    assert_eq!(threads, 4, "the first thread and the three in the WAL");
    connection.close().await.expect("close");

    let store = tokio::time::timeout(HANG, SqliteStore::open(&crashed, SqliteOptions::default()))
        .await
        .expect("no hang")
        .unwrap_or_else(|e| {
            panic!(
                "a database killed mid-checkpoint ({} bytes, header says {pages} pages, the WAL holds the rest) must open: {e}",
                file.len()
            )
        });
    assert_eq!(store.quick_check().await.expect("quick_check"), ["ok"]);
    let graph = support::graph_on(&spec(8), &store);
    for (t, expected) in expected.iter().enumerate() {
        let snapshot = graph
            .get_state(&RunConfig::thread(format!("w{t}")))
            .await
            .expect("get_state");
        assert_eq!(&snapshot.values, expected, "thread w{t} survived");
    }
    store.close().await;
}

/// A crash image of a database killed in the middle of a write in rollback-journal mode (the
/// mode a new file is in until the store switches it to WAL; the crash test's second phase
/// leaves such files): pages already overwritten in the file, the originals in a hot
/// `-journal`. SQLite's recovery rolls the journal back, so nothing committed is lost: the store
/// must open it (a read-only connection cannot roll back) and see the data as committed.
#[tokio::test]
async fn killed_with_a_hot_rollback_journal() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("live.db");
    real_db(&path).await;
    let store = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .expect("the store opens");
    let graph = support::graph_on(&spec(6), &store);
    let committed = graph
        .get_state(&RunConfig::thread("t1"))
        .await
        .expect("get_state")
        .values;
    store.close().await;

    // Rollback mode, a tiny page cache, and a large write that spills into the file before
    // its commit; the crash image is taken mid-transaction.
    let mut connection = plain_connection(&path, false).await;
    for pragma in [
        "PRAGMA journal_mode = DELETE",
        "PRAGMA cache_size = 2",
        "BEGIN IMMEDIATE",
    ] {
        sqlx::query(pragma).execute(&mut connection).await.expect(pragma);
    }
    sqlx::query("UPDATE blobs SET data = randomblob(3000)")
        .execute(&mut connection)
        .await
        .expect("a large uncommitted write");
    let image = dir.path().join("image");
    std::fs::create_dir(&image).expect("mkdir");
    let crashed = image.join("lemmings.db");
    std::fs::copy(&path, &crashed).expect("copy the file");
    let journal = support::with_suffix(&path, "-journal");
    assert!(support::file_size(&journal) > 0, "the write has a journal");
    std::fs::copy(&journal, support::with_suffix(&crashed, "-journal")).expect("copy the journal");
    sqlx::query("ROLLBACK")
        .execute(&mut connection)
        .await
        .expect("ROLLBACK");
    connection.close().await.expect("close");
    assert_ne!(
        std::fs::read(&crashed).expect("read"),
        std::fs::read(&path).expect("read"),
        "the image holds pages of the uncommitted write"
    );

    let store = tokio::time::timeout(HANG, SqliteStore::open(&crashed, SqliteOptions::default()))
        .await
        .expect("no hang")
        .unwrap_or_else(|e| panic!("a database with a hot rollback journal must open (SQLite rolls it back): {e:?}"));
    assert_eq!(store.quick_check().await.expect("quick_check"), ["ok"]);
    let graph = support::graph_on(&spec(6), &store);
    let state = graph.get_state(&RunConfig::thread("t1")).await.expect("get_state");
    assert_eq!(
        state.values, committed,
        "the committed state, without the rolled-back write"
    );
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// Read-only
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn read_only_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("lemmings.db");
    real_db(&path).await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).expect("chmod 0444");
    let error = refused("chmod 0444 on the file", dir.path(), &path, SqliteOptions::default()).await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod back");
    assert!(
        matches!(&error, StoreError::ReadOnly { location, reason }
            if location.to_string() == path.display().to_string() && reason.contains("file is marked read-only")),
        "{error:?}"
    );
    assert_eq!(error.kind(), CheckpointErrorKind::ReadOnly);
    assert_names(&error, &path, "is read-only");
}

#[tokio::test]
async fn read_only_directory() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).expect("mkdir");
    let path = home.join("lemmings.db");
    real_db(&path).await;
    for mode in [0o444, 0o555] {
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(mode)).expect("chmod the directory");
        let fault = format!("chmod {mode:04o} on the directory");
        let error = refused(&fault, dir.path(), &path, SqliteOptions::default()).await;
        // And with `create`, which must not try to make anything there either.
        let with_create = refused(&format!("{fault}, create"), dir.path(), &path, SqliteOptions::create()).await;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
        for error in [error, with_create] {
            assert!(
                matches!(&error, StoreError::ReadOnly { location, reason }
                    if location.to_string() == path.display().to_string()
                        && reason.contains(&home.display().to_string())),
                "{error:?}"
            );
            assert_eq!(error.kind(), CheckpointErrorKind::ReadOnly);
            assert_names(&error, &path, "is read-only");
            assert_names(&error, &path, "-wal");
        }
    }
}

#[tokio::test]
async fn new_database_in_a_read_only_directory() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).expect("mkdir");
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o555)).expect("chmod the directory");
    let path = home.join("lemmings.db");
    let error = refused(
        "create in a chmod 0555 directory",
        dir.path(),
        &path,
        SqliteOptions::create(),
    )
    .await;
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
    assert!(matches!(&error, StoreError::ReadOnly { .. }), "{error:?}");
    assert_names(&error, &path, "is read-only");
}

// ---------------------------------------------------------------------------------------------
// Missing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn missing_directory_without_create() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let missing = dir.path().join("no").join("such");
    let path = missing.join("lemmings.db");
    for (name, options) in [
        ("missing directory", SqliteOptions::default()),
        (
            "missing directory, create without create_dirs",
            SqliteOptions {
                create_dirs: false,
                ..SqliteOptions::create()
            },
        ),
    ] {
        let error = refused(name, dir.path(), &path, options).await;
        assert!(
            matches!(&error, StoreError::MissingDirectory { location, directory }
                if location.to_string() == path.display().to_string()
                    && *directory == missing.display().to_string()),
            "{name}: {error:?}"
        );
        assert_eq!(error.kind(), CheckpointErrorKind::Invalid);
        assert_names(
            &error,
            &path,
            &format!("directory {} does not exist", missing.display()),
        );
    }
    assert!(!dir.path().join("no").exists(), "no directory was created");
}

#[tokio::test]
async fn missing_directory_with_create_is_made() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("no").join("such").join("lemmings.db");
    let store = tokio::time::timeout(HANG, SqliteStore::open(&path, SqliteOptions::create()))
        .await
        .expect("no hang")
        .expect("create makes the directories and the file");
    assert_eq!(store.quick_check().await.expect("quick_check"), ["ok"]);
    store.close().await;
    assert!(path.is_file());
}

#[tokio::test]
async fn missing_file_without_create() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("lemmings.db");
    let error = refused("missing file", dir.path(), &path, SqliteOptions::default()).await;
    assert!(
        matches!(&error, StoreError::NotFound { location } if location.to_string() == path.display().to_string()),
        "{error:?}"
    );
    assert_eq!(error.kind(), CheckpointErrorKind::Invalid);
    assert_names(&error, &path, "no database at");
    // Through `lemmings_store::open` (the path the CLI takes) too.
    let error = lemmings_store::open(&path.display().to_string(), false)
        .await
        .expect_err("a missing file is refused");
    assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
    assert!(!path.exists(), "no database was created");
}

#[tokio::test]
async fn a_directory_where_the_file_should_be() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("lemmings.db");
    std::fs::create_dir(&path).expect("mkdir");
    let error = refused("a directory at the path", dir.path(), &path, SqliteOptions::create()).await;
    assert!(matches!(&error, StoreError::Invalid(_)), "{error:?}");
    assert_names(&error, &path, "is a directory");
}

// ---------------------------------------------------------------------------------------------
// Other programs, other versions
// ---------------------------------------------------------------------------------------------

async fn plain_connection(path: &Path, create: bool) -> sqlx::SqliteConnection {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(create)
        .connect()
        .await
        .expect("a plain sqlx connection")
}

#[tokio::test]
async fn database_of_another_program() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("lemmings.db");
    let mut connection = plain_connection(&path, true).await;
    sqlx::query("CREATE TABLE checkpoints (id INTEGER PRIMARY KEY, note TEXT)")
        .execute(&mut connection)
        .await
        .expect("create a foreign table");
    sqlx::query("INSERT INTO checkpoints (note) VALUES ('not ours')")
        .execute(&mut connection)
        .await
        .expect("insert");
    connection.close().await.expect("close");
    let error = refused(
        "a SQLite database of another program",
        dir.path(),
        &path,
        SqliteOptions::create(),
    )
    .await;
    assert!(
        matches!(&error, StoreError::Corrupt { location, reason }
            if location.to_string() == path.display().to_string()
                && reason.contains("another program") && reason.contains("checkpoints")),
        "{error:?}"
    );
    assert_names(&error, &path, "another program (tables: checkpoints)");
}

#[tokio::test]
async fn database_written_by_a_newer_lemmings() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("lemmings.db");
    real_db(&path).await;
    let mut connection = plain_connection(&path, false).await;
    let known: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&mut connection)
        .await
        .expect("the applied migrations");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'from the future', 1, X'00', 0)",
    )
    .execute(&mut connection)
    .await
    .expect("insert a newer migration");
    connection.close().await.expect("close");
    let error = refused_with(
        "written by a newer Lemmings",
        dir.path(),
        &path,
        SqliteOptions::default(),
        true,
    )
    .await;
    assert!(
        matches!(&error, StoreError::TooNew { location, found: 9999, known: k }
            if location.to_string() == path.display().to_string() && *k == known),
        "{error:?}"
    );
    assert_eq!(error.kind(), CheckpointErrorKind::TooNew);
    assert_names(&error, &path, "newer Lemmings (schema version 9999");
}

#[tokio::test]
async fn edited_migration() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("lemmings.db");
    real_db(&path).await;
    let mut connection = plain_connection(&path, false).await;
    let changed = sqlx::query("UPDATE _sqlx_migrations SET checksum = X'DEADBEEF' WHERE version = 1")
        .execute(&mut connection)
        .await
        .expect("edit the checksum")
        .rows_affected();
    assert_eq!(changed, 1);
    connection.close().await.expect("close");
    let error = refused_with("an edited migration", dir.path(), &path, SqliteOptions::default(), true).await;
    assert!(
        matches!(&error, StoreError::Migration { location, reason }
            if location.to_string() == path.display().to_string() && reason.contains("migration 1 was changed")),
        "{error:?}"
    );
    assert_eq!(error.kind(), CheckpointErrorKind::Corrupt);
    assert_names(&error, &path, "migration 1 was changed after it was applied");
}

// ---------------------------------------------------------------------------------------------
// Locked
// ---------------------------------------------------------------------------------------------

const LOCK_HOLDER: &str = "LEMMINGS_LOCK_HOLDER_DB";

/// Not a test of its own: the child process of [`exclusive_lock_longer_than_the_busy_timeout`],
/// run with `LEMMINGS_LOCK_HOLDER_DB` set. It takes `BEGIN EXCLUSIVE` on the database, says
/// `LEMMINGS LOCKED`, and holds the lock until its stdin says to let go.
#[tokio::test]
async fn lock_holder_child() {
    let Some(path) = std::env::var_os(LOCK_HOLDER) else {
        return;
    };
    let mut connection = plain_connection(Path::new(&path), false).await;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut connection)
        .await
        .expect("BEGIN EXCLUSIVE");
    println!("LEMMINGS LOCKED {}", std::process::id());
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).expect("read stdin");
    sqlx::query("ROLLBACK")
        .execute(&mut connection)
        .await
        .expect("ROLLBACK");
    connection.close().await.expect("close");
    println!("LEMMINGS RELEASED");
}

#[tokio::test]
async fn exclusive_lock_longer_than_the_busy_timeout() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("lemmings.db");
    real_db(&path).await;
    let busy = Duration::from_millis(200);
    let store = SqliteStore::open(
        &path,
        SqliteOptions {
            busy_timeout: busy,
            ..SqliteOptions::default()
        },
    )
    .await
    .expect("the store opens");

    // Another process takes the write lock and keeps it.
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args(["lock_holder_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(LOCK_HOLDER, &path);
    let mut holder = Proc::spawn(command);
    holder.expect_marked("LEMMINGS LOCKED", HANG);

    // A store write waits for the busy timeout, then fails as Busy, naming the path.
    let started = Instant::now();
    let error = tokio::time::timeout(HANG, store.acquire_lease("t2"))
        .await
        .expect("the write must not hang")
        .expect_err("the write lock is held elsewhere");
    let waited = started.elapsed();
    assert_eq!(error.kind(), CheckpointErrorKind::Busy, "{error}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("is locked by another process"), "{message}");
    assert!(message.contains("200 ms"), "{message}");
    assert!(
        waited >= busy && waited < Duration::from_secs(5),
        "waited {waited:?}, the busy timeout is {busy:?}"
    );
    println!(
        "faults: {:<44} {:<12} {:>7.1} ms  {message}",
        "BEGIN EXCLUSIVE elsewhere (busy 200 ms)",
        format!("{:?}", error.kind()),
        waited.as_secs_f64() * 1e3
    );

    // The same through the engine: the run's error is the checkpointer's, kind Busy.
    let graph = support::graph_on(&spec(2), &store);
    let config = RunConfig::thread("t3");
    let error = tokio::time::timeout(HANG, graph.invoke(support::work_input(), &config))
        .await
        .expect("the run must not hang")
        .expect_err("the write lock is held elsewhere");
    match &error {
        GraphError::Checkpointer { source, .. } => {
            assert_eq!(source.kind(), CheckpointErrorKind::Busy, "{error}");
            assert!(source.to_string().contains(&path.display().to_string()), "{error}");
        }
        other => panic!("expected GraphError::Checkpointer (Busy), got {other:?}"),
    }
    assert!(!error.to_string().contains("database is locked"), "{error}");

    // Opening needs no write lock (the file is already migrated), so another store still opens,
    // and its writes are refused the same way.
    let second = tokio::time::timeout(
        HANG,
        SqliteStore::open(
            &path,
            SqliteOptions {
                busy_timeout: busy,
                ..SqliteOptions::default()
            },
        ),
    )
    .await
    .expect("opening must not hang")
    .expect("a migrated database opens while another process holds the write lock");
    let error = second
        .record_intent("t4", "key", "an effect")
        .await
        .expect_err("the write lock is held elsewhere");
    assert_eq!(error.kind(), CheckpointErrorKind::Busy, "{error}");
    assert!(error.to_string().contains(&path.display().to_string()), "{error}");
    second.close().await;

    // Reads still work while the lock is held (WAL).
    let state = graph.get_state(&RunConfig::thread("t1")).await.expect("reads go on");
    assert!(state.next.is_empty());

    // Once the other process lets go, writes go through.
    holder
        .stdin()
        .write_all(b"release\n")
        .expect("tell the holder to let go");
    holder.expect_marked("LEMMINGS RELEASED", HANG);
    let (status, _, stderr) = holder.finish(HANG);
    assert!(status.success(), "the lock holder failed: {status:?} {stderr}");
    let output = graph
        .invoke(support::work_input(), &config)
        .await
        .expect("the run goes through once the lock is released");
    assert!(output.is_done());
    store.close().await;
}
