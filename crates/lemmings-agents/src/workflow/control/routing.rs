//! The workflow's nodes, its edges and every routing decision with the run's limits. All
//! decisions live in [`decide`]: the routers are views of it, and the report recovers why the
//! run ended by asking it again about the last node (the state has not changed since).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::outcome::milestone_can_complete;
use crate::workflow::outputs::{FailureType, PlanAction};
use crate::workflow::state::{EndReason, TaskOutcome, WorkflowState};

/// A node of the workflow graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// The scope agent on the user request (LLM).
    ScopeInitial,
    /// The scope agent reviewing the scope when the assessor escalates (LLM).
    ScopeReview,
    /// Activates the next pending milestone.
    StartMilestone,
    /// Takes in the supervisor's directives; the gate before every planner call.
    ApplyGuidance,
    /// The task planner (LLM).
    TaskPlanner,
    /// Records a skipped step.
    RecordSkip,
    /// The implementor (LLM).
    Implementor,
    /// The deterministic verify step.
    Verify,
    /// QA (LLM).
    Qa,
    /// Starts another attempt of the same task.
    Retry,
    /// Completes the task (only with verified evidence).
    MarkComplete,
    /// Fails the task.
    MarkFailed,
    /// The assessor (LLM).
    Assessor,
    /// Closes the active milestone.
    AdvanceMilestone,
    /// The final report (LLM, with a template fallback); then the end.
    Report,
}

impl Node {
    /// Every node, in the order of the workflow.
    pub const ALL: [Node; 15] = [
        Node::ScopeInitial,
        Node::ScopeReview,
        Node::StartMilestone,
        Node::ApplyGuidance,
        Node::TaskPlanner,
        Node::RecordSkip,
        Node::Implementor,
        Node::Verify,
        Node::Qa,
        Node::Retry,
        Node::MarkComplete,
        Node::MarkFailed,
        Node::Assessor,
        Node::AdvanceMilestone,
        Node::Report,
    ];

    /// The node's name in the graph (`task_planner`).
    pub fn name(self) -> &'static str {
        match self {
            Node::ScopeInitial => "scope_initial",
            Node::ScopeReview => "scope_review",
            Node::StartMilestone => "start_milestone",
            Node::ApplyGuidance => "apply_guidance",
            Node::TaskPlanner => "task_planner",
            Node::RecordSkip => "record_skip",
            Node::Implementor => "implementor",
            Node::Verify => "verify",
            Node::Qa => "qa",
            Node::Retry => "retry",
            Node::MarkComplete => "mark_complete",
            Node::MarkFailed => "mark_failed",
            Node::Assessor => "assessor",
            Node::AdvanceMilestone => "advance_milestone",
            Node::Report => "report",
        }
    }

    /// Whether the node's cut status line is sent to the summarizer to condense: an agent node
    /// the run goes on after (the report ends the run, which would only cancel the condensing).
    pub fn condenses(self) -> bool {
        self.is_agent() && self != Node::Report
    }

    /// Whether a model runs in the node.
    pub fn is_agent(self) -> bool {
        matches!(
            self,
            Node::ScopeInitial
                | Node::ScopeReview
                | Node::TaskPlanner
                | Node::Implementor
                | Node::Qa
                | Node::Assessor
                | Node::Report
        )
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What follows a node in the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// Always this node.
    To(Node),
    /// One of these, chosen by [`decide`].
    Routed(&'static [Node]),
    /// The end of the run.
    End,
}

/// The graph's edges: the wiring adds `add_edge` for [`Edge::To`], a conditional edge over
/// [`decide`] with these targets for [`Edge::Routed`], and an edge to END after the report.
/// START goes to `scope_initial`.
pub fn edge(from: Node) -> Edge {
    use Node::*;
    match from {
        ScopeInitial | ScopeReview => Edge::Routed(&[StartMilestone, Report]),
        StartMilestone => Edge::To(ApplyGuidance),
        ApplyGuidance => Edge::Routed(&[TaskPlanner, Assessor, Report]),
        TaskPlanner => Edge::Routed(&[Implementor, RecordSkip, MarkFailed, Assessor, Report]),
        RecordSkip => Edge::Routed(&[ApplyGuidance, Assessor, Report]),
        Implementor => Edge::To(Verify),
        Verify => Edge::To(Qa),
        Qa => Edge::Routed(&[MarkComplete, Retry, MarkFailed, Assessor, Report]),
        Retry => Edge::Routed(&[Implementor, ApplyGuidance, Report]),
        MarkComplete => Edge::Routed(&[Assessor, ApplyGuidance, Report]),
        MarkFailed => Edge::Routed(&[Assessor, Report]),
        Assessor => Edge::Routed(&[Report, ScopeReview, AdvanceMilestone, ApplyGuidance]),
        AdvanceMilestone => Edge::Routed(&[StartMilestone, Report]),
        Report => Edge::End,
    }
}

/// Where to go next, and why the run ends when that is the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The next node.
    pub next: Node,
    /// Why the run ends, when `next` is the report.
    pub end: Option<EndReason>,
}

impl Decision {
    fn to(next: Node) -> Self {
        Decision { next, end: None }
    }

    fn report(end: EndReason) -> Self {
        Decision {
            next: Node::Report,
            end: Some(end),
        }
    }
}

/// The planning budget: whether another planner call is allowed. `None` when it is;
/// otherwise the limit reached. `max_tasks` only stops new tasks (a retry may still re-plan).
pub fn budget_exhausted(state: &WorkflowState) -> Option<EndReason> {
    let limits = &state.limits;
    if state.planner_rounds >= limits.max_planner_rounds {
        return Some(EndReason::MaxPlannerRounds {
            limit: limits.max_planner_rounds,
        });
    }
    if state.current_task.is_none() && state.tasks_total >= limits.max_tasks {
        return Some(EndReason::MaxTasks {
            limit: limits.max_tasks,
        });
    }
    None
}

/// The next node after `after` ran, and the end reason when it is the report. Every router
/// first honours an end already recorded in the state (an agent or the scope failed).
/// `Report` is terminal: asking about it gives `Report` again.
pub fn decide(after: Node, state: &WorkflowState) -> Decision {
    if let Some(end) = &state.end_reason {
        return Decision::report(end.clone());
    }
    match after {
        Node::ScopeInitial | Node::ScopeReview => after_scope(state, after == Node::ScopeReview),
        Node::StartMilestone => Decision::to(Node::ApplyGuidance),
        Node::ApplyGuidance => after_guidance(state),
        Node::TaskPlanner => after_planner(state),
        Node::RecordSkip => after_record_skip(state),
        Node::Implementor => Decision::to(Node::Verify),
        Node::Verify => Decision::to(Node::Qa),
        Node::Qa => after_qa(state),
        Node::Retry => after_retry(state),
        Node::MarkComplete => after_mark_complete(state),
        Node::MarkFailed => after_mark_failed(state),
        Node::Assessor => after_assessor(state),
        Node::AdvanceMilestone => after_advance_milestone(state),
        Node::Report => Decision {
            next: Node::Report,
            end: end_reason_at_report(state),
        },
    }
}

/// Why the run ended, as the report sees it: the recorded end, else what the last node's
/// router decided (the state has not changed since it routed to the report).
pub fn end_reason_at_report(state: &WorkflowState) -> Option<EndReason> {
    if let Some(end) = &state.end_reason {
        return Some(end.clone());
    }
    match state.last_node {
        Some(Node::Report) | None => None,
        Some(node) => decide(node, state).end,
    }
}

fn after_scope(state: &WorkflowState, review: bool) -> Decision {
    if state.next_pending().is_some() {
        return Decision::to(Node::StartMilestone);
    }
    if review {
        return Decision::report(EndReason::NothingLeft);
    }
    Decision::report(EndReason::ScopeFailed {
        reason: "the scope has no milestone".to_owned(),
    })
}

fn after_guidance(state: &WorkflowState) -> Decision {
    if state.active().is_none() {
        return Decision::report(EndReason::ScopeFailed {
            reason: "no milestone is active".to_owned(),
        });
    }
    match budget_exhausted(state) {
        // A last assessment first, so that finished work can still be confirmed.
        Some(_) if state.tasks_since_review > 0 => Decision::to(Node::Assessor),
        Some(end) => Decision::report(end),
        None => Decision::to(Node::TaskPlanner),
    }
}

fn after_planner(state: &WorkflowState) -> Decision {
    let action = state.last_plan.as_ref().map(|p| p.action);
    match action {
        Some(PlanAction::Implement) if state.current_task.is_some() => Decision::to(Node::Implementor),
        // Implement without a task cannot happen after apply_plan; skipping is the safe reading.
        Some(PlanAction::Implement | PlanAction::Skip | PlanAction::MilestoneDone) => Decision::to(Node::RecordSkip),
        Some(PlanAction::Abort) if state.current_task.is_some() => Decision::to(Node::MarkFailed),
        Some(PlanAction::Abort) | None => Decision::to(Node::Assessor),
    }
}

fn after_record_skip(state: &WorkflowState) -> Decision {
    let limit = state.limits.max_consecutive_skips.max(1);
    let skips = state.consecutive_skips;
    if skips >= 2 * limit {
        return Decision::report(EndReason::ConsecutiveSkips { count: skips });
    }
    let milestone_done = state.last_plan.as_ref().map(|p| p.action) == Some(PlanAction::MilestoneDone);
    if milestone_done || skips == limit {
        return Decision::to(Node::Assessor);
    }
    Decision::to(Node::ApplyGuidance)
}

fn after_qa(state: &WorkflowState) -> Decision {
    let Some(task) = state.current() else {
        return Decision::to(Node::Assessor);
    };
    let passed = state.qa.as_ref().is_some_and(|qa| qa.passed);
    if passed && super::outcome::evidence_ok(task, state.check_command.is_some()).is_ok() {
        return Decision::to(Node::MarkComplete);
    }
    if task.attempts < state.limits.max_attempts {
        return Decision::to(Node::Retry);
    }
    Decision::to(Node::MarkFailed)
}

fn after_retry(state: &WorkflowState) -> Decision {
    match state.current().and_then(|t| t.failure_type) {
        Some(FailureType::Incomplete) => Decision::to(Node::Implementor),
        _ => Decision::to(Node::ApplyGuidance),
    }
}

fn after_mark_complete(state: &WorkflowState) -> Decision {
    if state.force_assessment || state.tasks_since_review >= state.limits.review_interval {
        return Decision::to(Node::Assessor);
    }
    Decision::to(Node::ApplyGuidance)
}

fn after_mark_failed(state: &WorkflowState) -> Decision {
    let limit = state.limits.max_consecutive_failures.max(1);
    if state.consecutive_failures >= limit {
        let task_id = state
            .done_list
            .iter()
            .rev()
            .find(|entry| entry.outcome == TaskOutcome::Failed)
            .map(|entry| entry.task_id.clone())
            .unwrap_or_default();
        return Decision::report(EndReason::MaxAttempts {
            task_id,
            failed_in_a_row: state.consecutive_failures,
        });
    }
    Decision::to(Node::Assessor)
}

fn after_assessor(state: &WorkflowState) -> Decision {
    let Some(assessment) = &state.last_assessment else {
        return Decision::to(Node::ApplyGuidance);
    };
    if assessment.is_complete {
        return Decision::report(EndReason::Completed);
    }
    if let Some(end) = budget_exhausted(state) {
        return Decision::report(end);
    }
    if assessment.escalate_to_scope {
        if state.replans < state.limits.max_replans {
            return Decision::to(Node::ScopeReview);
        }
        return Decision::report(EndReason::MaxReplans {
            limit: state.limits.max_replans,
        });
    }
    if assessment.milestone_complete && milestone_can_complete(state).is_ok() {
        return Decision::to(Node::AdvanceMilestone);
    }
    if let Some(reason) = &state.planner_abort {
        return Decision::report(EndReason::PlannerAbort { reason: reason.clone() });
    }
    Decision::to(Node::ApplyGuidance)
}

fn after_advance_milestone(state: &WorkflowState) -> Decision {
    if state.next_pending().is_some() {
        return Decision::to(Node::StartMilestone);
    }
    Decision::report(EndReason::AllMilestonesDone)
}

/// After `scope_initial` or `scope_review` (told apart by `last_node`, which they write).
pub fn route_after_scope(state: &WorkflowState) -> Node {
    let after = match state.last_node {
        Some(Node::ScopeReview) => Node::ScopeReview,
        _ => Node::ScopeInitial,
    };
    decide(after, state).next
}

/// After `apply_guidance`: the planner, a last assessment, or the report when a budget is spent.
pub fn route_after_guidance(state: &WorkflowState) -> Node {
    decide(Node::ApplyGuidance, state).next
}

/// After `task_planner`.
pub fn route_after_planner(state: &WorkflowState) -> Node {
    decide(Node::TaskPlanner, state).next
}

/// After `record_skip`.
pub fn route_after_record_skip(state: &WorkflowState) -> Node {
    decide(Node::RecordSkip, state).next
}

/// After `qa`.
pub fn route_after_qa(state: &WorkflowState) -> Node {
    decide(Node::Qa, state).next
}

/// After `retry`.
pub fn route_after_retry(state: &WorkflowState) -> Node {
    decide(Node::Retry, state).next
}

/// After `mark_complete`.
pub fn route_after_mark_complete(state: &WorkflowState) -> Node {
    decide(Node::MarkComplete, state).next
}

/// After `mark_failed`.
pub fn route_after_mark_failed(state: &WorkflowState) -> Node {
    decide(Node::MarkFailed, state).next
}

/// After `assessor`.
pub fn route_after_assessor(state: &WorkflowState) -> Node {
    decide(Node::Assessor, state).next
}

/// After `advance_milestone`.
pub fn route_after_advance_milestone(state: &WorkflowState) -> Node {
    decide(Node::AdvanceMilestone, state).next
}
