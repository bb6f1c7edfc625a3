//! What one check learns about a node, parsed from plain rows (column name → value), so the
//! parsing is testable without a server and works for both flavours:
//! MariaDB's `SHOW ALL SLAVES STATUS` and MySQL 8's `SHOW REPLICA STATUS` (whose columns say
//! `Source`/`Replica` where older ones say `Master`/`Slave`).
//!
//! Derived facts follow master-master reality: when the peer dies, a node's inbound replication
//! shows IO errors and NULL lag — that is not staleness of the node (it has applied all there is),
//! so such a node stays fresh. A SQL thread stopped on an error is `replication_broken`.

use std::time::Duration;

use crate::gtid::GtidPosition;

/// One row: column name → value (`None` for SQL NULL).
pub use tandem_backend::Row;

/// Server flavour, which decides the statements a check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// MariaDB (`SHOW ALL SLAVES STATUS`, domain-server-seq GTIDs).
    MariaDb,
    /// MySQL (`SHOW REPLICA STATUS` from 8.0.22, uuid GTID sets).
    MySql,
}

impl Flavor {
    /// From `@@version` (and `@@version_comment`).
    pub fn detect(version: &str) -> Flavor {
        if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        }
    }
}

/// State of a replica IO thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoState {
    /// Connected to its source and receiving.
    Running,
    /// Trying to (re)connect.
    Connecting,
    /// Stopped.
    Stopped,
}

/// One inbound replication channel of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Connection name (MariaDB) or channel name (MySQL); empty for the default.
    pub name: String,
    /// `host:port` of the source.
    pub source: String,
    /// IO thread.
    pub io: IoState,
    /// SQL (applier) thread running.
    pub sql_running: bool,
    /// Last IO error number (0 = none).
    pub last_io_errno: u32,
    /// Last IO error text.
    pub last_io_error: String,
    /// Last SQL error number (0 = none).
    pub last_sql_errno: u32,
    /// Last SQL error text.
    pub last_sql_error: String,
    /// `Seconds_Behind_Master` (NULL when a thread is not running).
    pub seconds_behind: Option<u64>,
    /// Relay log fully applied: the SQL thread has executed everything the IO thread read.
    pub relay_drained: bool,
    /// GTID position received by the IO thread (MariaDB `Gtid_IO_Pos`, MySQL `Retrieved_Gtid_Set`).
    pub gtid_io_pos: Option<GtidPosition>,
}

/// Everything one successful check found out about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// Flavour.
    pub flavor: Flavor,
    /// `@@version`.
    pub version: String,
    /// `@@server_id`.
    pub server_id: u64,
    /// `@@read_only`.
    pub read_only: bool,
    /// `@@auto_increment_increment`.
    pub auto_increment_increment: u64,
    /// `@@auto_increment_offset`.
    pub auto_increment_offset: u64,
    /// Everything this node has (MariaDB `gtid_current_pos`, MySQL `gtid_executed`).
    pub gtid_current: Option<GtidPosition>,
    /// What it wrote to its binlog (MariaDB `gtid_binlog_pos`).
    pub gtid_binlog: Option<GtidPosition>,
    /// What it applied as a replica (MariaDB `gtid_slave_pos`).
    pub gtid_slave: Option<GtidPosition>,
    /// Inbound replication channels.
    pub channels: Vec<Channel>,
    /// Semi-synchronous replication as a source (`rpl_semi_sync_master_enabled`; `None`: not
    /// reported, e.g. MySQL without the plugin).
    pub semi_sync: Option<bool>,
    /// `@@max_connections`.
    pub max_connections: Option<u64>,
    /// `@@max_user_connections` (0: no per-account limit).
    pub max_user_connections: Option<u64>,
}

/// The statement that reads global variables; column names are what [`NodeStatus::parse`] expects.
pub const VARIABLES_QUERY_MARIADB: &str = "SELECT @@version AS version, @@server_id AS server_id, \
    @@read_only AS read_only, @@auto_increment_increment AS aii, @@auto_increment_offset AS aio, \
    @@gtid_current_pos AS gtid_current, @@gtid_binlog_pos AS gtid_binlog, @@gtid_slave_pos AS gtid_slave, \
    @@rpl_semi_sync_master_enabled AS semi_sync, @@max_connections AS max_connections, \
    @@max_user_connections AS max_user_connections";
/// MySQL variant of [`VARIABLES_QUERY_MARIADB`].
pub const VARIABLES_QUERY_MYSQL: &str = "SELECT @@version AS version, @@server_id AS server_id, \
    @@read_only AS read_only, @@auto_increment_increment AS aii, @@auto_increment_offset AS aio, \
    @@global.gtid_executed AS gtid_current, @@max_connections AS max_connections, \
    @@max_user_connections AS max_user_connections";
/// A flavour-neutral first query, to learn the version.
pub const VERSION_QUERY: &str = "SELECT @@version AS version";

/// The replication status statement for a flavour and version.
pub fn replica_status_query(flavor: Flavor, version: &str) -> &'static str {
    match flavor {
        Flavor::MariaDb => "SHOW ALL SLAVES STATUS",
        Flavor::MySql if mysql_at_least(version, (8, 0, 22)) => "SHOW REPLICA STATUS",
        Flavor::MySql => "SHOW SLAVE STATUS",
    }
}

fn mysql_at_least(version: &str, want: (u32, u32, u32)) -> bool {
    let mut it = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().unwrap_or(0));
    let v = (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    );
    v >= want
}

fn get<'a>(row: &'a Row, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| row.get(*n).and_then(|v| v.as_deref()))
}

fn num(row: &Row, names: &[&str]) -> Option<u64> {
    get(row, names).and_then(|v| v.trim().parse().ok())
}

/// Why a check's rows could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected status data: {0}")]
pub struct StatusError(pub String);

impl NodeStatus {
    /// Builds a status from the variables row and the replica status rows.
    pub fn parse(vars: &Row, replica_rows: &[Row]) -> Result<NodeStatus, StatusError> {
        let version = get(vars, &["version"])
            .ok_or_else(|| StatusError("no version".into()))?
            .to_owned();
        let flavor = Flavor::detect(&version);
        let gtid = |name: &str| {
            get(vars, &[name]).and_then(|v| match flavor {
                Flavor::MariaDb => GtidPosition::parse_mariadb(v),
                Flavor::MySql => GtidPosition::parse_mysql(v),
            })
        };
        let read_only = match get(vars, &["read_only"]).map(str::trim) {
            Some("1") | Some("ON") => true,
            Some("0") | Some("OFF") => false,
            other => return Err(StatusError(format!("read_only = {other:?}"))),
        };
        Ok(NodeStatus {
            flavor,
            server_id: num(vars, &["server_id"]).unwrap_or(0),
            read_only,
            auto_increment_increment: num(vars, &["aii"]).unwrap_or(1),
            auto_increment_offset: num(vars, &["aio"]).unwrap_or(1),
            gtid_current: gtid("gtid_current"),
            gtid_binlog: gtid("gtid_binlog"),
            gtid_slave: gtid("gtid_slave"),
            semi_sync: match get(vars, &["semi_sync"]).map(str::trim) {
                Some("1") | Some("ON") => Some(true),
                Some("0") | Some("OFF") => Some(false),
                _ => None,
            },
            max_connections: num(vars, &["max_connections"]),
            max_user_connections: num(vars, &["max_user_connections"]),
            channels: replica_rows
                .iter()
                .map(|r| Channel::parse(r, flavor))
                .collect(),
            version,
        })
    }

    /// How many connections Tandem may open to this server: its `max_connections` (and
    /// `max_user_connections`, when set) less a reserve for the monitor, replication and
    /// administrators (a tenth, at least 4; at least 2 of a per-account limit). `None` when
    /// the server did not say.
    pub fn connection_cap(&self) -> Option<usize> {
        let server = self
            .max_connections
            .map(|m| m.saturating_sub((m / 10).max(4)));
        let user = self
            .max_user_connections
            .filter(|&m| m > 0)
            .map(|m| m.saturating_sub((m / 10).max(2)));
        let cap = match (server, user) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }?;
        Some(usize::try_from(cap).unwrap_or(usize::MAX).max(1))
    }

    /// A channel whose SQL thread stopped on an error: this node's data is diverging.
    pub fn replication_broken(&self) -> bool {
        self.channels
            .iter()
            .any(|c| !c.sql_running && c.last_sql_errno != 0)
    }

    /// A channel whose SQL thread was stopped without an error (`STOP SLAVE`).
    pub fn replication_stopped(&self) -> bool {
        self.channels
            .iter()
            .any(|c| !c.sql_running && c.last_sql_errno == 0)
    }

    /// How far behind this node is as a replica; `None` means "unknown — treat as stale".
    ///
    /// A node with no inbound channel is not a replica: zero. A channel whose IO thread lost its
    /// source (peer dead) but whose relay log is drained has applied everything there is: zero.
    /// A stopped SQL thread makes the lag unknown.
    pub fn replica_lag(&self) -> Option<Duration> {
        let mut worst = Duration::ZERO;
        for c in &self.channels {
            if !c.sql_running {
                return None;
            }
            let lag = match (c.io, c.seconds_behind) {
                (IoState::Running, Some(s)) => Duration::from_secs(s),
                (IoState::Running, None) => return None,
                (_, _) if c.relay_drained => Duration::ZERO,
                (_, Some(s)) => Duration::from_secs(s),
                (_, None) => return None,
            };
            worst = worst.max(lag);
        }
        Some(worst)
    }

    /// True when every channel has applied all it received (relay logs drained).
    pub fn relay_drained(&self) -> bool {
        self.channels.iter().all(|c| c.relay_drained)
    }

    /// Has this node applied everything `other` had when last seen? Needs GTIDs on both.
    pub fn caught_up_with(&self, other: &NodeStatus) -> bool {
        match (&self.gtid_current, &other.gtid_current) {
            (Some(mine), Some(theirs)) => self.relay_drained() && mine.covers(theirs),
            _ => false,
        }
    }
}

impl Channel {
    fn parse(r: &Row, flavor: Flavor) -> Channel {
        let io = match get(r, &["Slave_IO_Running", "Replica_IO_Running"]) {
            Some("Yes") => IoState::Running,
            Some("Connecting") | Some("Preparing") => IoState::Connecting,
            _ => IoState::Stopped,
        };
        let read_file = get(r, &["Master_Log_File", "Source_Log_File"]);
        let exec_file = get(r, &["Relay_Master_Log_File", "Relay_Source_Log_File"]);
        let read_pos = num(r, &["Read_Master_Log_Pos", "Read_Source_Log_Pos"]);
        let exec_pos = num(r, &["Exec_Master_Log_Pos", "Exec_Source_Log_Pos"]);
        let parse_gtid = |v: &str| match flavor {
            Flavor::MariaDb => GtidPosition::parse_mariadb(v),
            Flavor::MySql => GtidPosition::parse_mysql(v),
        };
        let host = get(r, &["Master_Host", "Source_Host"]).unwrap_or("");
        let port = get(r, &["Master_Port", "Source_Port"]).unwrap_or("");
        Channel {
            name: get(r, &["Connection_name", "Channel_Name", "Channel_name"])
                .unwrap_or("")
                .to_owned(),
            source: format!("{host}:{port}"),
            io,
            sql_running: get(r, &["Slave_SQL_Running", "Replica_SQL_Running"]) == Some("Yes"),
            last_io_errno: num(r, &["Last_IO_Errno"]).unwrap_or(0) as u32,
            last_io_error: get(r, &["Last_IO_Error"]).unwrap_or("").to_owned(),
            last_sql_errno: num(r, &["Last_SQL_Errno"]).unwrap_or(0) as u32,
            last_sql_error: get(r, &["Last_SQL_Error"]).unwrap_or("").to_owned(),
            seconds_behind: num(r, &["Seconds_Behind_Master", "Seconds_Behind_Source"]),
            relay_drained: read_file.is_some() && read_file == exec_file && read_pos == exec_pos,
            gtid_io_pos: get(r, &["Gtid_IO_Pos", "Retrieved_Gtid_Set"]).and_then(parse_gtid),
        }
    }
}

#[cfg(test)]
mod tests;
