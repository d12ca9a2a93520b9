//! The deterministic verify step between the implementor and QA: do the claimed files exist
//! and hold something, what really changed (the diff with new files, from git or from the
//! tools' own record), was each claimed file among the changes, and does the configured check
//! command pass. Its [`VerifyReport`] is QA's evidence and the only ground on which a task may
//! be marked complete (the original trusted the implementor's word and a diff that could not
//! show new files).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use lemmings_tools::command::{CommandPolicy, Exit, run};
use lemmings_tools::git::GitDiff;
use lemmings_tools::{Workspace, WorkspaceError, display};
use serde::{Deserialize, Serialize};

use crate::text::{clip, tail};

/// The most diff text kept in a report.
pub const MAX_DIFF_CHARS: usize = 12_000;
/// The most check output kept (its end).
pub const MAX_CHECK_OUTPUT_CHARS: usize = 2_000;

/// The check command verify runs, with the policy that allows it.
#[derive(Clone, Debug)]
pub struct CheckCommand {
    /// The command line (`cargo check`), parsed like `run_command`'s (no shell).
    pub command: String,
    /// The policy it runs under (it must allow the command).
    pub policy: Arc<CommandPolicy>,
}

/// One claimed file, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCheck {
    /// The path relative to the workspace root (as claimed when it is not a usable path).
    pub path: String,
    /// Whether it exists (as a readable file).
    pub exists: bool,
    /// Its size.
    pub bytes: u64,
    /// Whether it is among the changed files.
    pub changed: bool,
    /// A stable hash of its content (FNV-1a, hex), to tell whether a later task changed it.
    pub hash: Option<String>,
    /// What is wrong with it, if anything.
    pub problem: Option<String>,
}

/// What the check command gave.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The command line.
    pub command: String,
    /// Whether it exited with status 0.
    pub passed: bool,
    /// Its exit status; `None` when it did not run, was killed or timed out.
    pub exit: Option<i32>,
    /// The end of its rendered output (or why it did not run).
    pub output_tail: String,
}

impl CheckResult {
    /// `exit <code>`, or `no exit status`.
    fn exit_text(&self) -> String {
        self.exit
            .map_or_else(|| "no exit status".to_owned(), |code| format!("exit {code}"))
    }
}

/// The evidence for one implementation attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Each claimed file, checked.
    pub files: Vec<FileCheck>,
    /// Every changed file in the workspace (since HEAD with git, since the tools' first
    /// change without), sorted.
    pub changed: Vec<String>,
    /// The diff, new files included, cut at [`MAX_DIFF_CHARS`].
    pub diff: String,
    /// The check command's result, when one is configured.
    pub check: Option<CheckResult>,
    /// Whether there is no problem.
    pub passed: bool,
    /// What is wrong, one line each.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether the check passed: `None` when none is configured.
    pub fn check_passed(&self) -> Option<bool> {
        self.check.as_ref().map(|c| c.passed)
    }

    /// The claimed files that changed (deleted ones included).
    pub fn changed_claims(&self) -> impl Iterator<Item = &FileCheck> {
        self.files.iter().filter(|f| f.changed)
    }

    /// The report without its diff: what a task keeps as evidence (the diff is for QA's one
    /// look, and would make every checkpoint of the task list heavy).
    pub fn as_evidence(&self) -> VerifyReport {
        VerifyReport {
            diff: String::new(),
            ..self.clone()
        }
    }

    /// Records a problem found after the fact (e.g. by comparing with other tasks' evidence).
    pub fn add_problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
        self.passed = false;
    }

    /// One line: `verified: 2 claimed files changed, check passed` or the first problems.
    pub fn summary(&self) -> String {
        if self.passed {
            let check = match &self.check {
                Some(_) => ", check passed",
                None => "",
            };
            return format!(
                "verified: {} claimed file(s) changed{check}",
                self.changed_claims().count()
            );
        }
        format!("verification failed: {}", clip(&self.problems.join("; "), 300))
    }

    /// The report as QA reads it (without the diff, which is its own section).
    pub fn render(&self) -> String {
        let mut out = format!("verification {}\n", if self.passed { "passed" } else { "FAILED" });
        if !self.files.is_empty() {
            out.push_str("claimed files:\n");
        }
        for file in &self.files {
            let state = match (file.exists, file.changed) {
                (true, true) => format!("{} bytes, changed", file.bytes),
                (true, false) => format!("{} bytes, unchanged", file.bytes),
                (false, true) => "deleted".to_owned(),
                (false, false) => "missing".to_owned(),
            };
            let _ = writeln!(out, "- {}: {state}", file.path);
        }
        let changed = if self.changed.is_empty() {
            "none".to_owned()
        } else {
            self.changed.join(", ")
        };
        let _ = writeln!(out, "changed files: {}", clip(&changed, 600));
        if let Some(check) = &self.check {
            let verdict = if check.passed { "passed" } else { "FAILED" };
            let _ = writeln!(
                out,
                "check `{}` {verdict} ({}):\n{}",
                check.command,
                check.exit_text(),
                check.output_tail.trim_end()
            );
        }
        for problem in &self.problems {
            let _ = writeln!(out, "problem: {problem}");
        }
        out
    }
}

/// Verifies an implementation attempt: the claimed files against the workspace and its diff,
/// then the check command. Never fails: whatever cannot be checked is a problem in the report.
pub async fn verify(
    workspace: &Arc<Workspace>,
    claimed_files: &[String],
    check: Option<&CheckCommand>,
) -> VerifyReport {
    let mut problems = Vec::new();
    let tool = GitDiff::new(workspace.clone());
    // The tools' own record counts too: a change git does not show (an ignored file) is still
    // one the implementor made.
    let recorded = tool.recorded(None);
    let mut changed = recorded.paths();
    let diff = match tool.changes(None).await {
        Ok(changes) => {
            changed.extend(changes.paths());
            changes.render()
        }
        Err(error) => {
            problems.push(format!("cannot compute the diff: {}", clip(&error, 300)));
            recorded.render()
        }
    };
    let changed: Vec<String> = changed.into_iter().collect();

    let mut seen = BTreeSet::new();
    let mut files = Vec::new();
    for claim in claimed_files.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        let file = check_file(workspace, claim, &changed);
        if seen.insert(file.path.clone()) {
            problems.extend(file.problem.clone());
            files.push(file);
        }
    }
    if files.is_empty() {
        problems.push("the implementation listed no modified files".to_owned());
    }
    if changed.is_empty() {
        problems.push("no file changed in the workspace".to_owned());
    }
    let check = match check {
        Some(check) => Some(run_check(workspace.root(), check).await),
        None => None,
    };
    if let Some(result) = check.as_ref().filter(|c| !c.passed) {
        problems.push(format!("check `{}` failed ({})", result.command, result.exit_text()));
    }
    VerifyReport {
        files,
        changed,
        diff: cap_diff(&diff),
        check,
        passed: problems.is_empty(),
        problems,
    }
}

/// One claimed file: exists (confined to the workspace), non-empty, among the changes.
fn check_file(workspace: &Workspace, claim: &str, changed: &[String]) -> FileCheck {
    let rel = match workspace.clean(claim) {
        Ok(rel) => rel,
        Err(error) => {
            return FileCheck {
                path: claim.to_owned(),
                problem: Some(format!("claimed file `{claim}` is not usable: {error}")),
                ..FileCheck::default()
            };
        }
    };
    let path = display(&rel);
    let is_changed = changed.contains(&path);
    let mut file = FileCheck {
        path: path.clone(),
        changed: is_changed,
        ..FileCheck::default()
    };
    match workspace.peek(&rel) {
        Ok(content) => {
            file.exists = true;
            file.bytes = content.len() as u64;
            file.hash = Some(fnv1a(&content));
            file.problem = if content.is_empty() {
                Some(format!("claimed file `{path}` is empty"))
            } else if !is_changed {
                Some(format!("claimed file `{path}` is unchanged"))
            } else {
                None
            };
        }
        // A deleted file shows in the diff: claiming it is honest.
        Err(WorkspaceError::NotFound { .. }) if is_changed => {}
        Err(WorkspaceError::NotFound { .. }) => {
            file.problem = Some(format!("claimed file `{path}` does not exist"));
        }
        Err(error) => file.problem = Some(format!("claimed file `{path}` cannot be read: {error}")),
    }
    file
}

/// Runs the check command in the workspace root under its policy.
async fn run_check(root: &Path, check: &CheckCommand) -> CheckResult {
    let command = check.command.trim().to_owned();
    let argv = match check.policy.parse(&command) {
        Ok(argv) => argv,
        Err(error) => {
            return CheckResult {
                command,
                passed: false,
                exit: None,
                output_tail: format!("not run: {error}"),
            };
        }
    };
    match run(&check.policy, root, &argv, None).await {
        Ok(outcome) => CheckResult {
            passed: outcome.success(),
            exit: match outcome.exit {
                Exit::Code(code) => Some(code),
                Exit::Signal(_) | Exit::TimedOut => None,
            },
            output_tail: tail(&outcome.render(), MAX_CHECK_OUTPUT_CHARS),
            command,
        },
        Err(error) => CheckResult {
            command,
            passed: false,
            exit: None,
            output_tail: format!("not run: {error}"),
        },
    }
}

/// The diff cut at [`MAX_DIFF_CHARS`], saying so.
fn cap_diff(diff: &str) -> String {
    if diff.chars().count() <= MAX_DIFF_CHARS {
        return diff.to_owned();
    }
    let mut out: String = diff.chars().take(MAX_DIFF_CHARS).collect();
    let _ = write!(
        out,
        "\n[diff cut at {MAX_DIFF_CHARS} characters; call git_diff with path= for one file]\n"
    );
    out
}

/// FNV-1a (64 bit) of `bytes` in hex: stable across builds, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
