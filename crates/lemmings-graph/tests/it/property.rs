//! Property: on a random DAG with channels of different reducers, the final state and the
//! schedule do not depend on the order in which a superstep's tasks finish.
//!
//! Each case builds a DAG of 2–8 nodes (`n0`…`n7`, in topological order), with random forward
//! edges, random joins and START edges to the roots (plus a few random ones). Every node writes
//! values derived from its name and step to an append channel, an add channel, a custom `max`
//! channel and, for the one node that owns each of them, two last-value channels (so a last-value
//! channel never has two writers in one superstep). Each task waits a random number of
//! `yield_now`s and a random sleep on a paused clock before it returns. The result must equal a
//! reference run where no task waits, and a plain model of the superstep semantics.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lemmings_graph::*;
use proptest::collection::vec;
use proptest::prelude::*;

use crate::common::Trace;

fn max_u64(value: &mut u64, update: u64) {
    *value = (*value).max(update);
}

#[derive(State, Clone, Debug, Default, PartialEq)]
struct Mix {
    #[reducer(append)]
    log: Vec<String>,
    #[reducer(add)]
    total: i64,
    #[reducer(fn = max_u64)]
    high: u64,
    /// Written only by `Dag::owners.0`.
    first: String,
    /// Written only by `Dag::owners.1`.
    second: i64,
}

#[derive(Clone, Debug)]
struct Dag {
    n: usize,
    edges: Vec<(usize, usize)>,
    joins: Vec<(Vec<usize>, usize)>,
    starts: Vec<usize>,
    owners: (usize, usize),
}

/// How long node `i` takes before returning: `(yields, sleep in ms)`.
type Delays = Vec<(u8, u8)>;

fn name(i: usize) -> String {
    format!("n{i}")
}

/// What node `i` writes at superstep `step`.
fn writes(dag: &Dag, i: usize, step: i64) -> MixUpdate {
    let index = i as i64;
    let mut update = MixUpdate::default()
        .log(vec![format!("n{i}@{step}")])
        .total((index + 1) * 10 + step)
        .high(((index * 7919 + step * 104_729) % 1000) as u64);
    if dag.owners.0 == i {
        update = update.first(format!("n{i}@{step}"));
    }
    if dag.owners.1 == i {
        update = update.second(index * 100 + step);
    }
    update
}

fn dag_strategy() -> impl Strategy<Value = (Dag, Vec<Delays>)> {
    (2usize..=8)
        .prop_flat_map(|n| {
            (
                Just(n),
                vec(proptest::bool::weighted(0.3), n * (n - 1) / 2),
                vec((1..n, vec(any::<bool>(), n)), 0..=2),
                vec(proptest::bool::weighted(0.2), n),
                (0..n, 0..n),
                vec(vec((0u8..6, 0u8..4), n), 3),
            )
        })
        .prop_map(|(n, edge_bits, join_specs, start_bits, owners, orders)| {
            let mut edges = Vec::new();
            let mut bits = edge_bits.into_iter();
            for i in 0..n {
                for j in i + 1..n {
                    if bits.next().unwrap_or(false) {
                        edges.push((i, j));
                    }
                }
            }
            let joins: Vec<(Vec<usize>, usize)> = join_specs
                .into_iter()
                .map(|(target, mask)| ((0..target).filter(|s| mask[*s]).collect::<Vec<_>>(), target))
                .filter(|(sources, _)| !sources.is_empty())
                .collect();
            let has_input = |j: usize| edges.iter().any(|e| e.1 == j) || joins.iter().any(|(_, t)| *t == j);
            let starts = (0..n).filter(|&i| start_bits[i] || !has_input(i)).collect();
            let dag = Dag {
                n,
                edges,
                joins,
                starts,
                owners,
            };
            (dag, orders)
        })
}

/// The order in which tasks finished: `(step, node)`.
type Finished = Arc<Mutex<Vec<(i64, usize)>>>;

/// How one run goes: the tasks' delays, and a node whose first call fails.
#[derive(Clone, Debug, Default)]
struct Plan {
    delays: Delays,
    fail_once: Option<usize>,
    durability: Durability,
}

impl Plan {
    fn delays(delays: &Delays) -> Plan {
        Plan {
            delays: delays.clone(),
            ..Plan::default()
        }
    }
}

fn build(dag: &Dag, plan: &Plan, trace: &Trace, finished: &Finished) -> CompiledGraph<Mix> {
    let mut g = StateGraph::<Mix>::named("dag");
    let failed = Arc::new(AtomicBool::new(false));
    for i in 0..dag.n {
        let (dag, trace, finished, failed) = (dag.clone(), trace.clone(), Arc::clone(finished), Arc::clone(&failed));
        let (yields, sleep_ms) = plan.delays[i];
        let fails = plan.fail_once == Some(i);
        g.add_node(name(i), move |_state: Arc<Mix>, ctx: Ctx| {
            trace.record(&ctx);
            let update = writes(&dag, i, ctx.step());
            let fail = fails && !failed.swap(true, SeqCst);
            let finished = Arc::clone(&finished);
            async move {
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
                if sleep_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(u64::from(sleep_ms))).await;
                }
                finished.lock().unwrap().push((ctx.step(), i));
                if fail {
                    return Err(NodeError::msg("injected"));
                }
                Ok::<_, NodeError>(update)
            }
        });
    }
    for &s in &dag.starts {
        g.add_edge(START, name(s));
    }
    for &(i, j) in &dag.edges {
        g.add_edge(name(i), name(j));
    }
    for (sources, target) in &dag.joins {
        g.add_join(sources.iter().map(|s| name(*s)), name(*target));
    }
    g.compile()
        .unwrap_or_else(|e| panic!("{e}\n{dag:?}"))
        .with_checkpointer(Arc::new(InMemorySaver::new()))
}

/// What a run gives: the final state, the schedule (`[n0],[n1,n2]`, every call counted), and the
/// state read back from the checkpoint.
type Outcome = (Mix, String, Mix);

/// One run on its own paused current-thread runtime. With a failing node, the run fails and the
/// thread is continued once.
fn run(dag: &Dag, plan: &Plan, finished: &Finished) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let trace = Trace::default();
    let graph = build(dag, plan, &trace, finished);
    runtime.block_on(async {
        let cfg = RunConfig::thread("t").durability(plan.durability);
        let mut result = tokio::time::timeout(Duration::from_secs(3600), graph.invoke(MixUpdate::default(), &cfg))
            .await
            .expect("the run is stuck");
        if let Some(node) = plan.fail_once {
            let err = result.expect_err("the injected failure did not fail the run");
            assert_eq!(err.node_failure().map(|f| f.node.clone()), Some(name(node)), "{err}");
            let saved = graph.get_state(&cfg).await.unwrap();
            assert!(saved.next.contains(&name(node)), "{:?}", saved.next);
            result = tokio::time::timeout(Duration::from_secs(3600), graph.continue_run(&cfg))
                .await
                .expect("the continued run is stuck");
        }
        let out = result.unwrap_or_else(|e| panic!("{e}\n{dag:?}"));
        assert!(out.is_done());
        let saved = graph.get_state(&cfg).await.unwrap();
        assert!(saved.next.is_empty());
        (out.value, trace.steps(), saved.values)
    })
}

/// The superstep semantics on their own: the triggered nodes run together, their writes apply in
/// name order, then edges and joins (a join fires once all its sources ran, then resets) decide
/// the next superstep. Returns the final state and the supersteps.
fn model(dag: &Dag) -> (Mix, Vec<Vec<usize>>) {
    let mut state = Mix::default();
    let mut barriers: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); dag.joins.len()];
    let mut triggered: BTreeSet<usize> = dag.starts.iter().copied().collect();
    let mut step = 1;
    let mut schedule = Vec::new();
    while !triggered.is_empty() {
        let mut next = BTreeSet::new();
        schedule.push(triggered.iter().copied().collect());
        for &i in &triggered {
            let index = i as i64;
            state.log.push(format!("n{i}@{step}"));
            state.total += (index + 1) * 10 + step;
            state.high = state.high.max(((index * 7919 + step * 104_729) % 1000) as u64);
            if dag.owners.0 == i {
                state.first = format!("n{i}@{step}");
            }
            if dag.owners.1 == i {
                state.second = index * 100 + step;
            }
            next.extend(dag.edges.iter().filter(|e| e.0 == i).map(|e| e.1));
            for (join, (sources, target)) in dag.joins.iter().enumerate() {
                if sources.contains(&i) {
                    barriers[join].insert(i);
                    if barriers[join].len() == sources.len() {
                        barriers[join].clear();
                        next.insert(*target);
                    }
                }
            }
        }
        triggered = next;
        step += 1;
    }
    (state, schedule)
}

/// A schedule as `Trace::steps` prints it; `twice` runs twice at its first superstep.
fn schedule_text(schedule: &[Vec<usize>], twice: Option<usize>) -> String {
    let mut first = twice;
    schedule
        .iter()
        .map(|step| {
            let mut names = Vec::new();
            for &i in step {
                names.push(name(i));
                if first == Some(i) {
                    names.push(name(i));
                    first = None;
                }
            }
            format!("[{}]", names.join(","))
        })
        .collect::<Vec<_>>()
        .join(",")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn completion_order_does_not_change_the_result((dag, orders) in dag_strategy()) {
        let reference = run(&dag, &Plan::delays(&vec![(0, 0); dag.n]), &Finished::default());
        let (expected_state, expected_schedule) = model(&dag);
        prop_assert_eq!(&reference.0, &expected_state, "reference run vs model");
        prop_assert_eq!(&reference.1, &schedule_text(&expected_schedule, None), "reference schedule vs model");
        prop_assert_eq!(&reference.2, &expected_state, "saved state vs model");
        for delays in &orders {
            let shuffled = run(&dag, &Plan::delays(delays), &Finished::default());
            prop_assert_eq!(&shuffled, &reference, "delays {:?}", delays);
        }
    }

    /// A node failing once, then the thread continued: the same result as a clean run, and only
    /// the failed task runs again, whatever the durability mode.
    #[test]
    fn failure_then_continue_gives_the_same_result(
        (dag, orders) in dag_strategy(),
        fail in any::<proptest::sample::Index>(),
        durability in prop_oneof![Just(Durability::Sync), Just(Durability::Async), Just(Durability::Exit)],
    ) {
        let node = fail.index(dag.n);
        let plan = Plan { delays: orders[0].clone(), fail_once: Some(node), durability };
        let (state, schedule, saved) = run(&dag, &plan, &Finished::default());
        let (expected_state, expected_schedule) = model(&dag);
        prop_assert_eq!(&state, &expected_state);
        prop_assert_eq!(&saved, &expected_state);
        prop_assert_eq!(schedule, schedule_text(&expected_schedule, Some(node)));
    }
}

/// The delays do reorder completions: on a fan-out, delays that grow with the name make tasks
/// finish in name order, delays that shrink make them finish in reverse, with the same result.
#[test]
fn delays_reorder_completions() {
    let dag = Dag {
        n: 6,
        edges: (1..6).map(|j| (0, j)).collect(),
        joins: vec![(vec![1, 2, 3, 4, 5], 5)],
        starts: vec![0],
        owners: (1, 4),
    };
    let completions = |delays: Delays| {
        let finished = Finished::default();
        let result = run(&dag, &Plan::delays(&delays), &finished);
        let order: Vec<usize> = finished
            .lock()
            .unwrap()
            .iter()
            .filter(|f| f.0 == 2)
            .map(|f| f.1)
            .collect();
        (result, order)
    };
    let (growing, forward) = completions((0..6).map(|i| (i, i)).collect());
    let (shrinking, backward) = completions((0..6).map(|i| (6 - i, 6 - i)).collect());
    assert_eq!(forward, [1, 2, 3, 4, 5]);
    assert_eq!(backward, [5, 4, 3, 2, 1]);
    assert_eq!(growing, shrinking);
    assert_eq!(growing.1, "[n0],[n1,n2,n3,n4,n5],[n5]");
    assert_eq!(growing.0, model(&dag).0);
    assert_eq!(schedule_text(&model(&dag).1, None), growing.1);
}
