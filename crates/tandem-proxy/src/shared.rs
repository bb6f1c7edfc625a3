//! State shared by all sessions: configuration, users, pools, and the routing view derived from
//! each monitor snapshot (converted once per snapshot, then read lock-free per statement).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use tokio::sync::Notify;

use arc_swap::ArcSwap;
use tandem_monitor::{Event, Monitor, Operation, OperatorError, Snapshot};
use tokio::sync::broadcast;

/// How many events the admin log keeps.
const EVENT_LOG: usize = 200;
use tandem_protocol::auth::native_password;

use crate::config::Config;
use crate::pool::Pool;

/// A configured user: the stored `SHA1(SHA1(password))`, and the clear password when known.
#[derive(Debug, Clone)]
pub struct User {
    pub stored: [u8; 20],
    /// May KILL other users' sessions.
    pub connection_admin: bool,
    /// May log in only over TLS.
    pub require_tls: bool,
    /// caching_sha2_password's fast path, when the configuration has the clear password.
    pub sha2: Option<crate::frontend::Sha2Entry>,
    /// The clear password, when the configuration has it: Tandem logs in to the backends with
    /// it (any plugin: client_ed25519, caching_sha2_password), else with the recovered SHA1.
    pub password: Option<Secret>,
    /// Client sessions at once (`[[users]] max_connections`).
    pub max_connections: Option<usize>,
    /// Backend connections per node (`[[users]] max_backend_connections`).
    pub max_backend_connections: Option<usize>,
}

/// A password kept in memory; never printed.
#[derive(Clone)]
pub struct Secret(Arc<[u8]>);

impl Secret {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Counters (exported by the admin endpoint when it exists).
#[derive(Default)]
pub struct Stats {
    pub sessions: AtomicU64,
    pub statements_writer: AtomicU64,
    pub statements_reader: AtomicU64,
    pub auth_failures: AtomicU64,
    pub refused_no_writer: AtomicU64,
    /// Statements called reads that a reader refused as writes (1792) and the writer re-ran.
    pub misroutes: AtomicU64,
    /// Reads sent to the writer because no reader was known to have applied the latest
    /// acknowledged writes (causal reads; the price of `read_your_writes`).
    pub causal_to_writer: AtomicU64,
    pub writer_changes: AtomicU64,
    /// Text statements the router sent to the writer, per reason (bit of `PinReasons`).
    pub writer_reasons: [AtomicU64; 16],
    /// Accepted client logins by how they were checked: mysql_native_password,
    /// caching_sha2_password's fast path, its full authentication.
    pub logins_native: AtomicU64,
    pub logins_sha2_fast: AtomicU64,
    pub logins_sha2_full: AtomicU64,
    /// Backend connections quiet sessions gave back to the pools (multiplexing).
    pub parked: AtomicU64,
}

impl Stats {
    /// Counts an accepted login (`native`, `sha2_fast`, `sha2_full`).
    pub fn login(&self, how: &str) {
        let c = match how {
            "sha2_fast" => &self.logins_sha2_fast,
            "sha2_full" => &self.logins_sha2_full,
            _ => &self.logins_native,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a text statement routed to the writer for `reasons`.
    pub fn routed_to_writer(&self, reasons: tandem_router::PinReasons) {
        let bits = reasons.bits();
        for (i, c) in self.writer_reasons.iter().enumerate() {
            if bits & (1 << i) != 0 {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The per-reason counts, by the reason's name.
    pub fn writer_reasons(&self) -> Vec<(String, u64)> {
        self.writer_reasons
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let name = tandem_router::PinReasons::from_bits_retain(1 << i).to_string();
                (name != "-" && !name.is_empty()).then(|| (name, c.load(Ordering::Relaxed)))
            })
            .collect()
    }
}

/// What other sessions may do to a session: find its backend threads (KILL QUERY) and end it
/// (KILL CONNECTION).
#[derive(Default)]
pub struct Control {
    /// The user the session is logged in as (changes with COM_CHANGE_USER).
    pub user: Mutex<String>,
    /// Per node, the backend connection id the session holds there.
    pub backend_ids: Mutex<Vec<Option<u32>>>,
    /// Set by KILL CONNECTION.
    pub killed: std::sync::atomic::AtomicBool,
    /// Wakes an idle session that was killed.
    pub kill: Notify,
    /// Why the session keeps its backend connections while quiet (multiplexing; bits of
    /// `PinReasons` and `session::multiplex::HOLD_*`; 0 when it holds none or may give them
    /// back).
    pub holding: std::sync::atomic::AtomicU32,
}

pub struct Shared {
    /// The configuration the proxy started with.
    pub config: Config,
    /// The `[proxy]` limits and timeouts in force (a reload swaps them; listen, threads,
    /// max_connections and the pool settings keep their start-up values).
    pub proxy: ArcSwap<crate::config::ProxyConfig>,
    /// Live sessions by Tandem connection id (the id clients see in the handshake).
    pub sessions: DashMap<u32, Arc<Control>>,
    /// Connections in the handshake, by client address (for `max_handshakes_per_address`).
    pub handshakes: DashMap<std::net::IpAddr, usize>,
    /// Logged-in client sessions by user (for `[[users]] max_connections`).
    pub user_sessions: Arc<DashMap<String, usize>>,
    /// Causal reads across sessions: the latest acknowledged write and who has applied it.
    pub causal: Arc<crate::causal::Watermark>,
    /// Who may log in (swapped whole by a reload; sessions already logged in stay): the
    /// servers' accounts (`[monitor] load_users`) overlaid with the configuration's.
    pub users: ArcSwap<HashMap<String, User>>,
    /// The configuration's users.
    pub config_users: ArcSwap<HashMap<String, User>>,
    /// The servers' native-password accounts, as last read.
    pub server_users: ArcSwap<HashMap<String, User>>,
    /// Sessions with an open transaction on the writer.
    pub open_transactions: AtomicUsize,
    /// A graceful switchover is waiting for open transactions: new ones wait (`write_hold`).
    pub switching: std::sync::atomic::AtomicBool,
    /// Wakes the writes a switchover held when it ends.
    pub switch_done: Notify,
    /// caching_sha2_password entries learnt from full authentications (users configured by
    /// hash only), by user.
    pub sha2_cache: DashMap<String, crate::frontend::Sha2Entry>,
    /// The RSA key pair for caching_sha2_password's key exchange (`rsa_key_exchange`), made
    /// on first use.
    rsa: std::sync::OnceLock<Option<tandem_backend::rsa::ServerKey>>,
    /// What Tandem presents to TLS clients (swapped by a reload).
    pub server_tls: arc_swap::ArcSwapOption<tandem_backend::ServerTls>,
    /// Statement digests for `GET /digests`.
    pub digests: crate::digests::Digests,
    /// Per node (by the monitor's index; a reload appends, never moves): its connection pool.
    pub pools: ArcSwap<Vec<Arc<Pool>>>,
    /// The backends as last configured (start-up, then each reload), by name.
    backends: ArcSwap<Vec<crate::config::BackendConfig>>,
    /// Per node: its causal-read follower (`read_your_writes = "global"`).
    followers: Mutex<Vec<Option<tokio::task::AbortHandle>>>,
    pub monitor: Monitor,
    /// The monitor's published snapshot (the same cell, not a copy): sessions route by its
    /// `topology` and wake on the monitor's change notification.
    pub topology: Arc<ArcSwap<Snapshot>>,
    pub next_conn_id: AtomicU32,
    pub stats: Stats,
    /// The latest topology events (time, text), newest last.
    pub events: Mutex<VecDeque<(String, String)>>,
    /// Live sessions per event loop (worker 0 first).
    pub worker_sessions: Arc<Vec<AtomicUsize>>,
    /// The machine's cores (no busy polling on one).
    cores: usize,
}

/// Nodes Tandem can follow without a restart (start-up ones and those reloads add; a session's
/// causal-read bookkeeping is a 64-bit set).
pub const MAX_NODES: usize = 64;

/// A connection pool for backend `b`, sized by the start-up `[proxy]` settings.
pub fn pool_for(config: &Config, b: &crate::config::BackendConfig, shards: usize) -> Arc<Pool> {
    Arc::new(Pool::new(
        b.name.clone(),
        b.address.clone(),
        b.validated_tls(),
        &config.proxy,
        shards,
    ))
}

/// A client session counted against its user's `max_connections` until dropped.
pub struct UserSlot {
    counts: Arc<DashMap<String, usize>>,
    user: String,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        self.counts.remove_if_mut(&self.user, |_, n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
    }
}

impl Shared {
    /// Backend `name` as last configured.
    pub fn backend_config(&self, name: &str) -> Option<crate::config::BackendConfig> {
        self.backends
            .load()
            .iter()
            .find(|b| b.name == name)
            .cloned()
    }

    /// The backends of a reloaded configuration.
    pub fn set_backend_configs(&self, backends: Vec<crate::config::BackendConfig>) {
        self.backends.store(Arc::new(backends));
    }

    /// Node `i`'s connection pool.
    pub fn pool(&self, i: usize) -> Option<Arc<Pool>> {
        self.pools.load().get(i).cloned()
    }

    /// Starts (or restarts, for a node a reload moved) node `i`'s causal-read follower, when
    /// causal reads are global.
    pub fn start_follower(&self, i: usize, b: &crate::config::BackendConfig) {
        if self.config.routing.read_your_writes != crate::config::ReadYourWrites::Global {
            return;
        }
        let task = tokio::spawn(crate::causal::follow(
            self.causal.clone(),
            i,
            b.address.clone(),
            b.validated_tls(),
            self.config.monitor.user.clone(),
            self.config.monitor.password.clone(),
            self.config.health.timeout,
        ));
        let mut f = self.followers.lock().unwrap_or_else(|e| e.into_inner());
        if f.len() <= i {
            f.resize(i + 1, None);
        }
        if let Some(old) = f[i].replace(task.abort_handle()) {
            old.abort();
        }
    }

    /// Stops node `i`'s causal-read follower (`None`: every one, as the proxy stops).
    pub fn stop_followers(&self, i: Option<usize>) {
        let mut f = self.followers.lock().unwrap_or_else(|e| e.into_inner());
        for (j, task) in f.iter_mut().enumerate() {
            if i.is_none_or(|i| i == j) {
                if let Some(t) = task.take() {
                    t.abort();
                }
            }
        }
    }

    /// Counts a client session of `user`; the refusal's message (for ERR 1203) when the user
    /// already holds its `max_connections`.
    pub fn take_user_slot(&self, user: &str) -> Result<UserSlot, String> {
        let cap = self.users.load().get(user).and_then(|u| u.max_connections);
        let mut n = self.user_sessions.entry(user.to_owned()).or_insert(0);
        if cap.is_some_and(|cap| *n >= cap) {
            return Err(format!(
                "User {user} already has more than 'max_user_connections' active connections"
            ));
        }
        *n += 1;
        Ok(UserSlot {
            counts: self.user_sessions.clone(),
            user: user.to_owned(),
        })
    }

    /// The RSA key for caching_sha2_password without TLS, when `rsa_key_exchange` is on
    /// (generated at the first login that needs it; `None` if that failed, logged once).
    pub fn rsa_key(&self) -> Option<&tandem_backend::rsa::ServerKey> {
        if !self.proxy.load().rsa_key_exchange {
            return None;
        }
        self.rsa
            .get_or_init(|| {
                tandem_backend::rsa::ServerKey::generate()
                    .map_err(
                        |e| tracing::error!(error = %e, "no RSA key for caching_sha2_password"),
                    )
                    .ok()
            })
            .as_ref()
    }

    /// How long the current worker busy-polls before its event loop sleeps
    /// ([`crate::spin`]): `busy_poll` while the machine has cores to spare for it — more than
    /// one core, this worker serving at most one session, and at most one session per four
    /// cores in all (a spinning worker holds a core; on two cores, two spinning workers starve
    /// the servers and clients beside them) — else zero.
    pub fn busy_poll(&self) -> std::time::Duration {
        let live = |n: &AtomicUsize| n.load(Ordering::Relaxed);
        let alone = self
            .worker_sessions
            .get(crate::workers::current())
            .is_none_or(|n| live(n) <= 1);
        let total: usize = self.worker_sessions.iter().map(live).sum();
        if alone && self.cores > 1 && total <= (self.cores / 4).max(1) {
            self.proxy.load().busy_poll
        } else {
            std::time::Duration::ZERO
        }
    }

    /// Shared state for session event loops whose live sessions `workers` counts (one per loop).
    pub fn new(config: Config, monitor: Monitor, workers: Arc<Vec<AtomicUsize>>) -> Arc<Shared> {
        let users = users_from(&config);
        let causal = Arc::new(crate::causal::Watermark::new(
            config.backends.len().max(MAX_NODES),
        ));
        let pools = config
            .backends
            .iter()
            .map(|b| pool_for(&config, b, workers.len()))
            .collect();
        Arc::new(Shared {
            config_users: ArcSwap::from_pointee(users.clone()),
            server_users: ArcSwap::from_pointee(HashMap::new()),
            users: ArcSwap::from_pointee(users),
            proxy: ArcSwap::from_pointee(config.proxy.clone()),
            digests: crate::digests::Digests::default(),
            sha2_cache: DashMap::new(),
            rsa: std::sync::OnceLock::new(),
            server_tls: arc_swap::ArcSwapOption::new(
                config
                    .tls
                    .as_ref()
                    .and_then(|t| t.server_tls().ok())
                    .map(Arc::new),
            ),
            open_transactions: AtomicUsize::new(0),
            switching: std::sync::atomic::AtomicBool::new(false),
            switch_done: Notify::new(),
            pools: ArcSwap::from_pointee(pools),
            followers: Mutex::new(Vec::new()),
            backends: ArcSwap::from_pointee(config.backends.clone()),
            topology: monitor.snapshot_cell(),
            monitor,
            config,
            next_conn_id: AtomicU32::new(1),
            sessions: DashMap::new(),
            handshakes: DashMap::new(),
            user_sessions: Arc::new(DashMap::new()),
            causal,
            stats: Stats::default(),
            events: Mutex::new(VecDeque::new()),
            worker_sessions: workers,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    }

    /// Keeps each pool's cap below what its server can take (`max_connections`, as checked).
    pub async fn follow_server_caps(self: Arc<Shared>) {
        let mut watch = self.monitor.watch();
        while watch.changed().await.is_ok() {
            let snapshot = self.monitor.snapshot();
            for (pool, node) in self.pools.load().iter().zip(&snapshot.nodes) {
                let server = node.status.as_ref().and_then(|s| s.connection_cap());
                pool.set_server_cap(server, node.warmth);
            }
        }
    }

    /// Keeps the latest monitor events for the admin interface and counts writer changes.
    pub async fn record_events(self: Arc<Shared>, mut rx: broadcast::Receiver<Event>) {
        loop {
            let event = match rx.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(n)) => Event::WriterChanged {
                    from: None,
                    to: None,
                    reason: format!("{n} events dropped (admin log lagged)"),
                },
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if matches!(event, Event::WriterChanged { .. }) {
                self.stats.writer_changes.fetch_add(1, Ordering::Relaxed);
            }
            let at = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
            let mut log = self.events.lock().unwrap_or_else(|e| e.into_inner());
            if log.len() >= EVENT_LOG {
                log.pop_front();
            }
            log.push_back((at, format!("{event:?}")));
        }
    }

    /// The event log as admin rows.
    pub fn recent_events(&self) -> Vec<Vec<Option<String>>> {
        let log = self.events.lock().unwrap_or_else(|e| e.into_inner());
        log.iter()
            .map(|(at, e)| vec![Some(at.clone()), Some(e.clone())])
            .collect()
    }

    /// Runs an operator's request. One that moves the writes away from a live writer
    /// (switchover, or draining the writer) is graceful: new transactions and writes wait,
    /// open transactions get up to half of `write_hold` to finish, then the writes move (a
    /// transaction still open then ends with 1180, as on any writer change).
    pub async fn operate(&self, op: Operation) -> Result<(), OperatorError> {
        let snap = self.topology.load_full();
        let writer = snap
            .writer
            .and_then(|w| snap.nodes.get(w))
            .map(|n| n.name.as_str());
        let moves_writes = match &op {
            Operation::Drain(n) => writer == Some(n.as_str()),
            Operation::SetWriter(n) => writer.is_some_and(|w| w != n),
            _ => false,
        };
        if !moves_writes {
            return self.monitor.operate(op).await;
        }
        self.switching.store(true, Ordering::Release);
        let wait = self.proxy.load().write_hold / 2;
        let deadline = tokio::time::Instant::now() + wait;
        while self.open_transactions.load(Ordering::Relaxed) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let left = self.open_transactions.load(Ordering::Relaxed);
        if left > 0 {
            tracing::warn!(
                open = left,
                "switchover: transactions still open after {wait:?} end with 1180"
            );
        }
        let result = self.monitor.operate(op).await;
        self.switching.store(false, Ordering::Release);
        self.switch_done.notify_waiters();
        result
    }

    /// The caching_sha2 entry Tandem knows for `user`: from the configuration, or learnt.
    pub fn sha2_entry(&self, user: &str) -> Option<crate::frontend::Sha2Entry> {
        self.users
            .load()
            .get(user)
            .and_then(|u| u.sha2)
            .or_else(|| self.sha2_cache.get(user).map(|e| *e))
    }

    pub fn conn_id(&self) -> u32 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// The users a configuration lets log in.
pub fn users_from(config: &Config) -> HashMap<String, User> {
    config
        .users
        .iter()
        .filter_map(|u| {
            let stored = match (&u.password, &u.password_hash) {
                (Some(p), _) => native_password::hash_password(p.as_bytes()),
                (None, Some(h)) => native_password::parse_stored_hash(h)?,
                (None, None) => return None,
            };
            Some((
                u.name.clone(),
                User {
                    stored,
                    connection_admin: u.connection_admin,
                    require_tls: u.require_tls,
                    sha2: u
                        .password
                        .as_ref()
                        .map(|p| crate::frontend::Sha2Entry::from_password(p.as_bytes())),
                    password: u.password.as_ref().map(|p| Secret(p.as_bytes().into())),
                    max_connections: u.max_connections,
                    max_backend_connections: u.max_backend_connections,
                },
            ))
        })
        .collect()
}
