//! Moving the writes: the takeover step a newly elected writer goes through before it is
//! published (close the other nodes, raise auto_increment counters, open the new writer), and
//! the read-only fence's steady state (closing any other node found writable).

use std::time::{Duration, Instant};

use tracing::warn;

use super::{Aggregator, Event, MonitorSettings, Msg, Snapshot};
use crate::fence::{fence, set_read_only, FenceReport};

/// What has to happen before a node elected writer gets the writes.
#[derive(Debug, Clone, Default)]
struct Plan {
    /// Nodes to set `read_only=ON` first (read-only fence), by index and address.
    close: Vec<(usize, String)>,
    /// Raise auto_increment counters (a takeover from another writer).
    auto_increment: bool,
    /// Set `read_only=OFF` on the new writer last.
    open: bool,
}

/// What a completed [`Plan`] did.
#[derive(Debug, Clone)]
pub(super) struct Takeover {
    plan: Plan,
    report: FenceReport,
}

/// Runs a [`Plan`]: close the others, raise counters, open the new writer — in that order, so
/// two nodes are never writable at once.
async fn take_over(address: &str, cfg: &MonitorSettings, plan: Plan) -> Result<Takeover, String> {
    let timeout = fence_timeout(cfg);
    for (_, other) in &plan.close {
        set_read_only(other, cfg.login_for(other), true, timeout)
            .await
            .map_err(|e| format!("read_only=ON on {other}: {e}"))?;
    }
    let report = if plan.auto_increment {
        fence(address, cfg.login_for(address), &cfg.fence, timeout)
            .await
            .map_err(|e| format!("auto_increment fence: {e}"))?
    } else {
        FenceReport::default()
    };
    if plan.open {
        set_read_only(address, cfg.login_for(address), false, timeout)
            .await
            .map_err(|e| format!("read_only=OFF: {e}"))?;
    }
    Ok(Takeover { plan, report })
}

fn fence_timeout(cfg: &MonitorSettings) -> Duration {
    cfg.health.timeout.max(Duration::from_secs(5))
}

/// Records a `read_only` value Tandem just set (the next check will confirm it).
fn mark_read_only(snap: &mut Snapshot, node: usize, value: bool) {
    if let Some(s) = snap.nodes.get_mut(node).and_then(|n| n.status.as_mut()) {
        s.read_only = value;
    }
}

impl Aggregator {
    /// Read-only fence, steady state: any node but the published writer found writable is set
    /// read-only again (a restarted old writer, or an operator's mistake).
    pub(super) fn keep_others_closed(&mut self) {
        if !self.config.election.read_only_fence || self.pending_fence.is_some() {
            return;
        }
        let snap = self.snapshot.load_full();
        let Some(w) = snap.writer else {
            return;
        };
        for (i, n) in snap.nodes.iter().enumerate() {
            let open = n.up && n.status.as_ref().is_some_and(|s| !s.read_only);
            let busy = self.closing.get(i).is_none_or(Option::is_some);
            if i == w || !open || busy {
                continue;
            }
            if let Some(at) = self.read_only_set_at.get_mut(i) {
                *at = Some(Instant::now());
            }
            let (tx, cfg, address) = (self.tx.clone(), self.config.clone(), n.address.clone());
            let task = tokio::spawn(async move {
                let result =
                    set_read_only(&address, cfg.login_for(&address), true, fence_timeout(&cfg))
                        .await
                        .map_err(|e| e.to_string());
                let _ = tx.send(Msg::Closed(i, result)).await;
            });
            self.closing[i] = Some(task.abort_handle());
        }
    }

    pub(super) fn on_closed(&mut self, node: usize, result: Result<(), String>) {
        if let Some(c) = self.closing.get_mut(node) {
            *c = None;
        }
        let name = self.node_name(node);
        match result {
            Ok(()) => {
                let mut next = (*self.snapshot.load_full()).clone();
                mark_read_only(&mut next, node, true);
                self.emit(Event::ReadOnlySet {
                    node: name,
                    read_only: true,
                });
                self.publish_writer(&mut next, None);
            }
            Err(e) => warn!(node = %name, error = %e, "could not set read_only=ON on a non-writer"),
        }
    }

    pub(super) fn on_fenced(&mut self, node: usize, result: Result<Takeover, String>) {
        let Some((pending, ai)) = self.pending_fence else {
            return;
        };
        if pending != node {
            return; // the election moved on meanwhile
        }
        let name = self.node_name(node);
        match result {
            Ok(done) => {
                self.pending_fence = None;
                let mut next = (*self.snapshot.load_full()).clone();
                for (i, _) in &done.plan.close {
                    mark_read_only(&mut next, *i, true);
                    self.emit(Event::ReadOnlySet {
                        node: self.node_name(*i),
                        read_only: true,
                    });
                }
                if done.plan.auto_increment {
                    self.emit(Event::Fenced {
                        node: name.clone(),
                        report: done.report,
                    });
                }
                if done.plan.open {
                    mark_read_only(&mut next, node, false);
                    self.emit(Event::ReadOnlySet {
                        node: name,
                        read_only: false,
                    });
                }
                self.publish_writer(&mut next, None);
            }
            Err(e) => {
                warn!(node = %name, error = %e, "writer takeover step failed; retrying, writes held");
                let snap = self.snapshot.load_full();
                self.spawn_fence(&snap, node, ai, Duration::from_millis(200));
            }
        }
    }

    /// What `node` needs before it takes the writes. With the read-only fence every other node
    /// that is up is closed, whatever its last seen flag (repeating `read_only=ON` is harmless,
    /// and a flag can be stale), and the new writer is opened last.
    fn plan(&self, snap: &Snapshot, node: usize, auto_increment: bool) -> Plan {
        let mut plan = Plan {
            auto_increment,
            ..Plan::default()
        };
        if self.config.election.read_only_fence {
            for (i, n) in snap.nodes.iter().enumerate() {
                if i != node && n.up {
                    plan.close.push((i, n.address.clone()));
                }
            }
            plan.open = true;
        }
        plan
    }

    /// Starts the takeover step for `node`, replacing (aborting) any step still running, so an
    /// outdated step can never open a node after a newer one closed it.
    pub(super) fn spawn_fence(
        &mut self,
        snap: &Snapshot,
        node: usize,
        auto_increment: bool,
        delay: Duration,
    ) {
        let Some(address) = self.config.nodes.get(node).map(|n| n.address.clone()) else {
            return;
        };
        if let Some(old) = self.takeover_task.take() {
            old.abort();
        }
        // A steady-state close of the new writer must not land after it is opened.
        if let Some(Some(c)) = self.closing.get_mut(node).map(Option::take) {
            c.abort();
        }
        let plan = self.plan(snap, node, auto_increment);
        let now = Instant::now();
        for i in plan
            .close
            .iter()
            .map(|(i, _)| *i)
            .chain(plan.open.then_some(node))
        {
            if let Some(at) = self.read_only_set_at.get_mut(i) {
                *at = Some(now);
            }
        }
        let (tx, cfg) = (self.tx.clone(), self.config.clone());
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let result = take_over(&address, &cfg, plan).await;
            let _ = tx.send(Msg::Fenced(node, result)).await;
        });
        self.takeover_task = Some(task.abort_handle());
    }

    /// Whether a change needs a takeover step before the writer is published.
    pub(super) fn needs_step(&self, snap: &Snapshot, node: usize, auto_increment: bool) -> bool {
        let plan = self.plan(snap, node, auto_increment);
        plan.auto_increment || plan.open || !plan.close.is_empty()
    }
}
