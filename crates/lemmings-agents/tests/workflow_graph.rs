//! The whole workflow graph on scripted models: every path through it (happy path, QA retry,
//! retries exhausted, skips, escalation, milestones, each limit), summarization, the
//! supervisor beside the main path, and kill-and-resume inside the implementor's tool loop.

#[path = "workflow_graph/rig.rs"]
mod rig;

use expect_test::expect;
use lemmings_agents::workflow::state::{RunLimits, RunStatus};

use rig::*;

#[tokio::test]
async fn the_happy_path_completes_with_verified_evidence() {
    let rig = Rig::new(Roles::default());
    let s = &rig.script;
    s.push("scope", [scope(&["A greeting module exists"])]);
    s.push("planner", [implement("Create the greet function"), plan("milestone_done")]);
    write_through_coder(s, "src/greet.rs", "pub fn greet(name: &str) -> String { format!(\"Hello, {name}!\") }\n");
    s.push("qa", [qa(true, None)]);
    s.push("assessor", [assess(true, true, false)]);
    s.push("report", [Turn::Text("Added src/greet.rs with greet().")]);
    let state = rig.run(RunLimits::default()).await;
    expect![[r#"
        scope_initial: remit of 47 chars, 1 milestone (milestone_001)
        start_milestone: milestone_001: A greeting module exists
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: implement task_001: Create the greet function (round 1)
        implementor: task_001 attempt 1: 1 file(s) claimed, success
        verify: task_001 attempt 1: verified: 1 claimed file(s) changed
        qa: task_001 attempt 1: passed
        mark_complete: task_001 after 1 attempt(s): verified: 1 claimed file(s) changed
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: milestone_done (round 2)
        record_skip: task_002 (1 in a row): the planner considers the milestone done
        assessor: complete, milestone complete; 0 gap(s)
        report: complete"#]].assert_eq(&trace(&state));
    assert_eq!(state.status, RunStatus::Complete);
    assert!(rig.script.left().is_empty(), "{:?}", rig.script.left());
}
