//! The named prompt sections each agent reads, built from the state (empty ones are left
//! out), and [`render_sections`], which lays them out as `## TITLE` blocks in a fixed order.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::outcome::{final_status, milestone_can_complete, milestone_status, status_text};
use super::routing::{Node, end_reason_at_report};
use crate::text::{clip, line};
use crate::workflow::outputs::Priority;
use crate::workflow::state::{EndReason, Task, TaskOutcome, TaskStatus, WorkflowState};

/// Named sections (`user_request`, `done_list`, …) to fill a prompt with.
type Sections = BTreeMap<String, String>;

/// The most characters of the project context (the workspace's notes file) an agent is given.
pub const PROJECT_CONTEXT_CHARS: usize = 4000;

/// The order [`render_sections`] lays sections out in, and their titles.
const ORDER: &[(&str, &str)] = &[
    ("user_request", "USER REQUEST"),
    ("workspace", "WORKSPACE"),
    ("project_context", "PROJECT CONTEXT"),
    ("remit", "REMIT"),
    ("milestones", "MILESTONES"),
    ("milestone", "MILESTONE SCOPE"),
    ("task", "TASK"),
    ("plan", "IMPLEMENTATION PLAN"),
    ("done_list", "DONE"),
    ("carry_forward", "CARRY-FORWARD"),
    ("retry_context", "RETRY CONTEXT"),
    ("correction_hint", "CORRECTION HINT"),
    ("directives", "ACTIVE DIRECTIVES"),
    ("implementation", "IMPLEMENTATION REPORT"),
    ("verification", "VERIFICATION"),
    ("diff", "DIFF"),
    ("completed_tasks", "COMPLETED TASKS"),
    ("failed_tasks", "FAILED TASKS"),
    ("open_tasks", "OPEN TASKS"),
    ("milestone_check", "MILESTONE CHECK"),
    ("stats", "STATISTICS"),
    ("assessment", "LAST ASSESSMENT"),
    ("error", "ERROR"),
    ("knowledge", "KNOWLEDGE NOTES"),
    ("escalation", "ESCALATION"),
    ("status", "STATUS"),
    ("events", "RECENT EVENTS"),
];

/// The sections as `## TITLE\n<text>` blocks, in the workflow's fixed order (unknown names
/// last, alphabetically, titled by their name in capitals); empty ones are left out. For
/// reading sections in tests and logs: the agents' prompts lay them out themselves.
pub fn render_sections(sections: &BTreeMap<String, String>) -> String {
    let known = ORDER
        .iter()
        .filter_map(|(name, title)| sections.get(*name).map(|text| ((*title).to_owned(), text)));
    let unknown = sections
        .iter()
        .filter(|(name, _)| !ORDER.iter().any(|(known, _)| known == name))
        .map(|(name, text)| (name.replace('_', " ").to_uppercase(), text));
    known
        .chain(unknown)
        .filter(|(_, text)| !text.trim().is_empty())
        .map(|(title, text)| format!("## {title}\n{}", text.trim_end()))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn put(sections: &mut Sections, name: &str, text: Option<String>) {
    if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
        sections.insert(name.to_owned(), text);
    }
}

/// The done list of one milestone (or of the whole run): the last `detail` entries in full
/// (description ≤ 80, result ≤ 60 characters), older ones rolled into one line.
fn done_list(state: &WorkflowState, milestone: Option<&str>, detail: usize) -> Option<String> {
    let entries: Vec<_> = state
        .done_list
        .iter()
        .filter(|d| milestone.is_none_or(|m| d.milestone_id == m))
        .collect();
    if entries.is_empty() {
        return None;
    }
    let split = entries.len().saturating_sub(detail);
    let (older, recent) = entries.split_at(split);
    let mut out = String::new();
    if !older.is_empty() {
        let count = |o| older.iter().filter(|d| d.outcome == o).count();
        let names: Vec<String> = older.iter().map(|d| line(&d.description, 40)).collect();
        let _ = writeln!(
            out,
            "{}",
            line(
                &format!(
                    "(earlier: {} completed, {} skipped, {} failed: {})",
                    count(TaskOutcome::Completed),
                    count(TaskOutcome::Skipped),
                    count(TaskOutcome::Failed),
                    names.join("; ")
                ),
                300
            )
        );
    }
    for entry in recent {
        let _ = writeln!(
            out,
            "- [{}] {}: {} → {}",
            entry.outcome.as_str(),
            entry.task_id,
            line(&entry.description, 80),
            line(&entry.result, 60)
        );
    }
    Some(out)
}

fn milestone(state: &WorkflowState) -> Option<String> {
    let active = state.active()?;
    let position = state.milestones.iter().position(|m| m.id == active.id).unwrap_or(0) + 1;
    let mut out = format!(
        "{} ({position} of {}): {}",
        active.id,
        state.milestones.len(),
        active.description
    );
    if !active.sketch.is_empty() {
        let _ = write!(out, "\nSketch: {}", active.sketch);
    }
    Some(out)
}

fn milestones(state: &WorkflowState) -> Option<String> {
    let lines: Vec<String> = state
        .milestones
        .iter()
        .map(|m| format!("- [{}] {}: {}", milestone_status(m.status), m.id, m.description))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

fn bullets(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| items.iter().map(|i| format!("- {i}")).collect::<Vec<_>>().join("\n"))
}

/// The ACTIVE DIRECTIVES lines: `- [critical functional] do X (files: a, b) — why`.
fn directives(state: &WorkflowState) -> Option<String> {
    let lines: Vec<String> = state
        .pending_directives
        .iter()
        .map(|d| {
            let mut text = format!("- {} [{} {}] {}", d.id, d.priority, d.kind, d.description);
            if !d.files.is_empty() {
                let _ = write!(text, " (files: {})", d.files.join(", "));
            }
            if !d.rationale.is_empty() {
                let _ = write!(text, " — {}", d.rationale);
            }
            if d.priority == Priority::Critical {
                text.push_str(" [address first]");
            }
            text
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

fn task(task: &Task) -> String {
    let mut out = format!("{}: {}", task.id, task.description);
    if !task.measurable_outcome.is_empty() {
        let _ = write!(out, "\nMeasurable outcome: {}", task.measurable_outcome);
    }
    if !task.task_summary.is_empty() {
        let _ = write!(out, "\nSummary: {} ({})", task.task_summary, task.change_type);
    }
    out
}

/// QA's feedback on the current task, when it is being retried.
fn retry_context(state: &WorkflowState) -> Option<String> {
    let task = state.current()?;
    let feedback = task.qa_feedback.as_deref()?;
    let kind = task.failure_type.map_or_else(String::new, |f| format!(" ({f})"));
    Some(format!(
        "Attempt {} of {} for {}. QA feedback on the last attempt{kind}: {}",
        task.attempts,
        state.limits.max_attempts,
        task.id,
        clip(feedback, 500)
    ))
}

fn working_environment(state: &WorkflowState) -> String {
    let mut out = format!(
        "Workspace root: {}\nGit repository: {}",
        state.workspace_root,
        if state.in_git { "yes" } else { "no" }
    );
    if let Some(check) = &state.check_command {
        let _ = write!(out, "\nCheck command (run by verify after you finish): `{check}`");
    }
    out
}

fn tasks_with(state: &WorkflowState, status: TaskStatus, keep: usize, milestone: Option<&str>) -> Option<String> {
    let tasks: Vec<&Task> = state
        .tasks
        .values()
        .filter(|t| t.status == status && milestone.is_none_or(|m| t.milestone_id == m))
        .collect();
    let lines: Vec<String> = tasks[tasks.len().saturating_sub(keep)..]
        .iter()
        .map(|t| {
            let mut text = format!("- {}: {}", t.id, line(&t.description, 100));
            if let Some(feedback) = t.qa_feedback.as_deref().filter(|f| !f.is_empty()) {
                let _ = write!(text, " — QA: {}", line(feedback, 150));
            }
            text
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

fn counts(state: &WorkflowState) -> String {
    let count = |status| state.tasks.values().filter(|t| t.status == status).count();
    let limits = &state.limits;
    format!(
        "tasks: {} completed, {} skipped, {} failed; started {} of {}; planner round {} of {}; \
         skips in a row {}; scope reviews {} of {}",
        count(TaskStatus::Completed),
        count(TaskStatus::Skipped),
        count(TaskStatus::Failed),
        state.tasks_total,
        limits.max_tasks,
        state.planner_rounds,
        limits.max_planner_rounds,
        state.consecutive_skips,
        state.replans,
        limits.max_replans
    )
}

fn assessment_notes(state: &WorkflowState) -> Option<String> {
    let assessment = state.last_assessment.as_ref()?;
    let mut out = clip(&assessment.assessment_notes, 500);
    if !assessment.uncovered_gaps.is_empty() {
        let _ = write!(
            out,
            "\nUncovered gaps:\n{}",
            bullets(&assessment.uncovered_gaps).unwrap_or_default()
        );
    }
    Some(out)
}

/// Why the planner aborted, when it did without a task to fail.
fn escalation(state: &WorkflowState) -> Option<String> {
    state
        .planner_abort
        .as_ref()
        .map(|reason| format!("The planner aborted: {reason}"))
}

fn detail(state: &WorkflowState) -> usize {
    state.limits.done_detail as usize
}

/// Every variable of `agent`'s prompt ([`crate::spec::PROMPT_VARIABLES`]) present, an empty
/// value for those with nothing to say (the template renders it as `(none)`).
fn complete(agent: &str, mut s: Sections) -> Sections {
    for name in crate::spec::variables_of(agent) {
        s.entry((*name).to_owned()).or_default();
    }
    s
}

/// The prompt variables of the agent that runs in `node` (`None` for a node without an agent).
pub fn prompt_variables(node: Node, state: &WorkflowState) -> Option<BTreeMap<String, String>> {
    Some(match node {
        Node::ScopeInitial => scope_sections(state, false),
        Node::ScopeReview => scope_sections(state, true),
        Node::TaskPlanner => planner_sections(state),
        Node::Implementor => implementor_sections(state),
        Node::Qa => qa_sections(state),
        Node::Assessor => assessor_sections(state),
        Node::Report => report_sections(state),
        _ => return None,
    })
}

/// The task planner's variables: `workspace`, `project_context`, `remit`, `milestone`,
/// `done_list`, `carry_forward`, `task` (the task QA sent back, with its previous plan),
/// `retry_context`, `correction_hint`, `directives`.
pub fn planner_sections(state: &WorkflowState) -> BTreeMap<String, String> {
    let mut s = Sections::new();
    put(&mut s, "workspace", Some(working_environment(state)));
    put(
        &mut s,
        "project_context",
        Some(clip(&state.project_context, PROJECT_CONTEXT_CHARS)),
    );
    put(&mut s, "remit", Some(state.remit.clone()));
    put(&mut s, "milestone", milestone(state));
    put(
        &mut s,
        "done_list",
        done_list(state, state.active_milestone.as_deref(), detail(state)),
    );
    put(&mut s, "carry_forward", bullets(&state.carry_forward));
    if let Some(current) = state.current() {
        let previous = clip(&current.plan, 1500);
        put(
            &mut s,
            "task",
            Some(format!("{}\nPrevious plan:\n{previous}", task(current))),
        );
    }
    put(&mut s, "retry_context", retry_context(state));
    put(
        &mut s,
        "correction_hint",
        state.correction_hint.as_deref().map(|h| clip(h, 300)),
    );
    put(&mut s, "directives", directives(state));
    complete("task_planner", s)
}

/// The implementor's variables: `workspace`, `project_context`, `task`, `plan`, `done_list`,
/// `carry_forward`, `retry_context`.
pub fn implementor_sections(state: &WorkflowState) -> BTreeMap<String, String> {
    let mut s = Sections::new();
    put(&mut s, "workspace", Some(working_environment(state)));
    put(
        &mut s,
        "project_context",
        Some(clip(&state.project_context, PROJECT_CONTEXT_CHARS)),
    );
    if let Some(current) = state.current() {
        put(&mut s, "task", Some(task(current)));
        put(&mut s, "plan", Some(current.plan.clone()));
    }
    put(
        &mut s,
        "done_list",
        done_list(state, state.active_milestone.as_deref(), detail(state).min(5)),
    );
    put(&mut s, "carry_forward", bullets(&state.carry_forward));
    put(&mut s, "retry_context", retry_context(state));
    complete("implementor", s)
}

/// QA's variables: `task`, `plan`, `implementation` (the implementor's report),
/// `verification` (the evidence) and `diff`.
pub fn qa_sections(state: &WorkflowState) -> BTreeMap<String, String> {
    let mut s = Sections::new();
    if let Some(current) = state.current() {
        put(&mut s, "task", Some(task(current)));
        put(&mut s, "plan", Some(clip(&current.plan, 3000)));
    }
    if let Some(implementation) = &state.implementation {
        let mut text = format!(
            "Success claimed: {}\nFiles claimed: {}\nSummary: {}",
            if implementation.success { "yes" } else { "no" },
            if implementation.files_modified.is_empty() {
                "none".to_owned()
            } else {
                implementation.files_modified.join(", ")
            },
            implementation.result_summary
        );
        if let Some(issues) = bullets(&implementation.issues_noticed) {
            let _ = write!(text, "\nIssues noticed:\n{issues}");
        }
        put(&mut s, "implementation", Some(text));
    }
    if let Some(report) = &state.verification {
        put(&mut s, "verification", Some(report.render()));
        put(&mut s, "diff", Some(report.diff.clone()));
    }
    complete("qa", s)
}

/// The assessor's variables: `remit`, `milestones`, `milestone`, `done_list`,
/// `completed_tasks` (with QA's feedback), `open_tasks`, `stats` (the counts and the
/// deterministic half of a milestone's completion), `directives`, `escalation`.
pub fn assessor_sections(state: &WorkflowState) -> BTreeMap<String, String> {
    let mut s = Sections::new();
    let active = state.active_milestone.as_deref();
    put(&mut s, "remit", Some(state.remit.clone()));
    put(&mut s, "milestones", milestones(state));
    put(&mut s, "milestone", milestone(state));
    put(&mut s, "done_list", done_list(state, active, detail(state).max(10)));
    put(
        &mut s,
        "completed_tasks",
        tasks_with(state, TaskStatus::Completed, 10, active),
    );
    let open: Vec<String> = state
        .tasks
        .values()
        .filter(|t| t.status.is_open())
        .map(|t| format!("- {}: {}", t.id, line(&t.description, 100)))
        .collect();
    put(&mut s, "open_tasks", (!open.is_empty()).then(|| open.join("\n")));
    let check = match milestone_can_complete(state) {
        Ok(()) => "the milestone can be closed: its tasks are done or skipped".to_owned(),
        Err(why) => format!("the milestone cannot be closed yet: {why}"),
    };
    put(
        &mut s,
        "stats",
        Some(format!("{}\nMilestone check: {check}", counts(state))),
    );
    put(&mut s, "directives", directives(state));
    put(&mut s, "escalation", escalation(state));
    complete("assessor", s)
}

/// The scope agent's variables: `user_request`, `workspace` and `project_context`; for a
/// review also `remit`, `milestones`, `done_list` (the last 10 of the run) and `assessment`
/// (the assessor's notes and gaps, and the planner's escalation).
pub fn scope_sections(state: &WorkflowState, review: bool) -> BTreeMap<String, String> {
    let mut s = Sections::new();
    put(&mut s, "user_request", Some(state.user_request.clone()));
    put(&mut s, "workspace", Some(working_environment(state)));
    put(
        &mut s,
        "project_context",
        Some(clip(&state.project_context, PROJECT_CONTEXT_CHARS)),
    );
    if !review {
        return complete("scope_initial", s);
    }
    put(&mut s, "remit", Some(state.remit.clone()));
    put(&mut s, "milestones", milestones(state));
    put(&mut s, "done_list", done_list(state, None, 10));
    let assessment = [assessment_notes(state), escalation(state)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n");
    put(&mut s, "assessment", Some(assessment));
    complete("scope_review", s)
}

/// The report's variables: `remit`, `milestones`, `stats`, `completed_tasks` (last 10),
/// `failed_tasks` (last 5), `status` (the honest outcome and why the run ended), `error` (what
/// failed, when an agent or the scope did), `assessment`.
pub fn report_sections(state: &WorkflowState) -> BTreeMap<String, String> {
    let mut s = Sections::new();
    put(&mut s, "remit", Some(state.remit.clone()));
    put(&mut s, "milestones", milestones(state));
    put(&mut s, "stats", Some(counts(state)));
    put(
        &mut s,
        "completed_tasks",
        tasks_with(state, TaskStatus::Completed, 10, None),
    );
    put(&mut s, "failed_tasks", tasks_with(state, TaskStatus::Failed, 5, None));
    let end = end_reason_at_report(state);
    let status = status_text(&final_status(state));
    let ended = end
        .as_ref()
        .map_or_else(String::new, |e| format!("\nEnded because {e}."));
    put(&mut s, "status", Some(format!("{status}{ended}")));
    let error = end.filter(|e| {
        matches!(
            e,
            EndReason::AgentFailed { .. } | EndReason::ModelCallLimit { .. } | EndReason::ScopeFailed { .. }
        )
    });
    put(&mut s, "error", error.map(|e| e.to_string()));
    put(&mut s, "assessment", assessment_notes(state));
    complete("report", s)
}

/// The supervisor's variables: `remit`, `milestone`, `done_list`, `task` (with the last
/// verification), `events` (the last 20), `directives` (in force and waiting), `knowledge` (its
/// own notes from earlier reviews), `stats`.
pub fn supervisor_sections(state: &WorkflowState) -> BTreeMap<String, String> {
    let mut s = Sections::new();
    put(&mut s, "remit", Some(state.remit.clone()));
    put(&mut s, "milestone", milestone(state));
    put(
        &mut s,
        "done_list",
        done_list(state, state.active_milestone.as_deref(), detail(state)),
    );
    if let Some(current) = state.current() {
        let mut text = task(current);
        if let Some(report) = &state.verification {
            let _ = write!(text, "\nLast verification: {}", report.summary());
        }
        put(&mut s, "task", Some(text));
    }
    put(&mut s, "directives", directives(state));
    let events = &state.events[state.events.len().saturating_sub(20)..];
    put(&mut s, "events", Some(events.join("\n")));
    put(&mut s, "knowledge", bullets(&state.supervisor_notes));
    put(&mut s, "stats", Some(counts(state)));
    complete("supervisor", s)
}
