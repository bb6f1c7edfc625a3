//! Causal reads across sessions (`read_your_writes = "global"`, the default): a read that starts
//! after Tandem acknowledged a write to *any* client sees that write.
//!
//! - **What was acknowledged.** Every backend connection tracks session state, so the OK packet
//!   of each commit carries its GTID (MariaDB's `last_gtid`). Before that OK is passed on to the
//!   client, [`Watermark::acknowledge`] raises the watermark: per replication domain, the latest
//!   GTID any client was told about, with a version number that grows on every raise.
//! - **What each node has applied.** One follower per node ([`follow`]) keeps a connection as
//!   the monitor user and, whenever the watermark is ahead of what the node is known to have,
//!   runs `MASTER_GTID_WAIT('<watermark>', 1)` there; when it returns 0 the node is known to
//!   cover that version. Under steady writes that is one round trip per catch-up per node,
//!   shared by all sessions, never one per read.
//! - **The read.** A reader serves a read only when its covered version has reached the
//!   watermark's version (two atomic loads); otherwise the read goes to the writer. Nothing waits.
//!
//! A write whose OK reports no GTID though it changed rows (binary log off, or a MySQL server,
//! which reports GTIDs differently) makes every reader ineligible for `blind_window` instead.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tandem_backend::{Conn, Login};
use tandem_protocol::SessionStateChange;
use tokio::sync::watch;
use tracing::debug;

/// How long all reads go to the writer after a write that reported no GTID.
pub const BLIND_WINDOW: Duration = Duration::from_secs(1);

/// The latest acknowledged write, and which nodes are known to have applied it.
#[derive(Debug)]
pub struct Watermark {
    /// Grows by one on every raise of `gtids`.
    version: AtomicU64,
    /// Domain → (server id, sequence number) of the latest acknowledged transaction.
    gtids: Mutex<BTreeMap<u32, (u32, u64)>>,
    /// Per node: the highest version it is known to have applied.
    covered: Vec<AtomicU64>,
    /// Reads go to the writer until this time (ms since `epoch`), after a blind write.
    blind_until: AtomicU64,
    epoch: Instant,
    /// Wakes the followers when the version grows.
    changed: watch::Sender<u64>,
}

impl Watermark {
    /// A watermark for up to `nodes` nodes (indexes below it; a reload may add nodes up to
    /// it), nothing acknowledged yet.
    pub fn new(nodes: usize) -> Watermark {
        Watermark {
            version: AtomicU64::new(0),
            gtids: Mutex::new(BTreeMap::new()),
            covered: (0..nodes).map(|_| AtomicU64::new(0)).collect(),
            blind_until: AtomicU64::new(0),
            epoch: Instant::now(),
            changed: watch::channel(0).0,
        }
    }

    /// Records the GTIDs a response reported (`last_gtid`), before the client sees the
    /// response. Returns whether it held one.
    pub fn acknowledge(&self, changes: &[SessionStateChange]) -> bool {
        let mut seen = false;
        for change in changes {
            if let SessionStateChange::SystemVariable { name, value } = change {
                if name.eq_ignore_ascii_case("last_gtid") && !value.is_empty() {
                    seen = true;
                    self.raise(value);
                }
            }
        }
        seen
    }

    fn raise(&self, gtid: &str) {
        let mut raised = false;
        let Ok(mut map) = self.gtids.lock() else {
            return;
        };
        for part in gtid.split(',') {
            let mut it = part.trim().splitn(3, '-');
            let parsed = (|| {
                let domain: u32 = it.next()?.parse().ok()?;
                let server: u32 = it.next()?.parse().ok()?;
                let seq: u64 = it.next()?.parse().ok()?;
                Some((domain, server, seq))
            })();
            let Some((domain, server, seq)) = parsed else {
                continue;
            };
            let entry = map.entry(domain).or_insert((server, 0));
            if seq > entry.1 {
                *entry = (server, seq);
                raised = true;
            }
        }
        if raised {
            let v = self.version.fetch_add(1, Ordering::AcqRel) + 1;
            drop(map);
            self.changed.send_replace(v);
        }
    }

    /// A write changed rows but reported no GTID: reads go to the writer for a while.
    pub fn blind_write(&self) {
        let until = self.now_ms() + BLIND_WINDOW.as_millis() as u64;
        self.blind_until.fetch_max(until, Ordering::AcqRel);
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How many nodes it can follow.
    pub fn capacity(&self) -> usize {
        self.covered.len()
    }

    /// A node (re)added at index `node` is not known to have applied anything.
    pub fn forget(&self, node: usize) {
        if let Some(c) = self.covered.get(node) {
            c.store(0, Ordering::Release);
        }
    }

    /// Whether `node` is known to have applied every acknowledged write.
    pub fn covers(&self, node: usize) -> bool {
        let version = self.version.load(Ordering::Acquire);
        let covered = self
            .covered
            .get(node)
            .is_some_and(|c| c.load(Ordering::Acquire) >= version);
        covered && self.blind_until.load(Ordering::Acquire) <= self.now_ms()
    }

    /// The current version and its position text (`0-1-42,1-2-7`).
    fn snapshot(&self) -> (u64, String) {
        let Ok(map) = self.gtids.lock() else {
            return (0, String::new());
        };
        let version = self.version.load(Ordering::Acquire);
        let text = map
            .iter()
            .map(|(d, (s, n))| format!("{d}-{s}-{n}"))
            .collect::<Vec<_>>()
            .join(",");
        (version, text)
    }

    fn mark_covered(&self, node: usize, version: u64) {
        if let Some(c) = self.covered.get(node) {
            c.fetch_max(version, Ordering::AcqRel);
        }
    }
}

/// Keeps `watermark`'s view of what `node` (at `address`) has applied current, as the monitor
/// user; runs until the task is dropped.
pub async fn follow(
    watermark: std::sync::Arc<Watermark>,
    node: usize,
    address: String,
    tls: tandem_backend::ClientTls,
    user: String,
    password: String,
    timeout: Duration,
) {
    let mut changes = watermark.changed.subscribe();
    let mut conn: Option<Conn> = None;
    loop {
        let (version, text) = watermark.snapshot();
        let behind = watermark
            .covered
            .get(node)
            .is_some_and(|c| c.load(Ordering::Acquire) < version);
        if !behind || text.is_empty() {
            if changes.changed().await.is_err() {
                return;
            }
            continue;
        }
        if conn.is_none() {
            let login = Login::monitor(&user, &password).with_tls(Some(&tls));
            match Conn::connect(&address, login, timeout).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    debug!(node, error = %e, "causal follower cannot connect");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let sql = format!("SELECT MASTER_GTID_WAIT('{text}', 1)");
        match c.query(&sql).await {
            Ok(r) => {
                let reached = r
                    .rows
                    .first()
                    .and_then(|row| row.first())
                    .is_some_and(|v| v.as_deref() == Some("0"));
                debug!(node, version, position = %text, reached, "causal follower");
                if reached {
                    watermark.mark_covered(node, version);
                }
            }
            Err(e) => {
                debug!(node, error = %e, "causal follower query failed");
                conn = None;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gtid(v: &str) -> SessionStateChange {
        SessionStateChange::SystemVariable {
            name: "last_gtid".into(),
            value: v.into(),
        }
    }

    #[test]
    fn the_watermark_rises_and_nodes_cover_it() {
        let w = Watermark::new(2);
        assert!(w.covers(1), "nothing acknowledged yet");
        assert!(w.acknowledge(&[gtid("0-1-5")]));
        assert!(!w.covers(1));
        let (v, text) = w.snapshot();
        assert_eq!(text, "0-1-5");
        w.mark_covered(1, v);
        assert!(w.covers(1));
        // An older GTID does not raise it; another domain does.
        w.acknowledge(&[gtid("0-1-4")]);
        assert!(w.covers(1));
        w.acknowledge(&[gtid("1-2-1")]);
        assert_eq!(w.snapshot().1, "0-1-5,1-2-1");
        assert!(!w.covers(1));
        assert!(!w.acknowledge(&[SessionStateChange::Schema("x".into())]));
        w.mark_covered(1, w.snapshot().0);
        w.blind_write();
        assert!(!w.covers(1), "a blind write holds reads on the writer");
    }
}
