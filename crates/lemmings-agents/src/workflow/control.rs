//! Every control decision of the workflow, as pure functions of the state:
//!
//! - applying an agent's output to the state (`apply_*`), with the normalisations that keep
//!   the run honest (a short plan is a skip, a QA retry re-plans the same task, QA cannot pass
//!   what verification failed);
//! - the deterministic nodes (`start_milestone`, `apply_guidance`, `record_skip`, `retry`,
//!   `mark_complete`, `mark_failed`, `advance_milestone`);
//! - the routers after each node, with the run's limits ([`decide`] holds all of them);
//! - the honest outcome ([`final_status`]) and the report;
//! - the named prompt sections each agent reads.
//!
//! Each node function returns a [`Transition`]: the state update, which already appends its
//! trace line to `events` and records the node in `last_node`.

mod apply;
mod failure;
mod guidance;
mod nodes;
mod outcome;
mod routing;
mod sections;

pub use apply::{apply_assessment, apply_implementation, apply_plan, apply_qa, apply_scope, apply_verification};
pub use failure::{AgentFailure, apply_agent_failure};
pub use guidance::{DIRECTIVE_MAX_AGE, MAX_DIRECTIVES, URGENT, apply_guidance, apply_supervision};
pub use nodes::{advance_milestone, mark_complete, mark_failed, record_skip, retry, run_control, start_milestone};
pub use outcome::{MAX_REPORT_CHARS, apply_report, evidence_ok, fallback_report, final_status, milestone_can_complete};
pub use routing::{
    Decision, Edge, Node, budget_exhausted, decide, edge, end_reason_at_report, route_after_advance_milestone,
    route_after_assessor, route_after_guidance, route_after_mark_complete, route_after_mark_failed,
    route_after_planner, route_after_qa, route_after_record_skip, route_after_retry, route_after_scope,
};
pub use sections::{
    PROJECT_CONTEXT_CHARS, assessor_sections, implementor_sections, planner_sections, prompt_variables, qa_sections,
    render_sections, report_sections, scope_sections, supervisor_sections,
};

use super::state::WorkflowStateUpdate;

/// What a node did: the state update (with the trace line appended to `events` and, for
/// workflow nodes, the node recorded in `last_node`) and the trace line itself.
#[derive(Clone, Debug)]
pub struct Transition {
    /// The update to return from the node.
    pub update: WorkflowStateUpdate,
    /// The trace line, `<node>: <what happened>`.
    pub event: String,
}

impl Transition {
    /// A workflow node's transition: records `node` as the last writer and appends the event.
    pub(crate) fn of(node: Node, update: WorkflowStateUpdate, what: impl Into<String>) -> Self {
        let event = format!("{node}: {}", what.into());
        Transition {
            update: update.last_node(Some(node)).events(vec![event.clone()]),
            event,
        }
    }

    /// A transition from outside the workflow's nodes (the supervisor): appends the event only.
    pub(crate) fn beside(source: &str, update: WorkflowStateUpdate, what: impl Into<String>) -> Self {
        let event = format!("{source}: {}", what.into());
        Transition {
            update: update.events(vec![event.clone()]),
            event,
        }
    }

    /// The update, for returning from a graph node.
    pub fn into_update(self) -> WorkflowStateUpdate {
        self.update
    }
}
