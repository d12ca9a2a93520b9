//! `--all`: the parent process. It prints the `meta` line, times whole fresh processes for the
//! startup rows, then runs every variant in a fresh child process of this same binary
//! (`--child <spec>`) and passes the child's row through; it measures nothing itself, so no
//! state (allocator, caches, open databases) leaks from one variant into the next.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use lemmings_store::{SqliteOptions, SqliteStore, calibrate};

use crate::row::{Row, median, round};
use crate::spec::{Spec, variants};
use crate::{Fallible, scenarios, sys};

/// What `--all` was asked for.
#[derive(Clone, Debug, Default)]
pub(crate) struct Options {
    pub(crate) quick: bool,
    /// Scenario names to run (`startup` for both startup rows); empty: all.
    pub(crate) only: Vec<String>,
    pub(crate) no_startup: bool,
}

impl Options {
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

/// SQLite's version and the store's settings, read from a throw-away store.
async fn store_facts() -> Fallible<(String, Row)> {
    let version = calibrate::sqlite_version().await?;
    let dir = tempfile::Builder::new().prefix("lemmings-bench-").tempdir()?;
    let store = SqliteStore::open(dir.path().join("meta.db"), SqliteOptions::create()).await?;
    let settings = store.settings().await;
    store.close().await;
    let settings = settings?;
    let facts = Row::new()
        .with("journal_mode", settings.journal_mode)
        .with("synchronous", settings.synchronous)
        .with("checkpoint_storage", "delta")
        .with("lemmings_default_durability", "sync");
    Ok((version, facts))
}

fn meta(quick: bool) -> Row {
    let facts = scenarios::runtime().and_then(|rt| rt.block_on(store_facts()));
    let (sqlite, store) = match facts {
        Ok((version, facts)) => (Some(version), facts),
        Err(e) => (None, Row::new().with("error", e.to_string())),
    };
    let version = env!("CARGO_PKG_VERSION");
    let (temp_dir, temp_fs) = sys::temp_dir();
    Row::new()
        .with("name", "meta")
        .with("quick", quick)
        .with(
            "versions",
            Row::new()
                .with("lemmings-graph", version)
                .with("lemmings-store", version)
                .with("lemmings-bench", version),
        )
        .with("rustc", sys::rustc())
        .with("build", if cfg!(debug_assertions) { "debug" } else { "release" })
        .with("sqlite", sqlite)
        .with("store", store)
        .with("runtime", "tokio multi-thread, one worker per core")
        .with("os", sys::os())
        .with("cpus", sys::cpus())
        .with("temp_dir", temp_dir)
        .with("temp_dir_fs", temp_fs)
        .with("durability_supported", true)
        .with("started", sys::now_utc())
}

/// Spawns `exe args` `reps` times, each a whole fresh process, and reports the wall times (and
/// whether every process succeeded).
fn time_process(exe: &Path, name: &str, args: &[&str], reps: usize) -> (Row, bool) {
    let mut times = Vec::with_capacity(reps);
    let row = Row::new()
        .with("name", name)
        .with("params", Row::new().with("reps", reps));
    for _ in 0..reps {
        let started = Instant::now();
        let status = Command::new(exe).args(args).stdout(Stdio::null()).status();
        times.push(started.elapsed().as_secs_f64());
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => {
                let error = format!("`{} {}` failed: {status}", exe.display(), args.join(" "));
                return (row.with("error", error), false);
            }
            Err(e) => return (row.with("error", format!("cannot run {}: {e}", exe.display())), false),
        }
    }
    let med = median(&times);
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    let row = row
        .with("reps", reps)
        .with("first_ms", round(times.first().copied().unwrap_or(0.0) * 1e3, 2))
        .with("median_ms", round(med * 1e3, 2))
        .with("min_ms", round(min * 1e3, 2))
        .with("wall_s", round(med, 5))
        .with("unit", "process")
        .with("us_per_unit", round(med * 1e6, 1));
    (row, true)
}

/// Runs one variant in a fresh child process: the line to print (the child's row, or an
/// `error` row when the child failed without printing one) and whether it succeeded.
pub(crate) fn run_child(exe: &Path, spec: &Spec) -> (String, bool) {
    let failed = |error: String| {
        let row = Row::new()
            .with("name", &spec.name)
            .with("params", &spec.params)
            .with("error", error);
        (row.line(), false)
    };
    let text = match serde_json::to_string(spec) {
        Ok(text) => text,
        Err(e) => return failed(format!("spec does not serialize: {e}")),
    };
    let output = match Command::new(exe)
        .arg("--child")
        .arg(&text)
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) => output,
        Err(e) => return failed(format!("cannot run {}: {e}", exe.display())),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stderr}");
    let row = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok());
    match (row, output.status.success()) {
        (Some(row), true) => (row.to_owned(), true),
        // The child's own error row says what went wrong.
        (Some(row), false) if row.contains("\"error\"") => (row.to_owned(), false),
        _ => {
            let chars: Vec<char> = stderr.chars().collect();
            let tail: String = chars[chars.len().saturating_sub(2000)..].iter().collect();
            failed(format!("child failed ({}): {tail}", output.status))
        }
    }
}

/// `--all`: prints every row; the exit code is 1 when any variant failed.
pub(crate) fn all(options: &Options) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("lemmings-bench: cannot find this binary to run children: {e}");
            return 1;
        }
    };
    println!("{}", meta(options.quick).line());
    let mut code = 0;
    if !options.no_startup {
        let reps = if options.quick { 3 } else { 7 };
        for (name, flag) in [("startup_bare", "--noop"), ("startup_build_invoke", "--build-invoke")] {
            if options.wants("startup") || options.wants(name) {
                let (row, ok) = time_process(&exe, name, &[flag], reps);
                if !ok {
                    code = 1;
                }
                println!("{}", row.line());
            }
        }
    }
    for spec in variants(options.quick) {
        if !options.wants(&spec.name) {
            continue;
        }
        let (line, ok) = run_child(&exe, &spec);
        if !ok {
            code = 1;
        }
        println!("{line}");
    }
    code
}
