//! Holding a thread's lease for the length of a run (or an `update_state`), and giving it back
//! even when the run's future is dropped half-way.

use std::sync::Arc;

use crate::checkpoint::{Checkpointer, Lease};
use crate::error::GraphError;

/// A held lease; released by [`LeaseGuard::release`], or in the background on drop.
pub(crate) struct LeaseGuard {
    held: Option<(Arc<dyn Checkpointer>, Lease)>,
}

impl LeaseGuard {
    /// Claims `thread` on `store` (nothing to claim without a store or a thread).
    pub(crate) async fn acquire(
        store: Option<&Arc<dyn Checkpointer>>,
        thread: Option<&str>,
    ) -> Result<Self, GraphError> {
        let (Some(store), Some(thread)) = (store, thread) else {
            return Ok(LeaseGuard { held: None });
        };
        let lease = store
            .acquire_lease(thread)
            .await
            .map_err(|source| GraphError::Checkpointer {
                thread_id: Some(thread.to_owned()),
                source,
            })?;
        Ok(LeaseGuard {
            held: lease.map(|lease| (Arc::clone(store), lease)),
        })
    }

    /// Gives the lease back now.
    pub(crate) async fn release(mut self) -> Result<(), GraphError> {
        match self.held.take() {
            Some((store, lease)) => store
                .release_lease(&lease)
                .await
                .map_err(|source| GraphError::Checkpointer {
                    thread_id: Some(lease.thread_id.clone()),
                    source,
                }),
            None => Ok(()),
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        // The run was dropped before it ended (e.g. a caller's timeout): give the lease back in
        // the background so the thread does not stay locked until the lease expires.
        if let Some((store, lease)) = self.held.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = store.release_lease(&lease).await;
            });
        }
    }
}
