//! The workflow's control logic driven end to end without models: scripted agent outputs go
//! through the apply functions, the deterministic nodes and the routers, exactly as the graph
//! wires them ([`edge`] and [`decide`]), and the trace of events is snapshotted. This file
//! holds the driver and the agent scripts; the cases are in `workflow_control/` (`runs`,
//! `limits`, `bounds`, `honesty`, `parts`).

use std::collections::BTreeSet;

use expect_test::{Expect, expect};
use lemmings_agents::workflow::control::*;
use lemmings_agents::workflow::outputs::*;
use lemmings_agents::workflow::state::*;
use lemmings_agents::workflow::verify::{CheckResult, FileCheck, VerifyReport};
use lemmings_graph::{State, TaskUpdate};

#[path = "workflow_control/bounds.rs"]
mod bounds;
#[path = "workflow_control/honesty.rs"]
mod honesty;
#[path = "workflow_control/limits.rs"]
mod limits;
#[path = "workflow_control/parts.rs"]
mod parts;
#[path = "workflow_control/runs.rs"]
mod runs;

type Agent<T> = Box<dyn FnMut(&WorkflowState) -> T>;
/// Decides whether an agent fails instead of answering.
type Failures = Box<dyn FnMut(Node, &WorkflowState) -> Option<AgentFailure>>;
/// A named case of agents.
type Case = (&'static str, fn() -> Agents);
/// A named change to a state.
type Change = (&'static str, Box<dyn Fn(&mut WorkflowState)>);

/// The agents of one run: each a function of the state (scripts, or adversaries).
struct Agents {
    scope: Agent<ScopeOutput>,
    planner: Agent<PlanOutput>,
    implementor: Agent<ImplementationOutput>,
    verify: Agent<VerifyReport>,
    qa: Agent<QaOutput>,
    assessor: Agent<AssessmentOutput>,
    /// An agent failure to inject instead of an output, by node.
    failure: Failures,
}

impl Default for Agents {
    /// Honest, competent agents: one task per milestone, verified, passed, confirmed.
    fn default() -> Self {
        Agents {
            scope: Box::new(|_| scope(&["the parser works"])),
            planner: Box::new(|state| {
                let milestone = state.active_milestone.clone().unwrap_or_default();
                if state.tasks_of(&milestone).any(|t| t.status == TaskStatus::Completed) {
                    plan(PlanAction::MilestoneDone)
                } else {
                    implement("add the parser")
                }
            }),
            implementor: Box::new(|state| implemented(&[&format!("src/{}.rs", state.current_task.clone().unwrap())])),
            verify: honest_verify(),
            qa: Box::new(|_| pass()),
            assessor: Box::new(|state| {
                let done = milestone_can_complete(state).is_ok();
                AssessmentOutput {
                    milestone_complete: done,
                    is_complete: done && state.next_pending().is_none(),
                    ..assessment()
                }
            }),
            failure: Box::new(|_, _| None),
        }
    }
}

fn scope(milestones: &[&str]) -> ScopeOutput {
    ScopeOutput {
        remit: "Give the calculator a parser.".to_owned(),
        milestones: milestones
            .iter()
            .map(|m| MilestoneSpec {
                description: (*m).to_owned(),
                sketch: String::new(),
            })
            .collect(),
        ..ScopeOutput::default()
    }
}

fn plan(action: PlanAction) -> PlanOutput {
    PlanOutput {
        action,
        ..PlanOutput::default()
    }
}

fn implement(description: &str) -> PlanOutput {
    PlanOutput {
        action: PlanAction::Implement,
        task_description: description.to_owned(),
        measurable_outcome: format!("{description}: its test passes"),
        implementation_plan: "1. Write the code.\n2. Add a unit test for it.\n3. Run the tests and fix what fails.\n"
            .repeat(2),
        task_summary: description.to_owned(),
        change_type: ChangeType::Feat,
        ..PlanOutput::default()
    }
}

fn skip(reason: &str) -> PlanOutput {
    PlanOutput {
        skip_reason: Some(reason.to_owned()),
        ..plan(PlanAction::Skip)
    }
}

fn implemented(files: &[&str]) -> ImplementationOutput {
    ImplementationOutput {
        files_modified: files.iter().map(|f| (*f).to_owned()).collect(),
        result_summary: "done".to_owned(),
        issues_noticed: Vec::new(),
        success: true,
    }
}

fn pass() -> QaOutput {
    QaOutput {
        passed: true,
        ..QaOutput::default()
    }
}

fn fail(kind: FailureType, feedback: &str) -> QaOutput {
    QaOutput {
        passed: false,
        feedback: feedback.to_owned(),
        failure_type: Some(kind),
        issues: Vec::new(),
    }
}

fn assessment() -> AssessmentOutput {
    AssessmentOutput {
        stability_check: true,
        ..AssessmentOutput::default()
    }
}

/// A verify step that finds every claimed file changed (each attempt with new content).
fn honest_verify() -> Agent<VerifyReport> {
    let mut attempt = 0;
    Box::new(move |state| {
        attempt += 1;
        let claimed = state.implementation.clone().unwrap_or_default().files_modified;
        report(&claimed, true, attempt)
    })
}

fn report(claimed: &[String], changed: bool, attempt: u64) -> VerifyReport {
    let files: Vec<FileCheck> = claimed
        .iter()
        .map(|path| FileCheck {
            path: path.clone(),
            exists: true,
            bytes: 10,
            changed,
            hash: Some(format!("{attempt:016x}")),
            problem: (!changed).then(|| format!("claimed file `{path}` is unchanged")),
        })
        .collect();
    let mut problems: Vec<String> = files.iter().filter_map(|f| f.problem.clone()).collect();
    if claimed.is_empty() {
        problems.push("the implementation listed no modified files".to_owned());
    }
    if !changed {
        problems.push("no file changed in the workspace".to_owned());
    }
    VerifyReport {
        changed: if changed { claimed.to_vec() } else { Vec::new() },
        files,
        diff: String::new(),
        check: None,
        passed: problems.is_empty(),
        problems,
    }
}

/// Returns `items` in turn, then the last one forever.
fn seq<T: Clone + 'static>(items: Vec<T>) -> Agent<T> {
    let mut next = 0;
    Box::new(move |_| {
        let item = items[next.min(items.len() - 1)].clone();
        next += 1;
        item
    })
}

fn start(limits: RunLimits) -> WorkflowState {
    WorkflowState {
        limits,
        user_request: "Add a parser to the calculator.".to_owned(),
        workspace_root: "/work/calc".to_owned(),
        ..WorkflowState::default()
    }
}

/// A finished run: the nodes in order and the final state.
struct Run {
    nodes: Vec<Node>,
    state: WorkflowState,
}

impl Run {
    /// The events, one per line, then the final status and end reason.
    fn trace(&self) -> String {
        let mut out = self.state.events.join("\n");
        out.push_str(&format!(
            "\n=> {:?}, end: {:?}\n",
            self.state.status, self.state.end_reason
        ));
        out
    }
}

/// Drives the workflow from `scope_initial` to the report as the graph would, asserting that
/// every routed node is among its edge's declared targets and that the run ends within
/// `max_steps` nodes.
fn drive(mut state: WorkflowState, agents: &mut Agents, max_steps: usize) -> Run {
    let mut node = Node::ScopeInitial;
    let mut nodes = Vec::new();
    loop {
        nodes.push(node);
        assert!(
            nodes.len() <= max_steps,
            "no report within {max_steps} steps: {:?}",
            &nodes[nodes.len().saturating_sub(30)..]
        );
        let transition = match ((agents.failure)(node, &state), node) {
            (Some(failure), _) => apply_agent_failure(&state, node, &failure),
            (None, Node::ScopeInitial) => apply_scope(&state, (agents.scope)(&state), false),
            (None, Node::ScopeReview) => apply_scope(&state, (agents.scope)(&state), true),
            (None, Node::TaskPlanner) => apply_plan(&state, (agents.planner)(&state)),
            (None, Node::Implementor) => apply_implementation(&state, (agents.implementor)(&state)),
            (None, Node::Verify) => apply_verification(&state, (agents.verify)(&state)),
            (None, Node::Qa) => apply_qa(&state, (agents.qa)(&state)),
            (None, Node::Assessor) => apply_assessment(&state, (agents.assessor)(&state)),
            (None, Node::Report) => apply_report(&state, None),
            (None, other) => run_control(other, &state).expect("a deterministic node"),
        };
        assert!(transition.event.starts_with(node.name()), "{}", transition.event);
        state
            .apply(&mut [TaskUpdate {
                writer: node.name(),
                update: transition.into_update(),
            }])
            .expect("one writer per superstep");
        node = match edge(node) {
            Edge::To(next) => next,
            Edge::Routed(targets) => {
                let next = decide(node, &state).next;
                assert!(targets.contains(&next), "{node} routed to undeclared {next}");
                assert_eq!(router(node)(&state), next, "the named router after {node} disagrees");
                next
            }
            Edge::End => return Run { nodes, state },
        };
    }
}

/// The named router the wiring may use after a routed node.
fn router(node: Node) -> fn(&WorkflowState) -> Node {
    match node {
        Node::ScopeInitial | Node::ScopeReview => route_after_scope,
        Node::ApplyGuidance => route_after_guidance,
        Node::TaskPlanner => route_after_planner,
        Node::RecordSkip => route_after_record_skip,
        Node::Qa => route_after_qa,
        Node::Retry => route_after_retry,
        Node::MarkComplete => route_after_mark_complete,
        Node::MarkFailed => route_after_mark_failed,
        Node::Assessor => route_after_assessor,
        Node::AdvanceMilestone => route_after_advance_milestone,
        other => panic!("{other} is not routed"),
    }
}

fn check(limits: RunLimits, mut agents: Agents, expect: Expect) -> Run {
    let run = drive(start(limits), &mut agents, 2_000);
    expect.assert_eq(&run.trace());
    run
}

/// One line per run: how it ended and what it cost.
fn summary(run: &Run) -> String {
    let status = match &run.state.status {
        RunStatus::Complete => "complete",
        RunStatus::Failed { .. } => "failed",
        RunStatus::Incomplete { .. } => "incomplete",
        RunStatus::Running => "running",
    };
    format!(
        "{status}, {:?}, {} nodes, {} planner rounds, {} tasks",
        run.state.end_reason,
        run.nodes.len(),
        run.state.planner_rounds,
        run.state.tasks_total
    )
}

/// An upper bound on a run's nodes: each planner round is followed by at most
/// `max_attempts` rounds of implementor, verify, QA and retry, then a handful of
/// bookkeeping and review nodes; scope reviews add a few more each.
fn bound(limits: &RunLimits) -> usize {
    let round = 4 * limits.max_attempts as usize + 10;
    (limits.max_planner_rounds as usize + 2) * round + 4 * (limits.max_replans as usize + 1)
}

fn verified_task(id: &str, milestone: &str, check: Option<bool>) -> Task {
    let mut evidence = report(&[format!("src/{id}.rs")], true, 1);
    if let Some(passed) = check {
        evidence.check = Some(CheckResult {
            command: "cargo check".to_owned(),
            passed,
            exit: Some(if passed { 0 } else { 1 }),
            output_tail: String::new(),
        });
        if !passed {
            evidence.add_problem("check `cargo check` failed (exit 1)");
        }
    }
    Task {
        id: id.to_owned(),
        milestone_id: milestone.to_owned(),
        description: format!("do {id}"),
        status: TaskStatus::Completed,
        attempts: 1,
        evidence: Some(evidence),
        ..Task::default()
    }
}

/// A finished one-milestone run whose task is verified and whose assessor said complete.
fn finished() -> WorkflowState {
    let mut state = start(RunLimits::default());
    state.remit = "Give the calculator a parser.".to_owned();
    state.milestones = vec![Milestone {
        id: "milestone_001".to_owned(),
        description: "it works".to_owned(),
        sketch: String::new(),
        status: MilestoneStatus::Active,
    }];
    state.active_milestone = Some("milestone_001".to_owned());
    state
        .tasks
        .insert("task_001".to_owned(), verified_task("task_001", "milestone_001", None));
    state.last_assessment = Some(AssessmentOutput {
        is_complete: true,
        milestone_complete: true,
        ..assessment()
    });
    state.last_node = Some(Node::Assessor);
    state
}

/// Runs `node` on the state and applies its update; returns its event.
fn step(state: &mut WorkflowState, node: impl FnOnce(&WorkflowState) -> Transition) -> String {
    let transition = node(state);
    let event = transition.event.clone();
    state
        .apply(&mut [TaskUpdate {
            writer: "test",
            update: transition.into_update(),
        }])
        .unwrap();
    event
}
