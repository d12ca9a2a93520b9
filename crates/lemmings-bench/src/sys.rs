//! What the rows say about the machine and the process: peak resident set size (Linux's
//! `VmHWM`), the OS, the CPU count, the compiler, and the time, without extra dependencies.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// This process's peak resident set size (`VmHWM` of `/proc/self/status`) in MiB, one decimal;
/// 0 where `/proc` is missing.
pub(crate) fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| crate::row::round(kib / 1024.0, 1))
}

/// The OS: `linux 6.1.0-...` plus the distribution's pretty name when known.
pub(crate) fn os() -> String {
    let mut os = std::env::consts::OS.to_owned();
    if let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        os.push(' ');
        os.push_str(release.trim());
    }
    let pretty = std::fs::read_to_string("/etc/os-release").ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_owned())
    });
    if let Some(pretty) = pretty {
        os.push_str(&format!(" ({pretty})"));
    }
    os
}

/// Where the variants' databases live (the system's temporary directory) and its file system
/// type from `/proc/self/mounts` (`ext4`, `tmpfs`: a tmpfs makes every fsync free).
pub(crate) fn temp_dir() -> (String, Option<String>) {
    let dir = std::env::temp_dir();
    let dir = dir.canonicalize().unwrap_or(dir);
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let fs = mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, fs) = (fields.next()?, fields.next()?, fields.next()?);
            dir.starts_with(point).then(|| (point.len(), fs.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs)| fs);
    (dir.display().to_string(), fs)
}

/// The number of CPUs this process may use.
pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

/// `rustc --version` of the toolchain on the PATH (the one that built this binary when run
/// through cargo), or `None`.
pub(crate) fn rustc() -> Option<String> {
    let output = Command::new("rustc").arg("--version").output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn now_utc() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    utc(secs)
}

/// Seconds since the Unix epoch as an ISO 8601 UTC time (Howard Hinnant's civil-from-days).
fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_times_are_civil_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_795_548_783), "2026-11-24T19:33:03Z");
    }

    #[test]
    fn the_peak_rss_of_a_running_test_is_positive_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(super::peak_rss_mib() > 0.0);
        }
    }
}
