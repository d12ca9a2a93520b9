//! Human-in-the-loop: [`Interrupt`]s raised by nodes and the [`Resume`] answers to them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A pause raised by [`Ctx::interrupt`](crate::Ctx::interrupt), waiting for an answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interrupt {
    /// A stable id: answer it with [`Resume::by_id`].
    pub id: String,
    /// What the node asked (any JSON).
    pub value: serde_json::Value,
    /// The node that asked, with its namespace for interrupts raised in subgraphs
    /// (`child:<task id>|node`).
    pub node: String,
}

/// Answers to pending interrupts.
#[derive(Clone, Debug, PartialEq)]
pub enum Resume {
    /// The answer to the only pending interrupt; an error when several are pending.
    Value(serde_json::Value),
    /// Answers by interrupt id; interrupts left unanswered stay pending.
    ById(BTreeMap<String, serde_json::Value>),
}

impl Resume {
    /// The answer to the single pending interrupt.
    pub fn value(value: impl Into<serde_json::Value>) -> Resume {
        Resume::Value(value.into())
    }

    /// Answers by interrupt id.
    pub fn by_id<K: Into<String>, V: Into<serde_json::Value>>(answers: impl IntoIterator<Item = (K, V)>) -> Resume {
        Resume::ById(answers.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}
