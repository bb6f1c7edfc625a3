//! Operators' requests: switchover, drain and ready, weights. Each is applied by the aggregator
//! in turn with the checks, so it acts on the latest snapshot and publishes a new one.

use std::time::Duration;

use super::{candidates, Aggregator, Event};
use crate::election::OperatorError;

/// How long an operator's switchover waits for the new writer to catch up.
pub const CATCH_UP_WAIT: Duration = Duration::from_secs(10);

/// What an operator can ask of the monitor (HTTP and MySQL-protocol admin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Move the writes to this node (switchover).
    SetWriter(String),
    /// Maintenance: no new reads; a drained writer hands the writes to the next node (a
    /// switchover, refused when no other node has caught up).
    Drain(String),
    /// Back from maintenance.
    Ready(String),
    /// New weights for a node; `None` leaves one as it is. `read_weight: Some(None)` restores
    /// the default even spread.
    Weigh {
        /// The node.
        node: String,
        /// Writer priority (used at the next election: the writer is sticky).
        weight: Option<u32>,
        /// Read share.
        read_weight: Option<Option<u32>>,
    },
}

impl Aggregator {
    pub(super) fn on_operate(&mut self, op: Operation) -> Result<(), OperatorError> {
        let prev = self.snapshot.load_full();
        let mut next = (*prev).clone();
        let name = match &op {
            Operation::SetWriter(n) | Operation::Drain(n) | Operation::Ready(n) => n,
            Operation::Weigh { node, .. } => node,
        };
        let idx = next
            .nodes
            .iter()
            .position(|n| &n.name == name)
            .ok_or_else(|| OperatorError::NoSuchNode(name.clone()))?;
        let (change, event) = match op {
            Operation::SetWriter(_) => {
                let change = self.election.set_writer(idx, &candidates(&next.nodes))?;
                (Some(change), None)
            }
            Operation::Drain(name) => {
                next.nodes[idx].drained = true;
                let change = if self.election.writer() == Some(idx) {
                    let cands = candidates(&next.nodes);
                    let target = self
                        .election
                        .switchover_target(idx, &cands)
                        .ok_or_else(|| OperatorError::NoOtherWriter(name.clone()))?;
                    Some(self.election.set_writer(target, &cands)?)
                } else {
                    None
                };
                let event = Event::Maintenance {
                    node: name,
                    drained: true,
                };
                (change, Some(event))
            }
            Operation::Ready(name) => {
                next.nodes[idx].drained = false;
                let event = Event::Maintenance {
                    node: name,
                    drained: false,
                };
                (None, Some(event))
            }
            Operation::Weigh {
                node,
                weight,
                read_weight,
            } => {
                let n = &mut next.nodes[idx];
                n.weight = weight.unwrap_or(n.weight);
                n.read_weight = read_weight.unwrap_or(n.read_weight);
                let event = Event::Weights {
                    node,
                    weight: n.weight,
                    read_weight: n.read_weight,
                };
                (None, Some(event))
            }
        };
        if let Some(event) = event {
            self.emit(event);
        }
        self.publish_writer(&mut next, change);
        Ok(())
    }
}
