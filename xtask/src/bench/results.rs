//! Benchmark results: the JSON Lines rows of the three benchmarks, grouped by system and run, and
//! one system's view of one scenario variant over its runs ([`Cell`]: medians, spread, ÷ floor).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

use super::machine::Machine;
use super::multimodel::Multimodel;
use super::variant::{VariantKey, alternative_score};

/// The benchmarked runtimes, in the order of the table's columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum System {
    Lemmings,
    LangGraph,
    Adk,
}

impl System {
    pub(crate) const ALL: [System; 3] = [System::Lemmings, System::LangGraph, System::Adk];

    pub(crate) fn label(self) -> &'static str {
        match self {
            System::Lemmings => "Lemmings",
            System::LangGraph => "LangGraph",
            System::Adk => "adk-graph",
        }
    }

    /// `<prefix>-run-<i>.jsonl` in a results directory.
    pub(crate) fn file_prefix(self) -> &'static str {
        match self {
            System::Lemmings => "lemmings",
            System::LangGraph => "langgraph",
            System::Adk => "adk",
        }
    }

    /// `lg` is what adk-graph's `run.sh --interleave` names LangGraph's files, so its baseline
    /// folder can be read as it is.
    fn from_prefix(prefix: &str) -> Option<System> {
        match prefix {
            "lemmings" => Some(System::Lemmings),
            "langgraph" | "lg" => Some(System::LangGraph),
            "adk" => Some(System::Adk),
            _ => None,
        }
    }
}

/// One JSON object printed by a benchmark: a scenario variant, the `meta` row, or an `error` row.
#[derive(Clone, Debug)]
pub(crate) struct Row(Map<String, Value>);

impl Row {
    pub(crate) fn name(&self) -> &str {
        self.0.get("name").and_then(Value::as_str).unwrap_or("")
    }

    pub(crate) fn field(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    pub(crate) fn fields(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    /// A numeric field; booleans are not numbers here.
    pub(crate) fn num(&self, field: &str) -> Option<f64> {
        self.0.get(field).and_then(Value::as_f64)
    }

    pub(crate) fn param(&self, key: &str) -> Option<&Value> {
        self.0.get("params").and_then(|p| p.get(key))
    }

    /// A parameter as text, whether the benchmark printed it as a string or a number.
    pub(crate) fn param_text(&self, key: &str) -> Option<String> {
        match self.param(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    pub(crate) fn is_error(&self) -> bool {
        self.0.contains_key("error")
    }
}

/// The rows of one benchmark process (one `<system>-run-<i>.jsonl` file).
#[derive(Clone, Debug, Default)]
pub(crate) struct Run {
    rows: Vec<Row>,
}

impl Run {
    /// Lines that do not start with `{` (progress text, blank lines) are skipped, as the peers'
    /// own summarisers do; a line that starts with `{` but is not a JSON object is an error.
    pub(crate) fn parse(text: &str) -> Result<Run> {
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if !line.starts_with('{') {
                continue;
            }
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(map)) => rows.push(Row(map)),
                Ok(_) => bail!("line {}: not a JSON object", i + 1),
                Err(err) => bail!("line {}: {err}", i + 1),
            }
        }
        Ok(Run { rows })
    }

    pub(crate) fn meta(&self) -> Option<&Row> {
        self.rows.iter().find(|r| r.name() == "meta")
    }

    pub(crate) fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.name() != "meta" && !r.name().is_empty())
    }

    /// The WAL commit floor of this run: the mean of its `sqlite_commit_floor` rows (start and
    /// end), leaving out adk-graph's rollback-journal calibration rows.
    pub(crate) fn floor_us(&self) -> Option<f64> {
        let values: Vec<f64> = self
            .rows()
            .filter(|r| r.name() == "sqlite_commit_floor" && !r.is_error())
            .filter(|r| r.param_text("journal").is_none_or(|j| j == "wal"))
            .filter_map(|r| r.num("us_per_unit"))
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }

    /// The row of `key` in this run: among several candidates the one with the fewest
    /// non-preferred parameters, the first of those on a tie.
    pub(crate) fn find(&self, key: &VariantKey) -> Option<&Row> {
        self.rows()
            .filter(|r| VariantKey::of(r) == *key)
            .min_by_key(|r| alternative_score(r, key))
    }

    pub(crate) fn is_quick(&self) -> bool {
        self.meta()
            .and_then(|m| m.field("quick"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// The runs of every system found in one results directory.
#[derive(Clone, Debug, Default)]
pub(crate) struct Results {
    pub(crate) runs: BTreeMap<System, Vec<Run>>,
    /// The machine recorded beside the runs by `cargo xtask bench`, if any.
    pub(crate) machine: Option<Machine>,
    /// The multi-model benchmark's rows; `None` when it was not run.
    pub(crate) multimodel: Option<Multimodel>,
}

impl Results {
    /// Reads `<system>-run-<i>.jsonl` files (ordered by `i`), `machine.json` and
    /// `multimodel.jsonl` from `dir`.
    pub(crate) fn load(dir: &Path) -> Result<Results> {
        let entries = std::fs::read_dir(dir).with_context(|| format!("reading results directory {}", dir.display()))?;
        let mut files: Vec<(System, u32, PathBuf)> = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            if let Some((system, i)) = parse_file_name(file) {
                files.push((system, i, path));
            }
        }
        if files.is_empty() {
            bail!(
                "no results in {}: expected files named lemmings-run-<i>.jsonl, langgraph-run-<i>.jsonl \
                 (or lg-run-<i>.jsonl) and adk-run-<i>.jsonl",
                dir.display()
            );
        }
        files.sort();
        let mut results = Results::default();
        for (system, _, path) in files {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let run = Run::parse(&text).with_context(|| format!("parsing {}", path.display()))?;
            results.runs.entry(system).or_default().push(run);
        }
        let machine = dir.join("machine.json");
        if machine.exists() {
            let text = std::fs::read_to_string(&machine).with_context(|| format!("reading {}", machine.display()))?;
            results.machine =
                Some(Machine::from_json(&text).with_context(|| format!("parsing {}", machine.display()))?);
        }
        results.multimodel = Multimodel::load(dir)?;
        Ok(results)
    }

    pub(crate) fn runs(&self, system: System) -> &[Run] {
        self.runs.get(&system).map_or(&[], Vec::as_slice)
    }

    /// Every variant any run reports, in table order.
    pub(crate) fn variants(&self) -> Vec<VariantKey> {
        let mut keys: Vec<VariantKey> = Vec::new();
        for run in self.runs.values().flatten() {
            for row in run.rows() {
                let key = VariantKey::of(row);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        keys.sort_by_key(VariantKey::sort_key);
        keys
    }

    /// One system's view of one variant over all its runs.
    pub(crate) fn cell(&self, system: System, key: &VariantKey) -> Cell<'_> {
        let mut cell = Cell::default();
        for run in self.runs(system) {
            match run.find(key) {
                Some(row) if row.is_error() => cell.failed += 1,
                Some(row) => {
                    cell.rows.push(row);
                    cell.floors.push(run.floor_us());
                }
                None => {}
            }
        }
        cell
    }

    pub(crate) fn is_quick(&self) -> bool {
        self.runs.values().flatten().any(Run::is_quick)
    }
}

/// `adk-run-3.jsonl` → (adk-graph, 3).
pub(crate) fn parse_file_name(file: &str) -> Option<(System, u32)> {
    let stem = file.strip_suffix(".jsonl")?;
    let (prefix, i) = stem.rsplit_once("-run-")?;
    Some((System::from_prefix(prefix)?, i.parse().ok()?))
}

/// One system's rows for one variant, one per run in which it succeeded.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cell<'a> {
    pub(crate) rows: Vec<&'a Row>,
    /// The commit floor of each row's run, in the order of `rows`.
    floors: Vec<Option<f64>>,
    /// Runs whose row for this variant is an `error` row.
    pub(crate) failed: usize,
}

impl Cell<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn values(&self, field: &str) -> Vec<f64> {
        self.rows.iter().filter_map(|r| r.num(field)).collect()
    }

    pub(crate) fn median(&self, field: &str) -> Option<f64> {
        median(self.values(field))
    }

    /// (min, max) over the runs, when there are at least two values.
    pub(crate) fn spread(&self, field: &str) -> Option<(f64, f64)> {
        let values = self.values(field);
        (values.len() >= 2).then(|| {
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (min, max)
        })
    }

    /// The median over runs of `field` ÷ the commit floor of the same run.
    pub(crate) fn median_over_floor(&self, field: &str) -> Option<f64> {
        let values = self
            .rows
            .iter()
            .zip(&self.floors)
            .filter_map(|(row, floor)| Some(row.num(field)? / (*floor)?))
            .collect();
        median(values)
    }

    /// `Some(true)` when every run reports the boolean `field` as true.
    pub(crate) fn all_true(&self, field: &str) -> Option<bool> {
        let values: Vec<bool> = self
            .rows
            .iter()
            .filter_map(|r| r.field(field).and_then(Value::as_bool))
            .collect();
        (!values.is_empty()).then(|| values.iter().all(|v| *v))
    }

    pub(crate) fn first(&self) -> Option<&Row> {
        self.rows.first().copied()
    }
}

/// The median; the mean of the two middle values for an even count.
pub(crate) fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}
