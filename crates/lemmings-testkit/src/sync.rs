//! Concurrency helpers shared by the scripted model and the fake server: [`Hold`], a gate a
//! test opens to let held replies through, and `Gauge`, the in-flight / most-at-once counter.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

/// A gate for concurrency tests: replies scripted with it (`ScriptedModel::text_after`,
/// `Reply::held`) wait until [`Hold::release`] is called, so a test can observe requests while
/// they are in flight and then let them finish, without sleeping.
///
/// Clones share the gate. Releasing is permanent: every current and future waiter passes.
#[derive(Clone)]
pub struct Hold {
    open: Arc<watch::Sender<bool>>,
}

impl Hold {
    /// A closed gate.
    pub fn new() -> Self {
        Hold {
            open: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Opens the gate for every waiter, now and later.
    pub fn release(&self) {
        self.open.send_replace(true);
    }

    /// Whether [`Hold::release`] has been called.
    pub fn is_released(&self) -> bool {
        *self.open.borrow()
    }

    /// Resolves once the gate is open (at once if it already is).
    pub async fn released(&self) {
        let mut open = self.open.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = open.wait_for(|open| *open).await;
    }
}

impl Default for Hold {
    fn default() -> Self {
        Hold::new()
    }
}

impl fmt::Debug for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hold").field("released", &self.is_released()).finish()
    }
}

/// Counts what is in progress now and the most that ever was at once.
#[derive(Debug, Default)]
pub(crate) struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    /// Counts one more until the guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> GaugeGuard {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        GaugeGuard {
            gauge: Arc::clone(self),
        }
    }

    /// How many are in progress.
    pub(crate) fn now(&self) -> usize {
        self.now.load(Ordering::SeqCst)
    }

    /// The most that were in progress at once.
    pub(crate) fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// One unit counted by a [`Gauge`]; dropping it (also on cancellation) uncounts it.
#[derive(Debug)]
pub(crate) struct GaugeGuard {
    gauge: Arc<Gauge>,
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.gauge.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_released_hold_lets_current_and_later_waiters_through() {
        let hold = Hold::new();
        let waiter = tokio::spawn({
            let hold = hold.clone();
            async move { hold.released().await }
        });
        assert!(!hold.is_released());
        hold.release();
        waiter.await.expect("the waiter task panicked");
        hold.released().await;
        assert!(hold.is_released());
        assert_eq!(format!("{hold:?}"), "Hold { released: true }");
    }

    #[test]
    fn the_gauge_counts_now_and_the_peak() {
        let gauge = Arc::new(Gauge::default());
        let first = gauge.enter();
        let second = gauge.enter();
        assert_eq!((gauge.now(), gauge.max()), (2, 2));
        drop(first);
        drop(second);
        let _third = gauge.enter();
        assert_eq!((gauge.now(), gauge.max()), (1, 2));
    }
}
