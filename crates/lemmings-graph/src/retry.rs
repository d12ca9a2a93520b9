//! [`RetryPolicy`]: how often and how patiently a failing node is run again.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::NodeError;

type RetryOn = Arc<dyn Fn(&NodeError) -> bool + Send + Sync>;

/// Retries a failing node with exponential backoff. A failed attempt's writes are discarded.
///
/// The delay before attempt k+1 is `min(max_interval, initial_interval × backoff_factor^(k−1))`,
/// plus, with jitter, a random extra of up to a quarter of it (LangGraph adds up to one second,
/// which swamps short intervals).
#[derive(Clone)]
pub struct RetryPolicy {
    /// The delay before the second attempt.
    pub initial_interval: Duration,
    /// How much the delay grows per attempt.
    pub backoff_factor: f64,
    /// The longest delay.
    pub max_interval: Duration,
    /// The most attempts, the first included.
    pub max_attempts: u32,
    /// Whether to add a random extra to each delay.
    pub jitter: bool,
    retry_on: RetryOn,
}

impl Default for RetryPolicy {
    /// LangGraph's defaults: 0.5 s, ×2, at most 128 s, 3 attempts, jitter, retrying what
    /// [`NodeError::is_retryable`] accepts.
    fn default() -> Self {
        RetryPolicy {
            initial_interval: Duration::from_millis(500),
            backoff_factor: 2.0,
            max_interval: Duration::from_secs(128),
            max_attempts: 3,
            jitter: true,
            retry_on: Arc::new(NodeError::is_retryable),
        }
    }
}

impl RetryPolicy {
    /// The default policy with `max_attempts` attempts.
    pub fn attempts(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts,
            ..RetryPolicy::default()
        }
    }

    /// Decides which errors are retried (default: [`NodeError::is_retryable`]).
    pub fn retry_on(mut self, predicate: impl Fn(&NodeError) -> bool + Send + Sync + 'static) -> Self {
        self.retry_on = Arc::new(predicate);
        self
    }

    /// Sets the first delay.
    pub fn initial_interval(mut self, interval: Duration) -> Self {
        self.initial_interval = interval;
        self
    }

    /// Sets how much the delay grows per attempt.
    pub fn backoff_factor(mut self, factor: f64) -> Self {
        self.backoff_factor = factor;
        self
    }

    /// Sets the longest delay.
    pub fn max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }

    /// Turns jitter on or off.
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Whether `error`, raised by attempt `attempt` (from 1), gets another attempt.
    pub(crate) fn should_retry(&self, attempt: u32, error: &NodeError) -> bool {
        attempt < self.max_attempts && !error.is_interrupt() && (self.retry_on)(error)
    }

    /// The delay after attempt `attempt` (from 1) failed.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = self.initial_interval.as_secs_f64() * self.backoff_factor.powi(exponent);
        let capped = base.min(self.max_interval.as_secs_f64()).max(0.0);
        let extra = if self.jitter {
            capped * 0.25 * unit_random()
        } else {
            0.0
        };
        Duration::try_from_secs_f64(capped + extra).unwrap_or(self.max_interval)
    }
}

/// A number in [0, 1) that differs between calls; jitter needs spread, not quality.
fn unit_random() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut z = STATE.fetch_add(0x9e37_79b9_7f4a_7c15 ^ u64::from(nanos), Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("initial_interval", &self.initial_interval)
            .field("backoff_factor", &self.backoff_factor)
            .field("max_interval", &self.max_interval)
            .field("max_attempts", &self.max_attempts)
            .field("jitter", &self.jitter)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_cap() {
        let policy = RetryPolicy {
            max_interval: Duration::from_secs(3),
            ..RetryPolicy::default()
        }
        .jitter(false);
        let delays: Vec<_> = (1..=5).map(|a| policy.delay(a).as_millis()).collect();
        assert_eq!(delays, vec![500, 1000, 2000, 3000, 3000]);
        let jittered = RetryPolicy::default();
        for attempt in 1..4 {
            let d = jittered.delay(attempt).as_secs_f64();
            let base = 0.5 * 2f64.powi(attempt as i32 - 1);
            assert!(d >= base && d <= base * 1.25, "{d} vs {base}");
        }
    }

    #[test]
    fn attempts_are_capped_and_interrupts_never_retry() {
        let policy = RetryPolicy::attempts(3);
        let err = NodeError::retryable(std::io::Error::other("x"));
        assert!(policy.should_retry(1, &err) && policy.should_retry(2, &err) && !policy.should_retry(3, &err));
        assert!(!policy.should_retry(1, &NodeError::interrupted()));
        assert!(!policy.should_retry(1, &NodeError::msg("terminal")));
    }
}
