//! Busy polling before sleeping. A lone client's round trip through Tandem is two hops on each
//! of which Tandem's event loop goes to sleep in `epoll_wait` and is woken by the kernel; on a
//! small or virtual machine that sleep and wake-up costs more than everything else Tandem does
//! for the statement (`scripts/profile`: about 60% of Tandem's samples at one client thread sit
//! in the scheduler's task switch). A worker that serves a single session can instead keep
//! polling for a few tens of microseconds — as `SO_BUSY_POLL` does in the kernel — and see the
//! reply as soon as it lands. Between polls the event loop runs its other tasks and checks its
//! sockets without blocking, so nothing else on the loop waits for the spin.

use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

/// Awaits `fut`, first polling it (yielding to the event loop between polls) for up to `budget`;
/// then waits for it as usual. A zero budget is a plain `.await`.
pub async fn poll_briefly<F: Future>(fut: F, budget: Duration) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    if !budget.is_zero() {
        let until = Instant::now() + budget;
        loop {
            let polled = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
            if let Poll::Ready(out) = polled {
                return out;
            }
            if Instant::now() >= until {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    fut.await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_ready_future_and_a_late_one_both_complete() {
        assert_eq!(
            poll_briefly(async { 7 }, Duration::from_micros(50)).await,
            7
        );
        let late = tokio::time::sleep(Duration::from_millis(5));
        let started = Instant::now();
        poll_briefly(late, Duration::from_micros(50)).await;
        assert!(started.elapsed() >= Duration::from_millis(5));
        // Other tasks on the same loop run while one spins.
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move { tx.send(1).unwrap() });
        let started = Instant::now();
        assert_eq!(poll_briefly(rx, Duration::from_secs(5)).await, Ok(1));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
