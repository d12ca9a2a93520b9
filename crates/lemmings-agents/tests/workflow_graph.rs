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
    one_task(s, "Create the greet function");
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
        report: complete"#]]
    .assert_eq(&trace(&state));
    assert_eq!(state.status, RunStatus::Complete);
    assert!(rig.script.left().is_empty(), "{:?}", rig.script.left());
    assert_eq!(
        rig.script.max_in_flight(),
        1,
        "the primary served one request at a time"
    );
}

#[tokio::test]
async fn a_primary_that_is_down_ends_the_run_failed_with_the_template_report() {
    let rig = Rig::new(Roles::default());
    rig.script.push("scope", [Turn::Down]);
    rig.script.push("report", [Turn::Down]);
    let state = rig.run(RunLimits::default()).await;
    expect![[r#"
        scope_initial: the scope_initial agent failed: role `primary` (model scripted-primary): connection refused
        report: failed: the scope_initial agent failed: role `primary` (model scripted-primary): connection refused; no task was completed with verified changes (the report agent failed: role `primary` (model scripted-primary): connection refused; template report)"#]].assert_eq(&trace(&state));
    assert!(matches!(state.status, RunStatus::Failed { .. }));
    let report = state.work_report.unwrap_or_default();
    assert!(report.contains("scope_initial"), "{report}");
}

const GREET: &str = "pub fn greet(name: &str) -> String { format!(\"Hello, {name}!\") }\n";

/// One milestone done in one task: scope, plan `task`, the coder writes src/greet.rs, QA passes,
/// the assessor confirms, the report.
fn one_task(s: &Script, task: &str) {
    s.push("scope", [scope(&["A greeting module exists"])]);
    s.push("planner", [implement(task), plan("milestone_done")]);
    write_through_coder(s, "src/greet.rs", GREET);
    s.push("qa", [qa(true, None)]);
    s.push("assessor", [assess(true, true, false)]);
    s.push("report", [Turn::Text("Done.")]);
}

fn limits(f: impl FnOnce(&mut RunLimits)) -> RunLimits {
    let mut limits = RunLimits::default();
    f(&mut limits);
    limits
}

fn end(state: &lemmings_agents::workflow::state::WorkflowState) -> String {
    format!(
        "{:?} / {}",
        state.status,
        state.end_reason.as_ref().map_or("-".to_owned(), ToString::to_string)
    )
}

#[tokio::test]
async fn a_qa_failure_retries_the_same_task_which_then_passes() {
    let rig = Rig::new(Roles::default());
    let s = &rig.script;
    s.push("scope", [scope(&["A greeting module exists"])]);
    s.push(
        "planner",
        [
            implement("Create the greet function"),
            implement("Create the greet function"),
            plan("milestone_done"),
        ],
    );
    write_through_coder(s, "src/greet.rs", "pub fn greet() {}\n");
    write_through_coder(s, "src/greet.rs", GREET);
    s.push("qa", [qa(false, Some("wrong_approach")), qa(true, None)]);
    s.push("assessor", [assess(true, true, false)]);
    s.push("report", [Turn::Text("Added greet.")]);
    let state = rig.run(RunLimits::default()).await;
    expect![[r#"
        scope_initial: remit of 47 chars, 1 milestone (milestone_001)
        start_milestone: milestone_001: A greeting module exists
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: implement task_001: Create the greet function (round 1)
        implementor: task_001 attempt 1: 1 file(s) claimed, success
        verify: task_001 attempt 1: verified: 1 claimed file(s) changed
        qa: task_001 attempt 1: failed (wrong_approach): greet returns the wrong text
        retry: task_001 attempt 2 of 3: re-plan (wrong_approach)
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: re-plan task_001 for attempt 2 (round 2)
        implementor: task_001 attempt 2: 1 file(s) claimed, success
        verify: task_001 attempt 2: verified: 1 claimed file(s) changed
        qa: task_001 attempt 2: passed
        mark_complete: task_001 after 2 attempt(s): verified: 1 claimed file(s) changed
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: milestone_done (round 3)
        record_skip: task_002 (1 in a row): the planner considers the milestone done
        assessor: complete, milestone complete; 0 gap(s)
        report: complete"#]]
    .assert_eq(&trace(&state));
    assert_eq!(state.status, RunStatus::Complete);
    assert_eq!(
        state.tasks.len(),
        2,
        "task_001 and the milestone_done skip: the retry kept the id"
    );
    assert_eq!(state.tasks["task_001"].attempts, 2);
    assert!(rig.script.left().is_empty(), "{:?}", rig.script.left());
}

#[tokio::test]
async fn exhausted_retries_fail_the_task_and_the_assessor_decides() {
    let rig = Rig::new(Roles::default());
    let s = &rig.script;
    s.push("scope", [scope(&["A greeting module exists"])]);
    s.push(
        "planner",
        [
            implement("Create the greet function"),
            implement("Create the greet function"),
        ],
    );
    write_through_coder(s, "src/greet.rs", "pub fn greet() {}\n");
    write_through_coder(s, "src/greet.rs", "pub fn greet() -> u8 { 0 }\n");
    s.push(
        "qa",
        [qa(false, Some("wrong_approach")), qa(false, Some("wrong_approach"))],
    );
    s.push("assessor", [assess(false, false, true)]);
    // The escalation leads to a scope review that finds nothing left.
    s.push(
        "scope",
        [Turn::Submit(
            serde_json::json!({"remit": "nothing left", "milestones": []}),
        )],
    );
    s.push("report", [Turn::Text("The greet task failed twice.")]);
    let state = rig.run(limits(|l| l.max_attempts = 2)).await;
    expect![[r#"
        scope_initial: remit of 47 chars, 1 milestone (milestone_001)
        start_milestone: milestone_001: A greeting module exists
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: implement task_001: Create the greet function (round 1)
        implementor: task_001 attempt 1: 1 file(s) claimed, success
        verify: task_001 attempt 1: verified: 1 claimed file(s) changed
        qa: task_001 attempt 1: failed (wrong_approach): greet returns the wrong text
        retry: task_001 attempt 2 of 2: re-plan (wrong_approach)
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: re-plan task_001 for attempt 2 (round 2)
        implementor: task_001 attempt 2: 1 file(s) claimed, success
        verify: task_001 attempt 2: verified: 1 claimed file(s) changed
        qa: task_001 attempt 2: failed (wrong_approach): greet returns the wrong text
        mark_failed: task_001 failed after 2 attempt(s) (1 in a row): greet returns the wrong text
        assessor: escalate to scope; 0 gap(s)
        scope_review: review 1 of 2: no milestone left
        report: failed: a scope review found nothing left to do; no task was completed with verified changes"#]]
    .assert_eq(&trace(&state));
    expect![[r#"Failed { reason: "a scope review found nothing left to do; no task was completed with verified changes" } / a scope review found nothing left to do"#]].assert_eq(&end(&state));
    assert_ne!(
        state.status,
        RunStatus::Complete,
        "a failed task never makes a complete run"
    );
    assert!(rig.script.left().is_empty(), "{:?}", rig.script.left());
}

#[tokio::test]
async fn skipped_steps_count_toward_the_milestone_and_milestones_advance() {
    let rig = Rig::new(Roles::default());
    let s = &rig.script;
    s.push(
        "scope",
        [scope(&["A greeting module exists", "The README mentions it"])],
    );
    s.push(
        "planner",
        [
            implement("Create the greet function"),
            plan("milestone_done"),
            plan("skip"),
            plan("milestone_done"),
        ],
    );
    write_through_coder(s, "src/greet.rs", GREET);
    s.push("qa", [qa(true, None)]);
    s.push("assessor", [assess(false, true, false), assess(true, true, false)]);
    s.push("report", [Turn::Text("Done.")]);
    let state = rig.run(RunLimits::default()).await;
    expect![[r#"
        scope_initial: remit of 47 chars, 2 milestones (milestone_001..milestone_002)
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
        assessor: milestone complete; 0 gap(s)
        advance_milestone: milestone_001 complete (1 completed, 1 skipped); next: milestone_002
        start_milestone: milestone_002: The README mentions it
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: skip: nothing to do here (round 3)
        record_skip: task_003 (1 in a row): nothing to do here
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: milestone_done (round 4)
        record_skip: task_004 (2 in a row): the planner considers the milestone done
        assessor: complete, milestone complete; 0 gap(s)
        report: complete"#]]
    .assert_eq(&trace(&state));
    expect!["Complete / the assessor declared the work complete"].assert_eq(&end(&state));
    assert!(rig.script.left().is_empty(), "{:?}", rig.script.left());
}

#[tokio::test]
async fn consecutive_skips_go_to_the_assessor_then_end_the_run() {
    let rig = Rig::new(Roles::default());
    let s = &rig.script;
    s.push("scope", [scope(&["A greeting module exists"])]);
    s.push("planner", [plan("skip"), plan("skip"), plan("skip"), plan("skip")]);
    s.push("assessor", [assess(false, false, false)]);
    s.push("report", [Turn::Text("Nothing was done.")]);
    let state = rig.run(limits(|l| l.max_consecutive_skips = 2)).await;
    expect![[r#"
        scope_initial: remit of 47 chars, 1 milestone (milestone_001)
        start_milestone: milestone_001: A greeting module exists
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: skip: nothing to do here (round 1)
        record_skip: task_001 (1 in a row): nothing to do here
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: skip: nothing to do here (round 2)
        record_skip: task_002 (2 in a row): nothing to do here
        assessor: continue; 0 gap(s)
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: skip: nothing to do here (round 3)
        record_skip: task_003 (3 in a row): nothing to do here
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: skip: nothing to do here (round 4)
        record_skip: task_004 (4 in a row): nothing to do here
        report: failed: the planner skipped 4 times in a row; no task was completed with verified changes"#]]
    .assert_eq(&trace(&state));
    expect![[r#"Failed { reason: "the planner skipped 4 times in a row; no task was completed with verified changes" } / the planner skipped 4 times in a row"#]].assert_eq(&end(&state));
    assert!(rig.script.left().is_empty(), "{:?}", rig.script.left());
}

#[tokio::test]
async fn an_escalation_goes_to_a_scope_review_which_plans_again() {
    let rig = Rig::new(Roles::default());
    let s = &rig.script;
    s.push("scope", [scope(&["A greeting module exists"])]);
    s.push(
        "planner",
        [
            plan("abort"),
            implement("Create the greet function"),
            plan("milestone_done"),
        ],
    );
    s.push("assessor", [assess(false, false, true), assess(true, true, false)]);
    s.push("scope", [scope(&["A greet function in src/greet.rs"])]);
    write_through_coder(s, "src/greet.rs", GREET);
    s.push("qa", [qa(true, None)]);
    s.push("report", [Turn::Text("Done after a re-plan.")]);
    let state = rig.run(RunLimits::default()).await;
    expect![[r#"
        scope_initial: remit of 47 chars, 1 milestone (milestone_001)
        start_milestone: milestone_001: A greeting module exists
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: abort: no reason given (round 1)
        assessor: escalate to scope; 0 gap(s)
        scope_review: review 1 of 2: 1 milestone (milestone_002)
        start_milestone: milestone_002: A greet function in src/greet.rs
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: implement task_001: Create the greet function (round 2)
        implementor: task_001 attempt 1: 1 file(s) claimed, success
        verify: task_001 attempt 1: verified: 1 claimed file(s) changed
        qa: task_001 attempt 1: passed
        mark_complete: task_001 after 1 attempt(s): verified: 1 claimed file(s) changed
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: milestone_done (round 3)
        record_skip: task_002 (1 in a row): the planner considers the milestone done
        assessor: complete, milestone complete; 0 gap(s)
        report: complete"#]]
    .assert_eq(&trace(&state));
    expect!["Complete / the assessor declared the work complete"].assert_eq(&end(&state));
    assert!(rig.script.left().is_empty(), "{:?}", rig.script.left());
}

/// Each budget ends the run in a report that names it.
#[tokio::test]
async fn each_budget_ends_the_run_with_a_report_naming_it() {
    // max_tasks: one task done, then the planning budget sends the run to a last assessment.
    let rig = Rig::new(Roles::default());
    let s = &rig.script;
    s.push("scope", [scope(&["A greeting module exists"])]);
    s.push("planner", [implement("Create the greet function")]);
    write_through_coder(s, "src/greet.rs", GREET);
    s.push("qa", [qa(true, None)]);
    s.push("assessor", [assess(false, false, false)]);
    s.push("report", [Turn::Text("Stopped at the task limit.")]);
    let state = rig.run(limits(|l| l.max_tasks = 1)).await;
    expect![[r#"Incomplete { reason: "the task limit (1) was reached; the work was not finished; 0 of 1 milestones complete; 1 tasks completed, 0 skipped, 0 failed" } / the task limit (1) was reached"#]].assert_eq(&end(&state));
    assert!(state.work_report.as_deref().unwrap_or_default().contains("task limit"));

    // max_planner_rounds.
    let rig = Rig::new(Roles::default());
    rig.script.push("scope", [scope(&["A greeting module exists"])]);
    rig.script.push("planner", [plan("skip"), plan("skip")]);
    rig.script.push("report", [Turn::Text("Out of planning rounds.")]);
    let state = rig.run(limits(|l| l.max_planner_rounds = 2)).await;
    expect![[r#"Failed { reason: "the planning limit (2 planner rounds) was reached; no task was completed with verified changes" } / the planning limit (2 planner rounds) was reached"#]].assert_eq(&end(&state));

    // max_replans.
    let rig = Rig::new(Roles::default());
    rig.script.push("scope", [scope(&["A greeting module exists"])]);
    rig.script.push("planner", [plan("abort")]);
    rig.script.push("assessor", [assess(false, false, true)]);
    rig.script.push("report", [Turn::Text("No more re-plans.")]);
    let state = rig.run(limits(|l| l.max_replans = 0)).await;
    expect![[r#"Failed { reason: "the assessor asked for a scope review after 0 of them; no task was completed with verified changes" } / the assessor asked for a scope review after 0 of them"#]].assert_eq(&end(&state));

    // consecutive failures (max_attempts per task, then the run).
    let rig = Rig::new(Roles::default());
    rig.script.push("scope", [scope(&["A greeting module exists"])]);
    rig.script.push("planner", [implement("Create the greet function")]);
    write_through_coder(&rig.script, "src/greet.rs", "pub fn greet() {}\n");
    rig.script.push("qa", [qa(false, Some("wrong_approach"))]);
    rig.script.push("report", [Turn::Text("The task failed.")]);
    let state = rig
        .run(limits(|l| {
            l.max_attempts = 1;
            l.max_consecutive_failures = 1;
        }))
        .await;
    expect![[r#"Failed { reason: "1 tasks in a row used up their attempts (the last: task_001); no task was completed with verified changes" } / 1 tasks in a row used up their attempts (the last: task_001)"#]].assert_eq(&end(&state));

    // supersteps: the recursion limit leaves room for the report.
    let rig = Rig::new(Roles::default());
    rig.script.push("scope", [scope(&["A greeting module exists"])]);
    rig.script
        .push("planner", [plan("skip"), plan("skip"), plan("skip"), plan("skip")]);
    rig.script.push("assessor", [assess(false, false, false)]);
    rig.script.push("report", [Turn::Text("Out of steps.")]);
    let state = rig
        .run_with(
            limits(|l| l.max_consecutive_skips = 10),
            rig.config().recursion_limit(14),
        )
        .await;
    expect![[r#"
        scope_initial: remit of 47 chars, 1 milestone (milestone_001)
        start_milestone: milestone_001: A greeting module exists
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: skip: nothing to do here (round 1)
        record_skip: task_001 (1 in a row): nothing to do here
        apply_guidance: 0 new directive(s); 0 in force; the superstep limit (14) was nearly reached; raise [run] recursion_limit to go further
        report: failed: the superstep limit (14) was nearly reached; raise [run] recursion_limit to go further; no task was completed with verified changes"#]].assert_eq(&trace(&state));
    expect![[r#"Failed { reason: "the superstep limit (14) was nearly reached; raise [run] recursion_limit to go further; no task was completed with verified changes" } / the superstep limit (14) was nearly reached; raise [run] recursion_limit to go further"#]].assert_eq(&end(&state));
}

#[tokio::test]
async fn an_agents_model_call_limit_ends_the_run_with_a_report() {
    let agents = lemmings_agents::spec::AgentsConfig::parse(
        "[agents.task_planner]\nmodel_calls = 1\n",
        "config.toml",
        std::path::Path::new("."),
    )
    .expect("parses");
    let specs = lemmings_agents::spec::AgentSpecs::load(&agents).expect("loads");
    let rig = Rig::with(
        Roles::default(),
        None,
        std::sync::Arc::new(lemmings_testkit::ScriptedModel::new("supervisor")),
        specs,
    );
    rig.script.push("scope", [scope(&["A greeting module exists"])]);
    rig.script.push(
        "planner",
        [Turn::Call("glob", serde_json::json!({"pattern": "**/*.rs"}))],
    );
    rig.script.push("report", [Turn::Text("The planner ran out of calls.")]);
    let state = rig.run(RunLimits::default()).await;
    expect![[r#"
        scope_initial: remit of 47 chars, 1 milestone (milestone_001)
        start_milestone: milestone_001: A greeting module exists
        apply_guidance: 0 new directive(s); 0 in force
        task_planner: the task_planner agent reached its model-call limit (1)
        report: failed: the task_planner agent reached its model-call limit; no task was completed with verified changes"#]].assert_eq(&trace(&state));
    expect![[r#"Failed { reason: "the task_planner agent reached its model-call limit; no task was completed with verified changes" } / the task_planner agent reached its model-call limit"#]].assert_eq(&end(&state));
    assert!(rig.script.left().is_empty(), "{:?}", rig.script.left());
}

const LONG_TASK: &str = "Create the greet function in src/greet.rs that greets a person by name, politely";

#[tokio::test]
async fn with_the_summarizer_down_its_work_falls_back_to_the_primary() {
    let rig = Rig::new(Roles::default());
    rig.summarizer.set_fallback_to(|_| {
        Err(lemmings_models::ModelError::new(
            lemmings_models::ModelErrorKind::Unavailable,
            &lemmings_models::ModelInfo {
                role: "summarizer".to_owned(),
                provider: "ollama".to_owned(),
                model: "qwen2.5:0.5b".to_owned(),
                server: "http://127.0.0.1:10".to_owned(),
                output_mode: lemmings_models::OutputMode::Tool,
            },
            "connection refused".to_owned(),
        ))
    });
    let s = &rig.script;
    one_task(s, LONG_TASK);
    let config = rig.config().background(lemmings_graph::BackgroundPolicy::Wait);
    let state = rig.run_with(RunLimits::default(), config).await;
    assert_eq!(state.status, RunStatus::Complete);
    // The planner's line was too long: cut at once, then condensed beside the main path by the
    // summarizer role, which was down, so its fallback (the primary) wrote it.
    let planner: Vec<String> = state
        .status_lines
        .iter()
        .filter(|l| l.node == "task_planner")
        .map(|l| format!("{}: {}", if l.condensed { "summarizer" } else { "node" }, l.text))
        .collect();
    expect![[r#"
        node: ✓ task_planner: implement task_001: Create the greet function in src/greet.rs t…
        summarizer: ✓ condensed by primary
        node: ✓ task_planner: milestone_done (round 2)"#]]
    .assert_eq(&planner.join("\n"));
    assert!(rig.summarizer.calls() >= 1, "the summarizer was tried first");
    assert!(rig.script.served().contains(&"summarizer-work".to_owned()));
    assert!(state.status_lines.iter().all(|l| l.text.chars().count() <= 80));
}

#[tokio::test]
async fn summarization_fires_in_a_long_implementor_run_without_splitting_a_tool_pair() {
    let rig = Rig::new(Roles {
        context_tokens: 1500,
        ..Roles::default()
    });
    rig.summarizer
        .set_default_text("Summary: the implementor read notes.txt seven times; it holds filler lines.");
    std::fs::write(rig.dir.path().join("notes.txt"), "filler line of notes\n".repeat(120)).unwrap();
    let s = &rig.script;
    s.push("scope", [scope(&["A greeting module exists"])]);
    s.push(
        "planner",
        [implement("Create the greet function"), plan("milestone_done")],
    );
    let read = || Turn::Call("read_file", serde_json::json!({"path": "notes.txt"}));
    s.push("implementor", (0..7).map(|_| read()));
    write_through_coder(s, "src/greet.rs", GREET);
    s.push("qa", [qa(true, None)]);
    s.push("assessor", [assess(true, true, false)]);
    s.push("report", [Turn::Text("Done.")]);
    let state = rig.run(RunLimits::default()).await;
    assert_eq!(state.status, RunStatus::Complete);
    let notes: Vec<&String> = state
        .events
        .iter()
        .filter(|e| e.starts_with("implementor: summarization"))
        .collect();
    assert!(!notes.is_empty(), "{}", trace(&state));
    assert!(
        rig.summarizer.calls() >= 1,
        "the summary was written by the summarizer role"
    );
    let implementor: Vec<_> = rig
        .script
        .requests()
        .into_iter()
        .filter(|r| agent_of(r) == "implementor")
        .collect();
    let last = implementor.last().expect("the implementor ran");
    use lemmings_models::ChatMessage;
    // The task message is pinned first; a summary follows it.
    assert!(matches!(&last.messages[1], ChatMessage::User { content } if content.starts_with("## WORKSPACE")));
    assert!(
        last.messages
            .iter()
            .any(|m| matches!(m, ChatMessage::User { content } if content.contains("Summary: the implementor read"))),
        "the summary is in the conversation"
    );
    // No tool result without its call, no call without its result.
    let mut open: Vec<String> = Vec::new();
    for message in &last.messages {
        match message {
            ChatMessage::Assistant { tool_calls, .. } => {
                assert!(open.is_empty(), "calls left unanswered before a new turn: {open:?}");
                open = tool_calls.iter().map(|c| c.id.clone()).collect();
            }
            ChatMessage::Tool { call_id, .. } => {
                assert!(open.contains(call_id), "a tool result without its call: {call_id}");
                open.retain(|id| id != call_id);
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_failing_supervisor_is_skipped_with_a_notice() {
    // The supervisor's model has no reply: every call fails, and it has no fallback.
    let rig = Rig::with(
        Roles {
            supervisor: true,
            ..Roles::default()
        },
        None,
        std::sync::Arc::new(lemmings_testkit::ScriptedModel::new("supervisor")),
        lemmings_agents::spec::AgentSpecs::builtin().expect("loads"),
    );
    let s = &rig.script;
    one_task(s, "Create the greet function");
    let config = rig.config().background(lemmings_graph::BackgroundPolicy::Wait);
    let state = rig.run_with(limits(|l| l.supervise_every = 1), config).await;
    assert_eq!(state.status, RunStatus::Complete, "{}", trace(&state));
    let skipped: Vec<&String> = state.events.iter().filter(|e| e.starts_with("supervisor:")).collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].starts_with("supervisor: skipped ("), "{}", skipped[0]);
    assert_eq!(state.supervisor_runs, 1);
    assert_eq!(state.supervisor_done, 1);
}

#[tokio::test]
async fn a_supervisor_directive_reaches_the_planner_while_the_main_path_goes_on() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let supervisor = Arc::new(lemmings_testkit::ScriptedModel::new("supervisor"));
    let hold = lemmings_testkit::Hold::new();
    let directive = serde_json::json!({
        "directives": [{
            "kind": "functional",
            "priority": "normal",
            "description": "Add a polite variant of greet",
            "rationale": "the request asks for politeness",
            "files": ["src/greet.rs"],
        }],
        "summary": "one task done; politeness missing",
    });
    let submit = |arguments: serde_json::Value| lemmings_models::ChatResponse {
        tool_calls: vec![lemmings_models::ToolCall {
            id: "sup_1".to_owned(),
            name: "submit_supervision".to_owned(),
            arguments,
        }],
        finish: lemmings_models::FinishReason::ToolCalls,
        ..lemmings_models::ChatResponse::default()
    };
    supervisor.push_respond_after(&hold, submit(directive));
    supervisor.push_respond(submit(serde_json::json!({"directives": [], "summary": "fine"})));
    let rig = Rig::with(
        Roles {
            supervisor: true,
            ..Roles::default()
        },
        None,
        supervisor.clone(),
        lemmings_agents::spec::AgentSpecs::builtin().expect("loads"),
    );
    assert!(rig.workflow.has_supervisor());
    let s = &rig.script;
    s.push("scope", [scope(&["A greeting module exists"])]);
    write_through_coder(s, "src/greet.rs", GREET);
    write_through_coder(s, "src/polite.rs", "pub fn polite() {}\n");
    s.push("qa", [qa(true, None), qa(true, None)]);
    s.push("assessor", [assess(true, true, false)]);
    s.push("report", [Turn::Text("Done.")]);
    // Round 2 of the planner runs before the supervisor could answer (its reply is held until
    // round 2 releases it: a main path waiting for the supervisor would never finish).
    let answered_at_round_2 = Arc::new(AtomicUsize::new(usize::MAX));
    let seen = answered_at_round_2.clone();
    let watched = supervisor.clone();
    let release = hold.clone();
    s.push(
        "planner",
        [
            implement("Create the greet function"),
            Turn::Hook(
                Arc::new(move || {
                    seen.store(watched.calls() - watched.in_flight(), Ordering::SeqCst);
                    release.release();
                }),
                Box::new(plan("skip")),
            ),
        ],
    );
    // Later rounds: skip until the directive shows up, then plan a task that answers it, then
    // close the milestone.
    s.otherwise("planner", |request| {
        let prompt: String = request.messages.iter().map(|m| m.content()).collect();
        if prompt.contains("directive_001") && !prompt.contains("src/polite.rs") {
            Turn::Submit(serde_json::json!({
                "action": "implement",
                "task_description": "Add a polite greeting in src/polite.rs",
                "measurable_outcome": "src/polite.rs defines polite",
                "implementation_plan": PLAN,
                "directive_responses": [{"id": "directive_001", "response": "this task adds it"}],
            }))
        } else if prompt.contains("polite.rs") {
            plan("milestone_done")
        } else {
            plan("skip")
        }
    });
    let config = rig.config().background(lemmings_graph::BackgroundPolicy::Wait);
    let state = rig.run_with(limits(|l| l.supervise_every = 1), config).await;
    assert_eq!(
        answered_at_round_2.load(Ordering::SeqCst),
        0,
        "the planner's round 2 ran before any supervisor answer"
    );
    let guidance: Vec<String> = state
        .events
        .iter()
        .filter(|e| e.contains("directive") && !e.starts_with("apply_guidance: 0 new"))
        .map(|e| match e.find("(round ") {
            // Which round takes it in depends on when the supervisor's answer lands.
            Some(at) => {
                let end = e[at..].find(')').map_or(e.len(), |close| at + close);
                format!("{}(round _{}", &e[..at], &e[end..])
            }
            None => e.clone(),
        })
        .collect();
    expect![[r#"
        supervisor: 1 directive(s) (0 critical), 0 dropped
        apply_guidance: 1 new directive(s); 1 in force
        task_planner: implement task_003: Add a polite greeting in src/polite.rs (round _); directives: answered directive_001: this task adds it
        supervisor: 0 directive(s) (0 critical), 0 dropped"#]].assert_eq(&guidance.join("\n"));
    assert_eq!(state.status, RunStatus::Complete);
    assert!(state.pending_directives.is_empty(), "the answered directive retired");
    assert_eq!(state.supervisor_runs, state.supervisor_done);
}

#[tokio::test]
async fn a_run_killed_inside_the_implementors_tool_loop_resumes_without_repaying_finished_calls() {
    let rig = Rig::new(Roles::default());
    let s = &rig.script;
    let entered = std::sync::Arc::new(tokio::sync::Notify::new());
    let never = lemmings_testkit::Hold::new();
    s.push("scope", [scope(&["A greeting module exists"])]);
    s.push(
        "planner",
        [implement("Create the greet function"), plan("milestone_done")],
    );
    let signal = entered.clone();
    s.push(
        "implementor",
        [
            Turn::Call("coder", serde_json::json!({"query": "Create src/greet.rs"})),
            // The first try of the implementor's second turn never answers: the run is killed.
            Turn::Hook(
                std::sync::Arc::new(move || signal.notify_one()),
                Box::new(Turn::Held(never.clone(), Box::new(Turn::Text("never")))),
            ),
            Turn::Submit(serde_json::json!({
                "files_modified": ["src/greet.rs"],
                "result_summary": "created src/greet.rs",
                "success": true,
            })),
        ],
    );
    s.push(
        "coder",
        [
            Turn::Call(
                "write_file",
                serde_json::json!({"path": "src/greet.rs", "content": GREET}),
            ),
            Turn::Submit(
                serde_json::json!({"files_modified": ["src/greet.rs"], "summary": "written", "success": true}),
            ),
        ],
    );
    s.push("qa", [qa(true, None)]);
    s.push("assessor", [assess(true, true, false)]);
    s.push("report", [Turn::Text("Done.")]);

    let graph = rig.workflow.graph().clone().with_checkpointer(rig.saver.clone());
    let input = rig.workflow.input("Add a greeting module.", RunLimits::default());
    let config = rig.config();
    let run = {
        let (graph, config) = (graph.clone(), config.clone());
        tokio::spawn(async move { graph.invoke(input, &config).await })
    };
    entered.notified().await;
    run.abort();
    assert!(run.await.unwrap_err().is_cancelled());
    let served_before = rig.script.served();

    let state = graph
        .continue_run(&config)
        .await
        .expect("the resumed run finishes")
        .value;
    assert_eq!(state.status, RunStatus::Complete);
    let after: Vec<String> = rig.script.served()[served_before.len()..].to_vec();
    expect![[r#"
        before: scope, planner, implementor, coder, coder, implementor
        after: implementor, qa, planner, assessor, report"#]]
    .assert_eq(&format!(
        "before: {}\nafter: {}",
        served_before.join(", "),
        after.join(", ")
    ));
    assert_eq!(
        std::fs::read_to_string(rig.dir.path().join("src/greet.rs")).unwrap(),
        GREET
    );
}

#[tokio::test]
async fn the_check_commands_output_never_holds_an_api_key() {
    const KEY: &str = "sk-canary-5c1e7a";
    let rig = Rig::with(
        Roles {
            api_key: Some(KEY),
            ..Roles::default()
        },
        // A check whose output shows the key (a test suite printing its configuration).
        Some("cat settings.env"),
        std::sync::Arc::new(lemmings_testkit::ScriptedModel::new("supervisor")),
        lemmings_agents::spec::AgentSpecs::builtin().expect("loads"),
    );
    std::fs::write(rig.dir.path().join("settings.env"), format!("KEY={KEY}\n")).unwrap();
    let s = &rig.script;
    one_task(s, "Create the greet function");
    let state = rig.run(RunLimits::default()).await;
    assert_eq!(state.status, RunStatus::Complete, "{}", trace(&state));
    let check = state.tasks["task_001"]
        .evidence
        .as_ref()
        .and_then(|e| e.check.as_ref())
        .expect("the check ran");
    assert!(check.passed);
    let saved = serde_json::to_string(&state).unwrap();
    assert!(!saved.contains(KEY), "the key reached the state: {}", check.output_tail);
    let qa_prompt: String = rig
        .script
        .requests()
        .iter()
        .filter(|r| agent_of(r) == "qa")
        .flat_map(|r| r.messages.iter().map(|m| m.content().to_owned()))
        .collect();
    assert!(qa_prompt.contains("check `cat settings.env` passed"), "{qa_prompt}");
    assert!(check.output_tail.contains("KEY=[redacted]"), "{}", check.output_tail);
    assert!(!qa_prompt.contains(KEY));
}
