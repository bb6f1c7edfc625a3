//! Multiplexing: a session that goes quiet gives its backend connections back to the pools,
//! unless something ties it to them, and takes connections again (brought level with its
//! tracked state) when its next statement comes.
//!
//! What ties a session to its connections (and keeps it "holding"): an open transaction or
//! autocommit off, table locks, `GET_LOCK` locks, temporary tables, user variables, SQL
//! `PREPARE`d statements, `HANDLER` cursors, XA, a stored routine's unknown side effects,
//! session state the servers did not describe (all from [`SessionPolicy::holds_connection`]),
//! open binary-protocol prepared statements, and — until the next statement is done — what
//! only the last statement's connection can answer: its warnings or error (`SHOW WARNINGS`,
//! `GET DIAGNOSTICS`), its affected rows or insert id (`ROW_COUNT()`, `LAST_INSERT_ID()`),
//! `SQL_CALC_FOUND_ROWS` (`FOUND_ROWS()`).
//!
//! [`SessionPolicy::holds_connection`]: tandem_router::SessionPolicy::holds_connection

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Session;

/// [`Control::holding`](crate::shared::Control::holding) bits beyond the router's
/// [`PinReasons`](tandem_router::PinReasons): binary-protocol prepared statements are open.
pub const HOLD_PREPARED_STATEMENTS: u32 = 1 << 14;
/// The last statement's diagnostics may still be asked for.
pub const HOLD_DIAGNOSTICS: u32 = 1 << 15;

/// Names of the holding bits, for metrics.
pub fn hold_reasons(bits: u32) -> impl Iterator<Item = &'static str> {
    let router = tandem_router::PinReasons::from_bits_retain(bits & 0x3fff).names();
    let own = [
        (HOLD_PREPARED_STATEMENTS, "prepared_statements"),
        (HOLD_DIAGNOSTICS, "diagnostics"),
    ]
    .into_iter()
    .filter(move |(b, _)| bits & b != 0)
    .map(|(_, n)| n);
    router.chain(own)
}

impl Session {
    /// What ties the session to the connections it holds now (bits: the router's pin reasons
    /// plus [`HOLD_PREPARED_STATEMENTS`] and [`HOLD_DIAGNOSTICS`]); 0 when they may go back.
    fn holding(&self) -> u32 {
        let mut bits = self.policy.holds_connection().bits();
        if self.tx_node.is_some() {
            bits |= tandem_router::PinReasons::TRANSACTION.bits();
        }
        if !self.stmts.is_empty() {
            bits |= HOLD_PREPARED_STATEMENTS;
        }
        if self.hold_next {
            bits |= HOLD_DIAGNOSTICS;
        }
        bits
    }

    /// How long to wait, quiet, before giving the connections back: `None` when multiplexing
    /// is off, the session holds none, or something ties it to them. Publishes what holds it
    /// (for `/metrics`).
    pub(super) fn linger(&self) -> Option<Duration> {
        if !self.backends.iter().any(Option::is_some) {
            self.control.holding.store(0, Ordering::Relaxed);
            return None;
        }
        let holding = self.holding();
        self.control.holding.store(holding, Ordering::Relaxed);
        let proxy = self.shared.proxy.load();
        if !proxy.multiplex || holding != 0 {
            return None;
        }
        // Near a pool's cap, lingering would keep others waiting: give back at once.
        let pools = self.shared.pools.load();
        let pressed = self
            .backends
            .iter()
            .zip(pools.iter())
            .any(|(b, pool)| b.is_some() && pool.pressed());
        Some(if pressed {
            Duration::ZERO
        } else {
            proxy.multiplex_linger
        })
    }

    /// Gives every held connection back to its pool as it is (state and all).
    pub(super) fn park(&mut self) {
        for node in 0..self.backends.len() {
            let Some(b) = self.backends[node].take() else {
                continue;
            };
            self.track(node, None);
            if let Some(pool) = self.shared.pool(node) {
                pool.park(self.key.clone(), b);
                self.shared.stats.parked.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.control.holding.store(0, Ordering::Relaxed);
    }
}
