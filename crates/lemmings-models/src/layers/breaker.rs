//! [`Breaker`]: a circuit breaker per role's model, so a server that is down costs one probe
//! per cooldown instead of a timeout (and its retries) on every call.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::timeout::seconds;
use crate::chat::{ChatModel, ChatRequest, ChatResponse, ModelInfo, TokenSink};
use crate::config::BreakerConfig;
use crate::error::{ModelError, ModelErrorKind};

/// The longest cooldown, however many probes failed.
const MAX_COOLDOWN: Duration = Duration::from_secs(600);

/// Closed: calls go through and consecutive failures are counted. Open: calls fail at once
/// with [`ModelErrorKind::Unavailable`] (which the fallback layer hands on) until the
/// cooldown ends. Then one call goes through as a probe (half-open) while the others still
/// fail fast; a successful probe closes the circuit, a failed one opens it again for twice
/// as long (up to 10 minutes). Only failures that say something about the server count
/// (those another model might not have: connection, timeout, 5xx, 429, auth, empty or
/// unreadable answers); a rejected request does not.
#[derive(Debug)]
pub struct Breaker<M> {
    inner: M,
    config: BreakerConfig,
    state: Mutex<State>,
}

#[derive(Debug)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
        cooldown: Duration,
        last: String,
    },
    Probing {
        cooldown: Duration,
    },
}

/// What a call may do.
enum Admit {
    Call,
    Probe,
    Refuse { wait: Duration, last: String },
}

impl<M> Breaker<M> {
    /// `inner` guarded as `config` says.
    pub fn new(inner: M, config: BreakerConfig) -> Self {
        Breaker {
            inner,
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the circuit is open (calls refused) right now.
    pub fn is_open(&self) -> bool {
        matches!(*self.lock(), State::Open { until, .. } if Instant::now() < until)
    }

    fn admit(&self) -> Admit {
        let mut state = self.lock();
        match &*state {
            State::Closed { .. } => Admit::Call,
            State::Open { until, cooldown, last } => {
                let now = Instant::now();
                if now >= *until {
                    *state = State::Probing { cooldown: *cooldown };
                    Admit::Probe
                } else {
                    Admit::Refuse {
                        wait: *until - now,
                        last: last.clone(),
                    }
                }
            }
            State::Probing { .. } => Admit::Refuse {
                wait: Duration::ZERO,
                last: "a probe call is in flight".into(),
            },
        }
    }

    fn record(&self, result: &Result<ChatResponse, ModelError>, role: &str) {
        let mut state = self.lock();
        let failure = match result {
            Err(error) if counts(error) => error,
            // A probe that ended without saying anything about the server (e.g. a rejected
            // request) still shows it is up.
            _ => {
                if !matches!(*state, State::Closed { failures: 0 }) {
                    tracing::info!(role, "model is answering again; circuit closed");
                }
                *state = State::Closed { failures: 0 };
                return;
            }
        };
        let last = failure.message().to_owned();
        *state = match &*state {
            State::Probing { cooldown } => {
                let cooldown = (*cooldown * 2).min(MAX_COOLDOWN);
                tracing::warn!(role, cooldown = %seconds(cooldown), "probe failed; circuit stays open");
                State::Open {
                    until: Instant::now() + cooldown,
                    cooldown,
                    last,
                }
            }
            State::Closed { failures } if failures + 1 >= self.config.failures => {
                let cooldown = self.config.cooldown;
                tracing::warn!(role, cooldown = %seconds(cooldown), error = %failure, "model is failing; circuit open");
                State::Open {
                    until: Instant::now() + cooldown,
                    cooldown,
                    last,
                }
            }
            State::Closed { failures } => State::Closed { failures: failures + 1 },
            // A call admitted before the circuit opened.
            State::Open { until, cooldown, last } => State::Open {
                until: *until,
                cooldown: *cooldown,
                last: last.clone(),
            },
        };
    }
}

/// Puts a probe that was cancelled (its future dropped) back to open-and-due, so the next call
/// probes instead of every call being refused for ever.
struct ProbeGuard<'a> {
    state: &'a Mutex<State>,
    armed: bool,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let State::Probing { cooldown } = *state {
            *state = State::Open {
                until: Instant::now(),
                cooldown,
                last: "a probe was cancelled".into(),
            };
        }
    }
}

fn counts(error: &ModelError) -> bool {
    error.kind().may_fall_back() && error.kind() != ModelErrorKind::Unavailable
}

#[async_trait]
impl<M: ChatModel> ChatModel for Breaker<M> {
    async fn chat(&self, request: ChatRequest, sink: Option<TokenSink>) -> Result<ChatResponse, ModelError> {
        let probe = match self.admit() {
            Admit::Call => false,
            Admit::Probe => true,
            Admit::Refuse { wait, last } => {
                let when = if wait.is_zero() {
                    "after the probe".to_owned()
                } else {
                    format!("in {}", seconds(wait))
                };
                return Err(ModelError::new(
                    ModelErrorKind::Unavailable,
                    &self.inner.info(),
                    format!("skipped: the model has been failing ({last}); next try {when}"),
                ));
            }
        };
        let mut guard = ProbeGuard {
            state: &self.state,
            armed: probe,
        };
        let result = self.inner.chat(request, sink).await;
        guard.armed = false;
        self.record(&result, &self.inner.info().role);
        result
    }

    fn info(&self) -> ModelInfo {
        self.inner.info()
    }
}
