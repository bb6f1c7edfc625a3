//! What the monitor publishes: one immutable [`Snapshot`] per change, holding the nodes as checked
//! and the router's plain-data [`Topology`] derived from them in the same step. The proxy's
//! sessions route by `snapshot.topology` and read nothing else, so the view that woke a session
//! (the monitor's change notification) is the view it routes by.

use std::time::{Duration, Instant, SystemTime};

use tandem_router::{Dialect, Node, Topology, DEFAULT_READ_WEIGHT};

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
    /// Removed from the configuration by a reload: no longer checked, never routed to. It
    /// keeps its index (indexes never move); a node added again under its name takes it back.
    pub removed: bool,
    /// The latest check that counted (busy answers do not).
    pub checked: Option<Check>,
    /// When the node last went up or down (its first check counts as a change).
    pub state_since: Option<SystemTime>,
    /// When it came back into the read pool, while `[health] slowstart` ramps it up.
    pub warm_since: Option<Instant>,
    /// Its share during the ramp, as a fraction of the full one (set by
    /// [`Snapshot::route`]); `None` outside a ramp.
    pub warmth: Option<f64>,
}

/// The least share a warming node gets (HAProxy starts a slow start near 5% too).
const WARMTH_FLOOR: f64 = 0.05;

impl NodeSnapshot {
    /// A configured node before its first check: down, not readable.
    pub fn unchecked(node: &crate::poller::NodeConfig) -> NodeSnapshot {
        NodeSnapshot {
            name: node.name.clone(),
            address: node.address.clone(),
            weight: node.weight,
            read_weight: node.read_weight,
            up: false,
            status: None,
            last_error: None,
            lag: None,
            readable: false,
            drained: false,
            removed: false,
            checked: None,
            state_since: None,
            warm_since: None,
            warmth: None,
        }
    }

    /// The fraction of its full share a node coming back gets, `slowstart` after `since`: a
    /// linear ramp from [`WARMTH_FLOOR`]; `None` once the ramp is over.
    pub fn warmth_at(&self, slowstart: Duration, now: Instant) -> Option<f64> {
        let since = self.warm_since?;
        let done = now.saturating_duration_since(since).as_secs_f64();
        let total = slowstart.as_secs_f64();
        (done < total).then(|| (done / total).max(WARMTH_FLOOR))
    }
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
    /// `[health] slowstart` (nodes coming back ramp up over it).
    pub slowstart: Duration,
}

impl Snapshot {
    /// Derives [`Snapshot::topology`] and [`Snapshot::dialect`] from the nodes and the writer.
    /// Readers lagging more than `max_lag` are skipped by the router.
    /// A reader in its slow start gets a part of its read share (at least 1); the writer
    /// takes every write at once, so it has none. A ramp ends here once its time is up.
    pub fn route(&mut self, max_lag: Duration) {
        let writer = self.writer;
        let now = Instant::now();
        for (i, n) in self.nodes.iter_mut().enumerate() {
            let warmth = n.warmth_at(self.slowstart, now);
            if warmth.is_none() {
                n.warm_since = None;
            }
            n.warmth = warmth.filter(|_| writer != Some(i));
        }
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let is_writer = writer == Some(i);
                let read_weight = match n.warmth {
                    Some(w) => {
                        let full = f64::from(n.read_weight.unwrap_or(DEFAULT_READ_WEIGHT));
                        Some(((full * w) as u32).max(1).min(full as u32))
                    }
                    _ => n.read_weight,
                };
                Node {
                    name: n.name.clone(),
                    weight: n.weight,
                    read_weight,
                    up: n.up && !n.removed,
                    writable: is_writer,
                    eligible_writer: is_writer,
                    readable: (n.readable && !n.drained && !n.removed) || is_writer,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, read_weight: Option<u32>) -> NodeSnapshot {
        let config = crate::poller::NodeConfig {
            name: name.into(),
            address: String::new(),
            weight: 1,
            read_weight,
            tls: tandem_backend::ClientTls::disabled(),
        };
        NodeSnapshot {
            up: true,
            lag: Some(Duration::ZERO),
            readable: true,
            ..NodeSnapshot::unchecked(&config)
        }
    }

    #[test]
    fn slow_start_ramps_a_returning_readers_share_and_ends() {
        let slow = Duration::from_secs(100);
        let mut s = Snapshot {
            nodes: vec![node("cn1", None), node("cn2", None), node("cn3", Some(0))],
            writer: Some(0),
            slowstart: slow,
            ..Snapshot::default()
        };
        let now = Instant::now();
        s.nodes[1].warm_since = now.checked_sub(Duration::from_secs(25));
        s.nodes[2].warm_since = now.checked_sub(Duration::from_secs(25));
        s.route(Duration::from_secs(5));
        let share = s.topology.nodes[1].read_weight.unwrap();
        assert!((24..=27).contains(&share), "a quarter of 100, got {share}");
        assert!(s.nodes[1].warmth.is_some_and(|w| (0.24..0.27).contains(&w)));
        // No reads stays no reads.
        assert_eq!(s.topology.nodes[2].read_weight, Some(0));
        // The writer is never held back.
        s.nodes[0].warm_since = Some(now);
        s.route(Duration::from_secs(5));
        assert_eq!(s.nodes[0].warmth, None);
        assert_eq!(s.topology.nodes[0].read_weight, None);
        // Just back: the floor, not zero.
        s.nodes[1].warm_since = Some(Instant::now());
        s.route(Duration::from_secs(5));
        assert_eq!(s.topology.nodes[1].read_weight, Some(5));
        // Over: the full share, and the ramp is forgotten.
        s.nodes[1].warm_since = now.checked_sub(slow);
        s.route(Duration::from_secs(5));
        assert_eq!(s.topology.nodes[1].read_weight, None);
        assert_eq!(s.nodes[1].warm_since, None);
        assert_eq!(s.nodes[1].warmth, None);
    }
}
