//! Configuration: the TOML file an operator writes, parsed strictly (unknown keys are errors) and
//! validated once at load time, so that a running proxy never meets a bad value.
//!
//! Durations are strings (`"2s"`, `"500ms"`); the health section carries HAProxy's names and
//! meanings (`inter`, `downinter`, `rise`, `fall`) so settings carry over from a `server ... check`
//! line unchanged.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use tandem_monitor::{
    durations, ElectionSettings, Failback, Failover, FenceSettings, HealthSettings,
};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The client-facing listener and engine limits.
    pub proxy: ProxyConfig,
    /// Health-check cadence (HAProxy semantics).
    #[serde(default)]
    pub health: HealthSettings,
    /// Credentials and limits of the replication-status poller.
    pub monitor: MonitorConfig,
    /// Routing knobs.
    #[serde(default)]
    pub routing: RoutingConfig,
    /// Writer safety: failover, failback, auto-increment fence.
    #[serde(default)]
    pub writer: WriterConfig,
    /// The admin interface (MySQL protocol, ProxySQL-style); off when absent.
    #[serde(default)]
    pub admin: Option<AdminConfig>,
    /// The admin HTTP interface (stats page, metrics, status, actions); off when absent.
    #[serde(default)]
    pub http: Option<HttpConfig>,
    /// TLS for clients (and for the admin HTTP interface with `[http] tls = true`); off when
    /// absent.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// The database nodes, in any order; `weight` decides the writer.
    pub backends: Vec<BackendConfig>,
    /// The users clients may log in as (the same users exist on the backends).
    pub users: Vec<UserConfig>,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// The file this configuration was read from (what a reload re-reads).
    #[serde(skip)]
    pub source: Option<std::path::PathBuf>,
}

/// `[proxy]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Address to listen on for MySQL clients.
    pub listen: SocketAddr,
    /// Client connections accepted at once; beyond it clients get ERR 1040.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
    /// Time a client has to complete the handshake and authentication.
    #[serde(default = "defaults::handshake_timeout", with = "durations")]
    pub handshake_timeout: Duration,
    /// Largest handshake response accepted before authentication, in bytes (user, auth data,
    /// schema and connect attributes; MySQL caps attributes at 64 KiB). Larger: ERR 1043.
    #[serde(default = "defaults::max_handshake_size")]
    pub max_handshake_size: usize,
    /// Connections from one client address that may be in the handshake at once; beyond it
    /// new ones get ERR 1040 at once (a flood of unauthenticated connections costs little).
    #[serde(default = "defaults::max_handshakes_per_address")]
    pub max_handshakes_per_address: usize,
    /// How long a write waits for a writer to become available before it is refused.
    #[serde(default = "defaults::write_hold", with = "durations")]
    pub write_hold: Duration,
    /// Largest packet accepted from a client, in bytes (like `max_allowed_packet`).
    #[serde(default = "defaults::max_packet_size")]
    pub max_packet_size: usize,
    /// Time to connect to (and log in to) a backend; also the limit for Tandem's own small
    /// statements on a backend connection (session state, access mode, reset, prepare).
    #[serde(default = "defaults::connect_timeout", with = "durations")]
    pub connect_timeout: Duration,
    /// Longest a statement may run on a backend (HAProxy's `timeout server`; the classic
    /// deployment used 480m). Past it the connection is closed and the client gets ERR 2013
    /// (or a disconnect when part of the answer was sent).
    #[serde(default = "defaults::backend_timeout", with = "durations")]
    pub backend_timeout: Duration,
    /// Idle pooled backend connections kept per node (shared out among the worker threads).
    #[serde(default = "defaults::pool_max_idle")]
    pub pool_max_idle: usize,
    /// Backend connections per node, busy and idle together; lowered at run time to what the
    /// server can take (its `max_connections` / `max_user_connections` less a reserve of a
    /// tenth, at least 4, for the monitor, replication and administrators).
    #[serde(default = "defaults::pool_max_connections")]
    pub pool_max_connections: usize,
    /// How long a statement waits for a backend connection when the cap is reached, before
    /// it fails with ERR 1040 naming the node.
    #[serde(default = "defaults::pool_wait_timeout", with = "durations")]
    pub pool_wait_timeout: Duration,
    /// Idle pooled connections older than this are closed.
    #[serde(default = "defaults::pool_idle_timeout", with = "durations")]
    pub pool_idle_timeout: Duration,
    /// On SIGTERM/SIGINT, how long running sessions may finish before they are cut.
    #[serde(default = "defaults::shutdown_timeout", with = "durations")]
    pub shutdown_timeout: Duration,
    /// The authentication plugin announced to clients: `"auto"` (default: what the writer would
    /// announce — caching_sha2_password for MySQL 8 and later, mysql_native_password for
    /// MariaDB), `"mysql_native_password"` or `"caching_sha2_password"`.
    #[serde(default)]
    pub default_auth: DefaultAuth,
    /// caching_sha2_password for a client in clear text whose password Tandem has not seen:
    /// `false` (default) asks it to switch to mysql_native_password, which every driver can;
    /// `true` runs the RSA key exchange as a MySQL 8 server does (the client asks for Tandem's
    /// public key — a 2048-bit key made at the first such login — and sends its password
    /// encrypted; drivers must allow it, e.g. Connector/J `allowPublicKeyRetrieval=true`,
    /// `mysql --get-server-public-key`). TLS is better than either.
    #[serde(default)]
    pub rsa_key_exchange: bool,
    /// Statements that take longer are logged (digest and timings, never values); `"off"`
    /// (default) logs none.
    #[serde(default, with = "durations::optional")]
    pub slow_statement: Option<Duration>,
    /// Multiplexing: a session that goes quiet gives its backend connections back to the pools
    /// (without a reset: their session state is known from session tracking) unless something
    /// ties it to them — a transaction, locks, temporary tables, user variables, prepared
    /// statements, the previous statement's diagnostics (see README "Multiplexing"). Its next
    /// statement takes a connection again with the session's variables re-applied. Default on.
    #[serde(default = "defaults::multiplex")]
    pub multiplex: bool,
    /// How long a quiet session keeps its connections before giving them back (a page's next
    /// statement usually comes sooner and reuses them).
    #[serde(default = "defaults::multiplex_linger", with = "durations")]
    pub multiplex_linger: Duration,
    /// A worker serving a single session polls for the next packet (the backend's answer, the
    /// client's next command) for up to this long before its event loop sleeps: a lone
    /// client's round trip skips the kernel's sleep and wake-up, the largest cost at one client
    /// thread. Off on a one-core machine and for workers with more than one session; `"0s"`
    /// turns it off.
    #[serde(default = "defaults::busy_poll", with = "durations")]
    pub busy_poll: Duration,
    /// Worker threads, each a single-threaded event loop that owns its sessions (HAProxy's
    /// `nbthread`): 0 = one per core, 1 = everything on one thread.
    #[serde(default)]
    pub threads: usize,
}

/// `[proxy] default_auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultAuth {
    /// What the writer would announce.
    #[default]
    Auto,
    /// mysql_native_password.
    MysqlNativePassword,
    /// caching_sha2_password.
    CachingSha2Password,
}

/// `[monitor]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// The monitor user: REPLICATION CLIENT, SLAVE MONITOR and PROCESS on MariaDB 10.11; for
    /// the auto_increment fence (on by default) also SELECT and ALTER on the application
    /// schemas, and READ_ONLY ADMIN with `fence = "read_only"` (docs/deploying.md has the grants
    /// for MariaDB and MySQL 8).
    pub user: String,
    /// Its password.
    pub password: String,
    /// Readers lagging more than this leave the read pool.
    #[serde(default = "defaults::max_lag", with = "durations")]
    pub max_lag: Duration,
    /// Let the servers' `mysql_native_password` accounts log in too (read with this login,
    /// which then needs SELECT on `mysql.global_priv` (MariaDB) or `mysql.user` (MySQL));
    /// `[[users]]` keep working and win over an account of the same name.
    #[serde(default)]
    pub load_users: bool,
    /// How often the servers' accounts are read again (and on every reload).
    #[serde(default = "defaults::users_refresh", with = "durations")]
    pub users_refresh: Duration,
}

impl fmt::Debug for MonitorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitorConfig")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("max_lag", &self.max_lag)
            .field("load_users", &self.load_users)
            .field("users_refresh", &self.users_refresh)
            .finish()
    }
}

/// How reads see writes when they go to replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadYourWrites {
    /// Reads may go to a replica right after a write.
    Off,
    /// A session's reads go to the writer for this long after its own write.
    Window(Duration),
    /// A replica serves a session's reads only once it has applied the session's last write.
    Session,
    /// A replica serves a read only once it has applied every write Tandem acknowledged to any
    /// client before the read started (causal reads across sessions).
    Global,
}

impl ReadYourWrites {
    /// The router's time window, if any.
    pub fn window(self) -> Option<Duration> {
        match self {
            ReadYourWrites::Window(d) => Some(d),
            _ => None,
        }
    }
}

/// `[routing]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// `"global"` (default) — a replica serves a read only once it has applied every write
    /// acknowledged to any client before the read started; `"session"` (or `"gtid"`) — only
    /// once it has applied the session's own last write; `"1s"` (a duration) — after a write,
    /// the session reads from the writer for that long; `"off"`.
    #[serde(default = "defaults::read_your_writes", with = "ryw")]
    pub read_your_writes: ReadYourWrites,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            read_your_writes: defaults::read_your_writes(),
        }
    }
}

/// `writer.fence`: how proxies sharing the nodes agree on the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FenceMode {
    /// Each proxy elects by weight and health alone.
    #[default]
    None,
    /// Keep every node but the writer `read_only=ON` and let the flags decide the writer for
    /// every proxy that shares the nodes.
    ReadOnly,
}

impl fmt::Display for FenceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FenceMode::None => "none",
            FenceMode::ReadOnly => "read_only",
        })
    }
}

/// `[writer]`: how the writer role moves. Missing keys take the monitor's defaults
/// ([`ElectionSettings::default`], [`FenceSettings::default`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriterConfig {
    /// `"safe"`: promote the next node by weight once it has caught up; `"off"`: never.
    pub failover: Failover,
    /// `"manual"`: a returning node stays a reader; `"auto"`: it takes writes back once caught up.
    pub failback: Failback,
    /// Raise auto_increment counters on a node before it takes over the writes.
    pub auto_increment_fence: bool,
    /// Schemas to fence (empty: every non-system schema the monitor user can see).
    pub fence_schemas: Vec<String>,
    /// How far above the current counter a new writer starts.
    pub fence_margin: u64,
    /// `"none"`, or `"read_only"` (see [`FenceMode`]).
    pub fence: FenceMode,
    /// Promote past a writer this proxy cannot reach only once the candidate's replication lost
    /// it too (MaxScale's `verify_master_failure`).
    pub verify_failure: bool,
    /// Give up waiting for a candidate to catch up after this long (`"off"`: wait for ever).
    #[serde(with = "durations::optional")]
    pub catch_up_timeout: Option<Duration>,
}

impl Default for WriterConfig {
    fn default() -> Self {
        let election = ElectionSettings::default();
        let fence = FenceSettings::default();
        WriterConfig {
            failover: election.failover,
            failback: election.failback,
            auto_increment_fence: fence.enabled,
            fence_schemas: fence.schemas,
            fence_margin: fence.margin,
            fence: if election.read_only_fence {
                FenceMode::ReadOnly
            } else {
                FenceMode::None
            },
            verify_failure: election.verify_failure,
            catch_up_timeout: election.catch_up_timeout,
        }
    }
}

impl WriterConfig {
    /// The election settings this section describes.
    pub fn election(&self) -> ElectionSettings {
        ElectionSettings {
            failover: self.failover,
            failback: self.failback,
            read_only_fence: self.fence == FenceMode::ReadOnly,
            verify_failure: self.verify_failure,
            catch_up_timeout: self.catch_up_timeout,
        }
    }

    /// The auto-increment fence settings this section describes.
    pub fn fence_settings(&self) -> FenceSettings {
        FenceSettings {
            enabled: self.auto_increment_fence,
            schemas: self.fence_schemas.clone(),
            margin: self.fence_margin,
            ..FenceSettings::default()
        }
    }
}

/// `[[backends]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// Unique name (`cn1`).
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// Writer priority: the highest-weight healthy, writable node takes all writes.
    pub weight: u32,
    /// Share of reads; absent = even spread over healthy nodes.
    #[serde(default)]
    pub read_weight: Option<u32>,
    /// TLS to this node; clear text when absent.
    #[serde(default)]
    pub tls: Option<BackendTlsConfig>,
}

/// `[[users]]`: clear-text `password` or a `password_hash` (`*` + 40 hex digits, as in
/// `mysql.user`'s mysql_native_password column).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login name.
    pub name: String,
    /// Clear-text password.
    #[serde(default)]
    pub password: Option<String>,
    /// `*HEX(SHA1(SHA1(password)))`.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// May `KILL` other users' sessions (MariaDB's `CONNECTION ADMIN`); without it a user can
    /// end only its own sessions (others: ERR 1095). Default off.
    #[serde(default)]
    pub connection_admin: bool,
    /// Refuse this user's logins without TLS (MySQL's `REQUIRE SSL`): ERR 1045.
    #[serde(default)]
    pub require_tls: bool,
    /// Client connections this user may hold through Tandem at once (MySQL's per-account
    /// `MAX_USER_CONNECTIONS`, ProxySQL's `mysql_users.max_connections`); beyond it a login
    /// gets ERR 1203. Unlimited when absent.
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// Backend connections this user's sessions may hold to each node at once (busy and idle
    /// together, within the node's `pool_max_connections`): one application cannot take every
    /// connection a server has. At the cap a statement waits up to `pool_wait_timeout` for one
    /// of the user's connections, then gets ERR 1203. Unlimited when absent.
    #[serde(default)]
    pub max_backend_connections: Option<usize>,
}

impl fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("connection_admin", &self.connection_admin)
            .field("require_tls", &self.require_tls)
            .field("max_connections", &self.max_connections)
            .field("max_backend_connections", &self.max_backend_connections)
            .finish()
    }
}

/// A configuration that cannot be used, naming the offending field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// TOML syntax, a wrong type or an unknown key (the message names it).
    #[error("{0}")]
    Parse(#[from] toml::de::Error),
    /// A value that parses but makes no sense.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// Dotted path of the field, e.g. `backends[1].weight`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

impl Config {
    /// Reads, parses and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Config::parse(&text)?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and validates configuration text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value that parses but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.proxy;
        if p.max_connections == 0 {
            return Err(invalid("proxy.max_connections", "must be at least 1"));
        }
        if p.max_packet_size < 1024 || p.max_packet_size > 1 << 30 {
            return Err(invalid(
                "proxy.max_packet_size",
                "must be between 1 KiB and 1 GiB",
            ));
        }
        if p.max_handshake_size < 1024 {
            return Err(invalid(
                "proxy.max_handshake_size",
                "must be at least 1024 bytes",
            ));
        }
        if p.max_handshakes_per_address == 0 {
            return Err(invalid(
                "proxy.max_handshakes_per_address",
                "must be at least 1",
            ));
        }
        if p.pool_max_connections == 0 {
            return Err(invalid("proxy.pool_max_connections", "must be at least 1"));
        }
        let h = &self.health;
        for (field, d) in [
            ("health.inter", h.inter),
            ("health.downinter", h.downinter),
            ("health.timeout", h.timeout),
        ] {
            if d.is_zero() {
                return Err(invalid(field, "must be greater than zero"));
            }
        }
        if h.rise == 0 {
            return Err(invalid("health.rise", "must be at least 1"));
        }
        if h.fall == 0 {
            return Err(invalid("health.fall", "must be at least 1"));
        }
        if let Some(a) = &self.admin {
            admin_listener("admin", &a.user, &a.password, a.listen, a.allow_remote)?;
        }
        if let Some(h) = &self.http {
            admin_listener("http", &h.user, &h.password, h.listen, h.allow_remote)?;
            if h.tls && self.tls.is_none() {
                return Err(invalid("http.tls", "needs a [tls] certificate"));
            }
        }
        if let Some(t) = &self.tls {
            t.server_tls().map_err(|e| invalid("tls", e.to_string()))?;
        }
        if self.users.iter().any(|u| u.require_tls) && self.tls.is_none() {
            return Err(invalid("users", "require_tls needs a [tls] certificate"));
        }
        if self.monitor.user.is_empty() {
            return Err(invalid("monitor.user", "must not be empty"));
        }
        self.validate_backends()?;
        self.validate_users()
    }

    fn validate_backends(&self) -> Result<(), ConfigError> {
        if self.backends.is_empty() {
            return Err(invalid("backends", "at least one backend is required"));
        }
        let mut names = HashSet::new();
        for (i, b) in self.backends.iter().enumerate() {
            if b.name.is_empty() {
                return Err(invalid(format!("backends[{i}].name"), "must not be empty"));
            }
            if !names.insert(b.name.as_str()) {
                return Err(invalid(
                    format!("backends[{i}].name"),
                    format!("duplicate backend name `{}`", b.name),
                ));
            }
            if !valid_host_port(&b.address) {
                return Err(invalid(
                    format!("backends[{i}].address"),
                    format!("`{}` is not host:port", b.address),
                ));
            }
            if let Err(e) = b.client_tls() {
                return Err(invalid(format!("backends[{i}].tls"), e.to_string()));
            }
            if b.weight == 0 {
                return Err(invalid(
                    format!("backends[{i}].weight"),
                    "must be at least 1 (a weight-0 node would never take writes; use read_weight for reads)",
                ));
            }
        }
        Ok(())
    }

    fn validate_users(&self) -> Result<(), ConfigError> {
        if self.users.is_empty() && !self.monitor.load_users {
            return Err(invalid(
                "users",
                "at least one user is required (or [monitor] load_users = true)",
            ));
        }
        let mut names = HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            if u.name.is_empty() {
                return Err(invalid(format!("users[{i}].name"), "must not be empty"));
            }
            if !names.insert(u.name.as_str()) {
                return Err(invalid(
                    format!("users[{i}].name"),
                    format!("duplicate user `{}`", u.name),
                ));
            }
            for (field, cap) in [
                ("max_connections", u.max_connections),
                ("max_backend_connections", u.max_backend_connections),
            ] {
                if cap == Some(0) {
                    return Err(invalid(
                        format!("users[{i}].{field}"),
                        "must be at least 1 (leave it out for no limit)",
                    ));
                }
            }
            match (&u.password, &u.password_hash) {
                (Some(_), None) => {}
                (None, Some(h)) => {
                    if tandem_protocol::auth::native_password::parse_stored_hash(h).is_none() {
                        return Err(invalid(
                            format!("users[{i}].password_hash"),
                            "must be `*` followed by 40 hex digits",
                        ));
                    }
                }
                _ => {
                    return Err(invalid(
                        format!("users[{i}]"),
                        "set exactly one of `password` and `password_hash`",
                    ))
                }
            }
        }
        Ok(())
    }
}

/// An admin listener (`[admin]`, `[http]`): a user and password, loopback unless allowed.
fn admin_listener(
    section: &str,
    user: &str,
    password: &str,
    listen: SocketAddr,
    allow_remote: bool,
) -> Result<(), ConfigError> {
    if user.is_empty() {
        return Err(invalid(format!("{section}.user"), "must not be empty"));
    }
    if password.is_empty() {
        return Err(invalid(format!("{section}.password"), "must not be empty"));
    }
    if !listen.ip().is_loopback() && !allow_remote {
        return Err(invalid(
            format!("{section}.listen"),
            "must be a loopback address unless allow_remote = true",
        ));
    }
    Ok(())
}

fn valid_host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0),
        None => false,
    }
}

pub(crate) mod defaults;

/// `"global"`, `"session"` (`"gtid"`), a duration or `"off"`.
mod ryw {
    use super::*;
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ReadYourWrites, D::Error> {
        let s = String::deserialize(d)?;
        if s.eq_ignore_ascii_case("off") {
            return Ok(ReadYourWrites::Off);
        }
        if s.eq_ignore_ascii_case("gtid") || s.eq_ignore_ascii_case("session") {
            return Ok(ReadYourWrites::Session);
        }
        if s.eq_ignore_ascii_case("global") {
            return Ok(ReadYourWrites::Global);
        }
        durations::parse(&s)
            .map(ReadYourWrites::Window)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "bad read_your_writes (\"global\", \"session\", a duration or \"off\"): {e}"
                ))
            })
    }
}

mod surfaces;

pub use surfaces::{AdminConfig, BackendTlsConfig, HttpConfig, LogConfig, LogFormat, TlsConfig};

#[cfg(test)]
mod tests;
