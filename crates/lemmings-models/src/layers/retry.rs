//! [`Retry`]: retries of retryable failures, with backoff, `Retry-After`, a per-call bound and
//! a [`RetryBudget`] across calls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::timeout::seconds;
use crate::chat::{ChatModel, ChatRequest, ChatResponse, ModelInfo, StreamEvent, TokenSink};
use crate::config::RetryConfig;
use crate::error::ModelError;
use crate::usage::UsageLedger;

/// Retries allowed per minute whatever the traffic, so a quiet role can still retry.
const RESERVE_PER_MINUTE: u64 = 10;

/// The budget counts in thousandths of a retry, so ratios add up exactly.
const UNIT: u64 = 1000;

/// Retries as a share of calls: each call deposits `ratio`, each retry withdraws one, and a
/// reserve of 10 per minute refills with time (the design of Finagle's and tower's retry
/// budgets). Under a burst of failures, retries stay near `ratio` × calls instead of
/// multiplying the load on a struggling server by `max_attempts`.
#[derive(Debug)]
pub struct RetryBudget {
    /// Thousandths of a retry deposited per call.
    deposit: u64,
    state: Mutex<BudgetState>,
}

#[derive(Debug)]
struct BudgetState {
    /// Thousandths of a retry available.
    balance: u64,
    refilled: Instant,
}

impl RetryBudget {
    /// A budget allowing `ratio` retries per call on top of the reserve.
    pub fn new(ratio: f64) -> Arc<RetryBudget> {
        let deposit = (ratio.clamp(0.0, 1.0) * UNIT as f64).round() as u64;
        Arc::new(RetryBudget {
            deposit,
            state: Mutex::new(BudgetState {
                balance: RESERVE_PER_MINUTE * UNIT,
                refilled: Instant::now(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The most the balance can hold: the reserve plus a hundred calls' deposits.
    fn cap(&self) -> u64 {
        RESERVE_PER_MINUTE * UNIT + 100 * self.deposit
    }

    fn refill(state: &mut BudgetState) {
        let now = Instant::now();
        let elapsed_ms = now.duration_since(state.refilled).as_millis() as u64;
        // Thousandths of a retry per millisecond: RESERVE_PER_MINUTE * UNIT / 60_000.
        let earned = elapsed_ms.saturating_mul(RESERVE_PER_MINUTE * UNIT) / 60_000;
        if earned > 0 {
            state.refilled = now;
        }
        // Time refills the reserve only; deposits may lift the balance above it.
        let reserve = RESERVE_PER_MINUTE * UNIT;
        if state.balance < reserve {
            state.balance = (state.balance + earned).min(reserve);
        }
    }

    /// Records a call.
    pub fn deposit(&self) {
        let cap = self.cap();
        let mut state = self.lock();
        Self::refill(&mut state);
        state.balance = (state.balance + self.deposit).min(cap);
    }

    /// Takes one retry from the budget; false when it is spent.
    pub fn withdraw(&self) -> bool {
        let mut state = self.lock();
        Self::refill(&mut state);
        if state.balance >= UNIT {
            state.balance -= UNIT;
            true
        } else {
            false
        }
    }
}

/// Retries `inner` on retryable errors.
#[derive(Debug)]
pub struct Retry<M> {
    inner: M,
    config: RetryConfig,
    budget: Arc<RetryBudget>,
    ledger: Arc<UsageLedger>,
}

impl<M> Retry<M> {
    /// `inner` retried as `config` says, within `budget`, counting attempts in `ledger`.
    pub fn new(inner: M, config: RetryConfig, budget: Arc<RetryBudget>, ledger: Arc<UsageLedger>) -> Self {
        Retry {
            inner,
            config,
            budget,
            ledger,
        }
    }

    /// The wait before retry number `retry` (1-based): exponential with jitter in its upper
    /// half, capped.
    fn backoff(&self, retry: u32) -> Duration {
        let base = self.config.backoff.as_secs_f64() * 2f64.powi(retry.saturating_sub(1).min(30) as i32);
        let capped = base.min(self.config.max_backoff.as_secs_f64());
        Duration::from_secs_f64(capped * (0.5 + 0.5 * unit_random()))
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for Retry<M> {
    async fn chat(&self, request: ChatRequest, sink: Option<TokenSink>) -> Result<ChatResponse, ModelError> {
        let info = self.inner.info();
        self.budget.deposit();
        let mut attempt = 1;
        loop {
            self.ledger.attempt(&info.role);
            let error = match self.inner.chat(request.clone(), sink.clone()).await {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            let give_up = |why: Option<String>| {
                if let Some(why) = why {
                    tracing::warn!(role = %info.role, model = %info.model, attempt, "{why}; not retrying");
                }
                Err(error.clone().with_attempts(attempt))
            };
            if !error.is_retryable() {
                return give_up(None);
            }
            if attempt >= self.config.max_attempts {
                return give_up(None);
            }
            let delay = match error.retry_after() {
                Some(asked) if asked > self.config.max_backoff => {
                    return give_up(Some(format!(
                        "the server asked to wait {} (Retry-After), longer than max_backoff_s {}",
                        seconds(asked),
                        seconds(self.config.max_backoff)
                    )));
                }
                Some(asked) => asked,
                None => self.backoff(attempt),
            };
            if !self.budget.withdraw() {
                return give_up(Some("the retry budget is spent".to_owned()));
            }
            tracing::info!(
                role = %info.role, model = %info.model, attempt, error = %error, delay = %seconds(delay),
                "model call failed; retrying"
            );
            if let Some(sink) = &sink {
                sink(&StreamEvent::Discard {
                    role: info.role.clone(),
                    reason: format!("retrying: {}", error.message()),
                });
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    fn info(&self) -> ModelInfo {
        self.inner.info()
    }
}

/// A number in [0, 1) from a process-wide splitmix64 sequence: jitter needs spread, not
/// secrecy, and a fixed seed keeps runs reproducible.
fn unit_random() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let mut z = STATE
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_budget_allows_the_reserve_then_a_share_of_calls() {
        let budget = RetryBudget::new(0.2);
        let mut granted = 0;
        for _ in 0..100 {
            budget.deposit();
            if budget.withdraw() {
                granted += 1;
            }
        }
        // 10 in reserve plus 0.2 per call.
        assert_eq!(granted, 30);
        assert!(!budget.withdraw());
        // The reserve refills with time, up to 10.
        tokio::time::advance(Duration::from_secs(600)).await;
        let refilled = (0..20).filter(|_| budget.withdraw()).count();
        assert_eq!(refilled, 10);
    }
}
