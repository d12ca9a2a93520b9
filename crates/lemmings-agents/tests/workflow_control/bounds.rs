//! Every loop is bounded: adversarial and randomised agents always reach the report within
//! a bound computed from the limits, with an end reason and an honest status.

use super::*;

#[test]
fn every_loop_is_bounded_even_against_adversarial_agents() {
    let cases: Vec<Case> = vec![
        ("implements, QA always fails", || Agents {
            planner: Box::new(|_| implement("again")),
            qa: Box::new(|_| fail(FailureType::Incomplete, "no")),
            assessor: Box::new(|_| assessment()),
            ..Agents::default()
        }),
        ("always skips", || Agents {
            planner: Box::new(|_| skip("nothing to do")),
            assessor: Box::new(|_| assessment()),
            ..Agents::default()
        }),
        ("always skips, assessor closes the milestone", || Agents {
            planner: Box::new(|_| skip("nothing to do")),
            ..Agents::default()
        }),
        ("always says milestone_done, assessor disagrees", || Agents {
            planner: Box::new(|_| plan(PlanAction::MilestoneDone)),
            assessor: Box::new(|_| assessment()),
            ..Agents::default()
        }),
        ("plans too short", || Agents {
            planner: Box::new(|_| PlanOutput {
                implementation_plan: "do it".to_owned(),
                ..implement("tiny")
            }),
            assessor: Box::new(|_| assessment()),
            ..Agents::default()
        }),
        ("assessor always escalates", || Agents {
            planner: Box::new(|_| implement("again")),
            assessor: Box::new(|_| AssessmentOutput {
                escalate_to_scope: true,
                ..assessment()
            }),
            ..Agents::default()
        }),
        ("always aborts", || Agents {
            planner: Box::new(|_| plan(PlanAction::Abort)),
            assessor: Box::new(|_| assessment()),
            ..Agents::default()
        }),
        ("works forever, assessor never satisfied", || Agents {
            planner: Box::new(|_| implement("more")),
            assessor: Box::new(|_| assessment()),
            ..Agents::default()
        }),
        ("re-plans forever", || Agents {
            qa: Box::new(|_| fail(FailureType::WrongApproach, "no")),
            ..Agents::default()
        }),
        ("claims work it never does", || Agents {
            planner: Box::new(|_| implement("again")),
            verify: Box::new(|state| {
                report(
                    &state.implementation.clone().unwrap_or_default().files_modified,
                    false,
                    1,
                )
            }),
            assessor: Box::new(|_| AssessmentOutput {
                is_complete: true,
                ..assessment()
            }),
            ..Agents::default()
        }),
        ("implementor always at its call limit", || Agents {
            planner: Box::new(|_| implement("again")),
            failure: Box::new(|node, _| (node == Node::Implementor).then_some(AgentFailure::CallLimit { limit: 40 })),
            ..Agents::default()
        }),
        ("QA always fails to answer", || Agents {
            planner: Box::new(|_| implement("again")),
            failure: Box::new(|node, _| {
                (node == Node::Qa).then(|| AgentFailure::Failed {
                    message: "connection refused".to_owned(),
                })
            }),
            ..Agents::default()
        }),
        ("assessor fails", || Agents {
            failure: Box::new(|node, _| {
                (node == Node::Assessor).then(|| AgentFailure::Failed {
                    message: "invalid output: /is_complete: \"maybe\" is not of type \"boolean\"".to_owned(),
                })
            }),
            ..Agents::default()
        }),
        ("scope review finds nothing left", || Agents {
            scope: seq(vec![scope(&["the parser works"]), scope(&[])]),
            assessor: Box::new(|_| AssessmentOutput {
                escalate_to_scope: true,
                ..assessment()
            }),
            ..Agents::default()
        }),
    ];
    let limits = RunLimits::default();
    let mut table = String::new();
    for (name, agents) in cases {
        let run = drive(start(limits.clone()), &mut agents(), bound(&limits));
        assert!(run.state.planner_rounds <= limits.max_planner_rounds, "{name}");
        assert!(run.state.tasks_total <= limits.max_tasks, "{name}");
        table.push_str(&format!("{name}: {}\n", summary(&run)));
    }
    expect![[r#"
        implements, QA always fails: failed, Some(MaxAttempts { task_id: "task_003", failed_in_a_row: 3 }), 47 nodes, 3 planner rounds, 3 tasks
        always skips: failed, Some(ConsecutiveSkips { count: 6 }), 22 nodes, 6 planner rounds, 0 tasks
        always skips, assessor closes the milestone: failed, Some(Completed), 13 nodes, 3 planner rounds, 0 tasks
        always says milestone_done, assessor disagrees: failed, Some(ConsecutiveSkips { count: 6 }), 26 nodes, 6 planner rounds, 0 tasks
        plans too short: failed, Some(ConsecutiveSkips { count: 6 }), 22 nodes, 6 planner rounds, 0 tasks
        assessor always escalates: incomplete, Some(MaxReplans { limit: 2 }), 100 nodes, 15 planner rounds, 15 tasks
        always aborts: failed, Some(PlannerAbort { reason: "no reason given" }), 6 nodes, 1 planner rounds, 0 tasks
        works forever, assessor never satisfied: incomplete, Some(MaxTasks { limit: 30 }), 189 nodes, 30 planner rounds, 30 tasks
        re-plans forever: failed, Some(MaxAttempts { task_id: "task_003", failed_in_a_row: 3 }), 59 nodes, 9 planner rounds, 3 tasks
        claims work it never does: failed, Some(Completed), 18 nodes, 1 planner rounds, 1 tasks
        implementor always at its call limit: failed, Some(MaxAttempts { task_id: "task_003", failed_in_a_row: 3 }), 47 nodes, 3 planner rounds, 3 tasks
        QA always fails to answer: failed, Some(MaxAttempts { task_id: "task_003", failed_in_a_row: 3 }), 59 nodes, 9 planner rounds, 3 tasks
        assessor fails: incomplete, Some(AgentFailed { agent: "assessor", message: "invalid output: /is_complete: \"maybe\" is not of type \"boolean\"" }), 13 nodes, 2 planner rounds, 1 tasks
        scope review finds nothing left: incomplete, Some(NothingLeft), 14 nodes, 2 planner rounds, 1 tasks
    "#]].assert_eq(&table);
}

/// A small deterministic generator (xorshift) for the randomised runs.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Agents that answer at random (implement, skip, abort, done; pass or fail; honest or empty
/// evidence; any verdict), sharing one generator.
fn random_agents(seed: u64) -> Agents {
    let rng = std::rc::Rc::new(std::cell::RefCell::new(Rng(
        seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
    )));
    let r = move || rng.clone();
    let (a, b, c, d, e, f, g) = (r(), r(), r(), r(), r(), r(), r());
    Agents {
        scope: Box::new(move |_| {
            let n = a.borrow_mut().below(3) as usize;
            scope(&["one", "two", "three"][..n])
        }),
        planner: Box::new(move |_| match b.borrow_mut().below(6) {
            0..=2 => implement("random work"),
            3 => skip("random skip"),
            4 => plan(PlanAction::Abort),
            _ => plan(PlanAction::MilestoneDone),
        }),
        implementor: Box::new(move |state| {
            let file = format!("src/{}.rs", state.current_task.clone().unwrap_or_default());
            match c.borrow_mut().below(3) {
                0 => implemented(&[]),
                _ => implemented(&[&file]),
            }
        }),
        verify: Box::new(move |state| {
            let claimed = state.implementation.clone().unwrap_or_default().files_modified;
            let mut rng = d.borrow_mut();
            let changed = rng.below(3) > 0;
            let mut report = report(&claimed, changed, rng.below(1 << 40));
            if let Some(command) = &state.check_command {
                let passed = rng.below(4) > 0;
                report.check = Some(CheckResult {
                    command: command.clone(),
                    passed,
                    exit: Some(if passed { 0 } else { 1 }),
                    output_tail: String::new(),
                });
                if !passed {
                    report.add_problem(format!("check `{command}` failed (exit 1)"));
                }
            }
            report
        }),
        qa: Box::new(move |_| match e.borrow_mut().below(4) {
            0 => fail(FailureType::Incomplete, "more"),
            1 => fail(FailureType::WrongApproach, "other"),
            _ => pass(),
        }),
        assessor: Box::new(move |_| {
            let mut rng = f.borrow_mut();
            AssessmentOutput {
                is_complete: rng.below(6) == 0,
                milestone_complete: rng.below(2) == 0,
                escalate_to_scope: rng.below(5) == 0,
                correction_hint: (rng.below(3) == 0).then(|| "focus".to_owned()),
                ..assessment()
            }
        }),
        failure: Box::new(move |node, _| {
            (node.is_agent() && g.borrow_mut().below(40) == 0).then_some(AgentFailure::CallLimit { limit: 40 })
        }),
    }
}

#[test]
fn random_runs_always_end_honestly_within_the_bound() {
    let mut ends = BTreeSet::new();
    for seed in 0..400_u64 {
        let mut rng = Rng(seed + 1);
        let limits = RunLimits {
            max_attempts: 1 + rng.below(3) as u32,
            review_interval: 1 + rng.below(3) as u32,
            max_replans: rng.below(3) as u32,
            max_tasks: 1 + rng.below(8) as u32,
            max_planner_rounds: 1 + rng.below(20) as u32,
            max_consecutive_skips: 1 + rng.below(3) as u32,
            max_consecutive_failures: 1 + rng.below(3) as u32,
            done_detail: 7,
            supervise_every: 3,
        };
        let mut state = start(limits.clone());
        if rng.below(2) == 0 {
            state.check_command = Some("cargo check".to_owned());
        }
        let check_configured = state.check_command.is_some();
        let run = drive(state, &mut random_agents(seed), bound(&limits));
        let state = &run.state;
        assert_eq!(run.nodes.last(), Some(&Node::Report), "seed {seed}");
        assert!(state.planner_rounds <= limits.max_planner_rounds, "seed {seed}");
        assert!(state.tasks_total <= limits.max_tasks, "seed {seed}");
        let end = state
            .end_reason
            .clone()
            .unwrap_or_else(|| panic!("seed {seed}: no end reason"));
        ends.insert(
            format!("{end:?}")
                .split([' ', '{'])
                .next()
                .unwrap_or_default()
                .to_owned(),
        );
        for task in state.tasks.values().filter(|t| t.status == TaskStatus::Completed) {
            assert_eq!(evidence_ok(task, check_configured), Ok(()), "seed {seed}: {}", task.id);
        }
        ends.insert(summary(&run).split(',').next().unwrap_or_default().to_owned());
        match &state.status {
            RunStatus::Complete => {
                assert!(end.claims_completion(), "seed {seed}: {end:?}");
                assert!(
                    state.tasks.values().any(|t| t.status == TaskStatus::Completed),
                    "seed {seed}"
                );
                assert!(state.tasks.values().all(|t| !t.status.is_open()), "seed {seed}");
            }
            RunStatus::Failed { .. } | RunStatus::Incomplete { .. } => {}
            RunStatus::Running => panic!("seed {seed}: still running"),
        }
    }
    // The randomised runs reach every way of ending, and every status.
    expect![[r#"
        {
            "AllMilestonesDone",
            "Completed",
            "ConsecutiveSkips",
            "MaxAttempts",
            "MaxPlannerRounds",
            "MaxReplans",
            "MaxTasks",
            "ModelCallLimit",
            "NothingLeft",
            "PlannerAbort",
            "ScopeFailed",
            "complete",
            "failed",
            "incomplete",
        }
    "#]]
    .assert_debug_eq(&ends);
}
