//! The auto-increment fence. Asynchronous replication can lose the dead writer's last commits:
//! they never reached the peer, and their clients may never have seen the OK. When the old writer
//! rejoins, those rows collide with ids the new writer handed out meanwhile, and replication stops
//! on both nodes with a duplicate key. So before a new writer takes writes, every table with an
//! auto_increment column (in the configured schemas) gets its counter raised by a margin:
//! whatever the old writer committed unseen lies in `[counter, counter + lost)`, below the ids the
//! new writer now hands out.

use std::time::{Duration, Instant};

use tandem_backend::{Conn, ConnError, Login};

/// Fence settings.
#[derive(Debug, Clone)]
pub struct FenceSettings {
    /// Fence at all (`auto_increment_fence`).
    pub enabled: bool,
    /// Schemas whose tables are fenced (empty: every non-system schema the user can see).
    pub schemas: Vec<String>,
    /// How far above the current counter the new writer starts.
    pub margin: u64,
    /// Metadata lock wait per table.
    pub lock_wait: Duration,
}

impl Default for FenceSettings {
    fn default() -> Self {
        FenceSettings {
            enabled: true,
            schemas: Vec::new(),
            margin: 10_000,
            lock_wait: Duration::from_secs(2),
        }
    }
}

/// What a fence did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FenceReport {
    /// `schema.table`, old counter, new counter.
    pub tables: Vec<(String, u64, u64)>,
    /// Wall time it took.
    pub took: Duration,
}

fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// Raises the auto_increment counters on the node at `address`.
pub async fn fence(
    address: &str,
    login: Login<'_>,
    settings: &FenceSettings,
    timeout: Duration,
) -> Result<FenceReport, ConnError> {
    let started = Instant::now();
    if !settings.enabled {
        return Ok(FenceReport::default());
    }
    let mut conn = Conn::connect(address, login, timeout).await?;
    let wait = settings.lock_wait.as_secs().max(1);
    conn.exec(&format!("SET SESSION lock_wait_timeout = {wait}"))
        .await?;
    if crate::status::Flavor::detect(conn.server_version()) == crate::status::Flavor::MySql {
        // MySQL 8 caches information_schema.TABLES.AUTO_INCREMENT (24 h by default): read the
        // counters as they are now.
        conn.exec("SET SESSION information_schema_stats_expiry = 0")
            .await?;
    }
    let which = if settings.schemas.is_empty() {
        "NOT IN ('mysql','information_schema','performance_schema','sys')".to_owned()
    } else {
        let schemas: Vec<String> = settings.schemas.iter().map(|s| literal(s)).collect();
        format!("IN ({})", schemas.join(","))
    };
    let rows = conn
        .query(&format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES \
             WHERE AUTO_INCREMENT IS NOT NULL AND TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA {which}"
        ))
        .await?;
    let mut report = FenceReport::default();
    for row in rows.rows {
        let (Some(Some(schema)), Some(Some(table)), Some(Some(counter))) =
            (row.first(), row.get(1), row.get(2))
        else {
            continue;
        };
        let Ok(counter) = counter.parse::<u64>() else {
            continue;
        };
        let to = counter.saturating_add(settings.margin);
        conn.exec(&format!(
            "ALTER TABLE {}.{} AUTO_INCREMENT = {to}",
            quote(schema),
            quote(table)
        ))
        .await?;
        report
            .tables
            .push((format!("{schema}.{table}"), counter, to));
    }
    report.took = started.elapsed();
    Ok(report)
}

/// Sets `read_only` on the node at `address` (the read-only fence). The monitor user needs
/// `READ_ONLY ADMIN` on MariaDB 10.5+ (`SUPER` on MySQL); with it, the user's own statements
/// (the auto_increment fence) still run on a read-only node.
pub async fn set_read_only(
    address: &str,
    login: Login<'_>,
    on: bool,
    timeout: Duration,
) -> Result<(), ConnError> {
    let work = async {
        let mut conn = Conn::connect(address, login, timeout).await?;
        let value = if on { "ON" } else { "OFF" };
        conn.exec(&format!("SET GLOBAL read_only = {value}"))
            .await?;
        Ok(())
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(ConnError::Timeout),
    }
}
