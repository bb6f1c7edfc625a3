//! Who takes the writes. The writer is sticky: it keeps the role while it is up and writable,
//! even when a higher-weight node comes back (failback is manual unless configured `auto`). When the
//! writer is lost, the next node by weight takes over only once it has applied everything it got
//! from the old writer (`failover = safe`): its relay log is drained and its GTID position covers
//! the old writer's last known one. Until then there is no writer and writes are held, then refused
//! — a write is never sent to a master that could hand out an auto_increment value twice.

use crate::status::NodeStatus;

/// What to do when the writer is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Failover {
    /// Promote the next node by weight once it has caught up.
    #[default]
    Safe,
    /// Never promote another node; writes wait for the writer to return.
    Off,
}

/// What to do when a higher-weight node returns while another one writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Failback {
    /// It comes back as a reader; an operator moves writes back.
    #[default]
    Manual,
    /// It takes the writes back once caught up with the current writer.
    Auto,
}

/// Election settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ElectionSettings {
    /// Failover policy.
    pub failover: Failover,
    /// Failback policy.
    pub failback: Failback,
}

/// What the election looks at for one node.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Node name (ties in weight are broken by name).
    pub name: &'a str,
    /// Writer priority.
    pub weight: u32,
    /// Health state (after rise/fall).
    pub up: bool,
    /// Latest status from a successful check.
    pub status: Option<&'a NodeStatus>,
}

impl Candidate<'_> {
    fn writable(&self) -> bool {
        self.up && self.status.is_some_and(|s| !s.read_only)
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
}

/// Sticky writer state across checks.
#[derive(Debug, Clone, Default)]
pub struct Election {
    settings: ElectionSettings,
    writer: Option<usize>,
    /// The writer we lost, with its last known status, while no one has taken over.
    lost: Option<(usize, Option<NodeStatus>)>,
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
        match self.writer {
            Some(w) if nodes.get(w).is_some_and(Candidate::writable) => {
                self.maybe_failback(w, nodes)
            }
            Some(w) => {
                let last = nodes.get(w).and_then(|c| c.status.cloned());
                self.writer = None;
                self.lost = Some((w, last));
                self.try_takeover(nodes).or_else(|| {
                    Some(WriterChange::Lost {
                        from: w,
                        why: self.why_none(nodes),
                    })
                })
            }
            None => self.try_takeover(nodes),
        }
    }

    /// Forces the writer (admin command). Refuses a node that is not up and writable.
    pub fn set_writer(
        &mut self,
        idx: usize,
        nodes: &[Candidate<'_>],
    ) -> Result<WriterChange, String> {
        let c = nodes.get(idx).ok_or("no such node")?;
        if !c.writable() {
            return Err(format!("{} is not up and writable", c.name));
        }
        let from = self.writer.replace(idx);
        self.lost = None;
        Ok(WriterChange::Manual { from })
    }

    fn maybe_failback(&mut self, w: usize, nodes: &[Candidate<'_>]) -> Option<WriterChange> {
        if self.settings.failback != Failback::Auto {
            return None;
        }
        let best = best_writable(nodes)?;
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

    fn try_takeover(&mut self, nodes: &[Candidate<'_>]) -> Option<WriterChange> {
        let Some((lost, last)) = self.lost.clone() else {
            let w = best_writable(nodes)?;
            self.writer = Some(w);
            return Some(WriterChange::Initial);
        };
        if nodes.get(lost).is_some_and(Candidate::writable) {
            self.writer = Some(lost);
            self.lost = None;
            return Some(WriterChange::Returned);
        }
        if self.settings.failover == Failover::Off {
            return None;
        }
        let w = best_writable(nodes)?;
        let cand = nodes.get(w)?.status?;
        let caught_up = match &last {
            Some(old) => cand.caught_up_with(old),
            None => cand.relay_drained(),
        };
        if !caught_up {
            return None;
        }
        self.writer = Some(w);
        self.lost = None;
        Some(WriterChange::Failover { from: lost })
    }

    /// A human explanation of why there is no writer.
    pub fn why_none(&self, nodes: &[Candidate<'_>]) -> String {
        let parts: Vec<String> = nodes
            .iter()
            .map(|c| {
                let state = if !c.up {
                    "down"
                } else if c.status.is_some_and(|s| s.read_only) {
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

/// Highest weight, up and writable; ties broken by name.
fn best_writable(nodes: &[Candidate<'_>]) -> Option<usize> {
    nodes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.writable())
        .max_by(|(_, a), (_, b)| a.weight.cmp(&b.weight).then_with(|| b.name.cmp(a.name)))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests;
