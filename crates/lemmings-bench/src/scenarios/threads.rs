//! The scenarios about one long or interrupted thread: `state_size` (a growing message list,
//! step times by decile), `resume` (a failure in node 40, then continuing the thread) and
//! `history` (a 1000-step thread read back with `get_state_history` and `get_state`).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lemmings_graph::ListOptions;

use super::{check, config, finish, run_config, warm_then_open, with_store};
use crate::Fallible;
use crate::graphs::{self, Hooks, IntUpdate, MsgsUpdate, Stamps};
use crate::row::{Row, deciles, median, ms, round, us};
use crate::spec::{Params, need};

/// `state_size`: one run of the 20-node message loop until `max_messages` messages.
pub(super) async fn state_size(p: &Params, tmp: &Path) -> Fallible<Row> {
    let nodes = need(p.nodes, "nodes")?;
    let max = need(p.max_messages, "max_messages")?;
    let bytes = need(p.msg_bytes, "msg_bytes")?;
    let durability = p.durability()?;
    let db = warm_then_open(tmp, p.sqlite()?, async |store| {
        let graph = with_store(graphs::msg_loop(nodes, nodes, bytes, Stamps::default())?, store);
        let config = config("warm", durability, nodes + 100);
        let len = graph.invoke(MsgsUpdate::default(), &config).await?.value.messages.len();
        check(len == nodes, || format!("warm-up has {len} messages, expected {nodes}"))
    })
    .await?;
    let stamps: Stamps = Arc::new(Mutex::new(Vec::with_capacity(max)));
    let graph = with_store(
        graphs::msg_loop(nodes, max, bytes, stamps.clone())?,
        db.as_ref().map(|db| db.checkpointer()),
    );
    let config = config("t0", durability, max + 100);
    let started = Instant::now();
    let out = graph.invoke(MsgsUpdate::default(), &config).await?;
    let ended = Instant::now();
    let wall = (ended - started).as_secs_f64();
    let stamps = stamps.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let len = out.value.messages.len();
    check(len == max && stamps.len() == max, || {
        format!("{len} messages and {} node entries, expected {max}", stamps.len())
    })?;
    drop(out);
    // Step k = entry(k+1) - entry(k); the last node's entry to the run's return is apart.
    let steps: Vec<f64> = stamps.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
    let tenths = deciles(&steps);
    let (first, last) = (stamps[0], stamps[max - 1]);
    let row = Row::new()
        .with("wall_s", round(wall, 4))
        .with("unit", "step")
        .with("us_per_unit", us(wall, max))
        .with("step_us_deciles", &tenths)
        .with("step_us_first10pct", &tenths[0])
        .with("step_us_last10pct", &tenths[9])
        .with("startup_to_first_node_ms", ms((first - started).as_secs_f64()))
        .with("last_node_to_return_ms", ms((ended - last).as_secs_f64()));
    finish(row, db).await
}

/// `resume`: per repetition, a run that fails in node `fail_at`, then the thread continued.
pub(super) async fn resume(p: &Params, tmp: &Path) -> Fallible<Row> {
    let nodes = need(p.nodes, "nodes")?;
    let fail_at = need(p.fail_at, "fail_at")?;
    let reps = need(p.reps, "reps")?;
    let durability = p.durability()?;
    check(p.sqlite()?, || "resume needs checkpointer=sqlite".into())?;
    check((1..=nodes).contains(&fail_at), || {
        format!("fail_at {fail_at} is not a node of {nodes}")
    })?;
    let expected_x = i64::try_from(nodes)?;
    let mut expected_calls = vec![1u32; nodes];
    expected_calls[fail_at - 1] = 2;
    let hooks = Hooks::new(nodes, fail_at);
    let db = warm_then_open(tmp, true, async |store| {
        let graph = with_store(graphs::chain(nodes, Some(hooks.clone()))?, store);
        hooks.reset();
        let config = run_config("warm", durability);
        check(graph.invoke(IntUpdate::default().x(0), &config).await.is_err(), || {
            "warm-up: the node did not fail".into()
        })?;
        let x = graph.continue_run(&config).await?.value.x;
        check(x == expected_x, || format!("warm-up resumed to x = {x}"))
    })
    .await?;
    let graph = with_store(
        graphs::chain(nodes, Some(hooks.clone()))?,
        db.as_ref().map(|db| db.checkpointer()),
    );
    let (mut to_failure, mut resumed) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
    for i in 0..reps {
        hooks.reset();
        let config = run_config(&format!("t{i}"), durability);
        let started = Instant::now();
        let failure = graph.invoke(IntUpdate::default().x(0), &config).await;
        let failed = Instant::now();
        let out = graph.continue_run(&config).await?;
        let ended = Instant::now();
        to_failure.push((failed - started).as_secs_f64());
        resumed.push((ended - failed).as_secs_f64());
        match failure {
            Err(e) if e.to_string().contains("planned failure") => {}
            Err(e) => return Err(format!("repetition {i}: unexpected error: {e}").into()),
            Ok(_) => return Err(format!("repetition {i}: node n{fail_at} did not fail").into()),
        }
        let (x, calls) = (out.value.x, hooks.counts());
        check(x == expected_x && calls == expected_calls, || {
            format!("repetition {i}: x = {x}, calls per node {calls:?}")
        })?;
    }
    let resumed_nodes = nodes - fail_at + 1;
    let resume_median = median(&resumed);
    let row = Row::new()
        .with("wall_s", round(resumed.iter().sum(), 4))
        .with("unit", "resumed_node_step")
        .with("us_per_unit", us(resume_median, resumed_nodes))
        .with("resume_ms_median", ms(resume_median))
        .with("first_run_to_failure_ms_median", ms(median(&to_failure)))
        .with("nodes_before_failure_not_rerun", true);
    finish(row, db).await
}

/// `history`: one run of `steps` supersteps, then the thread's history and latest state read.
pub(super) async fn history(p: &Params, tmp: &Path) -> Fallible<Row> {
    let steps = need(p.steps, "steps")?;
    let history_reps = need(p.history_reps, "history_reps")?;
    let get_state_reps = need(p.get_state_reps, "get_state_reps")?;
    let durability = p.durability()?;
    check(p.sqlite()?, || "history needs checkpointer=sqlite".into())?;
    let expected = i64::try_from(steps)?;
    let db = warm_then_open(tmp, true, async |store| {
        let graph = with_store(graphs::counter_loop(20)?, store);
        let config = config("warm", durability, 200);
        graph.invoke(IntUpdate::default().x(0), &config).await?;
        graph.get_state_history(&config, &ListOptions::default()).await?;
        let x = graph.get_state(&config).await?.values.x;
        check(x == 20, || format!("warm-up x = {x}"))
    })
    .await?;
    let graph = with_store(graphs::counter_loop(steps)?, db.as_ref().map(|db| db.checkpointer()));
    let config = config("t0", durability, steps + 100);
    let started = Instant::now();
    let x = graph.invoke(IntUpdate::default().x(0), &config).await?.value.x;
    let run_s = started.elapsed().as_secs_f64();
    check(x == expected, || format!("x = {x}, expected {expected}"))?;
    let (mut histories, mut gets) = (Vec::with_capacity(history_reps), Vec::with_capacity(get_state_reps));
    let mut entries = 0;
    for _ in 0..history_reps {
        let started = Instant::now();
        let history = graph.get_state_history(&config, &ListOptions::default()).await?;
        histories.push(started.elapsed().as_secs_f64());
        entries = history.len();
    }
    let mut latest = None;
    for _ in 0..get_state_reps {
        let started = Instant::now();
        let snapshot = graph.get_state(&config).await?;
        gets.push(started.elapsed().as_secs_f64());
        latest = Some(snapshot.values.x);
    }
    check(latest.is_none_or(|x| x == expected), || {
        format!("get_state: x = {latest:?}")
    })?;
    let history_s = median(&histories);
    let row = Row::new()
        .with("wall_s", round(history_s, 4))
        .with("unit", "history_entry")
        .with("us_per_unit", us(history_s, entries))
        .with("history_entries", entries)
        .with("history_ms_median", ms(history_s))
        .with("get_state_ms_median", ms(median(&gets)))
        .with("run_ms", ms(run_s))
        .with("run_us_per_step", us(run_s, steps));
    finish(row, db).await
}
