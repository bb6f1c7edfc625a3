//! Plain-data topology and node selection.
//!
//! The proxy turns each monitor snapshot into a [`Topology`]; the router never learns about
//! sockets or clocks. Two knobs stay separate: `weight` decides *which node is the writer*
//! (highest wins, ties broken by name so every proxy instance agrees), `read_weight` decides
//! *how reads spread* (default: evenly). Selection is a pure function of the topology and a
//! caller-supplied random `u64`, so it is deterministic under a seed and property-testable.
//!
//! For retries, [`Topology::read_candidates`] yields the weighted pick first, then the other
//! eligible readers, then the writer — the "iterator with fallback" shape of pingora's
//! selection, without a trait because one policy is all we need.

use std::time::Duration;

/// A node's read share when [`Node::read_weight`] is `None`.
pub const DEFAULT_READ_WEIGHT: u32 = 100;

/// One backend node as seen by the router.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Node {
    /// Unique name (also the writer tie-breaker).
    pub name: String,
    /// Writer priority: the highest-weight eligible node is the writer.
    pub weight: u32,
    /// Share of reads; `None` = [`DEFAULT_READ_WEIGHT`] (an even spread), `Some(0)` = no reads
    /// except as the fallback writer.
    pub read_weight: Option<u32>,
    /// Passes health checks.
    pub up: bool,
    /// Accepts writes (`@@read_only = 0`).
    pub writable: bool,
    /// May be chosen as writer (operator intent, failover proof done, not drained).
    pub eligible_writer: bool,
    /// May serve reads as a replica (replication threads running, no errors).
    pub readable: bool,
    /// Replication lag; `None` = unknown or not a replica, counted as fresh.
    pub lag: Option<Duration>,
    /// Opaque, comparable GTID position, for callers that implement causal reads.
    pub gtid: Option<String>,
}

impl Node {
    /// A healthy, writable, eligible, readable node with weight 1 and the default read share.
    pub fn new(name: impl Into<String>) -> Self {
        Node {
            name: name.into(),
            weight: 1,
            read_weight: None,
            up: true,
            writable: true,
            eligible_writer: true,
            readable: true,
            lag: None,
            gtid: None,
        }
    }

    /// The effective read weight.
    pub fn read_share(&self) -> u32 {
        self.read_weight.unwrap_or(DEFAULT_READ_WEIGHT)
    }

    fn can_write(&self) -> bool {
        self.up && self.writable && self.eligible_writer
    }
}

/// The one writer-ranking rule, shared by [`Topology::writer`] and the monitor's sticky
/// election: among `(index, name, weight)` candidates, the highest weight wins; ties go to the
/// smallest name, then the lowest index. `None` for no candidates.
pub fn preferred_writer<'a>(
    candidates: impl IntoIterator<Item = (usize, &'a str, u32)>,
) -> Option<usize> {
    let mut best: Option<(usize, &str, u32)> = None;
    for (i, name, weight) in candidates {
        let better = match best {
            None => true,
            Some((_, b_name, b_weight)) => {
                weight > b_weight || (weight == b_weight && name < b_name)
            }
        };
        if better {
            best = Some((i, name, weight));
        }
    }
    best.map(|(i, _, _)| i)
}

/// A topology problem found by [`Topology::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// A node has an empty name.
    #[error("node #{index} has an empty name")]
    EmptyName {
        /// Position in `nodes`.
        index: usize,
    },
    /// Two nodes share a name, which would make writer ties ambiguous.
    #[error("duplicate node name `{name}`")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
}

/// The nodes and the lag limit for readers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Topology {
    /// All configured nodes.
    pub nodes: Vec<Node>,
    /// Readers lagging more than this are skipped (`None` = no limit).
    pub max_lag: Option<Duration>,
}

impl Topology {
    /// Checks names are non-empty and unique.
    pub fn validate(&self) -> Result<(), TopologyError> {
        for (index, n) in self.nodes.iter().enumerate() {
            if n.name.is_empty() {
                return Err(TopologyError::EmptyName { index });
            }
            if self.nodes[..index].iter().any(|m| m.name == n.name) {
                return Err(TopologyError::DuplicateName {
                    name: n.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// The writer: the highest-`weight` node that is up, writable and eligible; ties go to the
    /// smallest name (then the lowest index). `None` when no node qualifies.
    pub fn writer(&self) -> Option<usize> {
        preferred_writer(
            self.nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.can_write())
                .map(|(i, n)| (i, n.name.as_str(), n.weight)),
        )
    }

    /// `true` when node `i` may serve reads given the current `writer`.
    fn serves_reads(&self, i: usize, writer: Option<usize>) -> bool {
        let n = &self.nodes[i];
        if writer == Some(i) {
            return n.up;
        }
        let fresh = match (self.max_lag, n.lag) {
            (Some(max), Some(lag)) => lag <= max,
            _ => true,
        };
        n.up && n.readable && fresh
    }

    /// Whether node `i` is currently an eligible reader (the writer counts when up).
    pub fn is_reader(&self, i: usize) -> bool {
        i < self.nodes.len() && self.serves_reads(i, self.writer())
    }

    /// A reader for one read: a weighted choice by read share among up, readable nodes within
    /// `max_lag` (the writer included by its read share), driven by the random value `rand`.
    /// Falls back to the writer when no reader qualifies; `None` only if there is no writer
    /// either.
    pub fn reader(&self, rand: u64) -> Option<usize> {
        let writer = self.writer();
        self.pick(rand, writer).or(writer)
    }

    fn pick(&self, rand: u64, writer: Option<usize>) -> Option<usize> {
        let mut total: u64 = 0;
        for i in 0..self.nodes.len() {
            if self.serves_reads(i, writer) {
                total += u64::from(self.nodes[i].read_share());
            }
        }
        if total == 0 {
            return None;
        }
        // Multiply-shift maps rand uniformly onto 0..total without a division.
        let mut point = ((u128::from(rand) * u128::from(total)) >> 64) as u64;
        for (i, n) in self.nodes.iter().enumerate() {
            if !self.serves_reads(i, writer) {
                continue;
            }
            let w = u64::from(n.read_share());
            if point < w {
                return Some(i);
            }
            point -= w;
        }
        None
    }

    /// Readers to try in order: the weighted pick, the other eligible readers, then the writer.
    /// Each index appears once.
    pub fn read_candidates(&self, rand: u64) -> ReadCandidates<'_> {
        let writer = self.writer();
        ReadCandidates {
            topo: self,
            writer,
            first: self.pick(rand, writer),
            stage: Stage::First,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Stage {
    First,
    Others(usize),
    Writer,
    Done,
}

/// Iterator returned by [`Topology::read_candidates`].
#[derive(Debug, Clone)]
pub struct ReadCandidates<'a> {
    topo: &'a Topology,
    writer: Option<usize>,
    first: Option<usize>,
    stage: Stage,
}

impl Iterator for ReadCandidates<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        loop {
            match self.stage {
                Stage::First => {
                    self.stage = Stage::Others(0);
                    if self.first.is_some() {
                        return self.first;
                    }
                }
                Stage::Others(i) if i < self.topo.nodes.len() => {
                    self.stage = Stage::Others(i + 1);
                    let eligible = self.topo.serves_reads(i, self.writer)
                        && self.topo.nodes[i].read_share() > 0;
                    if eligible && Some(i) != self.first && Some(i) != self.writer {
                        return Some(i);
                    }
                }
                Stage::Others(_) => self.stage = Stage::Writer,
                Stage::Writer => {
                    self.stage = Stage::Done;
                    if self.writer.is_some() && self.writer != self.first {
                        return self.writer;
                    }
                }
                Stage::Done => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo() -> Topology {
        let mut a = Node::new("cn1");
        a.weight = 10;
        let mut b = Node::new("cn2");
        b.writable = false;
        Topology {
            nodes: vec![a, b],
            max_lag: Some(Duration::from_secs(5)),
        }
    }

    #[test]
    fn writer_and_ties() {
        let mut t = topo();
        assert_eq!(t.writer(), Some(0));
        t.nodes[1].writable = true;
        t.nodes[1].weight = 10;
        t.nodes.swap(0, 1);
        assert_eq!(t.nodes[t.writer().unwrap()].name, "cn1");
        t.nodes.iter_mut().for_each(|n| n.up = false);
        assert_eq!(t.writer(), None);
        assert_eq!(t.reader(7), None);
    }

    #[test]
    fn reader_selection_and_fallback() {
        let mut t = topo();
        assert_eq!(t.reader(0), Some(0));
        assert_eq!(t.reader(u64::MAX), Some(1));
        t.nodes[1].lag = Some(Duration::from_secs(6));
        assert_eq!(t.reader(u64::MAX), Some(0));
        t.nodes[0].read_weight = Some(0);
        assert_eq!(t.reader(u64::MAX), Some(0), "falls back to the writer");
        t.nodes[1].lag = None;
        assert_eq!(t.read_candidates(0).collect::<Vec<_>>(), vec![1, 0]);
        t.nodes[0].read_weight = None;
        assert_eq!(t.read_candidates(u64::MAX).collect::<Vec<_>>(), vec![1, 0]);
        assert_eq!(t.read_candidates(0).collect::<Vec<_>>(), vec![0, 1]);
    }

    #[test]
    fn validation() {
        let mut t = topo();
        assert!(t.validate().is_ok());
        t.nodes[1].name = "cn1".into();
        assert!(matches!(
            t.validate(),
            Err(TopologyError::DuplicateName { .. })
        ));
        t.nodes[1].name.clear();
        assert!(matches!(
            t.validate(),
            Err(TopologyError::EmptyName { index: 1 })
        ));
    }
}
