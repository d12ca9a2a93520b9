//! The machine a benchmark ran on: read from Linux's `/proc` and `rustc --version` when the runs
//! start, and recorded as `machine.json` beside them so that a regenerated table still names it.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::{Value, json};

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Machine {
    /// When the runs started, e.g. `2026-11-24 18:33 UTC`.
    pub(crate) date_utc: String,
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) memory_gib: f64,
    pub(crate) kernel: String,
    pub(crate) rustc: String,
}

impl Machine {
    /// This machine, now. Missing facts read as "unknown" rather than failing a benchmark.
    pub(crate) fn current() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0.0);
        let read = |path: &str| std::fs::read_to_string(path).map(|s| s.trim().to_owned()).ok();
        let kernel = match (read("/proc/sys/kernel/ostype"), read("/proc/sys/kernel/osrelease")) {
            (Some(os), Some(release)) => format!("{os} {release}"),
            _ => std::env::consts::OS.to_owned(),
        };
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
        let rustc = Command::new(rustc)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map_or_else(
                || "unknown".to_owned(),
                |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
            );
        Machine {
            date_utc: utc_date_time(SystemTime::now()),
            cpu,
            cores,
            memory_gib: memory_kib / (1024.0 * 1024.0),
            kernel,
            rustc,
        }
    }

    pub(crate) fn to_json(&self) -> String {
        let value = json!({
            "date_utc": self.date_utc,
            "cpu": self.cpu,
            "cores": self.cores,
            "memory_gib": (self.memory_gib * 10.0).round() / 10.0,
            "kernel": self.kernel,
            "rustc": self.rustc,
        });
        format!("{value}\n")
    }

    pub(crate) fn from_json(text: &str) -> Result<Machine> {
        let value: Value = serde_json::from_str(text)?;
        let text_field = |k: &str| -> Result<String> {
            Ok(value
                .get(k)
                .and_then(Value::as_str)
                .context(format!("no `{k}`"))?
                .to_owned())
        };
        Ok(Machine {
            date_utc: text_field("date_utc")?,
            cpu: text_field("cpu")?,
            cores: value.get("cores").and_then(Value::as_u64).context("no `cores`")? as usize,
            memory_gib: value
                .get("memory_gib")
                .and_then(Value::as_f64)
                .context("no `memory_gib`")?,
            kernel: text_field("kernel")?,
            rustc: text_field("rustc")?,
        })
    }
}

/// `2026-11-24 18:33 UTC`.
pub(crate) fn utc_date_time(time: SystemTime) -> String {
    let (y, mo, d, h, mi, _) = utc_fields(time);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02} UTC")
}

/// `2026-11-24T183312Z`: the name of a results directory (sorts by time, no `:` in paths).
pub(crate) fn utc_stamp(time: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = utc_fields(time);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}{mi:02}{s:02}Z")
}

fn utc_fields(time: SystemTime) -> (i64, u32, u32, u64, u64, u64) {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    (y, mo, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`), so that no date crate is needed for one timestamp.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
