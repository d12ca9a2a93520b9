//! The graphs of SCENARIOS.md, built with lemmings-graph's public API: the `x += 1` chain (with
//! the call counters and the one-shot failure `resume` needs), the `Send` fan-out, the message
//! loop of `state_size`, the counter loop of `history` and the parallel branches with a join.
//! Node bodies are trivial on purpose: only the runtime's overhead is measured.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lemmings_graph::{CompiledGraph, Ctx, END, NodeError, Route, START, SendTo, State, StateGraph};
use serde::{Deserialize, Serialize};

use crate::Fallible;

/// `x: int`, last value.
#[derive(State, Clone, Debug, Default)]
pub(crate) struct Int {
    pub(crate) x: i64,
}

/// What `resume` watches in its chain: calls per node (index k for node `n{k}`) and a failure of
/// node `fail_at` armed for its next call only.
#[derive(Clone, Debug)]
pub(crate) struct Hooks {
    pub(crate) calls: Arc<Vec<AtomicU32>>,
    pub(crate) fail_at: usize,
    pub(crate) armed: Arc<AtomicBool>,
}

impl Hooks {
    pub(crate) fn new(nodes: usize, fail_at: usize) -> Hooks {
        Hooks {
            calls: Arc::new((0..=nodes).map(|_| AtomicU32::new(0)).collect()),
            fail_at,
            armed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Zeroes the counters and arms the failure.
    pub(crate) fn reset(&self) {
        for calls in self.calls.iter() {
            calls.store(0, Ordering::SeqCst);
        }
        self.armed.store(true, Ordering::SeqCst);
    }

    /// The counters, node `n1` first.
    pub(crate) fn counts(&self) -> Vec<u32> {
        self.calls.iter().skip(1).map(|c| c.load(Ordering::SeqCst)).collect()
    }
}

/// `START -> n1 -> ... -> n{nodes} -> END`, every node `x = x + 1`.
pub(crate) fn chain(nodes: usize, hooks: Option<Hooks>) -> Fallible<CompiledGraph<Int>> {
    let mut g = StateGraph::<Int>::named("chain");
    for k in 1..=nodes {
        let hooks = hooks.clone();
        g.add_node(format!("n{k}"), move |state: Arc<Int>, _ctx: Ctx| {
            let result = match &hooks {
                None => Ok(IntUpdate::default().x(state.x + 1)),
                Some(hooks) => {
                    hooks.calls[k].fetch_add(1, Ordering::SeqCst);
                    if k == hooks.fail_at && hooks.armed.swap(false, Ordering::SeqCst) {
                        Err(NodeError::msg(format!("planned failure in node {k}")))
                    } else {
                        Ok(IntUpdate::default().x(state.x + 1))
                    }
                }
            };
            std::future::ready(result)
        });
    }
    g.add_edge(START, "n1");
    for k in 1..nodes {
        g.add_edge(format!("n{k}"), format!("n{}", k + 1));
    }
    g.add_edge(format!("n{nodes}"), END);
    Ok(g.compile()?)
}

/// `n: int` (last value), `results: list[int]` (append), `total: int` (last value).
#[derive(State, Clone, Debug, Default)]
pub(crate) struct Fan {
    pub(crate) n: i64,
    #[reducer(append)]
    pub(crate) results: Vec<i64>,
    pub(crate) total: i64,
}

/// A worker's private input.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Job {
    pub(crate) i: i64,
}

/// `START -> dispatch --(n × SendTo("worker", {i}))--> worker -> fanin -> END`.
pub(crate) fn fanout() -> Fallible<CompiledGraph<Fan>> {
    let mut g = StateGraph::<Fan>::named("fanout");
    g.add_node("dispatch", |_state: Arc<Fan>, _ctx: Ctx| {
        std::future::ready(Ok::<_, NodeError>(FanUpdate::default().total(0)))
    });
    g.add_node_with_input("worker", |job: Job, _ctx: Ctx| {
        std::future::ready(Ok::<_, NodeError>(FanUpdate::default().results(vec![job.i])))
    });
    g.add_node("fanin", |state: Arc<Fan>, _ctx: Ctx| {
        let total = state.results.iter().sum::<i64>();
        std::future::ready(Ok::<_, NodeError>(FanUpdate::default().total(total)))
    });
    g.add_edge(START, "dispatch");
    g.add_conditional_edges("dispatch", |state: &Fan| {
        (0..state.n)
            .map(|i| SendTo::new("worker", Job { i }))
            .collect::<Route>()
    });
    g.add_edge("worker", "fanin").add_edge("fanin", END);
    Ok(g.compile()?)
}

/// A `state_size` message: exactly `MSG_BYTES` bytes of content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Msg {
    pub(crate) id: i64,
    pub(crate) content: String,
}

/// The message appended when the list holds `k`: `m` + k as 7 digits + `:` + `x` up to `bytes`.
pub(crate) fn msg(k: usize, bytes: usize) -> Msg {
    let mut content = format!("m{k:07}:");
    let pad = bytes.saturating_sub(content.len());
    content.extend(std::iter::repeat_n('x', pad));
    Msg {
        id: i64::try_from(k).unwrap_or(i64::MAX),
        content,
    }
}

/// `messages: list[Msg]`, append.
#[derive(State, Clone, Debug, Default)]
pub(crate) struct Msgs {
    #[reducer(append)]
    pub(crate) messages: Vec<Msg>,
}

/// Node entry times, in call order.
pub(crate) type Stamps = Arc<Mutex<Vec<Instant>>>;

/// `s1 -> ... -> s{nodes}`, then `s1` again until the list holds `max` messages; every node
/// records its entry time and appends one message of `bytes` bytes.
pub(crate) fn msg_loop(nodes: usize, max: usize, bytes: usize, stamps: Stamps) -> Fallible<CompiledGraph<Msgs>> {
    let mut g = StateGraph::<Msgs>::named("msg_loop");
    for k in 1..=nodes {
        let stamps = stamps.clone();
        g.add_node(format!("s{k}"), move |state: Arc<Msgs>, _ctx: Ctx| {
            let stamps = stamps.clone();
            async move {
                stamps.lock().unwrap_or_else(|p| p.into_inner()).push(Instant::now());
                Ok::<_, NodeError>(MsgsUpdate::default().messages(vec![msg(state.messages.len(), bytes)]))
            }
        });
    }
    g.add_edge(START, "s1");
    for k in 1..nodes {
        g.add_edge(format!("s{k}"), format!("s{}", k + 1));
    }
    g.add_conditional_edges(format!("s{nodes}"), move |state: &Msgs| {
        if state.messages.len() >= max { END } else { "s1" }
    })
    .targets(["s1", END]);
    Ok(g.compile()?)
}

/// `START -> step`, then `step` again while `x < steps`; `step` does `x = x + 1`.
pub(crate) fn counter_loop(steps: usize) -> Fallible<CompiledGraph<Int>> {
    let steps = i64::try_from(steps)?;
    let mut g = StateGraph::<Int>::named("counter_loop");
    g.add_node("step", |state: Arc<Int>, _ctx: Ctx| {
        std::future::ready(Ok::<_, NodeError>(IntUpdate::default().x(state.x + 1)))
    });
    g.add_edge(START, "step");
    g.add_conditional_edges("step", move |state: &Int| if state.x < steps { "step" } else { END })
        .targets(["step", END]);
    Ok(g.compile()?)
}

/// `count: int`, sum.
#[derive(State, Clone, Debug, Default)]
pub(crate) struct Count {
    #[reducer(add)]
    pub(crate) count: i64,
}

/// `START -> b{k}_1 -> ... -> b{k}_{depth}` for k = 1..=branches, a join of every branch's last
/// node into `join`, `join -> END`; every node adds 1 to `count`.
pub(crate) fn parallel(branches: usize, depth: usize) -> Fallible<CompiledGraph<Count>> {
    fn node(_state: Arc<Count>, _ctx: Ctx) -> std::future::Ready<Result<CountUpdate, NodeError>> {
        std::future::ready(Ok(CountUpdate::default().count(1)))
    }
    let mut g = StateGraph::<Count>::named("parallel");
    let mut lasts = Vec::with_capacity(branches);
    for k in 1..=branches {
        for j in 1..=depth {
            g.add_node(format!("b{k}_{j}"), node);
        }
        g.add_edge(START, format!("b{k}_1"));
        for j in 1..depth {
            g.add_edge(format!("b{k}_{j}"), format!("b{k}_{}", j + 1));
        }
        lasts.push(format!("b{k}_{depth}"));
    }
    g.add_node("join", node);
    g.add_join(lasts, "join").add_edge("join", END);
    Ok(g.compile()?)
}

/// The 10-node chain of `startup_build_invoke`, built, run once without a store and checked.
pub(crate) async fn build_and_invoke() -> Fallible<()> {
    let graph = chain(10, None)?;
    let out = graph
        .invoke(IntUpdate::default().x(0), &lemmings_graph::RunConfig::default())
        .await?;
    match out.value.x {
        10 => Ok(()),
        x => Err(format!("wrong result: x = {x}, expected 10").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::msg;
    use crate::spec::MSG_BYTES;

    #[test]
    fn a_message_is_exactly_1024_bytes_and_numbered() {
        let m = msg(42, MSG_BYTES);
        assert_eq!(m.id, 42);
        assert_eq!(m.content.len(), 1024);
        assert!(m.content.starts_with("m0000042:xxx"), "{}", &m.content[..16]);
    }
}
