//! The scenarios that time many runs of a small graph, a new thread per run: the SQLite commit
//! floor (no graph), the 100-node chain, the `SendTo` fan-out and the parallel branches.

use std::path::Path;
use std::time::Instant;

use lemmings_store::calibrate;

use super::{check, finish, run_config, warm_then_open, with_store};
use crate::Fallible;
use crate::graphs::{self, CountUpdate, FanUpdate, IntUpdate};
use crate::row::{Row, median, ms, round, us};
use crate::spec::{Params, need};

/// `sqlite_commit_floor`: the disk's fsync floor through the store's SQLite, no graph.
pub(super) async fn commit_floor(p: &Params, tmp: &Path) -> Fallible<Row> {
    let commits = need(p.commits, "commits")?;
    let blob_bytes = need(p.blob_bytes, "blob_bytes")?;
    let floor = calibrate::commit_floor(tmp.join("floor.db"), commits, blob_bytes).await?;
    let wall = floor.elapsed.as_secs_f64();
    Ok(Row::new()
        .with("wall_s", round(wall, 4))
        .with("unit", "commit")
        .with("us_per_unit", us(wall, commits))
        .with("sqlite_synchronous", floor.synchronous)
        .with("sqlite_journal_mode", floor.journal_mode)
        .with("sqlite_version", floor.sqlite_version))
}

/// `chain_nocp` and `chain_sqlite`: `invokes` runs of the chain, thread `t{i}` each.
pub(super) async fn chain(p: &Params, tmp: &Path) -> Fallible<Row> {
    let nodes = need(p.nodes, "nodes")?;
    let invokes = need(p.invokes, "invokes")?;
    let durability = p.durability()?;
    let expected = i64::try_from(nodes)?;
    let db = warm_then_open(tmp, p.sqlite()?, async |store| {
        let graph = with_store(graphs::chain(nodes, None)?, store);
        let x = graph
            .invoke(IntUpdate::default().x(0), &run_config("warm", durability))
            .await?
            .value
            .x;
        check(x == expected, || format!("warm-up x = {x}, expected {expected}"))
    })
    .await?;
    let graph = with_store(graphs::chain(nodes, None)?, db.as_ref().map(|db| db.checkpointer()));
    let mut per = Vec::with_capacity(invokes);
    let mut x = 0;
    let started = Instant::now();
    for i in 0..invokes {
        let one = Instant::now();
        let config = run_config(&format!("t{i}"), durability);
        x = graph.invoke(IntUpdate::default().x(0), &config).await?.value.x;
        per.push(one.elapsed().as_secs_f64());
    }
    let wall = started.elapsed().as_secs_f64();
    check(x == expected, || format!("x = {x}, expected {expected}"))?;
    let row = Row::new()
        .with("wall_s", round(wall, 4))
        .with("unit", "node_step")
        .with("us_per_unit", us(wall, invokes * nodes))
        .with("invoke_ms_median", ms(median(&per)));
    finish(row, db).await
}

/// `fanout`: `invokes` runs of dispatch → `n` × `SendTo("worker", {i})` → fanin.
pub(super) async fn fanout(p: &Params, tmp: &Path) -> Fallible<Row> {
    let n = need(p.n, "n")?;
    let invokes = need(p.invokes, "invokes")?;
    let durability = p.durability()?;
    let input = |n: usize| FanUpdate::default().n(n as i64).results(Vec::new());
    let db = warm_then_open(tmp, p.sqlite()?, async |store| {
        let graph = with_store(graphs::fanout()?, store);
        let out = graph.invoke(input(10), &run_config("warm", durability)).await?.value;
        check(out.total == 45 && out.results.len() == 10, || {
            format!("warm-up total = {}", out.total)
        })
    })
    .await?;
    let graph = with_store(graphs::fanout()?, db.as_ref().map(|db| db.checkpointer()));
    let mut per = Vec::with_capacity(invokes);
    let mut out = graphs::Fan::default();
    let started = Instant::now();
    for i in 0..invokes {
        let one = Instant::now();
        out = graph
            .invoke(input(n), &run_config(&format!("t{i}"), durability))
            .await?
            .value;
        per.push(one.elapsed().as_secs_f64());
    }
    let wall = started.elapsed().as_secs_f64();
    let expected = i64::try_from(n * n.saturating_sub(1) / 2)?;
    check(out.total == expected && out.results.len() == n, || {
        format!(
            "total = {} and {} results, expected {expected} and {n}",
            out.total,
            out.results.len()
        )
    })?;
    let row = Row::new()
        .with("wall_s", round(wall, 4))
        .with("unit", "branch")
        .with("us_per_unit", us(wall, invokes * n))
        .with("total_ms", round(wall * 1e3 / invokes.max(1) as f64, 3))
        .with("invoke_ms_median", ms(median(&per)));
    finish(row, db).await
}

/// `parallel_branches`: `invokes` runs of `branches` chains of `depth` nodes joined into `join`.
pub(super) async fn parallel(p: &Params, tmp: &Path) -> Fallible<Row> {
    let branches = need(p.branches, "branches")?;
    let depth = need(p.depth, "depth")?;
    let invokes = need(p.invokes, "invokes")?;
    let durability = p.durability()?;
    let executions = branches * depth + 1;
    let expected = i64::try_from(executions)?;
    let db = warm_then_open(tmp, p.sqlite()?, async |store| {
        let graph = with_store(graphs::parallel(branches, depth)?, store);
        let count = graph
            .invoke(CountUpdate::default().count(0), &run_config("warm", durability))
            .await?
            .value
            .count;
        check(count == expected, || {
            format!("warm-up count = {count}, expected {expected}")
        })
    })
    .await?;
    let graph = with_store(
        graphs::parallel(branches, depth)?,
        db.as_ref().map(|db| db.checkpointer()),
    );
    let mut per = Vec::with_capacity(invokes);
    let mut count = 0;
    let started = Instant::now();
    for i in 0..invokes {
        let one = Instant::now();
        let config = run_config(&format!("t{i}"), durability);
        count = graph
            .invoke(CountUpdate::default().count(0), &config)
            .await?
            .value
            .count;
        per.push(one.elapsed().as_secs_f64());
    }
    let wall = started.elapsed().as_secs_f64();
    check(count == expected, || format!("count = {count}, expected {expected}"))?;
    let row = Row::new()
        .with("wall_s", round(wall, 4))
        .with("unit", "node_execution")
        .with("us_per_unit", us(wall, invokes * executions))
        .with("us_per_superstep", us(wall, invokes * (depth + 1)))
        .with("invoke_ms_median", ms(median(&per)));
    finish(row, db).await
}
