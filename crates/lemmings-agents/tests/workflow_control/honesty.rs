//! The honest outcome: when a run is complete, failed or incomplete, and why.

use super::*;

#[test]
fn final_status_is_honest() {
    let cases: Vec<Change> = vec![
        ("verified and confirmed", Box::new(|_| {})),
        ("nothing ever ran", Box::new(|s| *s = WorkflowState::default())),
        ("confirmed, but nothing was written", Box::new(|s| s.tasks.clear())),
        (
            "completed without evidence",
            Box::new(|s| {
                s.tasks.get_mut("task_001").unwrap().evidence = None;
            }),
        ),
        (
            "completed with evidence that changed nothing",
            Box::new(|s| {
                s.tasks.get_mut("task_001").unwrap().evidence = Some(report(&["src/a.rs".to_owned()], false, 1));
            }),
        ),
        (
            "a check is configured but never ran",
            Box::new(|s| s.check_command = Some("cargo check".to_owned())),
        ),
        (
            "a later failed task broke the check",
            Box::new(|s| {
                s.check_command = Some("cargo check".to_owned());
                s.tasks.insert(
                    "task_001".to_owned(),
                    verified_task("task_001", "milestone_001", Some(true)),
                );
                let mut broken = verified_task("task_002", "milestone_001", Some(false));
                broken.status = TaskStatus::Failed;
                s.tasks.insert("task_002".to_owned(), broken);
            }),
        ),
        (
            "the assessor did not say complete",
            Box::new(|s| {
                s.last_assessment.as_mut().unwrap().is_complete = false;
                s.last_assessment.as_mut().unwrap().milestone_complete = false;
            }),
        ),
        (
            "a task is still open",
            Box::new(|s| {
                let mut open = verified_task("task_002", "milestone_001", None);
                open.status = TaskStatus::InProgress;
                s.tasks.insert("task_002".to_owned(), open);
            }),
        ),
        (
            "every milestone done",
            Box::new(|s| {
                s.last_assessment.as_mut().unwrap().is_complete = false;
                s.last_node = Some(Node::AdvanceMilestone);
                s.milestones[0].status = MilestoneStatus::Complete;
                s.active_milestone = None;
            }),
        ),
        (
            "a budget ended it",
            Box::new(|s| {
                s.end_reason = Some(EndReason::MaxTasks { limit: 30 });
            }),
        ),
    ];
    let mut table = String::new();
    for (name, change) in cases {
        let mut state = finished();
        change(&mut state);
        table.push_str(&format!("{name}: {:?}\n", final_status(&state)));
    }
    expect![[r#"
        verified and confirmed: Complete
        nothing ever ran: Failed { reason: "the run stopped; no task was completed with verified changes" }
        confirmed, but nothing was written: Failed { reason: "the assessor declared the work complete; no task was completed with verified changes" }
        completed without evidence: Failed { reason: "task_001 was marked complete without verified evidence: it was never verified" }
        completed with evidence that changed nothing: Failed { reason: "task_001 was marked complete without verified evidence: claimed file `src/a.rs` is unchanged; no file changed in the workspace" }
        a check is configured but never ran: Failed { reason: "task_001 was marked complete without verified evidence: the check command did not run" }
        a later failed task broke the check: Incomplete { reason: "the assessor declared the work complete; the last check (`cargo check`, after task_002) failed, so the workspace may be broken; 0 of 1 milestones complete; 1 tasks completed, 0 skipped, 1 failed" }
        the assessor did not say complete: Incomplete { reason: "the run stopped; the work was not finished; 0 of 1 milestones complete; 1 tasks completed, 0 skipped, 0 failed" }
        a task is still open: Incomplete { reason: "the assessor declared the work complete; task_002 is still open; 0 of 1 milestones complete; 1 tasks completed, 0 skipped, 0 failed" }
        every milestone done: Complete
        a budget ended it: Incomplete { reason: "the task limit (30) was reached; the work was not finished; 0 of 1 milestones complete; 1 tasks completed, 0 skipped, 0 failed" }
    "#]].assert_eq(&table);
}

#[test]
fn the_report_recovers_why_the_run_ended_from_the_last_router() {
    let mut state = finished();
    state.last_assessment.as_mut().unwrap().is_complete = false;
    state.last_assessment.as_mut().unwrap().milestone_complete = false;
    state.last_assessment.as_mut().unwrap().escalate_to_scope = true;
    state.replans = 2;
    assert_eq!(route_after_assessor(&state), Node::Report);
    assert_eq!(end_reason_at_report(&state), Some(EndReason::MaxReplans { limit: 2 }));
    let transition = apply_report(&state, Some("  The parser is half done.  ".to_owned()));
    expect!["report: incomplete: the assessor asked for a scope review after 2 of them; the work was not finished; 0 of 1 milestones complete; 1 tasks completed, 0 skipped, 0 failed"]
        .assert_eq(&transition.event);
    state
        .apply(&mut [TaskUpdate {
            writer: "report",
            update: transition.into_update(),
        }])
        .unwrap();
    assert_eq!(state.work_report.as_deref(), Some("The parser is half done."));
    assert_eq!(state.end_reason, Some(EndReason::MaxReplans { limit: 2 }));
}
