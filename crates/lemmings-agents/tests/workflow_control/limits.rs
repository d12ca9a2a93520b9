//! Runs that end on a limit or a failure, as event traces.

use super::*;

#[test]
fn the_task_budget_ends_the_run_after_a_last_assessment() {
    let agents = Agents {
        planner: Box::new(|_| implement("one more thing")),
        assessor: Box::new(|_| assessment()),
        ..Agents::default()
    };
    let limits = RunLimits {
        max_tasks: 2,
        ..RunLimits::default()
    };
    check(
        limits,
        agents,
        expect![[r#"
        scope_initial: remit of 29 chars, 1 milestone (milestone_001)
        start_milestone: milestone_001: the parser works
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: implement task_001: one more thing (round 1)
        implementor: task_001 attempt 1: 1 file(s) claimed, success
        verify: task_001 attempt 1: verified: 1 claimed file(s) changed
        qa: task_001 attempt 1: passed
        mark_complete: task_001 after 1 attempt(s): verified: 1 claimed file(s) changed
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: implement task_002: one more thing (round 2)
        implementor: task_002 attempt 1: 1 file(s) claimed, success
        verify: task_002 attempt 1: verified: 1 claimed file(s) changed
        qa: task_002 attempt 1: passed
        mark_complete: task_002 after 1 attempt(s): verified: 1 claimed file(s) changed
        apply_guidance: 0 new directive(s); 0 in force
        assessor: continue; 0 gap(s)
        report: incomplete: the task limit (2) was reached; the work was not finished; 0 of 1 milestones complete; 2 tasks completed, 0 skipped, 0 failed (template report)
        => Incomplete { reason: "the task limit (2) was reached; the work was not finished; 0 of 1 milestones complete; 2 tasks completed, 0 skipped, 0 failed" }, end: Some(MaxTasks { limit: 2 })
    "#]],
    );
}

#[test]
fn the_planning_budget_ends_endless_re_planning() {
    let agents = Agents {
        qa: Box::new(|_| fail(FailureType::PlanIssue, "the plan misses the tests")),
        ..Agents::default()
    };
    let limits = RunLimits {
        max_planner_rounds: 3,
        max_attempts: 10,
        ..RunLimits::default()
    };
    check(
        limits,
        agents,
        expect![[r#"
        scope_initial: remit of 29 chars, 1 milestone (milestone_001)
        start_milestone: milestone_001: the parser works
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: implement task_001: add the parser (round 1)
        implementor: task_001 attempt 1: 1 file(s) claimed, success
        verify: task_001 attempt 1: verified: 1 claimed file(s) changed
        qa: task_001 attempt 1: failed (plan_issue): the plan misses the tests
        retry: task_001 attempt 2 of 10: re-plan (plan_issue)
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: re-plan task_001 for attempt 2 (round 2)
        implementor: task_001 attempt 2: 1 file(s) claimed, success
        verify: task_001 attempt 2: verified: 1 claimed file(s) changed
        qa: task_001 attempt 2: failed (plan_issue): the plan misses the tests
        retry: task_001 attempt 3 of 10: re-plan (plan_issue)
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: re-plan task_001 for attempt 3 (round 3)
        implementor: task_001 attempt 3: 1 file(s) claimed, success
        verify: task_001 attempt 3: verified: 1 claimed file(s) changed
        qa: task_001 attempt 3: failed (plan_issue): the plan misses the tests
        retry: task_001 attempt 4 of 10: re-plan (plan_issue)
        apply_guidance: 0 new directive(s); 0 in force
        report: failed: the planning limit (3 planner rounds) was reached; no task was completed with verified changes (template report)
        => Failed { reason: "the planning limit (3 planner rounds) was reached; no task was completed with verified changes" }, end: Some(MaxPlannerRounds { limit: 3 })
    "#]],
    );
}

#[test]
fn an_agent_that_fails_ends_the_run_with_its_reason() {
    let agents = Agents {
        failure: Box::new(|node, state| {
            (node == Node::TaskPlanner && state.planner_rounds == 0).then_some(AgentFailure::CallLimit { limit: 40 })
        }),
        ..Agents::default()
    };
    let limits = RunLimits {
        review_interval: 1,
        ..RunLimits::default()
    };
    let run = check(
        limits,
        agents,
        expect![[r#"
        scope_initial: remit of 29 chars, 1 milestone (milestone_001)
        start_milestone: milestone_001: the parser works
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: the task_planner agent reached its model-call limit (40)
        report: failed: the task_planner agent reached its model-call limit; no task was completed with verified changes (template report)
        => Failed { reason: "the task_planner agent reached its model-call limit; no task was completed with verified changes" }, end: Some(ModelCallLimit { agent: "task_planner" })
    "#]],
    );
    assert_eq!(
        run.state.end_reason,
        Some(EndReason::ModelCallLimit {
            agent: "task_planner".to_owned()
        })
    );
}

#[test]
fn a_scope_without_milestones_fails_the_run() {
    let agents = Agents {
        scope: Box::new(|_| scope(&[])),
        ..Agents::default()
    };
    check(
        RunLimits::default(),
        agents,
        expect![[r#"
        scope_initial: no milestone
        report: failed: no usable scope: the scope agent gave no milestone; no task was completed with verified changes (template report)
        => Failed { reason: "no usable scope: the scope agent gave no milestone; no task was completed with verified changes" }, end: Some(ScopeFailed { reason: "the scope agent gave no milestone" })
    "#]],
    );
}
