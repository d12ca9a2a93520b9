//! Running one scenario variant in this (child) process: the runtime, a temporary directory,
//! the warm-up rule shared by every scenario, the result row with the process's peak RSS, and
//! the exit code (non-zero, with an `error` field, when the result is wrong).
//!
//! The scenarios themselves: `runs` (many runs of a small graph: commit floor, chain, fan-out,
//! parallel branches) and `threads` (one long thread: state size, resume, history).

mod runs;
mod threads;

use std::path::Path;
use std::sync::Arc;

use lemmings_graph::{Checkpointer, CompiledGraph, Durability, RunConfig, State};

use crate::row::Row;
use crate::spec::Spec;
use crate::store::{Db, STORAGE_NOTE};
use crate::{Fallible, sys};

/// Set (to anything) to keep a variant's databases for a look afterwards.
const KEEP_FILES: &str = "LEMMINGS_BENCH_KEEP_FILES";

/// The recursion limit of runs that do not set their own (`bench.py`'s `cfg`).
const RECURSION_LIMIT: u32 = 10_000;

/// A run's configuration: a thread, a durability mode, a recursion limit.
pub(crate) fn config(thread: &str, durability: Durability, recursion_limit: usize) -> RunConfig {
    RunConfig::thread(thread)
        .durability(durability)
        .recursion_limit(u32::try_from(recursion_limit).unwrap_or(u32::MAX))
}

/// The graph with the store attached, if any.
pub(crate) fn with_store<S: State, I, O>(
    graph: CompiledGraph<S, I, O>,
    store: Option<Arc<dyn Checkpointer>>,
) -> CompiledGraph<S, I, O> {
    match store {
        Some(store) => graph.with_checkpointer(store),
        None => graph,
    }
}

/// The warm-up rule: `warm` runs once (on thread `warm`) before anything is timed, on a
/// throw-away store (`warmup.db`, closed afterwards) when the variant uses SQLite, so the
/// measured store (`bench.db`, returned) holds only measured threads.
pub(crate) async fn warm_then_open(
    tmp: &Path,
    sqlite: bool,
    warm: impl AsyncFnOnce(Option<Arc<dyn Checkpointer>>) -> Fallible<()>,
) -> Fallible<Option<Db>> {
    if !sqlite {
        warm(None).await?;
        return Ok(None);
    }
    let warm_db = Db::open(tmp, "warmup.db").await?;
    warm(Some(warm_db.checkpointer())).await?;
    warm_db.close().await?;
    Ok(Some(Db::open(tmp, "bench.db").await?))
}

/// A wrong result: the row is invalid.
pub(crate) fn check(ok: bool, what: impl FnOnce() -> String) -> Fallible<()> {
    if ok {
        Ok(())
    } else {
        Err(format!("wrong result: {}", what()).into())
    }
}

/// Closes the measured store, if any, adding its fields and the storage note to `row`.
pub(crate) async fn finish(mut row: Row, db: Option<Db>) -> Fallible<Row> {
    if let Some(db) = db {
        row.extend(db.close().await?);
        row.push("notes", STORAGE_NOTE);
    }
    Ok(row)
}

/// Runs the variant `spec` with its files in `tmp`; the row holds the scenario's fields only.
pub(crate) async fn run(spec: &Spec, tmp: &Path) -> Fallible<Row> {
    let p = &spec.params;
    match spec.name.as_str() {
        "sqlite_commit_floor" => runs::commit_floor(p, tmp).await,
        "chain_nocp" | "chain_sqlite" => runs::chain(p, tmp).await,
        "fanout" => runs::fanout(p, tmp).await,
        "parallel_branches" => runs::parallel(p, tmp).await,
        "state_size" => threads::state_size(p, tmp).await,
        "resume" => threads::resume(p, tmp).await,
        "history" => threads::history(p, tmp).await,
        other => Err(format!("unknown scenario `{other}`").into()),
    }
}

/// The runtime every child uses: tokio's multi-threaded one, one worker per core.
pub(crate) fn runtime() -> Fallible<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// `--child <spec>`: runs one variant, prints its row, and returns the exit code (0, or 1 with
/// an `error` field in the row).
pub(crate) fn child(spec: &str) -> i32 {
    let rss_at_start = sys::peak_rss_mib();
    let spec: Spec = match serde_json::from_str(spec) {
        Ok(spec) => spec,
        Err(e) => {
            let row = Row::new()
                .with("name", "?")
                .with("error", format!("bad spec {spec:?}: {e}"));
            println!("{}", row.line());
            return 1;
        }
    };
    let result = (|| {
        let tmp = tempfile::Builder::new().prefix("lemmings-bench-").tempdir()?;
        let runtime = runtime()?;
        let result = runtime.block_on(run(&spec, tmp.path()));
        // Workers stopped before the peak is read, and the directory removed after.
        drop(runtime);
        if std::env::var_os(KEEP_FILES).is_some() {
            eprintln!("lemmings-bench: {}: files kept in {}", spec.name, tmp.keep().display());
        }
        result
    })();
    let mut row = Row::new().with("name", &spec.name).with("params", &spec.params);
    let code = match result {
        Ok(fields) => {
            row.extend(fields);
            0
        }
        Err(e) => {
            eprintln!("lemmings-bench: {}: {e}", spec.name);
            row.push("error", e.to_string());
            1
        }
    };
    row.push("peak_rss_mib", sys::peak_rss_mib());
    row.push("rss_at_process_start_mib", rss_at_start);
    println!("{}", row.line());
    code
}

/// `config` with the default recursion limit.
pub(crate) fn run_config(thread: &str, durability: Durability) -> RunConfig {
    config(thread, durability, RECURSION_LIMIT as usize)
}

#[cfg(test)]
mod tests;
