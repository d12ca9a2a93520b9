//! The built-in scripted models of `lemmings demo`: the whole coding workflow runs on a scratch
//! workspace without a model server, so a newcomer sees the graph, the live view, checkpoints
//! and resume.
//!
//! The models are clearly labelled (provider `scripted`, models `demo-primary (scripted)`,
//! `demo-summarizer (scripted)` and `demo-supervisor (scripted)`, URLs under `.demo.invalid`
//! that are never contacted) and sit behind the registry's real layers (gates, retries,
//! fallback, usage ledger, tracing). They are stateless: each answer is decided from the
//! request and the workspace's files (see `script`), so a run stopped anywhere and continued
//! from its checkpoint gets the right answers.

mod model;
mod script;
mod steps;
mod summarizer;
mod supervisor;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lemmings_agents::workflow::state::RunLimits;
use lemmings_models::{ChatModel, LlmConfig, LlmRegistry, ModelError, ProviderKind, RoleConfig};

use self::model::{DemoModel, Served};

/// The demo's task: a short, clear coding request on an empty scratch workspace.
pub(crate) const DEMO_TASK: &str = "Create a Rust module src/greet.rs with a public greet(name) function that returns \
                                    \"Hello, <name>!\", and a README.md that shows how to use it.";

/// The demo's model configuration: the roles `primary`, `summarizer` and `supervisor` (both
/// falling back to the primary), each on its own made-up server so each has its own
/// concurrency gate. Nothing is ever sent to those servers: [`registry`] puts scripted models
/// behind them.
pub(crate) fn config() -> LlmConfig {
    let role = |name: &str, model: &str, host: &str| {
        let mut role = RoleConfig::new(name, ProviderKind::OpenaiCompatible, model);
        role.base_url = format!("http://{host}.demo.invalid/v1");
        // A scripted answer is right or wrong the same way every time: no retries.
        role.retry.max_attempts = 1;
        role.context_tokens = Some(32_768);
        role
    };
    let primary = role("primary", "demo-primary (scripted)", "primary");
    let mut summarizer = role("summarizer", "demo-summarizer (scripted)", "summarizer");
    summarizer.fallback = vec!["primary".to_owned()];
    // As in the default configuration: optional, falling back to the primary.
    let mut supervisor = role("supervisor", "demo-supervisor (scripted)", "supervisor");
    supervisor.optional = true;
    supervisor.fallback = vec!["primary".to_owned()];
    LlmConfig {
        source: "the built-in demo configuration".to_owned(),
        roles: [primary, summarizer, supervisor]
            .into_iter()
            .map(|role| (role.name.clone(), role))
            .collect(),
        disabled: Default::default(),
    }
}

/// The demo's run limits: the defaults, with a supervision after every completed task so the
/// supervisor (and its directive, answered by the planner) shows in a run of two tasks.
pub(crate) fn limits() -> RunLimits {
    RunLimits {
        supervise_every: 1,
        ..RunLimits::default()
    }
}

/// The demo's registry: [`config`]'s roles with a scripted model as each role's base model,
/// answering about the files in `workspace` (the scratch workspace the workflow runs in),
/// pausing `pace` between streamed words (zero in tests).
///
/// # Errors
/// None in practice: the configuration is fixed and the scripted models always build.
pub(crate) fn registry(workspace: &Path, pace: Duration) -> Result<LlmRegistry, ModelError> {
    registry_with(workspace, pace, &Served::default())
}

/// [`registry`], with the agents the models answer logged in `served`.
fn registry_with(workspace: &Path, pace: Duration, served: &Served) -> Result<LlmRegistry, ModelError> {
    LlmRegistry::with_models(&config(), |role| {
        Ok(Arc::new(DemoModel::new(role, workspace, pace, served.clone())) as Arc<dyn ChatModel>)
    })
}
