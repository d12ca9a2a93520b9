//! [`WorkflowState`]: everything the coding workflow knows, checkpointed after every node, and
//! the records it keeps (milestones, tasks, the done list, directives, how the run ended).
//!
//! Every field is a last-value channel written by one node per superstep, except the
//! append-only `mailbox` (the supervisor appends, `apply_guidance` reads past a cursor, so a
//! directive appended in the same superstep is never lost) and `events` (one trace line per
//! control decision).

use std::collections::BTreeMap;
use std::fmt;

use lemmings_graph::State;
use serde::{Deserialize, Serialize};

use super::control::Node;
use super::outputs::{
    AssessmentOutput, ChangeType, DirectiveKind, FailureType, ImplementationOutput, PlanOutput, Priority, QaOutput,
};
use super::verify::VerifyReport;

/// The run's bounds. Every loop of the workflow is bounded by one of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunLimits {
    /// Implementation attempts per task (the first one included).
    pub max_attempts: u32,
    /// Completed tasks between two assessments.
    pub review_interval: u32,
    /// Scope reviews the assessor may ask for.
    pub max_replans: u32,
    /// Tasks started in the whole run.
    pub max_tasks: u32,
    /// Task-planner calls in the whole run.
    pub max_planner_rounds: u32,
    /// Skips in a row before the assessor looks; twice as many end the run.
    pub max_consecutive_skips: u32,
    /// Tasks in a row that use up their attempts before the run ends.
    pub max_consecutive_failures: u32,
    /// Done-list entries shown in full to the agents; older ones are rolled into one line.
    pub done_detail: u32,
    /// Completed tasks between two supervisions (0: only when urgency pulls one forward);
    /// without a supervisor role there are none.
    pub supervise_every: u32,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            max_attempts: 3,
            review_interval: 5,
            max_replans: 2,
            max_tasks: 30,
            max_planner_rounds: 60,
            max_consecutive_skips: 3,
            max_consecutive_failures: 3,
            done_detail: 7,
            supervise_every: 3,
        }
    }
}

/// Where a milestone stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MilestoneStatus {
    /// Not started.
    #[default]
    Pending,
    /// Being worked on.
    Active,
    /// Done, confirmed by the assessor and the deterministic check.
    Complete,
    /// Closed without a completed task (every step was skipped), or dropped by a scope review
    /// while active.
    Skipped,
}

/// One milestone of the scope.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Milestone {
    /// `milestone_001`, `milestone_002`, … in creation order (a scope review continues the
    /// numbering).
    pub id: String,
    /// What is true when it is reached (at most 200 characters).
    pub description: String,
    /// How it could be done (at most 150 characters).
    pub sketch: String,
    /// Where it stands.
    pub status: MilestoneStatus,
}

/// How a task ended, in the done list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutcome {
    /// Completed with verified evidence.
    Completed,
    /// Skipped by the planner (counts toward the milestone's completion).
    Skipped,
    /// Failed after its attempts, or abandoned.
    Failed,
}

impl TaskOutcome {
    /// `completed`, `skipped` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskOutcome::Completed => "completed",
            TaskOutcome::Skipped => "skipped",
            TaskOutcome::Failed => "failed",
        }
    }
}

/// One finished task in the sliding window the agents see.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoneEntry {
    /// The task's id.
    pub task_id: String,
    /// The milestone it belonged to.
    pub milestone_id: String,
    /// What the task was (at most 300 characters).
    pub description: String,
    /// What came of it: the result, the skip reason or the failure (at most 300 characters).
    pub result: String,
    /// How it ended.
    pub outcome: TaskOutcome,
}

/// Where a task stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Planned, not started.
    #[default]
    Planned,
    /// Being implemented, verified or checked.
    InProgress,
    /// Done, with verified evidence.
    Completed,
    /// Failed after its attempts, or abandoned.
    Failed,
    /// Skipped by the planner.
    Skipped,
}

impl TaskStatus {
    /// Whether the task is still open (planned or in progress).
    pub fn is_open(self) -> bool {
        matches!(self, TaskStatus::Planned | TaskStatus::InProgress)
    }
}

/// One task (a skipped step is recorded as a skipped task, so it counts toward its milestone).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// `task_001`, `task_002`, … in creation order; a retry keeps the id.
    pub id: String,
    /// The milestone it belongs to.
    pub milestone_id: String,
    /// What it does.
    pub description: String,
    /// How to tell it is done.
    pub measurable_outcome: String,
    /// The implementation plan (replaced when QA sends the task back to the planner).
    pub plan: String,
    /// The kind of change.
    pub change_type: ChangeType,
    /// A commit-style summary (at most 72 characters).
    pub task_summary: String,
    /// Where it stands.
    pub status: TaskStatus,
    /// Implementation attempts so far (1 once started).
    pub attempts: u32,
    /// QA's last feedback, or why verification failed.
    pub qa_feedback: Option<String>,
    /// Why QA last failed it.
    pub failure_type: Option<FailureType>,
    /// The implementor's last summary, the skip reason, or why it failed.
    pub result_summary: Option<String>,
    /// The last verification of its changes, without the diff: what makes a completion
    /// believable.
    pub evidence: Option<VerifyReport>,
}

/// A supervisor directive, typed and length-capped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Directive {
    /// `directive_001`, … in mailbox order.
    pub id: String,
    /// What it asks for.
    pub kind: DirectiveKind,
    /// How urgent it is.
    pub priority: Priority,
    /// What to do (at most 200 characters).
    pub description: String,
    /// Why (at most 200 characters).
    pub rationale: String,
    /// The files concerned.
    pub files: Vec<String>,
    /// `tasks_total` when it was issued: it ages out 15 tasks later.
    pub created_at_task: u32,
}

/// Why the run ended: the limit or the condition that sent it to the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndReason {
    /// The assessor declared the whole remit complete.
    Completed,
    /// Every milestone was completed (or skipped) and confirmed by the assessor.
    AllMilestonesDone,
    /// A scope review found nothing left to do.
    NothingLeft,
    /// `max_tasks` tasks were started.
    MaxTasks {
        /// The limit.
        limit: u32,
    },
    /// The task planner was called `max_planner_rounds` times.
    MaxPlannerRounds {
        /// The limit.
        limit: u32,
    },
    /// `max_consecutive_failures` tasks in a row used up their attempts.
    MaxAttempts {
        /// The last task that failed.
        task_id: String,
        /// How many failed in a row.
        failed_in_a_row: u32,
    },
    /// The assessor asked for another scope review after `max_replans` of them.
    MaxReplans {
        /// The limit.
        limit: u32,
    },
    /// The planner skipped this many times in a row.
    ConsecutiveSkips {
        /// The skips in a row.
        count: u32,
    },
    /// An agent reached its model-call limit without an answer.
    ModelCallLimit {
        /// The agent (node) name.
        agent: String,
    },
    /// An agent failed (its model failed, or its output stayed invalid).
    AgentFailed {
        /// The agent (node) name.
        agent: String,
        /// What went wrong.
        message: String,
    },
    /// The scope agent gave no usable scope.
    ScopeFailed {
        /// Why it is unusable.
        reason: String,
    },
    /// The run was about to reach its superstep limit (the graph's recursion limit), so it
    /// stopped at a control node while a report could still be written.
    SuperstepLimit {
        /// The superstep at which the run would have been stopped.
        limit: i64,
    },
    /// The planner aborted and the assessor saw no way on.
    PlannerAbort {
        /// The planner's escalation context.
        reason: String,
    },
}

impl EndReason {
    /// Whether the run ended because the work is claimed done (the honest outcome still
    /// checks the claim).
    pub fn claims_completion(&self) -> bool {
        matches!(
            self,
            EndReason::Completed | EndReason::AllMilestonesDone | EndReason::NothingLeft
        )
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::Completed => write!(f, "the assessor declared the work complete"),
            EndReason::AllMilestonesDone => write!(f, "every milestone was completed"),
            EndReason::NothingLeft => write!(f, "a scope review found nothing left to do"),
            EndReason::MaxTasks { limit } => write!(f, "the task limit ({limit}) was reached"),
            EndReason::MaxPlannerRounds { limit } => {
                write!(f, "the planning limit ({limit} planner rounds) was reached")
            }
            EndReason::MaxAttempts {
                task_id,
                failed_in_a_row,
            } => write!(
                f,
                "{failed_in_a_row} tasks in a row used up their attempts (the last: {task_id})"
            ),
            EndReason::MaxReplans { limit } => {
                write!(f, "the assessor asked for a scope review after {limit} of them")
            }
            EndReason::ConsecutiveSkips { count } => write!(f, "the planner skipped {count} times in a row"),
            EndReason::ModelCallLimit { agent } => write!(f, "the {agent} agent reached its model-call limit"),
            EndReason::AgentFailed { agent, message } => write!(f, "the {agent} agent failed: {message}"),
            EndReason::ScopeFailed { reason } => write!(f, "no usable scope: {reason}"),
            EndReason::PlannerAbort { reason } => write!(f, "the planner aborted: {reason}"),
            EndReason::SuperstepLimit { limit } => write!(
                f,
                "the superstep limit ({limit}) was nearly reached; raise [run] recursion_limit to go further"
            ),
        }
    }
}

/// How the run stands or ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    /// Still going.
    #[default]
    Running,
    /// Done: every completed task is verified and the assessor confirmed completion.
    Complete,
    /// Nothing usable came of the run.
    Failed {
        /// Why.
        reason: String,
    },
    /// Partial progress; the reason says what stopped it and what is left.
    Incomplete {
        /// Why.
        reason: String,
    },
}

/// The coding workflow's state.
#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowState {
    /// The run's bounds (input).
    pub limits: RunLimits,
    /// What the user asked for (input).
    pub user_request: String,
    /// The workspace root, for the prompts (input).
    pub workspace_root: String,
    /// Whether the workspace is a git repository (input).
    pub in_git: bool,
    /// The check command verify runs after each implementation, if any (input).
    pub check_command: Option<String>,
    /// Notes about the project for the agents: the workspace's `LEMMINGS.md` or `AGENTS.md`
    /// (input; cut to [`PROJECT_CONTEXT_CHARS`](super::control::PROJECT_CONTEXT_CHARS)).
    pub project_context: String,

    /// What the run must achieve (scope).
    pub remit: String,
    /// Needs the user stated (scope).
    pub explicit_needs: Vec<String>,
    /// Needs the request implies (scope).
    pub implied_needs: Vec<String>,
    /// The milestones, done ones included (scope).
    pub milestones: Vec<Milestone>,
    /// The id of the milestone being worked on (start_milestone, advance_milestone).
    pub active_milestone: Option<String>,

    /// Finished tasks, in order (the agents see the active milestone's last few).
    pub done_list: Vec<DoneEntry>,
    /// The planner's notes to itself, at most 10 (task_planner).
    pub carry_forward: Vec<String>,
    /// The planner's last decision, normalised (a short plan is a skip) (task_planner).
    pub last_plan: Option<PlanOutput>,
    /// Why the planner aborted when it had no task to fail; the assessor then decides whether
    /// the run can go on (task_planner).
    pub planner_abort: Option<String>,
    /// The task being worked on (task_planner sets it; mark_*, record_skip clear it).
    pub current_task: Option<String>,
    /// Every task, by id.
    pub tasks: BTreeMap<String, Task>,
    /// The implementor's report on the current attempt (implementor).
    pub implementation: Option<ImplementationOutput>,
    /// The verification of the current attempt (verify).
    pub verification: Option<VerifyReport>,
    /// QA's verdict on the current attempt (qa).
    pub qa: Option<QaOutput>,

    /// Tasks completed since the last assessment.
    pub tasks_since_review: u32,
    /// Skips in a row in the active milestone.
    pub consecutive_skips: u32,
    /// Tasks in a row that failed.
    pub consecutive_failures: u32,
    /// Scope reviews so far.
    pub replans: u32,
    /// Task-planner calls so far.
    pub planner_rounds: u32,
    /// Tasks started so far (skips excluded).
    pub tasks_total: u32,
    /// The assessor's last verdict (assessor).
    pub last_assessment: Option<AssessmentOutput>,
    /// The assessor's steer for the planner, if the work drifts (assessor).
    pub correction_hint: Option<String>,
    /// Whether the next chance goes to the assessor (apply_guidance sets, assessor clears).
    pub force_assessment: bool,

    /// The supervisor's directives in force, at most 10 (apply_guidance).
    pub pending_directives: Vec<Directive>,
    /// Directives from the supervisor, append-only.
    #[reducer(append)]
    pub mailbox: Vec<Directive>,
    /// How many mailbox entries apply_guidance has taken in.
    pub mailbox_read: usize,
    /// The urgency pulling the next supervision forward: +0.3 per QA failure, +0.5 when the
    /// assessor sees drift, +1.0 on an abort or an escalation; a supervision starts at 1.0 and
    /// resets it (main path).
    pub supervisor_urgency: f64,
    /// Whether the node that wrote last launched a supervision (every main-path node writes it).
    pub supervise: bool,
    /// Supervisions launched (main path).
    pub supervisor_runs: u32,
    /// Supervisions finished, skipped ones included (the supervisor, beside the main path): one
    /// runs while this is below `supervisor_runs`.
    pub supervisor_done: u32,
    /// Completed tasks when the last supervision was launched (main path).
    pub supervised_at: u32,
    /// The supervisor's notes from its reviews, the latest 5 (the supervisor).
    pub supervisor_notes: Vec<String>,

    /// The node that wrote last: the report uses it to recover which router ended the run.
    pub last_node: Option<Node>,
    /// How the run stands (report).
    pub status: RunStatus,
    /// Why the run ended (set when an agent or the scope fails, and by the report).
    pub end_reason: Option<EndReason>,
    /// The final report (report).
    pub work_report: Option<String>,
    /// One trace line per control decision.
    #[reducer(append)]
    pub events: Vec<String>,
    /// Status lines for the live display, at most 80 characters: one per node, and a condensed
    /// one (by the summarizer, beside the main path) for each line that was cut.
    #[reducer(append)]
    pub status_lines: Vec<StatusLine>,
    /// The last node's status line when it did not fit, for the summarizer to condense (every
    /// main-path node writes it).
    pub condense: Option<Condense>,
}

/// A status line to condense: the packet of the `status_line` background node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condense {
    /// The node it reports on.
    pub node: String,
    /// The whole line, without its mark.
    pub text: String,
    /// Whether it reports a failure (the `✗` mark).
    pub failed: bool,
}

/// One status line of the live display.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusLine {
    /// The node it reports on.
    pub node: String,
    /// The line: a mark, then at most 78 characters.
    pub text: String,
    /// Whether the summarizer wrote it (replacing the node's cut line).
    pub condensed: bool,
}

impl WorkflowState {
    /// The milestone being worked on.
    pub fn active(&self) -> Option<&Milestone> {
        let id = self.active_milestone.as_deref()?;
        self.milestones.iter().find(|m| m.id == id)
    }

    /// The task being worked on.
    pub fn current(&self) -> Option<&Task> {
        self.tasks.get(self.current_task.as_deref()?)
    }

    /// The first milestone not started yet.
    pub fn next_pending(&self) -> Option<&Milestone> {
        self.milestones.iter().find(|m| m.status == MilestoneStatus::Pending)
    }

    /// The tasks of a milestone, in creation order.
    pub fn tasks_of<'a>(&'a self, milestone_id: &'a str) -> impl Iterator<Item = &'a Task> + 'a {
        self.tasks.values().filter(move |t| t.milestone_id == milestone_id)
    }
}
