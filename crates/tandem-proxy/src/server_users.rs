//! Users from the servers (`[monitor] load_users = true`): Tandem reads the accounts' stored
//! `mysql_native_password` hashes with the monitor login (it needs `SELECT` on
//! `mysql.global_priv` on MariaDB, `mysql.user` on MySQL) and lets clients log in with them,
//! refreshed every `users_refresh` and on reload. Users in the configuration keep working and
//! win over a server account of the same name.
//!
//! Only `mysql_native_password` accounts can be carried over: Tandem must both check the
//! client's answer and log in to the backends on its behalf, and from an ed25519 public key or
//! a caching_sha2 digest it can do neither. Host patterns are not evaluated: a name matches if
//! the client's answer fits any of that name's native hashes (the servers still apply their
//! host rules to Tandem's own address).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tandem_backend::Conn;
use tandem_protocol::auth::native_password;
use tracing::warn;

use crate::shared::{Shared, User};

/// The accounts on MariaDB 10.4+ (whose `mysql.user` is a view needing its own grant).
const QUERY_MARIADB: &str = "SELECT User, JSON_VALUE(Priv, '$.plugin'), \
                             JSON_VALUE(Priv, '$.authentication_string') FROM mysql.global_priv";
/// The accounts on MySQL.
const QUERY_MYSQL: &str = "SELECT User, plugin, authentication_string FROM mysql.user";

/// Reads the native-password accounts of one node.
pub async fn fetch(shared: &Shared) -> Result<HashMap<String, User>, String> {
    let snap = shared.topology.load_full();
    let node = snap
        .writer
        .or_else(|| snap.nodes.iter().position(|n| n.up))
        .ok_or("no node is up")?;
    let address = &snap.nodes[node].address;
    let settings = crate::server::monitor_config(&shared.config);
    let login = settings.login_for(address);
    let timeout = shared.config.health.timeout.max(Duration::from_secs(2));
    let mut conn = Conn::connect(address, login, timeout)
        .await
        .map_err(|e| e.to_string())?;
    let mysql = snap.nodes[node]
        .status
        .as_ref()
        .is_some_and(|s| s.flavor == tandem_monitor::Flavor::MySql);
    let query = if mysql { QUERY_MYSQL } else { QUERY_MARIADB };
    let rows = conn.query(query).await.map_err(|e| e.to_string())?;
    let mut users: HashMap<String, User> = HashMap::new();
    let mut skipped = Vec::new();
    for row in rows.rows {
        let [Some(name), plugin, Some(hash)] =
            [row.first(), row.get(1), row.get(2)].map(|c| c.cloned().flatten())
        else {
            continue;
        };
        let native = plugin
            .as_deref()
            .is_none_or(|p| p == "mysql_native_password");
        match native_password::parse_stored_hash(&hash).filter(|_| native) {
            Some(stored) => {
                users.entry(name).or_insert(User {
                    stored,
                    connection_admin: false,
                    require_tls: false,
                    sha2: None,
                    password: None,
                    max_connections: None,
                    max_backend_connections: None,
                });
            }
            None if !name.is_empty() => skipped.push(name),
            None => {}
        }
    }
    if !skipped.is_empty() {
        skipped.sort();
        skipped.dedup();
        tracing::debug!(accounts = ?skipped, "server accounts not usable through Tandem (not mysql_native_password)");
    }
    Ok(users)
}

/// The users clients may log in as: the servers' accounts, overlaid with the configuration's.
pub fn merged(shared: &Shared) -> HashMap<String, User> {
    let mut all = (**shared.server_users.load()).clone();
    all.extend(
        shared
            .config_users
            .load()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    all
}

/// Refreshes the server accounts now; on failure the last good set stays.
pub async fn refresh(shared: &Shared) -> Result<usize, String> {
    let fetched = fetch(shared).await?;
    let n = fetched.len();
    shared.server_users.store(Arc::new(fetched));
    shared.users.store(Arc::new(merged(shared)));
    Ok(n)
}

/// Keeps the server accounts fresh every `users_refresh`.
pub async fn follow(shared: Arc<Shared>) {
    let every = shared.config.monitor.users_refresh;
    // The first check publishes the topology; then read at once.
    let mut watch = shared.monitor.watch();
    let _ = tokio::time::timeout(Duration::from_secs(10), watch.changed()).await;
    loop {
        match refresh(&shared).await {
            Ok(n) => tracing::debug!(accounts = n, "server accounts read"),
            Err(e) => warn!(error = %e, "cannot read the servers' accounts; keeping the last set"),
        }
        tokio::time::sleep(every).await;
    }
}
