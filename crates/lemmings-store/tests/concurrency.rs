//! T5, concurrency on one database file: several processes running threads at once, two
//! processes resuming the same thread, a dead holder's lease taken over, and fencing.
//!
//! Other processes are this test binary re-executed on the one test [`worker_child`], which does
//! nothing unless `LEMMINGS_WORKER` is set. Workers say what happens on stdout (`LEMMINGS …`
//! lines) and take orders on stdin, so the parent synchronises on lines and process exits only.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use lemmings_graph::{
    CheckpointErrorKind, CheckpointId, CheckpointPut, Checkpointer, GraphError, InMemorySaver, NodeError, RunConfig,
    TaskId, TaskWrites,
};
use lemmings_store::{SqliteOptions, SqliteStore};
use sqlx::Row;
use support::{Hook, Ledger, Proc, Spec, Work};
use tokio::sync::{Mutex, mpsc};

const WORKER: &str = "LEMMINGS_WORKER";
const WORKER_DB: &str = "LEMMINGS_WORKER_DB";
const WORKER_THREADS: &str = "LEMMINGS_WORKER_THREADS";
const WORKER_DIR: &str = "LEMMINGS_WORKER_DIR";
const WORKER_CREATE: &str = "LEMMINGS_WORKER_CREATE";
const WORKER_GATE: &str = "LEMMINGS_WORKER_GATE";
const WORKER_PAUSE: &str = "LEMMINGS_WORKER_PAUSE";

/// Anything that takes longer is a hang.
const HANG: Duration = Duration::from_secs(120);
/// A refused resume must come well before the 5 s busy timeout: it does not wait.
const FAST: Duration = Duration::from_secs(2);

fn spec(ledger: Option<Ledger>, hook: Option<Hook>) -> Spec {
    Spec {
        chain: 6,
        effects: 1,
        ledger,
        hook,
    }
}

/// The final state of an uninterrupted run, on the in-memory saver.
async fn reference() -> Work {
    let graph = support::work_graph(&spec(None, None)).with_checkpointer(Arc::new(InMemorySaver::new()));
    let output = graph
        .invoke(support::work_input(), &RunConfig::thread("reference"))
        .await
        .expect("the reference run");
    assert!(output.is_done());
    output.value
}

// ---------------------------------------------------------------------------------------------
// The worker process
// ---------------------------------------------------------------------------------------------

fn say(line: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    // A newline first: libtest may have printed `test worker_child ... ` on this line.
    let _ = writeln!(out, "\nLEMMINGS {}", line.as_ref());
    let _ = out.flush();
}

/// Lines from stdin, as the parent's orders.
fn orders() -> Arc<Mutex<mpsc::UnboundedReceiver<String>>> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut line = String::new();
        while stdin.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if tx.send(line.trim().to_owned()).is_err() {
                break;
            }
            line.clear();
        }
    });
    Arc::new(Mutex::new(rx))
}

async fn expect_order(orders: &Mutex<mpsc::UnboundedReceiver<String>>, order: &str) {
    let got = orders.lock().await.recv().await;
    assert_eq!(got.as_deref(), Some(order), "the worker expected the order {order:?}");
}

/// Not a test of its own: the worker process of the tests below, run with `LEMMINGS_WORKER`.
#[test]
fn worker_child() {
    let Ok(mode) = std::env::var(WORKER) else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(worker(mode));
}

async fn worker(mode: String) {
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("the worker needs {name}"));
    let db = PathBuf::from(env(WORKER_DB));
    let orders = orders();
    say(format!("READY {}", std::process::id()));
    expect_order(&orders, "go").await;
    let options = if std::env::var_os(WORKER_CREATE).is_some() {
        SqliteOptions::create()
    } else {
        SqliteOptions::default()
    };
    let store = match SqliteStore::open(&db, options).await {
        Ok(store) => store,
        Err(e) => {
            say(format!("ERROR open {:?} {e}", e.kind()));
            panic!("the worker cannot open {}: {e}", db.display());
        }
    };
    match mode.as_str() {
        // Runs every thread of LEMMINGS_WORKER_THREADS at once, to the end.
        "run" => {
            let dir = PathBuf::from(env(WORKER_DIR));
            let mut runs = Vec::new();
            for thread in env(WORKER_THREADS).split(',') {
                let graph = support::graph_on(&spec(Some(Ledger::new(&dir, thread, false)), None), &store);
                let thread = thread.to_owned();
                runs.push(tokio::spawn(async move {
                    let result = graph
                        .invoke(support::work_input(), &RunConfig::thread(thread.clone()))
                        .await;
                    (thread, result)
                }));
            }
            let mut failed = 0;
            for run in runs {
                let (thread, result) = run.await.expect("a run task");
                match result {
                    Ok(output) if output.is_done() => say(format!("DONE {thread}")),
                    Ok(output) => {
                        failed += 1;
                        say(format!("ERROR {thread} stopped early, next {:?}", output.next));
                    }
                    Err(e) => {
                        failed += 1;
                        say(format!("ERROR {thread} {e}"));
                    }
                }
            }
            assert_eq!(failed, 0, "{failed} runs failed");
        }
        // Continues one thread, holding node LEMMINGS_WORKER_GATE until told to release it, and
        // pausing before LEMMINGS_WORKER_PAUSE.
        "resume" => {
            let thread = env(WORKER_THREADS);
            let gate = env(WORKER_GATE);
            let gate_orders = Arc::clone(&orders);
            let hook: Hook = Arc::new(move |node: String, _step: i64| {
                let (gate, orders) = (gate.clone(), Arc::clone(&gate_orders));
                async move {
                    if node == gate {
                        say(format!("HOLDING {}", std::process::id()));
                        expect_order(&orders, "release").await;
                    }
                    Ok::<_, NodeError>(())
                }
                .boxed()
            });
            let graph = support::graph_on(&spec(None, Some(hook)), &store);
            let config = RunConfig::thread(thread).interrupt_before([env(WORKER_PAUSE)]);
            let started = Instant::now();
            match graph.continue_run(&config).await {
                Ok(output) => say(format!("PAUSED {}", output.next.join(","))),
                Err(GraphError::Checkpointer { source, .. }) if source.kind() == CheckpointErrorKind::Locked => {
                    say(format!("LOCKED {} {source}", started.elapsed().as_millis()))
                }
                Err(e) => {
                    say(format!("ERROR {e}"));
                    panic!("the resume failed: {e}");
                }
            }
        }
        other => panic!("unknown worker mode {other:?}"),
    }
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// The parent's helpers
// ---------------------------------------------------------------------------------------------

fn worker_command(mode: &str, db: &Path, vars: &[(&str, String)]) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args(["worker_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(WORKER, mode)
        .env(WORKER_DB, db)
        .env_remove(WORKER_CREATE);
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

/// Starts workers, waits until each is ready, then tells them all to go at once.
fn start_together(commands: Vec<Command>) -> Vec<Proc> {
    let mut workers: Vec<Proc> = commands.into_iter().map(Proc::spawn).collect();
    for worker in &mut workers {
        worker.expect_marked("LEMMINGS READY", HANG);
    }
    for worker in &mut workers {
        worker.stdin().write_all(b"go\n").expect("tell the worker to go");
    }
    workers
}

/// The `LEMMINGS …` lines a worker printed, without the prefix.
fn said(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.find("LEMMINGS ").map(|i| l[i + "LEMMINGS ".len()..].to_owned()))
        .collect()
}

/// A finished worker: exit 0, and "database is locked" nowhere in what it printed.
fn assert_worker_ok(worker: &mut Proc, what: &str) -> Vec<String> {
    let (status, _, stderr) = worker.finish(HANG);
    let output = worker.seen.join("\n");
    assert!(
        status.success(),
        "{what} (pid {}) failed: {status:?}\nstdout:\n{output}\nstderr:\n{stderr}",
        worker.pid
    );
    for text in [&output, &stderr] {
        assert!(
            !text.to_lowercase().contains("database is locked"),
            "{what} (pid {}) saw `database is locked`:\n{text}",
            worker.pid
        );
    }
    said(&worker.seen)
}

async fn new_db(dir: &Path) -> PathBuf {
    let path = dir.join("shared.db");
    SqliteStore::open(&path, SqliteOptions::create())
        .await
        .expect("create the database")
        .close()
        .await;
    path
}

async fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path, SqliteOptions::default())
        .await
        .expect("the database opens")
}

/// `(epoch, pid, released)` of a thread's lease row.
async fn lease_row(path: &Path, thread: &str) -> (i64, i64, bool) {
    let mut connection = support::read_only(path).await;
    let row = sqlx::query("SELECT epoch, pid, released FROM leases WHERE thread_id = ?")
        .bind(thread)
        .fetch_one(&mut connection)
        .await
        .expect("the lease row");
    (row.get(0), row.get(1), row.get::<i64, _>(2) != 0)
}

/// A thread paused before the superstep of `a02`/`b02`, made in this process.
async fn paused_thread(store: &SqliteStore, thread: &str) {
    let graph = support::graph_on(&spec(None, None), store);
    let output = graph
        .invoke(
            support::work_input(),
            &RunConfig::thread(thread).interrupt_before(["a02"]),
        )
        .await
        .expect("the first part of the run");
    assert_eq!(output.next, ["a02", "b02"]);
}

fn resume_worker(db: &Path, thread: &str) -> Command {
    worker_command(
        "resume",
        db,
        &[
            (WORKER_THREADS, thread.to_owned()),
            (WORKER_GATE, "a02".to_owned()),
            (WORKER_PAUSE, "a04".to_owned()),
        ],
    )
}

/// Continues `thread` in this process to the end and checks it against the reference.
async fn finish_here(store: &SqliteStore, thread: &str, expected: &Work) -> Duration {
    let graph = support::graph_on(&spec(None, None), store);
    let started = Instant::now();
    let output = tokio::time::timeout(HANG, graph.continue_run(&RunConfig::thread(thread)))
        .await
        .expect("the run must not hang")
        .unwrap_or_else(|e| panic!("continuing {thread} failed: {e}"));
    let took = started.elapsed();
    assert!(output.is_done(), "{thread} is finished");
    assert_eq!(&output.value, expected, "{thread} matches the uninterrupted run");
    took
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// 8 processes × 5 threads at once on one file, while this process reads every thread back to
/// back: every read succeeds, every run completes and matches the reference, no worker sees
/// `database is locked`, no effect is applied twice, every lease is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_share_one_database() {
    const PROCESSES: usize = 8;
    const THREADS: usize = 5;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = new_db(dir.path()).await;
    let expected = reference().await;
    let threads = |p: usize| (0..THREADS).map(|t| format!("w{p}-t{t}")).collect::<Vec<_>>();

    // A reader lists the threads and reads each one's state, back to back (a read is then
    // likely to straddle a commit), while the workers write.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn({
        let (db, stop) = (db.clone(), Arc::clone(&stop));
        async move {
            let store = open(&db).await;
            let graph = support::graph_on(&spec(None, None), &store);
            let (mut reads, mut failures) = (0usize, Vec::new());
            while !stop.load(Ordering::SeqCst) {
                match store.list_threads().await {
                    Ok(listed) => {
                        reads += 1;
                        for thread in listed {
                            match graph.get_state(&RunConfig::thread(thread.thread_id.clone())).await {
                                Ok(_) => reads += 1,
                                Err(e) => failures.push(format!("get_state({}): {e}", thread.thread_id)),
                            }
                        }
                    }
                    Err(e) => failures.push(format!("list_threads: {e}")),
                }
            }
            store.close().await;
            (reads, failures)
        }
    });

    let started = Instant::now();
    let commands = (0..PROCESSES)
        .map(|p| {
            worker_command(
                "run",
                &db,
                &[
                    (WORKER_THREADS, threads(p).join(",")),
                    (WORKER_DIR, dir.path().display().to_string()),
                ],
            )
        })
        .collect();
    let mut workers = start_together(commands);
    let outputs = tokio::task::spawn_blocking(move || {
        workers
            .iter_mut()
            .enumerate()
            .map(|(p, w)| assert_worker_ok(w, &format!("worker {p}")))
            .collect::<Vec<_>>()
    })
    .await
    .expect("the workers");
    let elapsed = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (reads, read_failures) = reader.await.expect("the reader");

    let store = open(&db).await;
    let graph = support::graph_on(&spec(None, None), &store);
    let spec = spec(None, None);
    for (p, said) in outputs.iter().enumerate() {
        let done: BTreeSet<String> = said
            .iter()
            .filter_map(|l| l.strip_prefix("DONE "))
            .map(str::to_owned)
            .collect();
        assert_eq!(
            done,
            threads(p).into_iter().collect(),
            "worker {p} finished its threads: {said:?}"
        );
        for thread in threads(p) {
            let snapshot = graph
                .get_state(&RunConfig::thread(thread.clone()))
                .await
                .expect("get_state");
            assert!(snapshot.next.is_empty(), "{thread} is finished");
            assert_eq!(
                snapshot.values, expected,
                "{thread} matches the reference (no contamination)"
            );
            let history = graph
                .get_state_history(&RunConfig::thread(thread.clone()), &Default::default())
                .await
                .expect("history");
            assert_eq!(history.len(), spec.checkpoints(), "{thread}: one checkpoint per step");
            let ledger = Ledger::new(dir.path(), &thread, false).report();
            assert_eq!(ledger.duplicates, 0, "{thread}: {ledger:?}");
            assert_eq!(
                ledger.keys,
                spec.tasks() * spec.effects as usize,
                "{thread}: {ledger:?}"
            );
            let (_, _, released) = lease_row(&db, &thread).await;
            assert!(released, "{thread}: the lease was released");
        }
    }
    assert!(
        read_failures.is_empty(),
        "{} of {} reads failed while the workers wrote: {:#?}",
        read_failures.len(),
        reads + read_failures.len(),
        read_failures
    );
    assert_eq!(store.list_threads().await.expect("list").len(), PROCESSES * THREADS);
    assert_eq!(store.quick_check().await.expect("quick_check"), ["ok"]);
    store.close().await;
    let runs = PROCESSES * THREADS;
    println!(
        "concurrency: {PROCESSES} processes × {THREADS} threads: {runs} runs in {:.2} s ({:.1} runs/s), {reads} reads alongside, no worker error",
        elapsed.as_secs_f64(),
        runs as f64 / elapsed.as_secs_f64(),
    );
}

/// 4 processes open a database that does not exist yet with `create`, at once, and each runs a
/// thread: creating and migrating the file concurrently must not fail any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_create_the_database_at_once() {
    const PROCESSES: usize = 4;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("fresh.db");
    let expected = reference().await;
    let commands = (0..PROCESSES)
        .map(|p| {
            let mut command = worker_command(
                "run",
                &db,
                &[
                    (WORKER_THREADS, format!("c{p}")),
                    (WORKER_DIR, dir.path().display().to_string()),
                ],
            );
            command.env(WORKER_CREATE, "1");
            command
        })
        .collect();
    let mut workers = start_together(commands);
    tokio::task::spawn_blocking(move || {
        for (p, worker) in workers.iter_mut().enumerate() {
            let said = assert_worker_ok(worker, &format!("creating worker {p}"));
            assert!(said.contains(&format!("DONE c{p}")), "{said:?}");
        }
    })
    .await
    .expect("the workers");
    let store = open(&db).await;
    for p in 0..PROCESSES {
        let graph = support::graph_on(&spec(None, None), &store);
        let snapshot = graph
            .get_state(&RunConfig::thread(format!("c{p}")))
            .await
            .expect("get_state");
        assert_eq!(snapshot.values, expected);
    }
    store.close().await;
}

/// Two processes continue the same thread at once: one runs it, the other is refused at once
/// with `Locked` naming the winner's pid; once the winner has stopped, the thread continues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_resume_the_same_thread() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = new_db(dir.path()).await;
    let expected = reference().await;
    let store = open(&db).await;
    paused_thread(&store, "contested").await;

    let mut workers = start_together(vec![resume_worker(&db, "contested"), resume_worker(&db, "contested")]);
    // Each says HOLDING (it runs the thread, held at a02) or LOCKED (refused), without waiting
    // for the other.
    let outcomes: Vec<String> = tokio::task::block_in_place(|| {
        workers
            .iter_mut()
            .map(|w| w.expect_marked("LEMMINGS ", HANG)["LEMMINGS ".len()..].to_owned())
            .collect()
    });
    let winner = outcomes
        .iter()
        .position(|o| o.starts_with("HOLDING"))
        .unwrap_or_else(|| panic!("one worker must run the thread: {outcomes:?}"));
    let loser = 1 - winner;
    assert!(
        outcomes[loser].starts_with("LOCKED "),
        "the other worker must be refused as Locked: {outcomes:?}"
    );
    let winner_pid = workers[winner].pid;
    let mut words = outcomes[loser].splitn(3, ' ');
    let (_, millis, message) = (words.next(), words.next(), words.next().unwrap_or_default());
    let millis: u64 = millis.and_then(|m| m.parse().ok()).expect("the refusal's time");
    assert!(
        message.contains(&format!("is being run by pid {winner_pid} on host")),
        "the refusal names the holder's pid {winner_pid}: {message}"
    );
    assert!(message.contains("contested"), "the refusal names the thread: {message}");
    assert!(
        Duration::from_millis(millis) < FAST,
        "the refusal is immediate, not a busy wait: {millis} ms"
    );
    let mut loser = workers.remove(loser);
    let loser_said = tokio::task::block_in_place(|| assert_worker_ok(&mut loser, "the refused worker"));
    assert!(!loser_said.iter().any(|l| l.starts_with("HOLDING")), "{loser_said:?}");

    // While the winner holds the thread, this process is refused too.
    let graph = support::graph_on(&spec(None, None), &store);
    match graph.continue_run(&RunConfig::thread("contested")).await {
        Err(GraphError::Checkpointer { source, .. }) => {
            assert_eq!(source.kind(), CheckpointErrorKind::Locked, "{source}");
            assert!(source.to_string().contains(&format!("pid {winner_pid} ")), "{source}");
        }
        other => panic!("expected Locked while the winner runs, got {other:?}"),
    }

    // The winner goes on, pauses before a04 and ends; then the thread continues here.
    let mut winner = workers.remove(0);
    winner.stdin().write_all(b"release\n").expect("release the winner");
    let winner_said = tokio::task::block_in_place(|| assert_worker_ok(&mut winner, "the winning worker"));
    assert!(
        winner_said.iter().any(|l| l == "PAUSED a04,b04"),
        "the winner paused before a04: {winner_said:?}"
    );
    let took = finish_here(&store, "contested", &expected).await;
    assert!(
        took < FAST,
        "the lease the winner released is taken at once, it took {took:?}"
    );
    store.close().await;
}

/// The state of a process from `/proc/<pid>/stat` (`Z` for a zombie), if it exists.
fn process_state(pid: u32) -> Option<char> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text[text.rfind(')')? + 1..].split_whitespace().next()?.chars().next()
}

/// A worker holding the thread is killed with SIGKILL mid-run; the thread is continued here at
/// once (not after the 30 s lease time to live): with the holder reaped, and with the holder a
/// zombie not yet reaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holders_lease_is_taken_over_at_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = new_db(dir.path()).await;
    let expected = reference().await;
    let store = open(&db).await;
    for reap in [true, false] {
        let thread = if reap { "killed" } else { "zombie" };
        paused_thread(&store, thread).await;
        let (epoch_before, _, _) = lease_row(&db, thread).await;
        let mut workers = start_together(vec![resume_worker(&db, thread)]);
        let mut holder = workers.remove(0);
        let pid = holder.pid;
        tokio::task::block_in_place(|| {
            holder.expect_marked("LEMMINGS HOLDING", HANG);
            holder.kill();
            if reap {
                let (status, _, _) = holder.finish(HANG);
                assert_eq!(support::signal_of(&status), Some(9));
            } else {
                // Its stdout closes as it dies; then it stays a zombie until reaped.
                let deadline = Instant::now() + HANG;
                while holder.line_before(deadline) != support::Next::Eof {}
                while process_state(pid) != Some('Z') {
                    assert!(Instant::now() < deadline, "pid {pid} never became a zombie");
                    std::thread::yield_now();
                }
            }
        });
        let (epoch, holder_pid, released) = lease_row(&db, thread).await;
        assert_eq!(
            (epoch, holder_pid, released),
            (epoch_before + 1, i64::from(pid), false),
            "{thread}: the dead worker held the lease"
        );
        let took = finish_here(&store, thread, &expected).await;
        assert!(
            took < FAST,
            "{thread}: a dead holder's lease is taken over at once, it took {took:?}"
        );
        let (epoch_after, holder_pid, released) = lease_row(&db, thread).await;
        assert_eq!(epoch_after, epoch + 1, "{thread}: taken over with a new epoch");
        assert_eq!(holder_pid, i64::from(std::process::id()));
        assert!(released);
        println!(
            "concurrency: {thread} holder (pid {pid}) taken over and finished in {:.1} ms",
            took.as_secs_f64() * 1e3
        );
        if !reap {
            let (status, _, _) = holder.finish(HANG);
            assert_eq!(support::signal_of(&status), Some(9));
        }
    }
    store.close().await;
}

/// Makes the holder of `thread`'s lease look dead: a pid no process can have.
async fn kill_holder_in_db(path: &Path, thread: &str) {
    let mut connection = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("a plain connection");
    use sqlx::{ConnectOptions, Connection};
    let changed = sqlx::query("UPDATE leases SET pid = ? WHERE thread_id = ?")
        .bind(i64::from(u32::MAX - 7))
        .bind(thread)
        .execute(&mut connection)
        .await
        .expect("update the lease")
        .rows_affected();
    assert_eq!(changed, 1);
    connection.close().await.expect("close");
}

/// Two stores on one file in this process: A holds a thread, "dies" (its lease row now names a
/// pid that does not exist), B takes the thread over (epoch + 1); every write of A is then
/// refused as `Fenced`, naming B, and none of them lands.
#[tokio::test]
async fn fencing_refuses_the_old_holders_writes() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = new_db(dir.path()).await;
    let a = open(&db).await;
    let b = open(&db).await;
    paused_thread(&a, "fenced").await;
    let latest = a.get("fenced", "", None).await.expect("get").expect("a checkpoint");

    let lease_a = a.acquire_lease("fenced").await.expect("A acquires").expect("a lease");
    // B is refused while A lives.
    let refused = b.acquire_lease("fenced").await.expect_err("A holds the thread");
    assert_eq!(refused.kind(), CheckpointErrorKind::Locked, "{refused}");
    assert!(refused.to_string().contains(&lease_a.holder), "{refused}");

    kill_holder_in_db(&db, "fenced").await;
    let lease_b = b.acquire_lease("fenced").await.expect("B takes over").expect("a lease");
    assert_eq!(lease_b.epoch, lease_a.epoch + 1);

    let fenced = |what: &str, result: Result<(), lemmings_graph::CheckpointError>| {
        let error = result.expect_err(&format!("A's {what} must be refused"));
        assert_eq!(error.kind(), CheckpointErrorKind::Fenced, "{what}: {error}");
        let message = error.to_string();
        assert!(
            message.contains(&format!(
                "taken over by {} (lease epoch {})",
                lease_b.holder, lease_b.epoch
            )),
            "{what}: the refusal names B and its epoch: {message}"
        );
        assert!(
            message.contains("fenced"),
            "{what}: the refusal names the thread: {message}"
        );
    };
    let task = TaskId::derive(
        Some(latest.checkpoint.id),
        "",
        latest.checkpoint.step + 1,
        "fenced-task",
    );
    let writes = TaskWrites {
        task_id: task,
        task_path: "~zz".to_owned(),
        node: "a02".to_owned(),
        writes: vec![(
            "__effects__".to_owned(),
            bytes::Bytes::from_static(br#"{"fenced-key":1}"#),
        )],
    };
    fenced(
        "put_writes",
        a.put_writes("fenced", "", latest.checkpoint.id, vec![writes.clone()])
            .await,
    );
    let mut checkpoint = latest.checkpoint.clone();
    checkpoint.parent_id = Some(checkpoint.id);
    checkpoint.id = CheckpointId::new_after(Some(checkpoint.id));
    checkpoint.step += 1;
    let put = CheckpointPut {
        checkpoint,
        blobs: Vec::new(),
    };
    fenced("put", a.put(put.clone(), vec![writes.clone()]).await);
    fenced(
        "record_intent",
        a.record_intent("fenced", "fenced-intent", "an effect").await,
    );
    fenced("delete_thread", a.delete_thread("fenced").await);

    // Nothing of A's landed.
    assert!(
        a.get("fenced", "", Some(put.checkpoint.id))
            .await
            .expect("get")
            .is_none()
    );
    assert_eq!(a.effect("fenced", "fenced-key").await.expect("effect"), None);
    assert_eq!(a.effect("fenced", "fenced-intent").await.expect("effect"), None);
    let again = b
        .get("fenced", "", None)
        .await
        .expect("get")
        .expect("the thread is still there");
    assert_eq!(again.checkpoint.id, latest.checkpoint.id);
    assert!(again.pending_writes.is_empty());

    // A letting go of its old lease does not free B's.
    a.release_lease(&lease_a).await.expect("release A's old lease");
    let (epoch, _, released) = lease_row(&db, "fenced").await;
    assert_eq!((epoch, released), (i64::try_from(lease_b.epoch).expect("epoch"), false));

    // B writes, then lets go, and the thread continues.
    b.record_intent("fenced", "b-intent", "an effect")
        .await
        .expect("B writes");
    b.release_lease(&lease_b).await.expect("B releases");
    finish_here(&b, "fenced", &reference().await).await;
    a.close().await;
    b.close().await;
}

/// A store giving back an old lease value of a thread it holds again keeps holding it: its
/// writes still go through its lease, not refused as if another run held the thread.
#[tokio::test]
async fn releasing_a_stale_lease_keeps_the_current_one() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = new_db(dir.path()).await;
    let store = open(&db).await;
    let old = store.acquire_lease("t").await.expect("acquire").expect("a lease");
    store.release_lease(&old).await.expect("release");
    let current = store.acquire_lease("t").await.expect("acquire again").expect("a lease");
    assert_eq!(current.epoch, old.epoch + 1);
    store
        .release_lease(&old)
        .await
        .expect("releasing a stale lease is harmless");
    let (epoch, _, released) = lease_row(&db, "t").await;
    assert_eq!((epoch, released), (i64::try_from(current.epoch).expect("epoch"), false));
    store
        .record_intent("t", "key", "an effect")
        .await
        .expect("the holder still writes its thread");
    store.release_lease(&current).await.expect("release");
    store.close().await;
}

/// Through the engine: a run on store A is held inside a superstep (both its tasks, so neither
/// commits early); A "dies" and B takes the thread over; then the run goes on. Returns the
/// run's error and B's lease holder, after checking that nothing of the superstep was committed
/// and that the fenced run's cleanup left B's lease alone.
async fn fenced_run(thread: &str, effects: u32) -> (GraphError, String, support::LedgerReport) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = new_db(dir.path()).await;
    let a = open(&db).await;
    let b = open(&db).await;
    paused_thread(&a, thread).await;

    let (entered_tx, mut entered) = mpsc::unbounded_channel::<String>();
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let hook: Hook = Arc::new({
        let release = Arc::clone(&release);
        move |node: String, _step: i64| {
            let (entered_tx, release) = (entered_tx.clone(), Arc::clone(&release));
            async move {
                if node == "a02" || node == "b02" {
                    let _ = entered_tx.send(node);
                    release.acquire().await.expect("the gate").forget();
                }
                Ok::<_, NodeError>(())
            }
            .boxed()
        }
    });
    let ledger = Ledger::new(dir.path(), thread, false);
    let graph_a = support::graph_on(
        &Spec {
            effects,
            ..spec(Some(ledger.clone()), Some(hook))
        },
        &a,
    );
    let config = RunConfig::thread(thread);
    let run = tokio::spawn(async move { graph_a.continue_run(&config).await });
    for _ in 0..2 {
        tokio::time::timeout(HANG, entered.recv())
            .await
            .expect("the run reaches a02 and b02")
            .expect("the hook");
    }

    kill_holder_in_db(&db, thread).await;
    let lease_b = b.acquire_lease(thread).await.expect("B takes over").expect("a lease");
    release.add_permits(2);
    let error = tokio::time::timeout(HANG, run)
        .await
        .expect("the fenced run must stop")
        .expect("the run task")
        .expect_err("the fenced run must fail");
    assert!(
        error.to_string().contains(&format!("taken over by {}", lease_b.holder)),
        "the run's error names B: {error}"
    );
    let (epoch, _, released) = lease_row(&db, thread).await;
    assert_eq!(
        (epoch, released),
        (i64::try_from(lease_b.epoch).expect("epoch"), false),
        "the fenced run's cleanup must not release B's lease"
    );
    let snapshot = support::graph_on(&spec(None, None), &b)
        .get_state(&RunConfig::thread(thread))
        .await
        .expect("get_state");
    assert_eq!(
        snapshot.next,
        ["a02", "b02"],
        "nothing of the fenced superstep was committed"
    );
    assert_eq!(snapshot.step, 2);
    b.release_lease(&lease_b).await.expect("B releases");
    finish_here(&b, thread, &reference().await).await;
    a.close().await;
    b.close().await;
    (error, lease_b.holder, ledger.report())
}

fn assert_fenced(error: &GraphError, holder: &str) {
    match error {
        GraphError::Checkpointer { source, .. } => {
            assert_eq!(source.kind(), CheckpointErrorKind::Fenced, "{error}");
            assert!(source.to_string().contains(holder), "{error}");
        }
        other => panic!(
            "a fenced run must end in GraphError::Checkpointer with kind Fenced (the run lost its lease), got {other:?}"
        ),
    }
}

/// A fenced run whose tasks have no side effects: its commit is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_run_stops_at_its_commit() {
    let (error, holder, _) = fenced_run("fenced-commit", 0).await;
    assert_fenced(&error, &holder);
}

/// A fenced run whose tasks apply side effects: the effect's intent is refused, so the effect is
/// never applied by the run that lost the thread, and the run ends as fenced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_run_applies_no_effect() {
    let (error, holder, ledger) = fenced_run("fenced-effect", 1).await;
    // The ledger records only the fenced run (the thread's other parts run without it): both
    // tasks started, neither applied (nor even attempted) its effect.
    assert_eq!(ledger.runs, 2, "{ledger:?}");
    assert_eq!(ledger.applied, 0, "the fenced run applied no effect: {ledger:?}");
    assert_eq!(ledger.attempts, 0, "the fenced run did not even try: {ledger:?}");
    assert_fenced(&error, &holder);
}

/// Reads that straddle commits: store B (another pool on the same file) reads the latest
/// checkpoint of threads back to back while store A runs them through 60 quick supersteps. A
/// checkpoint and the blobs and writes it names are committed together, so every read must
/// succeed and be whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_never_see_half_a_checkpoint() {
    const THREADS: usize = 6;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = new_db(dir.path()).await;
    let writer = open(&db).await;
    let reader = open(&db).await;
    let spec = Spec {
        chain: 60,
        effects: 0,
        ledger: None,
        hook: None,
    };
    let graph = support::graph_on(&spec, &writer);
    let runs: Vec<_> = (0..THREADS)
        .map(|t| {
            let graph = graph.clone();
            tokio::spawn(async move {
                graph
                    .invoke(support::work_input(), &RunConfig::thread(format!("r{t}")))
                    .await
            })
        })
        .collect();
    let (mut reads, mut failures) = (0usize, Vec::new());
    while !runs.iter().all(|r| r.is_finished()) {
        for t in 0..THREADS {
            match reader.get(&format!("r{t}"), "", None).await {
                Ok(Some(tuple)) if tuple.values.len() != tuple.checkpoint.channels.len() => failures.push(format!(
                    "checkpoint {} names {} channels, {} were read",
                    tuple.checkpoint.id,
                    tuple.checkpoint.channels.len(),
                    tuple.values.len()
                )),
                Ok(_) => reads += 1,
                Err(e) => failures.push(e.to_string()),
            }
        }
    }
    let mut last = None;
    for run in runs {
        let output = run.await.expect("a run").expect("the run completes");
        assert!(output.is_done());
        assert_eq!(last.get_or_insert_with(|| output.value.clone()), &output.value);
    }
    println!(
        "concurrency: {} reads of the latest checkpoint during {THREADS} runs, {} failed",
        reads + failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} reads failed while another pool committed; first: {}",
        failures.len(),
        reads + failures.len(),
        failures[0]
    );
    writer.close().await;
    reader.close().await;
}
