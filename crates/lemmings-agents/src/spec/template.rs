//! [`PromptTemplate`]: a `prompts/<name>.md` file split at its `--- task ---` line into the
//! system prompt and the task message, each a sequence of text and `{{name}}` placeholders.
//! Placeholders are checked when the file is loaded; values are filled in one pass, so a value
//! holding `{{` is never expanded again.

use std::collections::{BTreeMap, BTreeSet};

use super::error::SpecError;

/// The line between the system part and the task part of a prompt file.
pub const TASK_SEPARATOR: &str = "--- task ---";

/// What an empty (or blank) value renders as, so that a section never looks cut off.
pub const EMPTY_VALUE: &str = "(none)";

/// A prompt template: the system prompt and the task message of an agent (or of a helper
/// prompt such as `summarize`), with `{{name}}` placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptTemplate {
    name: String,
    source: String,
    agent: Option<String>,
    system: Vec<Piece>,
    task: Vec<Piece>,
}

/// A run of literal text or a placeholder (with its 1-based line in the file).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var { name: String, line: usize },
}

impl PromptTemplate {
    /// Parses a prompt file's text. `name` is the prompt's name (`task_planner`) and `source`
    /// names the file in messages (`built-in prompts/task_planner.md` or a path).
    ///
    /// # Errors
    /// [`SpecError::Invalid`] with the line: no `--- task ---` line or more than one, an empty
    /// system or task part, or a `{{` that does not start a `{{name}}` placeholder (names are
    /// lowercase ASCII letters, digits and `_`).
    pub fn parse(name: &str, text: &str, source: &str) -> Result<PromptTemplate, SpecError> {
        let mut separators = text
            .split('\n')
            .enumerate()
            .filter(|(_, line)| line.trim_end() == TASK_SEPARATOR)
            .map(|(index, _)| index);
        let Some(at) = separators.next() else {
            let message = format!(
                "no `{TASK_SEPARATOR}` line; put one on a line of its own between the system prompt \
                 (above) and the task message (below)"
            );
            return Err(SpecError::invalid(source, None, None, message));
        };
        if let Some(again) = separators.next() {
            let message = format!("a second `{TASK_SEPARATOR}` line; a prompt has exactly one");
            return Err(SpecError::invalid(source, Some(again + 1), None, message));
        }
        let lines: Vec<&str> = text.split('\n').collect();
        let system_text = lines[..at].join("\n");
        let task_text = lines[at + 1..].join("\n");
        for (part, what, line) in [
            (&system_text, "system prompt", at + 1),
            (&task_text, "task message", at + 1),
        ] {
            if part.trim().is_empty() {
                let message = format!("the {what} is empty; write it, or remove the file to use the built-in one");
                return Err(SpecError::invalid(source, Some(line), None, message));
            }
        }
        Ok(PromptTemplate {
            name: name.to_owned(),
            source: source.to_owned(),
            agent: None,
            system: pieces(&system_text, 1, source)?,
            task: pieces(&task_text, at + 2, source)?,
        })
    }

    /// This template as used by `agent` (named in rendering errors).
    pub(crate) fn for_agent(mut self, agent: &str) -> Self {
        self.agent = Some(agent.to_owned());
        self
    }

    /// The prompt's name (`task_planner`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it came from (`built-in prompts/task_planner.md` or a path).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every variable the template uses, in the system part or the task part.
    pub fn variables(&self) -> BTreeSet<String> {
        self.system
            .iter()
            .chain(&self.task)
            .filter_map(|piece| match piece {
                Piece::Var { name, .. } => Some(name.clone()),
                Piece::Text(_) => None,
            })
            .collect()
    }

    /// The first variable (by position) not in `allowed`, with its line.
    pub(crate) fn first_unknown(&self, allowed: &[&str]) -> Option<(&str, usize)> {
        self.system.iter().chain(&self.task).find_map(|piece| match piece {
            Piece::Var { name, line } if !allowed.contains(&name.as_str()) => Some((name.as_str(), *line)),
            _ => None,
        })
    }

    /// The system prompt with `vars` filled in (variables it does not use are ignored).
    ///
    /// # Errors
    /// [`SpecError::MissingVariable`] naming the agent, the prompt, the line and the variable.
    pub fn render_system(&self, vars: &BTreeMap<String, String>) -> Result<String, SpecError> {
        self.render(&self.system, vars)
    }

    /// The task message with `vars` filled in (variables it does not use are ignored). An
    /// empty or blank value renders as `(none)`.
    ///
    /// # Errors
    /// [`SpecError::MissingVariable`] naming the agent, the prompt, the line and the variable.
    pub fn render_task(&self, vars: &BTreeMap<String, String>) -> Result<String, SpecError> {
        self.render(&self.task, vars)
    }

    fn render(&self, pieces: &[Piece], vars: &BTreeMap<String, String>) -> Result<String, SpecError> {
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Var { name, line } => {
                    let value = vars.get(name).ok_or_else(|| SpecError::MissingVariable {
                        agent: self.agent.clone(),
                        prompt: self.source.clone(),
                        line: *line,
                        variable: name.clone(),
                    })?;
                    let value = value.trim_end();
                    out.push_str(if value.trim().is_empty() { EMPTY_VALUE } else { value });
                }
            }
        }
        Ok(out.trim().to_owned())
    }
}

/// Splits `text` (whose first line is line `first_line` of the file) into pieces.
fn pieces(text: &str, first_line: usize, source: &str) -> Result<Vec<Piece>, SpecError> {
    let text = text.trim_end();
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        literal.push_str(&rest[..at]);
        let line = first_line + text[..text.len() - rest.len() + at].matches('\n').count();
        let after = &rest[at + 2..];
        let length = after
            .bytes()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        if length == 0 || !after[length..].starts_with("}}") {
            let shown: String = rest[at..].chars().take_while(|c| *c != '\n').take(24).collect();
            let message = format!(
                "`{shown}` is not a placeholder: write `{{{{name}}}}` with lowercase letters, digits and \
                 `_` (e.g. `{{{{user_request}}}}`); a literal `{{{{` cannot appear in a prompt"
            );
            return Err(SpecError::invalid(source, Some(line), None, message));
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut literal)));
        }
        pieces.push(Piece::Var {
            name: after[..length].to_owned(),
            line,
        });
        rest = &after[length + 2..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}
