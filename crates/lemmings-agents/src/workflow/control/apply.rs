//! Applying an agent's structured output to the state: lengths capped again (the output may
//! not have come through the schema), and the rules that keep the loop honest and bounded.

use std::collections::{BTreeMap, BTreeSet};

use super::Transition;
use super::outcome::evidence_ok;
use super::routing::Node;
use crate::text::{clip, items, line, non_empty, normalise};
use crate::workflow::outputs::{
    AssessmentOutput, DirectiveResponse, FailureType, ImplementationOutput, MIN_PLAN_CHARS, PlanAction, PlanOutput,
    QaOutput, ScopeOutput,
};
use crate::workflow::state::{
    Directive, EndReason, Milestone, MilestoneStatus, Task, TaskStatus, WorkflowState, WorkflowStateUpdate,
};
use crate::workflow::verify::VerifyReport;

/// The most milestones one scope may hold.
const MAX_MILESTONES: usize = 12;
/// The most carry-forward notes kept.
const MAX_CARRY_FORWARD: usize = 10;

/// `scope_initial` (`review == false`) or `scope_review`: the remit and the milestones. A
/// review keeps the finished milestones, replaces the rest (the active one is closed as
/// skipped, or as complete when the review leaves nothing to do) and continues the
/// numbering. No remit, or no milestone in the initial scope, ends the run.
pub fn apply_scope(state: &WorkflowState, output: ScopeOutput, review: bool) -> Transition {
    let node = if review { Node::ScopeReview } else { Node::ScopeInitial };
    let remit = match non_empty(Some(&output.remit), 1000) {
        Some(remit) => remit,
        None if review && !state.remit.is_empty() => state.remit.clone(),
        None => {
            let end = EndReason::ScopeFailed {
                reason: "the scope agent gave no remit".to_owned(),
            };
            return Transition::of(node, WorkflowStateUpdate::default().end_reason(Some(end)), "no remit");
        }
    };
    let specs: Vec<_> = output
        .milestones
        .iter()
        .filter(|m| !m.description.trim().is_empty())
        .take(MAX_MILESTONES)
        .collect();
    if specs.is_empty() && !review {
        let end = EndReason::ScopeFailed {
            reason: "the scope agent gave no milestone".to_owned(),
        };
        return Transition::of(
            node,
            WorkflowStateUpdate::default().end_reason(Some(end)),
            "no milestone",
        );
    }

    let mut milestones: Vec<Milestone> = Vec::new();
    for milestone in &state.milestones {
        match milestone.status {
            MilestoneStatus::Complete | MilestoneStatus::Skipped => milestones.push(milestone.clone()),
            MilestoneStatus::Active if state.tasks_of(&milestone.id).next().is_some() => {
                let finished =
                    specs.is_empty() && state.tasks_of(&milestone.id).any(|t| t.status == TaskStatus::Completed);
                let status = if finished {
                    MilestoneStatus::Complete
                } else {
                    MilestoneStatus::Skipped
                };
                milestones.push(Milestone {
                    status,
                    ..milestone.clone()
                });
            }
            // Never started (or started without a task): replaced.
            MilestoneStatus::Active | MilestoneStatus::Pending => {}
        }
    }
    let mut number = state
        .milestones
        .iter()
        .filter_map(|m| number_of(&m.id))
        .max()
        .unwrap_or(0);
    let mut added = Vec::new();
    for spec in specs {
        number += 1;
        let id = format!("milestone_{number:03}");
        added.push(id.clone());
        milestones.push(Milestone {
            id,
            description: clip(&spec.description, 200),
            sketch: clip(&spec.sketch, 150),
            status: MilestoneStatus::Pending,
        });
    }
    let mut update = WorkflowStateUpdate::default()
        .remit(remit.clone())
        .explicit_needs(items(&output.explicit_needs, 200, 10))
        .implied_needs(items(&output.implied_needs, 200, 10))
        .milestones(milestones)
        .active_milestone(None)
        .correction_hint(None);
    if review {
        update = update.replans(state.replans + 1).carry_forward(Vec::new());
    }
    let what = match (added.first(), added.last()) {
        (Some(first), Some(last)) if first != last => format!("{} milestones ({first}..{last})", added.len()),
        (Some(first), _) => format!("1 milestone ({first})"),
        _ => "no milestone left".to_owned(),
    };
    let what = if review {
        format!("review {} of {}: {what}", state.replans + 1, state.limits.max_replans)
    } else {
        format!("remit of {} chars, {what}", remit.chars().count())
    };
    Transition::of(node, update, what)
}

fn number_of(id: &str) -> Option<u32> {
    id.rsplit('_').next()?.parse().ok()
}

/// `task_planner`: the planner's decision, normalised. An `implement` with a plan under
/// [`MIN_PLAN_CHARS`] (or without a task) is a skip. When QA sent the current task back, an
/// `implement` re-plans that SAME task (its attempts are kept, so `max_attempts` holds);
/// otherwise it starts a new task (`task_001`, …), unless `max_tasks` are spent.
pub fn apply_plan(state: &WorkflowState, output: PlanOutput) -> Transition {
    let mut plan = normalise_plan(output);
    let current = state.current();
    if plan.action == PlanAction::Implement {
        let chars = plan.implementation_plan.chars().count();
        if chars < MIN_PLAN_CHARS {
            plan.action = PlanAction::Skip;
            plan.skip_reason = Some(format!(
                "the plan was too short to implement ({chars} characters, at least {MIN_PLAN_CHARS})"
            ));
        } else if plan.task_description.is_empty() && current.is_none() {
            plan.action = PlanAction::Skip;
            plan.skip_reason = Some("the plan had no task description".to_owned());
        }
    }
    if plan.action == PlanAction::Skip && plan.skip_reason.is_none() {
        plan.skip_reason = Some("no reason given".to_owned());
    }
    let mut update = WorkflowStateUpdate::default()
        .planner_rounds(state.planner_rounds + 1)
        .carry_forward(merge_carry_forward(&state.carry_forward, &plan.carry_forward))
        .planner_abort((plan.action == PlanAction::Abort && current.is_none()).then(|| {
            plan.escalation_context
                .clone()
                .unwrap_or_else(|| "no reason given".to_owned())
        }));
    let round = format!("round {}", state.planner_rounds + 1);
    let what = match (plan.action, current) {
        (PlanAction::Implement, Some(task)) => {
            let mut task = task.clone();
            task.plan = plan.implementation_plan.clone();
            if !plan.measurable_outcome.is_empty() {
                task.measurable_outcome = plan.measurable_outcome.clone();
            }
            if !plan.task_summary.is_empty() {
                task.task_summary = plan.task_summary.clone();
            }
            task.change_type = plan.change_type;
            task.status = TaskStatus::InProgress;
            let what = format!("re-plan {} for attempt {} ({round})", task.id, task.attempts);
            update = update
                .tasks(with_task(state, task))
                .implementation(None)
                .verification(None)
                .qa(None);
            what
        }
        (PlanAction::Implement, None) if state.tasks_total >= state.limits.max_tasks => {
            let end = EndReason::MaxTasks {
                limit: state.limits.max_tasks,
            };
            update = update.end_reason(Some(end));
            format!(
                "implement refused: {} tasks already started ({round})",
                state.tasks_total
            )
        }
        (PlanAction::Implement, None) => {
            let id = format!("task_{:03}", state.tasks.len() + 1);
            let task = Task {
                id: id.clone(),
                milestone_id: state.active_milestone.clone().unwrap_or_default(),
                description: plan.task_description.clone(),
                measurable_outcome: if plan.measurable_outcome.is_empty() {
                    clip(&plan.task_description, 300)
                } else {
                    plan.measurable_outcome.clone()
                },
                plan: plan.implementation_plan.clone(),
                change_type: plan.change_type,
                task_summary: plan.task_summary.clone(),
                status: TaskStatus::InProgress,
                attempts: 1,
                ..Task::default()
            };
            update = update
                .tasks(with_task(state, task))
                .current_task(Some(id.clone()))
                .tasks_total(state.tasks_total + 1)
                .implementation(None)
                .verification(None)
                .qa(None);
            format!("implement {id}: {} ({round})", line(&plan.task_description, 60))
        }
        (PlanAction::Skip, _) => format!(
            "skip: {} ({round})",
            line(plan.skip_reason.as_deref().unwrap_or_default(), 80)
        ),
        (PlanAction::Abort, _) => format!(
            "abort: {} ({round})",
            line(plan.escalation_context.as_deref().unwrap_or("no reason given"), 80)
        ),
        (PlanAction::MilestoneDone, _) => format!("milestone_done ({round})"),
    };
    let (directives, answers) = answer_directives(state, &plan);
    let what = match answers {
        Some(answers) => {
            update = update.pending_directives(directives);
            format!("{what}; directives: {answers}")
        }
        None => what,
    };
    Transition::of(Node::TaskPlanner, update.last_plan(Some(plan)), what)
}

fn normalise_plan(output: PlanOutput) -> PlanOutput {
    PlanOutput {
        action: output.action,
        task_description: clip(&output.task_description, 300),
        measurable_outcome: clip(&output.measurable_outcome, 300),
        implementation_plan: clip(&output.implementation_plan, 6000),
        change_type: output.change_type,
        task_summary: line(&output.task_summary, 72),
        carry_forward: items(&output.carry_forward, 100, 5),
        escalation_context: non_empty(output.escalation_context.as_deref(), 300),
        skip_reason: non_empty(output.skip_reason.as_deref(), 200),
        directive_responses: output
            .directive_responses
            .into_iter()
            .filter_map(|r| {
                let response = non_empty(Some(&r.response), 200)?;
                Some(DirectiveResponse {
                    id: line(&r.id, 40),
                    response,
                })
            })
            .take(10)
            .collect(),
    }
}

/// The directives in force after the planner answered: the answered ones retire (the answer
/// goes into the trace), the others stay for the next round. Returns the directives kept and
/// the trace's words on them.
fn answer_directives(state: &WorkflowState, plan: &PlanOutput) -> (Vec<Directive>, Option<String>) {
    if state.pending_directives.is_empty() {
        return (Vec::new(), None);
    }
    let answer = |d: &Directive| {
        plan.directive_responses
            .iter()
            .find(|r| r.id.eq_ignore_ascii_case(&d.id))
            .map(|r| r.response.clone())
    };
    let mut answered = Vec::new();
    let mut open = Vec::new();
    let mut kept = Vec::new();
    for directive in &state.pending_directives {
        match answer(directive) {
            Some(response) => answered.push(format!("{}: {}", directive.id, line(&response, 60))),
            None => {
                open.push(directive.id.clone());
                kept.push(directive.clone());
            }
        }
    }
    let mut what = Vec::new();
    if !answered.is_empty() {
        what.push(format!("answered {}", answered.join("; ")));
    }
    if !open.is_empty() {
        what.push(format!("not answered (kept in force): {}", open.join(", ")));
    }
    (kept, Some(what.join("; ")))
}

/// The old notes with the new ones after them, de-duplicated, the last ten kept.
fn merge_carry_forward(old: &[String], new: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut merged: Vec<String> = Vec::new();
    for note in old.iter().chain(new).rev() {
        if seen.insert(normalise(note)) {
            merged.push(note.clone());
        }
    }
    merged.truncate(MAX_CARRY_FORWARD);
    merged.reverse();
    merged
}

/// The task map with `task` inserted or replaced.
pub(super) fn with_task(state: &WorkflowState, task: Task) -> BTreeMap<String, Task> {
    let mut tasks = state.tasks.clone();
    tasks.insert(task.id.clone(), task);
    tasks
}

/// `implementor`: its report on the current attempt.
pub fn apply_implementation(state: &WorkflowState, output: ImplementationOutput) -> Transition {
    let output = ImplementationOutput {
        files_modified: items(&output.files_modified, 300, 50),
        result_summary: clip(&output.result_summary, 500),
        issues_noticed: items(&output.issues_noticed, 200, 10),
        success: output.success,
    };
    let mut update = WorkflowStateUpdate::default();
    let what = format!(
        "{} file(s) claimed, {}",
        output.files_modified.len(),
        if output.success { "success" } else { "no success" }
    );
    let what = match state.current() {
        Some(task) => {
            let mut task = task.clone();
            task.result_summary = Some(output.result_summary.clone());
            update = update.tasks(with_task(state, task.clone()));
            format!("{} attempt {}: {what}", task.id, task.attempts)
        }
        None => format!("no current task: {what}"),
    };
    Transition::of(Node::Implementor, update.implementation(Some(output)), what)
}

/// `verify`: the evidence for the current attempt. A claimed file whose content is the same
/// as when another task was verified was not changed by this task, so it does not count.
pub fn apply_verification(state: &WorkflowState, report: VerifyReport) -> Transition {
    let mut report = report;
    let current = state.current_task.as_deref();
    let mut earlier: BTreeMap<&str, (&str, Option<&str>)> = BTreeMap::new();
    for task in state.tasks.values().filter(|t| Some(t.id.as_str()) != current) {
        for file in task.evidence.iter().flat_map(|e| &e.files) {
            earlier.insert(&file.path, (&task.id, file.hash.as_deref()));
        }
    }
    let mut stale = Vec::new();
    for file in report.files.iter_mut().filter(|f| f.changed && f.hash.is_some()) {
        if let Some((task_id, hash)) = earlier.get(file.path.as_str())
            && *hash == file.hash.as_deref()
        {
            file.changed = false;
            let problem = format!("claimed file `{}` is unchanged since {task_id} was verified", file.path);
            file.problem = Some(problem.clone());
            stale.push(problem);
        }
    }
    for problem in stale {
        report.add_problem(problem);
    }
    let mut update = WorkflowStateUpdate::default();
    let what = match state.current() {
        Some(task) => {
            let mut task = task.clone();
            task.evidence = Some(report.as_evidence());
            update = update.tasks(with_task(state, task.clone()));
            format!("{} attempt {}: {}", task.id, task.attempts, report.summary())
        }
        None => format!("no current task: {}", report.summary()),
    };
    Transition::of(Node::Verify, update.verification(Some(report)), what)
}

/// `qa`: the verdict on the current attempt. QA cannot pass what verification failed: such
/// a pass becomes an `incomplete` failure carrying the verification's problems.
pub fn apply_qa(state: &WorkflowState, output: QaOutput) -> Transition {
    let mut qa = QaOutput {
        passed: output.passed,
        feedback: clip(&output.feedback, 500),
        failure_type: if output.passed { None } else { output.failure_type },
        issues: items(&output.issues, 200, 10),
    };
    let Some(task) = state.current() else {
        return Transition::of(Node::Qa, WorkflowStateUpdate::default().qa(Some(qa)), "no current task");
    };
    let mut overridden = false;
    if qa.passed
        && let Err(why) = evidence_ok(task, state.check_command.is_some())
    {
        overridden = true;
        qa.passed = false;
        qa.failure_type = Some(FailureType::Incomplete);
        qa.feedback = clip(
            &format!("QA passed it, but verification failed: {why}. {}", qa.feedback),
            500,
        );
    }
    let mut task = task.clone();
    task.qa_feedback = non_empty(Some(&qa.feedback), 500);
    task.failure_type = qa.failure_type;
    let verdict = if qa.passed {
        "passed".to_owned()
    } else if overridden {
        "passed, but verification failed: not complete".to_owned()
    } else {
        let kind = qa.failure_type.map_or("unspecified", |f| f.as_str());
        format!("failed ({kind}): {}", line(&qa.feedback, 80))
    };
    let what = format!("{} attempt {}: {verdict}", task.id, task.attempts);
    let update = WorkflowStateUpdate::default()
        .tasks(with_task(state, task))
        .qa(Some(qa));
    Transition::of(Node::Qa, update, what)
}

/// `assessor`: its verdict. Resets the review counter and the forced assessment; a
/// correction hint (drift) also clears the planner's carry-forward notes.
pub fn apply_assessment(state: &WorkflowState, output: AssessmentOutput) -> Transition {
    let assessment = AssessmentOutput {
        uncovered_gaps: items(&output.uncovered_gaps, 200, 10),
        assessment_notes: clip(&output.assessment_notes, 500),
        correction_hint: non_empty(output.correction_hint.as_deref(), 200),
        ..output
    };
    let mut update = WorkflowStateUpdate::default()
        .tasks_since_review(0_u32)
        .force_assessment(false)
        .correction_hint(assessment.correction_hint.clone());
    if assessment.correction_hint.is_some() {
        update = update.carry_forward(Vec::new());
    }
    let mut verdict = Vec::new();
    if assessment.is_complete {
        verdict.push("complete".to_owned());
    }
    if assessment.milestone_complete {
        let can = super::outcome::milestone_can_complete(state);
        // A run the assessor ends as complete goes straight to the report, past
        // `advance_milestone`: the confirmed milestone is closed here.
        if let (true, Ok(()), Some(active)) = (assessment.is_complete, &can, state.active()) {
            update = update.milestones(super::nodes::with_milestone_status(
                state,
                &active.id,
                MilestoneStatus::Complete,
            ));
        }
        verdict.push(match can {
            Ok(()) => "milestone complete".to_owned(),
            Err(why) => format!("milestone complete claimed, but {why}"),
        });
    }
    if assessment.escalate_to_scope {
        verdict.push("escalate to scope".to_owned());
    }
    if let Some(hint) = &assessment.correction_hint {
        verdict.push(format!("drift: {}", line(hint, 60)));
    }
    if verdict.is_empty() {
        verdict.push("continue".to_owned());
    }
    let what = format!("{}; {} gap(s)", verdict.join(", "), assessment.uncovered_gaps.len());
    Transition::of(Node::Assessor, update.last_assessment(Some(assessment)), what)
}
