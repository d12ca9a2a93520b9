//! The honest outcome: when a task counts as done ([`evidence_ok`]), when a milestone may
//! close ([`milestone_can_complete`]), how the run ended ([`final_status`]) and the report.
//! The original reported `complete` on runs where the model wrote nothing; here a completion
//! needs verified changes and a confirming assessment.

use std::fmt::Write as _;

use super::Transition;
use super::routing::{Node, end_reason_at_report};
use crate::text::{clip, line};
use crate::workflow::state::{
    EndReason, MilestoneStatus, RunStatus, Task, TaskOutcome, TaskStatus, WorkflowState, WorkflowStateUpdate,
};

/// The longest work report kept.
pub const MAX_REPORT_CHARS: usize = 2_000;

/// Whether `task` has the evidence a completion needs: a passed verification in which at
/// least one claimed file changed, with the check run when one is configured. `Err` says
/// what is missing.
pub fn evidence_ok(task: &Task, check_configured: bool) -> Result<(), String> {
    let Some(evidence) = &task.evidence else {
        return Err("it was never verified".to_owned());
    };
    if !evidence.passed {
        return Err(clip(&evidence.problems.join("; "), 300));
    }
    if evidence.changed_claims().next().is_none() {
        return Err("none of its claimed files changed".to_owned());
    }
    if check_configured && evidence.check.is_none() {
        return Err("the check command did not run".to_owned());
    }
    Ok(())
}

/// The deterministic half of "the milestone is complete": at least one task completed or
/// skipped (an all-skipped milestone completes too), and none open. `Err` says why not.
pub fn milestone_can_complete(state: &WorkflowState) -> Result<(), String> {
    let Some(milestone) = state.active() else {
        return Err("no milestone is active".to_owned());
    };
    let mut closed = 0;
    for task in state.tasks_of(&milestone.id) {
        if task.status.is_open() {
            return Err(format!("{} is still open", task.id));
        }
        if matches!(task.status, TaskStatus::Completed | TaskStatus::Skipped) {
            closed += 1;
        }
    }
    if closed == 0 {
        return Err("no task was completed or skipped".to_owned());
    }
    Ok(())
}

/// How the run ended, judged from the state alone:
///
/// - `Failed` when no completed task changed a file (whatever the agents claimed), or a task
///   was completed without verified evidence;
/// - `Complete` only when, besides, the run ended on a completion that the last assessment
///   confirms, no task is open, and the last check run (if any is configured) passed;
/// - `Incomplete` otherwise, saying why the run ended and how far it got.
pub fn final_status(state: &WorkflowState) -> RunStatus {
    let end = end_reason_at_report(state);
    let check_configured = state.check_command.is_some();
    let completed: Vec<&Task> = state
        .tasks
        .values()
        .filter(|t| t.status == TaskStatus::Completed)
        .collect();
    if let Some((task, why)) = completed
        .iter()
        .find_map(|t| evidence_ok(t, check_configured).err().map(|why| (t, why)))
    {
        return RunStatus::Failed {
            reason: format!("{} was marked complete without verified evidence: {why}", task.id),
        };
    }
    let ended = end
        .as_ref()
        .map_or_else(|| "the run stopped".to_owned(), ToString::to_string);
    if completed.is_empty() {
        return RunStatus::Failed {
            reason: format!("{ended}; no task was completed with verified changes"),
        };
    }
    let progress = progress(state);
    if let Some(why) = unconfirmed(state, end.as_ref()) {
        return RunStatus::Incomplete {
            reason: format!("{ended}; {why}; {progress}"),
        };
    }
    RunStatus::Complete
}

/// Why a run that wrote verified changes is still not complete, if it is not.
fn unconfirmed(state: &WorkflowState, end: Option<&EndReason>) -> Option<String> {
    let Some(end) = end.filter(|e| e.claims_completion()) else {
        return Some("the work was not finished".to_owned());
    };
    if let Some(task) = state.tasks.values().find(|t| t.status.is_open()) {
        return Some(format!("{} is still open", task.id));
    }
    let latest_check = state
        .tasks
        .values()
        .rev()
        .find_map(|t| t.evidence.as_ref().and_then(|e| e.check.as_ref()).map(|c| (t, c)));
    if let Some((task, check)) = latest_check.filter(|(_, c)| !c.passed) {
        return Some(format!(
            "the last check (`{}`, after {}) failed, so the workspace may be broken",
            check.command, task.id
        ));
    }
    let assessment = state.last_assessment.as_ref();
    let confirmed = match end {
        EndReason::Completed => assessment.is_some_and(|a| a.is_complete),
        EndReason::AllMilestonesDone => assessment.is_some_and(|a| a.is_complete || a.milestone_complete),
        _ => assessment.is_some_and(|a| a.is_complete),
    };
    (!confirmed).then(|| "the assessor never confirmed that the work is complete".to_owned())
}

/// `1 of 3 milestones complete, 1 skipped; 4 tasks completed, 1 skipped, 2 failed`.
fn progress(state: &WorkflowState) -> String {
    let milestones = |status| state.milestones.iter().filter(|m| m.status == status).count();
    let tasks = |status| state.tasks.values().filter(|t| t.status == status).count();
    let skipped = milestones(MilestoneStatus::Skipped);
    format!(
        "{} of {} milestones complete{}; {} tasks completed, {} skipped, {} failed",
        milestones(MilestoneStatus::Complete),
        state.milestones.len(),
        if skipped > 0 {
            format!(", {skipped} skipped")
        } else {
            String::new()
        },
        tasks(TaskStatus::Completed),
        tasks(TaskStatus::Skipped),
        tasks(TaskStatus::Failed)
    )
}

/// The report node: the final status, the end reason and the work report (the model's text,
/// or [`fallback_report`] when there is none).
pub fn apply_report(state: &WorkflowState, report: Option<String>) -> Transition {
    report_transition(state, report, None)
}

/// [`apply_report`], noting in the trace why the template was used.
pub(super) fn report_transition(state: &WorkflowState, report: Option<String>, note: Option<&str>) -> Transition {
    let end = end_reason_at_report(state);
    let status = final_status(state);
    let model_text = report
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| clip(t, MAX_REPORT_CHARS));
    let template = model_text.is_none();
    let text = model_text.unwrap_or_else(|| template_report(state, &status));
    let mut what = match &status {
        RunStatus::Complete => "complete".to_owned(),
        RunStatus::Failed { reason } => format!("failed: {}", line(reason, 160)),
        RunStatus::Incomplete { reason } => format!("incomplete: {}", line(reason, 160)),
        RunStatus::Running => "running".to_owned(),
    };
    if template {
        match note {
            Some(note) => what.push_str(&format!(" ({note}; template report)")),
            None => what.push_str(" (template report)"),
        }
    }
    let update = WorkflowStateUpdate::default()
        .status(status)
        .end_reason(end)
        .work_report(Some(text));
    Transition::of(Node::Report, update, what)
}

/// The report without a model: status, remit, milestones, and the last completed and failed
/// tasks.
pub fn fallback_report(state: &WorkflowState) -> String {
    template_report(state, &final_status(state))
}

/// [`fallback_report`] for a run whose [`final_status`] is `status`.
fn template_report(state: &WorkflowState, status: &RunStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Status: {}", status_text(status));
    if !state.remit.is_empty() {
        let _ = writeln!(out, "Remit: {}", line(&state.remit, 300));
    }
    if !state.milestones.is_empty() {
        out.push_str("Milestones:\n");
        for m in &state.milestones {
            let _ = writeln!(
                out,
                "- [{}] {}: {}",
                milestone_status(m.status),
                m.id,
                line(&m.description, 100)
            );
        }
    }
    for (title, outcome, keep) in [
        ("Completed tasks", TaskOutcome::Completed, 10),
        ("Failed tasks", TaskOutcome::Failed, 5),
    ] {
        let entries: Vec<_> = state.done_list.iter().filter(|d| d.outcome == outcome).collect();
        if entries.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title}:");
        for entry in entries.iter().skip(entries.len().saturating_sub(keep)) {
            let _ = writeln!(
                out,
                "- {}: {} → {}",
                entry.task_id,
                line(&entry.description, 80),
                line(&entry.result, 100)
            );
        }
    }
    clip(&out, MAX_REPORT_CHARS)
}

/// `complete`, `failed: <why>`, `incomplete: <why>` or `running`.
pub(super) fn status_text(status: &RunStatus) -> String {
    match status {
        RunStatus::Complete => "complete".to_owned(),
        RunStatus::Failed { reason } => format!("failed: {reason}"),
        RunStatus::Incomplete { reason } => format!("incomplete: {reason}"),
        RunStatus::Running => "running".to_owned(),
    }
}

pub(super) fn milestone_status(status: MilestoneStatus) -> &'static str {
    match status {
        MilestoneStatus::Pending => "pending",
        MilestoneStatus::Active => "active",
        MilestoneStatus::Complete => "complete",
        MilestoneStatus::Skipped => "skipped",
    }
}
