//! Getting a backend connection for a statement: the elected writer (held across a failover),
//! a reader (other candidates on failure), or one exact node; connections taken from the pools
//! on first use and brought up to the session's state (session variables, schema,
//! COM_SET_OPTION) before they serve it.

use std::sync::atomic::Ordering;

use tandem_backend::ConnError;
use tandem_protocol::client::Credential;
use tracing::info;

use super::{next_rand, Backend, BackendError, Session, Stop, Target};
use crate::errors;
use crate::pool::PoolError;

impl Session {
    /// A backend connection for `target`, the statement not yet sent. A node that cannot be
    /// reached is reported to the monitor (checked at once) and its idle pool purged; a read then
    /// tries the next read candidate, a write waits (up to `write_hold`) for the monitor to elect
    /// another writer and goes there. Returns `None` after telling the client why.
    pub(super) async fn acquire(
        &mut self,
        seq: u8,
        target: Target,
    ) -> Result<Option<(usize, Backend)>, Stop> {
        let mut node = match target {
            Target::Writer => match self.writer(seq, None).await? {
                Some(w) => w,
                None => return Ok(None),
            },
            Target::Read(n) | Target::Node(n) => n,
        };
        let mut tried: Vec<usize> = Vec::new();
        loop {
            let msg = match self.backend(node).await {
                Ok(b) => return Ok(Some((node, b))),
                Err(
                    e @ (BackendError::Busy(_)
                    | BackendError::UserBusy(_)
                    | BackendError::Server(_)
                    | BackendError::Other(_)),
                ) => {
                    // Busy or refused is not dead: no suspicion, no failover; the client is told.
                    self.reply_backend_error(seq, e).await?;
                    return Ok(None);
                }
                Err(BackendError::Unreachable(msg)) => {
                    self.suspect(node);
                    tried.push(node);
                    let next = match target {
                        Target::Read(_) if tried.len() < 4 => {
                            let view = self.shared.topology.load();
                            let r = next_rand(&mut self.rng);
                            view.topology
                                .read_candidates(r)
                                .find(|n| !tried.contains(n))
                        }
                        Target::Writer if tried.len() < 4 => {
                            match self.writer(seq, Some(node)).await? {
                                Some(w) => Some(w),
                                None => return Ok(None), // refused, client told
                            }
                        }
                        _ => None,
                    };
                    match next {
                        Some(n) => {
                            node = n;
                            continue;
                        }
                        None => msg,
                    }
                }
            };
            // The client's own connection is fine: not 2013, which tells drivers to reconnect.
            self.reply_backend_error(seq, BackendError::Unreachable(msg))
                .await?;
            return Ok(None);
        }
    }

    /// Records which node holds the session's open transaction, keeping the proxy-wide count of
    /// open transactions (a graceful switchover waits for it to reach zero).
    pub(super) fn set_tx_node(&mut self, node: Option<usize>) {
        let open = &self.shared.open_transactions;
        match (self.tx_node.is_some(), node.is_some()) {
            (false, true) => {
                open.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                open.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
        self.tx_node = node;
    }

    /// A session saw `node` fail hard: purge its idle connections and have it checked now.
    pub(super) fn suspect(&self, node: usize) {
        if let Some(pool) = self.shared.pool(node) {
            pool.purge();
        }
        self.shared.monitor.report_failure(node);
    }

    /// The elected writer (other than `exclude`, a node just seen failing), waiting up to
    /// `write_hold` for one. Sends the refusal itself.
    pub(super) async fn writer(
        &mut self,
        seq: u8,
        exclude: Option<usize>,
    ) -> Result<Option<usize>, Stop> {
        let hold = self.shared.proxy.load().write_hold;
        let deadline = tokio::time::Instant::now() + hold;
        loop {
            let view = self.shared.topology.load();
            // During a graceful switchover, only transactions already open go on.
            let held = self.tx_node.is_none() && self.shared.switching.load(Ordering::Acquire);
            if let Some(w) = view
                .writer()
                .filter(|&w| Some(w) != exclude)
                .filter(|_| !held)
            {
                if let Some(tx) = self.tx_node.filter(|&t| t != w) {
                    let msg = format!(
                        "Transaction lost: writer changed from '{}' to '{}'; it was rolled back",
                        self.node_name(tx),
                        self.node_name(w)
                    );
                    self.lost_backend(tx);
                    self.reply_err(seq, errors::TRANSACTION_LOST, &msg).await?;
                    return Ok(None);
                }
                return Ok(Some(w));
            }
            let reason = match (view.writer(), exclude) {
                (Some(w), Some(x)) if w == x => format!("{} unreachable", self.node_name(w)),
                (Some(_), _) if held => "a switchover is waiting for open transactions".into(),
                _ => view.no_writer_reason.clone(),
            };
            drop(view);
            let shared = self.shared.clone();
            let changed = async {
                tokio::select! {
                    r = self.topology.changed() => r.is_ok(),
                    _ = shared.switch_done.notified(), if held => true,
                }
            };
            let wait = tokio::time::timeout_at(deadline, changed).await;
            if !matches!(wait, Ok(true)) {
                self.shared
                    .stats
                    .refused_no_writer
                    .fetch_add(1, Ordering::Relaxed);
                let msg = format!("no writable backend: {reason}");
                info!(session = self.id, reason = %reason, "write refused");
                self.reply_err(seq, errors::NO_WRITER, &msg).await?;
                return Ok(None);
            }
        }
    }

    /// Takes this session's connection to `node` (from the pool on first use) with the
    /// session's state applied.
    pub(super) async fn backend(&mut self, node: usize) -> Result<Backend, BackendError> {
        if self.backends.len() <= node {
            // A node a reload added since the session began.
            self.backends.resize_with(node + 1, || None);
        }
        let mut b = match self.backends.get_mut(node).and_then(Option::take) {
            Some(b) => b,
            None => self.checkout(node).await?,
        };
        if b.multi_off != self.multi_off {
            self.restore_multi_statements(&mut b, node).await?;
        }
        self.level_state(&mut b, node).await?;
        Ok(b)
    }

    /// A connection from the node's pool, its failure mapped to what the client is told.
    async fn checkout(&mut self, node: usize) -> Result<Backend, BackendError> {
        let pool = self
            .shared
            .pool(node)
            .ok_or_else(|| BackendError::Other("no such backend".into()))?;
        // The clear password when the configuration has it (needed for backends whose account
        // uses client_ed25519 or caching_sha2_password); otherwise the SHA1 the login recovered.
        let (password, user_cap) = self
            .shared
            .users
            .load()
            .get(&self.login.user)
            .map_or((None, None), |u| {
                (u.password.clone(), u.max_backend_connections)
            });
        let credential = match &password {
            Some(p) => Credential::Password(p.bytes()),
            None => Credential::NativeSha1(self.login.sha1),
        };
        let got = pool
            .get(&self.key, credential, &self.tracked, user_cap)
            .await;
        let b = got.map_err(|e| {
            let msg = format!("Cannot connect to backend '{}': {e}", self.node_name(node));
            match e {
                PoolError::Connect(ConnError::Io(_) | ConnError::Timeout) => {
                    BackendError::Unreachable(msg)
                }
                PoolError::Full { .. } => BackendError::Busy(e.to_string()),
                PoolError::Removed(_) => BackendError::Other(e.to_string()),
                PoolError::UserFull { .. } => BackendError::UserBusy(e.to_string()),
                PoolError::Connect(ConnError::Server(ref err))
                    if err.code == 1040 || err.code == 1203 =>
                {
                    BackendError::Busy(msg)
                }
                // The server's own refusal (1045, 1044, 1049, ...), as it sent it.
                PoolError::Connect(ConnError::Server(err)) => BackendError::Server(err),
                _ => BackendError::Other(msg),
            }
        })?;
        self.track(node, Some(b.conn.connection_id()));
        Ok(b)
    }

    /// Brings the connection's COM_SET_OPTION (multi-statements) to the client's.
    async fn restore_multi_statements(
        &self,
        b: &mut Backend,
        node: usize,
    ) -> Result<(), BackendError> {
        let opt: u16 = if self.multi_off { 1 } else { 0 };
        let mut p = vec![0x1b];
        p.extend_from_slice(&opt.to_le_bytes());
        let res = match b.conn.send_command(&p).await {
            Ok(()) => crate::relay::collect(&mut b.conn, tandem_protocol::Command::SetOption).await,
            Err(e) => Err(e),
        };
        match res {
            Ok((_, o)) if !o.is_err() => {
                b.multi_off = self.multi_off;
                Ok(())
            }
            _ => Err(BackendError::Other(format!(
                "Cannot restore COM_SET_OPTION on '{}'",
                self.node_name(node)
            ))),
        }
    }

    /// Brings the connection level with the client's session state (as its servers reported
    /// it, in Tandem's own statements) and with its role: READ ONLY unless `node` is the writer.
    async fn level_state(&mut self, b: &mut Backend, node: usize) -> Result<(), BackendError> {
        // Every connection to a node that is not the writer runs READ ONLY, so the server
        // itself refuses a write the classifier let through (1792, re-run on the writer).
        let reader = self.shared.topology.load().writer() != Some(node);
        if !reader && b.read_only {
            // The node became the writer: lift the mode, then replay the client's own state
            // (which may hold its own `SET SESSION TRANSACTION READ ONLY`).
            self.set_access_mode(b, node, false).await?;
            b.known = super::state::Tracked::default();
        }
        let (set, schema) = self.tracked.catch_up(&b.known, reader);
        let caught_up = set.is_some() || schema.is_some();
        // A pooled connection another session left in its own schema goes back to the login
        // schema when this session never chose one.
        let login = match (schema, self.tracked.schema(), b.known.schema()) {
            (None, None, Some(_)) => self.login.database.as_deref(),
            _ => None,
        };
        if let Some(db) = schema.or(login) {
            let sql = format!("USE `{}`", db.replace('`', "``"));
            self.exec_state(b, node, &sql).await?;
        }
        if login.is_some() {
            b.known.at_login_schema();
        }
        if let Some(sql) = set {
            self.exec_state(b, node, &sql).await?;
        }
        if caught_up {
            b.known.caught_up(&self.tracked);
        }
        // Last, so no copied client state (`tx_read_only = OFF`) lifts it.
        if reader && !b.read_only {
            self.set_access_mode(b, node, true).await?;
        }
        Ok(())
    }

    /// Runs one of Tandem's session-state statements on a backend connection.
    async fn exec_state(
        &self,
        b: &mut Backend,
        node: usize,
        sql: &str,
    ) -> Result<(), BackendError> {
        b.conn.exec(sql).await.map(|_| ()).map_err(|e| {
            BackendError::Other(format!(
                "Cannot restore session state on '{}': {e}",
                self.node_name(node)
            ))
        })
    }

    /// Sets the connection's session transaction access mode.
    async fn set_access_mode(
        &self,
        b: &mut Backend,
        node: usize,
        read_only: bool,
    ) -> Result<(), BackendError> {
        let sql = if read_only {
            "SET SESSION TRANSACTION READ ONLY"
        } else {
            "SET SESSION TRANSACTION READ WRITE"
        };
        match b.conn.exec(sql).await {
            Ok(_) => {
                b.read_only = read_only;
                Ok(())
            }
            Err(e) => Err(BackendError::Other(format!(
                "Cannot set the transaction access mode on '{}': {e}",
                self.node_name(node)
            ))),
        }
    }
}
