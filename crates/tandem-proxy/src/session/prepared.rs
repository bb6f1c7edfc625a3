//! Prepared statements (COM_STMT_*). Clients see statement ids assigned by Tandem; each maps to
//! the ids of the same statement prepared on the backends it has run on. A statement is prepared
//! on the writer when the client prepares it (so errors and metadata are the writer's), and lazily
//! on a reader the first time an execution of a side-effect-free statement is routed there. MySQL
//! clients send parameter types only on the first execution, so Tandem remembers them and inserts
//! them into the first execution on every other backend.
//!
//! Executions with a cursor, after SEND_LONG_DATA, or of statements that are not pure reads go to
//! the writer, as do RESET and FETCH.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tandem_protocol::{Command, Outcome, LAST_PREPARED_STMT_ID};
use tandem_router::{classify, Route, Statement};

use super::{BackendError, Forwarded, Session, Stop, Target};
use crate::errors;
use crate::relay::collect;

/// ER_UNKNOWN_STMT_HANDLER.
const UNKNOWN_STMT: (u16, &str) = (1243, "HY000");

/// Prepared statements by client id. The ids are Tandem's own small sequential numbers, so a
/// multiplicative hash spreads them well and costs far less than SipHash on every execution.
pub(super) type Stmts = HashMap<u32, Prepared, BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing for `u32` keys.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// One client-visible prepared statement.
pub(super) struct Prepared {
    /// The COM_STMT_PREPARE payload, to prepare it again elsewhere.
    prepare: Bytes,
    /// Its SQL text (for the session policy after each execution).
    sql: String,
    class: Statement,
    params: u16,
    /// Parameter types (2 bytes each) from the execution that bound them.
    param_types: Option<Vec<u8>>,
    /// Per node: the backend's statement id, and whether it has seen the parameter types.
    on_node: Vec<Option<(u32, bool)>>,
    /// SEND_LONG_DATA went to the writer: the next execution must go there too.
    long_data: bool,
}

impl Session {
    pub(super) async fn stmt_prepare(&mut self, seq: u8, payload: Bytes) -> Result<(), Stop> {
        let Some(node) = self.writer(seq, None).await? else {
            return Ok(());
        };
        let mut b = match self.backend(node).await {
            Ok(b) => b,
            Err(e) => return self.reply_backend_error(seq, e).await,
        };
        let sent = b.conn.send_command(&payload).await;
        let result = match sent {
            Ok(()) => collect(&mut b.conn, Command::StmtPrepare).await,
            Err(e) => Err(e),
        };
        let (mut raw, outcome) = match result {
            Ok(r) => r,
            Err(e) => {
                drop(b);
                self.lost_backend(node);
                let msg = format!("Lost connection to backend '{}': {e}", self.node_name(node));
                return self.reply_err(seq, errors::BACKEND_LOST, &msg).await;
            }
        };
        self.put_back(node, b);
        if let Outcome::Prepared { ok, .. } = outcome {
            self.next_stmt = self.next_stmt.wrapping_add(1).max(1);
            let id = self.next_stmt;
            // The prepare-OK is the first packet: header (4) + 0x00 + statement id (4).
            if let Some(slot) = raw.get_mut(5..9) {
                slot.copy_from_slice(&id.to_le_bytes());
            }
            let sql = String::from_utf8_lossy(payload.get(1..).unwrap_or(&[])).into_owned();
            let mut on_node = vec![None; self.backends.len()];
            if let Some(slot) = on_node.get_mut(node) {
                *slot = Some((ok.statement_id, false));
            }
            self.stmts.insert(
                id,
                Prepared {
                    prepare: payload,
                    class: classify(&sql),
                    sql,
                    params: ok.num_params,
                    param_types: None,
                    on_node,
                    long_data: false,
                },
            );
            self.last_stmt = id;
        }
        self.io.send(&raw).await.map_err(|_| Stop::Client)
    }

    /// The client id a COM_STMT_* packet names (MariaDB's "last prepared" id resolved).
    fn client_stmt_id(&self, payload: &[u8]) -> Option<u32> {
        let id = tandem_protocol::stmt_id(payload)?;
        Some(if id == LAST_PREPARED_STMT_ID {
            self.last_stmt
        } else {
            id
        })
    }

    /// Makes sure `id` is prepared on `node`; returns the backend's statement id. A server's
    /// refusal (1146 for a table not there yet, ...) comes back as that server's error.
    async fn ensure_prepared(&mut self, id: u32, node: usize) -> Result<u32, BackendError> {
        let stmt = self
            .stmts
            .get(&id)
            .ok_or_else(|| BackendError::Other("unknown statement".into()))?;
        if let Some(Some((bid, _))) = stmt.on_node.get(node) {
            return Ok(*bid);
        }
        let prepare = stmt.prepare.clone();
        let mut b = self.backend(node).await?;
        let res = match b.conn.send_command(&prepare).await {
            Ok(()) => collect(&mut b.conn, Command::StmtPrepare).await,
            Err(e) => Err(e),
        };
        match res {
            Ok((_, Outcome::Prepared { ok, .. })) => {
                self.put_back(node, b);
                if let Some(slot) = self
                    .stmts
                    .get_mut(&id)
                    .and_then(|s| s.on_node.get_mut(node))
                {
                    *slot = Some((ok.statement_id, false));
                }
                Ok(ok.statement_id)
            }
            Ok((_, Outcome::Err(err))) => {
                self.put_back(node, b);
                Err(BackendError::Server(err))
            }
            Ok((_, other)) => {
                self.put_back(node, b);
                Err(BackendError::Other(format!(
                    "Unexpected answer to a prepare on '{}': {}",
                    self.node_name(node),
                    outcome_name(&other)
                )))
            }
            Err(e) => {
                drop(b);
                self.lost_backend(node);
                Err(BackendError::Unreachable(format!(
                    "Lost connection to backend '{}': {e}",
                    self.node_name(node)
                )))
            }
        }
    }

    pub(super) async fn stmt_execute(&mut self, seq: u8, payload: Bytes) -> Result<(), Stop> {
        let Some((id, stmt)) = self
            .client_stmt_id(&payload)
            .and_then(|id| self.stmts.get(&id).map(|s| (id, s)))
        else {
            return self
                .unknown_stmt(seq, &payload, "mysqld_stmt_execute")
                .await;
        };
        let cursor = payload.get(5).is_some_and(|f| *f != 0);
        let class = stmt.class;
        let now = Instant::now();
        let may_read = !cursor && !stmt.long_data && class.is_read_only();
        let reader = match may_read.then(|| self.policy.route(&class, now)) {
            Some(Route::Reader) => self.pick_reader(),
            _ => None,
        };
        let reader = match reader {
            Some(r) if !self.causal_ok(r).await => None,
            r => r,
        };
        let mut class = class;
        let mut node = match reader {
            Some(n) => n,
            None => match self.writer(seq, None).await? {
                Some(w) => w,
                None => return Ok(()),
            },
        };
        if let Some(s) = self.stmts.get(&id) {
            // The router's statement hook before the send (its response hook runs inside it).
            self.policy.on_statement(&class, &s.sql, now);
        }
        self.set_statement = class
            .flags
            .contains(tandem_router::StmtFlags::SET_STATEMENT);
        let done = loop {
            // The execution names the statement by its id on this node: it goes to exactly
            // this node (never to another read candidate, where the id means something else).
            let bid = match self.ensure_prepared(id, node).await {
                Ok(bid) => bid,
                Err(e) => return self.reply_backend_error(seq, e).await,
            };
            let mut out = std::mem::take(&mut self.scratch);
            self.rewrite_execute(id, node, bid, &payload, &mut out);
            let sent = self.forward_held(seq, &out, Target::Node(node)).await;
            // Kept for the next execution, unless a large one (blobs) grew it.
            if out.capacity() <= 64 * 1024 {
                self.scratch = out;
            }
            match sent? {
                Forwarded::ReadOnlyRefused(reader) => {
                    let sql = self
                        .stmts
                        .get(&id)
                        .map(|s| s.sql.clone())
                        .unwrap_or_default();
                    self.misrouted(reader, &sql);
                    class.flags |= tandem_router::StmtFlags::WRITES;
                    let wrote = tandem_router::Statement::new(class.kind)
                        .with_flags(tandem_router::StmtFlags::WRITES);
                    self.policy.on_statement(&wrote, &sql, now);
                    node = match self.writer(seq, None).await? {
                        Some(w) => w,
                        None => return Ok(()),
                    };
                }
                Forwarded::Done(n, ok) => break Some((n, ok)),
                Forwarded::Nothing => break None,
            }
        };
        self.set_statement = false;
        if let Some((node, true)) = done {
            if class.writes() {
                self.note_write(node);
            }
        }
        Ok(())
    }

    /// Writes into `out` the execution with the backend's id and, on a backend that has not seen
    /// them yet, the remembered parameter types. Clears the statement's long-data mark.
    fn rewrite_execute(
        &mut self,
        id: u32,
        node: usize,
        bid: u32,
        payload: &[u8],
        out: &mut BytesMut,
    ) {
        out.clear();
        out.extend_from_slice(payload);
        let _ = tandem_protocol::rewrite_stmt_id(out, bid);
        let Some(stmt) = self.stmts.get_mut(&id) else {
            return;
        };
        stmt.long_data = false;
        let n = usize::from(stmt.params);
        if n == 0 {
            return;
        }
        // [0x17][id u32][flags u8][iterations u32][null bitmap][new-params-bound u8][types]...
        let flag_at = 10 + n.div_ceil(8);
        let typed_here = stmt
            .on_node
            .get(node)
            .copied()
            .flatten()
            .is_some_and(|(_, t)| t);
        match out.get(flag_at).copied() {
            Some(1) => {
                if let Some(types) = out.get(flag_at + 1..flag_at + 1 + 2 * n) {
                    if stmt.param_types.as_deref() != Some(types) {
                        stmt.param_types = Some(types.to_vec());
                        // The other backends hold the old types: their next execution gets these.
                        for (i, slot) in stmt.on_node.iter_mut().enumerate() {
                            if let (true, Some((_, typed))) = (i != node, slot) {
                                *typed = false;
                            }
                        }
                    }
                }
            }
            Some(0) if !typed_here => {
                if let Some(types) = &stmt.param_types {
                    insert_param_types(out, flag_at, types);
                }
            }
            _ => {}
        }
        if let Some(Some((_, typed))) = stmt.on_node.get_mut(node) {
            *typed = true;
        }
    }

    /// SEND_LONG_DATA (no response): to the writer; the next execution follows it there.
    pub(super) async fn stmt_long_data(&mut self, payload: Bytes) -> Result<(), Stop> {
        let Some(id) = self.client_stmt_id(&payload) else {
            return Ok(());
        };
        let Some(node) = self.shared.topology.load().writer() else {
            return Ok(()); // the execution will be refused for want of a writer
        };
        let Ok(bid) = self.ensure_prepared(id, node).await else {
            return Ok(());
        };
        if let Some(s) = self.stmts.get_mut(&id) {
            s.long_data = true;
        }
        let mut p = BytesMut::from(&payload[..]);
        let _ = tandem_protocol::rewrite_stmt_id(&mut p, bid);
        self.forward(0, &p, Target::Node(node), false)
            .await
            .map(|_| ())
    }

    /// RESET and FETCH: on the writer, with the backend's id.
    pub(super) async fn stmt_on_writer(&mut self, seq: u8, payload: Bytes) -> Result<(), Stop> {
        let Some(id) = self
            .client_stmt_id(&payload)
            .filter(|id| self.stmts.contains_key(id))
        else {
            return self.unknown_stmt(seq, &payload, "mysqld_stmt_reset").await;
        };
        let Some(node) = self.writer(seq, None).await? else {
            return Ok(());
        };
        let bid = match self.ensure_prepared(id, node).await {
            Ok(bid) => bid,
            Err(e) => return self.reply_backend_error(seq, e).await,
        };
        if let Some(s) = self.stmts.get_mut(&id) {
            s.long_data = false;
        }
        let mut p = BytesMut::from(&payload[..]);
        let _ = tandem_protocol::rewrite_stmt_id(&mut p, bid);
        self.forward(seq, &p, Target::Node(node), true)
            .await
            .map(|_| ())
    }

    /// CLOSE (no response): closed on every backend it was prepared on.
    pub(super) async fn stmt_close(&mut self, payload: Bytes) -> Result<(), Stop> {
        let Some(stmt) = self
            .client_stmt_id(&payload)
            .and_then(|id| self.stmts.remove(&id))
        else {
            return Ok(());
        };
        for (node, slot) in stmt.on_node.iter().enumerate() {
            let Some((bid, _)) = slot else { continue };
            if let Some(Some(b)) = self.backends.get_mut(node) {
                let mut p = vec![0x19];
                p.extend_from_slice(&bid.to_le_bytes());
                if b.conn.send_command(&p).await.is_err() {
                    self.lost_backend(node);
                }
            }
        }
        Ok(())
    }

    /// Forgets the backend statement ids on a node whose connection is gone.
    pub(super) fn forget_node_stmts(&mut self, node: usize) {
        for s in self.stmts.values_mut() {
            if let Some(slot) = s.on_node.get_mut(node) {
                *slot = None;
            }
        }
    }

    async fn unknown_stmt(&mut self, seq: u8, payload: &[u8], what: &str) -> Result<(), Stop> {
        let id = tandem_protocol::stmt_id(payload).unwrap_or(0);
        let msg = format!("Unknown prepared statement handler ({id}) given to {what}");
        self.reply_err(seq, UNKNOWN_STMT, &msg).await
    }
}

/// Turns an execution's new-params-bound flag (at `flag_at`, 0) into 1 followed by `types`, moving
/// the values in place.
/// A short name for an unexpected response outcome (no Debug dumps in client messages).
fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Ok(_) => "an OK packet",
        Outcome::Err(_) => "an error",
        Outcome::Prepared { .. } => "a prepared statement",
        Outcome::Text => "text",
    }
}

fn insert_param_types(out: &mut BytesMut, flag_at: usize, types: &[u8]) {
    let len = out.len();
    let at = flag_at + 1;
    if at > len {
        return;
    }
    out.resize(len + types.len(), 0);
    out.copy_within(at..len, at + types.len());
    out[flag_at] = 1;
    out[at..at + types.len()].copy_from_slice(types);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_types_go_between_the_flag_and_the_values() {
        // COM_STMT_EXECUTE, id 7, no cursor, 1 iteration, 2 parameters: null bitmap 0x00,
        // new-params-bound 0, then two 4-byte LONG values.
        let mut out = BytesMut::new();
        out.extend_from_slice(&[0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0x00, 0]);
        out.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
        let types = [3, 0, 3, 0]; // MYSQL_TYPE_LONG x 2
        insert_param_types(&mut out, 11, &types);
        let mut want = vec![0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0x00, 1];
        want.extend_from_slice(&types);
        want.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(&out[..], &want[..]);
    }

    #[test]
    fn a_truncated_execution_is_left_alone() {
        let mut out = BytesMut::from(&[0x17, 7, 0][..]);
        insert_param_types(&mut out, 11, &[3, 0]);
        assert_eq!(&out[..], &[0x17, 7, 0]);
    }
}
