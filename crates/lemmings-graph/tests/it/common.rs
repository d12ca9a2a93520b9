//! Shared fixtures: the `Log` state of the LangGraph scenarios and a trace recorder.

use std::sync::{Arc, Mutex};

use lemmings_graph::{Ctx, NodeError, State};
use serde::{Deserialize, Serialize};

/// LangGraph's `log: Annotated[list, add]` plus a last-value `x`.
#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Log {
    #[reducer(append)]
    pub log: Vec<String>,
    pub x: i64,
}

pub(crate) fn log(items: &[&str]) -> LogUpdate {
    LogUpdate::default().log(items.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

/// Records which node ran at which step: `step 1: [a]`.
#[derive(Clone, Default)]
pub(crate) struct Trace(Arc<Mutex<Vec<(i64, String)>>>);

impl Trace {
    pub(crate) fn record(&self, ctx: &Ctx) {
        self.0.lock().unwrap().push((ctx.step(), ctx.node().to_owned()));
    }

    /// The node supersteps as `[a],[b,c]`.
    pub(crate) fn steps(&self) -> String {
        let mut entries = self.0.lock().unwrap().clone();
        entries.sort();
        let mut out: Vec<String> = Vec::new();
        let mut current: Option<i64> = None;
        let mut names: Vec<String> = Vec::new();
        for (step, name) in entries {
            if current != Some(step) {
                if current.is_some() {
                    out.push(format!("[{}]", names.join(",")));
                }
                names.clear();
                current = Some(step);
            }
            names.push(name);
        }
        if current.is_some() {
            out.push(format!("[{}]", names.join(",")));
        }
        out.join(",")
    }

    pub(crate) fn count(&self, node: &str) -> usize {
        self.0.lock().unwrap().iter().filter(|(_, n)| n == node).count()
    }
}

/// A node that appends its own name and records itself.
pub(crate) fn logger(
    trace: &Trace,
) -> impl Fn(Arc<Log>, Ctx) -> std::future::Ready<Result<LogUpdate, NodeError>> + Send + Sync + 'static {
    let trace = trace.clone();
    move |_state, ctx| {
        trace.record(&ctx);
        std::future::ready(Ok(log(&[ctx.node()])))
    }
}
