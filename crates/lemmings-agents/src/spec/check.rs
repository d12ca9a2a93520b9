//! [`AgentSpecs::check`]: the names the agents use (tools, model roles, outputs) against what
//! exists, and no agent reaching itself through agents offered as tools.

use super::builtin::KNOWN_OUTPUTS;
use super::error::SpecError;
use super::{AgentSpec, AgentSpecs};

/// Where a value was written: a file, a line and a dotted key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Located {
    pub(super) file: String,
    pub(super) line: Option<usize>,
    pub(super) key: String,
}

/// Where an agent's checked names were written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Provenance {
    /// The agent file's `role`, or the config file's `[agents.<name>] model`.
    pub(super) role: Located,
    /// The line of each tool, in order.
    pub(super) tool_lines: Vec<usize>,
    /// The line of `output`.
    pub(super) output_line: Option<usize>,
}

pub(super) fn check(specs: &AgentSpecs, known_tools: &[&str], known_roles: &[&str]) -> Result<(), SpecError> {
    for agent in specs.agents.values() {
        let origin = specs.provenance.get(&agent.name);
        let role = origin.map(|origin| &origin.role);
        if !known_roles.contains(&agent.role.as_str()) {
            let message = format!(
                "agent `{}`: there is no model role `{}`; the roles are {}; name one of them, or add \
                 [llm.{}] to config.toml",
                agent.name,
                agent.role,
                list(known_roles),
                agent.role
            );
            let (file, line, key) = match role {
                Some(role) => (role.file.as_str(), role.line, role.key.as_str()),
                None => (agent.source.as_str(), None, "role"),
            };
            return Err(SpecError::invalid(file, line, Some(key), message));
        }
        for (index, tool) in agent.tools.iter().enumerate() {
            if !known_tools.contains(&tool.as_str()) {
                let line = origin.and_then(|origin| origin.tool_lines.get(index).copied());
                let message = format!(
                    "agent `{}`: there is no tool `{tool}`; the tools are {}",
                    agent.name,
                    list(known_tools)
                );
                return Err(SpecError::invalid(&agent.source, line, Some("tools"), message));
            }
        }
        if let Some(output) = &agent.output
            && !KNOWN_OUTPUTS.contains(&output.as_str())
        {
            let line = origin.and_then(|origin| origin.output_line);
            let message = format!(
                "agent `{}`: there is no output `{output}`; the outputs are {} (leave the key out for a \
                 free-text answer)",
                agent.name,
                list(KNOWN_OUTPUTS)
            );
            return Err(SpecError::invalid(&agent.source, line, Some("output"), message));
        }
    }
    for agent in specs.agents.values() {
        let mut path = vec![agent.name.as_str()];
        if let Some(cycle) = reaches_itself(specs, agent, &mut path) {
            let message = format!(
                "agent `{}` reaches itself through the agents offered as tools ({}); remove one of these \
                 tools",
                agent.name,
                cycle.join(" → ")
            );
            let first = agent.tools.iter().position(|tool| Some(&tool.as_str()) == cycle.get(1));
            let line = first.and_then(|index| {
                let origin = specs.provenance.get(&agent.name)?;
                origin.tool_lines.get(index).copied()
            });
            return Err(SpecError::invalid(&agent.source, line, Some("tools"), message));
        }
    }
    Ok(())
}

/// A path from `path[0]` back to itself through tools that are agents, if there is one.
fn reaches_itself<'a>(specs: &'a AgentSpecs, agent: &'a AgentSpec, path: &mut Vec<&'a str>) -> Option<Vec<&'a str>> {
    for tool in &agent.tools {
        let Some(callee) = specs.agents.get(tool) else { continue };
        if callee.name == path[0] {
            let mut cycle = path.clone();
            cycle.push(&callee.name);
            return Some(cycle);
        }
        if path.contains(&callee.name.as_str()) {
            continue;
        }
        path.push(&callee.name);
        if let Some(cycle) = reaches_itself(specs, callee, path) {
            return Some(cycle);
        }
        path.pop();
    }
    None
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
