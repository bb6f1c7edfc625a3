//! State shared by all sessions: configuration, users, pools, and the routing view derived from
//! each monitor snapshot (converted once per snapshot, then read lock-free per statement).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use tokio::sync::Notify;

use arc_swap::ArcSwap;
use tandem_monitor::{Event, Monitor, Snapshot};
use tokio::sync::broadcast;

/// How many events the admin log keeps.
const EVENT_LOG: usize = 200;
use tandem_protocol::auth::native_password;

use crate::config::Config;
use crate::pool::Pool;

/// A configured user: the stored `SHA1(SHA1(password))`, and the clear password when known.
pub struct User {
    pub stored: [u8; 20],
    /// May KILL other users' sessions.
    pub connection_admin: bool,
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
}

pub struct Shared {
    pub config: Config,
    /// Live sessions by Tandem connection id (the id clients see in the handshake).
    pub sessions: DashMap<u32, Arc<Control>>,
    /// Connections in the handshake, by client address (for `max_handshakes_per_address`).
    pub handshakes: DashMap<std::net::IpAddr, usize>,
    /// Causal reads across sessions: the latest acknowledged write and who has applied it.
    pub causal: Arc<crate::causal::Watermark>,
    pub users: HashMap<String, User>,
    pub pools: Vec<Pool>,
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
}

impl Shared {
    /// Shared state for session event loops whose live sessions `workers` counts (one per loop).
    pub fn new(config: Config, monitor: Monitor, workers: Arc<Vec<AtomicUsize>>) -> Arc<Shared> {
        let users = config
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
                    },
                ))
            })
            .collect();
        let causal = Arc::new(crate::causal::Watermark::new(config.backends.len()));
        let pools = config
            .backends
            .iter()
            .map(|b| {
                Pool::new(
                    b.name.clone(),
                    b.address.clone(),
                    &config.proxy,
                    workers.len(),
                )
            })
            .collect();
        Arc::new(Shared {
            users,
            pools,
            topology: monitor.snapshot_cell(),
            monitor,
            config,
            next_conn_id: AtomicU32::new(1),
            sessions: DashMap::new(),
            handshakes: DashMap::new(),
            causal,
            stats: Stats::default(),
            events: Mutex::new(VecDeque::new()),
            worker_sessions: workers,
        })
    }

    /// Keeps each pool's cap below what its server can take (`max_connections`, as checked).
    pub async fn follow_server_caps(self: Arc<Shared>) {
        let mut watch = self.monitor.watch();
        while watch.changed().await.is_ok() {
            let snapshot = self.monitor.snapshot();
            for (pool, node) in self.pools.iter().zip(&snapshot.nodes) {
                if let Some(status) = &node.status {
                    pool.set_server_cap(status.connection_cap());
                }
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

    pub fn conn_id(&self) -> u32 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }
}
