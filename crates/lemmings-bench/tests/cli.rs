//! The binary as the driver uses it: `--child` prints one JSON row (with an `error` field and
//! exit code 1 when the variant fails), `--noop` and `--build-invoke` are the startup processes,
//! `--list` prints the variants. Tiny sizes; nothing depends on timing.

use std::process::{Command, Output};

use serde_json::Value;

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lemmings-bench"))
        .args(args)
        .output()
        .expect("the benchmark binary runs")
}

/// The last line of stdout, parsed.
fn row(output: &Output) -> (String, Value) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default().to_owned();
    let value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    (line, value)
}

#[test]
fn a_child_run_prints_one_row_with_the_bench_py_fields() {
    let spec = r#"{"name": "chain_sqlite", "params": {"nodes": 5, "invokes": 2, "checkpointer": "sqlite", "durability": "sync"}}"#;
    let output = bench(&["--child", spec]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (line, row) = row(&output);
    assert!(
        line.starts_with(
            r#"{"name":"chain_sqlite","params":{"nodes":5,"invokes":2,"checkpointer":"sqlite","durability":"sync"},"wall_s":"#
        ),
        "{line}"
    );
    for field in [
        "wall_s",
        "unit",
        "us_per_unit",
        "invoke_ms_median",
        "checkpoint_rows",
        "checkpoint_blob_bytes_total",
        "checkpoint_blob_bytes_max",
        "write_rows",
        "write_blob_bytes_total",
        "db_mib",
        "checkpoint_storage",
        "write_rows_saved",
        "store_commits",
        "store_calls",
        "sqlite_journal_mode",
        "sqlite_synchronous",
        "sqlite_version",
        "notes",
        "peak_rss_mib",
        "rss_at_process_start_mib",
    ] {
        assert!(row.get(field).is_some(), "no `{field}` in {line}");
    }
    assert_eq!(row["unit"], "node_step");
    assert_eq!(row["checkpoint_rows"], 2 * 7);
    assert_eq!(row["sqlite_journal_mode"], "wal");
    assert_eq!(row["sqlite_synchronous"], 2);
    assert!(row["peak_rss_mib"].as_f64().unwrap() > 0.0, "{line}");
    assert!(row.get("error").is_none(), "{line}");
}

#[test]
fn a_failing_child_prints_an_error_row_and_exits_1() {
    let output = bench(&["--child", r#"{"name": "chain_nocp", "params": {"nodes": 5}}"#]);
    assert_eq!(output.status.code(), Some(1));
    let (line, failed) = row(&output);
    assert_eq!(failed["name"], "chain_nocp", "{line}");
    assert_eq!(failed["error"], "missing parameter `invokes`", "{line}");

    let output = bench(&["--child", "not json"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(row(&output).1["error"].as_str().unwrap().starts_with("bad spec"));
}

#[test]
fn the_startup_processes_succeed_and_usage_errors_exit_2() {
    assert!(bench(&["--noop"]).status.success());
    assert!(bench(&["--build-invoke"]).status.success());
    assert_eq!(bench(&["--al"]).status.code(), Some(2));
    assert_eq!(bench(&["--all", "--only"]).status.code(), Some(2));
}

#[test]
fn the_quick_list_starts_and_ends_with_the_commit_floor() {
    let output = bench(&["--list", "--quick"]);
    assert!(output.status.success());
    let specs: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(specs.len(), 17);
    assert_eq!(specs[0]["params"]["when"], "start");
    assert_eq!(specs[16]["params"]["when"], "end");
    assert!(specs.iter().all(|s| s["name"] != "startup_bare"));
}
