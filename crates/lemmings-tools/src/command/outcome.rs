//! How a command ended ([`Exit`], [`CommandOutcome`]) and the compact text the model reads.

use std::fmt::Write as _;
use std::time::Duration;

/// How the command's process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// It was killed by this signal (not by the time limit).
    Signal(i32),
    /// The time limit expired and the process group was killed.
    TimedOut,
}

/// One output stream as kept: its text (the start and the end when it was too long), how many
/// bytes it had in all, and whether some were dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamOutput {
    /// The text, decoded lossily, secrets redacted, with `[... N bytes omitted ...]` between
    /// the start and the end when it was truncated.
    pub text: String,
    /// How many bytes the stream had in all.
    pub bytes: u64,
    /// Whether bytes were dropped.
    pub truncated: bool,
}

/// What running a command gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutcome {
    /// What ran.
    pub argv: Vec<String>,
    /// How it ended.
    pub exit: Exit,
    /// Its standard output.
    pub stdout: StreamOutput,
    /// Its standard error.
    pub stderr: StreamOutput,
    /// Whether either stream was truncated.
    pub truncated: bool,
    /// How long the call took, killing included.
    pub duration: Duration,
    /// The time limit it ran under.
    pub limit: Duration,
    /// The largest time limit the policy allows.
    pub max_limit: Duration,
    /// Its process group (the leader's pid).
    pub pgid: i32,
    /// Processes of the group still alive when the call returned (0 unless one was stuck in
    /// the kernel through SIGKILL).
    pub survivors: usize,
}

impl CommandOutcome {
    /// Whether it exited with status 0.
    pub fn success(&self) -> bool {
        self.exit == Exit::Code(0)
    }

    /// The text the model reads: the command, how it ended, then each non-empty stream.
    ///
    /// ```text
    /// $ cargo test -p foo
    /// exit status 101 (failed) after 12.3s
    /// --- stdout ---
    /// ...
    /// --- stderr (truncated: 2.1 MiB in all, the start and the end are shown) ---
    /// ...
    /// ```
    pub fn render(&self) -> String {
        let mut text = format!("$ {}\n", shell_words::join(&self.argv));
        let took = format_duration(self.duration);
        let _ = match self.exit {
            Exit::Code(0) => writeln!(text, "exit status 0 (success) after {took}"),
            Exit::Code(code) => writeln!(text, "exit status {code} (failed) after {took}"),
            Exit::Signal(signal) => writeln!(text, "killed by signal {signal}{} after {took}", signal_name(signal)),
            Exit::TimedOut if self.limit < self.max_limit => writeln!(
                text,
                "timed out after {}: the process group was killed; raise timeout_s (at most {}) or run a narrower command",
                format_duration(self.limit),
                self.max_limit.as_secs(),
            ),
            Exit::TimedOut => writeln!(
                text,
                "timed out after {}: the process group was killed; that is the longest allowed, so run a narrower \
                 command (one package or one test)",
                format_duration(self.limit),
            ),
        };
        if self.survivors > 0 {
            let _ = writeln!(
                text,
                "warning: {} processes of the command could not be killed",
                self.survivors
            );
        }
        if self.stdout.bytes == 0 && self.stderr.bytes == 0 {
            text.push_str("(no output)\n");
        }
        for (name, stream) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if stream.bytes == 0 {
                continue;
            }
            if stream.truncated {
                let _ = writeln!(
                    text,
                    "--- {name} (truncated: {} in all, the start and the end are shown) ---",
                    format_bytes(stream.bytes)
                );
            } else {
                let _ = writeln!(text, "--- {name} ---");
            }
            text.push_str(&stream.text);
            if !stream.text.ends_with('\n') {
                text.push('\n');
            }
        }
        text
    }
}

/// `0.3s`, `12.3s`, `2m05s`; whole seconds without a decimal (`2s`).
pub(super) fn format_duration(duration: Duration) -> String {
    let tenths = (duration.as_millis() + 50) / 100;
    if tenths < 600 {
        if tenths.is_multiple_of(10) {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        }
    } else {
        let seconds = tenths / 10;
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    }
}

/// `512 bytes`, `16.0 KiB`, `2.1 MiB`, `1.5 GiB`.
pub(crate) fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// ` (SIGKILL)` for the common signals, nothing for the rest.
fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => " (SIGHUP)",
        2 => " (SIGINT)",
        3 => " (SIGQUIT)",
        4 => " (SIGILL)",
        6 => " (SIGABRT)",
        7 => " (SIGBUS)",
        8 => " (SIGFPE)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        13 => " (SIGPIPE)",
        14 => " (SIGALRM)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations_and_sizes() {
        let durations = [0, 40, 50, 1_000, 12_345, 59_949, 59_950, 125_000, 600_000];
        let durations: Vec<String> = durations.map(|ms| format_duration(Duration::from_millis(ms))).to_vec();
        assert_eq!(
            durations,
            ["0s", "0s", "0.1s", "1s", "12.3s", "59.9s", "1m00s", "2m05s", "10m00s"]
        );
        let sizes: Vec<String> = [0, 1023, 1024, 16 * 1024, 2_200_000, 3 << 30, 5 << 40]
            .map(format_bytes)
            .to_vec();
        assert_eq!(
            sizes,
            [
                "0 bytes",
                "1023 bytes",
                "1.0 KiB",
                "16.0 KiB",
                "2.1 MiB",
                "3.0 GiB",
                "5120.0 GiB"
            ]
        );
    }
}
