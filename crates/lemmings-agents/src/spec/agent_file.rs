//! Reading one `agents/<name>.toml` file: every key checked (type, range, name syntax), with
//! the line of each value kept for the later checks against the configured tools and roles.

use super::error::SpecError;
use super::toml_read::{Table, is_name, is_role_name, parse_document};
use super::{Limits, SummarizationSpec};

/// The most model calls an agent file may allow per run.
const MAX_MODEL_CALLS: i64 = 10_000;
/// The most tool calls an agent file may allow per run.
const MAX_TOOL_CALLS: i64 = 100_000;

/// An agent file as read, before its prompt is resolved.
#[derive(Clone, Debug)]
pub(crate) struct AgentFile {
    pub(crate) description: String,
    pub(crate) role: String,
    pub(crate) role_line: usize,
    pub(crate) prompt: String,
    pub(crate) prompt_line: usize,
    /// Each tool with its line.
    pub(crate) tools: Vec<(String, usize)>,
    /// The output and its line.
    pub(crate) output: Option<(String, usize)>,
    pub(crate) limits: Limits,
    pub(crate) summarization: SummarizationSpec,
}

/// Reads the agent file `text` of the agent `name`; `file` names it in messages.
pub(crate) fn parse(name: &str, text: &str, file: &str) -> Result<AgentFile, SpecError> {
    let document = parse_document(text, file)?;
    let top = Table {
        text,
        file,
        prefix: String::new(),
        table: &document,
    };
    top.only(
        &[
            "description",
            "role",
            "prompt",
            "tools",
            "output",
            "limits",
            "summarization",
        ],
        "check the spelling (agents/README.md lists every key)",
    )?;

    let required = |key: &str, example: &str| {
        SpecError::invalid(
            file,
            None,
            Some(key),
            format!("missing; every agent file sets it, e.g. `{key} = {example}`"),
        )
    };
    let (description, at) = top
        .string("description")?
        .ok_or_else(|| required("description", "\"Plans the next task\""))?;
    if description.trim().is_empty() || description.contains('\n') || description.chars().count() > 200 {
        let message = "expected one non-empty line of at most 200 characters";
        return Err(top.error(at, "description", message));
    }
    let (role, at) = top.string("role")?.ok_or_else(|| required("role", "\"primary\""))?;
    if !is_role_name(&role) {
        let message = format!(
            "{role:?} is not a role name: a [llm.<role>] name of config.toml (lowercase letters, digits, `_`, `-`)"
        );
        return Err(top.error(at, "role", message));
    }
    let role_line = top.line(at);
    let (prompt, at) = top
        .string("prompt")?
        .ok_or_else(|| required("prompt", &format!("{name:?}")))?;
    if !is_name(&prompt) {
        let message = format!("{prompt:?} is not a prompt name: prompts/<name>.md, lowercase letters, digits and `_`");
        return Err(top.error(at, "prompt", message));
    }
    let prompt_line = top.line(at);

    let mut tools: Vec<(String, usize)> = Vec::new();
    for (tool, at) in top.strings("tools")?.unwrap_or_default() {
        if !is_name(&tool) {
            let message = format!("{tool:?} is not a tool name (lowercase letters, digits and `_`)");
            return Err(top.error(at, "tools", message));
        }
        if tools.iter().any(|(seen, _)| *seen == tool) {
            return Err(top.error(at, "tools", format!("`{tool}` is listed twice; list it once")));
        }
        tools.push((tool, top.line(at)));
    }
    let output = match top.string("output")? {
        Some((output, at)) if is_name(&output) => Some((output, top.line(at))),
        Some((output, at)) => {
            let message = format!(
                "{output:?} is not an output name (lowercase letters, digits and `_`); leave the key out \
                 for a free-text answer"
            );
            return Err(top.error(at, "output", message));
        }
        None => None,
    };

    let mut limits = Limits::default();
    if let Some(table) = top.table("limits")? {
        table.only(&["model_calls", "tool_calls", "reprompts"], "see agents/README.md")?;
        if let Some(calls) = table.integer("model_calls", 1, MAX_MODEL_CALLS)? {
            limits.model_calls = calls as u32;
        }
        if let Some(calls) = table.integer("tool_calls", 0, MAX_TOOL_CALLS)? {
            limits.tool_calls = calls as u32;
        }
        if let Some(reprompts) = table.integer("reprompts", 0, 10)? {
            limits.reprompts = reprompts as u32;
        }
    }
    let mut summarization = SummarizationSpec::default();
    if let Some(table) = top.table("summarization")? {
        table.only(
            &["enabled", "keep_messages", "trigger_fraction"],
            "see agents/README.md",
        )?;
        if let Some(enabled) = table.boolean("enabled")? {
            summarization.enabled = enabled;
        }
        if let Some(keep) = table.integer("keep_messages", 1, 1000)? {
            summarization.keep_messages = keep as usize;
        }
        if let Some(fraction) = table.fraction("trigger_fraction", 0.0, 1.0)? {
            summarization.trigger_fraction = fraction;
        }
    }

    Ok(AgentFile {
        description,
        role,
        role_line,
        prompt,
        prompt_line,
        tools,
        output,
        limits,
        summarization,
    })
}

/// The range of `model_calls` (for `[agents.<name>]` overrides too).
pub(crate) const MODEL_CALLS_RANGE: (i64, i64) = (1, MAX_MODEL_CALLS);
/// The range of `tool_calls` (for `[agents.<name>]` overrides too).
pub(crate) const TOOL_CALLS_RANGE: (i64, i64) = (0, MAX_TOOL_CALLS);
