//! One client session: after the handshake, a loop that reads a command, decides where it goes,
//! makes sure that backend connection carries the session's state, sends the command and relays
//! the response. The session holds at most one backend connection per node, taken from the node's
//! pool on first use and given back (reset) when the client leaves.
//!
//! Safety rules kept here: writes go only to the writer the monitor elected, waiting up to
//! `write_hold` for one and then refusing with ERR 1290; a transaction that started on a node ends
//! with an error if that node stops being the writer; a backend failure before any byte reached
//! the client becomes an error packet, after that a disconnect.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tandem_protocol::{OkPacket, StatusFlags};
use tandem_router::{
    classify_with, client_charset_change, split_statements, CharsetClass, Dialect, PolicyConfig,
    Route, SessionPolicy, StatementKind, StmtFlags,
};
use tracing::{debug, info};

pub use crate::client_io::{ClientIo, TooLarge};
use crate::errors::{self, write_err};
use crate::frontend::{backend_capabilities, ClientLogin};
use crate::pool::PoolKey;
use crate::shared::{Control, Shared};

mod backends;
mod causal;
mod control;
mod forward;
pub(crate) mod multiplex;
mod prepared;
pub(crate) mod state;

/// A backend connection the session holds, with its known state.
type Backend = crate::pool::Checkout;

/// Where a command goes.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The elected writer (held and retried across a failover while not yet sent).
    Writer,
    /// A reader picked for a side-effect-free statement (other candidates on failure).
    Read(usize),
    /// Exactly this node (already resolved, e.g. the writer a prepared statement lives on).
    Node(usize),
}

/// What became of a command sent to a backend.
#[derive(Debug, Clone, Copy)]
enum Forwarded {
    /// No response was expected, or the proxy answered the client itself (an error).
    Nothing,
    /// The response was relayed: the node and whether it was a success.
    Done(usize, bool),
    /// A reader refused the statement with 1792 (it writes); nothing reached the client.
    ReadOnlyRefused(usize),
}

/// Why a backend connection could not be had (or a statement could not be prepared there).
#[derive(Debug)]
enum BackendError {
    /// Connection refused, reset or timed out: the node looks dead.
    Unreachable(String),
    /// No connection to be had: Tandem's cap for the node, or the server's own 1040/1203.
    Busy(String),
    /// The user's own cap on backend connections to the node (`max_backend_connections`).
    UserBusy(String),
    /// The server refused with an error packet (a login refused with 1045, a prepare refused
    /// with 1146, ...): the client gets it as the server sent it.
    Server(tandem_protocol::ErrPacket),
    /// Anything else (session state that would not apply, a protocol error).
    Other(String),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendError::Unreachable(m)
            | BackendError::Busy(m)
            | BackendError::UserBusy(m)
            | BackendError::Other(m) => f.write_str(m),
            BackendError::Server(e) => write!(f, "{} {}", e.code, e.message),
        }
    }
}

/// Why the loop stops.
enum Stop {
    Client,
}

pub struct Session {
    shared: Arc<Shared>,
    io: ClientIo,
    login: ClientLogin,
    id: u32,
    policy: SessionPolicy,
    backends: Vec<Option<Backend>>,
    key: PoolKey,
    rng: u64,
    /// Node where an open transaction (per the server's status flags) lives.
    tx_node: Option<usize>,
    status: StatusFlags,
    control: Arc<Control>,
    /// Topology versions from the monitor: wakes held writes and statements on a node going down.
    topology: tokio::sync::watch::Receiver<u64>,
    /// The client switched multi-statements off with COM_SET_OPTION.
    multi_off: bool,
    /// The last auto_increment id a statement of this session generated (from OK packets). A
    /// writer connection that has another `LAST_INSERT_ID()` (after a failover, a switchover,
    /// a lost connection, or one another session left in the pool) gets this one first.
    last_insert_id: u64,
    /// Causal-read state (`read_your_writes = "session"`).
    causal: causal::Causal,
    /// Prepared statements by the id the client knows.
    stmts: prepared::Stmts,
    next_stmt: u32,
    last_stmt: u32,
    /// Reused to rewrite statement executions (no allocation per execution).
    scratch: BytesMut,
    /// The character set class of the client's text (from the login, then `SET NAMES` ...).
    charset: CharsetClass,
    /// The session state the client set, as the servers reported it (session tracking).
    tracked: state::Tracked,
    /// The statement being sent runs under `SET STATEMENT ... FOR`: the variable values its
    /// response reports are temporary, not the session's.
    set_statement: bool,
    /// The last statement left something only its connection can answer (warnings, an
    /// error, affected rows or an insert id, `SQL_CALC_FOUND_ROWS`): the session keeps its
    /// connections until the next statement is done (multiplexing).
    hold_next: bool,
}

impl Session {
    pub fn new(shared: Arc<Shared>, io: ClientIo, login: ClientLogin, id: u32) -> Session {
        let policy = SessionPolicy::new(PolicyConfig {
            read_your_writes: shared.config.routing.read_your_writes.window(),
            // State is learned from the servers' session tracking, never replayed from text.
            state_from_text: false,
            ..PolicyConfig::default()
        });
        let key = PoolKey {
            user: login.user.clone(),
            database: login.database.clone(),
            capabilities: backend_capabilities(login.capabilities).bits(),
            charset: login.charset,
        };
        let n = shared.pools.load().len();
        let control = Arc::new(Control {
            user: std::sync::Mutex::new(login.user.clone()),
            ..Control::default()
        });
        shared.sessions.insert(id, control.clone());
        Session {
            charset: CharsetClass::from_collation_id(login.charset),
            tracked: state::Tracked::default(),
            set_statement: false,
            hold_next: false,
            topology: shared.monitor.watch(),
            stmts: prepared::Stmts::default(),
            scratch: BytesMut::new(),
            multi_off: false,
            last_insert_id: 0,
            causal: causal::Causal::default(),
            next_stmt: 0,
            last_stmt: 0,
            control,
            rng: seed(id),
            backends: (0..n).map(|_| None).collect(),
            shared,
            io,
            login,
            id,
            policy,
            key,
            tx_node: None,
            status: StatusFlags::AUTOCOMMIT,
        }
    }

    /// Serves commands until the client quits or goes away, then returns backend connections.
    pub async fn run(mut self) {
        let max = self.shared.proxy.load().max_packet_size;
        let control = self.control.clone();
        // Registered once, not per command: a KILL wakes the read below.
        let mut kill = std::pin::pin!(control.kill.notified());
        loop {
            if control.killed.load(Ordering::Acquire) {
                info!(session = self.id, "killed");
                break;
            }
            let linger = self.linger();
            let spin = self.shared.busy_poll();
            let read = tokio::select! {
                r = crate::spin::poll_briefly(self.io.read_packet(max), spin) => r,
                _ = kill.as_mut() => {
                    kill.set(control.kill.notified());
                    continue;
                }
                () = sleep_for(linger), if linger.is_some() => {
                    // Quiet for the linger time with nothing tying it to its connections.
                    self.park();
                    continue;
                }
            };
            if control.killed.load(Ordering::Acquire) {
                // Killed while a command was arriving: a KILL acknowledged to its sender ends
                // the session before anything it sends afterwards runs.
                info!(session = self.id, "killed");
                break;
            }
            let (seq, payload) = match read {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) if e.get_ref().is_some_and(|i| i.is::<TooLarge>()) => {
                    let msg = "Got a packet bigger than 'max_allowed_packet' bytes";
                    let _ = self.reply_err(0, errors::PACKET_TOO_LARGE, msg).await;
                    self.io.linger_close().await;
                    break;
                }
                Err(_) => break,
            };
            if self.command(seq, payload).await.is_err() {
                break;
            }
        }
        self.release();
        self.shared.sessions.remove(&self.id);
    }

    async fn command(&mut self, seq: u8, payload: Bytes) -> Result<(), Stop> {
        let Some(&cmd) = payload.first() else {
            return self
                .reply_err(seq, errors::MALFORMED, "Malformed packet")
                .await;
        };
        match cmd {
            0x01 => Err(Stop::Client),        // COM_QUIT
            0x0e => self.reply_ok(seq).await, // COM_PING: answered without a backend
            0x03 => self.query(seq, payload).await,
            0x02 => self.init_db(seq, payload).await,
            0x1f => {
                // COM_RESET_CONNECTION: drop pins and state; connections go back to the pools.
                self.release();
                self.policy.reset();
                self.last_insert_id = 0;
                self.stmts.clear();
                self.set_tx_node(None);
                self.charset = CharsetClass::from_collation_id(self.login.charset);
                self.tracked = state::Tracked::default();
                self.reply_ok(seq).await
            }
            0x11 => self.change_user(seq, &payload).await,
            0x0c => {
                // COM_PROCESS_KILL: a 4-byte connection id.
                match payload.get(1..5).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
                    Some(b) => {
                        let id = u32::from_le_bytes(b);
                        self.kill(
                            seq,
                            control::Kill {
                                id,
                                query_only: false,
                            },
                        )
                        .await
                    }
                    None => {
                        self.reply_err(seq, errors::MALFORMED, "Malformed packet")
                            .await
                    }
                }
            }
            0x1b => self.set_option(seq, payload).await,
            0x16 => self.stmt_prepare(seq, payload).await,
            0x17 => self.stmt_execute(seq, payload).await,
            0x18 => self.stmt_long_data(payload).await, // no response
            0x19 => self.stmt_close(payload).await,     // no response
            0x1a | 0x1c => self.stmt_on_writer(seq, payload).await,
            // Replication streams, server shutdown and the legacy internal commands are refused
            // on purpose: a binlog dump never ends (it would hold a pooled connection and the
            // relay forever), a replica must connect to the server it replicates from, and a
            // shutdown must not be aimed at "whichever node is the writer now". Bulk execution
            // and COM_MULTI carry statement ids Tandem would have to rewrite; it does not
            // advertise them, so a client that sends them anyway gets an error.
            0x08 | 0x0b | 0x0d | 0x0f | 0x10 | 0x12 | 0x13 | 0x14 | 0x15 | 0x1d | 0x1e | 0xfa
            | 0xfe => {
                let name = tandem_protocol::Command::of(&payload)
                    .map(command_name)
                    .unwrap_or_default();
                let msg = format!(
                    "This version of Tandem doesn't yet support '{name} through a proxy': \
                     connect to the server directly"
                );
                self.reply_err(seq, errors::NOT_SUPPORTED, &msg).await
            }
            _ if tandem_protocol::Command::of(&payload).is_none() => {
                self.reply_err(seq, errors::UNKNOWN_COMMAND, "Unknown command")
                    .await
            }
            _ => self
                .forward(seq, &payload, Target::Writer, true)
                .await
                .map(|_| ()),
        }
    }

    async fn query(&mut self, seq: u8, payload: Bytes) -> Result<(), Stop> {
        let text = payload.get(1..).unwrap_or(&[]);
        let sql = String::from_utf8_lossy(text);
        let mut stmt = classify_with(text, &self.dialect());
        if stmt.kind == StatementKind::Kill {
            if let Some(k) = control::parse_kill(&sql) {
                return self.kill(seq, k).await;
            }
        }
        let now = Instant::now();
        let decision = self.policy.decide(&stmt, now);
        let target = match decision.route {
            Route::Reader => self.pick_reader().map_or(Target::Writer, Target::Read),
            Route::Writer => {
                self.shared.stats.routed_to_writer(decision.reasons);
                Target::Writer
            }
        };
        let target = match target {
            Target::Read(r) if !self.causal_ok(r).await => Target::Writer,
            t => t,
        };
        // The router's hooks in protocol order: the statement as it is sent, then (inside the
        // send) its response's status flags.
        self.policy.on_statement(&stmt, &sql, now);
        self.set_statement = stmt.flags.contains(StmtFlags::SET_STATEMENT);
        let mut sent = self.forward_held(seq, &payload, target).await?;
        if let Forwarded::ReadOnlyRefused(node) = sent {
            self.misrouted(node, &sql);
            stmt.flags |= StmtFlags::WRITES;
            // It wrote after all: the policy learns of the write before it is re-sent.
            let wrote = tandem_router::Statement::new(stmt.kind).with_flags(StmtFlags::WRITES);
            self.policy.on_statement(&wrote, &sql, now);
            sent = self.forward_held(seq, &payload, Target::Writer).await?;
        }
        self.set_statement = false;
        if stmt
            .flags
            .intersects(StmtFlags::FOUND_ROWS | StmtFlags::ROW_COUNT)
        {
            self.hold_next = true;
        }
        if let Forwarded::Done(target, true) = sent {
            if matches!(stmt.kind, StatementKind::Set(_))
                || stmt.flags.contains(StmtFlags::MULTI_STATEMENT)
            {
                // The client's character set decides how later text is read; any part of a
                // multi-statement may change it.
                for part in split_statements(&sql) {
                    if let Some(cs) = client_charset_change(part) {
                        self.charset = cs;
                    }
                }
            }
            if stmt.writes() || stmt.kind == StatementKind::Commit {
                self.note_write(target);
            }
        }
        Ok(())
    }

    /// How the servers and this session read SQL text (for the classifier).
    fn dialect(&self) -> Dialect {
        Dialect {
            charset: self.charset,
            ..self.shared.topology.load().dialect
        }
    }

    fn pick_reader(&mut self) -> Option<usize> {
        let view = self.shared.topology.load();
        view.topology.reader(next_rand(&mut self.rng))
    }

    /// COM_SET_OPTION: run on the writer, then kept on every backend connection of the session.
    async fn set_option(&mut self, seq: u8, payload: Bytes) -> Result<(), Stop> {
        let off = match payload.get(1..3) {
            Some([0, 0]) => false,
            Some([1, 0]) => true,
            _ => {
                return self
                    .reply_err(seq, errors::UNKNOWN_COMMAND, "Unknown COM_SET_OPTION")
                    .await
            }
        };
        if let Some((node, true)) = self.forward(seq, &payload, Target::Writer, true).await? {
            self.multi_off = off;
            if let Some(Some(b)) = self.backends.get_mut(node) {
                b.multi_off = off;
            }
        }
        Ok(())
    }

    async fn init_db(&mut self, seq: u8, payload: Bytes) -> Result<(), Stop> {
        let db = String::from_utf8_lossy(payload.get(1..).unwrap_or(&[])).into_owned();
        if let Some((_, true)) = self.forward(seq, &payload, Target::Writer, true).await? {
            self.policy.on_init_db(&db);
        }
        Ok(())
    }

    fn put_back(&mut self, node: usize, b: Backend) {
        if let Some(slot) = self.backends.get_mut(node) {
            *slot = Some(b);
        }
    }

    fn lost_backend(&mut self, node: usize) {
        if let Some(slot) = self.backends.get_mut(node) {
            *slot = None;
        }
        self.suspect(node);
        self.forget_node_stmts(node);
        self.track(node, None);
        if self.tx_node == Some(node) {
            self.set_tx_node(None);
            self.policy
                .on_response(StatusFlags::AUTOCOMMIT.bits(), false);
        }
    }

    fn node_name(&self, node: usize) -> String {
        self.shared
            .config
            .backends
            .get(node)
            .map(|b| b.name.clone())
            .unwrap_or_default()
    }

    async fn reply_ok(&mut self, seq: u8) -> Result<(), Stop> {
        let ok = OkPacket {
            status: self.status & !StatusFlags::MORE_RESULTS_EXISTS,
            ..OkPacket::default()
        };
        let mut p = BytesMut::new();
        ok.encode(self.login.capabilities, &mut p);
        let mut out = BytesMut::new();
        tandem_protocol::write_packet(&mut out, seq.wrapping_add(1), &p);
        self.io.send(&out).await.map_err(|_| Stop::Client)
    }

    /// Tells the client why a backend could not serve it: a server's own error as the server
    /// sent it, Tandem's with the server codes a client expects (1040 when busy, 1105
    /// otherwise; 2013 is kept for a connection really lost mid-statement).
    async fn reply_backend_error(&mut self, seq: u8, e: BackendError) -> Result<(), Stop> {
        match e {
            BackendError::Server(err) => {
                let mut payload = BytesMut::new();
                err.encode(&mut payload);
                let mut out = BytesMut::new();
                tandem_protocol::write_packet(&mut out, seq.wrapping_add(1), &payload);
                self.io.send(&out).await.map_err(|_| Stop::Client)
            }
            BackendError::Busy(m) => self.reply_err(seq, errors::TOO_MANY_CONNECTIONS, &m).await,
            BackendError::UserBusy(m) => {
                self.reply_err(seq, errors::TOO_MANY_USER_CONNECTIONS, &m)
                    .await
            }
            BackendError::Unreachable(m) | BackendError::Other(m) => {
                self.reply_err(seq, errors::UNKNOWN_ERROR, &m).await
            }
        }
    }

    async fn reply_err(&mut self, seq: u8, code: (u16, &str), msg: &str) -> Result<(), Stop> {
        let mut out = BytesMut::new();
        write_err(&mut out, seq.wrapping_add(1), code, msg);
        self.io.send(&out).await.map_err(|_| Stop::Client)
    }

    /// Gives every held backend connection back to its pool (reset there, in the background).
    /// COM_RESET_CONNECTION keeps the current schema (and COM_SET_OPTION state), so after a `USE`
    /// (or multi-statements switched off) the connections are closed instead: a pooled connection
    /// always sits in its key's schema with the negotiated options.
    fn release(&mut self) {
        for (node, slot) in self.backends.iter_mut().enumerate() {
            if let Some(b) = slot.take() {
                let changed_schema = self.multi_off || b.known.schema().is_some();
                if let Ok(mut ids) = self.control.backend_ids.lock() {
                    if let Some(id) = ids.get_mut(node) {
                        *id = None;
                    }
                }
                if changed_schema {
                    continue; // closed: dropping the connection releases its permit
                }
                let shared = self.shared.clone();
                let key = self.key.clone();
                tokio::spawn(async move {
                    if let Some(pool) = shared.pool(node) {
                        pool.put(key, b.conn, b.permit, b.read_only).await;
                    }
                });
            }
        }
        debug!(session = self.id, "backends released");
    }
}

async fn sleep_for(d: Option<std::time::Duration>) {
    if let Some(d) = d {
        tokio::time::sleep(d).await;
    }
}

/// `COM_BINLOG_DUMP` for `Command::BinlogDump`.
fn command_name(c: tandem_protocol::Command) -> String {
    let mut out = String::from("COM");
    for ch in format!("{c:?}").chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

fn seed(id: u32) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (u64::from(id) << 32) ^ 0x9E37_79B9_7F4A_7C15
}

/// splitmix64
fn next_rand(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.tx_node.is_some() {
            self.shared
                .open_transactions
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
