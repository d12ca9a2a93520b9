//! The built-in agent and prompt files, embedded in lemmings-agents (so in any binary built on
//! it), and the variables the workflow gives each prompt (the contract between `prompts/*.md` and the code that renders them).

/// Declares the built-in files, naming each once: `AGENTS` (`agents/<name>.toml`), `PROMPTS`
/// (each agent's `prompts/<name>.md`, then each helper's) and `HELPER_PROMPTS`. A built-in
/// agent's prompt is named after it.
macro_rules! embedded {
    (agents: [$($agent:literal),* $(,)?], helpers: [$($helper:literal),* $(,)?] $(,)?) => {
        /// `(name, agents/<name>.toml)` for every built-in agent, sorted by name.
        pub(crate) const AGENTS: &[(&str, &str)] =
            &[$(($agent, include_str!(concat!("../../../../agents/", $agent, ".toml")))),*];

        /// `(name, prompts/<name>.md)` for every built-in prompt: the agents', then the helpers'.
        pub(crate) const PROMPTS: &[(&str, &str)] = &[
            $(($agent, include_str!(concat!("../../../../prompts/", $agent, ".md"))),)*
            $(($helper, include_str!(concat!("../../../../prompts/", $helper, ".md"))),)*
        ];

        /// The prompts used by no agent but by helpers: the summarization middleware, the
        /// status-line summarizer and the normaliser's field compression.
        pub const HELPER_PROMPTS: &[&str] = &[$($helper),*];
    };
}

embedded! {
    agents: [
        "ask",
        "assessor",
        "coder",
        "deep_research",
        "explain_code",
        "implementor",
        "qa",
        "report",
        "scope_initial",
        "scope_review",
        "supervisor",
        "task_planner",
    ],
    helpers: ["compress", "status", "summarize"],
}

/// The structured outputs Lemmings knows how to read (an agent file's `output`; the model
/// submits one with `submit_<name>`): those `workflow::outputs::output_schema` builds.
pub const KNOWN_OUTPUTS: &[&str] = &crate::workflow::outputs::OUTPUT_NAMES;

/// The variables given to each agent's prompt (by agent name) and to each helper prompt (by
/// prompt name); a prompt may use any of them and no other. `prompts/README.md` describes them.
pub const PROMPT_VARIABLES: &[(&str, &[&str])] = &[
    ("ask", &["query"]),
    (
        "assessor",
        &[
            "remit",
            "milestones",
            "milestone",
            "done_list",
            "completed_tasks",
            "open_tasks",
            "stats",
            "directives",
            "escalation",
        ],
    ),
    ("coder", &["request"]),
    ("compress", &["field", "max_chars", "text"]),
    ("deep_research", &["query"]),
    ("explain_code", &["query"]),
    (
        "implementor",
        &[
            "workspace",
            "project_context",
            "task",
            "plan",
            "done_list",
            "carry_forward",
            "retry_context",
        ],
    ),
    ("qa", &["task", "plan", "implementation", "verification", "diff"]),
    (
        "report",
        &[
            "remit",
            "milestones",
            "stats",
            "completed_tasks",
            "failed_tasks",
            "status",
            "error",
            "assessment",
        ],
    ),
    ("scope_initial", &["user_request", "workspace", "project_context"]),
    (
        "scope_review",
        &[
            "user_request",
            "workspace",
            "project_context",
            "remit",
            "milestones",
            "done_list",
            "assessment",
        ],
    ),
    ("status", &["node", "text", "max_chars"]),
    ("summarize", &["agent", "messages"]),
    (
        "supervisor",
        &[
            "remit",
            "milestone",
            "done_list",
            "task",
            "events",
            "directives",
            "knowledge",
            "stats",
        ],
    ),
    (
        "task_planner",
        &[
            "workspace",
            "project_context",
            "remit",
            "milestone",
            "done_list",
            "carry_forward",
            "task",
            "retry_context",
            "correction_hint",
            "directives",
        ],
    ),
];

/// The built-in agents' names, sorted.
pub(crate) fn agent_names() -> Vec<&'static str> {
    AGENTS.iter().map(|(name, _)| *name).collect()
}

/// The variables given to the agent or helper prompt `name` (empty for an unknown name).
pub(crate) fn variables_of(name: &str) -> &'static [&'static str] {
    PROMPT_VARIABLES
        .iter()
        .find(|(known, _)| *known == name)
        .map_or(&[], |(_, variables)| *variables)
}

/// Every built-in file as `(path relative to the repository root, text)`: `agents/*.toml`
/// then `prompts/*.md`.
pub fn builtin_files() -> impl Iterator<Item = (String, &'static str)> {
    let agents = AGENTS.iter().map(|(name, text)| (format!("agents/{name}.toml"), *text));
    let prompts = PROMPTS.iter().map(|(name, text)| (format!("prompts/{name}.md"), *text));
    agents.chain(prompts)
}
