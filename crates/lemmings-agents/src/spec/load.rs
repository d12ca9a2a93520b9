//! Loading the agent specs: the built-in texts, replaced by the files of the override
//! directory, parsed, joined to their prompts, then changed by the `[agents.<name>]` overrides.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::check::{Located, Provenance};
use super::error::SpecError;
use super::template::PromptTemplate;
use super::toml_read::is_name;
use super::{AgentSpec, AgentSpecs, AgentsConfig, agent_file, builtin};

/// A file's text and its name in messages.
struct Source {
    text: String,
    file: String,
}

pub(super) fn load(config: &AgentsConfig) -> Result<AgentSpecs, SpecError> {
    let mut agent_texts: BTreeMap<String, Source> = builtin::AGENTS
        .iter()
        .map(|(name, text)| ((*name).to_owned(), builtin_source("agents", name, "toml", text)))
        .collect();
    let mut prompt_texts: BTreeMap<String, Source> = builtin::PROMPTS
        .iter()
        .map(|(name, text)| ((*name).to_owned(), builtin_source("prompts", name, "md", text)))
        .collect();
    let mut dir_prompts = Vec::new();
    if let Some(dir) = &config.dir {
        for (name, kind, source) in read_dir(dir)? {
            match kind {
                Kind::Agent => {
                    agent_texts.insert(name, source);
                }
                Kind::Prompt => {
                    dir_prompts.push((name.clone(), source.file.clone()));
                    prompt_texts.insert(name, source);
                }
            }
        }
    }

    let mut prompts = BTreeMap::new();
    for (name, source) in &prompt_texts {
        prompts.insert(name.clone(), PromptTemplate::parse(name, &source.text, &source.file)?);
    }
    for helper in builtin::HELPER_PROMPTS {
        if let Some(template) = prompts.get(*helper) {
            allowed_variables(template, helper, "the helper prompt")?;
        }
    }

    let mut agents = BTreeMap::new();
    let mut provenance = BTreeMap::new();
    for (name, source) in &agent_texts {
        let file = agent_file::parse(name, &source.text, &source.file)?;
        let Some(template) = prompts.get(&file.prompt) else {
            let message = format!(
                "there is no prompt `{}` (prompts/{}.md); the prompts are {}",
                file.prompt,
                file.prompt,
                prompts.keys().cloned().collect::<Vec<_>>().join(", ")
            );
            return Err(SpecError::invalid(
                &source.file,
                Some(file.prompt_line),
                Some("prompt"),
                message,
            ));
        };
        allowed_variables(template, name, "agent")?;
        provenance.insert(
            name.clone(),
            Provenance {
                role: Located {
                    file: source.file.clone(),
                    line: Some(file.role_line),
                    key: "role".to_owned(),
                },
                tool_lines: file.tools.iter().map(|(_, line)| *line).collect(),
                output_line: file.output.as_ref().map(|(_, line)| *line),
            },
        );
        agents.insert(
            name.clone(),
            AgentSpec {
                name: name.clone(),
                description: file.description,
                role: file.role,
                prompt: template.clone().for_agent(name),
                tools: file.tools.into_iter().map(|(tool, _)| tool).collect(),
                output: file.output.map(|(output, _)| output),
                limits: file.limits,
                summarization: file.summarization,
                source: source.file.clone(),
            },
        );
    }

    // A prompt file in the directory that nothing uses is most likely misnamed.
    let used: BTreeSet<&str> = agents
        .values()
        .map(|agent| agent.prompt.name())
        .chain(builtin::PROMPTS.iter().map(|(name, _)| *name))
        .collect();
    for (name, file) in &dir_prompts {
        if !used.contains(name.as_str()) {
            let message = format!(
                "no agent uses the prompt `{name}` and it replaces no built-in prompt; rename it after one of \
                 {}, or name it in an agent file's `prompt`",
                used.iter().copied().collect::<Vec<_>>().join(", ")
            );
            return Err(SpecError::invalid(file, None, None, message));
        }
    }

    for (name, entry) in &config.overrides {
        let Some(agent) = agents.get_mut(name) else {
            let message = format!("unknown agent; the agents are {}", builtin::agent_names().join(", "));
            return Err(SpecError::invalid(
                &config.source,
                entry.line,
                Some(&format!("agents.{name}")),
                message,
            ));
        };
        if let Some(role) = &entry.role {
            agent.role = role.clone();
            if let Some(origin) = provenance.get_mut(name) {
                origin.role = Located {
                    file: config.source.clone(),
                    line: entry.line,
                    key: format!("agents.{name}.model"),
                };
            }
        }
        if let Some(calls) = entry.model_calls {
            agent.limits.model_calls = calls;
        }
        if let Some(calls) = entry.tool_calls {
            agent.limits.tool_calls = calls;
        }
    }

    Ok(AgentSpecs {
        agents,
        prompts,
        provenance,
    })
}

fn builtin_source(folder: &str, name: &str, extension: &str, text: &str) -> Source {
    Source {
        text: text.to_owned(),
        file: format!("built-in {folder}/{name}.{extension}"),
    }
}

/// Refuses a variable the workflow does not give to `name` (an agent or a helper prompt).
fn allowed_variables(template: &PromptTemplate, name: &str, what: &str) -> Result<(), SpecError> {
    let allowed = builtin::variables_of(name);
    match template.first_unknown(allowed) {
        None => Ok(()),
        Some((variable, line)) => {
            let message = format!(
                "`{{{{{variable}}}}}` is not given to {what} `{name}`; its variables are {} \
                 (prompts/README.md describes them)",
                allowed.join(", ")
            );
            Err(SpecError::invalid(template.source(), Some(line), None, message))
        }
    }
}

enum Kind {
    Agent,
    Prompt,
}

/// The agent and prompt files of the override directory, sorted by file name. `README.md`,
/// hidden files, subdirectories and other extensions are skipped.
fn read_dir(dir: &Path) -> Result<Vec<(String, Kind, Source)>, SpecError> {
    let read_error = |path: &Path, source| SpecError::Read {
        path: path.to_owned(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|error| read_error(dir, error))? {
        let entry = entry.map_err(|error| read_error(dir, error))?;
        paths.push(entry.path());
    }
    paths.sort();
    let agents = builtin::agent_names();
    let mut files = Vec::new();
    for path in paths {
        let (Some(stem), Some(extension)) = (
            path.file_stem().and_then(|s| s.to_str()),
            path.extension().and_then(|s| s.to_str()),
        ) else {
            continue;
        };
        let kind = match extension {
            "toml" => Kind::Agent,
            "md" => Kind::Prompt,
            _ => continue,
        };
        if stem.starts_with('.') || stem.eq_ignore_ascii_case("readme") || path.is_dir() {
            continue;
        }
        let file = path.display().to_string();
        match kind {
            Kind::Agent if !agents.contains(&stem) => {
                let message = format!(
                    "`{stem}` is not an agent; an agent file replaces one of {} (new agents need code)",
                    agents.join(", ")
                );
                return Err(SpecError::invalid(&file, None, None, message));
            }
            Kind::Prompt if !is_name(stem) => {
                let message =
                    format!("`{stem}` is not a prompt name; use lowercase letters, digits and `_` (e.g. qa.md)");
                return Err(SpecError::invalid(&file, None, None, message));
            }
            _ => {}
        }
        let text = std::fs::read_to_string(&path).map_err(|error| read_error(&path, error))?;
        files.push((stem.to_owned(), kind, Source { text, file }));
    }
    Ok(files)
}
