//! Whole runs through the workflow's main paths, as event traces.

use super::*;

#[test]
fn happy_path() {
    let limits = RunLimits {
        review_interval: 1,
        ..RunLimits::default()
    };
    let run = check(
        limits,
        Agents::default(),
        expect![[r#"
            scope_initial: remit of 29 chars, 1 milestone (milestone_001)
            start_milestone: milestone_001: the parser works
            apply_guidance: 0 new directive(s); 0 in force
            task_planner: implement task_001: add the parser (round 1)
            implementor: task_001 attempt 1: 1 file(s) claimed, success
            verify: task_001 attempt 1: verified: 1 claimed file(s) changed
            qa: task_001 attempt 1: passed
            mark_complete: task_001 after 1 attempt(s): verified: 1 claimed file(s) changed
            assessor: complete, milestone complete; 0 gap(s)
            report: complete (template report)
            => Complete, end: Some(Completed)
        "#]],
    );
    assert_eq!(
        run.nodes.iter().map(|n| n.name()).collect::<Vec<_>>().join(" → "),
        "scope_initial → start_milestone → apply_guidance → task_planner → implementor → verify → qa → \
         mark_complete → assessor → report"
    );
    assert_eq!(run.state.status, RunStatus::Complete);
    let report = run.state.work_report.as_deref().unwrap();
    assert!(report.starts_with("Status: complete\n"), "{report}");
}

#[test]
fn a_qa_failure_retries_the_same_task() {
    let agents = Agents {
        qa: seq(vec![
            fail(FailureType::WrongApproach, "the parser ignores parentheses"),
            fail(FailureType::Incomplete, "the test is missing"),
            pass(),
        ]),
        ..Agents::default()
    };
    let run = check(
        RunLimits::default(),
        agents,
        expect![[r#"
            scope_initial: remit of 29 chars, 1 milestone (milestone_001)
            start_milestone: milestone_001: the parser works
            apply_guidance: 0 new directive(s); 0 in force
            task_planner: implement task_001: add the parser (round 1)
            implementor: task_001 attempt 1: 1 file(s) claimed, success
            verify: task_001 attempt 1: verified: 1 claimed file(s) changed
            qa: task_001 attempt 1: failed (wrong_approach): the parser ignores parentheses
            retry: task_001 attempt 2 of 3: re-plan (wrong_approach)
            apply_guidance: 0 new directive(s); 0 in force
            task_planner: re-plan task_001 for attempt 2 (round 2)
            implementor: task_001 attempt 2: 1 file(s) claimed, success
            verify: task_001 attempt 2: verified: 1 claimed file(s) changed
            qa: task_001 attempt 2: failed (incomplete): the test is missing
            retry: task_001 attempt 3 of 3: the implementor continues (incomplete)
            implementor: task_001 attempt 3: 1 file(s) claimed, success
            verify: task_001 attempt 3: verified: 1 claimed file(s) changed
            qa: task_001 attempt 3: passed
            mark_complete: task_001 after 3 attempt(s): verified: 1 claimed file(s) changed
            apply_guidance: 0 new directive(s); 0 in force
            task_planner: milestone_done (round 3)
            record_skip: task_002 (1 in a row): the planner considers the milestone done
            assessor: complete, milestone complete; 0 gap(s)
            report: complete (template report)
            => Complete, end: Some(Completed)
        "#]],
    );
    let task = &run.state.tasks["task_001"];
    assert_eq!((task.attempts, task.status), (3, TaskStatus::Completed));
    assert_eq!(run.state.tasks_total, 1, "a retry never mints a new task");
}

#[test]
fn retries_exhausted_fail_the_task_and_the_assessor_decides() {
    let agents = Agents {
        planner: seq(vec![
            implement("add the parser"),
            PlanOutput {
                escalation_context: Some("the grammar is ambiguous".to_owned()),
                ..plan(PlanAction::Abort)
            },
        ]),
        qa: Box::new(|_| fail(FailureType::Incomplete, "nothing parses")),
        assessor: Box::new(|_| assessment()),
        ..Agents::default()
    };
    check(
        RunLimits::default(),
        agents,
        expect![[r#"
            scope_initial: remit of 29 chars, 1 milestone (milestone_001)
            start_milestone: milestone_001: the parser works
            apply_guidance: 0 new directive(s); 0 in force
            task_planner: implement task_001: add the parser (round 1)
            implementor: task_001 attempt 1: 1 file(s) claimed, success
            verify: task_001 attempt 1: verified: 1 claimed file(s) changed
            qa: task_001 attempt 1: failed (incomplete): nothing parses
            retry: task_001 attempt 2 of 3: the implementor continues (incomplete)
            implementor: task_001 attempt 2: 1 file(s) claimed, success
            verify: task_001 attempt 2: verified: 1 claimed file(s) changed
            qa: task_001 attempt 2: failed (incomplete): nothing parses
            retry: task_001 attempt 3 of 3: the implementor continues (incomplete)
            implementor: task_001 attempt 3: 1 file(s) claimed, success
            verify: task_001 attempt 3: verified: 1 claimed file(s) changed
            qa: task_001 attempt 3: failed (incomplete): nothing parses
            mark_failed: task_001 failed after 3 attempt(s) (1 in a row): nothing parses
            assessor: continue; 0 gap(s)
            apply_guidance: 0 new directive(s); 0 in force
            task_planner: abort: the grammar is ambiguous (round 2)
            assessor: continue; 0 gap(s)
            report: failed: the planner aborted: the grammar is ambiguous; no task was completed with verified changes (template report)
            => Failed { reason: "the planner aborted: the grammar is ambiguous; no task was completed with verified changes" }, end: Some(PlannerAbort { reason: "the grammar is ambiguous" })
        "#]],
    );
}

#[test]
fn a_planner_that_only_skips_is_stopped() {
    let agents = Agents {
        planner: Box::new(|_| skip("already done")),
        assessor: Box::new(|_| assessment()),
        ..Agents::default()
    };
    check(
        RunLimits::default(),
        agents,
        expect![[r#"
            scope_initial: remit of 29 chars, 1 milestone (milestone_001)
            start_milestone: milestone_001: the parser works
            apply_guidance: 0 new directive(s); 0 in force
            task_planner: skip: already done (round 1)
            record_skip: task_001 (1 in a row): already done
            apply_guidance: 0 new directive(s); 0 in force
            task_planner: skip: already done (round 2)
            record_skip: task_002 (2 in a row): already done
            apply_guidance: 0 new directive(s); 0 in force
            task_planner: skip: already done (round 3)
            record_skip: task_003 (3 in a row): already done
            assessor: continue; 0 gap(s)
            apply_guidance: 0 new directive(s); 0 in force
            task_planner: skip: already done (round 4)
            record_skip: task_004 (4 in a row): already done
            apply_guidance: 0 new directive(s); 0 in force
            task_planner: skip: already done (round 5)
            record_skip: task_005 (5 in a row): already done
            apply_guidance: 0 new directive(s); 0 in force
            task_planner: skip: already done (round 6)
            record_skip: task_006 (6 in a row): already done
            report: failed: the planner skipped 6 times in a row; no task was completed with verified changes (template report)
            => Failed { reason: "the planner skipped 6 times in a row; no task was completed with verified changes" }, end: Some(ConsecutiveSkips { count: 6 })
        "#]],
    );
}

#[test]
fn escalations_are_bounded_by_max_replans() {
    let agents = Agents {
        scope: seq(vec![
            scope(&["first cut"]),
            scope(&["second cut"]),
            scope(&["third cut"]),
        ]),
        planner: Box::new(|_| implement("add the parser")),
        assessor: Box::new(|_| AssessmentOutput {
            escalate_to_scope: true,
            assessment_notes: "the milestones miss the point".to_owned(),
            ..assessment()
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
        start_milestone: milestone_001: first cut
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: implement task_001: add the parser (round 1)
        implementor: task_001 attempt 1: 1 file(s) claimed, success
        verify: task_001 attempt 1: verified: 1 claimed file(s) changed
        qa: task_001 attempt 1: passed
        mark_complete: task_001 after 1 attempt(s): verified: 1 claimed file(s) changed
        assessor: escalate to scope; 0 gap(s)
        scope_review: review 1 of 2: 1 milestone (milestone_002)
        start_milestone: milestone_002: second cut
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: implement task_002: add the parser (round 2)
        implementor: task_002 attempt 1: 1 file(s) claimed, success
        verify: task_002 attempt 1: verified: 1 claimed file(s) changed
        qa: task_002 attempt 1: passed
        mark_complete: task_002 after 1 attempt(s): verified: 1 claimed file(s) changed
        assessor: escalate to scope; 0 gap(s)
        scope_review: review 2 of 2: 1 milestone (milestone_003)
        start_milestone: milestone_003: third cut
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: implement task_003: add the parser (round 3)
        implementor: task_003 attempt 1: 1 file(s) claimed, success
        verify: task_003 attempt 1: verified: 1 claimed file(s) changed
        qa: task_003 attempt 1: passed
        mark_complete: task_003 after 1 attempt(s): verified: 1 claimed file(s) changed
        assessor: escalate to scope; 0 gap(s)
        report: incomplete: the assessor asked for a scope review after 2 of them; the work was not finished; 0 of 3 milestones complete, 2 skipped; 3 tasks completed, 0 skipped, 0 failed (template report)
        => Incomplete { reason: "the assessor asked for a scope review after 2 of them; the work was not finished; 0 of 3 milestones complete, 2 skipped; 3 tasks completed, 0 skipped, 0 failed" }, end: Some(MaxReplans { limit: 2 })
    "#]],
    );
    let milestones: Vec<(&str, MilestoneStatus)> =
        run.state.milestones.iter().map(|m| (m.id.as_str(), m.status)).collect();
    assert_eq!(
        milestones,
        [
            ("milestone_001", MilestoneStatus::Skipped),
            ("milestone_002", MilestoneStatus::Skipped),
            ("milestone_003", MilestoneStatus::Active)
        ]
    );
}

#[test]
fn a_milestone_of_only_skipped_tasks_completes_and_the_next_starts() {
    let agents = Agents {
        scope: Box::new(|_| scope(&["the lexer exists", "the parser works"])),
        planner: Box::new(|state| match state.active_milestone.as_deref() {
            Some("milestone_001") if state.consecutive_skips == 0 => skip("the lexer is already there"),
            Some("milestone_001") => plan(PlanAction::MilestoneDone),
            _ if state.tasks.values().any(|t| t.status == TaskStatus::Completed) => plan(PlanAction::MilestoneDone),
            _ => implement("add the parser"),
        }),
        ..Agents::default()
    };
    let run = check(
        RunLimits::default(),
        agents,
        expect![[r#"
        scope_initial: remit of 29 chars, 2 milestones (milestone_001..milestone_002)
        start_milestone: milestone_001: the lexer exists
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: skip: the lexer is already there (round 1)
        record_skip: task_001 (1 in a row): the lexer is already there
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: milestone_done (round 2)
        record_skip: task_002 (2 in a row): the planner considers the milestone done
        assessor: milestone complete; 0 gap(s)
        advance_milestone: milestone_001 skipped (0 completed, 2 skipped); next: milestone_002
        start_milestone: milestone_002: the parser works
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: implement task_003: add the parser (round 3)
        implementor: task_003 attempt 1: 1 file(s) claimed, success
        verify: task_003 attempt 1: verified: 1 claimed file(s) changed
        qa: task_003 attempt 1: passed
        mark_complete: task_003 after 1 attempt(s): verified: 1 claimed file(s) changed
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: milestone_done (round 4)
        record_skip: task_004 (1 in a row): the planner considers the milestone done
        assessor: complete, milestone complete; 0 gap(s)
        report: complete (template report)
        => Complete, end: Some(Completed)
    "#]],
    );
    // The last milestone, confirmed by the assessment that ends the run, is closed too.
    let statuses: Vec<MilestoneStatus> = run.state.milestones.iter().map(|m| m.status).collect();
    assert_eq!(statuses, [MilestoneStatus::Skipped, MilestoneStatus::Complete]);
}

#[test]
fn claims_without_changes_are_never_complete() {
    let agents = Agents {
        verify: Box::new(|state| {
            let claimed = state.implementation.clone().unwrap_or_default().files_modified;
            report(&claimed, false, 1)
        }),
        // QA is fooled; verification is not.
        qa: Box::new(|_| pass()),
        assessor: Box::new(|_| AssessmentOutput {
            is_complete: true,
            ..assessment()
        }),
        ..Agents::default()
    };
    let run = check(
        RunLimits::default(),
        agents,
        expect![[r#"
        scope_initial: remit of 29 chars, 1 milestone (milestone_001)
        start_milestone: milestone_001: the parser works
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: implement task_001: add the parser (round 1)
        implementor: task_001 attempt 1: 1 file(s) claimed, success
        verify: task_001 attempt 1: verification failed: claimed file `src/task_001.rs` is unchanged; no file changed in the workspace
        qa: task_001 attempt 1: passed, but verification failed: not complete
        retry: task_001 attempt 2 of 3: the implementor continues (incomplete)
        implementor: task_001 attempt 2: 1 file(s) claimed, success
        verify: task_001 attempt 2: verification failed: claimed file `src/task_001.rs` is unchanged; no file changed in the workspace
        qa: task_001 attempt 2: passed, but verification failed: not complete
        retry: task_001 attempt 3 of 3: the implementor continues (incomplete)
        implementor: task_001 attempt 3: 1 file(s) claimed, success
        verify: task_001 attempt 3: verification failed: claimed file `src/task_001.rs` is unchanged; no file changed in the workspace
        qa: task_001 attempt 3: passed, but verification failed: not complete
        mark_failed: task_001 failed after 3 attempt(s) (1 in a row): QA passed it, but verification failed: claimed file `src/task_001.rs` is unchan…
        assessor: complete; 0 gap(s)
        report: failed: the assessor declared the work complete; no task was completed with verified changes (template report)
        => Failed { reason: "the assessor declared the work complete; no task was completed with verified changes" }, end: Some(Completed)
    "#]],
    );
    assert!(matches!(run.state.status, RunStatus::Failed { .. }));
}
