//! One JSON row per layout from its runs: medians, the primary's share of summarization, and
//! the supervisor's wall-time cost (its layout's median wall time against the offloaded
//! layout's without it).

use serde::Serialize;

use lemmings_models::UsageReport;

use super::run::{Latencies, Layout, RunFacts};

/// The benchmark's parameters, as the row's `params`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Params {
    pub(crate) config: &'static str,
    pub(crate) primary_ms: u64,
    pub(crate) summarizer_ms: u64,
    pub(crate) supervisor_ms: u64,
    pub(crate) tasks: usize,
}

/// One layout's line of output. Fields are serialized in this order.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Row {
    pub(crate) name: &'static str,
    pub(crate) params: Params,
    /// Median wall time of a run, seconds.
    pub(crate) wall_s: f64,
    /// Median busy time of the primary (its latency × the requests it answered), seconds.
    pub(crate) primary_busy_s: f64,
    /// Median chat requests the primary answered.
    pub(crate) primary_requests: usize,
    /// Median of those that were summarizer work.
    pub(crate) primary_summarization_requests: usize,
    /// Median share of the primary's busy time spent on summarizer work (0 to 1).
    pub(crate) primary_summarization_share: f64,
    /// `(wall(offloaded_with_supervisor) − wall(summarizer_offloaded)) / wall(summarizer_offloaded)`
    /// in percent, on the supervised layout's row only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) supervisor_cost_pct: Option<f64>,
    /// Runs measured.
    pub(crate) runs: usize,
    /// Every run's wall time, seconds, in run order.
    pub(crate) wall_s_runs: Vec<f64>,
    /// The most requests the primary was answering at once, over the runs (1: serial).
    pub(crate) primary_max_in_flight: usize,
    /// Median requests the summarizer's own server answered.
    pub(crate) summarizer_server_requests: usize,
    /// Median requests the supervisor's server answered.
    pub(crate) supervisor_server_requests: usize,
    /// Median supervisions finished before the run ended.
    pub(crate) supervisions: u32,
    /// Median conversation summaries written by the summarization middleware.
    pub(crate) summaries: usize,
    /// Usage per role of the run with the median wall time.
    pub(crate) usage: UsageReport,
}

/// The rows of every layout measured, in [`Layout::ALL`] order; `runs` holds each layout's
/// runs (none for a layout left out).
pub(crate) fn rows(runs: &[(Layout, Vec<RunFacts>)], latencies: Latencies, tasks: usize) -> Vec<Row> {
    let wall_of = |layout: Layout| {
        runs.iter()
            .find(|(l, facts)| *l == layout && !facts.is_empty())
            .map(|(_, facts)| median_f64(facts.iter().map(|f| f.wall.as_secs_f64()).collect()))
    };
    let cost = match (
        wall_of(Layout::SummarizerOffloaded),
        wall_of(Layout::OffloadedWithSupervisor),
    ) {
        (Some(without), Some(with)) if without > 0.0 => Some(round((with - without) / without * 100.0, 2)),
        _ => None,
    };
    runs.iter()
        .filter(|(_, facts)| !facts.is_empty())
        .map(|(layout, facts)| {
            let walls: Vec<f64> = facts.iter().map(|f| f.wall.as_secs_f64()).collect();
            let wall = median_f64(walls.clone());
            let distance = |f: &RunFacts| (f.wall.as_secs_f64() - wall).abs();
            let median_run = facts
                .iter()
                .min_by(|a, b| distance(a).total_cmp(&distance(b)))
                .expect("facts is not empty");
            let count = |f: fn(&RunFacts) -> usize| median_usize(facts.iter().map(f).collect());
            Row {
                name: "multimodel",
                params: Params {
                    config: layout.name(),
                    primary_ms: millis(latencies.primary),
                    summarizer_ms: millis(latencies.summarizer),
                    supervisor_ms: millis(latencies.supervisor),
                    tasks,
                },
                wall_s: round(wall, 3),
                primary_busy_s: round(
                    median_f64(facts.iter().map(|f| f.primary_busy.as_secs_f64()).collect()),
                    3,
                ),
                primary_requests: count(|f| f.primary_requests),
                primary_summarization_requests: count(|f| f.primary_summarization_requests),
                primary_summarization_share: round(median_f64(facts.iter().map(share).collect()), 4),
                supervisor_cost_pct: cost.filter(|_| *layout == Layout::OffloadedWithSupervisor),
                runs: facts.len(),
                wall_s_runs: walls.iter().map(|w| round(*w, 3)).collect(),
                primary_max_in_flight: facts.iter().map(|f| f.primary_max_in_flight).max().unwrap_or(0),
                summarizer_server_requests: count(|f| f.summarizer_requests),
                supervisor_server_requests: count(|f| f.supervisor_requests),
                supervisions: median_usize(facts.iter().map(|f| f.supervisions as usize).collect()) as u32,
                summaries: count(|f| f.summaries),
                usage: median_run.usage.clone(),
            }
        })
        .collect()
}

/// The share of the primary's busy time spent on summarizer work.
fn share(facts: &RunFacts) -> f64 {
    if facts.primary_busy.is_zero() {
        return 0.0;
    }
    facts.primary_summarization_busy.as_secs_f64() / facts.primary_busy.as_secs_f64()
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The median (the mean of the middle two for an even count); 0 for none.
pub(crate) fn median_f64(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

/// The median of counts (the lower middle one for an even count); 0 for none.
fn median_usize(mut values: Vec<usize>) -> usize {
    values.sort_unstable();
    values.get(values.len().saturating_sub(1) / 2).copied().unwrap_or(0)
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}
