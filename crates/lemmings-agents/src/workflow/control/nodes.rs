//! The deterministic nodes that move tasks and milestones along: start a milestone, record a
//! skip, retry a task, complete or fail it, close a milestone. (`apply_guidance` is in
//! `guidance`.)

use super::Transition;
use super::apply::with_task;
use super::guidance::apply_guidance;
use super::outcome::evidence_ok;
use super::routing::Node;
use crate::text::{clip, line};
use crate::workflow::outputs::{FailureType, PlanAction};
use crate::workflow::state::{
    DoneEntry, EndReason, Milestone, MilestoneStatus, Task, TaskOutcome, TaskStatus, WorkflowState, WorkflowStateUpdate,
};

/// Runs a deterministic node; `None` for the nodes where a model runs and for `verify`.
pub fn run_control(node: Node, state: &WorkflowState) -> Option<Transition> {
    Some(match node {
        Node::StartMilestone => start_milestone(state),
        Node::ApplyGuidance => apply_guidance(state),
        Node::RecordSkip => record_skip(state),
        Node::Retry => retry(state),
        Node::MarkComplete => mark_complete(state),
        Node::MarkFailed => mark_failed(state),
        Node::AdvanceMilestone => advance_milestone(state),
        _ => return None,
    })
}

/// The update that closes the current attempt: no current task, no attempt records.
fn close_task(update: WorkflowStateUpdate) -> WorkflowStateUpdate {
    update
        .current_task(None)
        .implementation(None)
        .verification(None)
        .qa(None)
}

/// The milestones with the status of milestone `id` set to `status`.
pub(super) fn with_milestone_status(state: &WorkflowState, id: &str, status: MilestoneStatus) -> Vec<Milestone> {
    state
        .milestones
        .iter()
        .map(|m| Milestone {
            status: if m.id == id { status } else { m.status },
            ..m.clone()
        })
        .collect()
}

fn done(state: &WorkflowState, task: &Task, result: &str, outcome: TaskOutcome) -> Vec<DoneEntry> {
    let mut list = state.done_list.clone();
    list.push(DoneEntry {
        task_id: task.id.clone(),
        milestone_id: task.milestone_id.clone(),
        description: clip(&task.description, 300),
        result: clip(result, 300),
        outcome,
    });
    list
}

/// `start_milestone`: activates the first pending milestone (keeps one already active) and
/// starts its skip count afresh. With none left, the run ends (the routers never send it
/// here then).
pub fn start_milestone(state: &WorkflowState) -> Transition {
    let chosen = state
        .active()
        .filter(|m| m.status == MilestoneStatus::Active)
        .or_else(|| state.next_pending());
    let Some(milestone) = chosen else {
        let end = EndReason::ScopeFailed {
            reason: "no milestone left to start".to_owned(),
        };
        return Transition::of(
            Node::StartMilestone,
            WorkflowStateUpdate::default().end_reason(Some(end)),
            "no milestone left",
        );
    };
    let id = milestone.id.clone();
    let milestones = with_milestone_status(state, &id, MilestoneStatus::Active);
    let what = format!("{id}: {}", line(&milestone.description, 60));
    let update = WorkflowStateUpdate::default()
        .milestones(milestones)
        .active_milestone(Some(id))
        .consecutive_skips(0_u32);
    Transition::of(Node::StartMilestone, update, what)
}

/// `record_skip`: the planner skipped a step (or declared the milestone done). The current
/// task, if QA had sent one back, is closed as skipped; otherwise the skip is recorded as a
/// skipped task of the milestone, so an all-skipped milestone can still complete. Counts
/// toward the skips in a row.
pub fn record_skip(state: &WorkflowState) -> Transition {
    let plan = state.last_plan.clone().unwrap_or_default();
    let reason = match (&plan.skip_reason, plan.action) {
        (_, PlanAction::MilestoneDone) => "the planner considers the milestone done".to_owned(),
        (Some(reason), _) => reason.clone(),
        (None, _) => "no reason given".to_owned(),
    };
    let mut task = match state.current() {
        Some(task) => task.clone(),
        None => Task {
            id: format!("task_{:03}", state.tasks.len() + 1),
            milestone_id: state.active_milestone.clone().unwrap_or_default(),
            description: if plan.task_description.is_empty() {
                format!("({})", plan.action)
            } else {
                plan.task_description.clone()
            },
            task_summary: plan.task_summary.clone(),
            change_type: plan.change_type,
            ..Task::default()
        },
    };
    task.status = TaskStatus::Skipped;
    task.result_summary = Some(reason.clone());
    let skips = state.consecutive_skips + 1;
    let what = format!("{} ({skips} in a row): {}", task.id, line(&reason, 80));
    let update = WorkflowStateUpdate::default()
        .done_list(done(state, &task, &format!("skipped: {reason}"), TaskOutcome::Skipped))
        .tasks(with_task(state, task))
        .consecutive_skips(skips);
    Transition::of(Node::RecordSkip, close_task(update), what)
}

/// `retry`: another attempt at the SAME task (`attempts += 1`); `incomplete` goes back to
/// the implementor, anything else to the planner, which re-plans this task with QA's
/// feedback.
pub fn retry(state: &WorkflowState) -> Transition {
    let Some(task) = state.current() else {
        return Transition::of(Node::Retry, WorkflowStateUpdate::default(), "no current task");
    };
    let mut task = task.clone();
    task.attempts += 1;
    task.status = TaskStatus::InProgress;
    let to = match task.failure_type {
        Some(FailureType::Incomplete) => "the implementor continues (incomplete)".to_owned(),
        Some(other) => format!("re-plan ({other})"),
        None => "re-plan".to_owned(),
    };
    let what = format!(
        "{} attempt {} of {}: {to}",
        task.id, task.attempts, state.limits.max_attempts
    );
    let update = WorkflowStateUpdate::default()
        .tasks(with_task(state, task))
        .implementation(None)
        .verification(None)
        .qa(None);
    Transition::of(Node::Retry, update, what)
}

/// `mark_complete`: completes the current task, but ONLY with verified evidence (changed
/// files, the check passed when configured); without it the task is failed instead (the
/// routers never send such a task here).
pub fn mark_complete(state: &WorkflowState) -> Transition {
    let Some(task) = state.current() else {
        return Transition::of(Node::MarkComplete, WorkflowStateUpdate::default(), "no current task");
    };
    if let Err(why) = evidence_ok(task, state.check_command.is_some()) {
        return fail(state, task, Node::MarkComplete, &format!("not complete: {why}"));
    }
    let mut task = task.clone();
    task.status = TaskStatus::Completed;
    let result = task
        .result_summary
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "completed".to_owned());
    let evidence = task.evidence.as_ref().map(|e| e.summary()).unwrap_or_default();
    let what = format!("{} after {} attempt(s): {evidence}", task.id, task.attempts);
    let update = WorkflowStateUpdate::default()
        .done_list(done(state, &task, &result, TaskOutcome::Completed))
        .tasks(with_task(state, task))
        .tasks_since_review(state.tasks_since_review + 1)
        .consecutive_skips(0_u32)
        .consecutive_failures(0_u32);
    Transition::of(Node::MarkComplete, close_task(update), what)
}

/// `mark_failed`: the current task used up its attempts (or the planner aborted it).
pub fn mark_failed(state: &WorkflowState) -> Transition {
    let Some(task) = state.current() else {
        return Transition::of(Node::MarkFailed, WorkflowStateUpdate::default(), "no current task");
    };
    let why = match (&state.last_plan, &task.qa_feedback) {
        (Some(plan), _) if plan.action == PlanAction::Abort => format!(
            "aborted by the planner: {}",
            plan.escalation_context.as_deref().unwrap_or("no reason given")
        ),
        (_, Some(feedback)) => feedback.clone(),
        (_, None) => "failed".to_owned(),
    };
    fail(state, task, Node::MarkFailed, &why)
}

fn fail(state: &WorkflowState, task: &Task, node: Node, why: &str) -> Transition {
    let mut task = task.clone();
    task.status = TaskStatus::Failed;
    let failures = state.consecutive_failures + 1;
    let what = format!(
        "{} failed after {} attempt(s) ({failures} in a row): {}",
        task.id,
        task.attempts,
        line(why, 80)
    );
    let update = WorkflowStateUpdate::default()
        .done_list(done(state, &task, &format!("failed: {why}"), TaskOutcome::Failed))
        .tasks(with_task(state, task))
        .consecutive_failures(failures)
        .consecutive_skips(0_u32);
    Transition::of(node, close_task(update), what)
}

/// `advance_milestone`: closes the active milestone, complete when a task of it was
/// completed, skipped when all were skipped, and clears the per-milestone window (carry-
/// forward notes, correction hint, counters). The done list is kept; the agents see the
/// active milestone's part of it.
pub fn advance_milestone(state: &WorkflowState) -> Transition {
    let Some(active) = state.active() else {
        return Transition::of(
            Node::AdvanceMilestone,
            WorkflowStateUpdate::default(),
            "no active milestone",
        );
    };
    let completed = state
        .tasks_of(&active.id)
        .filter(|t| t.status == TaskStatus::Completed)
        .count();
    let skipped = state
        .tasks_of(&active.id)
        .filter(|t| t.status == TaskStatus::Skipped)
        .count();
    let status = if completed > 0 {
        MilestoneStatus::Complete
    } else {
        MilestoneStatus::Skipped
    };
    let id = active.id.clone();
    let milestones = with_milestone_status(state, &id, status);
    let next = state
        .milestones
        .iter()
        .find(|m| m.status == MilestoneStatus::Pending)
        .map_or_else(|| "no milestone left".to_owned(), |m| format!("next: {}", m.id));
    let what = format!(
        "{id} {} ({completed} completed, {skipped} skipped); {next}",
        super::outcome::milestone_status(status)
    );
    let update = WorkflowStateUpdate::default()
        .milestones(milestones)
        .active_milestone(None)
        .carry_forward(Vec::new())
        .correction_hint(None)
        .tasks_since_review(0_u32)
        .consecutive_skips(0_u32);
    Transition::of(Node::AdvanceMilestone, update, what)
}
