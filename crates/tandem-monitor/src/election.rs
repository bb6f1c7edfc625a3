//! Who takes the writes. The writer is sticky: it keeps the role while it is up and writable,
//! even when a higher-weight node comes back (failback is manual unless configured `auto`). When the
//! writer is lost, the next node by weight takes over only once it has applied everything it got
//! from the old writer (`failover = safe`): its relay log is drained and its GTID position covers
//! the old writer's last known one. Until then there is no writer and writes are held, then refused
//! — a write is never sent to a master that could hand out an auto_increment value twice.
//!
//! Two more guards, both borrowed from MariaDB MaxScale's monitor:
//! - **Failure verification** (`verify_failure`, MaxScale's `verify_master_failure`): a writer
//!   that *this* proxy cannot reach is only treated as dead once the candidate's own replication
//!   from it has lost it too (its IO thread is no longer running). A partition between the proxy
//!   and a live writer therefore never promotes a second master.
//! - **Read-only fence** (`fence = read_only`): the `read_only` flags become the shared truth.
//!   Every node but the writer is kept `read_only=ON`; a takeover opens the new writer last, after
//!   the others are closed. Proxies that share the nodes follow the flags: one that sees another
//!   node switch from read-only to writable adopts it, because only a takeover does that.

use std::time::{Duration, Instant};

use crate::status::{IoState, NodeStatus};

/// What to do when the writer is lost (`failover = "safe" | "off"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failover {
    /// Promote the next node by weight once it has caught up.
    #[default]
    Safe,
    /// Never promote another node; writes wait for the writer to return.
    Off,
}

/// What to do when a higher-weight node returns while another one writes
/// (`failback = "manual" | "auto"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failback {
    /// It comes back as a reader; an operator moves writes back.
    #[default]
    Manual,
    /// It takes the writes back once caught up with the current writer.
    Auto,
}

impl std::fmt::Display for Failover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Failover::Safe => "safe",
            Failover::Off => "off",
        })
    }
}

impl std::fmt::Display for Failback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Failback::Manual => "manual",
            Failback::Auto => "auto",
        })
    }
}

/// Why an operator's request (switchover, drain, weights) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    /// The node has not applied everything the current writer has (GTIDs and relay log): moving
    /// the writes now could hand out an auto_increment value twice. Retry when it has.
    #[error("{0} has not caught up with the writer yet")]
    NotCaughtUp(String),
    /// Draining the writer needs another node to take the writes.
    #[error("no other node can take the writes from {0}")]
    NoOtherWriter(String),
    /// No node has that name.
    #[error("no backend named `{0}`")]
    NoSuchNode(String),
    /// The node is down or read-only (and the read-only fence is off, so Tandem will not open it).
    #[error("{0} is not up and writable")]
    NotWritable(String),
    /// The node is down.
    #[error("{0} is not up")]
    NotUp(String),
    /// The monitor has stopped.
    #[error("the monitor has stopped")]
    MonitorStopped,
    /// Removing the node that takes the writes: move them first.
    #[error("{0} takes the writes: move them to another node before removing it")]
    RemoveWriter(String),
    /// Adding a node whose name is taken.
    #[error("a backend named `{0}` exists already")]
    NodeExists(String),
}

/// Election settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElectionSettings {
    /// Failover policy.
    pub failover: Failover,
    /// Failback policy.
    pub failback: Failback,
    /// Keep every node but the writer `read_only=ON` and follow the flags (see the module docs).
    pub read_only_fence: bool,
    /// Promote past an unreachable writer only once the candidate's replication lost it too.
    pub verify_failure: bool,
    /// Stop waiting for a candidate to catch up after this long (`None`: wait for ever); writes
    /// then stay refused until the old writer returns or an operator sets the writer.
    pub catch_up_timeout: Option<Duration>,
}

impl Default for ElectionSettings {
    fn default() -> Self {
        ElectionSettings {
            failover: Failover::Safe,
            failback: Failback::Manual,
            read_only_fence: false,
            verify_failure: true,
            catch_up_timeout: Some(Duration::from_secs(60)),
        }
    }
}

/// What the election looks at for one node.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Node name (ties in weight are broken by name).
    pub name: &'a str,
    /// `host:port`, to find a candidate's replication channel from the lost writer.
    pub address: &'a str,
    /// Writer priority.
    pub weight: u32,
    /// Health state (after rise/fall).
    pub up: bool,
    /// Latest status from a successful check.
    pub status: Option<&'a NodeStatus>,
    /// Put in maintenance by an operator: never chosen as the writer.
    pub drained: bool,
}

impl Candidate<'_> {
    fn writable(&self) -> bool {
        self.up && !self.drained && self.status.is_some_and(|s| !s.read_only)
    }

    /// May take the writes: writable, or — with the read-only fence — up and ours to open.
    fn eligible(&self, read_only_fence: bool) -> bool {
        if read_only_fence {
            self.up && !self.drained && self.status.is_some()
        } else {
            self.writable()
        }
    }

    /// Its replication from `source` no longer receives anything: the channel from that address
    /// (every channel when none matches, e.g. a host name against an IP) has its IO thread
    /// reconnecting or stopped. A node with no channel cannot tell, which counts as lost.
    fn lost_sight_of(&self, source: &str) -> bool {
        let Some(s) = self.status else {
            return false;
        };
        let from: Vec<_> = s.channels.iter().filter(|c| c.source == source).collect();
        let chans = if from.is_empty() {
            s.channels.iter().collect()
        } else {
            from
        };
        chans.iter().all(|c| c.io != IoState::Running)
    }
}

/// Why the writer changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriterChange {
    /// First writer chosen.
    Initial,
    /// The writer was lost and this node caught up with it.
    Failover {
        /// The lost writer.
        from: usize,
    },
    /// The writer was lost and no node qualifies yet.
    Lost {
        /// The lost writer.
        from: usize,
        /// Why no other node took over.
        why: String,
    },
    /// The lost writer came back before anyone took over.
    Returned,
    /// A higher-weight node took the writes back (failback = auto).
    Failback {
        /// The previous writer.
        from: usize,
    },
    /// An operator moved the writes.
    Manual {
        /// The previous writer.
        from: Option<usize>,
    },
    /// Another proxy (or an operator) opened this node: it went from read-only to writable
    /// while the previous writer was still writable, which only a takeover does.
    Adopted {
        /// The previous writer.
        from: usize,
    },
    /// No node caught up within `catch_up_timeout`; writes stay refused.
    GaveUp {
        /// The lost writer.
        from: usize,
        /// How long it waited.
        waited: Duration,
    },
}

/// Sticky writer state across checks.
#[derive(Debug, Clone, Default)]
pub struct Election {
    settings: ElectionSettings,
    writer: Option<usize>,
    /// The writer we lost, with its last known status, while no one has taken over.
    lost: Option<(usize, Option<NodeStatus>)>,
    /// When the loss was verified and the wait for a candidate to catch up began.
    waiting_since: Option<Instant>,
    /// The catch-up wait timed out; no automatic takeover until the writer returns.
    gave_up: bool,
    /// `read_only` per node at the previous update (`None`: never seen).
    seen_read_only: Vec<Option<bool>>,
}

impl Election {
    /// No writer yet.
    pub fn new(settings: ElectionSettings) -> Election {
        Election {
            settings,
            ..Election::default()
        }
    }

    /// The current writer.
    pub fn writer(&self) -> Option<usize> {
        self.writer
    }

    /// Re-evaluates after a check round; returns the change, if any.
    pub fn update(&mut self, nodes: &[Candidate<'_>]) -> Option<WriterChange> {
        self.update_at(nodes, Instant::now())
    }

    /// [`Election::update`] at a given time (for the catch-up bound).
    pub fn update_at(&mut self, nodes: &[Candidate<'_>], now: Instant) -> Option<WriterChange> {
        let change = self.decide(nodes, now);
        self.seen_read_only.resize(nodes.len(), None);
        // Forgotten while a node is down: a replica that restarts comes back writable
        // (`SET GLOBAL read_only` does not survive a restart), which is not a takeover.
        for (seen, c) in self.seen_read_only.iter_mut().zip(nodes) {
            *seen = if c.up {
                c.status.map(|s| s.read_only)
            } else {
                None
            };
        }
        change
    }

    fn decide(&mut self, nodes: &[Candidate<'_>], now: Instant) -> Option<WriterChange> {
        // With the fence our writer keeps the role while it is up even if it shows read-only:
        // we may be opening it right now, and if someone closed it, the server refuses the
        // writes itself (1290) — a takeover elsewhere is noticed by `opened_elsewhere`.
        let fence = self.settings.read_only_fence;
        match self.writer {
            Some(w) if nodes.get(w).is_some_and(|c| c.eligible(fence)) => {
                if let Some(x) = self.opened_elsewhere(w, nodes) {
                    self.writer = Some(x);
                    return Some(WriterChange::Adopted { from: w });
                }
                self.maybe_failback(w, nodes)
            }
            Some(w) => {
                let last = nodes.get(w).and_then(|c| c.status.cloned());
                self.writer = None;
                self.lost = Some((w, last));
                self.waiting_since = None;
                self.gave_up = false;
                self.try_takeover(nodes, now).or_else(|| {
                    Some(WriterChange::Lost {
                        from: w,
                        why: self.why_none(nodes),
                    })
                })
            }
            None => self.try_takeover(nodes, now),
        }
    }

    /// With the read-only fence: another node that we saw read-only is now writable while our
    /// writer still is — someone took over. Without the fence two writable nodes are normal.
    fn opened_elsewhere(&self, w: usize, nodes: &[Candidate<'_>]) -> Option<usize> {
        if !self.settings.read_only_fence {
            return None;
        }
        best(nodes, |i, c| {
            i != w && c.writable() && self.seen_read_only.get(i).copied().flatten() == Some(true)
        })
    }

    /// Where the writes go when an operator drains writer `from`: the best other node that may
    /// take them.
    pub fn switchover_target(&self, from: usize, nodes: &[Candidate<'_>]) -> Option<usize> {
        let fence = self.settings.read_only_fence;
        best(nodes, |i, c| i != from && c.eligible(fence))
    }

    /// Forces the writer (admin command). Refuses a node that is not up and writable.
    pub fn set_writer(
        &mut self,
        idx: usize,
        nodes: &[Candidate<'_>],
    ) -> Result<WriterChange, OperatorError> {
        let c = nodes
            .get(idx)
            .ok_or_else(|| OperatorError::NoSuchNode(format!("#{idx}")))?;
        if !self.settings.read_only_fence && !c.writable() {
            return Err(OperatorError::NotWritable(c.name.to_owned()));
        }
        if !c.eligible(self.settings.read_only_fence) {
            return Err(OperatorError::NotUp(c.name.to_owned()));
        }
        // A switchover away from a live writer waits until the new node has applied what the
        // writer had at its last check (a lost writer is the failover path's business).
        if let Some(cur) = self
            .writer
            .filter(|&w| w != idx)
            .and_then(|w| nodes.get(w))
            .filter(|w| w.up)
            .and_then(|w| w.status)
        {
            if !c.status.is_some_and(|s| s.caught_up_with(cur)) {
                return Err(OperatorError::NotCaughtUp(c.name.to_owned()));
            }
        }
        let from = self.writer.replace(idx);
        self.lost = None;
        self.gave_up = false;
        Ok(WriterChange::Manual { from })
    }

    fn maybe_failback(&mut self, w: usize, nodes: &[Candidate<'_>]) -> Option<WriterChange> {
        if self.settings.failback != Failback::Auto {
            return None;
        }
        let fence = self.settings.read_only_fence;
        let best = best(nodes, |_, c| c.eligible(fence))?;
        let current = nodes.get(w)?;
        let better = nodes.get(best)?;
        if best == w || better.weight <= current.weight {
            return None;
        }
        let caught_up = match (better.status, current.status) {
            (Some(b), Some(c)) => b.caught_up_with(c),
            _ => false,
        };
        if caught_up {
            self.writer = Some(best);
            return Some(WriterChange::Failback { from: w });
        }
        None
    }

    fn try_takeover(&mut self, nodes: &[Candidate<'_>], now: Instant) -> Option<WriterChange> {
        let fence = self.settings.read_only_fence;
        let Some((lost, last)) = self.lost.clone() else {
            // First writer: the writable node (with the fence, the one other proxies opened);
            // with the fence and none open, the best node once it has applied its relay log.
            // Among writable nodes, one that has applied everything the others have: after a
            // failover and a restart of Tandem, a returning higher-weight node that is still
            // catching up must not take the writes back unchecked. When no node is ahead of
            // all (GTIDs unknown, or diverged after a lossy failover), weight decides.
            let ahead = best(nodes, |i, c| c.writable() && ahead_of_others(i, nodes));
            let w = ahead
                .or_else(|| best(nodes, |_, c| c.writable()))
                .or_else(|| {
                    let b = best(nodes, |_, c| c.eligible(fence))?;
                    nodes.get(b)?.status?.relay_drained().then_some(b)
                })?;
            self.writer = Some(w);
            return Some(WriterChange::Initial);
        };
        let lost_node = nodes.get(lost);
        // With the fence, a node someone else opened is followed; otherwise the best candidate.
        let opened = if fence {
            best(nodes, |i, c| i != lost && c.writable())
        } else {
            None
        };
        // The lost writer resumes only if it is still writable: with the fence, one that came
        // back read-only (restarted with read_only=ON, or closed by another proxy's takeover)
        // goes through the takeover checks like any other node.
        if opened.is_none() && lost_node.is_some_and(Candidate::writable) {
            self.writer = Some(lost);
            self.lost = None;
            return Some(WriterChange::Returned);
        }
        let stopped = self.settings.failover == Failover::Off || self.gave_up;
        if stopped && opened.is_none() {
            return None;
        }
        let w = opened.or_else(|| best(nodes, |i, c| i != lost && c.eligible(fence)))?;
        let cand = nodes.get(w)?;
        let old_down = lost_node.is_some_and(|c| !c.up);
        if self.settings.verify_failure && opened.is_none() && old_down {
            let source = lost_node.map(|c| c.address).unwrap_or_default();
            if !cand.lost_sight_of(source) {
                return None; // we lost the writer; its replica did not: a partition, not a death
            }
        }
        let since = *self.waiting_since.get_or_insert(now);
        let status = cand.status?;
        let caught_up = match &last {
            Some(old) => status.caught_up_with(old),
            None => status.relay_drained(),
        };
        if !caught_up {
            let waited = now.saturating_duration_since(since);
            if !self.gave_up && self.settings.catch_up_timeout.is_some_and(|t| waited >= t) {
                self.gave_up = true;
                return Some(WriterChange::GaveUp { from: lost, waited });
            }
            return None;
        }
        self.writer = Some(w);
        self.lost = None;
        self.waiting_since = None;
        self.gave_up = false;
        Some(match opened {
            // Another proxy took over (and fenced); following it is not a takeover of ours.
            Some(_) => WriterChange::Adopted { from: lost },
            None => WriterChange::Failover { from: lost },
        })
    }

    fn still_sees_lost_writer(&self, c: &Candidate<'_>, nodes: &[Candidate<'_>]) -> bool {
        let Some((lost, _)) = &self.lost else {
            return false;
        };
        let Some(old) = nodes.get(*lost) else {
            return false;
        };
        self.settings.verify_failure && !old.up && !c.lost_sight_of(old.address)
    }

    /// A human explanation of why there is no writer.
    pub fn why_none(&self, nodes: &[Candidate<'_>]) -> String {
        let parts: Vec<String> = nodes
            .iter()
            .map(|c| {
                let state = if !c.up {
                    "down"
                } else if self.gave_up {
                    "gave up waiting for catch-up"
                } else if self.still_sees_lost_writer(c, nodes) {
                    "still replicating from the lost writer (failure not verified)"
                } else if c.status.is_some_and(|s| s.read_only) && !self.settings.read_only_fence {
                    "read_only"
                } else if self.settings.failover == Failover::Off {
                    "failover off"
                } else {
                    "catching up"
                };
                format!("{} {state}", c.name)
            })
            .collect();
        parts.join(", ")
    }
}

/// Highest weight among the nodes `keep` accepts; ties broken by name.
/// Node `i` has applied every transaction the other up nodes have (by GTID, relay log drained).
fn ahead_of_others(i: usize, nodes: &[Candidate<'_>]) -> bool {
    let Some(mine) = nodes.get(i).and_then(|c| c.status) else {
        return false;
    };
    nodes
        .iter()
        .enumerate()
        .filter(|(j, o)| *j != i && o.up)
        .all(|(_, o)| o.status.is_some_and(|theirs| mine.caught_up_with(theirs)))
}

fn best(nodes: &[Candidate<'_>], keep: impl Fn(usize, &Candidate<'_>) -> bool) -> Option<usize> {
    tandem_router::preferred_writer(
        nodes
            .iter()
            .enumerate()
            .filter(|(i, c)| keep(*i, c))
            .map(|(i, c)| (i, c.name, c.weight)),
    )
}

#[cfg(test)]
mod tests;
