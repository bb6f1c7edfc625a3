//! Sending a command to a backend and relaying its answer: the writer or a reader, with
//! LAST_INSERT_ID carried to a new writer connection, a reader's read-only refusal held back for
//! a re-run on the writer, the session state the server reports learned from the answer, and a
//! backend lost before the client saw a byte turned into an error packet.

use std::sync::atomic::Ordering;
use std::time::Instant;

use tandem_protocol::StatusFlags;
use tandem_router::CharsetClass;

use super::{Backend, Forwarded, Session, Stop, Target};
use crate::errors;
use crate::relay::{relay, Done, RelayError};

impl Session {
    /// Sends a command to `node` (or the writer) and relays its response. Returns the node and
    /// whether the response was a success (`None` when no response was expected or the proxy
    /// answered with an error itself). A reader's read-only refusal (1792) reaches the client
    /// as the server's error; [`forward_held`](Self::forward_held) lets the caller re-run it.
    pub(super) async fn forward(
        &mut self,
        seq: u8,
        payload: &[u8],
        target: Target,
        expects_response: bool,
    ) -> Result<Option<(usize, bool)>, Stop> {
        match self.send(seq, payload, target, expects_response).await? {
            Forwarded::Nothing => Ok(None),
            Forwarded::Done(node, ok) => Ok(Some((node, ok))),
            Forwarded::ReadOnlyRefused(node) => {
                let msg = format!(
                    "Cannot execute statement in a READ ONLY transaction (on reader '{}')",
                    self.node_name(node)
                );
                self.reply_err(seq, errors::READ_ONLY_TRANSACTION, &msg)
                    .await?;
                Ok(Some((node, false)))
            }
        }
    }

    /// [`forward`](Self::forward) of a statement that may be re-run on the writer when a
    /// reader refuses it as a write (nothing reached the client then).
    pub(super) async fn forward_held(
        &mut self,
        seq: u8,
        payload: &[u8],
        target: Target,
    ) -> Result<Forwarded, Stop> {
        self.send(seq, payload, target, true).await
    }

    /// A statement the classifier called a read was refused by a reader's read-only mode: count
    /// it and log its digest (never its values); the caller re-runs it on the writer.
    pub(super) fn misrouted(&self, node: usize, sql: &str) {
        self.shared.stats.misroutes.fetch_add(1, Ordering::Relaxed);
        let digest = tandem_router::digest(sql);
        tracing::warn!(
            session = self.id,
            node = %self.node_name(node),
            digest = %digest.text,
            "a read refused as a write by the reader's READ ONLY mode; re-run on the writer"
        );
    }

    /// Sends `payload` to a connection for `target` and relays the response.
    pub(super) async fn send(
        &mut self,
        seq: u8,
        payload: &[u8],
        target: Target,
        expects_response: bool,
    ) -> Result<Forwarded, Stop> {
        let started = Instant::now();
        let (target, mut backend) = match self.write_command(seq, payload, target).await? {
            Ok(sent) => sent,
            Err(forwarded) => return Ok(forwarded),
        };
        let cmd = tandem_protocol::Command::of(payload).filter(|_| expects_response);
        let Some(cmd) = cmd else {
            self.backends[target] = Some(backend);
            return Ok(Forwarded::Nothing);
        };
        let on_writer = self.shared.topology.load().writer() == Some(target);
        let shared = &self.shared;
        let mut node_watch = crate::relay::NodeWatch {
            watch: &mut self.topology,
            is_down: || {
                let view = shared.topology.load();
                view.nodes.get(target).is_some_and(|n| !n.up)
            },
            busy_poll: shared.busy_poll(),
        };
        let relayed = tokio::time::timeout(
            shared.proxy.load().backend_timeout,
            relay(
                &mut backend.conn,
                &mut self.io,
                cmd,
                self.login.capabilities,
                &mut node_watch,
                !on_writer,
                &shared.causal,
            ),
        )
        .await
        .unwrap_or(Err(RelayError::Backend {
            error: tandem_backend::ConnError::Timeout,
            // Part of the answer may have gone out: the client is disconnected.
            forwarded: true,
        }));
        match relayed {
            Ok(done) if done.read_only_refused => {
                self.backends[target] = Some(backend);
                Ok(Forwarded::ReadOnlyRefused(target))
            }
            Ok(done) => {
                self.account(payload, on_writer, started, done.err);
                Ok(self.settle(target, backend, done).await)
            }
            Err(RelayError::Client(_)) => Err(Stop::Client),
            Err(RelayError::Backend { error, forwarded }) => {
                if forwarded {
                    drop(backend);
                    self.lost_backend(target);
                    return Err(Stop::Client);
                }
                let msg = format!(
                    "Lost connection to backend '{}' during query: {error}",
                    self.node_name(target)
                );
                self.backend_failed(seq, target, backend, &msg).await
            }
        }
    }

    /// Counts a text-protocol statement in the digest table, and logs it (its digest, never its
    /// values) when it took longer than `slow_statement`.
    fn account(&self, payload: &[u8], on_writer: bool, started: Instant, err: bool) {
        let [0x03, sql @ ..] = payload else {
            return;
        };
        let took = started.elapsed();
        self.shared.digests.record(sql, on_writer, took, err);
        if let Some(limit) = self.shared.proxy.load().slow_statement {
            if took >= limit {
                let digest = tandem_router::digest(&String::from_utf8_lossy(sql));
                tracing::warn!(
                    session = self.id,
                    user = %self.login.user,
                    route = if on_writer { "writer" } else { "reader" },
                    ms = took.as_secs_f64() * 1000.0,
                    digest = %digest.text,
                    "slow statement"
                );
            }
        }
    }

    /// Takes a connection for `target` and writes the command to it (after carrying
    /// `LAST_INSERT_ID` to a writer connection that does not have it). `Err`: what became of
    /// the command instead (the client was told).
    async fn write_command(
        &mut self,
        seq: u8,
        payload: &[u8],
        target: Target,
    ) -> Result<Result<(usize, Backend), Forwarded>, Stop> {
        let Some((target, mut backend)) = self.acquire(seq, target).await? else {
            return Ok(Err(Forwarded::Nothing));
        };
        let on_writer = self.shared.topology.load().writer() == Some(target);
        let stat = if on_writer {
            &self.shared.stats.statements_writer
        } else {
            &self.shared.stats.statements_reader
        };
        stat.fetch_add(1, Ordering::Relaxed);
        // The connection's LAST_INSERT_ID() is the session's own: carried to a connection that
        // has another (this session's from elsewhere, or another session's, which must not
        // show through — a new session's is 0).
        if on_writer && backend.insert_id != self.last_insert_id {
            let carry = format!("DO LAST_INSERT_ID({})", self.last_insert_id);
            if let Err(e) = backend.conn.exec(&carry).await {
                let msg = format!(
                    "Cannot restore LAST_INSERT_ID on '{}': {e}",
                    self.node_name(target)
                );
                return self
                    .backend_failed(seq, target, backend, &msg)
                    .await
                    .map(Err);
            }
            backend.insert_id = self.last_insert_id;
        }
        let limit = self.shared.proxy.load().backend_timeout;
        let sent = tokio::time::timeout(limit, backend.conn.send_command(payload))
            .await
            .unwrap_or(Err(tandem_backend::ConnError::Timeout));
        if let Err(e) = sent {
            let msg = format!(
                "Lost connection to backend '{}': {e}",
                self.node_name(target)
            );
            return self
                .backend_failed(seq, target, backend, &msg)
                .await
                .map(Err);
        }
        Ok(Ok((target, backend)))
    }

    /// A complete response: the session learns its status, state changes, insert id and
    /// GTID, and the connection goes back to the session.
    async fn settle(&mut self, target: usize, mut backend: Backend, done: Done) -> Forwarded {
        let committed = done
            .status
            .is_some_and(|s| !s.contains(StatusFlags::IN_TRANS));
        if done.affected_rows > 0 && !done.gtid_reported && committed {
            // Rows changed and committed, but no GTID came back to wait for (binary log off,
            // MySQL): causal reads fall back to the writer for a while.
            self.shared.causal.blind_write();
        }
        self.causal.reported = done.changes.iter().rev().find_map(|c| match c {
            tandem_protocol::SessionStateChange::SystemVariable { name, value }
                if name.eq_ignore_ascii_case("last_gtid") && !value.is_empty() =>
            {
                Some(value.clone())
            }
            _ => None,
        });
        if !done.changes.is_empty() && !self.set_statement {
            self.learn(&mut backend, &done.changes).await;
        }
        self.status = done.status.unwrap_or(self.status);
        let tx = self
            .status
            .contains(StatusFlags::IN_TRANS)
            .then_some(target);
        self.set_tx_node(tx);
        self.policy
            .on_response_at(self.status.bits(), !done.err, Instant::now());
        if done.last_insert_id != 0 {
            self.last_insert_id = done.last_insert_id;
            backend.insert_id = done.last_insert_id;
        }
        // What only this connection can answer next (`SHOW WARNINGS`, `ROW_COUNT()`, the
        // error's diagnostics) keeps it for the next statement.
        self.hold_next =
            done.err || done.warnings > 0 || done.affected_rows > 0 || done.last_insert_id != 0;
        self.backends[target] = Some(backend);
        Forwarded::Done(target, !done.err)
    }

    /// Records the session-state changes a client statement made on `backend`'s connection (the
    /// session's state and the connection's alike). State that cannot be copied pins the
    /// session to its connections.
    pub(super) async fn learn(
        &mut self,
        backend: &mut Backend,
        changes: &[tandem_protocol::SessionStateChange],
    ) {
        let mut learned = self.tracked.learn(changes);
        backend.known.learn(changes);
        if learned.collation_unknown {
            // `SET NAMES cs COLLATE co` reports the character sets only; the collation is
            // read from the same connection (one round trip, on charset changes only).
            let read = backend.conn.query("SELECT @@collation_connection").await;
            let collation = read
                .ok()
                .and_then(|r| r.rows.into_iter().next())
                .and_then(|row| row.into_iter().next().flatten());
            match collation {
                Some(value) => {
                    let change = [tandem_protocol::SessionStateChange::SystemVariable {
                        name: "collation_connection".into(),
                        value,
                    }];
                    self.tracked.learn(&change);
                    backend.known.learn(&change);
                }
                None => learned.unexplained = true,
            }
        }
        if learned.unexplained || learned.tracking_changed {
            self.policy.pin_state();
        }
        if learned.client_charset {
            if let Some(cs) = self.tracked.var("character_set_client") {
                self.charset = CharsetClass::from_name(cs);
            }
        }
    }

    /// A backend connection failed before any of the response reached the client: it is closed,
    /// its node suspected, and the client gets the error instead.
    pub(super) async fn backend_failed(
        &mut self,
        seq: u8,
        target: usize,
        backend: Backend,
        msg: &str,
    ) -> Result<Forwarded, Stop> {
        drop(backend);
        self.lost_backend(target);
        self.reply_err(seq, errors::BACKEND_LOST, msg).await?;
        Ok(Forwarded::Nothing)
    }
}
