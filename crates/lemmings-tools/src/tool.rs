//! The [`Tool`] trait agents call tools through, the typed [`TypedTool`] that every tool here
//! implements, and what a call returns ([`ToolOutput`]). Arguments are checked against the
//! tool's JSON schema before the call; a bad call returns an actionable message to the model
//! instead of failing the run.

use std::fmt;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What the run tells a side-effecting call so a retried or resumed step does not apply it
/// twice: the call's idempotency key (thread, step, task and call index; never the attempt),
/// and whether an earlier attempt may already have applied it (its intent was recorded but not
/// its result).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallContext {
    /// The idempotency key of this call, when the run provides one.
    pub idempotency_key: Option<String>,
    /// An earlier attempt with this key may have applied the effect.
    pub ambiguous: bool,
}

impl CallContext {
    /// A call with this key, not known to have been attempted before.
    pub fn keyed(key: impl Into<String>) -> Self {
        CallContext {
            idempotency_key: Some(key.into()),
            ambiguous: false,
        }
    }

    /// A call with this key that an earlier attempt may already have applied.
    pub fn resumed(key: impl Into<String>) -> Self {
        CallContext {
            idempotency_key: Some(key.into()),
            ambiguous: true,
        }
    }
}

/// How a call ended, for the agent (the model only sees the text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Done.
    Ok,
    /// Done before, with this idempotency key: reported, not applied again.
    AlreadyApplied,
    /// The arguments did not fit the tool's schema; the text says how to fix them.
    InvalidArguments,
    /// The call was understood but cannot be done (not found, not unique, refused, escapes
    /// the workspace, not allowed, ...); the text says why and what to do.
    Failed,
}

/// What a tool call returns: text for the model and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolOutput {
    /// What the model reads.
    pub text: String,
    /// How the call ended.
    pub outcome: Outcome,
}

impl ToolOutput {
    /// A successful call.
    pub fn ok(text: impl Into<String>) -> Self {
        ToolOutput {
            text: text.into(),
            outcome: Outcome::Ok,
        }
    }

    /// A call that could not be done; `text` says why and what to do.
    pub fn failed(text: impl Into<String>) -> Self {
        ToolOutput {
            text: text.into(),
            outcome: Outcome::Failed,
        }
    }

    /// Whether the call failed (invalid arguments included).
    pub fn is_error(&self) -> bool {
        matches!(self.outcome, Outcome::Failed | Outcome::InvalidArguments)
    }
}

impl fmt::Display for ToolOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A tool as agents see it: a name, a description and a JSON schema for the model, and a call
/// on JSON arguments. Implemented for every [`TypedTool`].
#[async_trait]
pub trait Tool: Send + Sync + fmt::Debug {
    /// The name the model calls it by.
    fn name(&self) -> &str;

    /// What it does, with an example, for the model.
    fn description(&self) -> String;

    /// Its arguments' JSON schema.
    fn parameters(&self) -> Value;

    /// The model role it prefers, for tools that call a model (`None`: the agent's own).
    fn role(&self) -> Option<&str> {
        None
    }

    /// Whether it changes anything (files, processes); such calls take an idempotency key.
    fn has_side_effects(&self) -> bool;

    /// Runs it. Never panics and never fails the run: every problem is a [`ToolOutput`] whose
    /// text tells the model what to do.
    async fn call(&self, arguments: Value, context: &CallContext) -> ToolOutput;
}

/// A tool with typed arguments. The blanket [`Tool`] impl derives the schema, checks the JSON
/// arguments against it and deserializes them before [`TypedTool::run`].
#[async_trait]
pub trait TypedTool: Send + Sync + fmt::Debug {
    /// The arguments.
    type Args: DeserializeOwned + JsonSchema + Send;

    /// The name the model calls it by.
    const NAME: &'static str;

    /// Whether it changes anything.
    const SIDE_EFFECTS: bool;

    /// What it does, with an example.
    fn description(&self) -> String;

    /// The model role it prefers.
    fn role(&self) -> Option<&str> {
        None
    }

    /// Runs it on checked arguments.
    async fn run(&self, args: Self::Args, context: &CallContext) -> ToolOutput;
}

#[async_trait]
impl<T: TypedTool> Tool for T {
    fn name(&self) -> &str {
        T::NAME
    }

    fn description(&self) -> String {
        TypedTool::description(self)
    }

    fn parameters(&self) -> Value {
        crate::schema::parameters::<T::Args>()
    }

    fn role(&self) -> Option<&str> {
        TypedTool::role(self)
    }

    fn has_side_effects(&self) -> bool {
        T::SIDE_EFFECTS
    }

    async fn call(&self, arguments: Value, context: &CallContext) -> ToolOutput {
        match crate::schema::check::<T::Args>(T::NAME, arguments) {
            Ok(args) => self.run(args, context).await,
            Err(message) => ToolOutput {
                text: message,
                outcome: Outcome::InvalidArguments,
            },
        }
    }
}
