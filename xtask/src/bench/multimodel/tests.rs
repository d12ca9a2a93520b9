//! Unit tests of the multi-model benchmark's part of `cargo xtask bench`, without running it:
//! reading `multimodel.jsonl`, its two targets at their bounds, its section, and the "not run"
//! case of a results directory without it.

use std::path::{Path, PathBuf};

use expect_test::expect;

use super::super::results::Results;
use super::super::targets::{Target, Verdict, evaluate};
use super::super::write_benchmarks;
use super::{FILE, Multimodel, render};

const PRIMARY_TIME: &str = "primary time spent on summarization is 0 when the summarizer is offloaded";
const SUPERVISOR_COST: &str = "the supervisor's wall-time cost is under 5%";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bench/fixtures")
}

/// The fixture's rows: a real run at the default latencies (see fixtures/README.md).
fn fixture() -> Multimodel {
    Multimodel::load(&fixtures().join("multimodel"))
        .expect("the fixture loads")
        .expect("the fixture exists")
}

fn with(multimodel: Option<Multimodel>) -> Results {
    Results {
        multimodel,
        ..Results::default()
    }
}

/// One configuration's row, with only the fields the targets read.
fn row(config: &str, share: f64, cost: Option<f64>) -> String {
    let cost = cost.map_or_else(String::new, |c| format!(r#","supervisor_cost_pct":{c}"#));
    format!(
        r#"{{"name":"multimodel","params":{{"config":"{config}"}},"wall_s":13.2,"primary_summarization_share":{share}{cost}}}"#
    )
}

fn target(results: &Results, what: &str) -> Target {
    evaluate(results)
        .into_iter()
        .find(|t| t.what == what)
        .unwrap_or_else(|| panic!("no target `{what}`"))
}

fn verdict(text: &str, what: &str) -> Verdict {
    target(&with(Some(Multimodel::parse(text).unwrap())), what).verdict
}

#[test]
fn multimodel_fixture_has_one_row_per_config() {
    let m = fixture();
    let configs: Vec<String> = m.rows().iter().filter_map(|r| r.param_text("config")).collect();
    assert_eq!(
        configs,
        ["all_on_primary", "summarizer_offloaded", "offloaded_with_supervisor"]
    );
    let all = m.config("all_on_primary").unwrap();
    assert_eq!(all.num("primary_requests"), Some(71.0));
    assert_eq!(all.num("primary_summarization_share"), Some(0.2535));
    assert_eq!(all.param_text("primary_ms").as_deref(), Some("200"));
    let supervised = m.config("offloaded_with_supervisor").unwrap();
    assert_eq!(supervised.num("supervisor_cost_pct"), Some(0.36));
    assert_eq!(supervised.num("supervisions"), Some(5.0));
    assert_eq!(
        m.config("summarizer_offloaded").unwrap().num("supervisor_cost_pct"),
        None,
        "the cost is on the supervised row only"
    );
    assert!(m.config("elsewhere").is_none());
}

#[test]
fn multimodel_parse_keeps_only_its_rows() {
    let m = Multimodel::parse(&format!(
        "lemmings-multimodel: run 1/1 all_on_primary: 14.798 s\n{}\n{{\"name\":\"meta\"}}\n{{\"error\":\"boom\"}}\n",
        row("all_on_primary", 0.25, None)
    ))
    .unwrap();
    assert_eq!(m.rows().len(), 1);
    let err = Multimodel::parse("{\"name\": oops}\n").unwrap_err();
    assert!(err.to_string().starts_with("line 1:"), "{err}");
}

#[test]
fn multimodel_load_tells_a_missing_file_from_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Multimodel::load(dir.path()).unwrap().is_none(), "not run");
    std::fs::write(dir.path().join(FILE), "").unwrap();
    let m = Multimodel::load(dir.path()).unwrap().expect("run, and failed");
    assert!(m.rows().is_empty());
}

#[test]
fn multimodel_primary_time_target_at_its_bound() {
    let all = row("all_on_primary", 0.25, None);
    let rows = |offloaded: f64, supervised: f64| {
        [
            all.clone(),
            row("summarizer_offloaded", offloaded, None),
            row("offloaded_with_supervisor", supervised, Some(0.4)),
        ]
        .join("\n")
    };
    assert_eq!(verdict(&rows(0.0, 0.0), PRIMARY_TIME), Verdict::Met);
    assert_eq!(verdict(&rows(0.01, 0.0), PRIMARY_TIME), Verdict::NotMet);
    assert_eq!(verdict(&rows(0.0, 0.01), PRIMARY_TIME), Verdict::NotMet);
    assert_eq!(
        verdict(&row("summarizer_offloaded", 0.0, None), PRIMARY_TIME),
        Verdict::NoData,
        "one offloaded config is missing"
    );
}

#[test]
fn multimodel_supervisor_cost_target_at_its_bound() {
    let rows = |cost: f64| {
        [
            row("summarizer_offloaded", 0.0, None),
            row("offloaded_with_supervisor", 0.0, Some(cost)),
        ]
        .join("\n")
    };
    assert_eq!(verdict(&rows(4.9), SUPERVISOR_COST), Verdict::Met);
    assert_eq!(verdict(&rows(5.1), SUPERVISOR_COST), Verdict::NotMet);
    assert_eq!(verdict(&rows(5.0), SUPERVISOR_COST), Verdict::NotMet, "under 5%");
    assert_eq!(
        verdict(&rows(-0.5), SUPERVISOR_COST),
        Verdict::Met,
        "noise can make it negative"
    );
    assert_eq!(
        verdict(&row("offloaded_with_supervisor", 0.0, None), SUPERVISOR_COST),
        Verdict::NoData
    );
}

#[test]
fn multimodel_targets_on_the_fixture() {
    let results = with(Some(fixture()));
    let shown: Vec<String> = [PRIMARY_TIME, SUPERVISOR_COST]
        .iter()
        .map(|what| {
            let t = target(&results, what);
            format!("{} | {} | {} | {:?}", t.what, t.required, t.measured, t.verdict)
        })
        .collect();
    expect![[r#"
        [
            "primary time spent on summarization is 0 when the summarizer is offloaded | share = 0 in both offloaded configs | summarizer_offloaded 0%, offloaded_with_supervisor 0% | Met",
            "the supervisor's wall-time cost is under 5% | < 5% | 0.36% (13.23 s with, 13.18 s without) | Met",
        ]
    "#]]
    .assert_debug_eq(&shown);
}

#[test]
fn multimodel_section_snapshot() {
    let mut out = String::new();
    render(&mut out, Some(&fixture()), "bench/results/2026-11-25T005242Z");
    expect![[r###"
        ## Multi-model: the whole workflow against fake LLM servers

        `lemmings-multimodel` runs the whole coding workflow over HTTP (the real model registry, the built-in agents, a SQLite store) against loopback fake LLM servers with fixed latencies, in three configurations: everything on the primary (`all_on_primary`); the summarizer on its own server (`summarizer_offloaded`); that plus a supervisor after every task on a third server (`offloaded_with_supervisor`). The primary answers one request at a time, as one local model would.

        * Latencies per request: primary 200 ms, summarizer 150 ms, supervisor 300 ms; 5 tasks planned. 3 runs per configuration, interleaved after an untimed warm-up; each cell is the median of the runs, `(a–b)` the min–max spread of the wall time. Raw rows: `bench/results/2026-11-25T005242Z/multimodel.jsonl`.
        * Primary busy time is its latency × the requests it answered; "of which summarization" and the share are the part of it spent on summarizer work.
        * Requests the primary was answering at once, at most: 1 (serial, as intended).

        | config | wall s | primary busy s | primary requests | of which summarization | summarization share of primary time | summarizer server requests | supervisor server requests | supervisions |
        |---|---:|---:|---:|---:|---:|---:|---:|---:|
        | all_on_primary | 14.80 (14.73–14.91) | 14.20 | 71 | 18 | 25.4% | 0 | 0 | 0 |
        | summarizer_offloaded | 13.18 (13.10–13.24) | 10.60 | 53 | 0 | 0% | 18 | 0 | 0 |
        | offloaded_with_supervisor | 13.23 (13.12–13.30) | 10.60 | 53 | 0 | 0% | 18 | 5 | 5 |

        The supervisor's wall-time cost (`offloaded_with_supervisor` against `summarizer_offloaded`, median wall times): 0.36%.

    "###]]
    .assert_eq(&out);
}

#[test]
fn multimodel_not_run() {
    let results = with(None);
    let mut out = String::new();
    render(
        &mut out,
        results.multimodel.as_ref(),
        "../shared/bench/adk-graph/baseline",
    );
    expect![[r#"
        ## Multi-model: the whole workflow against fake LLM servers

        Not run: `../shared/bench/adk-graph/baseline` has no `multimodel.jsonl` (`cargo xtask bench` runs `lemmings-multimodel` after the other runs unless `--no-multimodel` is given), so its two targets are not measured.

    "#]]
    .assert_eq(&out);
    for what in [PRIMARY_TIME, SUPERVISOR_COST] {
        let t = target(&results, what);
        assert_eq!((t.verdict, t.measured.as_str()), (Verdict::NotMeasured, "–"), "{what}");
    }
    let text = super::super::targets::render(&evaluate(&results));
    assert!(
        text.contains(&format!("| {SUPERVISOR_COST} | < 5% | – | not measured |")),
        "{text}"
    );
    assert!(text.contains(", 2 not measured"), "{text}");
}

#[test]
fn multimodel_that_failed_has_no_data() {
    let results = with(Some(Multimodel::parse("").unwrap()));
    let mut out = String::new();
    render(&mut out, results.multimodel.as_ref(), "bench/results/x");
    assert!(out.contains("`bench/results/x/multimodel.jsonl` holds no results: `lemmings-multimodel` failed"));
    for what in [PRIMARY_TIME, SUPERVISOR_COST] {
        assert_eq!(target(&results, what).verdict, Verdict::NoData, "{what}");
    }
}

/// A results directory as `cargo xtask bench` leaves it: the section and the targets come out of
/// `multimodel.jsonl` beside the other runs.
#[test]
fn multimodel_results_directory_end_to_end() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("bench/results/2026-11-25T005242Z");
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["lemmings-run-1.jsonl", "machine.json"] {
        std::fs::copy(fixtures().join(file), dir.join(file)).unwrap();
    }
    std::fs::copy(fixtures().join("multimodel").join(FILE), dir.join(FILE)).unwrap();
    let path = root.path().join("BENCHMARKS.md");
    let tally = write_benchmarks(root.path(), &dir, &path).unwrap();
    assert!(tally.ends_with(", 0 not measured"), "{tally}");
    let text = std::fs::read_to_string(&path).unwrap();
    let section = text
        .find("## Multi-model: the whole workflow against fake LLM servers")
        .unwrap();
    let results = text.find("## Results").unwrap();
    let targets = text.find("## Targets").unwrap();
    assert!(
        results < section && section < targets,
        "between the results and the targets"
    );
    assert!(text.contains("| offloaded_with_supervisor | 13.23 (13.12–13.30) | 10.60 | 53 | 0 | 0% | 18 | 5 | 5 |"));
    assert!(text.contains(&format!("| {PRIMARY_TIME} | share = 0 in both offloaded configs |")));
    assert!(text.contains("| 0.36% (13.23 s with, 13.18 s without) | met |"));
}
