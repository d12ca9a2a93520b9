//! [`SpecError`]: why an agent file, a prompt template or the `[agents]` section of
//! `config.toml` cannot be used, or why a prompt could not be rendered. Always terminal.

use std::path::PathBuf;

/// A refused agent definition, prompt or `[agents]` section, or a prompt rendered without one
/// of its variables. Terminal: retrying cannot help, a file (or the caller) has to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A file that cannot be used as written, displayed as `<file>:<line>: <key>: <message>`
    /// (the line or the key left out when unknown).
    #[error("{}", located(file, *line, key.as_deref(), message))]
    Invalid {
        /// The file: `built-in agents/qa.toml`, a path, or the config file's name.
        file: String,
        /// The 1-based line, when known.
        line: Option<usize>,
        /// The dotted key (`limits.model_calls`, `agents.dir`), when one is involved.
        key: Option<String>,
        /// What is wrong and what to do.
        message: String,
    },
    /// A file or directory that could not be read.
    #[error("{}: cannot read it ({source}); check that it exists and is readable", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A prompt rendered without a value for a variable it uses (a bug in the caller: the
    /// workflow supplies every variable listed in `prompts/README.md`).
    #[error(
        "{}prompt {prompt}, line {line}: no value for `{{{{{variable}}}}}`; supply it (an empty \
         value renders as \"(none)\"), or remove it from the prompt",
        agent.as_deref().map(|agent| format!("agent `{agent}`: ")).unwrap_or_default()
    )]
    MissingVariable {
        /// The agent whose prompt it is, when it is an agent's.
        agent: Option<String>,
        /// The prompt's source (`built-in prompts/qa.md` or a path).
        prompt: String,
        /// The line of the placeholder.
        line: usize,
        /// The variable without braces.
        variable: String,
    },
}

impl SpecError {
    /// An [`SpecError::Invalid`].
    pub(crate) fn invalid(file: &str, line: Option<usize>, key: Option<&str>, message: impl Into<String>) -> Self {
        SpecError::Invalid {
            file: file.to_owned(),
            line,
            key: key.map(str::to_owned),
            message: message.into(),
        }
    }

    /// The file involved, as displayed.
    pub fn file(&self) -> String {
        match self {
            SpecError::Invalid { file, .. } => file.clone(),
            SpecError::Read { path, .. } => path.display().to_string(),
            SpecError::MissingVariable { prompt, .. } => prompt.clone(),
        }
    }

    /// The 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            SpecError::Invalid { line, .. } => *line,
            SpecError::MissingVariable { line, .. } => Some(*line),
            SpecError::Read { .. } => None,
        }
    }

    /// The dotted key, when one is involved.
    pub fn key(&self) -> Option<&str> {
        match self {
            SpecError::Invalid { key, .. } => key.as_deref(),
            SpecError::Read { .. } | SpecError::MissingVariable { .. } => None,
        }
    }

    /// Always false: retrying cannot help, a file or the caller has to change.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

fn located(file: &str, line: Option<usize>, key: Option<&str>, message: &str) -> String {
    let mut text = file.to_owned();
    if let Some(line) = line {
        text.push_str(&format!(":{line}"));
    }
    text.push_str(": ");
    if let Some(key) = key {
        text.push_str(key);
        text.push_str(": ");
    }
    text.push_str(message);
    text
}
