//! What the monitor publishes: one immutable [`Snapshot`] per change, holding the nodes as checked
//! and the router's plain-data [`Topology`] derived from them in the same step. The proxy's
//! sessions route by `snapshot.topology` and read nothing else, so the view that woke a session
//! (the monitor's change notification) is the view it routes by.

use std::time::{Duration, SystemTime};

use tandem_router::{Dialect, Node, Topology};

use crate::status::NodeStatus;

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
    /// In maintenance (an operator's drain): no new reads, never the writer.
    pub drained: bool,
    /// The latest check that counted (busy answers do not).
    pub checked: Option<Check>,
    /// When the node last went up or down (its first check counts as a change).
    pub state_since: Option<SystemTime>,
}

/// One health check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// When it finished.
    pub at: SystemTime,
    /// Login and queries, end to end.
    pub took: Duration,
    /// It passed.
    pub ok: bool,
}

/// An immutable view of the topology.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The routing view of these nodes (only the elected writer is writable in it), derived by
    /// [`Snapshot::route`] before every publication.
    pub topology: Topology,
    /// How the nodes read SQL: their common version, unknown when they differ.
    pub dialect: Dialect,
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

impl Snapshot {
    /// Derives [`Snapshot::topology`] and [`Snapshot::dialect`] from the nodes and the writer.
    /// Readers lagging more than `max_lag` are skipped by the router.
    pub fn route(&mut self, max_lag: Duration) {
        let writer = self.writer;
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let is_writer = writer == Some(i);
                Node {
                    name: n.name.clone(),
                    weight: n.weight,
                    read_weight: n.read_weight,
                    up: n.up,
                    writable: is_writer,
                    eligible_writer: is_writer,
                    readable: (n.readable && !n.drained) || is_writer,
                    lag: if is_writer { None } else { n.lag },
                    gtid: None,
                }
            })
            .collect();
        self.topology = Topology {
            nodes,
            max_lag: Some(max_lag),
        };
        self.dialect = Dialect::common(
            self.nodes
                .iter()
                .filter_map(|n| n.status.as_ref())
                .map(|s| Dialect::from_server_version(&s.version)),
        );
    }

    /// The writer's index (the same as `topology.writer()`).
    pub fn writer(&self) -> Option<usize> {
        self.writer
    }
}
