//! The poller: one task per node runs checks on HAProxy's cadence and sends results to one
//! aggregator task, which applies rise/fall, re-runs the writer election and publishes an
//! immutable [`Snapshot`] through `arc-swap` (read lock-free per statement by the proxy), plus
//! [`Event`]s on a broadcast channel.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{info, warn};

use crate::election::{Candidate, Election, ElectionSettings, OperatorError, WriterChange};
use crate::fence::{FenceReport, FenceSettings};
use crate::health::{Health, HealthSettings, Transition};

mod check;
mod operator;
pub use operator::{Operation, CATCH_UP_WAIT};
mod takeover;
use crate::snapshot::{Check, NodeSnapshot, Snapshot};
use crate::status::NodeStatus;
use check::check_loop;
pub use check::{check, CheckFailure};
use takeover::Takeover;
use tandem_backend::{ClientTls, Login};

/// One node to watch.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Unique name.
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// Writer priority.
    pub weight: u32,
    /// Read share (`None` = even spread).
    pub read_weight: Option<u32>,
    /// How the monitor connects (TLS or clear text).
    pub tls: ClientTls,
}

/// Poller settings.
#[derive(Clone)]
pub struct MonitorSettings {
    /// Nodes, in configuration order (indexes in snapshots follow it).
    pub nodes: Vec<NodeConfig>,
    /// Monitor user.
    pub user: String,
    /// Monitor password (never logged).
    pub password: String,
    /// Check cadence.
    pub health: HealthSettings,
    /// Writer election policy.
    pub election: ElectionSettings,
    /// Readers lagging more than this leave the read pool.
    pub max_lag: Duration,
    /// Auto-increment fence run on a node before it takes over the writes.
    pub fence: FenceSettings,
}

impl MonitorSettings {
    /// The monitor's login to the node at `address`, with that node's TLS settings.
    pub fn login_for(&self, address: &str) -> Login<'_> {
        let tls = self
            .nodes
            .iter()
            .find(|n| n.address == address)
            .map(|n| &n.tls);
        Login::monitor(&self.user, &self.password).with_tls(tls)
    }
}

impl std::fmt::Debug for MonitorSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorSettings")
            .field("nodes", &self.nodes)
            .field("user", &self.user)
            .field("health", &self.health)
            .field("election", &self.election)
            .field("max_lag", &self.max_lag)
            .finish_non_exhaustive()
    }
}

/// Something operators want to know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A node came up.
    NodeUp(String),
    /// A node went down.
    NodeDown {
        /// Node.
        node: String,
        /// Last check error.
        reason: String,
    },
    /// The writer changed.
    WriterChanged {
        /// Previous writer.
        from: Option<String>,
        /// New writer (`None`: writes are held/refused).
        to: Option<String>,
        /// Why.
        reason: String,
    },
    /// A node's SQL thread stopped on an error.
    ReplicationBroken {
        /// Node.
        node: String,
        /// Error number and text.
        error: String,
    },
    /// It runs again.
    ReplicationRepaired(String),
    /// Lag went over the limit (or became unknown).
    LagOver(String),
    /// Lag back under the limit.
    LagUnder(String),
    /// The read-only fence switched a node's `read_only`.
    ReadOnlySet {
        /// Node.
        node: String,
        /// The new value.
        read_only: bool,
    },
    /// An operator put a node in maintenance (`drained`) or back.
    Maintenance {
        /// Node.
        node: String,
        /// In maintenance now.
        drained: bool,
    },
    /// An operator (or a reload) changed a node's weights.
    Weights {
        /// Node.
        node: String,
        /// Writer priority.
        weight: u32,
        /// Read share (`None`: the default even spread).
        read_weight: Option<u32>,
    },
    /// A reload added a node (checked from now on).
    NodeAdded(String),
    /// A reload removed a node (no longer checked or routed to).
    NodeRemoved(String),
    /// A new writer's auto_increment counters were raised before it took writes.
    Fenced {
        /// The new writer.
        node: String,
        /// Tables and counters.
        report: FenceReport,
    },
}

enum Msg {
    /// A check of a node, with when it started (to discard a `read_only` value read before
    /// Tandem itself last changed it).
    Checked(usize, Instant, Result<NodeStatus, CheckFailure>),
    Fenced(usize, Result<Takeover, String>),
    Closed(usize, Result<(), String>),
    Operate(Operation, oneshot::Sender<Result<(), OperatorError>>),
}

/// Handle to a running poller.
#[derive(Debug, Clone)]
pub struct Monitor {
    snapshot: Arc<ArcSwap<Snapshot>>,
    /// Per node: wakes its check loop for an immediate check.
    suspect: Suspects,
    events: broadcast::Sender<Event>,
    version: watch::Receiver<u64>,
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl Monitor {
    /// Starts the check tasks and the aggregator on the current tokio runtime.
    pub fn spawn(config: MonitorSettings) -> Monitor {
        let mut initial = Snapshot {
            nodes: config.nodes.iter().map(NodeSnapshot::unchecked).collect(),
            no_writer_reason: "not checked yet".into(),
            slowstart: config.health.slowstart,
            ..Snapshot::default()
        };
        initial.route(config.max_lag);
        let snapshot = Arc::new(ArcSwap::from_pointee(initial));
        let (events, _) = broadcast::channel(256);
        let (vtx, vrx) = watch::channel(0);
        let (tx, rx) = mpsc::channel(64);
        let (up_tx, up_rx) = watch::channel(vec![false; config.nodes.len()]);
        let wakers: Vec<Arc<tokio::sync::Notify>> = (config.nodes.iter())
            .map(|_| Arc::new(tokio::sync::Notify::new()))
            .collect();
        let loops = (config.nodes.iter().zip(&wakers).enumerate())
            .map(|(i, (node, waker))| {
                let task = tokio::spawn(check_loop(
                    i,
                    node.address.clone(),
                    config.clone(),
                    tx.clone(),
                    up_rx.clone(),
                    waker.clone(),
                ));
                Some(task.abort_handle())
            })
            .collect();
        let suspect: Suspects = Arc::new(std::sync::RwLock::new(wakers));
        let agg = Aggregator {
            loops,
            suspect: suspect.clone(),
            tx: tx.clone(),
            pending_fence: None,
            takeover_task: None,
            closing: (0..config.nodes.len()).map(|_| None).collect(),
            read_only_set_at: vec![None; config.nodes.len()],
            health: vec![Health::new(); config.nodes.len()],
            served: vec![false; config.nodes.len()],
            election: Election::new(config.election),
            config,
            snapshot: snapshot.clone(),
            events: events.clone(),
            version: vtx,
            up: up_tx,
        };
        tokio::spawn(agg.run(rx));
        Monitor {
            snapshot,
            suspect,
            events,
            version: vrx,
            tx,
        }
    }

    /// The latest snapshot (lock-free).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The shared snapshot cell, for readers that want `load()` guards.
    pub fn snapshot_cell(&self) -> Arc<ArcSwap<Snapshot>> {
        self.snapshot.clone()
    }

    /// Subscribes to events.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// A receiver that changes with every new snapshot (to wait for a writer).
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.version.clone()
    }

    /// A client of the node saw a hard failure (connection refused or reset): check it now
    /// instead of at the next interval. Rise/fall still decide; this only shortens detection.
    pub fn report_failure(&self, node: usize) {
        let wakers = self.suspect.read().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = wakers.get(node) {
            n.notify_one();
        }
    }

    /// Moves writes to `node` (switchover): the node must be up and writable and must have
    /// caught up with the current writer; the move is fenced like a failover.
    pub async fn set_writer(&self, node: &str) -> Result<(), OperatorError> {
        self.operate(Operation::SetWriter(node.to_owned())).await
    }

    /// Runs an operator's request. One that waits for a node to catch up with the writer is
    /// retried on each new check for up to [`CATCH_UP_WAIT`] before it is refused.
    pub async fn operate(&self, op: Operation) -> Result<(), OperatorError> {
        let deadline = tokio::time::Instant::now() + CATCH_UP_WAIT;
        let mut watch = self.watch();
        loop {
            let (tx, rx) = oneshot::channel();
            self.tx
                .send(Msg::Operate(op.clone(), tx))
                .await
                .map_err(|_| OperatorError::MonitorStopped)?;
            match rx.await.map_err(|_| OperatorError::MonitorStopped)? {
                Err(OperatorError::NotCaughtUp(n)) => {
                    let next = tokio::time::timeout_at(deadline, watch.changed()).await;
                    if !matches!(next, Ok(Ok(()))) {
                        return Err(OperatorError::NotCaughtUp(n));
                    }
                }
                other => return other,
            }
        }
    }
}

/// Per node: wakes its check loop for an immediate check (grows when a reload adds a node).
type Suspects = Arc<std::sync::RwLock<Vec<Arc<tokio::sync::Notify>>>>;

struct Aggregator {
    /// Per node: its check loop (stopped when the node is removed).
    loops: Vec<Option<tokio::task::AbortHandle>>,
    /// The check loops' wake-ups.
    suspect: Suspects,
    /// To send fence results to itself.
    tx: mpsc::Sender<Msg>,
    /// A new writer elected but not published until its fence completes, and whether its
    /// auto_increment counters are to be raised.
    pending_fence: Option<(usize, bool)>,
    /// The running takeover step (aborted when the election moves on).
    takeover_task: Option<tokio::task::AbortHandle>,
    /// Per node: a `read_only=ON` on its way (read-only fence, steady state).
    closing: Vec<Option<tokio::task::AbortHandle>>,
    /// Per node: when Tandem last sent it `SET GLOBAL read_only`.
    read_only_set_at: Vec<Option<Instant>>,
    config: MonitorSettings,
    health: Vec<Health>,
    /// Per node: it has served reads since Tandem started (a return is then a slow start).
    served: Vec<bool>,
    election: Election,
    snapshot: Arc<ArcSwap<Snapshot>>,
    events: broadcast::Sender<Event>,
    version: watch::Sender<u64>,
    up: watch::Sender<Vec<bool>>,
}

impl Aggregator {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Checked(i, started, result) => self.on_check(i, started, result),
                Msg::Fenced(i, result) => self.on_fenced(i, result),
                Msg::Closed(i, result) => self.on_closed(i, result),
                Msg::Operate(op, reply) => {
                    let _ = reply.send(self.on_operate(op));
                }
            }
        }
    }

    fn on_check(&mut self, i: usize, started: Instant, result: Result<NodeStatus, CheckFailure>) {
        let prev = self.snapshot.load_full();
        if prev.nodes.get(i).is_none_or(|n| n.removed) {
            return; // a check still under way when the node was removed
        }
        let result = match result {
            Err(f) if f.busy => {
                // Busy is not down: keep the node's state, say why the check did not count.
                let mut next = (*prev).clone();
                if let Some(node) = next.nodes.get_mut(i) {
                    node.last_error = Some(format!("busy: {}", f.message));
                }
                next.route(self.config.max_lag);
                self.snapshot.store(Arc::new(next));
                return;
            }
            other => other.map_err(|f| f.message),
        };
        // A check that began before Tandem last set this node's read_only may have read the old
        // value; keep the value Tandem set (the next check confirms it).
        let stale_flag = self
            .read_only_set_at
            .get(i)
            .copied()
            .flatten()
            .is_some_and(|at| started < at);
        let known_flag = prev
            .nodes
            .get(i)
            .and_then(|n| n.status.as_ref())
            .map(|s| s.read_only);
        let result = result.map(|mut st| {
            if let (true, Some(flag)) = (stale_flag, known_flag) {
                st.read_only = flag;
            }
            st
        });
        let mut next = (*prev).clone();
        let Some(node) = next.nodes.get_mut(i) else {
            return;
        };
        let Some(health) = self.health.get_mut(i) else {
            return;
        };
        let transition = health.record(result.is_ok(), &self.config.health);
        node.checked = Some(Check {
            at: SystemTime::now(),
            took: started.elapsed(),
            ok: result.is_ok(),
        });
        if transition.is_some() || node.state_since.is_none() {
            node.state_since = Some(SystemTime::now());
        }
        match result {
            Ok(status) => {
                node.last_error = None;
                node.status = Some(status);
            }
            Err(e) => node.last_error = Some(e),
        }
        node.up = health.is_up();
        match transition {
            Some(Transition::Up) => self.emit(Event::NodeUp(node.name.clone())),
            Some(Transition::Down) => self.emit(Event::NodeDown {
                node: node.name.clone(),
                reason: node.last_error.clone().unwrap_or_default(),
            }),
            None => {}
        }
        let was_prev = prev.nodes.get(i).cloned();
        self.update_replication(node, was_prev.as_ref());
        let was_readable = was_prev.as_ref().is_some_and(|p| p.readable);
        let served = self.served.get(i).copied().unwrap_or(false);
        if node.readable && !was_readable && served && !self.config.health.slowstart.is_zero() {
            node.warm_since = Some(Instant::now());
        }
        if node.readable {
            if let Some(s) = self.served.get_mut(i) {
                *s = true;
            }
        }
        next.complete = complete(&next.nodes, &self.health);
        let change = if next.complete {
            self.election.update(&candidates(&next.nodes))
        } else {
            None
        };
        self.publish_writer(&mut next, change);
        self.keep_others_closed();
    }

    fn update_replication(&self, node: &mut NodeSnapshot, prev: Option<&NodeSnapshot>) {
        let status = node.status.as_ref();
        node.lag = status.and_then(NodeStatus::replica_lag);
        let broken = status.is_some_and(NodeStatus::replication_broken);
        let lag_ok = node.lag.is_some_and(|l| l <= self.config.max_lag);
        node.readable = node.up && !broken && lag_ok;
        let was_broken = prev
            .and_then(|p| p.status.as_ref())
            .is_some_and(NodeStatus::replication_broken);
        if broken && !was_broken {
            let error = status
                .and_then(|s| {
                    s.channels
                        .iter()
                        .find(|c| !c.sql_running && c.last_sql_errno != 0)
                })
                .map(|c| format!("{}: {}", c.last_sql_errno, c.last_sql_error))
                .unwrap_or_default();
            self.emit(Event::ReplicationBroken {
                node: node.name.clone(),
                error,
            });
        } else if was_broken && !broken && node.up {
            self.emit(Event::ReplicationRepaired(node.name.clone()));
        }
        let was_lag_ok = prev.is_some_and(|p| p.lag.is_some_and(|l| l <= self.config.max_lag));
        if node.up && was_lag_ok && !lag_ok {
            self.emit(Event::LagOver(node.name.clone()));
        } else if node.up && !was_lag_ok && lag_ok && prev.is_some_and(|p| p.status.is_some()) {
            self.emit(Event::LagUnder(node.name.clone()));
        }
    }

    fn node_name(&self, node: usize) -> String {
        self.config
            .nodes
            .get(node)
            .map(|n| n.name.clone())
            .unwrap_or_default()
    }

    fn publish_writer(&mut self, next: &mut Snapshot, change: Option<WriterChange>) {
        let before = next.writer;
        let elected = self.election.writer();
        self.plan_fence(next, change.as_ref(), elected);
        next.writer = if self.pending_fence.is_some() {
            None
        } else {
            elected
        };
        next.no_writer_reason = match (next.writer, self.pending_fence) {
            (Some(_), _) => String::new(),
            (None, Some((w, _))) => {
                format!("fencing before {} takes the writes", self.node_name(w))
            }
            (None, None) if !next.complete => "not checked yet".into(),
            (None, None) => self.election.why_none(&candidates(&next.nodes)),
        };
        let change = match change {
            None if before != next.writer => Some(WriterChange::Returned),
            other => other,
        };
        if let Some(change) = change {
            self.announce(before, next, change);
        }
        next.version = next.version.wrapping_add(1);
        let version = next.version;
        let _ = self.up.send(next.nodes.iter().map(|n| n.up).collect());
        next.route(self.config.max_lag);
        self.snapshot.store(Arc::new(std::mem::take(next)));
        let _ = self.version.send(version);
    }

    /// Whether the elected writer must be prepared (fenced) before it takes the writes, and
    /// starting that step; an outdated step is stopped.
    fn plan_fence(
        &mut self,
        next: &mut Snapshot,
        change: Option<&WriterChange>,
        elected: Option<usize>,
    ) {
        if let Some(change) = change {
            // A node taking over from another one is fenced first; the first writer and a
            // returning writer are not (nobody else wrote meanwhile).
            let takeover = match change {
                WriterChange::Failover { .. } | WriterChange::Failback { .. } => true,
                WriterChange::Manual { from } => *from != elected,
                _ => false,
            };
            let ai = takeover && self.config.fence.enabled;
            match (self.pending_fence, elected) {
                // Already being prepared for the writes: keep that step, and its counter raise.
                (Some((p, pending_ai)), Some(w)) if p == w => {
                    if ai && !pending_ai {
                        self.spawn_fence(next, w, true, Duration::ZERO);
                    }
                    self.pending_fence = Some((w, ai || pending_ai));
                }
                (_, Some(w)) if self.needs_step(next, w, ai) => {
                    self.pending_fence = Some((w, ai));
                    self.spawn_fence(next, w, ai, Duration::ZERO);
                }
                _ => self.pending_fence = None,
            }
        }
        if self.pending_fence.is_some_and(|(p, _)| Some(p) != elected) {
            self.pending_fence = None;
        }
        if self.pending_fence.is_none() {
            // Nothing is being prepared: a step still running is outdated (or already done).
            if let Some(task) = self.takeover_task.take() {
                task.abort();
            }
        }
    }

    /// Logs and emits a writer change.
    fn announce(&self, before: Option<usize>, next: &Snapshot, change: WriterChange) {
        if let Some(n) = next.writer.and_then(|w| next.nodes.get(w)) {
            if n.status.as_ref().and_then(|s| s.semi_sync) == Some(false) {
                info!(
                    node = %n.name,
                    "the writer replicates asynchronously: a crash can lose commits its clients saw \
                     (the auto_increment fence keeps ids apart); semi-synchronous replication \
                     (rpl_semi_sync_master_enabled) closes that window"
                );
            }
        }
        let name = |i: Option<usize>| i.and_then(|i| next.nodes.get(i)).map(|n| n.name.clone());
        let reason = match &change {
            WriterChange::Lost { why, .. } => format!("writer lost: {why}"),
            _ if next.writer.is_none() && self.pending_fence.is_some() => {
                format!("{change:?}, {}", next.no_writer_reason)
            }
            WriterChange::Returned if before.is_none() && self.pending_fence.is_none() => {
                "fence complete".to_owned()
            }
            other => format!("{other:?}"),
        };
        self.emit(Event::WriterChanged {
            from: name(before),
            to: name(next.writer),
            reason,
        });
    }

    fn emit(&self, event: Event) {
        match &event {
            Event::NodeDown { node, reason } => warn!(node = %node, reason = %reason, "node down"),
            Event::ReplicationBroken { node, error } => {
                warn!(node = %node, error = %error, "replication broken")
            }
            Event::WriterChanged { from, to, reason } => {
                warn!(from = ?from, to = ?to, reason = %reason, "writer changed")
            }
            other => info!(event = ?other, "topology event"),
        }
        let _ = self.events.send(event);
    }
}

/// A removed node is never a candidate: down and drained to the election.
fn candidates(nodes: &[NodeSnapshot]) -> Vec<Candidate<'_>> {
    nodes
        .iter()
        .map(|n| Candidate {
            name: &n.name,
            address: &n.address,
            weight: n.weight,
            up: n.up && !n.removed,
            status: n.status.as_ref(),
            drained: n.drained || n.removed,
        })
        .collect()
}

/// Every node still configured has been checked at least once.
fn complete(nodes: &[NodeSnapshot], health: &[Health]) -> bool {
    nodes
        .iter()
        .zip(health)
        .all(|(n, h)| n.removed || h.is_known())
}
