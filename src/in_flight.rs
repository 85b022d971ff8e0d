//! [`InFlight`]: a count of running background tasks and the wait until
//! none is left, behind every `settle` of the crate
//! ([`LocalStorage::settle`](crate::LocalStorage::settle) for the local
//! backend's blocking-pool tasks, the disk tier of
//! [`Cached`](crate::cache::Cached) for its fills).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Tasks started and not yet finished, and a signal when the last one ends.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    /// Woken when `count` drops to zero.
    idle: Notify,
}

/// Counts one task as in flight until dropped (also when the task never
/// runs, e.g. because the runtime shuts down and drops it unrun).
#[derive(Debug)]
pub(crate) struct Entered(Arc<InFlight>);

impl InFlight {
    /// Counts one more task in flight.
    pub(crate) fn enter(self: &Arc<Self>) -> Entered {
        self.count.fetch_add(1, Ordering::AcqRel);
        Entered(Arc::clone(self))
    }

    /// Counts one more task in flight, or `None` (counting nothing) when
    /// `max` already are.
    pub(crate) fn try_enter(self: &Arc<Self>, max: usize) -> Option<Entered> {
        let running = self.count.fetch_add(1, Ordering::AcqRel);
        if running >= max {
            // Never the last one out (`running` ≥ 1), so nobody to wake.
            self.count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Entered(Arc::clone(self)))
    }

    /// Waits until no task is in flight. A task entered while this waits
    /// keeps it waiting.
    pub(crate) async fn settle(&self) {
        loop {
            // Registered before the count is read, so a drop to zero in
            // between is not missed.
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settle_waits_for_the_last_task() {
        let in_flight = Arc::new(InFlight::default());
        in_flight.settle().await;
        let first = in_flight.enter();
        let second = in_flight.try_enter(2).expect("room for a second");
        assert!(in_flight.try_enter(2).is_none(), "bounded at two");
        let waiter = tokio::spawn({
            let in_flight = Arc::clone(&in_flight);
            async move { in_flight.settle().await }
        });
        drop(first);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "one task is still in flight");
        drop(second);
        waiter.await.expect("settled");
    }
}
