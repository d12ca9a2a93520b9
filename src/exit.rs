//! Exit codes, and the marker that turns an error into a usage error (exit 2).

use std::fmt;
use std::process::ExitCode;

/// How the process ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: done (a run completed).
    Success,
    /// 1: a run ended failed or incomplete, or a required model server is down.
    Failed,
    /// 2: bad usage or configuration; nothing was changed.
    Usage,
    /// 130: interrupted by Ctrl-C; the last checkpoint is intact.
    Interrupted,
}

impl Exit {
    pub(crate) fn code(self) -> ExitCode {
        ExitCode::from(self.number())
    }

    pub(crate) fn number(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Interrupted => 130,
        }
    }
}

/// A usage or configuration error: bad input the user fixes (exit 2).
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// An error with exit code 2.
pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// Exit 2 for usage errors, 1 for everything else.
pub(crate) fn classify(error: &anyhow::Error) -> Exit {
    if error.chain().any(|cause| cause.downcast_ref::<Usage>().is_some()) {
        Exit::Usage
    } else {
        Exit::Failed
    }
}

/// The error and its causes on one line (`a: b: c`), without repeating a cause that the
/// message above it already quotes.
pub(crate) fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string().replace('\n', " ");
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
