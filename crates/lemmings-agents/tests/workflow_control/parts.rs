//! The pieces one at a time: plan normalisation, carry-forward, stale evidence, directives,
//! prompt sections and the edge table.

use super::*;

#[test]
fn plans_are_normalised() {
    let mut state = finished();
    state.tasks.clear();
    state.last_node = Some(Node::ApplyGuidance);
    let short = PlanOutput {
        implementation_plan: "edit it".to_owned(),
        ..implement("tiny")
    };
    expect!["task_planner: skip: the plan was too short to implement (7 characters, at least 100) (round 1)"]
        .assert_eq(&step(&mut state, |s| apply_plan(s, short)));
    assert_eq!(route_after_planner(&state), Node::RecordSkip);

    let nameless = PlanOutput {
        task_description: "  ".to_owned(),
        ..implement("x")
    };
    expect!["task_planner: skip: the plan had no task description (round 2)"]
        .assert_eq(&step(&mut state, |s| apply_plan(s, nameless)));

    expect!["task_planner: implement task_001: add the parser (round 3)"]
        .assert_eq(&step(&mut state, |s| apply_plan(s, implement("add the parser"))));
    state.tasks.get_mut("task_001").unwrap().attempts = 2;
    let replan = PlanOutput {
        task_description: "something else entirely".to_owned(),
        implementation_plan: format!("{}\nNew approach.", implement("x").implementation_plan),
        ..implement("x")
    };
    expect!["task_planner: re-plan task_001 for attempt 2 (round 4)"]
        .assert_eq(&step(&mut state, |s| apply_plan(s, replan)));
    let task = &state.tasks["task_001"];
    assert_eq!(task.description, "add the parser", "a re-plan keeps the task");
    assert!(task.plan.ends_with("New approach."));
    assert_eq!((state.tasks.len(), state.tasks_total), (1, 1));

    state.current_task = None;
    state.tasks_total = state.limits.max_tasks;
    step(&mut state, |s| apply_plan(s, implement("one too many")));
    assert_eq!(state.end_reason, Some(EndReason::MaxTasks { limit: 30 }));
    assert_eq!(route_after_planner(&state), Node::Report);
}

#[test]
fn carry_forward_keeps_the_last_ten_distinct_notes() {
    let mut state = finished();
    for round in 0..4 {
        let notes = (0..4).map(|i| format!("note {}", round * 3 + i)).collect();
        let plan = PlanOutput {
            carry_forward: notes,
            ..skip("x")
        };
        step(&mut state, |s| apply_plan(s, plan));
    }
    expect![[r#"
        [
            "note 3",
            "note 4",
            "note 5",
            "note 6",
            "note 7",
            "note 8",
            "note 9",
            "note 10",
            "note 11",
            "note 12",
        ]
    "#]]
    .assert_debug_eq(&state.carry_forward);
}

#[test]
fn a_file_unchanged_since_another_task_is_not_evidence() {
    let mut state = finished();
    state.tasks.insert(
        "task_002".to_owned(),
        Task {
            id: "task_002".to_owned(),
            milestone_id: "milestone_001".to_owned(),
            status: TaskStatus::InProgress,
            attempts: 1,
            ..Task::default()
        },
    );
    state.current_task = Some("task_002".to_owned());
    // The same content task_001 left behind (same hash).
    let stale = report(&["src/task_001.rs".to_owned()], true, 1);
    expect!["verify: task_002 attempt 1: verification failed: claimed file `src/task_001.rs` is unchanged since task_001 was verified"]
        .assert_eq(&step(&mut state, |s| apply_verification(s, stale)));
    assert_eq!(
        evidence_ok(&state.tasks["task_002"], false),
        Err("claimed file `src/task_001.rs` is unchanged since task_001 was verified".to_owned())
    );
    let fresh = VerifyReport {
        diff: "diff --git a/src/task_001.rs b/src/task_001.rs\n+new\n".to_owned(),
        ..report(&["src/task_001.rs".to_owned()], true, 2)
    };
    step(&mut state, |s| apply_verification(s, fresh));
    assert_eq!(evidence_ok(&state.tasks["task_002"], false), Ok(()));
    // The task keeps the evidence without the diff; QA reads the diff from `verification`.
    assert!(state.tasks["task_002"].evidence.as_ref().unwrap().diff.is_empty());
    assert!(state.verification.as_ref().unwrap().diff.contains("+new"));
}

fn directive(description: &str, priority: Priority) -> DirectiveSpec {
    DirectiveSpec {
        kind: DirectiveKind::Functional,
        priority,
        description: description.to_owned(),
        rationale: "the user asked for it".to_owned(),
        files: vec!["src/parser.rs".to_owned(), "src/parser.rs".to_owned(), " ".to_owned()],
    }
}

#[test]
fn directives_are_typed_deduplicated_capped_and_aged() {
    let mut state = finished();
    state.tasks_total = 3;
    let output = SupervisionOutput {
        directives: vec![
            directive("Handle unary minus", Priority::Normal),
            directive("handle  unary minus!", Priority::Low),
            directive("   ", Priority::Normal),
            directive("Reject trailing garbage", Priority::Critical),
        ],
        summary: "mostly fine".to_owned(),
    };
    let event = step(&mut state, |s| apply_supervision(s, output, 3));
    expect!["supervisor: 2 directive(s) (1 critical), 2 dropped"].assert_eq(&event);
    assert_eq!(
        state.last_node,
        Some(Node::Assessor),
        "the supervisor is not a workflow node"
    );
    let ids: Vec<&str> = state.mailbox.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["directive_001", "directive_002"]);
    assert_eq!(state.mailbox[0].files, ["src/parser.rs"]);

    let event = step(&mut state, apply_guidance);
    expect!["apply_guidance: 2 new directive(s) (1 critical, urgency 0.00: assessment forced); 2 in force"]
        .assert_eq(&event);
    assert!(state.force_assessment);
    expect![[r#"
        ## WORKSPACE
        Workspace root: /work/calc
        Git repository: no

        ## REMIT
        Give the calculator a parser.

        ## MILESTONE SCOPE
        milestone_001 (1 of 1): it works

        ## ACTIVE DIRECTIVES
        - directive_001 [normal functional] Handle unary minus (files: src/parser.rs) — the user asked for it
        - directive_002 [critical functional] Reject trailing garbage (files: src/parser.rs) — the user asked for it [address first]"#]].assert_eq(&render_sections(&planner_sections(&state)));

    // Read once: a second pass takes nothing new.
    expect!["apply_guidance: 0 new directive(s); 2 in force"].assert_eq(&step(&mut state, apply_guidance));
    // A critical directive forces the next chance to go to the assessor.
    state.last_node = Some(Node::MarkComplete);
    assert_eq!(route_after_mark_complete(&state), Node::Assessor);
    step(&mut state, |s| apply_assessment(s, assessment()));
    assert!(!state.force_assessment);

    // Fifteen tasks later they age out; more than ten are capped, the critical ones kept.
    state.tasks_total = 18;
    let many = SupervisionOutput {
        directives: (0..5).map(|i| directive(&format!("low {i}"), Priority::Low)).collect(),
        summary: String::new(),
    };
    for batch in 0..3 {
        let mut output = many.clone();
        for d in &mut output.directives {
            d.description = format!("{} batch {batch}", d.description);
        }
        if batch == 2 {
            output.directives[4] = directive("critical late", Priority::Critical);
        }
        step(&mut state, |s| apply_supervision(s, output, 18));
    }
    expect!["apply_guidance: 15 new directive(s) (1 critical, urgency 0.00: assessment forced), 2 aged out, 5 over the cap; 10 in force"]
        .assert_eq(&step(&mut state, apply_guidance));
    assert!(
        state
            .pending_directives
            .iter()
            .any(|d| d.description == "critical late")
    );
}

#[test]
fn prompt_sections_for_a_retried_task() {
    let mut state = finished();
    state.limits.done_detail = 3;
    state.check_command = Some("cargo test".to_owned());
    state.in_git = true;
    state.carry_forward = vec!["the lexer lives in src/lex.rs".to_owned()];
    state.correction_hint = Some("stay on the parser; the UI is out of scope".to_owned());
    for i in 1..=5 {
        state.done_list.push(DoneEntry {
            task_id: format!("task_00{i}"),
            milestone_id: "milestone_001".to_owned(),
            description: format!(
                "step {i}: a description long enough to be cut, as it goes on well past eighty characters"
            ),
            result: if i == 2 {
                "skipped: not needed".to_owned()
            } else {
                "done".to_owned()
            },
            outcome: if i == 2 {
                TaskOutcome::Skipped
            } else {
                TaskOutcome::Completed
            },
        });
    }
    let mut task = verified_task("task_006", "milestone_001", None);
    task.status = TaskStatus::InProgress;
    task.attempts = 2;
    task.plan = "1. Parse numbers.\n2. Parse operators.".to_owned();
    task.measurable_outcome = "`cargo test parser` passes".to_owned();
    task.qa_feedback = Some("operators are parsed right-associatively".to_owned());
    task.failure_type = Some(FailureType::WrongApproach);
    state.tasks.insert("task_006".to_owned(), task);
    state.current_task = Some("task_006".to_owned());
    expect![[r#"
        ## WORKSPACE
        Workspace root: /work/calc
        Git repository: yes
        Check command (run by verify after you finish): `cargo test`

        ## REMIT
        Give the calculator a parser.

        ## MILESTONE SCOPE
        milestone_001 (1 of 1): it works

        ## TASK
        task_006: do task_006
        Measurable outcome: `cargo test parser` passes
        Previous plan:
        1. Parse numbers.
        2. Parse operators.

        ## DONE
        (earlier: 1 completed, 1 skipped, 0 failed: step 1: a description long enough to be…; step 2: a description long enough to be…)
        - [completed] task_003: step 3: a description long enough to be cut, as it goes on well past eighty cha… → done
        - [completed] task_004: step 4: a description long enough to be cut, as it goes on well past eighty cha… → done
        - [completed] task_005: step 5: a description long enough to be cut, as it goes on well past eighty cha… → done

        ## CARRY-FORWARD
        - the lexer lives in src/lex.rs

        ## RETRY CONTEXT
        Attempt 2 of 3 for task_006. QA feedback on the last attempt (wrong_approach): operators are parsed right-associatively

        ## CORRECTION HINT
        stay on the parser; the UI is out of scope"#]].assert_eq(&render_sections(&planner_sections(&state)));
    expect![[r#"
        ## WORKSPACE
        Workspace root: /work/calc
        Git repository: yes
        Check command (run by verify after you finish): `cargo test`

        ## TASK
        task_006: do task_006
        Measurable outcome: `cargo test parser` passes

        ## IMPLEMENTATION PLAN
        1. Parse numbers.
        2. Parse operators.

        ## DONE
        (earlier: 1 completed, 1 skipped, 0 failed: step 1: a description long enough to be…; step 2: a description long enough to be…)
        - [completed] task_003: step 3: a description long enough to be cut, as it goes on well past eighty cha… → done
        - [completed] task_004: step 4: a description long enough to be cut, as it goes on well past eighty cha… → done
        - [completed] task_005: step 5: a description long enough to be cut, as it goes on well past eighty cha… → done

        ## CARRY-FORWARD
        - the lexer lives in src/lex.rs

        ## RETRY CONTEXT
        Attempt 2 of 3 for task_006. QA feedback on the last attempt (wrong_approach): operators are parsed right-associatively"#]].assert_eq(&render_sections(&implementor_sections(&state)));

    state.implementation = Some(implemented(&["src/parser.rs"]));
    state.verification = Some(VerifyReport {
        diff: "diff --git a/src/parser.rs b/src/parser.rs\n+fn parse() {}\n".to_owned(),
        ..report(&["src/parser.rs".to_owned()], true, 3)
    });
    expect![[r#"
        ## TASK
        task_006: do task_006
        Measurable outcome: `cargo test parser` passes

        ## IMPLEMENTATION PLAN
        1. Parse numbers.
        2. Parse operators.

        ## IMPLEMENTATION REPORT
        Success claimed: yes
        Files claimed: src/parser.rs
        Summary: done

        ## VERIFICATION
        verification passed
        claimed files:
        - src/parser.rs: 10 bytes, changed
        changed files: src/parser.rs

        ## DIFF
        diff --git a/src/parser.rs b/src/parser.rs
        +fn parse() {}"#]]
    .assert_eq(&render_sections(&qa_sections(&state)));
    let assessor = assessor_sections(&state);
    expect!["Milestone check: the milestone cannot be closed yet: task_006 is still open"]
        .assert_eq(assessor["stats"].lines().last().unwrap_or_default());
    // Every agent gets exactly the variables its prompt is given, so every prompt renders.
    let specs = lemmings_agents::spec::AgentSpecs::builtin().expect("loads");
    let prompts = [
        (Node::ScopeInitial, "scope_initial"),
        (Node::ScopeReview, "scope_review"),
        (Node::TaskPlanner, "task_planner"),
        (Node::Implementor, "implementor"),
        (Node::Qa, "qa"),
        (Node::Assessor, "assessor"),
        (Node::Report, "report"),
    ];
    for (node, agent) in prompts {
        let vars = prompt_variables(node, &state).expect("an agent node");
        let listed = lemmings_agents::spec::PROMPT_VARIABLES
            .iter()
            .find(|(name, _)| *name == agent)
            .map(|(_, vars)| vars.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>())
            .unwrap_or_default();
        let mut listed = listed;
        listed.sort();
        assert_eq!(vars.keys().cloned().collect::<Vec<_>>(), listed, "{node}");
        let prompt = &specs.get(agent).expect("built in").prompt;
        prompt.render_task(&vars).expect("renders");
    }
    assert_eq!(prompt_variables(Node::Verify, &state), None);
    let supervisor = supervisor_sections(&state);
    let template = &specs.get("supervisor").expect("built in").prompt;
    template.render_task(&supervisor).expect("renders");
}

#[test]
fn the_edge_table_is_consistent() {
    for node in Node::ALL {
        let json = serde_json::to_string(&node).unwrap();
        assert_eq!(json, format!("\"{}\"", node.name()));
        match edge(node) {
            Edge::Routed(targets) => assert!(!targets.is_empty() && targets.contains(&Node::Report), "{node}"),
            Edge::To(next) => assert_ne!(next, node),
            Edge::End => assert_eq!(node, Node::Report),
        }
        assert_eq!(
            run_control(node, &finished()).is_some(),
            !node.is_agent() && node != Node::Verify,
            "{node}"
        );
    }
}

#[test]
fn one_router_serves_both_scope_nodes() {
    let mut state = finished();
    state.milestones[0].status = MilestoneStatus::Complete;
    state.active_milestone = None;
    step(&mut state, |s| apply_scope(s, scope(&[]), true));
    assert_eq!(route_after_scope(&state), Node::Report);
    assert_eq!(end_reason_at_report(&state), Some(EndReason::NothingLeft));
    step(&mut state, |s| apply_scope(s, scope(&["more"]), true));
    assert_eq!(route_after_scope(&state), Node::StartMilestone);

    let mut state = start(RunLimits::default());
    step(&mut state, |s| apply_scope(s, scope(&[]), false));
    assert_eq!(route_after_scope(&state), Node::Report);
    assert!(matches!(
        end_reason_at_report(&state),
        Some(EndReason::ScopeFailed { .. })
    ));
}
