//! The executor's edge cases: background branches, cancellation, retries, timeouts, error
//! handlers, panics, streaming, durability and resume, delta storage and input commands.
//!
//! Every test runs on a paused clock, and every wait is guarded by [`within`]: a deadlock makes
//! the clock jump to the guard's deadline and fails the test instead of hanging it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use lemmings_graph::*;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::common::*;

type NodeFuture = std::pin::Pin<Box<dyn Future<Output = Result<LogUpdate, NodeError>> + Send>>;

/// Fails the test when `future` does not finish within an hour of (virtual) time.
async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(3600), future).await {
        Ok(output) => output,
        Err(_) => panic!("{what} did not finish: the run is stuck"),
    }
}

/// A node that records itself, counts its calls, signals `started` and appends its name; on the
/// calls listed in `pending_on` it never finishes instead.
fn stalling(
    trace: &Trace,
    calls: &Arc<AtomicU32>,
    started: &Arc<Notify>,
    pending_on: &'static [u32],
) -> impl Fn(Arc<Log>, Ctx) -> NodeFuture + Send + Sync + 'static {
    let trace = trace.clone();
    let calls = Arc::clone(calls);
    let started = Arc::clone(started);
    move |_state, ctx| {
        trace.record(&ctx);
        let call = calls.fetch_add(1, SeqCst) + 1;
        started.notify_one();
        Box::pin(async move {
            if pending_on.contains(&call) {
                std::future::pending::<()>().await;
            }
            Ok(log(&[ctx.node()]))
        })
    }
}

fn counter() -> Arc<AtomicU32> {
    Arc::new(AtomicU32::new(0))
}

fn saver() -> Arc<InMemorySaver> {
    Arc::new(InMemorySaver::new())
}

// ---------------------------------------------------------------------------------------------
// Background branches
// ---------------------------------------------------------------------------------------------

/// START → a → b → c on the main path, START → bg (background) → d. `bg` waits for `b` to release
/// it, and `c` waits for `bg` to finish: if the main path waited for `bg`, neither could happen.
#[tokio::test(start_paused = true)]
async fn background_branch_runs_beside_the_main_path() {
    let trace = Trace::default();
    let release_bg = Arc::new(Notify::new());
    let bg_finished = Arc::new(Notify::new());
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&trace));
    let (t, release) = (trace.clone(), Arc::clone(&release_bg));
    g.add_node("b", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        release.notify_one();
        std::future::ready(Ok::<_, NodeError>(log(&["b"])))
    });
    let (t, finished) = (trace.clone(), Arc::clone(&bg_finished));
    g.add_node("c", move |state: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        let finished = Arc::clone(&finished);
        async move {
            finished.notified().await;
            // The snapshot c started from does not have bg's write yet.
            assert_eq!(state.log, ["a", "b"]);
            Ok::<_, NodeError>(log(&["c"]))
        }
    });
    let (t, release, finished) = (trace.clone(), Arc::clone(&release_bg), Arc::clone(&bg_finished));
    g.add_node("bg", move |state: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        let (release, finished) = (Arc::clone(&release), Arc::clone(&finished));
        async move {
            release.notified().await;
            // It runs on the state of the superstep it was started in.
            assert!(state.log.is_empty(), "{:?}", state.log);
            finished.notify_one();
            Ok::<_, NodeError>(log(&["bg"]))
        }
    })
    .background();
    g.add_node("d", logger(&trace));
    g.add_edge(START, "a")
        .add_edge(START, "bg")
        .add_edge("a", "b")
        .add_edge("b", "c")
        .add_edge("bg", "d");
    let g = g.compile().unwrap();
    let out = within("the run", g.invoke(LogUpdate::default(), &RunConfig::default()))
        .await
        .unwrap();
    // bg finished while c ran: its write applies at c's barrier (after c's, by task path), and
    // its edge target d runs in the next superstep.
    assert_eq!(out.value.log, ["a", "b", "c", "bg", "d"]);
    assert_eq!(trace.steps(), "[a,bg],[b],[c],[d]");
    assert!(out.is_done());
}

fn waiting_background_graph(trace: &Trace, release: &Arc<Notify>, a_ran: &Arc<Notify>) -> StateGraph<Log> {
    let mut g = StateGraph::<Log>::new();
    let (t, a_ran) = (trace.clone(), Arc::clone(a_ran));
    g.add_node("a", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        a_ran.notify_one();
        std::future::ready(Ok::<_, NodeError>(log(&["a"])))
    });
    let (t, release) = (trace.clone(), Arc::clone(release));
    g.add_node("bg", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        let release = Arc::clone(&release);
        async move {
            release.notified().await;
            Ok::<_, NodeError>(log(&["bg"]))
        }
    })
    .background();
    g.add_node("d", logger(trace));
    g.add_edge(START, "a").add_edge(START, "bg").add_edge("bg", "d");
    g
}

/// With `BackgroundPolicy::Wait` (the default) the run waits for a background task that is still
/// running when the main path is done, applies its writes and runs what they trigger.
#[tokio::test(start_paused = true)]
async fn run_waits_for_background_tasks_by_default() {
    let trace = Trace::default();
    let release = Arc::new(Notify::new());
    let a_ran = Arc::new(Notify::new());
    let g = waiting_background_graph(&trace, &release, &a_ran).compile().unwrap();
    let run = tokio::spawn(async move { g.invoke(LogUpdate::default(), &RunConfig::default()).await });
    // The main path (a) is done before bg is released.
    within("a", a_ran.notified()).await;
    release.notify_one();
    let out = within("the run", run).await.unwrap().unwrap();
    assert_eq!(out.value.log, ["a", "bg", "d"]);
    assert_eq!(trace.steps(), "[a,bg],[d]");
    assert!(out.is_done());
}

/// With `BackgroundPolicy::Cancel` the run ends without the unfinished background task; the
/// checkpoint keeps it, so continuing the thread restarts it and applies its writes.
#[tokio::test(start_paused = true)]
async fn cancelled_background_task_restarts_on_continue() {
    let trace = Trace::default();
    let stall = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&trace));
    let (t, stalls) = (trace.clone(), Arc::clone(&stall));
    g.add_node("bg", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        let stalls = stalls.load(SeqCst);
        async move {
            if stalls {
                std::future::pending::<()>().await;
            }
            Ok::<_, NodeError>(log(&["bg"]))
        }
    })
    .background();
    g.add_node("d", logger(&trace));
    g.add_edge(START, "a").add_edge(START, "bg").add_edge("bg", "d");
    let store = saver();
    let g = g.compile().unwrap().with_checkpointer(store.clone());
    let cfg = RunConfig::thread("t").background(BackgroundPolicy::Cancel);
    // bg never finishes in this run: waiting for it would hang.
    let out = within("the run", g.invoke(LogUpdate::default(), &cfg)).await.unwrap();
    assert_eq!(out.value.log, ["a"]);
    // (Whether bg got to start before it was cancelled depends on scheduling.)
    let first_bg_calls = trace.count("bg");
    assert!(first_bg_calls <= 1);
    // The checkpoint records the unfinished background task.
    let tuple = store.get("t", "", None).await.unwrap().unwrap();
    let control = String::from_utf8_lossy(&tuple.checkpoint.control).into_owned();
    assert!(
        control.contains("\"background\"") && control.contains("\"bg\""),
        "{control}"
    );
    assert_eq!(g.get_state(&cfg).await.unwrap().values.log, ["a"]);

    stall.store(false, SeqCst);
    let out = within("the continued run", g.continue_run(&RunConfig::thread("t")))
        .await
        .unwrap();
    assert_eq!(out.value.log, ["a", "bg", "d"]);
    assert_eq!(
        (trace.count("a"), trace.count("bg"), trace.count("d")),
        (1, first_bg_calls + 1, 1)
    );
    assert!(out.is_done());
    let tuple = store.get("t", "", None).await.unwrap().unwrap();
    let control = String::from_utf8_lossy(&tuple.checkpoint.control).into_owned();
    assert!(!control.contains("\"background\""), "{control}");
}

/// A run that cancelled a background task is not done: the task runs when the thread continues,
/// so `next` (of the output and of `get_state`) lists it.
#[tokio::test(start_paused = true)]
async fn cancelled_background_task_is_listed_as_next() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&trace));
    g.add_node("bg", stalling(&trace, &counter(), &Arc::default(), &[1]))
        .background();
    g.add_edge(START, "a").add_edge(START, "bg");
    let g = g.compile().unwrap().with_checkpointer(saver());
    let cfg = RunConfig::thread("t").background(BackgroundPolicy::Cancel);
    let out = within("the run", g.invoke(LogUpdate::default(), &cfg)).await.unwrap();
    assert_eq!(out.next, ["bg"]);
    assert!(!out.is_done());
    assert_eq!(g.get_state(&cfg).await.unwrap().next, ["bg"]);
}

/// A background task restarted from a checkpoint is the same task: `ctx.task_id()` (and so
/// `ctx.idempotency_key`) and `ctx.step()` are those of its first start.
#[tokio::test(start_paused = true)]
async fn restarted_background_task_keeps_its_identity() {
    let bg_started = Arc::new(Notify::new());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let first_run = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&Trace::default()));
    let (started, first) = (Arc::clone(&bg_started), Arc::clone(&first_run));
    g.add_node("b", move |_s: Arc<Log>, _ctx: Ctx| {
        let (started, first) = (Arc::clone(&started), first.load(SeqCst));
        async move {
            if first {
                // Fail only once bg is running.
                started.notified().await;
                return Err(NodeError::msg("b failed"));
            }
            Ok::<_, NodeError>(log(&["b"]))
        }
    });
    let (started, first, ids) = (Arc::clone(&bg_started), Arc::clone(&first_run), Arc::clone(&seen));
    g.add_node("bg", move |_s: Arc<Log>, ctx: Ctx| {
        ids.lock()
            .unwrap()
            .push((ctx.task_id(), ctx.step(), ctx.idempotency_key(0)));
        let (started, first) = (Arc::clone(&started), first.load(SeqCst));
        async move {
            if first {
                started.notify_one();
                std::future::pending::<()>().await;
            }
            Ok::<_, NodeError>(log(&["bg"]))
        }
    })
    .background();
    g.add_edge(START, "a").add_edge(START, "bg").add_edge("a", "b");
    let g = g.compile().unwrap().with_checkpointer(saver());
    let cfg = RunConfig::thread("t");
    let err = within("the run", g.invoke(LogUpdate::default(), &cfg))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "node `b` failed at step 2 of thread t: b failed");
    first_run.store(false, SeqCst);
    let out = within("the continued run", g.continue_run(&cfg)).await.unwrap();
    assert_eq!(out.value.log, ["a", "b", "bg"]);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1], seen[0], "the restarted background task is a different task");
}

#[tokio::test(start_paused = true)]
async fn failing_background_task_fails_the_run() {
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", |_s: Arc<Log>, _ctx: Ctx| async { Ok::<_, NodeError>(log(&["a"])) });
    g.add_node("bg", |_s: Arc<Log>, _ctx: Ctx| async {
        Err::<LogUpdate, _>(NodeError::msg("bg broke"))
    })
    .background();
    g.add_edge(START, "a").add_edge(START, "bg");
    let g = g.compile().unwrap();
    let err = within("the run", g.invoke(LogUpdate::default(), &RunConfig::default()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Node);
    assert_eq!(err.node_failure().unwrap().node, "bg");
    assert_eq!(err.to_string(), "node `bg` failed at step 1: bg broke");
}

// ---------------------------------------------------------------------------------------------
// Cancellation
// ---------------------------------------------------------------------------------------------

/// START → a → {b, s}, b → c. `b` waits for the run's cancellation; cancelling stops the run at
/// step 2, the sibling `s` is saved, and continuing runs only `b` and `c`.
#[tokio::test(start_paused = true)]
async fn cancel_while_a_node_waits_then_continue() {
    let trace = Trace::default();
    let b_started = Arc::new(Notify::new());
    let b_calls = counter();
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&trace));
    let (t, started, calls) = (trace.clone(), Arc::clone(&b_started), Arc::clone(&b_calls));
    g.add_node("b", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        let first = calls.fetch_add(1, SeqCst) == 0;
        let started = Arc::clone(&started);
        async move {
            if first {
                started.notify_one();
                ctx.cancelled().await;
                return Ok::<_, NodeError>(log(&["b saw the cancellation"]));
            }
            Ok(log(&["b"]))
        }
    });
    g.add_node("s", logger(&trace));
    g.add_node("c", logger(&trace));
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("a", "s")
        .add_edge("b", "c");
    let g = g.compile().unwrap().with_checkpointer(saver());
    let cfg = RunConfig::thread("t");
    let token = cfg.cancel.clone();
    let run = {
        let (g, cfg) = (g.clone(), cfg.clone());
        tokio::spawn(async move { g.invoke(LogUpdate::default(), &cfg).await })
    };
    within("b's start", b_started.notified()).await;
    token.cancel();
    let err = within("the cancelled run", run).await.unwrap().unwrap_err();
    assert!(
        matches!(&err, GraphError::Cancelled { step: 2, thread_id: Some(t), .. } if t == "t"),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        "run cancelled at step 2 of thread t; the last saved checkpoint is intact; continue the thread to resume"
    );

    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.next, ["b"]);
    assert_eq!(state.values.log, ["a", "s"]);
    let done: Vec<(&str, bool)> = state.tasks.iter().map(|t| (t.name.as_str(), t.done)).collect();
    assert_eq!(done, [("b", false), ("s", true)]);

    // The token of `cfg` stays cancelled: continue with a fresh configuration.
    let out = within("the continued run", g.continue_run(&RunConfig::thread("t")))
        .await
        .unwrap();
    assert_eq!(out.value.log, ["a", "b", "s", "c"]);
    assert_eq!(
        (trace.count("a"), trace.count("b"), trace.count("s"), trace.count("c")),
        (1, 2, 1, 1)
    );
}

/// A node stuck on a future that never completes (and never looks at `ctx`) is abandoned when the
/// run is cancelled.
#[tokio::test(start_paused = true)]
async fn cancel_abandons_a_node_that_never_finishes() {
    let trace = Trace::default();
    let calls = counter();
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&trace));
    let started = Arc::new(Notify::new());
    g.add_node("stuck", stalling(&trace, &calls, &started, &[1]));
    g.add_edge(START, "a").add_edge("a", "stuck");
    let g = g.compile().unwrap().with_checkpointer(saver());
    let cfg = RunConfig::thread("t");
    let token = cfg.cancel.clone();
    let run = {
        let (g, cfg) = (g.clone(), cfg.clone());
        tokio::spawn(async move { g.invoke(LogUpdate::default(), &cfg).await })
    };
    within("stuck's start", started.notified()).await;
    assert!(!run.is_finished());
    assert_eq!(calls.load(SeqCst), 1);
    token.cancel();
    let err = within("the cancelled run", run).await.unwrap().unwrap_err();
    assert!(matches!(err, GraphError::Cancelled { step: 2, .. }), "{err:?}");
    let out = within("the continued run", g.continue_run(&RunConfig::thread("t")))
        .await
        .unwrap();
    assert_eq!(out.value.log, ["a", "stuck"]);
    assert_eq!((trace.count("a"), trace.count("stuck")), (1, 2));
}

#[tokio::test(start_paused = true)]
async fn cancel_while_waiting_for_a_background_task() {
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&Trace::default()));
    let started = Arc::new(Notify::new());
    g.add_node("bg", stalling(&Trace::default(), &counter(), &started, &[1]))
        .background();
    g.add_edge(START, "a").add_edge(START, "bg");
    let g = g.compile().unwrap();
    let cfg = RunConfig::default();
    let token = cfg.cancel.clone();
    let run = tokio::spawn(async move { g.invoke(LogUpdate::default(), &cfg).await });
    within("bg's start", started.notified()).await;
    assert!(!run.is_finished());
    token.cancel();
    let err = within("the cancelled run", run).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert!(err.to_string().starts_with("run cancelled at step 2;"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------------------------

/// A graph START → flaky → after, where `flaky` returns `errors[k]` on its k-th attempt (from 0)
/// and succeeds once they run out. Returns the attempts `ctx.attempt()` reported.
fn flaky_graph(
    policy: RetryPolicy,
    errors: impl Fn(u32) -> Option<NodeError> + Send + Sync + 'static,
) -> (StateGraph<Log>, Arc<std::sync::Mutex<Vec<u32>>>) {
    let attempts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut g = StateGraph::<Log>::new();
    let seen = Arc::clone(&attempts);
    g.add_node("flaky", move |_s: Arc<Log>, ctx: Ctx| {
        seen.lock().unwrap().push(ctx.attempt());
        let result = match errors(ctx.attempt() - 1) {
            Some(error) => Err(error),
            None => Ok(log(&[&format!("flaky@{}", ctx.attempt())])),
        };
        std::future::ready(result)
    })
    .retry(policy);
    g.add_node("after", |_s: Arc<Log>, _ctx: Ctx| async {
        Ok::<_, NodeError>(log(&["after"]))
    });
    g.add_edge(START, "flaky").add_edge("flaky", "after");
    (g, attempts)
}

fn busy() -> NodeError {
    NodeError::retryable(std::io::Error::other("busy"))
}

#[tokio::test(start_paused = true)]
async fn retry_backs_off_exponentially() {
    let policy = RetryPolicy::attempts(3).jitter(false);
    assert_eq!(
        (policy.initial_interval, policy.backoff_factor),
        (Duration::from_millis(500), 2.0)
    );
    let (g, attempts) = flaky_graph(policy, |k| (k < 2).then(busy));
    let g = g.compile().unwrap();
    let start = Instant::now();
    let out = g.invoke(LogUpdate::default(), &RunConfig::default()).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(1500));
    assert_eq!(*attempts.lock().unwrap(), [1, 2, 3]);
    // The failed attempts wrote nothing.
    assert_eq!(out.value.log, ["flaky@3", "after"]);
}

#[tokio::test(start_paused = true)]
async fn retry_delay_is_capped_and_jitter_stays_within_a_quarter() {
    let policy = RetryPolicy::attempts(4)
        .jitter(false)
        .max_interval(Duration::from_millis(800));
    let (g, _) = flaky_graph(policy, |k| (k < 3).then(busy));
    let start = Instant::now();
    g.compile()
        .unwrap()
        .invoke(LogUpdate::default(), &RunConfig::default())
        .await
        .unwrap();
    // 0.5 s, then 1 s capped to 0.8 s, then 2 s capped to 0.8 s.
    assert_eq!(start.elapsed(), Duration::from_millis(2100));

    let (g, _) = flaky_graph(RetryPolicy::attempts(3), |k| (k < 2).then(busy));
    let start = Instant::now();
    g.compile()
        .unwrap()
        .invoke(LogUpdate::default(), &RunConfig::default())
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed <= Duration::from_millis(1876),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_name_node_step_thread_and_attempts() {
    let (g, attempts) = flaky_graph(RetryPolicy::attempts(3).jitter(false), |_| Some(busy()));
    let g = g.compile().unwrap().with_checkpointer(saver());
    let cfg = RunConfig::thread("t");
    let start = Instant::now();
    let err = g.invoke(LogUpdate::default(), &cfg).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(1500));
    assert_eq!(*attempts.lock().unwrap(), [1, 2, 3]);
    assert_eq!(
        err.to_string(),
        "node `flaky` failed at step 1 of thread t after 3 attempts: busy"
    );
    assert_eq!(err.kind(), ErrorKind::Node);
    assert!(err.is_retryable());
    let failure = err.node_failure().unwrap();
    assert_eq!(
        (
            failure.node.as_str(),
            failure.step,
            failure.thread_id.as_deref(),
            failure.attempts
        ),
        ("flaky", 1, Some("t"), 3)
    );
    assert_eq!(failure.error.kind(), NodeErrorKind::Retryable);
    assert!(failure.error.downcast_ref::<std::io::Error>().is_some());
    // The failure is saved with the task.
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.next, ["flaky"]);
    assert_eq!(state.tasks[0].error.as_deref(), Some("busy"));
}

#[tokio::test(start_paused = true)]
async fn terminal_errors_are_not_retried() {
    let (g, attempts) = flaky_graph(RetryPolicy::attempts(5), |_| Some(NodeError::msg("bad input")));
    let start = Instant::now();
    let err = g
        .compile()
        .unwrap()
        .invoke(LogUpdate::default(), &RunConfig::default())
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(*attempts.lock().unwrap(), [1]);
    assert_eq!(err.to_string(), "node `flaky` failed at step 1: bad input");
    assert_eq!(err.node_failure().unwrap().attempts, 1);
    assert!(!err.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn unclassified_errors_retry_only_when_transient() {
    let refused = || NodeError::from(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"));
    let (g, attempts) = flaky_graph(RetryPolicy::attempts(3).jitter(false), move |k| (k < 1).then(refused));
    let out = g
        .compile()
        .unwrap()
        .invoke(LogUpdate::default(), &RunConfig::default())
        .await
        .unwrap();
    assert_eq!(out.value.log, ["flaky@2", "after"]);
    assert_eq!(*attempts.lock().unwrap(), [1, 2]);

    let missing = || NodeError::from(std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"));
    let (g, attempts) = flaky_graph(RetryPolicy::attempts(3), move |_| Some(missing()));
    let err = g
        .compile()
        .unwrap()
        .invoke(LogUpdate::default(), &RunConfig::default())
        .await
        .unwrap_err();
    assert_eq!(*attempts.lock().unwrap(), [1]);
    assert_eq!(err.node_failure().unwrap().error.kind(), NodeErrorKind::Unclassified);
    assert!(!err.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn retry_on_predicate_decides() {
    // Terminal errors are retried when the predicate says so, until one it refuses.
    let policy = RetryPolicy::attempts(5)
        .jitter(false)
        .retry_on(|e: &NodeError| e.to_string().starts_with("flaky"));
    let (g, attempts) = flaky_graph(policy, |k| {
        Some(match k {
            0 | 1 => NodeError::msg(format!("flaky {k}")),
            _ => NodeError::msg("fatal"),
        })
    });
    let start = Instant::now();
    let err = g
        .compile()
        .unwrap()
        .invoke(LogUpdate::default(), &RunConfig::default())
        .await
        .unwrap_err();
    assert_eq!(*attempts.lock().unwrap(), [1, 2, 3]);
    assert_eq!(start.elapsed(), Duration::from_millis(1500));
    assert_eq!(err.to_string(), "node `flaky` failed at step 1 after 3 attempts: fatal");

    // A predicate refusing everything stops retryable errors too.
    let (g, attempts) = flaky_graph(RetryPolicy::attempts(5).retry_on(|_: &NodeError| false), |_| {
        Some(busy())
    });
    let err = g
        .compile()
        .unwrap()
        .invoke(LogUpdate::default(), &RunConfig::default())
        .await
        .unwrap_err();
    assert_eq!(*attempts.lock().unwrap(), [1]);
    // Resuming the thread later may still help: the error itself is retryable.
    assert!(err.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn cancel_during_a_retry_backoff() {
    let failed_once = Arc::new(Notify::new());
    let mut g = StateGraph::<Log>::new();
    let signal = Arc::clone(&failed_once);
    g.add_node("flaky", move |_s: Arc<Log>, _ctx: Ctx| {
        signal.notify_one();
        std::future::ready(Err::<LogUpdate, _>(busy()))
    })
    .retry(RetryPolicy::attempts(3).initial_interval(Duration::from_secs(600)));
    g.add_edge(START, "flaky");
    let g = g.compile().unwrap();
    let cfg = RunConfig::default();
    let token = cfg.cancel.clone();
    let start = Instant::now();
    let run = tokio::spawn(async move { g.invoke(LogUpdate::default(), &cfg).await });
    within("the first attempt", failed_once.notified()).await;
    token.cancel();
    let err = within("the cancelled run", run).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    // The backoff was not waited out.
    assert!(start.elapsed() < Duration::from_secs(600), "{:?}", start.elapsed());
}

// ---------------------------------------------------------------------------------------------
// Timeouts
// ---------------------------------------------------------------------------------------------

/// A node that never finishes on the attempts listed in `slow_on`, and returns at once otherwise.
fn slow_node(
    attempts: &Arc<std::sync::Mutex<Vec<u32>>>,
    slow_on: &'static [u32],
) -> impl Fn(Arc<Log>, Ctx) -> NodeFuture + Send + Sync + 'static {
    let attempts = Arc::clone(attempts);
    move |_s, ctx| {
        attempts.lock().unwrap().push(ctx.attempt());
        Box::pin(async move {
            if slow_on.contains(&ctx.attempt()) {
                std::future::pending::<()>().await;
            }
            Ok(log(&[&format!("slow@{}", ctx.attempt())]))
        })
    }
}

/// Runs START → `slow` (see [`slow_node`]) with a timeout and an optional retry policy. Returns
/// how long the run took (on the paused clock), its result, and the attempts the node saw.
async fn run_slow(
    slow_on: &'static [u32],
    timeout: Duration,
    retry: Option<RetryPolicy>,
) -> (Duration, Result<Output<Log>, GraphError>, Vec<u32>) {
    let attempts = Arc::default();
    let mut g = StateGraph::<Log>::new();
    let node = g.add_node("slow", slow_node(&attempts, slow_on)).timeout(timeout);
    if let Some(policy) = retry {
        node.retry(policy);
    }
    g.add_edge(START, "slow");
    let start = Instant::now();
    let result = within(
        "the run",
        g.compile().unwrap().invoke(LogUpdate::default(), &RunConfig::default()),
    )
    .await;
    let attempts = attempts.lock().unwrap().clone();
    (start.elapsed(), result, attempts)
}

#[tokio::test(start_paused = true)]
async fn timeout_fails_a_node_that_never_finishes() {
    let (elapsed, result, attempts) = run_slow(&[1, 2, 3], Duration::from_secs(1), None).await;
    let err = result.unwrap_err();
    assert_eq!(elapsed, Duration::from_secs(1));
    assert_eq!(attempts, [1]);
    assert_eq!(err.to_string(), "node `slow` failed at step 1: timed out after 1s");
    let failure = err.node_failure().unwrap();
    assert_eq!(failure.error.kind(), NodeErrorKind::Timeout);
    assert!(failure.error.is_retryable());
    assert!(err.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn timed_out_attempts_are_retried_until_one_is_fast() {
    let retry = RetryPolicy::attempts(3).jitter(false);
    let (elapsed, result, attempts) = run_slow(&[1, 2], Duration::from_secs(1), Some(retry)).await;
    let out = result.unwrap();
    // 1 s timeout + 0.5 s backoff + 1 s timeout + 1 s backoff; the third attempt is instant.
    assert_eq!(elapsed, Duration::from_millis(3500));
    assert_eq!(attempts, [1, 2, 3]);
    assert_eq!(out.value.log, ["slow@3"]);
}

#[tokio::test(start_paused = true)]
async fn timeouts_exhaust_retries() {
    let retry = RetryPolicy::attempts(2).jitter(false);
    let (elapsed, result, attempts) = run_slow(&[1, 2], Duration::from_millis(300), Some(retry)).await;
    let err = result.unwrap_err();
    assert_eq!(elapsed, Duration::from_millis(1100));
    assert_eq!(attempts, [1, 2]);
    assert_eq!(
        err.to_string(),
        "node `slow` failed at step 1 after 2 attempts: timed out after 300ms"
    );
    assert_eq!(err.node_failure().unwrap().error.kind(), NodeErrorKind::Timeout);
}

// ---------------------------------------------------------------------------------------------
// Error handlers
// ---------------------------------------------------------------------------------------------

/// START → {bad, ok}, bad → after_bad, ok → after_ok. `bad` fails (after its retries) and its
/// handler's update applies instead; its own edge does not fire, its sibling is unaffected.
#[tokio::test(start_paused = true)]
async fn error_handler_replaces_a_failed_parallel_node() {
    let trace = Trace::default();
    let bad_calls = counter();
    let seen = Arc::new(std::sync::Mutex::new(None::<(Vec<String>, String, NodeErrorKind)>));
    let mut g = StateGraph::<Log>::new();
    let (t, calls) = (trace.clone(), Arc::clone(&bad_calls));
    let handler_saw = Arc::clone(&seen);
    g.add_node("bad", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        calls.fetch_add(1, SeqCst);
        std::future::ready(Err::<LogUpdate, _>(busy()))
    })
    .retry(RetryPolicy::attempts(2).jitter(false))
    .error_handler(move |state: Arc<Log>, error: NodeError| {
        *handler_saw.lock().unwrap() = Some((state.log.clone(), error.to_string(), error.kind()));
        async move { Ok::<_, NodeError>(log(&[&format!("handled: {error}")])) }
    });
    g.add_node("ok", logger(&trace));
    g.add_node("after_bad", logger(&trace));
    g.add_node("after_ok", logger(&trace));
    g.add_edge(START, "bad")
        .add_edge(START, "ok")
        .add_edge("bad", "after_bad")
        .add_edge("ok", "after_ok");
    let g = g.compile().unwrap();
    let out = within("the run", g.invoke(log(&["in"]), &RunConfig::default()))
        .await
        .unwrap();
    assert_eq!(out.value.log, ["in", "handled: busy", "ok", "after_ok"]);
    assert_eq!(bad_calls.load(SeqCst), 2);
    assert_eq!(trace.count("after_bad"), 0);
    assert_eq!(
        seen.lock().unwrap().clone(),
        Some((vec!["in".to_owned()], "busy".to_owned(), NodeErrorKind::Retryable))
    );
}

#[tokio::test(start_paused = true)]
async fn error_handler_can_route_with_a_command() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    g.add_node("bad", |_s: Arc<Log>, _ctx: Ctx| async {
        Err::<LogUpdate, _>(NodeError::msg("nope"))
    })
    .error_handler(|_s: Arc<Log>, _e: NodeError| async {
        Ok::<_, NodeError>(Command::<Log>::new().update(log(&["handled"])).goto("recover"))
    })
    .destinations(["recover"]);
    g.add_node("next", logger(&trace));
    g.add_node("recover", logger(&trace));
    g.add_edge(START, "bad").add_edge("bad", "next");
    let out = within(
        "the run",
        g.compile().unwrap().invoke(LogUpdate::default(), &RunConfig::default()),
    )
    .await
    .unwrap();
    assert_eq!(out.value.log, ["handled", "recover"]);
    assert_eq!(trace.steps(), "[recover]");
}

#[tokio::test(start_paused = true)]
async fn failing_error_handler_fails_the_run() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    g.add_node("bad", |_s: Arc<Log>, _ctx: Ctx| async {
        Err::<LogUpdate, _>(NodeError::msg("nope"))
    })
    .error_handler(|_s: Arc<Log>, e: NodeError| async move {
        Err::<LogUpdate, _>(NodeError::msg(format!("handler broke on `{e}`")))
    });
    g.add_node("ok", logger(&trace));
    g.add_node("next", logger(&trace));
    g.add_edge(START, "bad").add_edge(START, "ok").add_edge("bad", "next");
    let g = g.compile().unwrap().with_checkpointer(saver());
    let cfg = RunConfig::thread("t");
    let err = within("the run", g.invoke(LogUpdate::default(), &cfg))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Node);
    assert_eq!(err.node_failure().unwrap().node, "bad");
    assert_eq!(
        err.to_string(),
        "node `bad` failed at step 1 of thread t: its error handler failed: handler broke on `nope` (handling: nope)"
    );
    assert_eq!(trace.count("next"), 0);
    // The sibling's writes are saved.
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.values.log, ["ok"]);
    assert_eq!(state.next, ["bad"]);
}

// ---------------------------------------------------------------------------------------------
// Panics
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn panic_in_a_node_is_a_node_error() {
    let mut g = StateGraph::<Log>::new();
    g.add_node("boom", |_s: Arc<Log>, ctx: Ctx| async move {
        if ctx.step() > 0 {
            panic!("kaboom at step {}", ctx.step());
        }
        Ok::<_, NodeError>(LogUpdate::default())
    });
    g.add_edge(START, "boom");
    let err = within(
        "the run",
        g.compile().unwrap().invoke(LogUpdate::default(), &RunConfig::default()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Node);
    assert_eq!(
        err.to_string(),
        "node `boom` failed at step 1: the node panicked: kaboom at step 1"
    );
}

/// The panic happens in the node's closure before it returns its future.
#[tokio::test(start_paused = true)]
async fn panic_before_the_nodes_future_is_a_node_error() {
    let mut g = StateGraph::<Log>::new();
    g.add_node("boom", |_s: Arc<Log>, ctx: Ctx| {
        if ctx.step() > 0 {
            panic!("kaboom");
        }
        std::future::ready(Ok::<_, NodeError>(LogUpdate::default()))
    });
    g.add_edge(START, "boom");
    let run = tokio::spawn(async move {
        g.compile()
            .unwrap()
            .invoke(LogUpdate::default(), &RunConfig::default())
            .await
    });
    let result = within("the run", run).await;
    let err = match result {
        Ok(result) => result.unwrap_err(),
        Err(join) => panic!("the panic unwound through the run instead of failing the node: {join}"),
    };
    assert_eq!(
        err.to_string(),
        "node `boom` failed at step 1: the node panicked: kaboom"
    );
}

/// An error handler is part of its node: its panic fails the node like the node's own would.
#[tokio::test(start_paused = true)]
async fn panic_in_an_error_handler_is_a_node_error() {
    let mut g = StateGraph::<Log>::new();
    g.add_node("bad", |_s: Arc<Log>, _ctx: Ctx| async {
        Err::<LogUpdate, _>(NodeError::msg("nope"))
    })
    .error_handler(|_s: Arc<Log>, e: NodeError| async move {
        if e.to_string() == "nope" {
            panic!("handler kaboom");
        }
        Ok::<_, NodeError>(LogUpdate::default())
    });
    g.add_edge(START, "bad");
    let g = g.compile().unwrap();
    let run = tokio::spawn(async move { g.invoke(LogUpdate::default(), &RunConfig::default()).await });
    let err = match within("the run", run).await {
        Ok(result) => result.unwrap_err(),
        Err(join) => panic!("the handler's panic unwound through the run: {join}"),
    };
    assert_eq!(err.node_failure().unwrap().node, "bad");
    assert!(err.to_string().contains("panicked: handler kaboom"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn panic_keeps_the_siblings_writes() {
    let trace = Trace::default();
    let calls = counter();
    let mut g = StateGraph::<Log>::new();
    let (t, c) = (trace.clone(), Arc::clone(&calls));
    g.add_node("boom", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        let first = c.fetch_add(1, SeqCst) == 0;
        async move {
            if first {
                panic!("kaboom");
            }
            Ok::<_, NodeError>(log(&["boom"]))
        }
    });
    g.add_node("sib", logger(&trace));
    g.add_node("after", logger(&trace));
    g.add_edge(START, "boom")
        .add_edge(START, "sib")
        .add_join(["boom", "sib"], "after");
    let g = g.compile().unwrap().with_checkpointer(saver());
    let cfg = RunConfig::thread("t");
    let err = within("the run", g.invoke(LogUpdate::default(), &cfg))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("panicked: kaboom"), "{err}");
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.values.log, ["sib"]);
    assert_eq!(state.next, ["boom"]);
    let out = within("the continued run", g.continue_run(&cfg)).await.unwrap();
    assert_eq!(out.value.log, ["boom", "sib", "after"]);
    assert_eq!(
        (trace.count("boom"), trace.count("sib"), trace.count("after")),
        (2, 1, 1)
    );
}

// ---------------------------------------------------------------------------------------------
// Durability and resume
// ---------------------------------------------------------------------------------------------

fn diamond(trace: &Trace) -> StateGraph<Log> {
    let mut g = StateGraph::<Log>::new();
    for n in ["a", "b", "c", "d"] {
        g.add_node(n, logger(trace));
    }
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_join(["b", "c"], "d");
    g
}

#[tokio::test(start_paused = true)]
async fn every_durability_mode_gives_the_same_result() {
    let mut results = Vec::new();
    for durability in [Durability::Sync, Durability::Async, Durability::Exit] {
        let trace = Trace::default();
        let store = CountingSaver::new();
        let g = diamond(&trace).compile().unwrap().with_checkpointer(store.clone());
        let cfg = RunConfig::thread("t").durability(durability);
        let out = within("the run", g.invoke(log(&["in"]), &cfg)).await.unwrap();
        assert!(out.is_done());
        let state = g.get_state(&RunConfig::thread("t")).await.unwrap();
        assert_eq!(state.values, out.value, "{durability:?}");
        assert!(state.next.is_empty());
        assert_eq!(state.step, 3);
        assert_eq!(state.checkpoint_id, out.checkpoint_id);
        results.push((durability, out.value.log, trace.steps(), store.counts()));
    }
    let log: Vec<String> = ["in", "a", "b", "c", "d"].map(String::from).to_vec();
    let steps = "[a],[b,c],[d]".to_owned();
    assert_eq!(
        results,
        [
            // Checkpoints at steps -1..=3; one write row per task (START's input included).
            (Durability::Sync, log.clone(), steps.clone(), (5, 5)),
            (Durability::Async, log.clone(), steps.clone(), (5, 5)),
            // One checkpoint when the run stops, nothing pending.
            (Durability::Exit, log, steps, (1, 0)),
        ]
    );
}

/// LangGraph §2.6: with `exit` durability, node 2 of 2 failing saves one checkpoint with
/// `next == ["bad"]` and its error, and continuing completes the run.
#[tokio::test(start_paused = true)]
async fn exit_durability_saves_one_checkpoint_on_failure() {
    let trace = Trace::default();
    let calls = counter();
    let mut g = StateGraph::<Log>::new();
    g.add_node("ok", logger(&trace));
    let (t, c) = (trace.clone(), Arc::clone(&calls));
    g.add_node("bad", move |_s: Arc<Log>, ctx: Ctx| {
        t.record(&ctx);
        let result = if c.fetch_add(1, SeqCst) == 0 {
            Err(NodeError::msg("nope"))
        } else {
            Ok(log(&["bad"]))
        };
        std::future::ready(result)
    });
    g.add_edge(START, "ok").add_edge("ok", "bad");
    let store = CountingSaver::new();
    let g = g.compile().unwrap().with_checkpointer(store.clone());
    let cfg = RunConfig::thread("t").durability(Durability::Exit);
    let err = within("the run", g.invoke(LogUpdate::default(), &cfg))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "node `bad` failed at step 2 of thread t: nope");
    // One checkpoint, plus the failed task's error row.
    assert_eq!(store.counts(), (1, 1));
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.next, ["bad"]);
    assert_eq!(state.step, 1);
    assert_eq!(state.values.log, ["ok"]);
    assert_eq!(state.tasks.len(), 1);
    assert_eq!(state.tasks[0].error.as_deref(), Some("nope"));

    let out = within("the continued run", g.continue_run(&cfg)).await.unwrap();
    assert_eq!(out.value.log, ["ok", "bad"]);
    assert!(out.is_done());
    assert_eq!((trace.count("ok"), trace.count("bad")), (1, 2));
    let state = g.get_state(&cfg).await.unwrap();
    assert!(state.next.is_empty());
    assert_eq!(state.values.log, ["ok", "bad"]);
}

#[tokio::test(start_paused = true)]
async fn usage_errors() {
    let trace = Trace::default();
    let plain = diamond(&trace).compile().unwrap();
    let saved = plain.with_checkpointer(saver());

    let err = saved
        .invoke(LogUpdate::default(), &RunConfig::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage);
    assert!(matches!(err, GraphError::Usage(_)));
    assert_eq!(
        err.to_string(),
        "graph `graph` has a checkpointer, so a run needs a thread id: use RunConfig::thread(\"...\")"
    );
    let err = saved.get_state(&RunConfig::default()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "get_state needs a thread id: use RunConfig::thread(\"...\")"
    );

    let err = plain
        .resume(Resume::value("yes"), &RunConfig::thread("t"))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::Usage(_)));
    assert!(err.to_string().starts_with("resuming needs a checkpointer"), "{err}");
    let err = plain.get_state(&RunConfig::thread("t")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "get_state needs a checkpointer: compile graph `graph` with .with_checkpointer(...)"
    );

    let err = plain
        .invoke(LogUpdate::default(), &RunConfig::default().recursion_limit(0))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::Usage(_)));
    assert_eq!(err.to_string(), "the recursion limit must be at least 1");
    assert!(!err.is_retryable());

    // Resuming a thread that has no pending interrupt.
    saved
        .invoke(LogUpdate::default(), &RunConfig::thread("t"))
        .await
        .unwrap();
    let err = saved
        .resume(Resume::value("yes"), &RunConfig::thread("t"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "thread t has no pending interrupt to resume");
    assert_eq!(trace.count("a"), 1);
}

// ---------------------------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------------------------

async fn collect<O>(mut stream: EventStream<O>) -> (Vec<Event>, Result<Output<O>, GraphError>) {
    let mut events = Vec::new();
    while let Some(event) = within("the event stream", stream.next()).await {
        events.push(event);
    }
    let result = within("the streamed run", stream.finish()).await;
    (events, result)
}

#[tokio::test(start_paused = true)]
async fn stream_messages() {
    let mut g = StateGraph::<Log>::new();
    g.add_node("bot", |_s: Arc<Log>, ctx: Ctx| async move {
        for token in ["hello", " ", "big", " ", "world"] {
            ctx.emit_message(token);
        }
        ctx.emit("not a message");
        Ok::<_, NodeError>(log(&["bot"]))
    });
    g.add_node("tail", |_s: Arc<Log>, ctx: Ctx| async move {
        // Keys in sorted order: serde_json keeps insertion order when another workspace crate
        // (rig-core) turns on its `preserve_order` feature, and sorts them otherwise.
        ctx.emit_message(serde_json::json!({"content": "done", "role": "tool"}));
        Ok::<_, NodeError>(LogUpdate::default())
    });
    g.add_edge(START, "bot").add_edge("bot", "tail");
    let g = g.compile().unwrap();
    let stream = g.stream(
        RunInput::New(LogUpdate::default()),
        &RunConfig::default(),
        StreamMode::Messages,
    );
    let (events, result) = collect(stream).await;
    assert_eq!(result.unwrap().value.log, ["bot"]);
    let seen: Vec<String> = events
        .iter()
        .map(|e| match &e.data {
            EventData::Message { node, chunk } => {
                assert_eq!(e.mode, StreamMode::Messages);
                assert!(e.ns.is_empty());
                format!("{} {node} {chunk}", e.step)
            }
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(
        seen,
        [
            r#"1 bot "hello""#,
            r#"1 bot " ""#,
            r#"1 bot "big""#,
            r#"1 bot " ""#,
            r#"1 bot "world""#,
            r#"2 tail {"content":"done","role":"tool"}"#,
        ]
    );
}

fn task_line(event: &Event) -> Option<String> {
    match &event.data {
        EventData::TaskStart { node, .. } => Some(format!("{} start {node}", event.step)),
        EventData::TaskResult {
            node,
            error,
            interrupts,
            ..
        } => Some(format!(
            "{} result {node} {}{}",
            event.step,
            error.as_deref().unwrap_or("ok"),
            if interrupts.is_empty() { "" } else { " interrupted" }
        )),
        _ => None,
    }
}

#[tokio::test(start_paused = true)]
async fn stream_tasks() {
    let mut g = diamond(&Trace::default());
    g.add_node("e", |_s: Arc<Log>, _ctx: Ctx| async {
        Err::<LogUpdate, _>(NodeError::msg("e failed"))
    });
    g.add_edge("d", "e");
    let g = g.compile().unwrap();
    let stream = g.stream(
        RunInput::New(LogUpdate::default()),
        &RunConfig::default(),
        StreamMode::Tasks,
    );
    let (events, result) = collect(stream).await;
    assert_eq!(result.unwrap_err().to_string(), "node `e` failed at step 4: e failed");
    assert!(events.iter().all(|e| e.mode == StreamMode::Tasks));
    let mut lines: Vec<String> = events.iter().map(|e| task_line(e).unwrap()).collect();
    // b and c run concurrently: their starts come first, their results in completion order.
    lines[4..6].sort();
    assert_eq!(
        lines,
        [
            "1 start a",
            "1 result a ok",
            "2 start b",
            "2 start c",
            "2 result b ok",
            "2 result c ok",
            "3 start d",
            "3 result d ok",
            "4 start e",
            "4 result e e failed",
        ]
    );
    // Start and result of a task carry the same id.
    let id = |i: usize| match &events[i].data {
        EventData::TaskStart { id, .. } | EventData::TaskResult { id, .. } => *id,
        _ => unreachable!(),
    };
    assert_eq!(id(0), id(1));
    assert_ne!(id(0), id(2));
}

#[tokio::test(start_paused = true)]
async fn stream_debug() {
    let mut g = StateGraph::<Log>::new();
    for n in ["a", "b"] {
        g.add_node(n, logger(&Trace::default()));
    }
    g.add_edge(START, "a").add_edge("a", "b");
    let g = g.compile().unwrap();
    let stream = g.stream(
        RunInput::New(LogUpdate::default()),
        &RunConfig::default(),
        StreamMode::Debug,
    );
    let (events, result) = collect(stream).await;
    assert_eq!(result.unwrap().value.log, ["a", "b"]);
    assert!(events.iter().all(|e| e.mode == StreamMode::Debug));
    let mut parent = None;
    let lines: Vec<String> = events
        .iter()
        .map(|e| match &e.data {
            EventData::Checkpoint(c) => {
                assert_eq!(c.parent_id, parent);
                parent = Some(c.id);
                format!("{} checkpoint {} next={:?}", e.step, c.source, c.next)
            }
            _ => task_line(e).unwrap_or_else(|| panic!("unexpected event {e:?}")),
        })
        .collect();
    assert_eq!(
        lines,
        [
            "-1 checkpoint input next=[\"__start__\"]",
            "0 checkpoint loop next=[\"a\"]",
            "1 start a",
            "1 result a ok",
            "1 checkpoint loop next=[\"b\"]",
            "2 start b",
            "2 result b ok",
            "2 checkpoint loop next=[]",
        ]
    );
}

/// A background node served from the node cache says so in its update event, like any node.
#[tokio::test(start_paused = true)]
async fn cached_background_updates_are_marked_cached() {
    let runs = counter();
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&Trace::default()));
    let r = Arc::clone(&runs);
    g.add_node("bg", move |_s: Arc<Log>, _ctx: Ctx| {
        r.fetch_add(1, SeqCst);
        std::future::ready(Ok::<_, NodeError>(log(&["bg"])))
    })
    .background()
    .cache(CachePolicy::new());
    g.add_edge(START, "a").add_edge(START, "bg");
    let g = g
        .compile_with(CompileOptions {
            cache: Some(Arc::new(InMemoryCache::new())),
            ..CompileOptions::default()
        })
        .unwrap();
    let mut flags = Vec::new();
    for _ in 0..2 {
        let stream = g.stream(
            RunInput::New(LogUpdate::default()),
            &RunConfig::default(),
            StreamMode::Updates,
        );
        let (events, result) = collect(stream).await;
        assert_eq!(result.unwrap().value.log, ["a", "bg"]);
        flags.extend(events.iter().filter_map(|e| match &e.data {
            EventData::Update { node, cached, .. } if node == "bg" => Some(*cached),
            _ => None,
        }));
    }
    assert_eq!(flags, [false, true]);
    assert_eq!(runs.load(SeqCst), 1, "the second run is served from the cache");
}

/// Notifies when dropped: shows that a node's future was abandoned.
struct DropSignal(Arc<Notify>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_cancels_the_run() {
    let dropped = Arc::new(Notify::new());
    let started = Arc::new(Notify::new());
    let mut g = StateGraph::<Log>::new();
    let (dropped_signal, go) = (Arc::clone(&dropped), Arc::clone(&started));
    g.add_node("wait", move |_s: Arc<Log>, _ctx: Ctx| {
        let (signal, go) = (DropSignal(Arc::clone(&dropped_signal)), Arc::clone(&go));
        async move {
            let _signal = signal;
            go.notify_one();
            std::future::pending::<()>().await;
            Ok::<_, NodeError>(LogUpdate::default())
        }
    });
    g.add_edge(START, "wait");
    let g = g.compile().unwrap();
    let stream = g.stream(
        RunInput::New(LogUpdate::default()),
        &RunConfig::default(),
        StreamMode::Values,
    );
    within("the node's start", started.notified()).await;
    drop(stream);
    // The run stops and drops the node's future.
    within("the node's cancellation", dropped.notified()).await;
}

// ---------------------------------------------------------------------------------------------
// Append-only delta storage
// ---------------------------------------------------------------------------------------------

fn chain_of_five(overwrite_at: Option<&'static str>) -> StateGraph<Log> {
    let names = ["n1", "n2", "n3", "n4", "n5"];
    let mut g = StateGraph::<Log>::new();
    for n in names {
        g.add_node(n, move |_s: Arc<Log>, _ctx: Ctx| {
            let update = if overwrite_at == Some(n) {
                LogUpdate::default().overwrite_log(vec!["reset".to_owned()])
            } else {
                log(&[n])
            };
            std::future::ready(Ok::<_, NodeError>(update))
        });
    }
    g.add_edge(START, "n1");
    for pair in names.windows(2) {
        g.add_edge(pair[0], pair[1]);
    }
    g
}

fn delta(json: &'static str) -> ChannelData {
    ChannelData::Delta(Bytes::from_static(json.as_bytes()))
}

fn full(json: &'static str) -> ChannelData {
    ChannelData::Full(Bytes::from_static(json.as_bytes()))
}

fn chain_of<'t>(tuple: &'t CheckpointTuple, channel: &str) -> Option<&'t Vec<ChannelData>> {
    tuple.values.iter().find(|(c, _)| c == channel).map(|(_, chain)| chain)
}

#[tokio::test(start_paused = true)]
async fn appends_are_stored_as_delta_chains() {
    let store = CountingSaver::new();
    let g = chain_of_five(None).compile().unwrap().with_checkpointer(store.clone());
    let cfg = RunConfig::thread("t");
    let out = g.invoke(log(&["in"]), &cfg).await.unwrap();
    assert_eq!(out.value.log, ["in", "n1", "n2", "n3", "n4", "n5"]);
    // Checkpoints at steps -1..=5, one write row per task.
    assert_eq!(store.counts(), (7, 6));
    let tuple = store.get("t", "", None).await.unwrap().unwrap();
    assert_eq!(
        chain_of(&tuple, "log").unwrap(),
        &[
            delta(r#"[["in"]]"#),
            delta(r#"[["n1"]]"#),
            delta(r#"[["n2"]]"#),
            delta(r#"[["n3"]]"#),
            delta(r#"[["n4"]]"#),
            delta(r#"[["n5"]]"#),
        ]
    );
    // `x` was never written: it has no blob.
    assert_eq!(chain_of(&tuple, "x"), None);
    // Each checkpoint added one link to the chain.
    let history = store.list("t", "", &ListOptions::default()).await.unwrap();
    let lengths: Vec<usize> = history.iter().map(|t| chain_of(t, "log").map_or(0, Vec::len)).collect();
    assert_eq!(lengths, [6, 5, 4, 3, 2, 1, 0]);
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.values.log, ["in", "n1", "n2", "n3", "n4", "n5"]);
}

#[tokio::test(start_paused = true)]
async fn an_overwrite_restarts_the_chain_with_a_full_value() {
    let store = saver();
    let g = chain_of_five(Some("n3"))
        .compile()
        .unwrap()
        .with_checkpointer(store.clone());
    let cfg = RunConfig::thread("t");
    let out = g.invoke(log(&["in"]), &cfg).await.unwrap();
    assert_eq!(out.value.log, ["reset", "n4", "n5"]);
    let tuple = store.get("t", "", None).await.unwrap().unwrap();
    assert_eq!(
        chain_of(&tuple, "log").unwrap(),
        &[full(r#"["reset"]"#), delta(r#"[["n4"]]"#), delta(r#"[["n5"]]"#)]
    );
    assert_eq!(g.get_state(&cfg).await.unwrap().values.log, ["reset", "n4", "n5"]);
}

#[tokio::test(start_paused = true)]
async fn parallel_appends_share_one_delta_in_task_order() {
    let store = saver();
    let g = diamond(&Trace::default())
        .compile()
        .unwrap()
        .with_checkpointer(store.clone());
    let cfg = RunConfig::thread("t");
    g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    let tuple = store.get("t", "", None).await.unwrap().unwrap();
    assert_eq!(
        chain_of(&tuple, "log").unwrap(),
        &[delta(r#"[["a"]]"#), delta(r#"[["b"],["c"]]"#), delta(r#"[["d"]]"#)]
    );
}

/// Once the deltas outweigh the 64 KiB floor (or four times the last full value), a full value
/// cuts the chain, so reads stay bounded.
#[tokio::test(start_paused = true)]
async fn long_delta_chains_are_compacted() {
    let mut g = StateGraph::<Log>::new();
    g.add_node("big", |_s: Arc<Log>, ctx: Ctx| {
        let chunk = format!("{}{}", ctx.step(), "x".repeat(40 * 1024));
        std::future::ready(Ok::<_, NodeError>(LogUpdate::default().log(vec![chunk])))
    });
    g.add_conditional_edges("big", |s: &Log| if s.log.len() < 3 { "big" } else { END })
        .targets(["big", END]);
    g.add_edge(START, "big");
    let store = saver();
    let g = g.compile().unwrap().with_checkpointer(store.clone());
    let cfg = RunConfig::thread("t");
    g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    let tuple = store.get("t", "", None).await.unwrap().unwrap();
    let kinds: Vec<&str> = chain_of(&tuple, "log")
        .unwrap()
        .iter()
        .map(|link| match link {
            ChannelData::Full(_) => "full",
            ChannelData::Delta(_) => "delta",
        })
        .collect();
    // 40 KiB delta; +40 KiB passes 64 KiB: a full value; +40 KiB is under four times 80 KiB: a
    // delta.
    assert_eq!(kinds, ["full", "delta"]);
    let state = g.get_state(&cfg).await.unwrap();
    let prefixes: Vec<char> = state.values.log.iter().map(|s| s.chars().next().unwrap()).collect();
    assert_eq!(prefixes, ['1', '2', '3']);
}

// ---------------------------------------------------------------------------------------------
// Input commands
// ---------------------------------------------------------------------------------------------

/// LangGraph §1.4: `invoke(Command(update=…, goto="b"))` on an existing thread applies the update
/// and schedules b.
#[tokio::test(start_paused = true)]
async fn input_command_updates_and_routes_an_existing_thread() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    // b is reached only by commands: declared as a destination so that it compiles.
    g.add_node("a", logger(&trace)).destinations(["b"]);
    g.add_node("b", logger(&trace));
    g.add_node("c", logger(&trace));
    g.add_edge(START, "a").add_edge("a", END).add_edge("b", "c");
    let g = g.compile().unwrap().with_checkpointer(saver());
    let cfg = RunConfig::thread("t");
    let out = g.invoke(log(&["in"]), &cfg).await.unwrap();
    assert_eq!(out.value.log, ["in", "a"]);

    let command = Command::<Log>::new().update(log(&["cmd"]).x(7)).goto("b");
    let out = within("the command run", g.run(RunInput::Command(command), &cfg))
        .await
        .unwrap();
    assert_eq!(out.value.log, ["in", "a", "cmd", "b", "c"]);
    assert_eq!(out.value.x, 7);
    assert!(out.is_done());
    assert_eq!((trace.count("a"), trace.count("b"), trace.count("c")), (1, 1, 1));
    let state = g.get_state(&cfg).await.unwrap();
    assert_eq!(state.values, out.value);
}

#[tokio::test(start_paused = true)]
async fn input_command_to_an_unknown_node_is_refused() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&trace));
    g.add_edge(START, "a");
    let g = g.compile().unwrap().with_checkpointer(saver());
    let cfg = RunConfig::thread("t");
    g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    let err = g
        .run(RunInput::Command(Command::<Log>::new().goto("nope")), &cfg)
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::Usage(_)), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Usage);
    assert_eq!(
        err.to_string(),
        "the input command goes to `nope`, which is not a node of graph `graph`"
    );
}

/// A refused input command must not stick to the thread: continuing it afterwards works (there
/// is nothing left to run) instead of failing with the same routing error again.
#[tokio::test(start_paused = true)]
async fn refused_input_command_leaves_the_thread_usable() {
    let trace = Trace::default();
    let mut g = StateGraph::<Log>::new();
    g.add_node("a", logger(&trace));
    g.add_edge(START, "a");
    let g = g.compile().unwrap().with_checkpointer(saver());
    let cfg = RunConfig::thread("t");
    g.invoke(LogUpdate::default(), &cfg).await.unwrap();
    let command = Command::<Log>::new().update(log(&["cmd"])).goto("nope");
    g.run(RunInput::Command(command), &cfg).await.unwrap_err();
    let out = g.continue_run(&cfg).await.unwrap();
    assert_eq!(out.value.log, ["a"]);
    assert!(out.is_done());
    assert_eq!(trace.count("a"), 1);
}
