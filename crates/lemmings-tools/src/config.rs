//! The `[tools]` section of `config.toml`: which commands `run_command` may run and under which
//! limits, and what the file tools may never write. Parsed with every key checked; an error
//! names the file, the line and the key.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::command::CommandPolicy;
use crate::workspace::WorkspaceOptions;

/// The parsed `[tools]` section. Without the section every field has its default, and
/// `run_command` allows nothing (so agents are not offered it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolsConfig {
    /// Where it came from (a path, or "built-in default"), for messages.
    pub source: String,
    /// The commands `run_command` may run, each an argv prefix split like shell words
    /// (`"cargo test"` allows `cargo test -p foo`); default none.
    pub allowed_commands: Vec<String>,
    /// The default and the maximum time limit of one command (default 600 s).
    pub command_timeout: Duration,
    /// The time between SIGTERM and SIGKILL when the limit is reached (default 2 s).
    pub command_grace: Duration,
    /// The output kept per stream, as its start and its end (default 32 KiB).
    pub command_output_bytes: usize,
    /// More environment variable names removed before a command runs (case-insensitive), beyond
    /// the built-in patterns (`*API_KEY*`, `*TOKEN*`, `*SECRET*`, `*PASSWORD*`, ...).
    pub scrub_env: Vec<String>,
    /// Workspace paths no tool writes beneath, beyond `.git` and `.lemmings` (always protected).
    pub protected: Vec<PathBuf>,
    /// The largest file the tools read or edit whole (default 10 MiB).
    pub max_file_bytes: u64,
}

impl ToolsConfig {
    /// Parses the `[tools]` section of a config file's text; the other top-level tables are
    /// left to their owners (but a TOML syntax error anywhere is reported). `source` names the
    /// text in messages.
    ///
    /// # Errors
    /// The first problem, as a [`ToolsConfigError`] naming the source, line and key: an
    /// unknown key, a wrong type, a value out of range, an empty or badly quoted command, a
    /// protected path that is absolute or climbs out with `..`.
    pub fn parse(text: &str, source: &str) -> Result<ToolsConfig, ToolsConfigError> {
        // Syntax first, so that an error anywhere in the file is not blamed on `[tools]`.
        toml::de::DeTable::parse(text).map_err(|error| {
            let line = error.span().map(|span| line_of(text, span.start));
            // toml's messages describe the token, never quote the text, so no secret leaks here.
            ToolsConfigError::new(
                source,
                line,
                None,
                format!("invalid TOML: {}", error.message().trim_end()),
            )
        })?;
        let document: Document = toml::from_str(text).map_err(|error| {
            let line = error.span().map(|span| line_of(text, span.start));
            let key = error
                .span()
                .and_then(|span| key_on_line(text, span.start))
                .map(|key| if key == "tools" { key } else { format!("tools.{key}") });
            // Serde names Rust types; the user wrote TOML.
            let mut message = error
                .message()
                .trim_end()
                .replace("expected i64", "expected an integer")
                .replace("expected a sequence", "expected an array of strings")
                .replace("expected struct Raw", "expected a table ([tools] followed by its keys)");
            if message.starts_with("unknown field") {
                message.push_str("; check the spelling (config.toml at the repository root lists every key)");
            }
            ToolsConfigError::new(source, line, key, message)
        })?;
        let mut config = ToolsConfig::defaults(source);
        let Some(raw) = document.tools else {
            return Ok(config);
        };
        let at = |spanned_start: usize, key: &str, message: String| {
            ToolsConfigError::new(
                source,
                Some(line_of(text, spanned_start)),
                Some(format!("tools.{key}")),
                message,
            )
        };

        if let Some(commands) = raw.allowed_commands {
            for entry in commands {
                let start = entry.span().start;
                let command = entry.into_inner();
                match shell_words::split(&command) {
                    Ok(words) if !words.is_empty() => {}
                    Ok(_) => {
                        let message = "an empty command; remove it or write one, e.g. \"cargo test\"".to_owned();
                        return Err(at(start, "allowed_commands", message));
                    }
                    Err(_) => {
                        let message = format!("{command:?} has an unclosed quote; close it or drop the quotes");
                        return Err(at(start, "allowed_commands", message));
                    }
                }
                config.allowed_commands.push(command);
            }
        }
        if let Some(seconds) = raw.command_timeout_s {
            let start = seconds.span().start;
            config.command_timeout = in_range(seconds.into_inner(), 1, 86_400)
                .map(Duration::from_secs)
                .ok_or_else(|| at(start, "command_timeout_s", "expected 1 to 86400 seconds".to_owned()))?;
        }
        if let Some(seconds) = raw.command_grace_s {
            let start = seconds.span().start;
            config.command_grace = in_range(seconds.into_inner(), 0, 60)
                .map(Duration::from_secs)
                .ok_or_else(|| at(start, "command_grace_s", "expected 0 to 60 seconds".to_owned()))?;
        }
        if let Some(kib) = raw.command_output_kib {
            let start = kib.span().start;
            config.command_output_bytes = in_range(kib.into_inner(), 1, 16_384)
                .map(|kib| kib as usize * 1024)
                .ok_or_else(|| at(start, "command_output_kib", "expected 1 to 16384 KiB".to_owned()))?;
        }
        if let Some(names) = raw.scrub_env {
            for name in names {
                let start = name.span().start;
                let name = name.into_inner();
                if name.is_empty() || name.contains('=') || name.contains('\0') {
                    let message = format!("{name:?} is not an environment variable name");
                    return Err(at(start, "scrub_env", message));
                }
                config.scrub_env.push(name);
            }
        }
        if let Some(paths) = raw.protected {
            for path in paths {
                let start = path.span().start;
                let path = path.into_inner();
                let clean = relative_path(&path).ok_or_else(|| {
                    let message = format!(
                        "{path:?} is not a path inside the workspace; write it relative to the root, without `..`"
                    );
                    at(start, "protected", message)
                })?;
                if !config.protected.contains(&clean) {
                    config.protected.push(clean);
                }
            }
        }
        if let Some(mib) = raw.max_file_mib {
            let start = mib.span().start;
            config.max_file_bytes = in_range(mib.into_inner(), 1, 1024)
                .map(|mib| mib << 20)
                .ok_or_else(|| at(start, "max_file_mib", "expected 1 to 1024 MiB".to_owned()))?;
        }
        Ok(config)
    }

    /// The defaults, as if the file had no `[tools]` section.
    pub fn defaults(source: &str) -> ToolsConfig {
        let workspace = WorkspaceOptions::default();
        ToolsConfig {
            source: source.to_owned(),
            allowed_commands: Vec::new(),
            command_timeout: CommandPolicy::DEFAULT_TIMEOUT,
            command_grace: CommandPolicy::DEFAULT_GRACE,
            command_output_bytes: CommandPolicy::DEFAULT_MAX_OUTPUT_BYTES,
            scrub_env: Vec::new(),
            protected: workspace.protected,
            max_file_bytes: workspace.max_file_bytes,
        }
    }

    /// The command policy these settings describe. `secrets` are values (the configured API
    /// keys) that are also scrubbed from the environment and redacted from output.
    pub fn command_policy<I, S>(&self, secrets: I) -> CommandPolicy
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CommandPolicy::new(&self.allowed_commands)
            .with_timeout(self.command_timeout)
            .with_grace(self.command_grace)
            .with_max_output_bytes(self.command_output_bytes)
            .with_scrub_env(self.scrub_env.iter().cloned())
            .with_secrets(secrets)
    }

    /// The workspace options these settings describe.
    pub fn workspace_options(&self) -> WorkspaceOptions {
        WorkspaceOptions {
            protected: self.protected.clone(),
            max_file_bytes: self.max_file_bytes,
        }
    }
}

/// A refused `[tools]` section, displayed as `<source>:<line>: <key>: <message>` (the line or
/// the key left out when unknown). Terminal: the file has to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ToolsConfigError {
    origin: String,
    line: Option<usize>,
    key: Option<String>,
    message: String,
}

impl ToolsConfigError {
    fn new(origin: &str, line: Option<usize>, key: Option<String>, message: String) -> Self {
        ToolsConfigError {
            origin: origin.to_owned(),
            line,
            key,
            message,
        }
    }

    /// The file (or "built-in default").
    pub fn file(&self) -> &str {
        &self.origin
    }

    /// The 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The dotted key, e.g. `tools.command_timeout_s`, when known.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The message, without the source, line and key.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Always false: retrying cannot help, the file has to change.
    pub fn is_retryable(&self) -> bool {
        false
    }

    fn render(&self) -> String {
        let mut text = self.origin.clone();
        if let Some(line) = self.line {
            text.push_str(&format!(":{line}"));
        }
        text.push_str(": ");
        if let Some(key) = &self.key {
            text.push_str(key);
            text.push_str(": ");
        }
        text.push_str(&self.message);
        text
    }
}

/// The whole file, of which only `[tools]` is read here.
#[derive(Deserialize)]
struct Document {
    tools: Option<Raw>,
}

/// `[tools]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    allowed_commands: Option<Vec<Spanned<String>>>,
    command_timeout_s: Option<Spanned<i64>>,
    command_grace_s: Option<Spanned<i64>>,
    command_output_kib: Option<Spanned<i64>>,
    scrub_env: Option<Vec<Spanned<String>>>,
    protected: Option<Vec<Spanned<String>>>,
    max_file_mib: Option<Spanned<i64>>,
}

fn in_range(value: i64, min: i64, max: i64) -> Option<u64> {
    (min..=max).contains(&value).then_some(value as u64)
}

/// A normalised path relative to the workspace root, or `None` when it is empty, absolute or
/// climbs out.
fn relative_path(path: &str) -> Option<PathBuf> {
    if path.contains('\0') {
        return None;
    }
    let mut clean = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!clean.as_os_str().is_empty()).then_some(clean)
}

/// The key assigned on the line holding `offset` (`key = ...`), if that line is an assignment.
fn key_on_line(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |at| at + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    bare.then(|| key.to_owned())
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&byte| byte == b'\n').count() + 1
}
