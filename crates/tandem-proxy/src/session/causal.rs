//! Causal reads. `read_your_writes = "global"` (the default) is answered by the shared
//! [`Watermark`](crate::causal::Watermark): a reader that has applied every acknowledged write.
//!
//! `read_your_writes = "session"` (MariaDB): after a session writes, Tandem asks the
//! writer connection that did it for `@@last_gtid` (once, at the session's next read), and lets a
//! replica serve the session's reads only when it has applied that GTID — known from the poller's
//! last `gtid_current_pos`, or else checked with a zero-timeout `MASTER_GTID_WAIT(gtid, 0)` on the
//! replica. Otherwise the read goes to the writer. Nothing waits: a replica either has the write
//! or is skipped.

use tandem_backend::ConnError;
use tandem_monitor::GtidPosition;
use tracing::debug;

use super::Session;
use crate::config::ReadYourWrites;

/// Per-session causal-read state.
#[derive(Debug, Default)]
pub(super) struct Causal {
    /// A write completed since `gtid` was read.
    dirty: bool,
    /// The GTID the last response reported (session tracking, `last_gtid`): the session's
    /// write, known without asking the server again.
    pub(super) reported: Option<String>,
    /// The session's last write (`None`: nothing to wait for).
    gtid: Option<(String, GtidPosition)>,
    /// Nodes known to have applied `gtid` (bit per node index).
    seen: u64,
    /// The node whose connection ran the session's last write.
    write_node: Option<usize>,
    /// The server refused `@@last_gtid` (not MariaDB): after a write, reads go to the writer.
    unsupported: bool,
}

fn bit(node: usize) -> u64 {
    1u64.checked_shl(u32::try_from(node).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

impl Session {
    fn causal_mode(&self) -> bool {
        self.shared.config.routing.read_your_writes == ReadYourWrites::Session
    }

    /// A statement that changed data completed: the session's next read must see it.
    pub(super) fn note_write(&mut self, node: usize) {
        if self.causal_mode() {
            self.causal.dirty = true;
            self.causal.seen = 0;
            self.causal.write_node = Some(node);
        }
    }

    /// Whether `reader` may serve the session's next read (`false`: send it to the writer).
    pub(super) async fn causal_ok(&mut self, reader: usize) -> bool {
        if self.shared.config.routing.read_your_writes == ReadYourWrites::Global {
            let writer = self.shared.topology.load().writer();
            let ok = writer.is_none_or(|w| w == reader) || self.shared.causal.covers(reader);
            if !ok {
                self.shared
                    .stats
                    .causal_to_writer
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            return ok;
        }
        if !self.causal_mode() {
            return true;
        }
        let view = self.shared.topology.load_full();
        let Some(writer) = view.writer() else {
            return true; // no writer to read from either; the reader is the best there is
        };
        if reader == writer {
            return true;
        }
        if self.causal.dirty {
            if self.causal.unsupported {
                return false;
            }
            let Some(node) = self.causal.write_node else {
                return false;
            };
            // The write's own OK reported its GTID (session tracking); ask only when not.
            let reported = self.causal.reported.take().and_then(|text| {
                let pos = GtidPosition::parse_mariadb(&text)?;
                Some(Some((text, pos)))
            });
            let known = match reported {
                Some(g) => Some(g),
                None => self.last_gtid(node).await,
            };
            match known {
                Some(g) => {
                    self.causal.gtid = g;
                    self.causal.dirty = false;
                    self.causal.seen = 0;
                }
                None => return false,
            }
        }
        let Some((text, pos)) = self.causal.gtid.clone() else {
            return true;
        };
        if self.causal.seen & bit(reader) != 0 {
            return true;
        }
        let polled = view
            .nodes
            .get(reader)
            .and_then(|n| n.status.as_ref())
            .and_then(|s| s.gtid_current.as_ref())
            .is_some_and(|cur| cur.covers(&pos));
        let applied = polled || self.gtid_applied(reader, &text).await;
        if applied {
            self.causal.seen |= bit(reader);
        }
        debug!(session = self.id, reader, gtid = %text, applied, polled, "causal read check");
        applied
    }

    /// `@@last_gtid` on the connection that ran the session's last write. `Some(None)`: no
    /// GTID to wait for; `None`: unknown (the connection is gone, or the query failed).
    async fn last_gtid(&mut self, node: usize) -> Option<Option<(String, GtidPosition)>> {
        let mut b = self.backends.get_mut(node).and_then(Option::take)?;
        match b.conn.query("SELECT @@last_gtid").await {
            Ok(r) => {
                self.put_back(node, b);
                let text = r.rows.first()?.first()?.clone().unwrap_or_default();
                let text = text.trim().to_owned();
                if text.is_empty() {
                    return Some(None);
                }
                let pos = GtidPosition::parse_mariadb(&text)?;
                Some(Some((text, pos)))
            }
            Err(ConnError::Server(_)) => {
                self.put_back(node, b);
                self.causal.unsupported = true;
                None
            }
            Err(_) => {
                drop(b);
                self.lost_backend(node);
                None
            }
        }
    }

    /// `MASTER_GTID_WAIT(gtid, 0)` on the session's connection to `reader`: 0 = applied.
    async fn gtid_applied(&mut self, reader: usize, gtid: &str) -> bool {
        let Ok(mut b) = self.backend(reader).await else {
            return false;
        };
        let sql = format!("SELECT MASTER_GTID_WAIT('{}', 0)", gtid.replace('\'', ""));
        match b.conn.query(&sql).await {
            Ok(r) => {
                self.put_back(reader, b);
                r.rows
                    .first()
                    .and_then(|row| row.first())
                    .is_some_and(|v| v.as_deref() == Some("0"))
            }
            Err(ConnError::Server(_)) => {
                self.put_back(reader, b);
                false
            }
            Err(_) => {
                drop(b);
                self.lost_backend(reader);
                false
            }
        }
    }
}
