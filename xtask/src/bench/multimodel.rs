//! The multi-model benchmark's results: `multimodel.jsonl` (one row per configuration, printed by
//! `lemmings-multimodel`) and its section of BENCHMARKS.md. Its two targets are judged in
//! [`super::targets`].

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::results::{Row, Run};
use super::table::{fmt_count, fmt_num};

#[cfg(test)]
mod tests;

/// The file `cargo xtask bench` writes `lemmings-multimodel`'s stdout to.
pub(crate) const FILE: &str = "multimodel.jsonl";

/// The configurations with the summarizer on its own server: the primary does no summarizer work.
pub(crate) const OFFLOADED: [&str; 2] = [SUMMARIZER_OFFLOADED, WITH_SUPERVISOR];
pub(crate) const SUMMARIZER_OFFLOADED: &str = "summarizer_offloaded";
/// Offloaded plus a supervisor: its row carries `supervisor_cost_pct`.
pub(crate) const WITH_SUPERVISOR: &str = "offloaded_with_supervisor";

/// The rows of one `multimodel.jsonl`; every figure in them is already a median over its runs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Multimodel {
    rows: Vec<Row>,
}

impl Multimodel {
    /// The `multimodel` rows; progress text and other rows are skipped, as in [`Run::parse`].
    pub(crate) fn parse(text: &str) -> Result<Multimodel> {
        let run = Run::parse(text)?;
        let rows = run
            .rows()
            .filter(|r| r.name() == "multimodel" && !r.is_error())
            .cloned()
            .collect();
        Ok(Multimodel { rows })
    }

    /// `None` when `dir` has no `multimodel.jsonl`: the benchmark was not run (`--no-multimodel`,
    /// or results older than it, such as the peers' baseline).
    pub(crate) fn load(dir: &Path) -> Result<Option<Multimodel>> {
        let path = dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
        };
        Multimodel::parse(&text)
            .map(Some)
            .with_context(|| format!("parsing {}", path.display()))
    }

    pub(crate) fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The row of one configuration (`params.config`).
    pub(crate) fn config(&self, config: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.param_text("config").as_deref() == Some(config))
    }
}

/// Seconds to the hundredth, fine enough to see a 1% difference in a run of ten seconds.
pub(crate) fn fmt_secs(secs: f64) -> String {
    format!("{secs:.2}")
}

/// `0.2535` → `25.4%`.
pub(crate) fn fmt_share(share: f64) -> String {
    format!("{}%", fmt_num(share * 100.0))
}

/// The section of BENCHMARKS.md; `dir` is the results directory as the reader sees it.
pub(crate) fn render(out: &mut String, multimodel: Option<&Multimodel>, dir: &str) {
    out.push_str("## Multi-model: the whole workflow against fake LLM servers\n\n");
    let Some(multimodel) = multimodel else {
        let _ = writeln!(
            out,
            "Not run: `{dir}` has no `{FILE}` (`cargo xtask bench` runs `lemmings-multimodel` after the \
             other runs unless `--no-multimodel` is given), so its two targets are not measured.\n"
        );
        return;
    };
    let Some(first) = multimodel.rows().first() else {
        let _ = writeln!(
            out,
            "`{dir}/{FILE}` holds no results: `lemmings-multimodel` failed (its error went to stderr).\n"
        );
        return;
    };
    out.push_str(
        "`lemmings-multimodel` runs the whole coding workflow over HTTP (the real model registry, the \
         built-in agents, a SQLite store) against loopback fake LLM servers with fixed latencies, in three \
         configurations: everything on the primary (`all_on_primary`); the summarizer on its own server \
         (`summarizer_offloaded`); that plus a supervisor after every task on a third server \
         (`offloaded_with_supervisor`). The primary answers one request at a time, as one local model would.\n\n",
    );
    let param = |key: &str| first.param_text(key).unwrap_or_else(|| "?".to_owned());
    let runs = match first.num("runs") {
        Some(1.0) => "1 run".to_owned(),
        Some(n) => format!("{} runs", fmt_count(n)),
        None => "? runs".to_owned(),
    };
    let _ = writeln!(
        out,
        "* Latencies per request: primary {} ms, summarizer {} ms, supervisor {} ms; {} tasks planned. \
         {runs} per configuration, interleaved after an untimed warm-up; each cell is the median of the \
         runs, `(a–b)` the min–max spread of the wall time. Raw rows: `{dir}/{FILE}`.",
        param("primary_ms"),
        param("summarizer_ms"),
        param("supervisor_ms"),
        param("tasks"),
    );
    out.push_str(
        "* Primary busy time is its latency × the requests it answered; \"of which summarization\" and \
         the share are the part of it spent on summarizer work.\n",
    );
    let in_flight = multimodel
        .rows()
        .iter()
        .filter_map(|r| r.num("primary_max_in_flight"))
        .reduce(f64::max);
    if let Some(n) = in_flight {
        let serial = if n <= 1.0 {
            "serial, as intended"
        } else {
            "**not serial**: the latencies overlapped"
        };
        let _ = writeln!(
            out,
            "* Requests the primary was answering at once, at most: {} ({serial}).",
            fmt_count(n)
        );
    }
    out.push('\n');
    out.push_str(
        "| config | wall s | primary busy s | primary requests | of which summarization \
         | summarization share of primary time | summarizer server requests | supervisor server requests \
         | supervisions |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in multimodel.rows() {
        let secs = |field: &str| row.num(field).map_or_else(|| "–".to_owned(), fmt_secs);
        let count = |field: &str| row.num(field).map_or_else(|| "–".to_owned(), fmt_count);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.param_text("config").unwrap_or_default(),
            wall(row),
            secs("primary_busy_s"),
            count("primary_requests"),
            count("primary_summarization_requests"),
            row.num("primary_summarization_share")
                .map_or_else(|| "–".to_owned(), fmt_share),
            count("summarizer_server_requests"),
            count("supervisor_server_requests"),
            count("supervisions"),
        );
    }
    out.push('\n');
    let cost = multimodel
        .config(WITH_SUPERVISOR)
        .and_then(|r| r.num("supervisor_cost_pct"));
    if let Some(cost) = cost {
        let _ = writeln!(
            out,
            "The supervisor's wall-time cost (`{WITH_SUPERVISOR}` against `{SUMMARIZER_OFFLOADED}`, \
             median wall times): {}%.\n",
            fmt_num(cost)
        );
    }
}

/// `13.18 (13.10–13.24)`: the median with the spread of `wall_s_runs` when there are several runs.
fn wall(row: &Row) -> String {
    let Some(median) = row.num("wall_s") else {
        return "–".to_owned();
    };
    let runs: Vec<f64> = row
        .field("wall_s_runs")
        .and_then(|v| v.as_array())
        .map(|runs| runs.iter().filter_map(|v| v.as_f64()).collect())
        .unwrap_or_default();
    if runs.len() < 2 {
        return fmt_secs(median);
    }
    let min = runs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = runs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{} ({}–{})", fmt_secs(median), fmt_secs(min), fmt_secs(max))
}
