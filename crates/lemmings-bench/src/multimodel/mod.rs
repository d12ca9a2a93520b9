//! The multi-model benchmark: the whole coding workflow over real HTTP (rig's providers behind
//! the real registry, the built-in agents, a SQLite store) against loopback fake LLM servers
//! with fixed latencies, in three layouts: everything on the primary; the summarizer offloaded
//! to its own server; offloaded plus a supervisor on a third server. It measures the wall time,
//! the primary's busy time and the share of it spent on summarizer work (none once offloaded),
//! and the supervisor's wall-time cost (it runs beside the main path, so it should cost little).
//!
//! `script` answers every request from its content, `run` runs the workflow once in a layout,
//! `report` turns the runs into one JSON row per layout.

mod report;
mod run;
mod script;
#[cfg(test)]
mod tests;

pub(crate) use report::rows;
pub(crate) use run::{Latencies, Layout, RunFacts, run_once};

/// Errors of the benchmark: any error, printed on stderr.
pub(crate) type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;
