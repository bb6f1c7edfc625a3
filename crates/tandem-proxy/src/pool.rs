//! Per-node pools of authenticated backend connections. A session takes a connection on its first
//! statement for that node and gives it back when the client leaves; the connection is reset with
//! COM_RESET_CONNECTION before reuse (closed instead if the reset fails). Connections are keyed by
//! what changes the wire format or the login (user, login schema, negotiated capabilities,
//! character set), so a pooled connection always speaks exactly the dialect its next client
//! negotiated and starts in the schema that client asked for.
//!
//! With multiplexing, a session that goes quiet parks its connections here without a reset
//! ([`Pool::park`]): each keeps the session state its server reported, and the next session
//! takes the one that needs least to be brought level with its own state (one that matches
//! exactly, else one it can bring level with `SET SESSION`, else one that is reset first).
//!
//! Idle connections are kept per worker event loop (a connection stays with the loop whose
//! reactor it is registered with); the cap on connections per node counts all of them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tandem_backend::{Conn, ConnError, Login};
use tandem_protocol::client::Credential;
use tandem_protocol::Capabilities;

use crate::config::ProxyConfig;
use crate::session::state::Tracked;

mod permit;
pub use permit::Permit;
use permit::{take, Count, Waiting};

/// Asks the server to report every session-variable, schema and state change in its OK packets
/// (session tracking; MariaDB 10.2+, MySQL 5.7+). Run on every new or reset connection: a
/// reset returns these to the server's defaults, which track only a few variables.
pub const TRACK_SESSION_STATE: &str = "SET SESSION session_track_system_variables = '*', \
     session_track_schema = ON, session_track_state_change = ON";

/// What a pooled connection must match to be reused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub user: String,
    /// The schema the connection was opened with (the client's login database).
    pub database: Option<String>,
    pub capabilities: u64,
    pub charset: u8,
}

struct Idle {
    key: PoolKey,
    conn: Conn,
    /// Its count against the caps (released when the entry is dropped).
    permit: Permit,
    since: Instant,
    /// The connection runs `SESSION TRANSACTION READ ONLY` (re-applied after the reset).
    read_only: bool,
    /// The session state the connection has (empty after a reset).
    known: Tracked,
    /// COM_SET_OPTION switched multi-statements off on it.
    multi_off: bool,
    /// Its `LAST_INSERT_ID()`, as Tandem last saw it set.
    insert_id: u64,
}

/// A connection handed out by [`Pool::get`], with what is known of its state.
#[derive(Debug)]
pub struct Checkout {
    pub conn: Conn,
    pub permit: Permit,
    /// It runs `SESSION TRANSACTION READ ONLY`.
    pub read_only: bool,
    /// Its session state (variables and schema, as its server reported them).
    pub known: Tracked,
    /// Multi-statements are switched off on it.
    pub multi_off: bool,
    /// Its `LAST_INSERT_ID()`, as Tandem last saw it set (an OK packet's insert id, Tandem's
    /// own `DO LAST_INSERT_ID(n)`); 0 on a new or reset connection.
    pub insert_id: u64,
}

pub struct Pool {
    name: String,
    address: String,
    /// TLS to the node.
    tls: tandem_backend::ClientTls,
    /// Idle connections, one list per worker.
    idle: Vec<Mutex<VecDeque<Idle>>>,
    count: Arc<Count>,
    max_idle: usize,
    /// The configured cap (`pool_max_connections`).
    configured_max: usize,
    /// The cap in force: the configured one, lowered to what the server can take.
    max_total: AtomicUsize,
    idle_timeout: Duration,
    connect_timeout: Duration,
    /// How long a statement waits for a connection at the cap.
    wait_timeout: Duration,
    /// Live connections per user, for users with `max_backend_connections`.
    users: Mutex<std::collections::HashMap<String, Arc<Count>>>,
    /// The node was removed by a reload: no new connections, none kept.
    removed: std::sync::atomic::AtomicBool,
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// At the cap for the whole wait.
    #[error("Too many connections to backend '{node}': Tandem's cap of {cap} is reached (waited {waited:?})")]
    Full {
        node: String,
        cap: usize,
        waited: Duration,
    },
    /// The user's `max_backend_connections` to the node, for the whole wait.
    #[error("User {user} already has more than 'max_user_connections' active connections: its max_backend_connections of {cap} to backend '{node}' (waited {waited:?})")]
    UserFull {
        user: String,
        node: String,
        cap: usize,
        waited: Duration,
    },
    /// The node was removed from the configuration.
    #[error("backend '{0}' was removed from the configuration")]
    Removed(String),
    #[error("{0}")]
    Connect(#[from] ConnError),
}

impl Pool {
    /// A pool for `workers` event loops; `name` is the node's name (for errors).
    pub fn new(
        name: String,
        address: String,
        tls: tandem_backend::ClientTls,
        cfg: &ProxyConfig,
        workers: usize,
    ) -> Pool {
        Pool {
            name,
            address,
            tls,
            idle: (0..workers.max(1))
                .map(|_| Mutex::new(VecDeque::new()))
                .collect(),
            count: Arc::new(Count::default()),
            // Each worker keeps its share, at least one.
            max_idle: (cfg.pool_max_idle / workers.max(1)).max(1),
            configured_max: cfg.pool_max_connections,
            max_total: AtomicUsize::new(cfg.pool_max_connections),
            idle_timeout: cfg.pool_idle_timeout,
            connect_timeout: cfg.connect_timeout,
            wait_timeout: cfg.pool_wait_timeout,
            users: Mutex::new(std::collections::HashMap::new()),
            removed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The node was removed by a reload: idle connections close now, busy ones when their
    /// sessions give them back, and no new ones are made.
    pub fn retire(&self) {
        self.removed.store(true, Ordering::Release);
        self.purge();
    }

    /// Whether a connection with `permit` may be kept here: it was counted by this pool (not
    /// by the one a node's slot had before a reload moved it) and the node is still in use.
    fn keeps(&self, permit: &Permit) -> bool {
        Arc::ptr_eq(&permit.node, &self.count) && !self.removed.load(Ordering::Acquire)
    }

    /// The live-connection count of `user` (made on first use).
    fn user_count(&self, user: &str) -> Option<Arc<Count>> {
        let mut users = self.users.lock().ok()?;
        Some(users.entry(user.to_owned()).or_default().clone())
    }

    /// Lowers the cap to what the server can take (from its `max_connections`, less a
    /// reserve); `None` restores the configured cap. Connections above a lowered cap are not
    /// closed, new ones wait until the count is below it.
    ///
    /// A node in its slow start (`warmth`, the fraction of its full share it has now) gets
    /// that fraction of the cap, so its connections ramp up with its reads.
    pub fn set_server_cap(&self, server: Option<usize>, warmth: Option<f64>) {
        let cap = server.map_or(self.configured_max, |s| s.min(self.configured_max));
        let cap = match warmth {
            Some(w) => ((cap as f64 * w).ceil() as usize).min(cap),
            None => cap,
        };
        self.max_total.store(cap.max(1), Ordering::Relaxed);
    }

    /// The cap in force.
    pub fn cap(&self) -> usize {
        self.max_total.load(Ordering::Relaxed)
    }

    /// Idle connections (over all workers).
    pub fn idle(&self) -> usize {
        self.idle
            .iter()
            .map(|q| q.lock().map_or(0, |q| q.len()))
            .sum()
    }

    /// Near the cap (three quarters of it in use): quiet sessions give connections back at
    /// once instead of lingering.
    pub fn pressed(&self) -> bool {
        self.live() * 4 >= self.cap() * 3
    }

    /// Live connections (busy and idle).
    pub fn live(&self) -> usize {
        self.count.total.load(Ordering::Relaxed)
    }

    /// An idle connection with the same key that can be brought level with `want` (reset
    /// first when none can), or a new one. At the cap, an idle connection of another key (or
    /// another worker) is closed to make room; with none, the call waits (in turn with other
    /// waiters) up to `pool_wait_timeout` for a connection to close or go idle. A user with
    /// `user_cap` (its `max_backend_connections`) waits the same way at its own cap, making
    /// room only among its own idle connections.
    ///
    /// The wait is fair: while anyone waits, a newcomer queues behind (a connection freed at
    /// the cap goes to the longest waiter, not to whoever asks first after it is freed), so
    /// under overload every statement waits about as long as the queue is deep rather than
    /// some waiting out `pool_wait_timeout` while newcomers pass them.
    pub async fn get(
        &self,
        key: &PoolKey,
        credential: Credential<'_>,
        want: &Tracked,
        user_cap: Option<usize>,
    ) -> Result<Checkout, PoolError> {
        let mut queued: Option<Waiting<'_>> = None;
        let got = self
            .get_in_turn(key, credential, want, user_cap, &mut queued)
            .await;
        if queued.take().is_some() && got.is_ok() {
            self.pass_on();
        }
        got
    }

    /// A waiter that got its connection wakes the next one if there is more to be had (two
    /// connections freed at once, or room below a cap that rose).
    fn pass_on(&self) {
        let more = self.live() < self.cap() || self.idle() > 0;
        if self.count.waiting.load(Ordering::Acquire) > 0 && more {
            self.count.freed.notify_one();
        }
    }

    /// [`Pool::get`]'s work; `queued` holds the caller's place in the node's queue once it
    /// waits there.
    async fn get_in_turn<'a>(
        &'a self,
        key: &PoolKey,
        credential: Credential<'_>,
        want: &Tracked,
        user_cap: Option<usize>,
        queued: &mut Option<Waiting<'a>>,
    ) -> Result<Checkout, PoolError> {
        if self.removed.load(Ordering::Acquire) {
            return Err(PoolError::Removed(self.name.clone()));
        }
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.wait_timeout;
        let user = user_cap.and_then(|cap| Some((self.user_count(&key.user)?, cap)));
        let permit = loop {
            // Registered before the checks below, so a release between them still wakes it;
            // given up (passing a notification it got on to the next waiter) by a caller that
            // waits for its user's connection instead.
            let freed = Some(self.count.freed.notified());
            tokio::pin!(freed);
            if let Some(n) = freed.as_mut().as_pin_mut() {
                n.enable();
            }
            let freed_wait = woken(freed.as_mut());
            let user_freed = user.as_ref().map(|(u, _)| u.freed.notified());
            tokio::pin!(user_freed);
            if let Some(n) = user_freed.as_mut().as_pin_mut() {
                n.enable();
            }
            // Others are waiting: queue behind them.
            if queued.is_none() && self.count.waiting.load(Ordering::Acquire) > 0 {
                *queued = Some(Waiting::new(&self.count));
                if tokio::time::timeout_at(deadline, freed_wait).await.is_err() {
                    return Err(self.full(started));
                }
                continue;
            }
            if let Some(idle) = self.take_idle(self.shard(), key, want) {
                match self.ready(key, idle, want).await {
                    Some(c) => return Ok(c),
                    None => continue, // closed; try again
                }
            }
            let user_ok = user.as_ref().is_none_or(|(u, cap)| take(u, *cap));
            if user_ok {
                if take(&self.count, self.cap()) {
                    break Permit {
                        node: self.count.clone(),
                        user: user.as_ref().map(|(u, _)| u.clone()),
                    };
                }
                if let Some((u, _)) = &user {
                    u.total.fetch_sub(1, Ordering::Relaxed); // not used after all
                }
            }
            // At a cap, another worker's idle connection of the key beats a new login (it
            // keeps being woken through that worker's reactor).
            let stolen = self
                .idle
                .iter()
                .find_map(|shard| self.take_idle(shard, key, want));
            if let Some(idle) = stolen {
                match self.ready(key, idle, want).await {
                    Some(c) => return Ok(c),
                    None => continue,
                }
            }
            let mine = (!user_ok).then_some(key.user.as_str());
            if self.evict_one_idle(mine) {
                continue;
            }
            let waited = if user_ok {
                if queued.is_none() {
                    *queued = Some(Waiting::new(&self.count));
                }
                tokio::time::timeout_at(deadline, freed_wait).await
            } else {
                // Waiting for one of the user's own connections, not in the node's queue.
                *queued = None;
                drop(freed_wait);
                freed.set(None);
                tokio::time::timeout_at(deadline, woken(user_freed.as_mut())).await
            };
            if waited.is_err() {
                return Err(match user {
                    Some((_, cap)) if !user_ok => PoolError::UserFull {
                        user: key.user.clone(),
                        node: self.name.clone(),
                        cap,
                        waited: started.elapsed(),
                    },
                    _ => self.full(started),
                });
            }
        };
        let login = Login {
            user: &key.user,
            credential,
            database: key.database.as_deref(),
            capabilities: Capabilities::from_bits_truncate(key.capabilities),
            charset: key.charset,
            tls: Some(&self.tls),
        };
        let mut conn = Conn::connect(&self.address, login, self.connect_timeout).await?;
        // Tandem's own statements on it (state, access mode, reset) answer within this.
        conn.set_control_timeout(self.connect_timeout);
        conn.exec(TRACK_SESSION_STATE).await?;
        Ok(Checkout {
            conn,
            permit,
            read_only: false,
            known: Tracked::default(),
            multi_off: false,
            insert_id: 0,
        })
    }

    /// At the node's cap for the whole wait, which began at `started`.
    fn full(&self, started: Instant) -> PoolError {
        PoolError::Full {
            node: self.name.clone(),
            cap: self.cap(),
            waited: started.elapsed(),
        }
    }

    /// An idle connection made ready for a session in state `want`: as it is when it can be
    /// brought level, otherwise reset first; `None` when it failed or still cannot (it sits in
    /// a schema the session cannot leave for its login schema) and was closed.
    async fn ready(&self, key: &PoolKey, idle: Idle, want: &Tracked) -> Option<Checkout> {
        let login_schema = key.database.is_some();
        let mut c = Checkout {
            conn: idle.conn,
            permit: idle.permit,
            read_only: idle.read_only,
            known: idle.known,
            multi_off: idle.multi_off,
            insert_id: idle.insert_id,
        };
        if c.known.levelable_to(want, login_schema) {
            return Some(c);
        }
        let reset = tokio::time::timeout(self.connect_timeout, async {
            c.conn.reset().await?;
            c.conn.exec(TRACK_SESSION_STATE).await
        })
        .await;
        if !matches!(reset, Ok(Ok(_))) {
            return None;
        }
        // A reset keeps the schema and the multi-statements option.
        let schema = c.known.schema().map(str::to_owned);
        c.known = Tracked::default();
        if let Some(db) = schema {
            c.known
                .learn(&[tandem_protocol::SessionStateChange::Schema(db)]);
        }
        c.read_only = false;
        c.insert_id = 0;
        c.known.levelable_to(want, login_schema).then_some(c)
    }

    /// This worker's idle list.
    fn shard(&self) -> &Mutex<VecDeque<Idle>> {
        let w = crate::workers::current();
        &self.idle[w % self.idle.len()]
    }

    /// The idle connection of `key` that needs least to serve a session in state `want`: the
    /// newest that has exactly that state, else the newest that can be brought level, else
    /// the newest of the key (to be reset). Expired entries are closed on the way.
    fn take_idle(
        &self,
        shard: &Mutex<VecDeque<Idle>>,
        key: &PoolKey,
        want: &Tracked,
    ) -> Option<Idle> {
        let mut idle = shard.lock().ok()?;
        let now = Instant::now();
        idle.retain(|i| now.duration_since(i.since) < self.idle_timeout);
        let login_schema = key.database.is_some();
        let mine = |i: &Idle| &i.key == key;
        let pos = idle
            .iter()
            .rposition(|i| mine(i) && i.known == *want)
            .or_else(|| {
                idle.iter()
                    .rposition(|i| mine(i) && i.known.levelable_to(want, login_schema))
            })
            .or_else(|| idle.iter().rposition(mine))?;
        idle.remove(pos)
    }

    /// Closes one idle connection of any worker (oldest first), of `user` only when given;
    /// false if there was none.
    fn evict_one_idle(&self, user: Option<&str>) -> bool {
        for shard in &self.idle {
            let evicted = shard.lock().ok().and_then(|mut idle| {
                let pos = idle
                    .iter()
                    .position(|i| user.is_none_or(|u| i.key.user == u))?;
                idle.remove(pos)
            });
            if evicted.is_some() {
                return true; // dropped here: closed, its count released
            }
        }
        false
    }

    /// Closes every idle connection (the node was seen failing: they are likely dead too).
    pub fn purge(&self) {
        for shard in &self.idle {
            if let Ok(mut idle) = shard.lock() {
                idle.clear();
            }
        }
    }

    /// Resets a connection and keeps it for reuse (or closes it). A connection that served a
    /// reader (`read_only`) gets `SESSION TRANSACTION READ ONLY` back after the reset, here in
    /// the background rather than on the next client's first statement.
    pub async fn put(&self, key: PoolKey, mut conn: Conn, permit: Permit, read_only: bool) {
        if !self.keeps(&permit) {
            return;
        }
        let reset = tokio::time::timeout(self.connect_timeout, async {
            conn.reset().await?;
            conn.exec(TRACK_SESSION_STATE).await?;
            if read_only {
                conn.exec("SET SESSION TRANSACTION READ ONLY").await?;
            }
            Ok::<(), ConnError>(())
        })
        .await;
        if !matches!(reset, Ok(Ok(()))) || !conn.buffered().is_empty() {
            return; // dropped: closed, permit released
        }
        let Ok(mut idle) = self.shard().lock() else {
            return;
        };
        if idle.len() >= self.max_idle {
            return;
        }
        let user = permit.user.clone();
        idle.push_back(Idle {
            key,
            conn,
            permit,
            since: Instant::now(),
            read_only,
            known: Tracked::default(),
            multi_off: false,
            insert_id: 0,
        });
        drop(idle);
        // A waiter at the cap may take it (same key) or close it to make room.
        self.went_idle(user);
    }

    /// Keeps a connection a quiet session gives back (multiplexing) as it is, with its state,
    /// for the next session of the same key; closes it if it has unread bytes or the idle
    /// list is full.
    pub fn park(&self, key: PoolKey, c: Checkout) {
        if !c.conn.buffered().is_empty() || !self.keeps(&c.permit) {
            return;
        }
        let Ok(mut idle) = self.shard().lock() else {
            return;
        };
        if idle.len() >= self.max_idle {
            return;
        }
        let user = c.permit.user.clone();
        idle.push_back(Idle {
            key,
            conn: c.conn,
            permit: c.permit,
            since: Instant::now(),
            read_only: c.read_only,
            known: c.known,
            multi_off: c.multi_off,
            insert_id: c.insert_id,
        });
        drop(idle);
        self.went_idle(user);
    }

    /// Wakes a waiter at the node's cap, and one at the user's, for a connection gone idle.
    fn went_idle(&self, user: Option<Arc<Count>>) {
        self.count.freed.notify_one();
        if let Some(u) = user {
            u.freed.notify_one();
        }
    }
}

/// Completes when `n` is notified; never when there is none.
async fn woken(n: std::pin::Pin<&mut Option<tokio::sync::futures::Notified<'_>>>) {
    match n.as_pin_mut() {
        Some(n) => n.await,
        None => std::future::pending().await,
    }
}
