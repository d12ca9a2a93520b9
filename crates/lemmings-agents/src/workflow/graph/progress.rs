//! What every main-path node writes besides its own update: its trace line (and the agent's
//! middleware notes), its status line (cut to 80 characters, with a request to condense it when
//! it was cut), and whether it launches a supervision (every few completed tasks, or early when
//! QA failures, drift or an abort add up). Also the writes of the two background nodes.

use lemmings_models::ChatModel;

use crate::agent::AgentState;
use crate::status::{self, Mark, STATUS_WIDTH};
use crate::text::clip;
use crate::workflow::control::{AgentFailure, Node, Transition, apply_supervision, evidence_ok};
use crate::workflow::outputs::SupervisionOutput;
use crate::workflow::state::{Condense, StatusLine, TaskStatus, WorkflowState, WorkflowStateUpdate};

/// Urgency added by a QA failure.
pub(crate) const QA_FAILURE: f64 = 0.3;
/// Urgency added when the assessor sees drift.
pub(crate) const DRIFT: f64 = 0.5;
/// Urgency added by an abort or an escalation to a scope review (a supervision follows).
pub(crate) const ABORT: f64 = 1.0;
/// The supervisor's notes kept for its next review.
const MAX_NOTES: usize = 5;

/// The nodes after which a supervision may be launched: where the work just moved on.
pub const SUPERVISION_POINTS: &[Node] = &[
    Node::TaskPlanner,
    Node::Retry,
    Node::MarkComplete,
    Node::MarkFailed,
    Node::Assessor,
];

/// How a node's step ended, for its status line and the supervision's urgency.
pub(crate) struct Settled {
    pub(crate) mark: Mark,
    pub(crate) urgency: f64,
    /// More trace lines after the node's own (the agent's middleware notes).
    pub(crate) notes: Vec<String>,
}

impl Settled {
    pub(crate) fn control(node: Node) -> Self {
        let mark = match node {
            Node::MarkFailed => Mark::Failed,
            Node::StartMilestone => Mark::Start,
            _ => Mark::Done,
        };
        Settled {
            mark,
            urgency: 0.0,
            notes: Vec::new(),
        }
    }

    pub(crate) fn agent(mark: Mark, urgency: f64) -> Self {
        Settled {
            mark,
            urgency,
            notes: Vec::new(),
        }
    }
}

/// Whether a supervisor runs beside this workflow.
pub(crate) struct Progress {
    supervisor: bool,
}

impl Progress {
    pub(crate) fn new(supervisor: bool) -> Self {
        Progress { supervisor }
    }

    /// The node's update with its trace lines, its status line and the supervision decision.
    pub(crate) fn finish(
        &self,
        node: Node,
        state: &WorkflowState,
        transition: Transition,
        settled: Settled,
    ) -> WorkflowStateUpdate {
        let Transition { update, event } = transition;
        let full = status::line(settled.mark, &event);
        let (text, condense) = if full.chars().count() <= STATUS_WIDTH {
            (full, None)
        } else {
            let condense = node.condenses().then(|| Condense {
                node: node.name().to_owned(),
                text: event.clone(),
                failed: settled.mark == Mark::Failed,
            });
            (status::truncate(&full, STATUS_WIDTH), condense)
        };
        let mut events = vec![event];
        events.extend(settled.notes);
        let update = update
            .events(events)
            .status_lines(vec![StatusLine {
                node: node.name().to_owned(),
                text,
                condensed: false,
            }])
            .condense(condense);
        self.supervision(node, state, settled.urgency, update)
    }

    /// Launches a supervision when one is due at this node and none is running: every
    /// `supervise_every` completed tasks, or when the urgency reaches 1.
    fn supervision(
        &self,
        node: Node,
        state: &WorkflowState,
        delta: f64,
        update: WorkflowStateUpdate,
    ) -> WorkflowStateUpdate {
        let urgency = state.supervisor_urgency + delta;
        let completed_before = state
            .tasks
            .values()
            .filter(|t| t.status == TaskStatus::Completed)
            .count() as u32;
        let completes = node == Node::MarkComplete
            && state
                .current()
                .is_some_and(|task| evidence_ok(task, state.check_command.is_some()).is_ok());
        let completed = completed_before + u32::from(completes);
        let running = state.supervisor_done < state.supervisor_runs;
        let every = state.limits.supervise_every;
        let due = urgency >= 1.0 || (every > 0 && completed >= state.supervised_at + every);
        if self.supervisor && SUPERVISION_POINTS.contains(&node) && !running && due {
            return update
                .supervise(true)
                .supervisor_runs(state.supervisor_runs + 1)
                .supervisor_urgency(0.0)
                .supervised_at(completed);
        }
        let update = update.supervise(false);
        if delta > 0.0 {
            update.supervisor_urgency(urgency.min(10.0))
        } else {
            update
        }
    }
}

/// The `status_line` node: the line condensed by the summarizer (cut when it cannot).
pub(crate) async fn condense(task: Condense, summarizer: &dyn ChatModel) -> WorkflowStateUpdate {
    let mark = if task.failed { Mark::Failed } else { Mark::Done };
    let text = status::fit(mark, &task.text, Some(summarizer)).await;
    WorkflowStateUpdate::default().status_lines(vec![StatusLine {
        node: task.node,
        text,
        condensed: true,
    }])
}

/// The supervisor's result: its directives into the mailbox, its summary kept as a note; a
/// supervision without a usable output is skipped with a notice. Either way the run counts as
/// done, so the next one can start.
pub(crate) fn supervised(snapshot: &WorkflowState, result: &AgentState) -> WorkflowStateUpdate {
    let failure = result.stop.as_ref().and_then(AgentFailure::from_stop);
    let output = match (failure, &result.output) {
        (Some(AgentFailure::CallLimit { limit }), _) => Err(format!("it reached its model-call limit ({limit})")),
        (Some(AgentFailure::Failed { message }), _) => Err(message),
        (None, Some(output)) => serde_json::from_value::<SupervisionOutput>(output.clone())
            .map_err(|error| format!("its output does not fit: {error}")),
        (None, None) => Err("it gave no output".to_owned()),
    };
    let output = match output {
        Ok(output) => output,
        Err(why) => return supervision_skipped(snapshot, &why),
    };
    let mut notes: Vec<String> = snapshot.supervisor_notes.clone();
    if !output.summary.trim().is_empty() {
        notes.push(clip(output.summary.trim(), 300));
    }
    let keep = notes.len().saturating_sub(MAX_NOTES);
    notes.drain(..keep);
    let Transition { update, event } = apply_supervision(snapshot, output, snapshot.tasks_total);
    update
        .supervisor_notes(notes)
        .supervisor_done(snapshot.supervisor_runs)
        .status_lines(vec![beside_line(Mark::Info, &event)])
}

/// A supervision that gave nothing: a notice in the trace, and the run counted as done.
pub(crate) fn supervision_skipped(state: &WorkflowState, why: &str) -> WorkflowStateUpdate {
    let event = format!("supervisor: skipped ({})", clip(why, 200));
    WorkflowStateUpdate::default()
        .supervisor_done(state.supervisor_runs)
        .status_lines(vec![beside_line(Mark::Failed, &event)])
        .events(vec![event])
}

fn beside_line(mark: Mark, event: &str) -> StatusLine {
    StatusLine {
        node: "supervisor".to_owned(),
        text: status::truncate(&status::line(mark, event), STATUS_WIDTH),
        condensed: false,
    }
}
