//! Usage accounting per role: calls, attempts, fallbacks, tokens, time and cost, shared by
//! every layer of a registry and read by the run and the CLI.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// What one role did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RoleUsage {
    /// Calls made to this role.
    pub calls: u64,
    /// Calls to this role that ended in an error (after retries and fallbacks).
    pub failures: u64,
    /// Calls to this role answered by one of its fallback roles.
    pub fallbacks: u64,
    /// HTTP attempts to this role's model (retries and fallback calls from other roles
    /// included).
    pub attempts: u64,
    /// Answers this role's model produced (for its own calls or as a fallback).
    pub answers: u64,
    /// Prompt tokens of those answers, as the servers reported them.
    pub prompt_tokens: u64,
    /// Generated tokens of those answers.
    pub completion_tokens: u64,
    /// Answers whose server reported no token counts.
    pub unreported: u64,
    /// Cost in US dollars, where the provider reports it (OpenRouter).
    pub cost_usd: f64,
    /// Time spent in this role's calls, from the caller's point of view (queueing, retries and
    /// fallbacks included).
    #[serde(with = "duration_secs")]
    pub latency: Duration,
}

/// Usage of every role, by name.
pub type UsageReport = BTreeMap<String, RoleUsage>;

/// The shared counters.
#[derive(Debug, Default)]
pub struct UsageLedger {
    roles: Mutex<UsageReport>,
}

impl UsageLedger {
    /// A copy of the counters.
    pub fn report(&self) -> UsageReport {
        self.lock().clone()
    }

    pub(crate) fn attempt(&self, role: &str) {
        self.with(role, |u| u.attempts += 1);
    }

    pub(crate) fn call(&self, role: &str, latency: Duration, outcome: Outcome<'_>) {
        self.with(role, |u| {
            u.calls += 1;
            u.latency += latency;
            match outcome {
                Outcome::Failed => u.failures += 1,
                Outcome::Answered { by } if by != role => u.fallbacks += 1,
                Outcome::Answered { .. } => {}
            }
        });
    }

    pub(crate) fn answer(&self, role: &str, usage: &crate::chat::Usage) {
        self.with(role, |u| {
            u.answers += 1;
            match (usage.prompt_tokens, usage.completion_tokens) {
                (None, None) => u.unreported += 1,
                (prompt, completion) => {
                    u.prompt_tokens += prompt.unwrap_or(0);
                    u.completion_tokens += completion.unwrap_or(0);
                }
            }
            u.cost_usd += usage.cost_usd.unwrap_or(0.0);
        });
    }

    fn with(&self, role: &str, update: impl FnOnce(&mut RoleUsage)) {
        let mut roles = self.lock();
        match roles.get_mut(role) {
            Some(usage) => update(usage),
            None => update(roles.entry(role.to_owned()).or_default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, UsageReport> {
        self.roles.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// How a call ended.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome<'a> {
    Answered { by: &'a str },
    Failed,
}

mod duration_secs {
    pub(super) fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}
