//! What the workflow does when an agent gives no usable output (its model-call limit, a model
//! failure, an output that stayed invalid): carry on where the evidence still decides (the
//! implementor, QA, the report), end the run with the reason everywhere else.

use super::Transition;
use super::apply::{apply_implementation, apply_qa};
use super::outcome::report_transition;
use super::routing::Node;
use crate::agent::Stop;
use crate::text::clip;
use crate::workflow::outputs::{ImplementationOutput, QaOutput};
use crate::workflow::state::{EndReason, WorkflowState, WorkflowStateUpdate};

/// Why an agent gave no usable output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentFailure {
    /// It reached its model-call limit.
    CallLimit {
        /// The limit.
        limit: u32,
    },
    /// Its model failed, or its output was invalid.
    Failed {
        /// What went wrong.
        message: String,
    },
}

impl AgentFailure {
    /// The failure an agent loop's stop means; `None` when the agent finished.
    pub fn from_stop(stop: &Stop) -> Option<Self> {
        match stop {
            Stop::Answered | Stop::Submitted => None,
            Stop::ModelCallLimit { limit } => Some(AgentFailure::CallLimit { limit: *limit }),
            Stop::InvalidOutput { errors } => Some(AgentFailure::Failed {
                message: clip(&format!("invalid output: {}", errors.join("; ")), 300),
            }),
            Stop::ModelFailed { message } => Some(AgentFailure::Failed {
                message: clip(message, 300),
            }),
        }
    }

    fn describe(&self) -> String {
        match self {
            AgentFailure::CallLimit { limit } => format!("reached its model-call limit ({limit})"),
            AgentFailure::Failed { message } => format!("failed: {message}"),
        }
    }
}

/// An agent (the node it runs in) gave no usable output:
///
/// - `implementor`: an unsuccessful attempt with no claimed files (verify and QA still run,
///   and the attempt counts);
/// - `qa`: a failed verdict without a failure type (the task is re-planned within its
///   attempts; nothing unjudged is ever completed);
/// - `report`: the template report;
/// - any other node: the run ends, with `ModelCallLimit { agent }` or `AgentFailed`.
pub fn apply_agent_failure(state: &WorkflowState, agent: Node, failure: &AgentFailure) -> Transition {
    let described = format!("the {agent} agent {}", failure.describe());
    match agent {
        Node::Implementor => apply_implementation(
            state,
            ImplementationOutput {
                result_summary: described,
                ..ImplementationOutput::default()
            },
        ),
        Node::Qa => apply_qa(
            state,
            QaOutput {
                passed: false,
                feedback: format!("{described}, so the attempt could not be judged"),
                failure_type: None,
                issues: Vec::new(),
            },
        ),
        Node::Report => report_transition(state, None, Some(&described)),
        _ => {
            let end = match failure {
                AgentFailure::CallLimit { .. } => EndReason::ModelCallLimit {
                    agent: agent.name().to_owned(),
                },
                AgentFailure::Failed { message } => EndReason::AgentFailed {
                    agent: agent.name().to_owned(),
                    message: message.clone(),
                },
            };
            Transition::of(agent, WorkflowStateUpdate::default().end_reason(Some(end)), described)
        }
    }
}
