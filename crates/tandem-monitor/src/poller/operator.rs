//! Operators' requests: switchover, drain and ready, weights, nodes added and removed (by a
//! reload). Each is applied by the aggregator in turn with the checks, so it acts on the latest
//! snapshot and publishes a new one.

use std::time::Duration;

use std::sync::Arc;

use super::{candidates, check_loop, Aggregator, Event, NodeConfig};
use crate::election::OperatorError;
use crate::health::Health;
use crate::snapshot::NodeSnapshot;

/// How long an operator's switchover waits for the new writer to catch up.
pub const CATCH_UP_WAIT: Duration = Duration::from_secs(10);

/// What an operator can ask of the monitor (HTTP and MySQL-protocol admin).
#[derive(Debug, Clone)]
pub enum Operation {
    /// Start watching a node (a reload added it): at the next index, or at the index of a
    /// removed node of the same name, which it takes back with this address. It serves once
    /// its first check passes, like a node at start-up.
    AddNode(Box<NodeConfig>),
    /// Stop watching a node (a reload removed it): it leaves routing at once and for good,
    /// keeping its index; refused for the node that takes the writes.
    RemoveNode(String),
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
            Operation::SetWriter(n)
            | Operation::Drain(n)
            | Operation::Ready(n)
            | Operation::RemoveNode(n) => n,
            Operation::Weigh { node, .. } => node,
            Operation::AddNode(node) => {
                self.add_node(&mut next, (**node).clone())?;
                self.publish_writer(&mut next, None);
                return Ok(());
            }
        };
        let idx = next
            .nodes
            .iter()
            .position(|n| &n.name == name && !n.removed)
            .ok_or_else(|| OperatorError::NoSuchNode(name.clone()))?;
        let (change, event) = match op {
            Operation::AddNode(_) => (None, None), // handled above
            Operation::RemoveNode(name) => {
                let writes = self.election.writer() == Some(idx)
                    || next.writer == Some(idx)
                    || self.pending_fence.is_some_and(|(w, _)| w == idx);
                if writes {
                    return Err(OperatorError::RemoveWriter(name));
                }
                if let Some(task) = self.loops.get_mut(idx).and_then(Option::take) {
                    task.abort();
                }
                if let Some(h) = self.health.get_mut(idx) {
                    *h = Health::new();
                }
                let n = &mut next.nodes[idx];
                n.removed = true;
                n.up = false;
                n.readable = false;
                n.lag = None;
                n.warm_since = None;
                n.last_error = Some("removed from the configuration".into());
                (None, Some(Event::NodeRemoved(name)))
            }
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
                let n = &mut next.nodes[idx];
                // Back from maintenance into the read pool: a slow start, as after a return.
                if n.drained && n.readable && !self.config.health.slowstart.is_zero() {
                    n.warm_since = Some(std::time::Instant::now());
                }
                n.drained = false;
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

impl Aggregator {
    /// Adds `node` to `next` (see [`Operation::AddNode`]) and starts its check loop.
    fn add_node(
        &mut self,
        next: &mut crate::snapshot::Snapshot,
        node: NodeConfig,
    ) -> Result<(), OperatorError> {
        let existing = next.nodes.iter().position(|n| n.name == node.name);
        if existing.is_some_and(|i| !next.nodes[i].removed) {
            return Err(OperatorError::NodeExists(node.name));
        }
        let fresh = NodeSnapshot::unchecked(&node);
        let idx = match existing {
            Some(i) => {
                next.nodes[i] = fresh;
                self.config.nodes[i] = node.clone();
                self.health[i] = Health::new();
                self.served[i] = false;
                self.read_only_set_at[i] = None;
                i
            }
            None => {
                next.nodes.push(fresh);
                self.config.nodes.push(node.clone());
                self.health.push(Health::new());
                self.served.push(false);
                self.read_only_set_at.push(None);
                self.closing.push(None);
                self.loops.push(None);
                let mut wakers = self.suspect.write().unwrap_or_else(|e| e.into_inner());
                wakers.push(Arc::new(tokio::sync::Notify::new()));
                next.nodes.len() - 1
            }
        };
        let waker = {
            let wakers = self.suspect.read().unwrap_or_else(|e| e.into_inner());
            wakers[idx].clone()
        };
        let mut up: Vec<bool> = next.nodes.iter().map(|n| n.up).collect();
        up.resize(next.nodes.len(), false);
        let _ = self.up.send(up);
        let task = tokio::spawn(check_loop(
            idx,
            node.address.clone(),
            self.config.clone(),
            self.tx.clone(),
            self.up.subscribe(),
            waker,
        ));
        self.loops[idx] = Some(task.abort_handle());
        self.emit(Event::NodeAdded(node.name));
        Ok(())
    }
}
