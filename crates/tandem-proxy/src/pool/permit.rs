//! Counting live backend connections against the caps: a pool's (per node) and a user's
//! (`max_backend_connections`), and the callers waiting at a cap.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Live connections of a pool, and a wake-up for those waiting at the cap.
#[derive(Debug, Default)]
pub(super) struct Count {
    pub(super) total: AtomicUsize,
    /// Notified when a connection closes or goes idle (a waiter may take or evict it); wakes
    /// the longest waiter first.
    pub(super) freed: tokio::sync::Notify,
    /// Callers waiting at the cap: while there are any, a newcomer queues behind them instead
    /// of taking the connection that was freed for the first of them.
    pub(super) waiting: AtomicUsize,
}

/// A caller counted in [`Count::waiting`] until dropped (also when its client leaves).
pub(super) struct Waiting<'a>(&'a Count);

impl<'a> Waiting<'a> {
    pub(super) fn new(count: &'a Count) -> Waiting<'a> {
        count.waiting.fetch_add(1, Ordering::AcqRel);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts a live backend connection against its pool's cap (and its user's, when the user
/// has one); released on drop.
#[derive(Debug)]
pub struct Permit {
    pub(super) node: Arc<Count>,
    pub(super) user: Option<Arc<Count>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.node.total.fetch_sub(1, Ordering::Relaxed);
        self.node.freed.notify_one();
        if let Some(u) = &self.user {
            u.total.fetch_sub(1, Ordering::Relaxed);
            u.freed.notify_one();
        }
    }
}

/// Takes one from `count` if it is below `cap`.
pub(super) fn take(count: &Count, cap: usize) -> bool {
    count
        .total
        .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
            (n < cap).then_some(n + 1)
        })
        .is_ok()
}
