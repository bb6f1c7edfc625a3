//! Hot reload (SIGHUP or `POST /reload`): the file is read and validated completely first, so an
//! invalid file changes nothing and the error names the field. Then what can change under
//! running sessions is applied — backends added, removed or moved and their weights (through the
//! monitor, which publishes a new topology), users (swapped atomically; sessions already logged
//! in stay), the `[proxy]` limits sessions read per use — and every other section that differs
//! is reported as needing a restart.
//!
//! Nodes keep their index for the life of the process: an added node takes the next one (or
//! the index of a removed node of the same name), a removed node stays behind as `removed`,
//! out of routing, its pool closing connections as their sessions give them back. A node that
//! takes the writes cannot be removed or moved by a reload: the reload is refused as a whole.

use std::collections::HashMap;

use serde::Serialize;
use tandem_monitor::{Operation, OperatorError};
use tracing::{info, warn};

use crate::config::{Config, ConfigError};
use crate::shared::{users_from, Shared};

/// What a reload did.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ReloadReport {
    /// Changes now in force, e.g. `cn2.read_weight: default -> 50`.
    pub applied: Vec<String>,
    /// Sections that differ from the running configuration but take a restart.
    pub needs_restart: Vec<String>,
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The proxy was started from a configuration that did not come from a file.
    #[error("no configuration file to reload (started without one)")]
    NoFile,
    /// The new file is invalid; the running configuration stays in force.
    #[error("the new configuration is invalid, nothing changed: {0}")]
    Invalid(#[from] ConfigError),
    /// The monitor refused a change.
    #[error("cannot apply: {0}")]
    Monitor(#[from] OperatorError),
    /// The writer would be removed or moved; nothing changed.
    #[error("{0} takes the writes: move them to another node (POST /writer/NAME) before a reload removes or moves it; nothing changed")]
    RemovesWriter(String),
    /// More nodes than Tandem follows without a restart.
    #[error("{slots} nodes over the life of this process is more than the {max} a reload can add up to; restart Tandem")]
    TooManyNodes {
        /// Nodes there would be (removed ones keep their place).
        slots: usize,
        /// Nodes this process can follow.
        max: usize,
    },
}

/// Reloads run one at a time (SIGHUP and `POST /reload` may come together).
static RELOADING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Re-reads the configuration file and applies what can change live.
pub async fn reload(shared: &Shared) -> Result<ReloadReport, ReloadError> {
    let path = shared.config.source.clone().ok_or(ReloadError::NoFile)?;
    let new = Config::load(&path).inspect_err(|e| warn!(error = %e, "reload refused"))?;
    let mut report = ReloadReport {
        applied: Vec::new(),
        needs_restart: restart_sections(&shared.config, &new),
    };
    let _one_at_a_time = RELOADING.lock().await;
    nodes(shared, &new, &mut report).await?;
    live_limits(shared, &new, &mut report);
    if let Some(t) = &new.tls {
        // Validated with the file: the certificate and key are read again.
        if let Ok(tls) = t.server_tls() {
            shared.server_tls.store(Some(std::sync::Arc::new(tls)));
            report
                .applied
                .push("tls certificate (read again)".to_owned());
        }
    }
    let users = users_from(&new);
    if !same_users(&shared.config_users.load(), &users) {
        report
            .applied
            .push(format!("users ({} configured)", users.len()));
        shared.config_users.store(std::sync::Arc::new(users));
        shared
            .users
            .store(std::sync::Arc::new(crate::server_users::merged(shared)));
    }
    if shared.config.monitor.load_users {
        match crate::server_users::refresh(shared).await {
            Ok(n) => report
                .applied
                .push(format!("server accounts read again ({n})")),
            Err(e) => warn!(error = %e, "reload: cannot read the servers' accounts"),
        }
    }
    info!(applied = ?report.applied, needs_restart = ?report.needs_restart, "configuration reloaded");
    Ok(report)
}

fn same_users(
    a: &HashMap<String, crate::shared::User>,
    b: &HashMap<String, crate::shared::User>,
) -> bool {
    a.len() == b.len()
        && a.iter().all(|(k, u)| {
            b.get(k).is_some_and(|v| {
                v.stored == u.stored
                    && v.connection_admin == u.connection_admin
                    && v.require_tls == u.require_tls
                    && v.max_connections == u.max_connections
                    && v.max_backend_connections == u.max_backend_connections
            })
        })
}

/// The `[proxy]` settings sessions read per use take effect at once; the rest of the section
/// (listener, threads, connection and pool sizes) is reported as needing a restart.
fn live_limits(shared: &Shared, new: &Config, report: &mut ReloadReport) {
    /// `("proxy.field", changed)` for each field.
    macro_rules! changes {
        ($old:expr, $new:expr; $($field:ident),+) => {
            [$((concat!("proxy.", stringify!($field)), $old.$field != $new.$field)),+]
        };
    }
    let old = shared.proxy.load_full();
    let n = &new.proxy;
    let fixed = changes!(old, n; listen, threads, max_connections, connect_timeout,
        pool_max_idle, pool_max_connections, pool_wait_timeout, pool_idle_timeout);
    let live = changes!(old, n; handshake_timeout, max_handshake_size,
        max_handshakes_per_address, write_hold, max_packet_size, backend_timeout,
        shutdown_timeout, slow_statement, multiplex, multiplex_linger, rsa_key_exchange, busy_poll);
    let named = |list: &[(&str, bool)]| -> Vec<String> {
        list.iter()
            .filter(|(_, c)| *c)
            .map(|(name, _)| (*name).to_owned())
            .collect()
    };
    report.needs_restart.extend(named(&fixed));
    let changed = named(&live);
    if changed.is_empty() {
        return;
    }
    // What needs a restart keeps its start-up value.
    let next = crate::config::ProxyConfig {
        listen: old.listen,
        threads: old.threads,
        max_connections: old.max_connections,
        connect_timeout: old.connect_timeout,
        pool_max_idle: old.pool_max_idle,
        pool_max_connections: old.pool_max_connections,
        pool_wait_timeout: old.pool_wait_timeout,
        pool_idle_timeout: old.pool_idle_timeout,
        ..n.clone()
    };
    shared.proxy.store(std::sync::Arc::new(next));
    report.applied.extend(changed);
}

/// Sections other than backends and users that differ (compared as parsed, so formatting and
/// comments do not count).
fn restart_sections(old: &Config, new: &Config) -> Vec<String> {
    let differs =
        |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
    let mut out = Vec::new();
    let sections: [(&str, bool); 8] = [
        ("log", differs(&old.log, &new.log)),
        (
            "tls (added, removed or require changed)",
            old.tls.is_some() != new.tls.is_some()
                || old.tls.as_ref().map(|t| t.require) != new.tls.as_ref().map(|t| t.require),
        ),
        ("health", differs(&old.health, &new.health)),
        (
            "monitor",
            differs(&old.monitor, &new.monitor) || old.monitor.password != new.monitor.password,
        ),
        ("routing", differs(&old.routing, &new.routing)),
        ("writer", differs(&old.writer, &new.writer)),
        (
            "admin",
            differs(&old.admin, &new.admin)
                || old.admin.as_ref().map(|a| &a.password)
                    != new.admin.as_ref().map(|a| &a.password),
        ),
        (
            "http",
            differs(&old.http, &new.http)
                || old.http.as_ref().map(|a| &a.password) != new.http.as_ref().map(|a| &a.password),
        ),
    ];
    for (name, changed) in sections {
        if changed {
            out.push(name.to_owned());
        }
    }
    out
}

/// Backends added, removed, moved (a new address or TLS setting) and reweighed, by name.
async fn nodes(
    shared: &Shared,
    new: &Config,
    report: &mut ReloadReport,
) -> Result<(), ReloadError> {
    let snap = shared.topology.load_full();
    let live = |name: &str| snap.nodes.iter().position(|n| n.name == name && !n.removed);
    let old_config = |name: &str| shared.backend_config(name);
    let moved = |b: &crate::config::BackendConfig| {
        old_config(&b.name).is_some_and(|o| o.address != b.address || o.tls != b.tls)
    };
    let removed: Vec<usize> = (snap.nodes.iter().enumerate())
        .filter(|(_, n)| !n.removed && !new.backends.iter().any(|b| b.name == n.name))
        .map(|(i, _)| i)
        .collect();
    let moves: Vec<&crate::config::BackendConfig> = (new.backends.iter())
        .filter(|b| live(&b.name).is_some() && moved(b))
        .collect();
    let added: Vec<&crate::config::BackendConfig> = (new.backends.iter())
        .filter(|b| live(&b.name).is_none())
        .collect();
    // Refused before anything changes.
    let writer = snap.writer;
    let touched = removed
        .iter()
        .copied()
        .chain(moves.iter().filter_map(|b| live(&b.name)));
    for i in touched {
        if writer == Some(i) {
            return Err(ReloadError::RemovesWriter(snap.nodes[i].name.clone()));
        }
    }
    let fresh = added
        .iter()
        .filter(|b| !snap.nodes.iter().any(|n| n.name == b.name))
        .count();
    let slots = snap.nodes.len() + fresh;
    if fresh > 0 && slots > shared.causal.capacity() {
        let max = shared.causal.capacity();
        return Err(ReloadError::TooManyNodes { slots, max });
    }
    for &i in &removed {
        let name = snap.nodes[i].name.clone();
        shared
            .monitor
            .operate(Operation::RemoveNode(name.clone()))
            .await?;
        retire(shared, i);
        report.applied.push(format!("{name} removed"));
    }
    for b in &moves {
        let Some(i) = live(&b.name) else { continue };
        shared
            .monitor
            .operate(Operation::RemoveNode(b.name.clone()))
            .await?;
        retire(shared, i);
        add(shared, b, i).await?;
        let from = old_config(&b.name).map(|o| o.address).unwrap_or_default();
        report
            .applied
            .push(format!("{} moved: {from} -> {}", b.name, b.address));
    }
    for b in &added {
        let at = shared.topology.load();
        let i = at
            .nodes
            .iter()
            .position(|n| n.name == b.name)
            .unwrap_or(at.nodes.len());
        drop(at);
        add(shared, b, i).await?;
        report
            .applied
            .push(format!("{} added at {}", b.name, b.address));
    }
    // Weights of the nodes that stay.
    for b in &new.backends {
        if moves.iter().any(|m| m.name == b.name) {
            continue; // added afresh with its weights
        }
        let Some(i) = live(&b.name) else { continue }; // added
        let n = &snap.nodes[i];
        let weight = (n.weight != b.weight).then_some(b.weight);
        let read_weight = (n.read_weight != b.read_weight).then_some(b.read_weight);
        if weight.is_none() && read_weight.is_none() {
            continue;
        }
        shared
            .monitor
            .operate(Operation::Weigh {
                node: n.name.clone(),
                weight,
                read_weight,
            })
            .await?;
        if let Some(w) = weight {
            report
                .applied
                .push(format!("{}.weight: {} -> {w}", n.name, n.weight));
        }
        if let Some(r) = read_weight {
            let show = |r: Option<u32>| r.map_or("default".to_owned(), |r| r.to_string());
            report.applied.push(format!(
                "{}.read_weight: {} -> {}",
                n.name,
                show(n.read_weight),
                show(r)
            ));
        }
    }
    shared.set_backend_configs(new.backends.clone());
    Ok(())
}

/// Node `i` leaves: its pool closes its connections, its causal follower stops.
fn retire(shared: &Shared, i: usize) {
    if let Some(pool) = shared.pool(i) {
        pool.retire();
    }
    shared.stop_followers(Some(i));
}

/// Backend `b` takes index `i` (the next one, or a removed node's): a fresh pool and causal
/// follower first, so the node has them by the time its first check lets sessions route to it.
async fn add(
    shared: &Shared,
    b: &crate::config::BackendConfig,
    i: usize,
) -> Result<(), ReloadError> {
    let pool = crate::shared::pool_for(&shared.config, b, shared.worker_sessions.len());
    let mut pools = (**shared.pools.load()).clone();
    if i < pools.len() {
        pools[i] = pool;
    } else {
        pools.push(pool);
    }
    shared.pools.store(std::sync::Arc::new(pools));
    shared.causal.forget(i);
    shared.start_follower(i, b);
    let node = crate::server::node_config(b);
    shared
        .monitor
        .operate(Operation::AddNode(Box::new(node)))
        .await?;
    let at = shared.topology.load();
    let placed = at.nodes.iter().position(|n| n.name == b.name && !n.removed);
    if placed != Some(i) {
        warn!(node = %b.name, expected = i, ?placed, "an added node took another index than planned");
    }
    Ok(())
}
