//! The poller: one task per node runs checks on HAProxy's cadence and sends results to one
//! aggregator task, which applies rise/fall, re-runs the writer election and publishes an
//! immutable [`Snapshot`] through `arc-swap` (read lock-free per statement by the proxy), plus
//! [`Event`]s on a broadcast channel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{info, warn};

use crate::conn::{Conn, ConnError, Login};
use crate::election::{Candidate, Election, ElectionSettings, WriterChange};
use crate::fence::{fence, set_read_only, FenceReport, FenceSettings};
use crate::health::{Health, HealthSettings, Transition};
use crate::status::{self, Flavor, NodeStatus};

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
}

/// Poller settings.
#[derive(Clone)]
pub struct MonitorConfig {
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

impl std::fmt::Debug for MonitorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorConfig")
            .field("nodes", &self.nodes)
            .field("user", &self.user)
            .field("health", &self.health)
            .field("election", &self.election)
            .field("max_lag", &self.max_lag)
            .finish_non_exhaustive()
    }
}

/// One node in a snapshot.
#[derive(Debug, Clone)]
pub struct NodeSnapshot {
    /// Name.
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// Writer priority.
    pub weight: u32,
    /// Read share.
    pub read_weight: Option<u32>,
    /// Up after rise/fall.
    pub up: bool,
    /// Latest status from a successful check.
    pub status: Option<NodeStatus>,
    /// Why the latest check failed (no credentials in it).
    pub last_error: Option<String>,
    /// Replica lag; `None` = unknown.
    pub lag: Option<Duration>,
    /// May serve reads: up, replication not broken, lag known and within the limit.
    pub readable: bool,
}

/// An immutable view of the topology.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Increases with every publication.
    pub version: u64,
    /// All nodes, in configuration order.
    pub nodes: Vec<NodeSnapshot>,
    /// Index of the node taking writes, if any.
    pub writer: Option<usize>,
    /// Why there is no writer (empty when there is one).
    pub no_writer_reason: String,
    /// Every node has been checked at least once.
    pub complete: bool,
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
    Checked(usize, Instant, Result<NodeStatus, String>),
    Fenced(usize, Result<Takeover, String>),
    Closed(usize, Result<(), String>),
    SetWriter(String, oneshot::Sender<Result<(), String>>),
}

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
struct Takeover {
    plan: Plan,
    report: FenceReport,
}

/// Handle to a running poller.
#[derive(Debug, Clone)]
pub struct Monitor {
    snapshot: Arc<ArcSwap<Snapshot>>,
    /// Per node: wakes its check loop for an immediate check.
    suspect: Arc<Vec<tokio::sync::Notify>>,
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
    pub fn spawn(config: MonitorConfig) -> Monitor {
        let initial = Snapshot {
            nodes: config
                .nodes
                .iter()
                .map(|n| NodeSnapshot {
                    name: n.name.clone(),
                    address: n.address.clone(),
                    weight: n.weight,
                    read_weight: n.read_weight,
                    up: false,
                    status: None,
                    last_error: None,
                    lag: None,
                    readable: false,
                })
                .collect(),
            no_writer_reason: "not checked yet".into(),
            ..Snapshot::default()
        };
        let snapshot = Arc::new(ArcSwap::from_pointee(initial));
        let (events, _) = broadcast::channel(256);
        let (vtx, vrx) = watch::channel(0);
        let (tx, rx) = mpsc::channel(64);
        let (up_tx, up_rx) = watch::channel(vec![false; config.nodes.len()]);
        let suspect: Arc<Vec<tokio::sync::Notify>> = Arc::new(
            config
                .nodes
                .iter()
                .map(|_| tokio::sync::Notify::new())
                .collect(),
        );
        for (i, node) in config.nodes.iter().enumerate() {
            tokio::spawn(check_loop(
                i,
                node.address.clone(),
                config.clone(),
                tx.clone(),
                up_rx.clone(),
                suspect.clone(),
            ));
        }
        let agg = Aggregator {
            tx: tx.clone(),
            pending_fence: None,
            takeover_task: None,
            closing: (0..config.nodes.len()).map(|_| None).collect(),
            read_only_set_at: vec![None; config.nodes.len()],
            health: vec![Health::new(); config.nodes.len()],
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
        if let Some(n) = self.suspect.get(node) {
            n.notify_one();
        }
    }

    /// Moves writes to `node` (admin command; the node must be up and writable).
    pub async fn set_writer(&self, node: &str) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::SetWriter(node.to_owned(), tx))
            .await
            .map_err(|_| "monitor stopped".to_owned())?;
        rx.await.map_err(|_| "monitor stopped".to_owned())?
    }
}

async fn check_loop(
    idx: usize,
    address: String,
    config: MonitorConfig,
    tx: mpsc::Sender<Msg>,
    up: watch::Receiver<Vec<bool>>,
    suspect: Arc<Vec<tokio::sync::Notify>>,
) {
    loop {
        let started = Instant::now();
        let result = check(&address, &config).await;
        if tx.send(Msg::Checked(idx, started, result)).await.is_err() {
            return;
        }
        let is_up = up.borrow().get(idx).copied().unwrap_or(false);
        let wait = if is_up {
            config.health.inter
        } else {
            config.health.downinter
        };
        let woken = async {
            match suspect.get(idx) {
                Some(n) => n.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = woken => {}
        }
    }
}

/// One check: a real login as the monitor user plus the status queries, within `timeout`.
pub async fn check(address: &str, config: &MonitorConfig) -> Result<NodeStatus, String> {
    let work = async {
        let login = Login::monitor(&config.user, &config.password);
        let mut conn = Conn::connect(address, login, config.health.timeout).await?;
        let flavor = Flavor::detect(&conn.server_version);
        let vars_sql = match flavor {
            Flavor::MariaDb => status::VARIABLES_QUERY_MARIADB,
            Flavor::MySql => status::VARIABLES_QUERY_MYSQL,
        };
        let vars = conn.query(vars_sql).await?.maps();
        let vars = vars.into_iter().next().unwrap_or_default();
        let version = vars
            .get("version")
            .cloned()
            .flatten()
            .unwrap_or_else(|| conn.server_version.clone());
        let replica = conn
            .query(status::replica_status_query(flavor, &version))
            .await?
            .maps();
        NodeStatus::parse(&vars, &replica).map_err(|e| ConnError::Login(e.to_string()))
    };
    match tokio::time::timeout(config.health.timeout, work).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("check timed out after {:?}", config.health.timeout)),
    }
}

struct Aggregator {
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
    config: MonitorConfig,
    health: Vec<Health>,
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
                Msg::SetWriter(name, reply) => {
                    let _ = reply.send(self.on_set_writer(&name));
                }
            }
        }
    }

    fn on_set_writer(&mut self, name: &str) -> Result<(), String> {
        let prev = self.snapshot.load_full();
        let idx = prev
            .nodes
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| format!("no backend named `{name}`"))?;
        let cands = candidates(&prev.nodes);
        let change = self.election.set_writer(idx, &cands)?;
        let mut next = (*prev).clone();
        self.publish_writer(&mut next, Some(change));
        Ok(())
    }

    fn on_check(&mut self, i: usize, started: Instant, result: Result<NodeStatus, String>) {
        let prev = self.snapshot.load_full();
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
        next.complete = self.health.iter().all(Health::is_known);
        let change = if next.complete {
            self.election.update(&candidates(&next.nodes))
        } else {
            None
        };
        self.publish_writer(&mut next, change);
        self.keep_others_closed();
    }

    /// Read-only fence, steady state: any node but the published writer found writable is set
    /// read-only again (a restarted old writer, or an operator's mistake).
    fn keep_others_closed(&mut self) {
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
                let result = set_read_only(
                    &address,
                    &cfg.user,
                    &cfg.password,
                    true,
                    fence_timeout(&cfg),
                )
                .await
                .map_err(|e| e.to_string());
                let _ = tx.send(Msg::Closed(i, result)).await;
            });
            self.closing[i] = Some(task.abort_handle());
        }
    }

    fn on_closed(&mut self, node: usize, result: Result<(), String>) {
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

    fn on_fenced(&mut self, node: usize, result: Result<Takeover, String>) {
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

    fn node_name(&self, node: usize) -> String {
        self.config
            .nodes
            .get(node)
            .map(|n| n.name.clone())
            .unwrap_or_default()
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
    fn spawn_fence(&mut self, snap: &Snapshot, node: usize, auto_increment: bool, delay: Duration) {
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
    fn needs_step(&self, snap: &Snapshot, node: usize, auto_increment: bool) -> bool {
        let plan = self.plan(snap, node, auto_increment);
        plan.auto_increment || plan.open || !plan.close.is_empty()
    }

    fn publish_writer(&mut self, next: &mut Snapshot, change: Option<WriterChange>) {
        let before = next.writer;
        let elected = self.election.writer();
        if let Some(change) = &change {
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
        next.version = next.version.wrapping_add(1);
        let version = next.version;
        let _ = self.up.send(next.nodes.iter().map(|n| n.up).collect());
        self.snapshot.store(Arc::new(std::mem::take(next)));
        let _ = self.version.send(version);
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

/// Runs a [`Plan`]: close the others, raise counters, open the new writer — in that order, so
/// two nodes are never writable at once.
async fn take_over(address: &str, cfg: &MonitorConfig, plan: Plan) -> Result<Takeover, String> {
    let timeout = fence_timeout(cfg);
    for (_, other) in &plan.close {
        set_read_only(other, &cfg.user, &cfg.password, true, timeout)
            .await
            .map_err(|e| format!("read_only=ON on {other}: {e}"))?;
    }
    let report = if plan.auto_increment {
        fence(address, &cfg.user, &cfg.password, &cfg.fence, timeout)
            .await
            .map_err(|e| format!("auto_increment fence: {e}"))?
    } else {
        FenceReport::default()
    };
    if plan.open {
        set_read_only(address, &cfg.user, &cfg.password, false, timeout)
            .await
            .map_err(|e| format!("read_only=OFF: {e}"))?;
    }
    Ok(Takeover { plan, report })
}

fn fence_timeout(cfg: &MonitorConfig) -> Duration {
    cfg.health.timeout.max(Duration::from_secs(5))
}

/// Records a `read_only` value Tandem just set (the next check will confirm it).
fn mark_read_only(snap: &mut Snapshot, node: usize, value: bool) {
    if let Some(s) = snap.nodes.get_mut(node).and_then(|n| n.status.as_mut()) {
        s.read_only = value;
    }
}

fn candidates(nodes: &[NodeSnapshot]) -> Vec<Candidate<'_>> {
    nodes
        .iter()
        .map(|n| Candidate {
            name: &n.name,
            address: &n.address,
            weight: n.weight,
            up: n.up,
            status: n.status.as_ref(),
        })
        .collect()
}
