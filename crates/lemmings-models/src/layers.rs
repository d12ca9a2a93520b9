//! The layers every model call goes through, each a [`ChatModel`](crate::ChatModel) wrapping
//! another, with one job each. From the HTTP call outwards:
//!
//! 1. [`Timeout`]: one attempt, from sending the request to the end of the answer, gets the
//!    role's `timeout_s`. Innermost, so waiting for the gate or backing off never counts.
//! 2. [`Gate`]: at most `max_concurrency` requests in flight per backend *server* (shared by
//!    every role on that server), so the primary GPU is never asked for two generations at
//!    once. It sits inside the retry and beneath the fallback: a retry releases the server
//!    while it backs off, and a summarizer call that falls back to the primary queues on the
//!    primary's gate like any other primary call.
//! 3. [`Retry`]: retryable failures (connection, timeout, 408/409/429/5xx, unreadable or cut
//!    answers) are retried with exponential backoff, `Retry-After` honoured, bounded per call
//!    (`max_attempts`) and across calls by a [`RetryBudget`].
//! 4. [`Breaker`]: a role's model that keeps failing is skipped for a cooldown, then probed by
//!    one call, so a dead summarizer costs one probe, not one timeout per call. Only roles
//!    with a fallback get one: elsewhere it would only fail the calls after a failure.
//! 5. [`Fallback`]: a failure that another model may not have (see
//!    [`ModelErrorKind::may_fall_back`](crate::ModelErrorKind::may_fall_back)) hands the call
//!    to the role's `fallback` roles in order, each through its own layers 1–4.
//! 6. [`Traced`]: one tracing span per call with role, model, outcome, latency and tokens,
//!    usage accounting per role, and every message scrubbed of API keys.
//!
//! The listed order in the style guide ("timeout → retry → fallback → concurrency limit →
//! trace") is kept except for the gate, which must sit below the fallback to be per server.

mod breaker;
mod fallback;
mod gate;
mod retry;
mod timeout;
mod trace;

pub use breaker::Breaker;
pub use fallback::Fallback;
pub use gate::{Gate, Gated};
pub use retry::{Retry, RetryBudget};
pub use timeout::Timeout;
pub use trace::{Redactor, Traced};
