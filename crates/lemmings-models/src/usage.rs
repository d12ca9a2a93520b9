//! Usage accounting per role: calls, attempts, fallbacks, tokens, time and cost, shared by
//! every layer of a registry and read by the run and the CLI.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::chat::{ModelInfo, StreamEvent};

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

/// A call in flight, as [`LlmRegistry::active_calls`](crate::LlmRegistry::active_calls)
/// reports it (for a live view of what each model is doing).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActiveCall {
    /// Unique within the registry, in start order.
    pub id: u64,
    /// The role called.
    pub role: String,
    /// Its model.
    pub model: String,
    /// The role whose model is streaming the answer (the called role, or a fallback it handed
    /// the call to); the called role until something streams.
    pub answering: String,
    /// Time since the call started (queueing at the gate included).
    #[serde(with = "duration_secs")]
    pub elapsed: Duration,
    /// Pieces streamed so far by the answering attempt (text, thinking and tool-call chunks;
    /// servers stream about one token per piece). Zero for calls made without streaming.
    pub chunks: u64,
}

#[derive(Debug)]
struct Active {
    role: String,
    model: String,
    answering: String,
    started: Instant,
    chunks: u64,
}

/// The shared counters.
#[derive(Debug, Default)]
pub struct UsageLedger {
    roles: Mutex<UsageReport>,
    active: Mutex<BTreeMap<u64, Active>>,
    next_call: AtomicU64,
}

impl UsageLedger {
    /// A copy of the counters.
    pub fn report(&self) -> UsageReport {
        self.lock().clone()
    }

    /// The calls in flight, oldest first.
    pub fn active(&self) -> Vec<ActiveCall> {
        let now = Instant::now();
        self.active_lock()
            .iter()
            .map(|(id, call)| ActiveCall {
                id: *id,
                role: call.role.clone(),
                model: call.model.clone(),
                answering: call.answering.clone(),
                elapsed: now.saturating_duration_since(call.started),
                chunks: call.chunks,
            })
            .collect()
    }

    /// Records a call in flight until the returned id is passed to [`UsageLedger::finish`].
    pub(crate) fn start(&self, info: &ModelInfo) -> u64 {
        let id = self.next_call.fetch_add(1, Ordering::Relaxed);
        self.active_lock().insert(
            id,
            Active {
                role: info.role.clone(),
                model: info.model.clone(),
                answering: info.role.clone(),
                started: Instant::now(),
                chunks: 0,
            },
        );
        id
    }

    /// Counts a streamed piece of call `id` (a `Discard` starts the count again).
    pub(crate) fn streamed(&self, id: u64, event: &StreamEvent) {
        if let Some(call) = self.active_lock().get_mut(&id) {
            match event {
                StreamEvent::Text { role, .. }
                | StreamEvent::Reasoning { role, .. }
                | StreamEvent::ToolCall { role, .. } => {
                    if call.answering != *role {
                        call.answering.clone_from(role);
                    }
                    call.chunks += 1;
                }
                StreamEvent::Discard { .. } => call.chunks = 0,
            }
        }
    }

    /// Call `id` ended.
    pub(crate) fn finish(&self, id: u64) {
        self.active_lock().remove(&id);
    }

    fn active_lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Active>> {
        self.active.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
