//! The `[agents]` section of `config.toml`: a directory of agent and prompt files replacing the
//! built-ins, and per-agent overrides (`[agents.<name>]`: the model role and the call limits).
//! Parsed with every key checked; an error names the file, the line and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::de::DeValue;

use super::agent_file::{MODEL_CALLS_RANGE, TOOL_CALLS_RANGE};
use super::builtin;
use super::error::SpecError;
use super::toml_read::{Table, is_role_name, parse_document};

/// The parsed `[agents]` section. Without the section: the built-in agents, unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentsConfig {
    /// Where it came from (a path, or "built-in default"), for messages.
    pub source: String,
    /// A directory whose `<name>.toml` and `<name>.md` files replace the built-in agent and
    /// prompt files of the same name (already resolved against the config file's directory).
    pub dir: Option<PathBuf>,
    /// Per-agent overrides, by agent name.
    pub overrides: BTreeMap<String, AgentOverride>,
}

/// `[agents.<name>]`: what the config file changes in one agent without editing its file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentOverride {
    /// The model role the agent runs on (key `model`), instead of its file's `role`.
    pub role: Option<String>,
    /// The most model calls per run, instead of its file's `limits.model_calls`.
    pub model_calls: Option<u32>,
    /// The most tool calls per run, instead of its file's `limits.tool_calls`.
    pub tool_calls: Option<u32>,
    /// The line of the override in the config file (of its `model` key when set), for messages.
    pub line: Option<usize>,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        AgentsConfig::defaults("built-in default")
    }
}

impl AgentsConfig {
    /// The defaults, as if the file had no `[agents]` section.
    pub fn defaults(source: &str) -> AgentsConfig {
        AgentsConfig {
            source: source.to_owned(),
            dir: None,
            overrides: BTreeMap::new(),
        }
    }

    /// Parses the `[agents]` section of a config file's text; the other top-level tables are
    /// left to their owners (but a TOML syntax error anywhere is reported). `source` names the
    /// text in messages; a relative `dir` is resolved against `base`, the config file's
    /// directory, and must exist.
    ///
    /// # Errors
    /// The first problem, as a [`SpecError::Invalid`] naming the source, line and key: an
    /// unknown key or agent, a wrong type, a value out of range, a `dir` that is not a
    /// directory.
    pub fn parse(text: &str, source: &str, base: &Path) -> Result<AgentsConfig, SpecError> {
        let document = parse_document(text, source)?;
        let mut config = AgentsConfig::defaults(source);
        let top = Table {
            text,
            file: source,
            prefix: String::new(),
            table: &document,
        };
        let Some(agents) = top.table("agents")? else {
            return Ok(config);
        };
        let names = builtin::agent_names();
        for (key, value) in agents.table.iter() {
            let key_name: &str = key.get_ref();
            let at = key.span().start;
            if key_name == "dir" {
                continue;
            }
            let is_table = matches!(value.get_ref(), DeValue::Table(_));
            if !names.contains(&key_name) {
                let message = if is_table {
                    format!("unknown agent; the agents are {}", names.join(", "))
                } else {
                    format!(
                        "unknown key; [agents] holds `dir` and one [agents.<name>] table per agent to \
                         change ({})",
                        names.join(", ")
                    )
                };
                return Err(agents.error(at, key_name, message));
            }
            let table = agents
                .table(key_name)?
                .ok_or_else(|| agents.error(at, key_name, "expected a table"))?;
            config
                .overrides
                .insert(key_name.to_owned(), read_override(&table, agents.line(at))?);
        }
        if let Some((dir, at)) = agents.string("dir")? {
            if dir.trim().is_empty() {
                return Err(agents.error(at, "dir", "empty; name a directory, or leave the key out"));
            }
            let path = base.join(&dir);
            if !path.is_dir() {
                let message = format!(
                    "{} is not a directory (a relative `dir` is relative to the config file's directory); \
                     create it or fix the path",
                    path.display()
                );
                return Err(agents.error(at, "dir", message));
            }
            config.dir = Some(path);
        }
        Ok(config)
    }
}

/// One `[agents.<name>]` table.
fn read_override(table: &Table<'_, '_>, header_line: usize) -> Result<AgentOverride, SpecError> {
    table.only(
        &["model", "model_calls", "tool_calls"],
        "check the spelling (config.toml at the repository root lists every key)",
    )?;
    let mut entry = AgentOverride {
        line: Some(header_line),
        ..AgentOverride::default()
    };
    if let Some((role, at)) = table.string("model")? {
        if !is_role_name(&role) {
            let message =
                format!("{role:?} is not a role name: a [llm.<role>] name (lowercase letters, digits, `_`, `-`)");
            return Err(table.error(at, "model", message));
        }
        entry.role = Some(role);
        entry.line = Some(table.line(at));
    }
    let (min, max) = MODEL_CALLS_RANGE;
    entry.model_calls = table.integer("model_calls", min, max)?.map(|calls| calls as u32);
    let (min, max) = TOOL_CALLS_RANGE;
    entry.tool_calls = table.integer("tool_calls", min, max)?.map(|calls| calls as u32);
    Ok(entry)
}
