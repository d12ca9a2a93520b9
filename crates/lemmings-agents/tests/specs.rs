//! Agent definitions as data: the built-in `agents/*.toml` and `prompts/*.md` (embedded, in
//! step with the folders, checked against the real tools and the repository's roles), prompt
//! rendering, the override directory, `[agents.<name>]` overrides, and every refusal naming its
//! file, line and key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use expect_test::{Expect, expect};
use lemmings_agents::spec::{
    AgentOverride, AgentSpecs, AgentsConfig, HELPER_PROMPTS, PROMPT_VARIABLES, PromptTemplate, SpecError, builtin_files,
};
use lemmings_models::LlmConfig;
use lemmings_tools::TypedTool;
use lemmings_tools::command::RunCommand;
use lemmings_tools::files::{EditFile, ReadFile, WriteFile};
use lemmings_tools::git::GitDiff;
use lemmings_tools::search::{Glob, Grep, ListDir};

const REPO_CONFIG: &str = include_str!("../../../config.toml");
const PROMPTS_README: &str = include_str!("../../../prompts/README.md");
const AGENTS_README: &str = include_str!("../../../agents/README.md");

/// The repository config.toml's commented `[agents]` block: every key, at its default.
fn documented_block() -> String {
    REPO_CONFIG
        .lines()
        .skip_while(|line| *line != "# [agents]")
        .take_while(|line| line.starts_with("# ") || line.starts_with("#  "))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The names of the tools Lemmings has: the tools crate's and the agents offered as tools.
fn tool_names() -> Vec<&'static str> {
    vec![
        ReadFile::NAME,
        WriteFile::NAME,
        EditFile::NAME,
        ListDir::NAME,
        Glob::NAME,
        Grep::NAME,
        GitDiff::NAME,
        RunCommand::NAME,
        "ask",
        "explain_code",
        "deep_research",
        "coder",
    ]
}

/// The roles of the repository's config.toml, optional ones included.
fn repo_roles() -> Vec<String> {
    let config = LlmConfig::parse(REPO_CONFIG, "config.toml", &|_| Some("set".to_owned())).expect("config.toml parses");
    config.roles.keys().chain(config.disabled.keys()).cloned().collect()
}

fn check_against_repo(specs: &AgentSpecs) -> Result<(), SpecError> {
    let roles = repo_roles();
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    specs.check(&tool_names(), &roles)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The template of an agent, or a helper prompt.
fn template<'a>(specs: &'a AgentSpecs, name: &str) -> &'a PromptTemplate {
    specs
        .get(name)
        .map(|agent| &agent.prompt)
        .or_else(|| specs.prompt(name))
        .unwrap_or_else(|| panic!("no agent or prompt `{name}`"))
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn builtin_agents_pass_the_check_against_the_real_tools_and_the_repository_roles() {
    let specs = AgentSpecs::builtin().expect("the built-in agents load");
    check_against_repo(&specs).expect("the built-in agents name only tools, roles and outputs that exist");
    let table: String = specs
        .iter()
        .map(|agent| {
            format!(
                "{:<13} {:<10} {:<14} calls {:>2}/{:>2} re {} sum {:<5} {} [{}]\n",
                agent.name,
                agent.role,
                agent.output.as_deref().unwrap_or("(text)"),
                agent.limits.model_calls,
                agent.limits.tool_calls,
                agent.limits.reprompts,
                agent.summarization.enabled,
                agent.source,
                agent.tools.join(", ")
            )
        })
        .collect();
    expect![[r#"
        ask           primary    (text)         calls 10/15 re 0 sum true  built-in agents/ask.toml [read_file, list_dir, glob, grep]
        assessor      primary    assessment     calls  4/ 0 re 2 sum false built-in agents/assessor.toml []
        coder         primary    code_change    calls 25/40 re 2 sum true  built-in agents/coder.toml [read_file, edit_file, write_file, grep, glob]
        deep_research research   (text)         calls  3/ 0 re 0 sum false built-in agents/deep_research.toml []
        explain_code  primary    (text)         calls 20/30 re 0 sum true  built-in agents/explain_code.toml [read_file, list_dir, glob, grep]
        implementor   primary    implementation calls 40/60 re 2 sum true  built-in agents/implementor.toml [read_file, grep, glob, ask, coder, run_command]
        qa            primary    qa             calls 20/30 re 2 sum false built-in agents/qa.toml [read_file, grep, glob, git_diff, run_command]
        report        primary    (text)         calls  2/ 0 re 0 sum false built-in agents/report.toml []
        scope_initial primary    scope          calls 30/40 re 2 sum false built-in agents/scope_initial.toml [list_dir, ask, explain_code, deep_research]
        scope_review  primary    scope          calls 30/40 re 2 sum false built-in agents/scope_review.toml [list_dir, ask, explain_code, deep_research]
        supervisor    supervisor supervision    calls 15/20 re 2 sum false built-in agents/supervisor.toml [read_file, grep, glob, git_diff]
        task_planner  primary    plan           calls 30/40 re 2 sum true  built-in agents/task_planner.toml [read_file, grep, glob, ask, explain_code]
    "#]].assert_eq(&table);
    for agent in specs.iter() {
        assert_eq!(agent.prompt.name(), agent.name, "each agent has its own prompt");
        assert_eq!(agent.summarization.keep_messages, 10);
        assert_eq!(agent.summarization.trigger_fraction, 0.75);
    }
}

#[test]
fn every_file_of_agents_and_prompts_is_built_in_and_every_built_in_is_a_file() {
    let mut on_disk = BTreeMap::new();
    for folder in ["agents", "prompts"] {
        for entry in std::fs::read_dir(repo_root().join(folder)).expect("the folder exists") {
            let path = entry.expect("a directory entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("a UTF-8 name")
                .to_owned();
            if name == "README.md" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            on_disk.insert(format!("{folder}/{name}"), text);
        }
    }
    let built_in: BTreeMap<String, String> = builtin_files().map(|(path, text)| (path, text.to_owned())).collect();
    let missing: Vec<_> = on_disk.keys().filter(|path| !built_in.contains_key(*path)).collect();
    let stale: Vec<_> = built_in.keys().filter(|path| !on_disk.contains_key(*path)).collect();
    assert!(
        missing.is_empty(),
        "files not embedded (add them to spec/builtin.rs): {missing:?}"
    );
    assert!(stale.is_empty(), "embedded files that do not exist: {stale:?}");
    assert_eq!(on_disk, built_in);
}

#[test]
fn every_prompt_uses_exactly_its_documented_variables_and_renders_with_them() {
    let specs = AgentSpecs::builtin().expect("loads");
    let documented: BTreeSet<&str> = PROMPT_VARIABLES.iter().map(|(name, _)| *name).collect();
    let expected: BTreeSet<&str> = specs.names().chain(HELPER_PROMPTS.iter().copied()).collect();
    assert_eq!(
        documented, expected,
        "PROMPT_VARIABLES covers every agent and helper prompt"
    );
    for (name, variables) in PROMPT_VARIABLES {
        let template = template(&specs, name);
        let used: BTreeSet<String> = template.variables();
        let listed: BTreeSet<String> = variables.iter().map(|v| (*v).to_owned()).collect();
        assert_eq!(used, listed, "prompts/{name}.md uses exactly the variables it is given");
        let values: BTreeMap<String, String> = variables.iter().map(|v| ((*v).to_owned(), format!("<{v}>"))).collect();
        let system = template.render_system(&values).expect("the system prompt renders");
        let task = template.render_task(&values).expect("the task message renders");
        for (part, text) in [("system", &system), ("task", &task)] {
            assert!(!text.contains("{{"), "{name}: the {part} part keeps a placeholder");
            assert!(!text.is_empty(), "{name}: the {part} part is empty");
        }
        for variable in *variables {
            assert!(
                task.contains(&format!("<{variable}>")),
                "{name}: `{variable}` is in the task message"
            );
        }
        let row = PROMPTS_README
            .lines()
            .find(|line| line.starts_with(&format!("| `{name}` ")))
            .unwrap_or_else(|| panic!("prompts/README.md has no row for `{name}`"));
        for variable in *variables {
            assert!(
                row.contains(&format!("`{variable}`")),
                "prompts/README.md's row for `{name}` lists `{variable}`"
            );
        }
    }
}

#[test]
fn every_system_prompt_names_its_tools_and_its_submit_call() {
    let specs = AgentSpecs::builtin().expect("loads");
    for agent in specs.iter() {
        let values: BTreeMap<String, String> = agent
            .prompt
            .variables()
            .into_iter()
            .map(|v| (v, String::new()))
            .collect();
        let system = agent.prompt.render_system(&values).expect("renders");
        for heading in [
            "## ROLE",
            "## PRIMARY OBJECTIVE",
            "## PROCESS",
            "## OUTPUT",
            "## CONSTRAINTS",
        ] {
            assert!(
                system.contains(heading),
                "{}: the system prompt has {heading}",
                agent.name
            );
        }
        assert!(
            !system.contains("## OUTPUT FORMAT"),
            "{}: the loop appends OUTPUT FORMAT itself",
            agent.name
        );
        for tool in &agent.tools {
            assert!(
                system.contains(&format!("`{tool}`")),
                "{}: the prompt explains `{tool}`",
                agent.name
            );
        }
        match &agent.output {
            Some(output) => assert!(
                system.contains(&format!("`submit_{output}`")),
                "{}: the prompt says to call submit_{output}",
                agent.name
            ),
            None => assert!(
                !system.contains("submit_"),
                "{}: a free-text agent submits nothing",
                agent.name
            ),
        }
        assert!(
            AGENTS_README.contains(&format!("`{}`", agent.name)),
            "agents/README.md mentions `{}`",
            agent.name
        );
    }
}

#[test]
fn the_task_planners_task_message_renders_its_sections_with_none_for_empty_ones() {
    let specs = AgentSpecs::builtin().expect("loads");
    let planner = specs.get("task_planner").expect("the task planner");
    let task = planner
        .prompt
        .render_task(&vars(&[
            (
                "milestone",
                "Users can export a report as CSV (areas: CSV writer, CLI flag, tests)",
            ),
            ("remit", "Add CSV export to the report command."),
            ("workspace", "/home/me/reports (a Rust crate)"),
            ("project_context", ""),
            ("task", ""),
            ("done_list", "1. Add Row::fields → done: src/report.rs"),
            ("carry_forward", "- Add --format csv flag\n- Test CSV escaping\n"),
            ("retry_context", ""),
            ("correction_hint", "  "),
            (
                "directives",
                "- d1 (critical, functional): quote fields that contain commas; files: src/csv.rs",
            ),
        ]))
        .expect("renders");
    expect![[r#"
        ## MILESTONE
        Users can export a report as CSV (areas: CSV writer, CLI flag, tests)

        ## REMIT
        Add CSV export to the report command.

        ## WORKSPACE
        /home/me/reports (a Rust crate)

        ## PROJECT CONTEXT
        (none)

        ## DONE (this milestone, latest last)
        1. Add Row::fields → done: src/report.rs

        ## CARRY-FORWARD (your lookahead from the last round)
        - Add --format csv flag
        - Test CSV escaping

        ## TASK BEING RE-PLANNED (QA sent it back: plan it again, keep its description)
        (none)

        ## RETRY CONTEXT (QA rejected this task: address this feedback)
        (none)

        ## CORRECTION HINT (from the assessor)
        (none)

        ## ACTIVE DIRECTIVES (each MUST be addressed: create a task, explain why it is already handled, or escalate)
        - d1 (critical, functional): quote fields that contain commas; files: src/csv.rs

        ## INSTRUCTIONS
        Research if needed, pick the next task, update the carry-forward, and call `submit_plan`."#]]
    .assert_eq(&task);
}

#[test]
fn a_missing_variable_names_the_agent_the_prompt_the_line_and_the_variable() {
    let specs = AgentSpecs::builtin().expect("loads");
    let planner = specs.get("task_planner").expect("the task planner");
    let error = planner
        .prompt
        .render_task(&vars(&[("milestone", "M1")]))
        .expect_err("remit is missing");
    assert!(matches!(&error, SpecError::MissingVariable { variable, .. } if variable == "remit"));
    assert!(!error.is_retryable());
    expect![[r#"agent `task_planner`: prompt built-in prompts/task_planner.md, line 66: no value for `{{remit}}`; supply it (an empty value renders as "(none)"), or remove it from the prompt"#]].assert_eq(&error.to_string());
    let summarize = specs.prompt("summarize").expect("the summarize prompt");
    let error = summarize.render_task(&BTreeMap::new()).expect_err("missing");
    expect![[r#"prompt built-in prompts/summarize.md, line 31: no value for `{{agent}}`; supply it (an empty value renders as "(none)"), or remove it from the prompt"#]].assert_eq(&error.to_string());
}

fn template_refusal(text: &str, expect: Expect) {
    let error = PromptTemplate::parse("x", text, "prompts/x.md").expect_err("refused");
    assert!(!error.is_retryable());
    expect.assert_eq(&error.to_string());
}

#[test]
fn malformed_templates_are_refused_at_load_time_with_the_line() {
    template_refusal(
        "You are x.\nSay hi.\n",
        expect![
            "prompts/x.md: no `--- task ---` line; put one on a line of its own between the system prompt (above) and the task message (below)"
        ],
    );
    template_refusal(
        "sys\n--- task ---\ntask\n--- task ---\nmore\n",
        expect!["prompts/x.md:4: a second `--- task ---` line; a prompt has exactly one"],
    );
    template_refusal(
        "\n  \n--- task ---\n{{query}}\n",
        expect!["prompts/x.md:3: the system prompt is empty; write it, or remove the file to use the built-in one"],
    );
    template_refusal(
        "sys\n--- task ---\n\n",
        expect!["prompts/x.md:2: the task message is empty; write it, or remove the file to use the built-in one"],
    );
    template_refusal(
        "sys\n--- task ---\n## A\n{{ query }}\n",
        expect![
            "prompts/x.md:4: `{{ query }}` is not a placeholder: write `{{name}}` with lowercase letters, digits and `_` (e.g. `{{user_request}}`); a literal `{{` cannot appear in a prompt"
        ],
    );
    template_refusal(
        "sys\n\nsee {{Query}}\n--- task ---\nx\n",
        expect![
            "prompts/x.md:3: `{{Query}}` is not a placeholder: write `{{name}}` with lowercase letters, digits and `_` (e.g. `{{user_request}}`); a literal `{{` cannot appear in a prompt"
        ],
    );
    template_refusal(
        "sys\n--- task ---\n## A\n{{query}\n",
        expect![
            "prompts/x.md:4: `{{query}` is not a placeholder: write `{{name}}` with lowercase letters, digits and `_` (e.g. `{{user_request}}`); a literal `{{` cannot appear in a prompt"
        ],
    );
    template_refusal(
        "sys\n--- task ---\n## A\nfn f() {{}}\n",
        expect![
            "prompts/x.md:4: `{{}}` is not a placeholder: write `{{name}}` with lowercase letters, digits and `_` (e.g. `{{user_request}}`); a literal `{{` cannot appear in a prompt"
        ],
    );
    let parsed = PromptTemplate::parse("x", "Be {{tone}}.\n--- task ---\n{{a}} and {{b}}}\n", "x.md").expect("parses");
    assert_eq!(parsed.variables(), ["a", "b", "tone"].map(String::from).into());
    let rendered = parsed
        .render_task(&vars(&[("a", "{{b}}"), ("b", "B")]))
        .expect("renders");
    assert_eq!(
        rendered, "{{b}} and B}",
        "values are not expanded again; a lone `}}` is text"
    );
}

/// A temporary config directory with `over/` holding `files`, and the `[agents]` config text.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(files: &[(&str, &str)]) -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("over")).expect("mkdir");
        for (name, text) in files {
            std::fs::write(dir.path().join("over").join(name), text).expect("write");
        }
        Setup { dir }
    }

    fn config(&self, text: &str) -> Result<AgentsConfig, SpecError> {
        AgentsConfig::parse(text, "config.toml", self.dir.path())
    }

    fn load(&self, extra: &str) -> Result<AgentSpecs, SpecError> {
        AgentSpecs::load(&self.config(&format!("[agents]\ndir = \"over\"\n{extra}"))?)
    }

    /// `error` with the temporary directory written `$DIR`.
    fn show(&self, error: &SpecError) -> String {
        assert!(!error.is_retryable());
        error
            .to_string()
            .replace(&self.dir.path().display().to_string(), "$DIR")
    }
}

#[test]
fn an_override_directory_replaces_prompts_and_agent_files_of_the_same_name() {
    let setup = Setup::new(&[
        (
            "implementor.md",
            "You implement plans.\n--- task ---\nPLAN:\n{{plan}}\n",
        ),
        (
            "qa.toml",
            "description = \"A stricter QA\"\nrole = \"primary\"\nprompt = \"strict_qa\"\ntools = [\"read_file\", \"git_diff\"]\noutput = \"qa\"\n[limits]\nmodel_calls = 5\n",
        ),
        ("strict_qa.md", "Be strict.\n--- task ---\n{{task}}\n\n{{diff}}\n"),
        ("README.md", "Notes about these overrides {{ not a placeholder }}\n"),
        ("notes.txt", "ignored"),
    ]);
    let specs = setup.load("").expect("loads");
    check_against_repo(&specs).expect("the replaced agents pass the check");
    let over = setup.dir.path().join("over");

    let implementor = specs.get("implementor").expect("implementor");
    assert_eq!(
        implementor.source, "built-in agents/implementor.toml",
        "only its prompt was replaced"
    );
    assert_eq!(
        implementor.prompt.source(),
        over.join("implementor.md").display().to_string()
    );
    let task = implementor
        .prompt
        .render_task(&vars(&[("plan", "Add to_csv.")]))
        .expect("renders");
    assert_eq!(task, "PLAN:\nAdd to_csv.");

    let qa = specs.get("qa").expect("qa");
    assert_eq!(qa.source, over.join("qa.toml").display().to_string());
    assert_eq!(qa.description, "A stricter QA");
    assert_eq!(qa.tools, ["read_file", "git_diff"]);
    assert_eq!(qa.prompt.name(), "strict_qa");
    assert_eq!(
        (qa.limits.model_calls, qa.limits.tool_calls, qa.limits.reprompts),
        (5, 60, 2),
        "unset limits take the documented defaults"
    );
    assert!(!qa.summarization.enabled);
    assert_eq!(
        specs.get("coder").expect("coder"),
        AgentSpecs::builtin().expect("loads").get("coder").expect("coder"),
        "agents without a file in the directory are the built-ins"
    );
}

#[test]
fn agents_overrides_reassign_the_role_and_the_limits_without_touching_the_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "[llm.primary]\nprovider = \"ollama\"\n\n[agents.implementor]\nmodel = \"research\"\nmodel_calls = 12\n\n[agents.qa]\ntool_calls = 0\n";
    let config = AgentsConfig::parse(text, "config.toml", dir.path()).expect("parses");
    assert_eq!(
        config.overrides["implementor"],
        AgentOverride {
            role: Some("research".to_owned()),
            model_calls: Some(12),
            tool_calls: None,
            line: Some(5),
        }
    );
    let specs = AgentSpecs::load(&config).expect("loads");
    let implementor = specs.get("implementor").expect("implementor");
    assert_eq!(implementor.role, "research");
    assert_eq!(
        (implementor.limits.model_calls, implementor.limits.tool_calls),
        (12, 60)
    );
    assert_eq!(specs.get("qa").expect("qa").limits.tool_calls, 0);
    assert_eq!(specs.get("coder").expect("coder").role, "primary");
    check_against_repo(&specs).expect("research is a configured role");

    let text = "[agents.implementor]\nmodel_calls = 12\nmodel = \"big-gpu\"\n";
    let config = AgentsConfig::parse(text, "config.toml", dir.path()).expect("parses");
    let specs = AgentSpecs::load(&config).expect("loads: only the check knows the roles");
    let error = check_against_repo(&specs).expect_err("big-gpu is not configured");
    assert_eq!(
        (error.file(), error.line(), error.key()),
        ("config.toml".to_owned(), Some(3), Some("agents.implementor.model"))
    );
    expect!["config.toml:3: agents.implementor.model: agent `implementor`: there is no model role `big-gpu`; the roles are primary, research, summarizer, supervisor; name one of them, or add [llm.big-gpu] to config.toml"].assert_eq(&error.to_string());
}

#[test]
fn config_refusals_name_the_file_the_line_and_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let refusal = |text: &str| {
        let error = AgentsConfig::parse(text, "config.toml", dir.path()).expect_err("refused");
        assert!(!error.is_retryable());
        error.to_string().replace(&dir.path().display().to_string(), "$DIR")
    };
    let cases = [
        "[agents]\ndirectory = \"x\"\n",
        "[agents.implementer]\nmodel = \"primary\"\n",
        "[agents.qa]\nmodel_calls = \"40\"\n",
        "[agents.qa]\ntool_calls = -1\n",
        "[agents.qa]\nmodel_calls = 0\n",
        "[agents.qa]\nmodle = \"primary\"\n",
        "[agents.qa]\nmodel = \"Primary Model\"\n",
        "[agents]\nqa = \"research\"\n",
        "agents = 3\n",
        "[agents]\ndir = \"missing/agents\"\n",
        "[agents]\ndir = 7\n",
        "[agents\ndir = \"x\"\n",
    ];
    let table: String = cases
        .iter()
        .map(|text| format!("{:<45} => {}\n", format!("{text:?}"), refusal(text)))
        .collect();
    expect![[r#"
        "[agents]\ndirectory = \"x\"\n"               => config.toml:2: agents.directory: unknown key; [agents] holds `dir` and one [agents.<name>] table per agent to change (ask, assessor, coder, deep_research, explain_code, implementor, qa, report, scope_initial, scope_review, supervisor, task_planner)
        "[agents.implementer]\nmodel = \"primary\"\n" => config.toml:1: agents.implementer: unknown agent; the agents are ask, assessor, coder, deep_research, explain_code, implementor, qa, report, scope_initial, scope_review, supervisor, task_planner
        "[agents.qa]\nmodel_calls = \"40\"\n"         => config.toml:2: agents.qa.model_calls: expected an integer, found a string
        "[agents.qa]\ntool_calls = -1\n"              => config.toml:2: agents.qa.tool_calls: expected 0 to 100000
        "[agents.qa]\nmodel_calls = 0\n"              => config.toml:2: agents.qa.model_calls: expected 1 to 10000
        "[agents.qa]\nmodle = \"primary\"\n"          => config.toml:2: agents.qa.modle: unknown key; the keys are model, model_calls, tool_calls; check the spelling (config.toml at the repository root lists every key)
        "[agents.qa]\nmodel = \"Primary Model\"\n"    => config.toml:2: agents.qa.model: "Primary Model" is not a role name: a [llm.<role>] name (lowercase letters, digits, `_`, `-`)
        "[agents]\nqa = \"research\"\n"               => config.toml:2: agents.qa: expected a table ([agents.qa]), found a string
        "agents = 3\n"                                => config.toml:1: agents: expected a table ([agents]), found an integer
        "[agents]\ndir = \"missing/agents\"\n"        => config.toml:2: agents.dir: $DIR/missing/agents is not a directory (a relative `dir` is relative to the config file's directory); create it or fix the path
        "[agents]\ndir = 7\n"                         => config.toml:2: agents.dir: expected a string, found an integer
        "[agents\ndir = \"x\"\n"                      => config.toml:1: invalid TOML: unclosed table, expected `]`
    "#]].assert_eq(&table);
}

#[test]
fn the_documented_block_is_every_key_at_its_default_and_the_repository_config_parses() {
    let base = repo_root();
    let documented = documented_block();
    assert!(
        documented.starts_with("# [agents]\n"),
        "config.toml has no commented [agents] block"
    );
    let block: String = documented
        .lines()
        .filter(|line| line.starts_with("# ") && !line.starts_with("# #") && !line.starts_with("#  "))
        .map(|line| format!("{}\n", line[2..].split('#').next().unwrap_or_default().trim_end()))
        .collect();
    assert_eq!(block, "[agents]\n[agents.implementor]\n");
    let parsed = AgentsConfig::parse(&block, "config.toml", &base).expect("the documented block parses");
    let specs = AgentSpecs::load(&parsed).expect("loads");
    assert_eq!(
        specs,
        AgentSpecs::builtin().expect("loads"),
        "an empty table changes nothing"
    );
    for (key, value) in [("model", "\"primary\""), ("model_calls", "40"), ("tool_calls", "60")] {
        let line = format!("# # {key} = {value}");
        assert!(documented.contains(&line), "the block documents `{key}`");
        let text = format!("[agents.implementor]\n{key} = {value}\n");
        let config = AgentsConfig::parse(&text, "config.toml", &base).expect("parses");
        let specs = AgentSpecs::load(&config).expect("loads");
        assert_eq!(
            specs,
            AgentSpecs::builtin().expect("loads"),
            "`{key} = {value}` is the implementor's default"
        );
    }
    let repo = AgentsConfig::parse(REPO_CONFIG, "config.toml", &base).expect("the repository's config.toml parses");
    AgentSpecs::load(&repo).expect("and loads");
}

#[test]
fn agent_and_prompt_file_refusals_name_the_file_the_line_and_the_key() {
    const QA: &str =
        "description = \"QA\"\nrole = \"primary\"\nprompt = \"qa\"\ntools = [\"read_file\"]\noutput = \"qa\"\n";
    let cases: Vec<(&str, String)> = vec![
        ("qa.toml", format!("{QA}colour = \"red\"\n")),
        ("qa.toml", QA.replace("role = \"primary\"\n", "")),
        ("qa.toml", QA.replace("[\"read_file\"]", "\"read_file\"")),
        ("qa.toml", QA.replace("[\"read_file\"]", "[\"grep\", \"grep\"]")),
        ("qa.toml", format!("{QA}[limits]\nmodel_calls = 0\n")),
        ("qa.toml", format!("{QA}[limits]\nreprompt = 1\n")),
        ("qa.toml", format!("{QA}[summarization]\ntrigger_fraction = 1.5\n")),
        ("qa.toml", format!("{QA}[summarization]\nenabled = \"yes\"\n")),
        ("qa.toml", format!("{QA}limits = 3\n")),
        ("qa.toml", QA.replace("description = \"QA\"", "description = \"\"")),
        ("qa.toml", QA.replace("prompt = \"qa\"", "prompt = \"qa_strict\"")),
        ("qa.toml", QA.replace("prompt = \"qa\"", "prompt = \"QA.md\"")),
        ("qa.toml", format!("{QA}output = \"qa\"\n")),
        (
            "qa.md",
            "Check.\n--- task ---\n## TASK\n{{task}}\n\n## HINT\n{{hint}}\n".to_owned(),
        ),
        (
            "status.md",
            "Shorten.\n--- task ---\n{{text}} {{milestone}}\n".to_owned(),
        ),
        ("qa_checker.toml", QA.to_owned()),
        ("qa-notes.md", "x\n--- task ---\ny\n".to_owned()),
        ("extra.md", "x\n--- task ---\ny\n".to_owned()),
    ];
    let mut table = String::new();
    for (file, text) in &cases {
        let setup = Setup::new(&[(file, text)]);
        let error = setup.load("").expect_err("refused");
        table.push_str(&format!("{file:<16} {}\n", setup.show(&error)));
    }
    expect![[r#"
        qa.toml          $DIR/over/qa.toml:6: colour: unknown key; the keys are description, role, prompt, tools, output, limits, summarization; check the spelling (agents/README.md lists every key)
        qa.toml          $DIR/over/qa.toml: role: missing; every agent file sets it, e.g. `role = "primary"`
        qa.toml          $DIR/over/qa.toml:4: tools: expected an array of strings, found a string
        qa.toml          $DIR/over/qa.toml:4: tools: `grep` is listed twice; list it once
        qa.toml          $DIR/over/qa.toml:7: limits.model_calls: expected 1 to 10000
        qa.toml          $DIR/over/qa.toml:7: limits.reprompt: unknown key; the keys are model_calls, tool_calls, reprompts; see agents/README.md
        qa.toml          $DIR/over/qa.toml:7: summarization.trigger_fraction: expected more than 0 and at most 1
        qa.toml          $DIR/over/qa.toml:7: summarization.enabled: expected true or false, found a string
        qa.toml          $DIR/over/qa.toml:6: limits: expected a table ([limits]), found an integer
        qa.toml          $DIR/over/qa.toml:1: description: expected one non-empty line of at most 200 characters
        qa.toml          $DIR/over/qa.toml:3: prompt: there is no prompt `qa_strict` (prompts/qa_strict.md); the prompts are ask, assessor, coder, compress, deep_research, explain_code, implementor, qa, report, scope_initial, scope_review, status, summarize, supervisor, task_planner
        qa.toml          $DIR/over/qa.toml:3: prompt: "QA.md" is not a prompt name: prompts/<name>.md, lowercase letters, digits and `_`
        qa.toml          $DIR/over/qa.toml:6: invalid TOML: duplicate key
        qa.md            $DIR/over/qa.md:7: `{{hint}}` is not given to agent `qa`; its variables are task, plan, implementation, verification, diff (prompts/README.md describes them)
        status.md        $DIR/over/status.md:3: `{{milestone}}` is not given to the helper prompt `status`; its variables are node, text, max_chars (prompts/README.md describes them)
        qa_checker.toml  $DIR/over/qa_checker.toml: `qa_checker` is not an agent; an agent file replaces one of ask, assessor, coder, deep_research, explain_code, implementor, qa, report, scope_initial, scope_review, supervisor, task_planner (new agents need code)
        qa-notes.md      $DIR/over/qa-notes.md: `qa-notes` is not a prompt name; use lowercase letters, digits and `_` (e.g. qa.md)
        extra.md         $DIR/over/extra.md: no agent uses the prompt `extra` and it replaces no built-in prompt; rename it after one of ask, assessor, coder, compress, deep_research, explain_code, implementor, qa, report, scope_initial, scope_review, status, summarize, supervisor, task_planner, or name it in an agent file's `prompt`
    "#]].assert_eq(&table);
}

#[test]
fn check_refusals_name_the_agent_file_the_line_and_what_exists() {
    const TOOLS: &str = "description = \"Asks\"\nrole = \"primary\"\nprompt = \"ask\"\n";
    let cases: Vec<Vec<(&str, String)>> = vec![
        vec![("ask.toml", format!("{TOOLS}tools = [\"read_file\", \"shell\"]\n"))],
        vec![("ask.toml", format!("{TOOLS}output = \"answer\"\n"))],
        vec![("ask.toml", TOOLS.replace("primary", "gpu"))],
        vec![
            ("ask.toml", format!("{TOOLS}tools = [\"grep\", \"explain_code\"]\n")),
            (
                "explain_code.toml",
                format!("{}tools = [\"ask\"]\n", TOOLS.replace("\"ask\"", "\"explain_code\"")),
            ),
        ],
        vec![(
            "coder.toml",
            TOOLS.replace("\"ask\"", "\"coder\"") + "tools = [\"coder\"]\n",
        )],
    ];
    let mut table = String::new();
    for files in &cases {
        let files: Vec<(&str, &str)> = files.iter().map(|(name, text)| (*name, text.as_str())).collect();
        let setup = Setup::new(&files);
        let specs = setup.load("").expect("loads: only the check knows what exists");
        let error = check_against_repo(&specs).expect_err("refused");
        assert!(matches!(error, SpecError::Invalid { .. }));
        table.push_str(&format!("{}\n", setup.show(&error)));
    }
    expect![[r#"
        $DIR/over/ask.toml:4: tools: agent `ask`: there is no tool `shell`; the tools are read_file, write_file, edit_file, list_dir, glob, grep, git_diff, run_command, ask, explain_code, deep_research, coder
        $DIR/over/ask.toml:4: output: agent `ask`: there is no output `answer`; the outputs are assessment, code_change, implementation, plan, qa, scope, supervision (leave the key out for a free-text answer)
        $DIR/over/ask.toml:2: role: agent `ask`: there is no model role `gpu`; the roles are primary, research, summarizer, supervisor; name one of them, or add [llm.gpu] to config.toml
        $DIR/over/ask.toml:4: tools: agent `ask` reaches itself through the agents offered as tools (ask → explain_code → ask); remove one of these tools
        $DIR/over/coder.toml:4: tools: agent `coder` reaches itself through the agents offered as tools (coder → coder); remove one of these tools
    "#]].assert_eq(&table);
}

#[test]
fn an_unreadable_override_directory_is_a_read_error_naming_the_path() {
    let setup = Setup::new(&[]);
    let config = setup.config("[agents]\ndir = \"over\"\n").expect("parses");
    std::fs::remove_dir(setup.dir.path().join("over")).expect("rmdir");
    let error = AgentSpecs::load(&config).expect_err("the directory is gone");
    assert!(matches!(error, SpecError::Read { .. }));
    assert!(!error.is_retryable());
    assert!(setup.show(&error).starts_with("$DIR/over: cannot read it ("), "{error}");
}
