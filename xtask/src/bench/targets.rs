//! The performance targets Lemmings set itself, evaluated from the medians of a results
//! directory: each one met, NOT met, without data, or not measured (the multi-model benchmark
//! was not run), with the numbers it was judged on.

use std::fmt::Write as _;

use super::multimodel::{Multimodel, OFFLOADED, SUMMARIZER_OFFLOADED, WITH_SUPERVISOR, fmt_secs, fmt_share};
use super::results::{Results, System};
use super::table::{fmt_bound, fmt_num, fmt_ratio};
use super::variant::VariantKey;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Met,
    NotMet,
    NoData,
    /// The benchmark the target needs was not run: neither met nor failed.
    NotMeasured,
}

#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) what: String,
    pub(crate) required: String,
    pub(crate) measured: String,
    pub(crate) verdict: Verdict,
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::NotMet => "**NOT met**",
            Verdict::NoData => "no data",
            Verdict::NotMeasured => "not measured",
        }
    }
}

/// state_size may use at most this many times its final state's payload on disk
/// (2000 messages × 1 KiB ≈ 1.95 MiB in full runs).
const STATE_SIZE_DB_FACTOR: f64 = 3.0;

/// A Lemmings process that builds and runs a graph may take at most this many times adk-graph's.
const STARTUP_VS_ADK: f64 = 2.0;

/// The supervisor runs beside the main path: it may lengthen a run by less than this (percent).
const SUPERVISOR_COST_PCT: f64 = 5.0;

pub(crate) fn evaluate(results: &Results) -> Vec<Target> {
    let ev = Eval { results };
    let chain = VariantKey::new("chain_nocp");
    let mut targets = vec![
        ev.speedup(
            "chain_nocp per node step vs LangGraph",
            &chain,
            System::LangGraph,
            "us_per_unit",
            100.0,
        ),
        ev.speedup(
            "chain_nocp per node step vs adk-graph",
            &chain,
            System::Adk,
            "us_per_unit",
            4.0,
        ),
        ev.floor_bound(
            "chain_sqlite sync per node step ÷ commit floor",
            &chain_sqlite("sync"),
            1.2,
        ),
        ev.speedup(
            "chain_sqlite exit per node step vs LangGraph exit",
            &chain_sqlite("exit"),
            System::LangGraph,
            "us_per_unit",
            50.0,
        ),
    ];
    for store in [false, true] {
        let key = |n: u64| {
            let key = VariantKey::new("fanout").n(n);
            if store { key.sqlite() } else { key }
        };
        let tag = if store { "sqlite" } else { "no store" };
        targets.push(ev.growth(
            &format!("fanout {tag}: per-branch cost flat, n=10000 ÷ n=100"),
            (&key(10_000), "us_per_unit"),
            (&key(100), "us_per_unit"),
            1.5,
        ));
        for n in [100, 1000, 10_000] {
            let min = if store { 50.0 } else { 100.0 };
            targets.push(ev.speedup(
                &format!("fanout n={n} {tag} per branch vs LangGraph"),
                &key(n),
                System::LangGraph,
                "us_per_unit",
                min,
            ));
        }
        targets.push(ev.rss_below(&format!("fanout n=10000 {tag}: peak RSS"), &key(10_000), 100.0));
    }
    let state = VariantKey::new("state_size").sqlite().durability("sync");
    targets.push(ev.growth(
        "state_size sqlite sync: last 10% of steps ÷ first 10%",
        (&state, "step_us_last10pct"),
        (&state, "step_us_first10pct"),
        1.3,
    ));
    targets.push(ev.state_size_db(&state));
    targets.push(ev.speedup(
        "state_size sqlite sync per step vs LangGraph sync",
        &state,
        System::LangGraph,
        "us_per_unit",
        20.0,
    ));
    let resume = VariantKey::new("resume").sqlite();
    let history = VariantKey::new("history").sqlite();
    targets.push(ev.speedup(
        "resume time vs LangGraph",
        &resume,
        System::LangGraph,
        "resume_ms_median",
        10.0,
    ));
    targets.push(ev.speedup(
        "history: get_state vs LangGraph",
        &history,
        System::LangGraph,
        "get_state_ms_median",
        10.0,
    ));
    targets.push(ev.speedup(
        "history: full listing per entry vs LangGraph",
        &history,
        System::LangGraph,
        "us_per_unit",
        20.0,
    ));
    targets.push(ev.startup());
    targets.push(ev.memory_vs_adk());
    targets.push(ev.summarization_offloaded());
    targets.push(ev.supervisor_cost());
    targets
}

fn chain_sqlite(durability: &str) -> VariantKey {
    VariantKey::new("chain_sqlite").sqlite().durability(durability)
}

struct Eval<'a> {
    results: &'a Results,
}

impl Eval<'_> {
    fn median(&self, system: System, key: &VariantKey, field: &str) -> Option<f64> {
        self.results.cell(system, key).median(field)
    }

    fn judge(what: &str, required: String, measured: Option<String>, met: bool) -> Target {
        let (measured, verdict) = match measured {
            None => ("–".to_owned(), Verdict::NoData),
            Some(m) => (m, if met { Verdict::Met } else { Verdict::NotMet }),
        };
        Target {
            what: what.to_owned(),
            required,
            measured,
            verdict,
        }
    }

    /// peer ÷ Lemmings ≥ `min` for `field` (a time: smaller is better).
    fn speedup(&self, what: &str, key: &VariantKey, peer: System, field: &str, min: f64) -> Target {
        let l = self.median(System::Lemmings, key, field);
        let p = self.median(peer, key, field);
        let unit = if field.contains("_ms") { "ms" } else { "µs" };
        let (measured, met) = match (l, p) {
            (Some(l), Some(p)) if l > 0.0 => (
                Some(format!(
                    "{}× ({} {} {unit}, Lemmings {} {unit})",
                    fmt_ratio(p / l),
                    peer.label(),
                    fmt_num(p),
                    fmt_num(l)
                )),
                p / l >= min,
            ),
            _ => (None, false),
        };
        Eval::judge(what, format!("≥ {}×", fmt_bound(min)), measured, met)
    }

    /// Lemmings' (variant, field) ÷ its (base variant, base field) ≤ `max`: a cost that must not
    /// grow with the size of the work (both fields in µs).
    fn growth(&self, what: &str, of: (&VariantKey, &str), base: (&VariantKey, &str), max: f64) -> Target {
        let v = self.median(System::Lemmings, of.0, of.1);
        let b = self.median(System::Lemmings, base.0, base.1);
        let (measured, met) = match (v, b) {
            (Some(v), Some(b)) if b > 0.0 => (
                Some(format!(
                    "{}× ({} µs vs {} µs)",
                    fmt_ratio(v / b),
                    fmt_num(v),
                    fmt_num(b)
                )),
                v / b <= max,
            ),
            _ => (None, false),
        };
        Eval::judge(what, format!("≤ {}×", fmt_bound(max)), measured, met)
    }

    fn floor_bound(&self, what: &str, key: &VariantKey, max: f64) -> Target {
        let cell = self.results.cell(System::Lemmings, key);
        let measured = cell
            .median_over_floor("us_per_unit")
            .map(|r| (r, cell.median("us_per_unit").unwrap_or(f64::NAN)));
        Eval::judge(
            what,
            format!("≤ {}×", fmt_bound(max)),
            measured.map(|(r, us)| format!("{}× ({} µs per step)", fmt_ratio(r), fmt_num(us))),
            measured.is_some_and(|(r, _)| r <= max),
        )
    }

    fn rss_below(&self, what: &str, key: &VariantKey, max_mib: f64) -> Target {
        let rss = self.median(System::Lemmings, key, "peak_rss_mib");
        Eval::judge(
            what,
            format!("< {} MiB", fmt_bound(max_mib)),
            rss.map(|r| format!("{} MiB", fmt_num(r))),
            rss.is_some_and(|r| r < max_mib),
        )
    }

    /// The payload is what the final state holds: `max_messages` × `msg_bytes` of the row.
    fn state_size_db(&self, key: &VariantKey) -> Target {
        let cell = self.results.cell(System::Lemmings, key);
        let payload_mib = cell.first().and_then(|row| {
            let messages = row.param("max_messages")?.as_f64()?;
            let bytes = row.param("msg_bytes")?.as_f64()?;
            Some(messages * bytes / (1024.0 * 1024.0))
        });
        let db = cell.median("db_mib");
        let measured = match (db, payload_mib) {
            (Some(db), Some(p)) if p > 0.0 => Some((db, p)),
            _ => None,
        };
        Eval::judge(
            "state_size sqlite sync: DB size ÷ payload",
            format!("≤ {}×", fmt_bound(STATE_SIZE_DB_FACTOR)),
            measured.map(|(db, p)| format!("{}× ({} MiB for {} MiB)", fmt_ratio(db / p), fmt_num(db), fmt_num(p))),
            measured.is_some_and(|(db, p)| db / p <= STATE_SIZE_DB_FACTOR),
        )
    }

    fn startup(&self) -> Target {
        let key = VariantKey::new("startup_build_invoke");
        let l = self.median(System::Lemmings, &key, "median_ms");
        let a = self.median(System::Adk, &key, "median_ms");
        let measured = match (l, a) {
            (Some(l), Some(a)) if a > 0.0 => Some((l, a)),
            _ => None,
        };
        Eval::judge(
            "startup_build_invoke process time ÷ adk-graph's",
            format!("≤ {}×", fmt_bound(STARTUP_VS_ADK)),
            measured.map(|(l, a)| format!("{}× ({} vs {} ms)", fmt_ratio(l / a), fmt_num(l), fmt_num(a))),
            measured.is_some_and(|(l, a)| l / a <= STARTUP_VS_ADK),
        )
    }

    /// Every variant both report, Lemmings' median peak RSS ≤ adk-graph's.
    fn memory_vs_adk(&self) -> Target {
        let mut compared = 0;
        let mut over = Vec::new();
        for key in self.results.variants() {
            let l = self.median(System::Lemmings, &key, "peak_rss_mib");
            let a = self.median(System::Adk, &key, "peak_rss_mib");
            if let (Some(l), Some(a)) = (l, a) {
                compared += 1;
                if l > a {
                    over.push(format!("{} {} vs {}", key.label(), fmt_num(l), fmt_num(a)));
                }
            }
        }
        let measured = (compared > 0).then(|| {
            let mut text = format!("{} of {compared} variants at or below", compared - over.len());
            if !over.is_empty() {
                let _ = write!(text, "; over: {} MiB", over.join("; "));
            }
            text
        });
        Eval::judge(
            "peak RSS ≤ adk-graph's, every variant",
            "all".to_owned(),
            measured,
            over.is_empty(),
        )
    }
}

/// The multi-model targets: "not measured" when `multimodel.jsonl` is missing, else judged on
/// `measured` (`None`: a configuration or field is missing).
fn multimodel_target(
    results: &Results,
    what: &str,
    required: String,
    judge: impl FnOnce(&Multimodel) -> Option<(String, bool)>,
) -> Target {
    let Some(multimodel) = &results.multimodel else {
        return Target {
            what: what.to_owned(),
            required,
            measured: "–".to_owned(),
            verdict: Verdict::NotMeasured,
        };
    };
    let judged = judge(multimodel);
    let met = judged.as_ref().is_some_and(|(_, met)| *met);
    Eval::judge(what, required, judged.map(|(measured, _)| measured), met)
}

impl Eval<'_> {
    /// Both offloaded configurations spend exactly none of the primary's time on summarizer work.
    fn summarization_offloaded(&self) -> Target {
        multimodel_target(
            self.results,
            "primary time spent on summarization is 0 when the summarizer is offloaded",
            "share = 0 in both offloaded configs".to_owned(),
            |m| {
                let shares = OFFLOADED
                    .iter()
                    .map(|config| Some((*config, m.config(config)?.num("primary_summarization_share")?)))
                    .collect::<Option<Vec<_>>>()?;
                let measured = shares
                    .iter()
                    .map(|(config, share)| format!("{config} {}", fmt_share(*share)))
                    .collect::<Vec<_>>()
                    .join(", ");
                Some((measured, shares.iter().all(|(_, share)| *share == 0.0)))
            },
        )
    }

    /// `supervisor_cost_pct` of the supervised configuration < [`SUPERVISOR_COST_PCT`].
    fn supervisor_cost(&self) -> Target {
        multimodel_target(
            self.results,
            "the supervisor's wall-time cost is under 5%",
            format!("< {}%", fmt_bound(SUPERVISOR_COST_PCT)),
            |m| {
                let with = m.config(WITH_SUPERVISOR)?;
                let cost = with.num("supervisor_cost_pct")?;
                let mut measured = format!("{}%", fmt_num(cost));
                let without = m.config(SUMMARIZER_OFFLOADED).and_then(|r| r.num("wall_s"));
                if let (Some(with), Some(without)) = (with.num("wall_s"), without) {
                    let _ = write!(
                        measured,
                        " ({} s with, {} s without)",
                        fmt_secs(with),
                        fmt_secs(without)
                    );
                }
                Some((measured, cost < SUPERVISOR_COST_PCT))
            },
        )
    }
}

/// The TARGETS table and a one-line tally.
pub(crate) fn render(targets: &[Target]) -> String {
    let mut out = String::from("| target | required | measured (medians) | result |\n|---|---|---|---|\n");
    for t in targets {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            t.what,
            t.required,
            t.measured,
            t.verdict.label()
        );
    }
    let _ = writeln!(
        out,
        "\n{} (no data: a system or variant is missing from the results; not measured: the multi-model \
         benchmark was not run).",
        tally(targets)
    );
    out
}

/// `5 met, 12 NOT met, 3 without data, 2 not measured`.
pub(crate) fn tally(targets: &[Target]) -> String {
    let count = |v: Verdict| targets.iter().filter(|t| t.verdict == v).count();
    format!(
        "{} met, {} NOT met, {} without data, {} not measured",
        count(Verdict::Met),
        count(Verdict::NotMet),
        count(Verdict::NoData),
        count(Verdict::NotMeasured)
    )
}
