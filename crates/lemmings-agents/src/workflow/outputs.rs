//! The workflow agents' structured outputs. Field names are the original Lemmings' so prompts
//! port 1:1; each field's doc comment becomes the description the model reads in the schema,
//! so it states the limits and the allowed values. Lengths are also in the schema
//! (`maxLength`, `maxItems`), where the repair ladder truncates instead of re-prompting.

pub(crate) mod lenient;

use lemmings_models::structured::OutputSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use self::lenient::lenient_enum;

/// The shortest implementation plan accepted; a shorter one turns the plan into a skip.
pub const MIN_PLAN_CHARS: usize = 100;

lenient_enum! {
    /// What the task planner decided.
    pub enum PlanAction (default MilestoneDone) {
        /// Implement the planned task.
        Implement = "implement" | "implementation" | "code" | "proceed" | "continue",
        /// Nothing to do for this step (the gap is already closed).
        Skip = "skip" | "skipped" | "noop" | "nothing",
        /// The work cannot go on as planned.
        Abort = "abort" | "stop" | "cancel" | "fail" | "failed" | "escalate",
        /// The milestone looks done: let the assessor check. Unknown actions land here, so
        /// the assessor (with its deterministic check) decides rather than the guess.
        MilestoneDone = "milestone_done" | "done" | "complete" | "completed" | "milestone_complete" | "finished",
    }
}

lenient_enum! {
    /// The kind of change a task makes (conventional-commit types).
    pub enum ChangeType (default Chore) {
        /// A new feature.
        Feat = "feat" | "feature" | "add",
        /// A bug fix.
        Fix = "fix" | "bugfix" | "bug",
        /// A refactoring.
        Refactor = "refactor" | "refactoring",
        /// Tests.
        Test = "test" | "tests" | "testing",
        /// Documentation.
        Docs = "docs" | "doc" | "documentation",
        /// Anything else.
        Chore = "chore",
    }
}

lenient_enum! {
    /// Why QA failed a task, which decides who retries it.
    pub enum FailureType (default WrongApproach) {
        /// Right approach, unfinished: the implementor continues.
        Incomplete = "incomplete" | "partial" | "unfinished" | "missing",
        /// The approach is wrong: the planner re-plans the task. Unknown types land here.
        WrongApproach = "wrong_approach" | "wrong" | "approach" | "incorrect",
        /// The plan itself is flawed: the planner re-plans the task.
        PlanIssue = "plan_issue" | "plan" | "bad_plan" | "planning",
    }
}

lenient_enum! {
    /// What a supervisor directive asks for.
    pub enum DirectiveKind (default Functional) {
        /// A change in behaviour or a fix.
        Functional = "functional" | "feature" | "behaviour" | "behavior" | "bug",
        /// Tidying: naming, duplication, dead code.
        Cleanup = "cleanup" | "refactor" | "style" | "tidy",
    }
}

lenient_enum! {
    /// How urgent a supervisor directive is.
    pub enum Priority (default Normal) {
        /// Forces an assessment at the next opportunity.
        Critical = "critical" | "urgent" | "blocker" | "high",
        /// Taken into account by the planner.
        Normal = "normal" | "medium",
        /// Only when convenient.
        Low = "low" | "minor",
    }
}

/// A milestone as the scope agent proposes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MilestoneSpec {
    /// What is true when the milestone is reached, at most 200 characters.
    #[schemars(length(max = 200))]
    pub description: String,
    /// How it could be done, at most 150 characters.
    #[serde(default)]
    #[schemars(length(max = 150))]
    pub sketch: String,
}

/// The scope agent's reading of the request: the remit and the milestones, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScopeOutput {
    /// What the whole run must achieve, at most 1000 characters.
    #[schemars(length(max = 1000))]
    pub remit: String,
    /// Needs the user stated, at most 10, each at most 200 characters.
    #[serde(default)]
    #[schemars(length(max = 10), inner(length(max = 200)))]
    pub explicit_needs: Vec<String>,
    /// Needs the request implies, at most 10, each at most 200 characters.
    #[serde(default)]
    #[schemars(length(max = 10), inner(length(max = 200)))]
    pub implied_needs: Vec<String>,
    /// The milestones in the order to do them, at most 12. The initial scope must give at
    /// least one; a scope review gives only what is left (none when nothing is).
    #[serde(default)]
    #[schemars(length(max = 12))]
    pub milestones: Vec<MilestoneSpec>,
}

/// The task planner's decision for the next step of the active milestone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanOutput {
    /// One of `implement`, `skip`, `abort`, `milestone_done`.
    pub action: PlanAction,
    /// What the task does, at most 300 characters.
    #[serde(default)]
    #[schemars(length(max = 300))]
    pub task_description: String,
    /// How to tell it is done (a check anyone can run or see), at most 300 characters.
    #[serde(default)]
    #[schemars(length(max = 300))]
    pub measurable_outcome: String,
    /// For `implement`: the implementation plan in Markdown (files, steps, how to check), at
    /// least 100 and at most 6000 characters.
    #[serde(default)]
    #[schemars(length(max = 6000))]
    pub implementation_plan: String,
    /// One of `feat`, `fix`, `refactor`, `test`, `docs`, `chore`.
    #[serde(default)]
    pub change_type: ChangeType,
    /// A commit-style summary of the task, at most 72 characters.
    #[serde(default)]
    #[schemars(length(max = 72))]
    pub task_summary: String,
    /// Notes for the next planning rounds, at most 5, each at most 100 characters.
    #[serde(default)]
    #[schemars(length(max = 5), inner(length(max = 100)))]
    pub carry_forward: Vec<String>,
    /// For `abort`: why the work cannot go on, at most 300 characters.
    #[serde(default)]
    #[schemars(length(max = 300))]
    pub escalation_context: Option<String>,
    /// For `skip`: why nothing needs doing, at most 200 characters.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub skip_reason: Option<String>,
    /// One answer per active directive: how this decision addresses it (at most 10).
    #[serde(default)]
    #[schemars(length(max = 10))]
    pub directive_responses: Vec<DirectiveResponse>,
}

/// How the planner addressed one active supervisor directive.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DirectiveResponse {
    /// The directive's id (`directive_001`).
    pub id: String,
    /// How it is addressed: the task that handles it, why it is already handled, or that it is
    /// escalated; at most 200 characters.
    #[schemars(length(max = 200))]
    pub response: String,
}

/// The implementor's report on what it changed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImplementationOutput {
    /// Every file created, changed or deleted, as paths relative to the workspace root.
    #[serde(default)]
    #[schemars(length(max = 50), inner(length(max = 300)))]
    pub files_modified: Vec<String>,
    /// What was done, at most 500 characters.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub result_summary: String,
    /// Problems noticed but not fixed, at most 10, each at most 200 characters.
    #[serde(default)]
    #[schemars(length(max = 10), inner(length(max = 200)))]
    pub issues_noticed: Vec<String>,
    /// Whether the plan was carried out completely.
    pub success: bool,
}

/// A coding subagent's report (the original's `CoderOutput`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CodeChangeOutput {
    /// Every file created, changed or deleted, relative to the workspace root.
    #[serde(default)]
    #[schemars(length(max = 50), inner(length(max = 300)))]
    pub files_modified: Vec<String>,
    /// What was done, at most 500 characters.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub summary: String,
    /// Whether the change was made completely.
    pub success: bool,
}

/// QA's verdict on the current task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QaOutput {
    /// Whether the task meets its measurable outcome.
    pub passed: bool,
    /// What is wrong or missing (what to do next when failed), at most 500 characters.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub feedback: String,
    /// When failed: `incomplete` (right approach, unfinished), `wrong_approach` or
    /// `plan_issue`; null when passed.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub failure_type: Option<FailureType>,
    /// Specific problems, at most 10, each at most 200 characters.
    #[serde(default)]
    #[schemars(length(max = 10), inner(length(max = 200)))]
    pub issues: Vec<String>,
}

/// The assessor's review of the milestone and the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AssessmentOutput {
    /// What the milestone still lacks, at most 10, each at most 200 characters.
    #[serde(default)]
    #[schemars(length(max = 10), inner(length(max = 200)))]
    pub uncovered_gaps: Vec<String>,
    /// Whether the whole remit is done (every milestone).
    #[serde(default)]
    pub is_complete: bool,
    /// Whether the work so far is consistent and nothing is half done.
    #[serde(default)]
    pub stability_check: bool,
    /// Whether the active milestone is done.
    #[serde(default)]
    pub milestone_complete: bool,
    /// The reasoning behind the verdict, at most 500 characters.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub assessment_notes: String,
    /// A short steer for the planner when the work drifts, at most 200 characters; null
    /// when aligned.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub correction_hint: Option<String>,
    /// Whether the milestones no longer fit the remit and the scope must be reviewed.
    #[serde(default)]
    pub escalate_to_scope: bool,
}

/// One directive the supervisor proposes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DirectiveSpec {
    /// One of `functional`, `cleanup`.
    #[serde(default)]
    pub kind: DirectiveKind,
    /// One of `critical` (forces an assessment), `normal`, `low`.
    #[serde(default)]
    pub priority: Priority,
    /// What to do, at most 200 characters.
    #[schemars(length(max = 200))]
    pub description: String,
    /// Why, at most 200 characters.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub rationale: String,
    /// The files concerned, at most 10, relative to the workspace root.
    #[serde(default)]
    #[schemars(length(max = 10), inner(length(max = 200)))]
    pub files: Vec<String>,
}

/// The supervisor's review of the run so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SupervisionOutput {
    /// Directives for the planner, at most 5; none when all is well.
    #[serde(default)]
    #[schemars(length(max = 5))]
    pub directives: Vec<DirectiveSpec>,
    /// What the supervisor saw, at most 500 characters.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub summary: String,
}

/// The names [`output_schema`] knows, sorted (also the outputs an agent file may name:
/// `spec::KNOWN_OUTPUTS`).
pub const OUTPUT_NAMES: [&str; 7] = [
    "assessment",
    "code_change",
    "implementation",
    "plan",
    "qa",
    "scope",
    "supervision",
];

/// The structured-output schema an agent submits, by name (`scope`, `plan`,
/// `implementation`, `code_change`, `qa`, `assessment`, `supervision`); `None` for others.
pub fn output_schema(name: &str) -> Option<OutputSchema> {
    let schema = match name {
        "scope" => OutputSchema::of::<ScopeOutput>(Some(name)),
        "plan" => OutputSchema::of::<PlanOutput>(Some(name)),
        "implementation" => OutputSchema::of::<ImplementationOutput>(Some(name)),
        "code_change" => OutputSchema::of::<CodeChangeOutput>(Some(name)),
        "qa" => OutputSchema::of::<QaOutput>(Some(name)),
        "assessment" => OutputSchema::of::<AssessmentOutput>(Some(name)),
        "supervision" => OutputSchema::of::<SupervisionOutput>(Some(name)),
        _ => return None,
    };
    Some(schema)
}

#[cfg(test)]
#[path = "outputs_tests.rs"]
mod tests;
