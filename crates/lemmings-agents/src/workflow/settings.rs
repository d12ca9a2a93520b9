//! The `[run]` section of `config.toml` (the graph's recursion limit and durability, the check
//! command, the workflow's [`RunLimits`]), and the check that the file holds only the known
//! top-level sections. Parsed with every key checked; an error names the file, the line and
//! the key.

use crate::spec::SpecError;
use crate::spec::toml_read::{Table, parse_document};
use lemmings_graph::{DEFAULT_RECURSION_LIMIT, Durability};

use super::state::RunLimits;

/// What `[run]` configures for `lemmings run`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSettings {
    /// The most supersteps one run may take (default [`DEFAULT_RECURSION_LIMIT`]).
    pub recursion_limit: u32,
    /// When checkpoints are saved (default [`Durability::Sync`]).
    pub durability: Durability,
    /// The command line the verify step runs after each task (default none). It must also be
    /// allowed by `[tools] allowed_commands`, which
    /// [`WorkflowBuilder::check_command`](super::graph::WorkflowBuilder::check_command) checks.
    pub check_command: Option<String>,
    /// The workflow's bounds, each a key of `[run]` named like its field.
    pub limits: RunLimits,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            recursion_limit: DEFAULT_RECURSION_LIMIT,
            durability: Durability::Sync,
            check_command: None,
            limits: RunLimits::default(),
        }
    }
}

/// The top-level sections of `config.toml`, each a table owned by one parser.
const SECTIONS: &[&str] = &["llm", "tools", "agents", "run"];

/// Ends the messages about a misspelt key or section.
const SPELLING: &str = "check the spelling (config.toml at the repository root lists every key)";

/// One [`RunLimits`] field as a key of `[run]`: its name, its range and where it goes.
struct LimitKey {
    key: &'static str,
    min: i64,
    max: i64,
    field: fn(&mut RunLimits) -> &mut u32,
}

/// Every [`RunLimits`] field, in the struct's order.
const LIMIT_KEYS: &[LimitKey] = &[
    LimitKey {
        key: "max_attempts",
        min: 1,
        max: 20,
        field: |limits| &mut limits.max_attempts,
    },
    LimitKey {
        key: "review_interval",
        min: 1,
        max: 1000,
        field: |limits| &mut limits.review_interval,
    },
    LimitKey {
        key: "max_replans",
        min: 0,
        max: 100,
        field: |limits| &mut limits.max_replans,
    },
    LimitKey {
        key: "max_tasks",
        min: 1,
        // Task ids are `task_001` to `task_999`, ordered by their text.
        max: 999,
        field: |limits| &mut limits.max_tasks,
    },
    LimitKey {
        key: "max_planner_rounds",
        min: 1,
        max: 100_000,
        field: |limits| &mut limits.max_planner_rounds,
    },
    LimitKey {
        key: "max_consecutive_skips",
        min: 1,
        max: 1000,
        field: |limits| &mut limits.max_consecutive_skips,
    },
    LimitKey {
        key: "max_consecutive_failures",
        min: 1,
        max: 1000,
        field: |limits| &mut limits.max_consecutive_failures,
    },
    LimitKey {
        key: "done_detail",
        min: 0,
        max: 1000,
        field: |limits| &mut limits.done_detail,
    },
    LimitKey {
        key: "supervise_every",
        min: 0,
        max: 1000,
        field: |limits| &mut limits.supervise_every,
    },
];

const RECURSION_LIMIT_RANGE: (i64, i64) = (1, 1_000_000);

impl RunSettings {
    /// Parses `[run]` of a config file's text; the other top-level tables are left to their
    /// owners (but a TOML syntax error anywhere is reported). A missing section gives the
    /// defaults. `source` names the text in messages.
    ///
    /// # Errors
    /// The first problem, as a [`SettingsError`] naming the source, line and key: an unknown
    /// key, a wrong type, a value out of range, an unknown durability, an empty check command.
    pub fn parse(text: &str, source: &str) -> Result<RunSettings, SettingsError> {
        let document = parse_document(text, source)?;
        let top = Table {
            text,
            file: source,
            prefix: String::new(),
            table: &document,
        };
        let mut settings = RunSettings::default();
        let Some(run) = top.table("run")? else {
            return Ok(settings);
        };
        let mut known = vec!["recursion_limit", "durability", "check_command"];
        known.extend(LIMIT_KEYS.iter().map(|limit| limit.key));
        run.only(&known, SPELLING)?;
        let (min, max) = RECURSION_LIMIT_RANGE;
        if let Some(limit) = run.integer("recursion_limit", min, max)? {
            settings.recursion_limit = limit as u32;
        }
        if let Some((durability, at)) = run.string("durability")? {
            settings.durability = match durability.as_str() {
                "sync" => Durability::Sync,
                "async" => Durability::Async,
                "exit" => Durability::Exit,
                _ => {
                    let message = format!("{durability:?} is not a durability; expected sync, async or exit");
                    return Err(run.error(at, "durability", message).into());
                }
            };
        }
        if let Some((command, at)) = run.string("check_command")? {
            if command.trim().is_empty() {
                let message = "empty; write a command line (e.g. \"cargo check\"), or leave the key out";
                return Err(run.error(at, "check_command", message).into());
            }
            settings.check_command = Some(command);
        }
        for limit in LIMIT_KEYS {
            if let Some(value) = run.integer(limit.key, limit.min, limit.max)? {
                // Every range is within u32.
                *(limit.field)(&mut settings.limits) = value as u32;
            }
        }
        Ok(settings)
    }
}

/// Checks that the file's top-level keys are only the known sections (`llm`, `tools`,
/// `agents`, `run`), each a table, so that a misspelt section (`[tool]`) is not silently
/// ignored by every parser. `source` names the text in messages.
///
/// # Errors
/// A [`SettingsError`] naming the source, line and key: a TOML syntax error, an unknown
/// top-level key, a section that is not a table.
pub fn check_sections(text: &str, source: &str) -> Result<(), SettingsError> {
    let document = parse_document(text, source)?;
    let top = Table {
        text,
        file: source,
        prefix: String::new(),
        table: &document,
    };
    for (key, _) in document.iter() {
        if !SECTIONS.contains(&key.get_ref().as_ref()) {
            let message =
                format!("unknown section; the sections are [llm.<role>], [tools], [agents] and [run]; {SPELLING}");
            return Err(top.error(key.span().start, key.get_ref(), message).into());
        }
    }
    for section in SECTIONS {
        top.table(section)?;
    }
    Ok(())
}

/// A refused config file, displayed as `<source>:<line>: <key>: <message>` (the line or the
/// key left out when unknown). Terminal: the file has to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct SettingsError {
    origin: String,
    line: Option<usize>,
    key: Option<String>,
    message: String,
}

impl SettingsError {
    /// The file (or "built-in default").
    pub fn file(&self) -> &str {
        &self.origin
    }

    /// The 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The dotted key, e.g. `run.max_attempts`, or the section, when known.
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

impl From<SpecError> for SettingsError {
    fn from(error: SpecError) -> Self {
        match error {
            SpecError::Invalid {
                file,
                line,
                key,
                message,
            } => SettingsError {
                origin: file,
                line,
                key,
                message,
            },
            // The TOML reader makes only `Invalid` errors.
            other => SettingsError {
                origin: other.file(),
                line: other.line(),
                key: other.key().map(str::to_owned),
                message: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    const REPO_CONFIG: &str = include_str!("../../../../config.toml");

    fn keys() -> Vec<&'static str> {
        let mut keys = vec!["recursion_limit", "durability", "check_command"];
        keys.extend(LIMIT_KEYS.iter().map(|limit| limit.key));
        keys
    }

    fn refusal(error: SettingsError) -> String {
        assert!(!error.is_retryable());
        assert_eq!(error.file(), "config.toml");
        error.to_string()
    }

    /// Each case's refusal by `parse`, one per line.
    fn check_refusals(cases: &[&str], expect: Expect) {
        let shown: Vec<String> = cases
            .iter()
            .map(|case| refusal(RunSettings::parse(case, "config.toml").expect_err("refused")))
            .collect();
        expect.assert_eq(&shown.join("\n"));
    }

    #[test]
    fn without_the_section_everything_has_its_default() {
        let settings = RunSettings::parse("[llm.primary]\nprovider = \"ollama\"\n", "x.toml").expect("parses");
        assert_eq!(settings, RunSettings::default());
        assert_eq!(settings.recursion_limit, DEFAULT_RECURSION_LIMIT);
        assert_eq!(settings.durability, Durability::Sync);
        assert_eq!(settings.check_command, None);
        assert_eq!(settings.limits, RunLimits::default());
        assert_eq!(RunSettings::parse("", "x.toml"), Ok(RunSettings::default()));
        assert_eq!(RunSettings::parse("[run]\n", "x.toml"), Ok(RunSettings::default()));
    }

    #[test]
    fn every_key_is_read() {
        let settings = RunSettings::parse(
            r#"
[tools]
allowed_commands = ["make check"]

[run]
recursion_limit = 1_000_000
durability = "exit"
check_command = "make check"
max_attempts = 20
review_interval = 1
max_replans = 0
max_tasks = 999
max_planner_rounds = 0x10
max_consecutive_skips = 4
max_consecutive_failures = 5
done_detail = 0
supervise_every = 0
"#,
            "config.toml",
        )
        .expect("parses");
        let expected = RunSettings {
            recursion_limit: 1_000_000,
            durability: Durability::Exit,
            check_command: Some("make check".to_owned()),
            limits: RunLimits {
                max_attempts: 20,
                review_interval: 1,
                max_replans: 0,
                max_tasks: 999,
                max_planner_rounds: 16,
                max_consecutive_skips: 4,
                max_consecutive_failures: 5,
                done_detail: 0,
                supervise_every: 0,
            },
        };
        assert_eq!(settings, expected);
        let durability = |name: &str| {
            RunSettings::parse(&format!("[run]\ndurability = \"{name}\"\n"), "x.toml")
                .expect("parses")
                .durability
        };
        assert_eq!(durability("sync"), Durability::Sync);
        assert_eq!(durability("async"), Durability::Async);
    }

    #[test]
    fn the_limit_keys_name_every_field_once() {
        let mut limits = RunLimits::default();
        for (value, limit) in (100..).zip(LIMIT_KEYS) {
            *(limit.field)(&mut limits) = value;
        }
        let expected = RunLimits {
            max_attempts: 100,
            review_interval: 101,
            max_replans: 102,
            max_tasks: 103,
            max_planner_rounds: 104,
            max_consecutive_skips: 105,
            max_consecutive_failures: 106,
            done_detail: 107,
            supervise_every: 108,
        };
        assert_eq!(limits, expected);
    }

    #[test]
    fn refusals_name_the_file_line_and_key() {
        check_refusals(
            &[
                "[run]\nmax_attempt = 3\n",
                "[run]\nrecursion_limit = \"10\"\n",
                "[run]\ndurability = 1\n",
                "[run]\ncheck_command = [\"cargo\", \"check\"]\n",
                "[run]\nrecursion_limit = 0\n",
                "[run]\nrecursion_limit = 1_000_001\n",
                "[run]\nrecursion_limit = 99999999999999999999\n",
                "[run]\nmax_attempts = 0\n",
                "[run]\nmax_attempts = 21\n",
                "[run]\nreview_interval = 0\n",
                "[run]\nmax_replans = -1\n",
                "[run]\nmax_tasks = 10001\n",
                "[run]\nmax_planner_rounds = 100001\n",
                "[run]\nmax_consecutive_skips = 0\n",
                "[run]\nmax_consecutive_failures = 1001\n",
                "[run]\ndone_detail = 1001\n",
                "[run]\nsupervise_every = 1001\n",
                "[run]\ndurability = \"Sync\"\n",
                "[run]\n\ncheck_command = \"  \"\n",
                "run = 3\n",
                "[llm.primary]\nprovider = ollama\n[run]\n",
            ],
            expect![[r#"
                config.toml:2: run.max_attempt: unknown key; the keys are recursion_limit, durability, check_command, max_attempts, review_interval, max_replans, max_tasks, max_planner_rounds, max_consecutive_skips, max_consecutive_failures, done_detail, supervise_every; check the spelling (config.toml at the repository root lists every key)
                config.toml:2: run.recursion_limit: expected an integer, found a string
                config.toml:2: run.durability: expected a string, found an integer
                config.toml:2: run.check_command: expected a string, found an array
                config.toml:2: run.recursion_limit: expected 1 to 1000000
                config.toml:2: run.recursion_limit: expected 1 to 1000000
                config.toml:2: run.recursion_limit: expected 1 to 1000000
                config.toml:2: run.max_attempts: expected 1 to 20
                config.toml:2: run.max_attempts: expected 1 to 20
                config.toml:2: run.review_interval: expected 1 to 1000
                config.toml:2: run.max_replans: expected 0 to 100
                config.toml:2: run.max_tasks: expected 1 to 999
                config.toml:2: run.max_planner_rounds: expected 1 to 100000
                config.toml:2: run.max_consecutive_skips: expected 1 to 1000
                config.toml:2: run.max_consecutive_failures: expected 1 to 1000
                config.toml:2: run.done_detail: expected 0 to 1000
                config.toml:2: run.supervise_every: expected 0 to 1000
                config.toml:2: run.durability: "Sync" is not a durability; expected sync, async or exit
                config.toml:3: run.check_command: empty; write a command line (e.g. "cargo check"), or leave the key out
                config.toml:1: run: expected a table ([run]), found an integer
                config.toml:2: invalid TOML: string values must be quoted, expected literal string"#]],
        );
    }

    #[test]
    fn the_error_exposes_its_parts() {
        let error = RunSettings::parse("[run]\nmax_tasks = 0\n", "/etc/lemmings.toml").expect_err("refused");
        assert_eq!(error.file(), "/etc/lemmings.toml");
        assert_eq!(error.line(), Some(2));
        assert_eq!(error.key(), Some("run.max_tasks"));
        assert_eq!(error.message(), "expected 1 to 999");
        assert!(!error.is_retryable());
        let syntax = RunSettings::parse("[run\n", "x.toml").expect_err("refused");
        assert_eq!(syntax.line(), Some(1));
        assert_eq!(syntax.key(), None);
    }

    #[test]
    fn check_sections_refuses_unknown_and_non_table_sections() {
        let shown: Vec<String> = [
            "[llm.primary]\nprovider = \"ollama\"\n\n[tool]\nallowed_commands = []\n",
            "run = 3\n",
            "llm = \"primary\"\n",
            "[[agents]]\n",
            "[run\n",
        ]
        .iter()
        .map(|case| refusal(check_sections(case, "config.toml").expect_err("refused")))
        .collect();
        expect![[r#"
            config.toml:4: tool: unknown section; the sections are [llm.<role>], [tools], [agents] and [run]; check the spelling (config.toml at the repository root lists every key)
            config.toml:1: run: expected a table ([run]), found an integer
            config.toml:1: llm: expected a table ([llm]), found a string
            config.toml:1: agents: expected a table ([agents]), found an array
            config.toml:1: invalid TOML: unclosed table, expected `]`"#]]
        .assert_eq(&shown.join("\n"));
        let error = check_sections("[tool]\n", "config.toml").expect_err("refused");
        assert_eq!((error.line(), error.key()), (Some(1), Some("tool")));
        assert_eq!(check_sections("", "config.toml"), Ok(()));
    }

    #[test]
    fn the_repository_config_parses_and_has_only_known_sections() {
        check_sections(REPO_CONFIG, "config.toml").expect("config.toml has only known sections");
        let settings = RunSettings::parse(REPO_CONFIG, "config.toml").expect("the repository's config.toml parses");
        assert_eq!(settings.recursion_limit, 10_000);
        assert_eq!(settings.durability, Durability::Sync);
    }

    #[test]
    fn documented_example_block_is_every_key_at_its_default() {
        let block: String = REPO_CONFIG
            .lines()
            .skip_while(|line| *line != "# [run]")
            .take_while(|line| line.starts_with("# "))
            .map(|line| format!("{}\n", &line[2..]))
            .collect();
        assert!(block.starts_with("[run]\n"), "config.toml has no commented [run] block");
        for key in keys() {
            // A `# #` line documents a key without a default (`check_command`).
            let documented = block
                .lines()
                .any(|line| line.starts_with(&format!("{key} =")) || line.starts_with(&format!("# {key} =")));
            assert!(documented, "config.toml does not document `{key}`");
        }
        let parsed = RunSettings::parse(&block, "config.toml").expect("the documented block parses");
        assert_eq!(parsed, RunSettings::default());
        // The example of the key without a default is a valid value too.
        let uncommented = block.replace("# check_command =", "check_command =");
        let parsed = RunSettings::parse(&uncommented, "config.toml").expect("the uncommented block parses");
        assert_eq!(parsed.check_command.as_deref(), Some("cargo check"));
    }
}
