//! Event loops for sessions: one single-threaded tokio runtime per worker thread, the way HAProxy
//! runs one poller per thread. A session lives on one worker from accept to close, so its client
//! socket, its backend sockets and its task are all driven by the same thread: no work stealing,
//! no cross-thread wake-up per statement. Each worker keeps its own idle backend connections (a
//! pooled connection stays registered with the loop that opened it).
//!
//! Worker 0 is the runtime that calls [`run_on`](crate::run_on) (it also accepts and runs the
//! monitor); [`Workers::start`] adds the others, which `run_on` owns and stops once every
//! session has ended.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// The index of the worker running on this thread (0 on any thread Tandem did not start).
pub fn current() -> usize {
    WORKER.with(Cell::get)
}

/// Extra session event loops, each a single-threaded runtime on its own thread. Dropping it stops
/// them (sessions still running there end with their runtime).
#[derive(Debug)]
pub struct Workers {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// No extra workers: everything runs on the caller's runtime.
    pub fn none() -> Workers {
        Workers {
            handles: Vec::new(),
            stops: Vec::new(),
            threads: Vec::new(),
        }
    }

    /// Starts `extra` worker threads (numbered 1..=extra; the caller's runtime is worker 0).
    pub fn start(extra: usize) -> std::io::Result<Workers> {
        let mut w = Workers::none();
        for i in 1..=extra {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (tx, rx) = oneshot::channel::<()>();
            w.handles.push(rt.handle().clone());
            w.stops.push(tx);
            let thread = std::thread::Builder::new()
                .name(format!("tandem-w{i}"))
                .spawn(move || {
                    WORKER.with(|c| c.set(i));
                    let _ = rt.block_on(rx);
                })?;
            w.threads.push(thread);
        }
        Ok(w)
    }

    /// Runtime handles of the extra workers (worker `i + 1` is `handles()[i]`).
    pub(crate) fn handles(&self) -> Vec<Handle> {
        self.handles.clone()
    }

    /// No extra workers.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stops.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Where the listener puts the next session: the worker with the fewest live sessions, ties
/// taken in turn (so short sessions one after another still use every worker).
pub(crate) struct Placement {
    /// Extra workers (index i is worker i + 1).
    handles: Vec<Handle>,
    live: Arc<Vec<AtomicUsize>>,
    turn: AtomicUsize,
}

/// Counts a session against its worker while it lives.
pub(crate) struct Seat {
    live: Arc<Vec<AtomicUsize>>,
    worker: usize,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.live[self.worker].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Placement {
    pub(crate) fn new(handles: Vec<Handle>) -> Placement {
        let live = (0..=handles.len()).map(|_| AtomicUsize::new(0)).collect();
        Placement {
            handles,
            live: Arc::new(live),
            turn: AtomicUsize::new(0),
        }
    }

    /// Live sessions per worker (worker 0 first), for the admin interface.
    pub(crate) fn live(&self) -> Arc<Vec<AtomicUsize>> {
        self.live.clone()
    }

    /// Picks a worker for a new session: `None` is worker 0 (the listener's own runtime).
    pub(crate) fn place(&self) -> (Option<&Handle>, Seat) {
        let n = self.live.len();
        let start = self.turn.fetch_add(1, Ordering::Relaxed);
        let worker = (0..n)
            .map(|k| (start + k) % n)
            .min_by_key(|&i| self.live[i].load(Ordering::Relaxed))
            .unwrap_or(0);
        self.live[worker].fetch_add(1, Ordering::Relaxed);
        let seat = Seat {
            live: self.live.clone(),
            worker,
        };
        let handle = worker.checked_sub(1).and_then(|i| self.handles.get(i));
        (handle, seat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_go_to_the_least_loaded_worker() {
        let workers = Workers::start(2).unwrap();
        let p = Placement::new(workers.handles());
        assert_eq!(p.live().len(), 3);
        let (_, s0) = p.place();
        let (_, s1) = p.place();
        let (_, s2) = p.place();
        let mut got = vec![s0.worker, s1.worker, s2.worker];
        got.sort_unstable();
        assert_eq!(got, vec![0, 1, 2], "one session on each worker");
        let freed = s1.worker;
        drop(s1);
        let (h, s) = p.place();
        assert_eq!(
            s.worker, freed,
            "the worker with no session takes the next one"
        );
        assert_eq!(h.is_none(), freed == 0, "worker 0 is the caller's runtime");
        drop((s0, s2, s));
        // All idle: sessions one after another go round the workers.
        let turns: Vec<usize> = (0..6).map(|_| p.place().1.worker).collect();
        let mut seen = turns.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(
            seen,
            vec![0, 1, 2],
            "sequential sessions use every worker: {turns:?}"
        );
    }

    #[test]
    fn worker_threads_know_their_index() {
        let workers = Workers::start(2).unwrap();
        let seen: Vec<usize> = workers
            .handles()
            .iter()
            .map(|h| {
                let (tx, rx) = std::sync::mpsc::channel();
                h.spawn(async move { tx.send(current()).unwrap() });
                rx.recv().unwrap()
            })
            .collect();
        assert_eq!(seen, vec![1, 2]);
        assert_eq!(current(), 0);
    }
}
