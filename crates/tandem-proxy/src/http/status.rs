//! `GET /status`: what the stats page and `/metrics` show, as one JSON document with stable
//! field names (documented in README, "Admin HTTP"). Built per request from the monitor's
//! snapshot, the pools and the counters.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tandem_monitor::IoState;

use crate::shared::Shared;

/// The whole status document.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Tandem's version.
    pub version: &'static str,
    /// The node taking writes.
    pub writer: Option<String>,
    /// Why there is no writer (empty when there is one).
    pub no_writer_reason: String,
    /// The latest writer change and why it happened (the event), when there was one.
    pub last_writer_change: Option<EventRow>,
    /// Every node, in configuration order.
    pub nodes: Vec<NodeRow>,
    /// Client sessions.
    pub sessions: Sessions,
    /// Statement and safety counters.
    pub counters: Counters,
    /// The latest topology events, newest last.
    pub events: Vec<EventRow>,
}

/// One node.
#[derive(Debug, Serialize)]
pub struct NodeRow {
    pub name: String,
    pub address: String,
    /// `up` or `down` (after rise/fall).
    pub state: &'static str,
    /// `writer`, `reader`, `drained` (maintenance) or `out` (down, lagging, broken replication).
    pub role: &'static str,
    pub weight: u32,
    /// `null`: the default even spread.
    pub read_weight: Option<u32>,
    pub drained: bool,
    /// `@@read_only`, when checked.
    pub read_only: Option<bool>,
    pub server_version: Option<String>,
    pub lag_seconds: Option<f64>,
    /// `gtid_current_pos` (MariaDB) or `gtid_executed` (MySQL).
    pub gtid: Option<String>,
    pub semi_sync: Option<bool>,
    /// Inbound replication channels.
    pub replication: Vec<ChannelRow>,
    /// Seconds since it last went up or down.
    pub state_for_seconds: Option<f64>,
    /// In its slow start (`[health] slowstart`): the percentage of its read share and pool
    /// cap it has now; absent otherwise.
    pub warming_percent: Option<u32>,
    /// The latest check: `ok` or the error.
    pub last_check: Option<String>,
    pub last_check_seconds_ago: Option<f64>,
    pub check_latency_ms: Option<f64>,
    pub pool: PoolRow,
}

/// One replication channel of a node.
#[derive(Debug, Serialize)]
pub struct ChannelRow {
    pub source: String,
    /// `running`, `connecting` or `stopped`.
    pub io: &'static str,
    pub sql_running: bool,
    pub seconds_behind: Option<u64>,
    pub last_io_error: Option<String>,
    pub last_sql_error: Option<String>,
}

/// A node's backend connections.
#[derive(Debug, Serialize)]
pub struct PoolRow {
    /// Open (busy and idle).
    pub live: usize,
    pub idle: usize,
    /// The cap in force (configured, lowered to what the server takes).
    pub cap: usize,
}

#[derive(Debug, Serialize)]
pub struct Sessions {
    pub open: usize,
    pub total: u64,
    /// Live sessions per event loop.
    pub per_worker: Vec<usize>,
    /// Sessions keeping their backend connections while quiet, by what ties them there
    /// (`transaction`, `user_vars`, `temp_table`, `prepared_statements`, `diagnostics`, ...;
    /// a session may count under several). Multiplexing gives the others' back.
    pub holding: std::collections::BTreeMap<&'static str, u64>,
}

#[derive(Debug, Serialize)]
pub struct Counters {
    pub statements_writer: u64,
    pub statements_reader: u64,
    /// Reads a reader refused as writes (1792), re-run on the writer.
    pub misroutes: u64,
    /// Reads sent to the writer because no reader had applied the latest acknowledged write.
    pub causal_to_writer: u64,
    pub refused_no_writer: u64,
    pub auth_failures: u64,
    pub writer_changes: u64,
    /// Text statements the router sent to the writer, by reason (`statement`: not a pure read;
    /// `transaction`, `temp_table`, `user_vars`, `hint`, ...); a statement may have several.
    pub routed_to_writer: std::collections::BTreeMap<String, u64>,
    /// Accepted client logins by how they were checked (`native`, `sha2_fast`, `sha2_full`).
    pub logins: std::collections::BTreeMap<&'static str, u64>,
    /// Backend connections quiet sessions gave back to the pools (multiplexing).
    pub parked: u64,
}

#[derive(Debug, Serialize)]
pub struct EventRow {
    pub at: String,
    pub event: String,
}

impl Status {
    /// The status now.
    pub fn collect(shared: &Shared) -> Status {
        let mut s = Status::gather(shared);
        s.last_writer_change = s
            .events
            .iter()
            .rev()
            .find(|e| e.event.starts_with("WriterChanged"))
            .map(|e| EventRow {
                at: e.at.clone(),
                event: e.event.clone(),
            });
        s
    }

    fn gather(shared: &Shared) -> Status {
        let snap = shared.topology.load_full();
        let now = SystemTime::now();
        let ago = |t: Option<SystemTime>| {
            t.and_then(|t| now.duration_since(t).ok())
                .map(|d| round(d.as_secs_f64()))
        };
        let nodes = snap
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.removed)
            .map(|(i, n)| {
                let st = n.status.as_ref();
                let role = if snap.writer == Some(i) {
                    "writer"
                } else if n.drained {
                    "drained"
                } else if snap.topology.is_reader(i) {
                    "reader"
                } else {
                    "out"
                };
                let pool = shared.pool(i);
                let pool = pool.as_deref();
                NodeRow {
                    name: n.name.clone(),
                    address: n.address.clone(),
                    state: if n.up { "up" } else { "down" },
                    role,
                    weight: n.weight,
                    read_weight: n.read_weight,
                    drained: n.drained,
                    read_only: st.map(|s| s.read_only),
                    server_version: st.map(|s| s.version.clone()),
                    lag_seconds: n.lag.map(|l| round(l.as_secs_f64())),
                    gtid: st
                        .and_then(|s| s.gtid_current.as_ref())
                        .map(|g| g.to_string()),
                    semi_sync: st.and_then(|s| s.semi_sync),
                    replication: st.map(channels).unwrap_or_default(),
                    state_for_seconds: ago(n.state_since),
                    warming_percent: n.warmth.map(|w| (w * 100.0).round() as u32),
                    last_check: n.checked.map(|c| {
                        if c.ok {
                            "ok".to_owned()
                        } else {
                            n.last_error.clone().unwrap_or_else(|| "failed".into())
                        }
                    }),
                    last_check_seconds_ago: ago(n.checked.map(|c| c.at)),
                    check_latency_ms: n.checked.map(|c| ms(c.took)),
                    pool: PoolRow {
                        live: pool.map_or(0, |p| p.live()),
                        idle: pool.map_or(0, |p| p.idle()),
                        cap: pool.map_or(0, |p| p.cap()),
                    },
                }
            })
            .collect();
        let s = &shared.stats;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        Status {
            version: env!("CARGO_PKG_VERSION"),
            writer: snap
                .writer
                .and_then(|w| snap.nodes.get(w))
                .map(|n| n.name.clone()),
            no_writer_reason: snap.no_writer_reason.clone(),
            nodes,
            sessions: Sessions {
                open: shared.sessions.len(),
                total: load(&s.sessions),
                per_worker: shared
                    .worker_sessions
                    .iter()
                    .map(|n| n.load(Ordering::Relaxed))
                    .collect(),
                holding: holding(shared),
            },
            counters: Counters {
                statements_writer: load(&s.statements_writer),
                statements_reader: load(&s.statements_reader),
                misroutes: load(&s.misroutes),
                causal_to_writer: load(&s.causal_to_writer),
                refused_no_writer: load(&s.refused_no_writer),
                auth_failures: load(&s.auth_failures),
                writer_changes: load(&s.writer_changes),
                routed_to_writer: s.writer_reasons().into_iter().collect(),
                logins: [
                    ("native", load(&s.logins_native)),
                    ("sha2_fast", load(&s.logins_sha2_fast)),
                    ("sha2_full", load(&s.logins_sha2_full)),
                ]
                .into_iter()
                .collect(),
                parked: load(&s.parked),
            },
            last_writer_change: None,
            events: shared
                .recent_events()
                .into_iter()
                .map(|row| {
                    let mut it = row.into_iter().flatten();
                    EventRow {
                        at: it.next().unwrap_or_default(),
                        event: it.next().unwrap_or_default(),
                    }
                })
                .collect(),
        }
    }
}

fn channels(s: &tandem_monitor::NodeStatus) -> Vec<ChannelRow> {
    let nonempty = |e: &str, n: u32| (n != 0).then(|| format!("{n}: {e}"));
    s.channels
        .iter()
        .map(|c| ChannelRow {
            source: c.source.clone(),
            io: match c.io {
                IoState::Running => "running",
                IoState::Connecting => "connecting",
                IoState::Stopped => "stopped",
            },
            sql_running: c.sql_running,
            seconds_behind: c.seconds_behind,
            last_io_error: nonempty(&c.last_io_error, c.last_io_errno),
            last_sql_error: nonempty(&c.last_sql_error, c.last_sql_errno),
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1000.0)
}

/// Three decimals are enough for people and for JSON diffs.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Sessions holding their connections, by reason.
fn holding(shared: &Shared) -> std::collections::BTreeMap<&'static str, u64> {
    let mut out = std::collections::BTreeMap::new();
    for s in shared.sessions.iter() {
        let bits = s.holding.load(Ordering::Relaxed);
        for reason in crate::session::multiplex::hold_reasons(bits) {
            *out.entry(reason).or_insert(0) += 1;
        }
    }
    out
}
