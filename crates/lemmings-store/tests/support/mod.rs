//! Shared helpers of the durability tests (`crash`, `faults`, `concurrency`): a seeded RNG, the
//! test graph with its side-effect ledger, child processes read line by line under deadlines, and
//! read-only looks into a database file.
//!
//! Each test binary uses a part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use lemmings_graph::{Checkpointer, CompiledGraph, Ctx, END, EffectAttempt, NodeError, START, StateGraph};
use lemmings_store::SqliteStore;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

// ---------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------

/// xorshift64*: small, seeded, good enough to pick kill times.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        // Zero is the one state xorshift never leaves.
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The seed from `var`, or one from the clock.
pub(crate) fn seed_from_env(var: &str) -> u64 {
    match std::env::var(var) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var}={text:?} is not a u64 seed")),
        Err(_) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            (now.as_nanos() as u64) ^ u64::from(std::process::id()).rotate_left(32)
        }
    }
}

/// `p`-th percentile (0..=100) of `values`, nearest rank; 0 when empty.
pub(crate) fn percentile(values: &[Duration], p: usize) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

// ---------------------------------------------------------------------------------------------
// The test graph
// ---------------------------------------------------------------------------------------------

/// The state of the test graph: an append list and a counter, both through reducers.
#[derive(lemmings_graph::State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Work {
    #[reducer(append)]
    pub(crate) log: Vec<String>,
    #[reducer(add)]
    pub(crate) count: i64,
}

/// The input of a fresh thread.
pub(crate) fn work_input() -> WorkUpdate {
    WorkUpdate::default().log(vec!["input".to_owned()])
}

/// Called at the start of every node with `(node, step)`: lets a test hold a node.
pub(crate) type Hook = Arc<dyn Fn(String, i64) -> BoxFuture<'static, Result<(), NodeError>> + Send + Sync>;

/// How the test graph is built.
#[derive(Clone)]
pub(crate) struct Spec {
    /// The length of each of the two parallel chains (one superstep per link).
    pub(crate) chain: usize,
    /// Ledger effects per task.
    pub(crate) effects: u32,
    /// Where effects are applied; without one, effects only go through the store's ledger.
    pub(crate) ledger: Option<Ledger>,
    /// Called at the start of every node.
    pub(crate) hook: Option<Hook>,
}

impl Spec {
    /// The supersteps with node tasks: the chains, then the join.
    pub(crate) fn supersteps(&self) -> usize {
        self.chain + 1
    }

    /// The checkpoints of a run: the input (step −1), the input applied (step 0), then one per
    /// superstep with node tasks.
    pub(crate) fn checkpoints(&self) -> usize {
        self.supersteps() + 2
    }

    /// The tasks of a run.
    pub(crate) fn tasks(&self) -> usize {
        2 * self.chain + 1
    }
}

/// The name of link `i` of chain `side` (`a` or `b`).
fn link(side: char, i: usize) -> String {
    format!("{side}{i:02}")
}

/// A little real work, so that a kill can land inside a node.
fn spin(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..2_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = std::hint::black_box(x);
    }
    x
}

/// The test graph of `spec` on `store`.
pub(crate) fn graph_on(spec: &Spec, store: &SqliteStore) -> CompiledGraph<Work> {
    work_graph(spec).with_checkpointer(Arc::new(store.clone()) as Arc<dyn Checkpointer>)
}

/// Two parallel chains `a00 → a01 → …` and `b00 → b01 → …` from START, joined by `fin`: every
/// superstep but the last runs two tasks. Each task applies `spec.effects` side effects through
/// [`Ctx::effect`] and appends `node@step(count seen)` to `log` and 1 to `count`.
pub(crate) fn work_graph(spec: &Spec) -> CompiledGraph<Work> {
    assert!(spec.chain >= 1);
    let mut graph = StateGraph::<Work>::named("durability");
    let mut names: Vec<String> = Vec::new();
    for i in 0..spec.chain {
        names.push(link('a', i));
        names.push(link('b', i));
    }
    names.push("fin".to_owned());
    for name in names {
        let spec = spec.clone();
        graph.add_node(name, move |state: Arc<Work>, ctx: Ctx| {
            let spec = spec.clone();
            async move {
                let node = ctx.node().to_owned();
                let step = ctx.step();
                if let Some(hook) = &spec.hook {
                    hook(node.clone(), step).await?;
                }
                if let Some(ledger) = &spec.ledger {
                    ledger.note_run(&node, step)?;
                }
                let seen = state.count;
                let _ = spin(seen as u64 + step as u64);
                tokio::task::yield_now().await;
                let mut results = Vec::new();
                for index in 0..spec.effects {
                    let value = 1000 * (step + 1) + i64::from(index);
                    let ledger = spec.ledger.clone();
                    let applied: i64 = ctx
                        .effect(index, "append a line to the ledger", move |attempt| async move {
                            if let Some(ledger) = ledger {
                                tokio::task::spawn_blocking(move || ledger.apply(&attempt))
                                    .await
                                    .map_err(|e| NodeError::msg(format!("the ledger task failed: {e}")))??;
                            }
                            Ok::<_, NodeError>(value)
                        })
                        .await?;
                    results.push(applied);
                    tokio::task::yield_now().await;
                }
                Ok(WorkUpdate::default()
                    .log(vec![format!("{node}@{step}(seen {seen}) {results:?}")])
                    .count(1))
            }
        });
    }
    graph.add_edge(START, link('a', 0)).add_edge(START, link('b', 0));
    for i in 1..spec.chain {
        graph.add_edge(link('a', i - 1), link('a', i));
        graph.add_edge(link('b', i - 1), link('b', i));
    }
    graph.add_join([link('a', spec.chain - 1), link('b', spec.chain - 1)], "fin");
    graph.add_edge("fin", END);
    graph.compile().expect("the test graph compiles")
}

// ---------------------------------------------------------------------------------------------
// The side-effect ledger
// ---------------------------------------------------------------------------------------------

/// The external system the graph's effects change: files of one line per event.
///
/// - `<name>.ledger`: one line per effect *applied* (appended and fsynced);
/// - `<name>.attempts`: one line per call of the effect's closure;
/// - `<name>.ambiguous`: `key found|absent` per closure call told that an earlier run died
///   mid-effect;
/// - `<name>.runs`: `node step` per node execution.
///
/// Every line is one `write` on an `O_APPEND` file, so a SIGKILL cannot cut a line (the page
/// cache survives the process).
#[derive(Clone, Debug)]
pub(crate) struct Ledger {
    pub(crate) base: PathBuf,
    pub(crate) fsync: bool,
}

fn append_line(path: &Path, line: &str, fsync: bool) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(format!("{line}\n").as_bytes())?;
    if fsync {
        file.sync_data()?;
    }
    Ok(())
}

fn read_lines(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    }
}

/// What a ledger's files say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LedgerReport {
    /// Effects applied (ledger lines).
    pub(crate) applied: usize,
    /// Distinct keys applied.
    pub(crate) keys: usize,
    /// Applications beyond the first of a key: must be 0.
    pub(crate) duplicates: usize,
    /// Calls of effect closures.
    pub(crate) attempts: usize,
    /// Closure calls told the effect was ambiguous.
    pub(crate) ambiguous: usize,
    /// … of which found the key already applied.
    pub(crate) ambiguous_found: usize,
    /// Node executions.
    pub(crate) runs: usize,
    /// Keys applied more than once, for messages.
    pub(crate) duplicated_keys: Vec<String>,
}

impl Ledger {
    pub(crate) fn new(dir: &Path, name: &str, fsync: bool) -> Ledger {
        Ledger {
            base: dir.join(name),
            fsync,
        }
    }

    fn file(&self, suffix: &str) -> PathBuf {
        let mut name = self.base.as_os_str().to_owned();
        name.push(format!(".{suffix}"));
        PathBuf::from(name)
    }

    fn io(what: &str, e: std::io::Error) -> NodeError {
        NodeError::terminal(std::io::Error::new(e.kind(), format!("{what}: {e}")))
    }

    pub(crate) fn note_run(&self, node: &str, step: i64) -> Result<(), NodeError> {
        append_line(&self.file("runs"), &format!("{node} {step}"), false).map_err(|e| Ledger::io("runs file", e))
    }

    /// Applies the effect `attempt.key` unless an earlier, ambiguous attempt already did.
    pub(crate) fn apply(&self, attempt: &EffectAttempt) -> Result<(), NodeError> {
        append_line(&self.file("attempts"), &attempt.key, false).map_err(|e| Ledger::io("attempts file", e))?;
        if attempt.ambiguous {
            let found = read_lines(&self.file("ledger")).contains(&attempt.key);
            let note = format!("{} {}", attempt.key, if found { "found" } else { "absent" });
            append_line(&self.file("ambiguous"), &note, false).map_err(|e| Ledger::io("ambiguous file", e))?;
            if found {
                return Ok(());
            }
        }
        append_line(&self.file("ledger"), &attempt.key, self.fsync).map_err(|e| Ledger::io("ledger", e))
    }

    pub(crate) fn report(&self) -> LedgerReport {
        let applied = read_lines(&self.file("ledger"));
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for key in &applied {
            *counts.entry(key.as_str()).or_default() += 1;
        }
        let ambiguous = read_lines(&self.file("ambiguous"));
        LedgerReport {
            applied: applied.len(),
            keys: counts.len(),
            duplicates: counts.values().map(|n| n - 1).sum(),
            attempts: read_lines(&self.file("attempts")).len(),
            ambiguous: ambiguous.len(),
            ambiguous_found: ambiguous.iter().filter(|l| l.ends_with(" found")).count(),
            runs: read_lines(&self.file("runs")).len(),
            duplicated_keys: counts
                .iter()
                .filter(|(_, n)| **n > 1)
                .map(|(k, n)| format!("{k} ×{n}"))
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

/// A child process whose stdout is read line by line (through a channel, so every read has a
/// deadline) and whose stderr is collected. Killed and reaped on drop if still running.
pub(crate) struct Proc {
    child: Child,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
    eof: bool,
    pub(crate) pid: u32,
    pub(crate) started: Instant,
    /// Every stdout line read so far.
    pub(crate) seen: Vec<String>,
    waited: Option<ExitStatus>,
}

/// What [`Proc::line_before`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Line(String),
    /// The child closed its stdout (it exited).
    Eof,
    /// The instant passed first.
    Time,
}

impl Proc {
    /// Starts `command` with piped stdin, stdout and stderr.
    pub(crate) fn spawn(mut command: Command) -> Proc {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Proc {
            pid: child.id(),
            child,
            lines,
            stderr: Some(stderr),
            eof: false,
            started,
            seen: Vec::new(),
            waited: None,
        }
    }

    /// The child's stdin, to talk to it.
    pub(crate) fn stdin(&mut self) -> &mut ChildStdin {
        self.child.stdin.as_mut().expect("piped stdin")
    }

    /// The next stdout line, unless `at` passes or the child closes its stdout first.
    pub(crate) fn line_before(&mut self, at: Instant) -> Next {
        if self.eof {
            return Next::Eof;
        }
        let wait = at.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(wait) {
            Ok(line) => {
                self.seen.push(line.clone());
                Next::Line(line)
            }
            Err(RecvTimeoutError::Timeout) => Next::Time,
            Err(RecvTimeoutError::Disconnected) => {
                self.eof = true;
                Next::Eof
            }
        }
    }

    /// The next stdout line; panics (after killing the child) if none comes within `limit`.
    pub(crate) fn expect_line(&mut self, limit: Duration, what: &str) -> Option<String> {
        match self.line_before(Instant::now() + limit) {
            Next::Line(line) => Some(line),
            Next::Eof => None,
            Next::Time => {
                self.kill();
                let (_, _, stderr) = self.finish(Duration::from_secs(10));
                panic!(
                    "child {} hung: no line within {limit:?} while waiting for {what}; its output so far: {:?}; stderr: {stderr}",
                    self.pid, self.seen
                );
            }
        }
    }

    /// The first stdout line holding `marker`, from the marker on (libtest may print its own
    /// text before it on the same line), within `limit`.
    pub(crate) fn expect_marked(&mut self, marker: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            match self.line_before(deadline) {
                Next::Line(line) if line.contains(marker) => {
                    return line[line.find(marker).unwrap_or(0)..].to_owned();
                }
                Next::Line(_) => continue,
                Next::Eof | Next::Time => {
                    let eof = self.eof;
                    self.kill();
                    let (status, _, stderr) = self.finish(Duration::from_secs(10));
                    panic!(
                        "child {} {} before printing `{marker}…` (status {status:?}); its output: {:#?}; stderr: {stderr}",
                        self.pid,
                        if eof { "exited" } else { "hung" },
                        self.seen
                    );
                }
            }
        }
    }

    /// SIGKILL (a no-op if it already exited).
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
    }

    /// Reads stdout to its end and reaps the child, within `limit` (killing it if it is not done
    /// by then): its status, the stdout lines not read before, and its stderr.
    pub(crate) fn finish(&mut self, limit: Duration) -> (ExitStatus, Vec<String>, String) {
        let deadline = Instant::now() + limit;
        let mut rest = Vec::new();
        let mut hung = false;
        loop {
            match self.line_before(deadline) {
                Next::Line(line) => rest.push(line),
                Next::Eof => break,
                Next::Time => {
                    hung = true;
                    self.kill();
                    // After SIGKILL the pipe closes promptly; read what is left.
                    while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
                        rest.push(line);
                    }
                    self.eof = true;
                    break;
                }
            }
        }
        drop(self.child.stdin.take());
        let status = match self.waited {
            Some(status) => status,
            None => {
                let status = self.child.wait().expect("wait for the child");
                self.waited = Some(status);
                status
            }
        };
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        if hung {
            panic!(
                "child {} did not exit within {limit:?}; output: {:#?} {rest:#?}; stderr: {stderr}",
                self.pid, self.seen
            );
        }
        (status, rest, stderr)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.waited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The signal that ended a process, if one did.
pub(crate) fn signal_of(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

// ---------------------------------------------------------------------------------------------
// Looking into a database file
// ---------------------------------------------------------------------------------------------

/// A read-only connection to `path` (no `create`, no journal-mode change).
pub(crate) async fn read_only(path: &Path) -> sqlx::SqliteConnection {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("cannot open {} read-only: {e}", path.display()))
}

/// `PRAGMA quick_check` through a read-only connection; an error comes back as one line.
pub(crate) async fn quick_check(path: &Path) -> Vec<String> {
    let mut connection = read_only(path).await;
    let rows = sqlx::query("PRAGMA quick_check").fetch_all(&mut connection).await;
    let _ = connection.close().await;
    match rows {
        Ok(rows) => rows.iter().map(|r| r.get::<String, _>(0)).collect(),
        Err(e) => vec![format!("error: {e}")],
    }
}

/// One integer from a query, through a read-only connection.
pub(crate) async fn scalar(path: &Path, sql: &'static str, bind: &str) -> i64 {
    let mut connection = read_only(path).await;
    let value: i64 = sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("{sql} on {}: {e}", path.display()));
    let _ = connection.close().await;
    value
}

/// The size of a file, 0 when missing.
pub(crate) fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// `path` with `suffix` appended (`db` → `db-wal`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
