//! One node's checks: a persistent monitor connection, the status queries, the cadence.

use std::sync::Arc;
use std::time::Instant;

use tandem_backend::{Conn, ConnError};
use tokio::sync::{mpsc, watch};

use super::{MonitorSettings, Msg};
use crate::status::{self, Flavor, NodeStatus};

pub(super) async fn check_loop(
    idx: usize,
    address: String,
    config: MonitorSettings,
    tx: mpsc::Sender<Msg>,
    up: watch::Receiver<Vec<bool>>,
    suspect: Arc<tokio::sync::Notify>,
) {
    // One persistent connection per node, so client load that fills the server's
    // max_connections does not make the monitor's own login fail.
    let mut conn: Option<Conn> = None;
    loop {
        let started = Instant::now();
        let result = check_on(&mut conn, &address, &config).await;
        if tx.send(Msg::Checked(idx, started, result)).await.is_err() {
            return;
        }
        let is_up = up.borrow().get(idx).copied().unwrap_or(false);
        let wait = if is_up {
            config.health.inter
        } else {
            config.health.downinter
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = suspect.notified() => {}
        }
    }
}

/// Why a check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CheckFailure {
    /// What went wrong.
    pub message: String,
    /// The server refused the login for lack of connections (1040 / 1203): it is busy, not
    /// dead, and the check counts neither way.
    pub busy: bool,
}

/// ER_CON_COUNT_ERROR and ER_TOO_MANY_USER_CONNECTIONS: the server is full, not down.
fn is_busy(e: &ConnError) -> bool {
    matches!(e, ConnError::Server(err) if err.code == 1040 || err.code == 1203)
}

/// One check on a fresh connection: a real login as the monitor user plus the status queries,
/// within `timeout`.
pub async fn check(address: &str, config: &MonitorSettings) -> Result<NodeStatus, CheckFailure> {
    check_on(&mut None, address, config).await
}

/// One check on `conn` (logged in first when there is none; dropped after any failure, so the
/// next check logs in again), within `timeout`.
pub async fn check_on(
    conn: &mut Option<Conn>,
    address: &str,
    config: &MonitorSettings,
) -> Result<NodeStatus, CheckFailure> {
    let work = async {
        if conn.is_none() {
            let login = config.login_for(address);
            *conn = Some(Conn::connect(address, login, config.health.timeout).await?);
        }
        let Some(conn) = conn.as_mut() else {
            return Err(ConnError::Login("no connection".into()));
        };
        let flavor = Flavor::detect(conn.server_version());
        let vars_sql = match flavor {
            Flavor::MariaDb => status::VARIABLES_QUERY_MARIADB,
            Flavor::MySql => status::VARIABLES_QUERY_MYSQL,
        };
        let vars = conn.query(vars_sql).await?.maps();
        let vars = vars.into_iter().next().unwrap_or_default();
        let version = vars
            .get("version")
            .cloned()
            .flatten()
            .unwrap_or_else(|| conn.server_version().to_owned());
        let replica = conn
            .query(status::replica_status_query(flavor, &version))
            .await?
            .maps();
        NodeStatus::parse(&vars, &replica).map_err(|e| ConnError::Login(e.to_string()))
    };
    let result = tokio::time::timeout(config.health.timeout, work).await;
    if !matches!(result, Ok(Ok(_))) {
        *conn = None;
    }
    match result {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(CheckFailure {
            busy: is_busy(&e),
            message: e.to_string(),
        }),
        Err(_) => Err(CheckFailure {
            message: format!("check timed out after {:?}", config.health.timeout),
            busy: false,
        }),
    }
}
