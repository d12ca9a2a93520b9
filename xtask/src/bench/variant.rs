//! Scenario variants across the three benchmarks: what identifies one ([`VariantKey`]), the
//! table's order, and which row to take when a benchmark reports alternatives.
//!
//! The benchmarks print the same row names (`../shared/bench/langgraph/SCENARIOS.md`) but not the
//! same parameters: adk-graph adds `journal`, `storage` and `primitive`, LangGraph has three
//! durability modes and adk-graph one, Lemmings names the durability of every checkpointed row.
//! A key is therefore the scenario, store or not, durability where the scenario is measured in
//! several modes, `n` and `when`; among several rows of one key the like-for-like one is chosen
//! ([`PREFERRED`]).

use serde_json::Value;

use super::results::Row;

/// Parameters that mark an alternative to the like-for-like variant, with the like-for-like value:
/// adk-graph's rollback-journal and delta-storage rows and its non-superstep fan-outs, and any
/// non-default durability of scenarios whose key does not include durability.
const PREFERRED: &[(&str, &str)] = &[
    ("journal", "wal"),
    ("storage", "full"),
    ("primitive", "static_nodes"),
    ("durability", "async"),
];

/// Scenarios measured in several durability modes: the mode is part of their key.
const DURABILITY_KEYED: &[&str] = &["chain_sqlite", "state_size"];

/// How many of [`PREFERRED`]'s parameters `row` sets to something else: 0 is like-for-like.
pub(crate) fn alternative_score(row: &Row, key: &VariantKey) -> usize {
    PREFERRED
        .iter()
        .filter(|(param, _)| !(*param == "durability" && key.durability.is_some()))
        .filter(|(param, preferred)| row.param_text(param).is_some_and(|v| v != *preferred))
        .count()
}

/// What identifies a scenario variant across the three benchmarks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct VariantKey {
    pub(crate) scenario: String,
    pub(crate) store: bool,
    pub(crate) durability: Option<String>,
    pub(crate) n: Option<u64>,
    pub(crate) when: Option<String>,
}

/// The table's order: the order of SCENARIOS.md, the closing commit floor last.
const SCENARIO_ORDER: &[&str] = &[
    "startup_bare",
    "startup_import",
    "startup_build_invoke",
    "sqlite_commit_floor",
    "chain_nocp",
    "chain_sqlite",
    "fanout",
    "state_size",
    "resume",
    "history",
    "parallel_branches",
];

impl VariantKey {
    pub(crate) fn new(scenario: &str) -> VariantKey {
        VariantKey {
            scenario: scenario.to_owned(),
            store: false,
            durability: None,
            n: None,
            when: None,
        }
    }

    pub(crate) fn sqlite(mut self) -> VariantKey {
        self.store = true;
        self
    }

    pub(crate) fn durability(mut self, mode: &str) -> VariantKey {
        self.durability = Some(mode.to_owned());
        self
    }

    pub(crate) fn n(mut self, n: u64) -> VariantKey {
        self.n = Some(n);
        self
    }

    #[cfg(test)]
    pub(crate) fn when(mut self, when: &str) -> VariantKey {
        self.when = Some(when.to_owned());
        self
    }

    pub(crate) fn of(row: &Row) -> VariantKey {
        let name = row.name();
        // `startup_python_bare` and `startup_rust_bare` both measure a process that does nothing.
        let scenario = if name.starts_with("startup_") && name.ends_with("_bare") {
            "startup_bare".to_owned()
        } else {
            name.to_owned()
        };
        let store = row.param_text("checkpointer").is_some_and(|c| c != "none");
        let durability = if store && DURABILITY_KEYED.contains(&scenario.as_str()) {
            row.param_text("durability")
        } else {
            None
        };
        VariantKey {
            store,
            durability,
            n: row.param("n").and_then(Value::as_u64),
            when: row.param_text("when"),
            scenario,
        }
    }

    pub(crate) fn is_startup(&self) -> bool {
        self.scenario.starts_with("startup")
    }

    /// The per-unit field of the table: whole-process milliseconds for startup rows.
    pub(crate) fn primary_field(&self) -> &'static str {
        if self.is_startup() { "median_ms" } else { "us_per_unit" }
    }

    pub(crate) fn label(&self) -> String {
        let mut label = self.scenario.clone();
        if let Some(n) = self.n {
            label.push_str(&format!(" n={n}"));
        }
        let mut parts = Vec::new();
        if self.store {
            parts.push("sqlite".to_owned());
        } else if !self.is_startup() && self.scenario != "sqlite_commit_floor" {
            parts.push("no store".to_owned());
        }
        parts.extend(self.durability.clone());
        parts.extend(self.when.clone());
        if !parts.is_empty() {
            label.push_str(", ");
            label.push_str(&parts.join(", "));
        }
        label
    }

    /// The table's order of variants.
    pub(crate) fn sort_key(&self) -> (usize, String, u64, bool, usize) {
        let rank = if self.when.as_deref() == Some("end") {
            usize::MAX
        } else {
            SCENARIO_ORDER
                .iter()
                .position(|s| *s == self.scenario)
                .unwrap_or(SCENARIO_ORDER.len())
        };
        let durability = match self.durability.as_deref() {
            None => 0,
            Some("async") => 1,
            Some("sync") => 2,
            Some("exit") => 3,
            Some(_) => 4,
        };
        // Unknown scenarios sort by name after the known ones.
        let name = if rank == SCENARIO_ORDER.len() {
            self.scenario.clone()
        } else {
            String::new()
        };
        (rank, name, self.n.unwrap_or(0), self.store, durability)
    }
}
