//! The `run_command` tool: the model's command string, checked against the policy and run in
//! the workspace root; every outcome, a failing test run included, is text for the model.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::CommandPolicy;
use crate::{CallContext, ToolOutput, TypedTool};

/// The `run_command` tool. It ignores the idempotency key: the policy allows only checks and
/// tests, which are safe to run again when a step is retried or resumed.
#[derive(Debug)]
pub struct RunCommand {
    root: PathBuf,
    policy: Arc<CommandPolicy>,
}

impl RunCommand {
    /// The tool running `policy`'s commands in `workspace_root`.
    pub fn new(workspace_root: impl Into<PathBuf>, policy: Arc<CommandPolicy>) -> Self {
        RunCommand {
            root: workspace_root.into(),
            policy,
        }
    }

    /// Its policy.
    pub fn policy(&self) -> &CommandPolicy {
        &self.policy
    }
}

/// The arguments of `run_command`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCommandArgs {
    /// One program and its arguments, e.g. "cargo test -p foo" (no shell: no pipes, redirections or `&&`).
    pub command: String,
    /// Time limit in seconds; the configured limit is the default and the maximum.
    pub timeout_s: Option<u64>,
}

#[async_trait]
impl TypedTool for RunCommand {
    type Args = RunCommandArgs;

    const NAME: &'static str = "run_command";

    const SIDE_EFFECTS: bool = true;

    fn description(&self) -> String {
        let allowed = self.policy.allowed_commands();
        let Some(example) = allowed.first() else {
            return "Runs a command in the workspace. No commands are allowed in this configuration.".to_owned();
        };
        let listed: Vec<String> = allowed.iter().map(|command| format!("`{command}`")).collect();
        format!(
            "Runs one command in the workspace root and returns its exit status and output (long output keeps its \
             start and end). Allowed: {} (further arguments may follow). There is no shell: no pipes, redirections, \
             `&&`, globs or $VARIABLES; run one command per call. Time limit: {}s (timeout_s sets a lower one). \
             Example: {{\"command\": \"{}\"}}",
            listed.join(", "),
            self.policy.timeout.as_secs(),
            example.replace('\\', "\\\\").replace('"', "\\\""),
        )
    }

    async fn run(&self, args: RunCommandArgs, context: &CallContext) -> ToolOutput {
        tracing::debug!(
            command = %args.command,
            idempotency_key = ?context.idempotency_key,
            ambiguous = context.ambiguous,
            "run_command (runs again on retry: commands are checks and tests)"
        );
        let argv = match self.policy.parse(&args.command) {
            Ok(argv) => argv,
            Err(error) => return ToolOutput::failed(format!("error: {error}")),
        };
        let timeout = args.timeout_s.map(|seconds| Duration::from_secs(seconds.max(1)));
        match super::run(&self.policy, &self.root, &argv, timeout).await {
            Ok(outcome) => ToolOutput::ok(self.policy.redact(&outcome.render())),
            Err(error) => ToolOutput::failed(format!("error: {error}")),
        }
    }
}
