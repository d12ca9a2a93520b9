//! Building the agents of the workflow from their specs: each agent's model (its role), tools
//! (the workspace's file tools, `run_command` when commands are allowed, and the agents offered
//! as tools), middleware (call limits, summarization on the summarizer role), structured output
//! and normaliser.

use std::collections::BTreeMap;
use std::sync::Arc;

use lemmings_models::{ChatModel, LlmRegistry};
use lemmings_tools::command::{CommandPolicy, RunCommand};
use lemmings_tools::{Tool, Workspace, file_tools};

use super::WorkflowError;
use crate::agent::Agent;
use crate::agent::limits::{ModelCallLimit, ToolCallLimit};
use crate::normalise::Normaliser;
use crate::spec::{AgentSpec, AgentSpecs};
use crate::subagents::Subagent;
use crate::summarize::{SummarizationConfig, SummarizationMiddleware};
use crate::workflow::outputs::output_schema;

/// The agents offered as tools, with the most characters of their answers.
pub(crate) const SUBAGENTS: &[(&str, usize)] = &[
    ("ask", 600),
    ("coder", 1500),
    ("deep_research", 3000),
    ("explain_code", 2000),
];

/// The workspace tools by name.
pub(crate) const WORKSPACE_TOOLS: &[&str] = &[
    "edit_file",
    "git_diff",
    "glob",
    "grep",
    "list_dir",
    "read_file",
    "run_command",
    "write_file",
];

/// Every tool name an agent file may use.
pub(crate) fn known_tools() -> Vec<&'static str> {
    WORKSPACE_TOOLS
        .iter()
        .copied()
        .chain(SUBAGENTS.iter().map(|(name, _)| *name))
        .collect()
}

/// What the agents are built from, and the tools built so far.
pub(crate) struct Kit<'a> {
    specs: &'a AgentSpecs,
    models: &'a LlmRegistry,
    base: BTreeMap<String, Arc<dyn Tool>>,
    built: BTreeMap<String, Option<Arc<dyn Tool>>>,
    summarizer: Arc<dyn ChatModel>,
    /// One line per feature switched off (a subagent whose role is off).
    pub(crate) notices: Vec<String>,
}

impl<'a> Kit<'a> {
    /// The kit for `specs` on `models`' roles in `workspace`; `run_command` is offered under
    /// `commands` when some are allowed.
    pub(crate) fn new(
        specs: &'a AgentSpecs,
        models: &'a LlmRegistry,
        workspace: &Arc<Workspace>,
        commands: Option<Arc<CommandPolicy>>,
    ) -> Result<Kit<'a>, WorkflowError> {
        let mut base: BTreeMap<String, Arc<dyn Tool>> = file_tools(workspace.clone())
            .into_iter()
            .map(|tool| (tool.name().to_owned(), tool))
            .collect();
        if let Some(policy) = commands {
            let run: Arc<dyn Tool> = Arc::new(RunCommand::new(workspace.root(), policy));
            base.insert(run.name().to_owned(), run);
        }
        let summarizer = match models.optional("summarizer") {
            Some(model) => model,
            None => models.get("primary")?,
        };
        Ok(Kit {
            specs,
            models,
            base,
            built: BTreeMap::new(),
            summarizer,
            notices: Vec::new(),
        })
    }

    /// The summarizer role's model (the primary when no summarizer is configured; the role's
    /// own `fallback` applies when it is down).
    pub(crate) fn summarizer(&self) -> Arc<dyn ChatModel> {
        self.summarizer.clone()
    }

    /// The spec of `name`.
    pub(crate) fn spec(&self, name: &str) -> Result<&'a AgentSpec, WorkflowError> {
        self.specs
            .get(name)
            .ok_or_else(|| WorkflowError::MissingAgent { name: name.to_owned() })
    }

    /// Whether the role of `name`'s spec is switched on.
    pub(crate) fn role_on(&self, spec: &AgentSpec) -> bool {
        self.models.optional(&spec.role).is_some()
    }

    /// Why `spec`'s role is off, for a notice.
    pub(crate) fn role_off_reason(&self, spec: &AgentSpec) -> String {
        self.models
            .disabled_roles()
            .find(|disabled| disabled.name == spec.role)
            .map_or_else(|| "it is not configured".to_owned(), |disabled| disabled.reason.clone())
    }

    /// The agent `spec` describes, with its system prompt rendered without variables when
    /// `static_prompt` (subagents; workflow agents get theirs rendered per run). The specs must
    /// have passed `AgentSpecs::check`, which rules out unknown outputs and agents reaching
    /// themselves through the agents they are offered (this recursion relies on it).
    pub(crate) fn agent(&mut self, spec: &AgentSpec, static_prompt: bool) -> Result<Agent, WorkflowError> {
        let model = self.models.get(&spec.role)?;
        let mut agent = Agent::new(spec.name.clone(), model)
            .with_max_reprompts(spec.limits.reprompts)
            .with_context_tokens(
                self.models
                    .config(&spec.role)
                    .and_then(|role| role.context_tokens)
                    .map(u64::from),
            )
            .with_middleware(Arc::new(ModelCallLimit {
                limit: spec.limits.model_calls,
            }))
            .with_middleware(Arc::new(ToolCallLimit {
                limit: spec.limits.tool_calls,
            }));
        if static_prompt {
            agent = agent.with_system_prompt(spec.prompt.render_system(&BTreeMap::new())?);
        }
        if spec.summarization.enabled {
            let config = SummarizationConfig {
                keep_messages: spec.summarization.keep_messages,
                trigger_fraction: spec.summarization.trigger_fraction,
                ..SummarizationConfig::default()
            };
            agent = agent.with_middleware(Arc::new(SummarizationMiddleware::new(self.summarizer(), config)));
        }
        if let Some(output) = &spec.output {
            // An unknown output was refused by the spec check.
            let schema = output_schema(output).ok_or_else(|| WorkflowError::MissingAgent {
                name: format!("{} (its output `{output}` is unknown)", spec.name),
            })?;
            agent = agent
                .with_output(schema)
                .with_normaliser(Normaliser::new(Some(self.summarizer())));
        }
        let mut tools = Vec::new();
        for name in &spec.tools {
            if let Some(tool) = self.tool(name)? {
                tools.push(tool);
            }
        }
        Ok(agent.with_tools(tools))
    }

    /// The tool `name`, `None` when it is off (`run_command` without allowed commands, a
    /// subagent whose role is off).
    fn tool(&mut self, name: &str) -> Result<Option<Arc<dyn Tool>>, WorkflowError> {
        if let Some(tool) = self.base.get(name) {
            return Ok(Some(tool.clone()));
        }
        if let Some(built) = self.built.get(name) {
            return Ok(built.clone());
        }
        let Some((_, max_chars)) = SUBAGENTS.iter().find(|(known, _)| *known == name) else {
            // `run_command` when no command is allowed (the spec check rules out other names).
            return Ok(None);
        };
        let spec = self.spec(name)?;
        if !self.role_on(spec) {
            let reason = self.role_off_reason(spec);
            self.notices.push(format!(
                "`{name}` is not offered to the agents: its role `{}` is off ({reason})",
                spec.role
            ));
            self.built.insert(name.to_owned(), None);
            return Ok(None);
        }
        let agent = self.agent(spec, true)?;
        // The prompt's task part wraps the call's argument: `{{request}}` for the coder,
        // `{{query}}` for the others.
        let variable = if name == "coder" { "request" } else { "query" };
        let mut subagent = Subagent::new(name, spec.description.clone(), spec.role.clone(), *max_chars, agent)?
            .with_task_template(spec.prompt.clone(), variable);
        if name == "coder" {
            subagent = subagent.with_side_effects();
        }
        let tool: Arc<dyn Tool> = Arc::new(subagent);
        self.built.insert(name.to_owned(), Some(tool.clone()));
        Ok(Some(tool))
    }
}

/// The configured API keys' values, scrubbed from commands' environment and output.
pub(crate) fn secrets(models: &LlmRegistry) -> Vec<String> {
    models
        .roles()
        .filter_map(|role| models.config(role))
        .filter_map(|config| config.api_key.as_ref())
        .map(|key| key.expose().to_owned())
        .collect()
}
