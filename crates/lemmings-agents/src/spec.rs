//! Agent definitions as data: `agents/<name>.toml` (model role, tools, prompt, structured
//! output, limits, summarization) and `prompts/<name>.md` (the system prompt and the task
//! message, split at a `--- task ---` line, with `{{name}}` placeholders). The built-in files are
//! embedded in lemmings-agents (so in any binary built on it); the `[agents]` section of
//! `config.toml` can replace any of them with the files of a directory and change an agent's
//! role and limits without recompiling.
//!
//! Loading order: built-ins → the `dir`'s files (whole files replace whole files) →
//! `[agents.<name>]` overrides. [`AgentSpecs::load`] checks what a file alone can say (keys,
//! types, ranges, placeholders, the prompt each agent names, the variables each prompt uses);
//! [`AgentSpecs::check`] then checks the names against what exists (tools, model roles,
//! outputs) once those are known.

mod agent_file;
mod builtin;
mod check;
mod config;
mod error;
mod load;
mod template;
pub(crate) mod toml_read;

use std::collections::BTreeMap;

use crate::summarize::SummarizationConfig;

pub(crate) use self::builtin::variables_of;
pub use self::builtin::{HELPER_PROMPTS, KNOWN_OUTPUTS, PROMPT_VARIABLES, builtin_files};
pub use self::config::{AgentOverride, AgentsConfig};
pub use self::error::SpecError;
pub use self::template::{EMPTY_VALUE, PromptTemplate, TASK_SEPARATOR};

/// One agent, as its files and the config describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentSpec {
    /// The agent's name (its file's name: `agents/<name>.toml`).
    pub name: String,
    /// One line saying what the agent does.
    pub description: String,
    /// The model role it runs on (a `[llm.<role>]` name).
    pub role: String,
    /// Its prompt: the system prompt and the task message.
    pub prompt: PromptTemplate,
    /// The tools it is offered, by name, in the file's order.
    pub tools: Vec<String>,
    /// The structured output it submits (with `submit_<output>`); `None`: a free-text answer.
    pub output: Option<String>,
    /// Per-run call limits.
    pub limits: Limits,
    /// The summarization middleware's settings.
    pub summarization: SummarizationSpec,
    /// Where the agent file came from: `built-in agents/<name>.toml` or the override's path.
    pub source: String,
}

/// Per-run call limits of an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most model calls in one run (re-prompts included); default 40.
    pub model_calls: u32,
    /// The most tool calls in one run (later calls are refused, the run goes on); default 60.
    pub tool_calls: u32,
    /// How many times an invalid structured output is sent back with its errors; default 2.
    pub reprompts: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            model_calls: 40,
            tool_calls: 60,
            reprompts: 2,
        }
    }
}

/// The summarization middleware's settings for an agent (it runs on the `summarizer` role).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SummarizationSpec {
    /// Whether old messages are summarized when the conversation grows; default false.
    pub enabled: bool,
    /// The most recent messages kept as they are; default 10.
    pub keep_messages: usize,
    /// Summarize when the conversation fills this fraction of the model's context; default 0.75.
    pub trigger_fraction: f64,
}

impl Default for SummarizationSpec {
    /// Off, with the middleware's own defaults ([`SummarizationConfig::default`]).
    fn default() -> Self {
        let config = SummarizationConfig::default();
        SummarizationSpec {
            enabled: false,
            keep_messages: config.keep_messages,
            trigger_fraction: config.trigger_fraction,
        }
    }
}

/// Every agent (by name) and every prompt, loaded and checked for what the files alone can say.
/// Two are equal when their agents and prompts are (where a value was written is not compared).
#[derive(Clone, Debug)]
pub struct AgentSpecs {
    agents: BTreeMap<String, AgentSpec>,
    prompts: BTreeMap<String, PromptTemplate>,
    /// Where each agent's checked names were written, for [`AgentSpecs::check`]'s messages.
    provenance: BTreeMap<String, check::Provenance>,
}

impl PartialEq for AgentSpecs {
    fn eq(&self, other: &Self) -> bool {
        self.agents == other.agents && self.prompts == other.prompts
    }
}

impl AgentSpecs {
    /// The built-in agents and prompts.
    ///
    /// # Errors
    /// Only if a built-in file is broken, which the crate's tests rule out.
    pub fn builtin() -> Result<AgentSpecs, SpecError> {
        AgentSpecs::load(&AgentsConfig::default())
    }

    /// The built-in agents and prompts, then the files of `config.dir` in their place, then the
    /// `[agents.<name>]` overrides.
    ///
    /// # Errors
    /// The first problem found, naming its file, line and key: a file that cannot be read, an
    /// agent file or prompt that is invalid, a prompt that no agent uses or that uses a variable
    /// its agent is not given, an agent naming a prompt that does not exist.
    pub fn load(config: &AgentsConfig) -> Result<AgentSpecs, SpecError> {
        load::load(config)
    }

    /// The agent `name`.
    pub fn get(&self, name: &str) -> Option<&AgentSpec> {
        self.agents.get(name)
    }

    /// The agents' names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.agents.keys().map(String::as_str)
    }

    /// Every agent, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &AgentSpec> {
        self.agents.values()
    }

    /// The prompt `name` (e.g. the helper prompts `summarize`, `status` and `compress`).
    pub fn prompt(&self, name: &str) -> Option<&PromptTemplate> {
        self.prompts.get(name)
    }

    /// Checks the names the agents use against what exists: every tool in `known_tools`,
    /// every role in `known_roles`, every output in [`KNOWN_OUTPUTS`], and no agent reaching
    /// itself through agents offered as tools (`ask` offering `explain_code` offering `ask`).
    ///
    /// # Errors
    /// The first unknown name, as a [`SpecError::Invalid`] naming the file that wrote it (the
    /// agent file, or the config file for an overridden role), its line and key, and listing
    /// what exists.
    pub fn check(&self, known_tools: &[&str], known_roles: &[&str]) -> Result<(), SpecError> {
        check::check(self, known_tools, known_roles)
    }
}
