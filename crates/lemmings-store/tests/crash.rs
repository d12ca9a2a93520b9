//! T1, the crash-kill loop (sled-style, `harness = false`).
//!
//! The binary re-executes itself (`LEMMINGS_CRASH_CHILD=1`) as a child that runs a graph of two
//! parallel chains (13 supersteps, 25 tasks, two ledger effects per task) on a SQLite file with
//! `Durability::Sync`, printing `COMMITTED <step> <checkpoint id>` after every checkpoint is
//! saved. The parent kills it with SIGKILL at a uniformly random moment of a reference run's
//! length, checks the database, and starts it again until it prints `DONE`; then the next thread.
//!
//! Invariants, checked after every kill and at the end of every thread:
//! - every checkpoint a child acknowledged is in the database, with the reference's state for
//!   its step (P1);
//! - `PRAGMA quick_check` is `ok`, and the store opens;
//! - a child never fails except by our SIGKILL (resume never errors);
//! - the finished thread equals the uninterrupted reference run, one checkpoint per step;
//! - no ledger key was applied twice, and every effect was applied (P3).
//!
//! Then a second phase: threads that each start a new file, their first child killed during its
//! start (creating and migrating the file), to check that a crash while a database is created
//! does not leave a file the store refuses.
//!
//! The seed fixes the kill schedule (the delays), not where each kill lands: that depends on the
//! machine's timing, so a failing seed makes the failure likely, not certain, to recur.
//!
//! Environment: `LEMMINGS_CRASH_KILLS` (default 100), `LEMMINGS_CRASH_CREATIONS` (new files of
//! the second phase, default 20), `LEMMINGS_CRASH_SEED` (printed).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use lemmings_graph::{
    CheckpointId, Checkpointer, CompiledGraph, Durability, EventData, ListOptions, RunConfig, RunInput, Source,
    StreamMode,
};
use lemmings_store::{SqliteOptions, SqliteStore};
use support::{Ledger, Next, Proc, Rng, Spec, Work, WorkUpdate};

const CHILD: &str = "LEMMINGS_CRASH_CHILD";
const DB: &str = "LEMMINGS_CRASH_DB";
const THREAD: &str = "LEMMINGS_CRASH_THREAD";
const DIR: &str = "LEMMINGS_CRASH_DIR";
const KILLS: &str = "LEMMINGS_CRASH_KILLS";
const SEED: &str = "LEMMINGS_CRASH_SEED";
const CREATIONS: &str = "LEMMINGS_CRASH_CREATIONS";

/// Links per chain: 12 supersteps of two parallel tasks, then the join.
const CHAIN: usize = 12;
/// Ledger effects per task.
const EFFECTS: u32 = 2;
/// Children per thread before we call it "no progress".
const MAX_CHILDREN_PER_THREAD: usize = 200;

fn spec(ledger: Option<Ledger>) -> Spec {
    Spec {
        chain: CHAIN,
        effects: EFFECTS,
        ledger,
        hook: None,
    }
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        std::process::exit(child());
    }
    // `cargo test -- --list` (nextest, IDEs): this binary has no listed tests to run.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    parent();
}

// ---------------------------------------------------------------------------------------------
// The child
// ---------------------------------------------------------------------------------------------

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("the child needs {name}"))
}

fn say(line: impl AsRef<str>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", line.as_ref());
    let _ = out.flush();
}

fn child() -> i32 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(child_run(PathBuf::from(env(DB)), env(THREAD), PathBuf::from(env(DIR))))
}

async fn child_run(db: PathBuf, thread: String, dir: PathBuf) -> i32 {
    let started = Instant::now();
    let store = match SqliteStore::open(&db, SqliteOptions::create()).await {
        Ok(store) => Arc::new(store),
        Err(e) => {
            eprintln!("CHILD ERROR: open: {e}");
            return 2;
        }
    };
    let graph = support::work_graph(&spec(Some(Ledger::new(&dir, &thread, true))))
        .with_checkpointer(Arc::clone(&store) as Arc<dyn Checkpointer>);
    let config = RunConfig::thread(thread.clone()).durability(Durability::Sync);
    let snapshot = match graph.get_state(&config).await {
        Ok(snapshot) => snapshot,
        Err(e) => {
            eprintln!("CHILD ERROR: get_state: {e}");
            return 2;
        }
    };
    let (input, resuming) = if snapshot.checkpoint_id.is_none() {
        say("MODE fresh");
        (RunInput::<Work, WorkUpdate>::New(support::work_input()), false)
    } else if snapshot.next.is_empty() {
        // An earlier child finished the run and was killed before it said so.
        say("MODE finished");
        say("DONE");
        store.close().await;
        return 0;
    } else {
        say("MODE resume");
        (RunInput::Continue, true)
    };
    let mut stream = graph.stream(input, &config, StreamMode::Checkpoints);
    let mut first = true;
    while let Some(event) = stream.next().await {
        if let EventData::Checkpoint(checkpoint) = &event.data {
            // The event comes after the checkpoint's commit returned: acknowledged.
            say(format!("COMMITTED {} {}", event.step, checkpoint.id));
            if resuming && first {
                say(format!("RESUMED {}", started.elapsed().as_micros()));
            }
            first = false;
        }
    }
    match stream.finish().await {
        Ok(output) if output.is_done() => say("DONE"),
        Ok(output) => {
            eprintln!("CHILD ERROR: the run stopped before the end; next: {:?}", output.next);
            return 3;
        }
        Err(e) => {
            eprintln!("CHILD ERROR: the run failed: {e}");
            return 4;
        }
    }
    store.close().await;
    0
}

// ---------------------------------------------------------------------------------------------
// The parent
// ---------------------------------------------------------------------------------------------

fn child_command(db: &Path, thread: &str, dir: &Path) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command
        .env(CHILD, "1")
        .env(DB, db)
        .env(THREAD, thread)
        .env(DIR, dir)
        .env_remove(KILLS)
        .env_remove(SEED)
        .env_remove(CREATIONS);
    command
}

/// What one child printed.
#[derive(Debug, Default)]
struct Report {
    mode: Option<String>,
    committed: Vec<(i64, CheckpointId)>,
    resumed: Option<Duration>,
    done: bool,
}

fn parse(lines: &[String]) -> Report {
    let mut report = Report::default();
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["MODE", mode] => report.mode = Some((*mode).to_owned()),
            ["COMMITTED", step, id] => report.committed.push((
                step.parse().unwrap_or_else(|e| panic!("bad step in {line:?}: {e}")),
                id.parse()
                    .unwrap_or_else(|e| panic!("bad checkpoint id in {line:?}: {e}")),
            )),
            ["RESUMED", micros] => {
                report.resumed = Some(Duration::from_micros(
                    micros.parse().unwrap_or_else(|e| panic!("bad time in {line:?}: {e}")),
                ))
            }
            ["DONE"] => report.done = true,
            _ => panic!("the child printed an unexpected line: {line:?}"),
        }
    }
    report
}

/// The uninterrupted run: its length, and its state at every step.
struct Reference {
    length: Duration,
    startup: Duration,
    by_step: BTreeMap<i64, Work>,
    last: Work,
    ledger: support::LedgerReport,
}

#[derive(Debug, Default)]
struct Figures {
    threads: usize,
    children: usize,
    kills: usize,
    kills_before_first_commit: usize,
    kills_after_done: usize,
    kills_while_creating: usize,
    created_files_absent: usize,
    created_files_empty: usize,
    created_files_written: usize,
    hot_journals: usize,
    resumes: usize,
    acknowledged: usize,
    lost: usize,
    duplicated_effects: usize,
    applied: usize,
    attempts: usize,
    ambiguous: usize,
    ambiguous_found: usize,
    reexecuted_tasks: usize,
    resume_times: Vec<Duration>,
    violations: Vec<String>,
}

fn graph_on(store: &SqliteStore) -> CompiledGraph<Work> {
    support::graph_on(&spec(None), store)
}

fn parent() {
    let seed = support::seed_from_env(SEED);
    let target: usize = std::env::var(KILLS)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{KILLS}={v:?} is not a number")))
        .unwrap_or(100);
    let creations: usize = std::env::var(CREATIONS)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{CREATIONS}={v:?} is not a number"))
        })
        .unwrap_or(20);
    println!("crash: seed {seed} (replay with {SEED}={seed}), target {target} kills, then {creations} new files");
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");

    let reference = reference_run(&runtime, dir.path());
    println!(
        "crash: reference run {:.1} ms (first commit after {:.1} ms), {} supersteps, {} effects",
        reference.length.as_secs_f64() * 1e3,
        reference.startup.as_secs_f64() * 1e3,
        reference.by_step.len() - 2,
        reference.ledger.applied
    );

    let mut rng = Rng::new(seed);
    let mut figures = Figures::default();
    let db = dir.path().join("crash.db");
    let window = reference.length.as_micros().max(1) as u64;
    let startup = reference.startup.as_micros().max(1) as u64;
    // Threads on one shared file, each child killed at any moment, until the target.
    let mut threads = 0;
    while figures.kills < target && figures.violations.is_empty() {
        let thread = format!("crash-{threads:03}");
        threads += 1;
        let windows = (window, window);
        run_thread(
            &runtime,
            &db,
            &thread,
            dir.path(),
            &reference,
            windows,
            &mut rng,
            &mut figures,
        );
    }
    // Threads that each start a new file, their first child killed while it starts: while it
    // creates and migrates the file, or runs its first superstep.
    let mut created = 0;
    while created < creations && figures.violations.is_empty() {
        let thread = format!("create-{created:03}");
        let file = dir.path().join(format!("{thread}.db"));
        let windows = (startup, window);
        run_thread(
            &runtime,
            &file,
            &thread,
            dir.path(),
            &reference,
            windows,
            &mut rng,
            &mut figures,
        );
        created += 1;
    }

    // Sizes of the shared file (the main loop's threads).
    let wal = support::with_suffix(&db, "-wal");
    let (db_size, wal_size) = (support::file_size(&db), support::file_size(&wal));
    let per_kill = figures.reexecuted_tasks as f64 / figures.kills.max(1) as f64;
    println!("crash: seed                                {seed}");
    println!("crash: threads run to completion           {}", figures.threads);
    println!("crash: children started                    {}", figures.children);
    println!("crash: kills (SIGKILL)                     {}", figures.kills);
    println!(
        "crash: kills before the child's 1st commit  {}",
        figures.kills_before_first_commit
    );
    println!(
        "crash: kills after the child said DONE     {}",
        figures.kills_after_done
    );
    println!(
        "crash: kills while creating a new file      {} (file absent {}, empty {}, written {})",
        figures.kills_while_creating,
        figures.created_files_absent,
        figures.created_files_empty,
        figures.created_files_written
    );
    println!("crash: kills that left a hot rollback journal {}", figures.hot_journals);
    println!("crash: resumes                             {}", figures.resumes);
    println!("crash: acknowledged checkpoints            {}", figures.acknowledged);
    println!("crash: lost acknowledged checkpoints       {}", figures.lost);
    println!(
        "crash: duplicated applied effects          {}",
        figures.duplicated_effects
    );
    println!(
        "crash: effects applied / attempts          {} / {}",
        figures.applied, figures.attempts
    );
    println!(
        "crash: ambiguous effects seen              {} ({} found already applied)",
        figures.ambiguous, figures.ambiguous_found
    );
    println!(
        "crash: re-executed tasks                   {} ({per_kill:.2} per kill)",
        figures.reexecuted_tasks
    );
    println!(
        "crash: resume time (open → 1st commit)     p50 {:.1} ms, p99 {:.1} ms ({} resumes measured)",
        support::percentile(&figures.resume_times, 50).as_secs_f64() * 1e3,
        support::percentile(&figures.resume_times, 99).as_secs_f64() * 1e3,
        figures.resume_times.len()
    );
    println!("crash: db size after the loop              {db_size} bytes");
    println!("crash: wal size after the loop             {wal_size} bytes");
    println!(
        "crash: elapsed                             {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if !figures.violations.is_empty() {
        panic!(
            "crash: {} invariant violation(s) with seed {seed} (replay with {SEED}={seed}):\n{}",
            figures.violations.len(),
            figures.violations.join("\n")
        );
    }
    assert_eq!(figures.lost, 0, "seed {seed}");
    assert_eq!(figures.duplicated_effects, 0, "seed {seed}");
    assert!(figures.kills >= target, "seed {seed}: only {} kills", figures.kills);
    println!("crash: ok");
}

fn reference_run(runtime: &tokio::runtime::Runtime, dir: &Path) -> Reference {
    let db = dir.join("reference.db");
    let mut child = Proc::spawn(child_command(&db, "reference", dir));
    let mut startup = None;
    while let Some(line) = child.expect_line(Duration::from_secs(120), "the reference run") {
        if startup.is_none() && line.starts_with("COMMITTED") {
            startup = Some(child.started.elapsed());
        }
    }
    let (status, _, stderr) = child.finish(Duration::from_secs(30));
    let length = child.started.elapsed();
    let report = parse(&child.seen);
    assert!(
        status.success() && report.done && report.mode.as_deref() == Some("fresh"),
        "the reference run failed: {status:?}, output {:?}, stderr {stderr}",
        child.seen
    );
    let (by_step, last) = runtime.block_on(async {
        let store = SqliteStore::open(&db, SqliteOptions::default())
            .await
            .expect("the reference database opens");
        let graph = graph_on(&store);
        let config = RunConfig::thread("reference");
        let history = graph
            .get_state_history(&config, &ListOptions::default())
            .await
            .expect("the reference history");
        let mut by_step = BTreeMap::new();
        for snapshot in history {
            let previous = by_step.insert(snapshot.step, snapshot.values);
            assert!(
                previous.is_none(),
                "the reference has two checkpoints at step {}",
                snapshot.step
            );
        }
        let last = graph.get_state(&config).await.expect("the reference state");
        assert!(last.next.is_empty(), "the reference run is finished");
        store.close().await;
        (by_step, last.values)
    });
    let spec = spec(None);
    assert_eq!(
        by_step.len(),
        spec.checkpoints(),
        "input, input applied, then one checkpoint per superstep"
    );
    assert_eq!(last.count, spec.tasks() as i64);
    assert_eq!(
        report.committed.len(),
        by_step.len(),
        "one COMMITTED line per checkpoint"
    );
    let ledger = Ledger::new(dir, "reference", true).report();
    assert_eq!(
        ledger.duplicates, 0,
        "the reference applied an effect twice: {ledger:?}"
    );
    assert_eq!(ledger.keys, spec.tasks() * EFFECTS as usize, "{ledger:?}");
    assert_eq!(ledger.runs, spec.tasks(), "{ledger:?}");
    Reference {
        length,
        startup: startup.unwrap_or(length),
        by_step,
        last,
        ledger,
    }
}

#[allow(clippy::too_many_arguments)]
fn run_thread(
    runtime: &tokio::runtime::Runtime,
    db: &Path,
    thread: &str,
    dir: &Path,
    reference: &Reference,
    (first_window, window): (u64, u64),
    rng: &mut Rng,
    figures: &mut Figures,
) {
    let mut acknowledged: Vec<(i64, CheckpointId)> = Vec::new();
    let mut done = false;
    let mut children = 0;
    while !done {
        children += 1;
        figures.children += 1;
        if children > MAX_CHILDREN_PER_THREAD {
            figures.violations.push(format!(
                "thread {thread}: no progress after {MAX_CHILDREN_PER_THREAD} children"
            ));
            return;
        }
        let fresh_file = !db.exists();
        let mut child = Proc::spawn(child_command(db, thread, dir));
        // Fault injection, not synchronisation: a uniformly random moment of a whole run (of
        // its start only, for the first child of a thread that creates its file).
        let window = if children == 1 { first_window } else { window };
        let kill_at = child.started + Duration::from_micros(rng.below(window));
        let mut killed = false;
        loop {
            match child.line_before(kill_at) {
                Next::Line(_) => continue,
                Next::Eof => break,
                Next::Time => {
                    child.kill();
                    killed = true;
                    break;
                }
            }
        }
        // Lines the child printed before it died are acknowledged too.
        let (status, _, stderr) = child.finish(Duration::from_secs(60));
        let report = parse(&child.seen);
        match support::signal_of(&status) {
            Some(9) if killed => {
                figures.kills += 1;
                if fresh_file && report.committed.is_empty() {
                    figures.kills_while_creating += 1;
                    match std::fs::metadata(db).map(|m| m.len()) {
                        Err(_) => figures.created_files_absent += 1,
                        Ok(0) => figures.created_files_empty += 1,
                        Ok(_) => figures.created_files_written += 1,
                    }
                }
                if report.committed.is_empty() {
                    figures.kills_before_first_commit += 1;
                }
                if report.done {
                    figures.kills_after_done += 1;
                }
            }
            _ if status.success() && report.done => {}
            _ => {
                figures.violations.push(format!(
                    "thread {thread}: child {} ended with {status:?} (killed by us: {killed}); output {:?}; stderr: {stderr}",
                    child.pid, child.seen
                ));
                return;
            }
        }
        if report.mode.as_deref() == Some("resume") {
            figures.resumes += 1;
        }
        figures.resume_times.extend(report.resumed);
        figures.acknowledged += report.committed.len();
        acknowledged.extend(report.committed.iter().copied());
        done = report.done;
        if let Err(problems) = runtime.block_on(check_after_child(db, thread, &acknowledged, reference, figures)) {
            figures.violations.extend(
                problems
                    .into_iter()
                    .map(|p| format!("thread {thread}, after child {}: {p}", child.pid)),
            );
            return;
        }
    }
    figures.threads += 1;
    if let Err(problems) = runtime.block_on(check_finished(db, thread, reference)) {
        figures
            .violations
            .extend(problems.into_iter().map(|p| format!("thread {thread} finished: {p}")));
    }
    let ledger = Ledger::new(dir, thread, true).report();
    figures.duplicated_effects += ledger.duplicates;
    figures.applied += ledger.applied;
    figures.attempts += ledger.attempts;
    figures.ambiguous += ledger.ambiguous;
    figures.ambiguous_found += ledger.ambiguous_found;
    figures.reexecuted_tasks += ledger.runs.saturating_sub(reference.ledger.runs);
    if ledger.duplicates > 0 {
        figures.violations.push(format!(
            "thread {thread}: effects applied more than once: {:?}",
            ledger.duplicated_keys
        ));
    }
    if ledger.keys != reference.ledger.keys {
        figures.violations.push(format!(
            "thread {thread}: {} distinct effects applied, the reference applied {}",
            ledger.keys, reference.ledger.keys
        ));
    }
}

/// After a child ended: the file is sound, the store opens, and every acknowledged checkpoint is
/// there with the reference's state for its step.
async fn check_after_child(
    db: &Path,
    thread: &str,
    acknowledged: &[(i64, CheckpointId)],
    reference: &Reference,
    figures: &mut Figures,
) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if support::file_size(db) == 0 {
        // Killed before the file was created or written: nothing can have been acknowledged,
        // and the next child (which opens with `create`) must cope with what is there.
        if !acknowledged.is_empty() {
            problems.push(format!("{} is gone", db.display()));
        }
        return if problems.is_empty() { Ok(()) } else { Err(problems) };
    }
    // A read-only connection cannot roll back a hot journal (a kill while the new file was still
    // in rollback mode, before WAL): then only the store's own open below can check the file.
    let hot_journal = support::file_size(&support::with_suffix(db, "-journal")) > 0;
    if hot_journal {
        figures.hot_journals += 1;
    } else {
        let check = support::quick_check(db).await;
        if check != ["ok"] {
            problems.push(format!("quick_check (read-only connection): {check:?}"));
        }
    }
    let store = match SqliteStore::open(db, SqliteOptions::default()).await {
        Ok(store) => store,
        Err(e) => {
            problems.push(format!("the store does not open: {e}"));
            return Err(problems);
        }
    };
    match store.quick_check().await {
        Ok(check) if check == ["ok"] => {}
        other => problems.push(format!("quick_check (store): {other:?}")),
    }
    let graph = graph_on(&store);
    for &(step, id) in acknowledged {
        match store.get(thread, "", Some(id)).await {
            Ok(Some(tuple)) => {
                if tuple.checkpoint.step != step {
                    problems.push(format!(
                        "checkpoint {id} was acknowledged at step {step}, the store has step {}",
                        tuple.checkpoint.step
                    ));
                }
            }
            Ok(None) => {
                figures.lost += 1;
                problems.push(format!("acknowledged checkpoint {id} (step {step}) is lost"));
                continue;
            }
            Err(e) => {
                problems.push(format!("reading acknowledged checkpoint {id}: {e}"));
                continue;
            }
        }
        match graph.get_state(&RunConfig::thread(thread).at(id)).await {
            Ok(snapshot) if Some(&snapshot.values) == reference.by_step.get(&step) => {}
            Ok(snapshot) => problems.push(format!(
                "checkpoint {id} (step {step}) holds {:?}, the reference has {:?}",
                snapshot.values,
                reference.by_step.get(&step)
            )),
            Err(e) => problems.push(format!("get_state at acknowledged checkpoint {id}: {e}")),
        }
    }
    store.close().await;
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// A finished thread equals the reference: same final state, one checkpoint per step.
async fn check_finished(db: &Path, thread: &str, reference: &Reference) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let store = SqliteStore::open(db, SqliteOptions::default())
        .await
        .map_err(|e| vec![format!("the store does not open: {e}")])?;
    let graph = graph_on(&store);
    let config = RunConfig::thread(thread);
    match graph.get_state(&config).await {
        Ok(snapshot) => {
            if !snapshot.next.is_empty() {
                problems.push(format!("not finished: next {:?}", snapshot.next));
            }
            if snapshot.values != reference.last {
                problems.push(format!(
                    "final state {:?} differs from the reference {:?}",
                    snapshot.values, reference.last
                ));
            }
        }
        Err(e) => problems.push(format!("get_state: {e}")),
    }
    match graph.get_state_history(&config, &ListOptions::default()).await {
        Ok(history) => {
            let steps: Vec<i64> = history.iter().rev().map(|s| s.step).collect();
            let expected: Vec<i64> = reference.by_step.keys().copied().collect();
            if steps != expected {
                problems.push(format!("checkpoint steps {steps:?}, the reference has {expected:?}"));
            }
            let sources: Vec<Option<Source>> = history.iter().rev().map(|s| s.source).collect();
            if sources.first() != Some(&Some(Source::Input)) || sources[1..].iter().any(|s| *s != Some(Source::Loop)) {
                problems.push(format!("checkpoint sources {sources:?}"));
            }
        }
        Err(e) => problems.push(format!("history: {e}")),
    }
    store.close().await;
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}
