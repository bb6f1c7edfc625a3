//! The admin interface: a MySQL-protocol listener (like ProxySQL's port 6032), bound to loopback
//! unless configured otherwise and authenticated with `mysql_native_password` against `[admin]`
//! credentials and a fresh random salt per connection. Any MySQL client works:
//!
//! ```text
//! mariadb -h 127.0.0.1 -P 6032 -u admin -p -e 'SHOW BACKENDS'
//! ```
//!
//! Commands: `SHOW BACKENDS`, `SHOW WRITER`, `SHOW EVENTS`, `SHOW STATS`, and
//! `SET WRITER = 'name'` — the manual failback (or switchover): the node must be up (and, without
//! the read-only fence, writable); it is fenced like any takeover before it gets the writes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use tandem_protocol::auth::native_password;
use tandem_protocol::{
    encode_text_row, Capabilities, ColumnCount, ColumnDefinition, ColumnType, EofPacket, OkPacket,
    StatusFlags,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tracing::{info, warn};

use crate::client_io::ClientIo;
use crate::config::AdminConfig;
use crate::errors::{self, write_err};
use crate::frontend::{authenticate, Acceptor, Outcome};
use crate::server::HandshakeSlot;
use crate::shared::Shared;

/// Largest command an admin client may send.
const MAX_ADMIN_PACKET: usize = 64 * 1024;

/// Accepts admin connections until the task is dropped.
pub async fn serve(listener: TcpListener, config: AdminConfig, shared: Arc<Shared>) {
    let stored = native_password::hash_password(config.password.as_bytes());
    let user: Arc<str> = config.user.as_str().into();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "admin accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let admin = Admin {
            shared: shared.clone(),
            user: user.clone(),
            stored,
        };
        tokio::spawn(async move {
            admin.session(stream, peer).await;
        });
    }
}

struct Admin {
    shared: Arc<Shared>,
    user: Arc<str>,
    stored: [u8; 20],
}

impl Admin {
    /// One admin connection: the client listener's login path and limits (handshake size,
    /// timeout, per-address cap), then text commands answered with text result sets.
    async fn session(self, stream: TcpStream, peer: std::net::SocketAddr) {
        let shared = self.shared.clone();
        let Some(slot) = HandshakeSlot::take(&shared, peer.ip()) else {
            let mut out = BytesMut::new();
            write_err(
                &mut out,
                0,
                errors::TOO_MANY_CONNECTIONS,
                "Too many connections",
            );
            let mut stream = stream;
            let _ = stream.write_all(&out).await;
            return;
        };
        let mut io = ClientIo::new(stream, peer);
        let stored = |u: &str| (u == &*self.user).then_some(self.stored);
        let on_denied = |u: &str| {
            shared.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
            warn!(user = %u, client = %peer, "admin login refused");
        };
        let acceptor = Acceptor {
            server_version: format!("10.11.0-tandem-admin-{}", env!("CARGO_PKG_VERSION")),
            capabilities: Capabilities::LONG_PASSWORD
                | Capabilities::PROTOCOL_41
                | Capabilities::SECURE_CONNECTION
                | Capabilities::PLUGIN_AUTH
                | Capabilities::TRANSACTIONS
                | Capabilities::CONNECT_WITH_DB,
            max_handshake_size: shared.proxy.load().max_handshake_size,
            stored: &stored,
            on_denied: &on_denied,
            tls: None,
            require_tls: false,
            user_requires_tls: &|_| false,
            plugin: "mysql_native_password",
            sha2_known: &crate::frontend::no_sha2,
            sha2_learn: &crate::frontend::no_sha2_learn,
            on_login: &crate::frontend::uncounted,
            admit: &|_| Ok(None),
            rsa: None,
        };
        let timeout = shared.proxy.load().handshake_timeout;
        let login = tokio::time::timeout(timeout, authenticate(&mut io, &acceptor, 0)).await;
        drop(slot);
        let caps = match login {
            Ok(Ok(Outcome::LoggedIn(l))) => l.capabilities,
            _ => return,
        };
        loop {
            let (seq, payload) = match io.read_packet(MAX_ADMIN_PACKET).await {
                Ok(Some(p)) => p,
                Ok(None) | Err(_) => return,
            };
            let reply = seq.wrapping_add(1);
            let out = match payload.first() {
                Some(0x01) => return,                       // COM_QUIT
                Some(0x0e) | Some(0x02) => ok(reply, caps), // COM_PING, COM_INIT_DB
                Some(0x03) => {
                    let sql = String::from_utf8_lossy(&payload[1..]);
                    self.query(&sql, reply, caps).await
                }
                _ => err(reply, errors::UNKNOWN_COMMAND, "Unknown command"),
            };
            if io.send(&out).await.is_err() {
                return;
            }
        }
    }

    /// Answers one admin statement.
    async fn query(&self, sql: &str, seq: u8, caps: Capabilities) -> BytesMut {
        let Some(cmd) = parse(sql) else {
            return err(seq, errors::PARSE_ERROR, HELP);
        };
        match cmd {
            Command::Backends => {
                let names = [
                    "name",
                    "address",
                    "weight",
                    "state",
                    "role",
                    "read_only",
                    "lag_s",
                    "gtid",
                    "semi_sync",
                    "pool_live",
                    "pool_cap",
                    "last_error",
                ];
                rows(seq, caps, &names, self.backends())
            }
            Command::Writer => rows(seq, caps, &["writer", "reason"], self.writer()),
            Command::Events => rows(seq, caps, &["at", "event"], self.shared.recent_events()),
            Command::Stats => rows(seq, caps, &["name", "value"], self.stats()),
            Command::VersionComment => {
                let row = vec![vec![Some("Tandem admin".to_owned())]];
                rows(seq, caps, &["@@version_comment"], row)
            }
            Command::Ping => ok(seq, caps),
            Command::Explain(sql) => {
                let names = ["kind", "flags", "route", "reasons", "digest", "now"];
                rows(seq, caps, &names, self.explain(&sql))
            }
            Command::SetWriter(name) => match self
                .shared
                .operate(tandem_monitor::Operation::SetWriter(name.clone()))
                .await
            {
                Ok(()) => {
                    info!(node = %name, "writer set by an operator");
                    ok(seq, caps)
                }
                Err(e) => {
                    let msg = format!("cannot make `{name}` the writer: {e}");
                    err(seq, errors::WRONG_ARGUMENTS, &msg)
                }
            },
        }
    }
}

fn ok(seq: u8, caps: Capabilities) -> BytesMut {
    let mut p = BytesMut::new();
    OkPacket::with_status(StatusFlags::AUTOCOMMIT).encode(caps, &mut p);
    let mut out = BytesMut::new();
    tandem_protocol::write_packet(&mut out, seq, &p);
    out
}

fn err(seq: u8, code: (u16, &str), msg: &str) -> BytesMut {
    let mut out = BytesMut::new();
    write_err(&mut out, seq, code, msg);
    out
}

/// A text result set of string columns (classic EOF packets: the admin listener does not offer
/// `CLIENT_DEPRECATE_EOF`).
fn rows(seq: u8, caps: Capabilities, names: &[&str], data: Vec<Vec<Option<String>>>) -> BytesMut {
    let mut out = BytesMut::new();
    let mut seq = seq;
    let mut packet = |out: &mut BytesMut, payload: &BytesMut| {
        tandem_protocol::write_packet(out, seq, payload);
        seq = seq.wrapping_add(1);
    };
    let mut p = BytesMut::new();
    ColumnCount {
        count: names.len() as u64,
        metadata_follows: true,
    }
    .encode(caps, &mut p);
    packet(&mut out, &p);
    for name in names {
        p.clear();
        ColumnDefinition::simple(name, ColumnType::VAR_STRING).encode(caps, &mut p);
        packet(&mut out, &p);
    }
    let eof = EofPacket {
        warnings: 0,
        status: StatusFlags::AUTOCOMMIT,
    };
    p.clear();
    eof.encode(&mut p);
    packet(&mut out, &p);
    for row in data {
        p.clear();
        encode_text_row(&mut p, &row);
        packet(&mut out, &p);
    }
    p.clear();
    eof.encode(&mut p);
    packet(&mut out, &p);
    out
}

/// What an admin statement asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Backends,
    Writer,
    Events,
    Stats,
    SetWriter(String),
    Explain(String),
    VersionComment,
    Ping,
}

fn parse(sql: &str) -> Option<Command> {
    let s = sql.trim().trim_end_matches(';').trim();
    let words: Vec<String> = s
        .split_whitespace()
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["show", "backends"] | ["select", "*", "from", "backends"] => Some(Command::Backends),
        ["show", "writer"] => Some(Command::Writer),
        ["show", "events"] => Some(Command::Events),
        ["show", "stats"] | ["show", "status"] => Some(Command::Stats),
        ["select", "@@version_comment", "limit", "1"] => Some(Command::VersionComment),
        ["select", "1"] | ["do", "1"] => Some(Command::Ping),
        ["explain", _, ..] => {
            let rest = s.get("explain".len()..)?.trim_start();
            Some(Command::Explain(rest.to_owned()))
        }
        ["set", "writer", ..] => {
            let rest = s.get(3..)?.trim_start();
            let rest = rest.get(6..)?.trim_start();
            let name = rest.strip_prefix('=').unwrap_or(rest).trim();
            let name = name.trim_matches(|c| c == '\'' || c == '"' || c == '`');
            (!name.is_empty()).then(|| Command::SetWriter(name.to_owned()))
        }
        _ => None,
    }
}

const HELP: &str = "unknown admin command; try SHOW BACKENDS, SHOW WRITER, SHOW EVENTS, \
                    SHOW STATS, SET WRITER = 'name', EXPLAIN <statement>";

impl Admin {
    fn backends(&self) -> Vec<Vec<Option<String>>> {
        let snap = self.shared.monitor.snapshot();
        snap.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.removed)
            .map(|(i, n)| {
                let role = if snap.writer == Some(i) {
                    "writer"
                } else if n.readable {
                    "reader"
                } else {
                    "out"
                };
                vec![
                    Some(n.name.clone()),
                    Some(n.address.clone()),
                    Some(n.weight.to_string()),
                    Some(if n.up { "up" } else { "down" }.to_owned()),
                    Some(role.to_owned()),
                    n.status.as_ref().map(|s| u8::from(s.read_only).to_string()),
                    n.lag.map(|l| format!("{:.3}", l.as_secs_f64())),
                    n.status
                        .as_ref()
                        .and_then(|s| s.gtid_current.as_ref())
                        .map(|g| g.to_string()),
                    n.status
                        .as_ref()
                        .and_then(|s| s.semi_sync)
                        .map(|on| if on { "on" } else { "off" }.to_owned()),
                    self.shared.pool(i).map(|p| p.live().to_string()),
                    self.shared.pool(i).map(|p| p.cap().to_string()),
                    n.last_error.clone(),
                ]
            })
            .collect()
    }

    /// How a statement is read and where a fresh session would send it now.
    fn explain(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let snap = self.shared.topology.load_full();
        let e = crate::explain(sql, &snap.dialect);
        let now = if e.route == "writer" {
            snap.writer
                .and_then(|w| snap.nodes.get(w))
                .map(|n| n.name.clone())
        } else {
            let readers: Vec<&str> = (0..snap.nodes.len())
                .filter(|&i| snap.topology.is_reader(i))
                .map(|i| snap.nodes[i].name.as_str())
                .collect();
            Some(format!("one of {}", readers.join(", ")))
        };
        vec![vec![
            Some(e.kind),
            Some(e.flags),
            Some(e.route.to_owned()),
            Some(e.reasons),
            Some(e.digest),
            now,
        ]]
    }

    fn writer(&self) -> Vec<Vec<Option<String>>> {
        let snap = self.shared.monitor.snapshot();
        let writer = snap
            .writer
            .and_then(|w| snap.nodes.get(w))
            .map(|n| n.name.clone());
        vec![vec![writer, Some(snap.no_writer_reason.clone())]]
    }

    fn stats(&self) -> Vec<Vec<Option<String>>> {
        let s = &self.shared.stats;
        let load = |a: &std::sync::atomic::AtomicU64| Some(a.load(Ordering::Relaxed).to_string());
        let per_worker = self
            .shared
            .worker_sessions
            .iter()
            .enumerate()
            .map(|(i, n)| {
                vec![
                    Some(format!("sessions_worker_{i}")),
                    Some(n.load(Ordering::Relaxed).to_string()),
                ]
            });
        let mut rows = vec![
            vec![Some("sessions_total".into()), load(&s.sessions)],
            vec![
                Some("sessions_active".into()),
                Some(self.shared.sessions.len().to_string()),
            ],
            vec![Some("statements_writer".into()), load(&s.statements_writer)],
            vec![Some("statements_reader".into()), load(&s.statements_reader)],
            vec![Some("auth_failures".into()), load(&s.auth_failures)],
            vec![Some("refused_no_writer".into()), load(&s.refused_no_writer)],
            vec![Some("misroutes".into()), load(&s.misroutes)],
            vec![Some("causal_to_writer".into()), load(&s.causal_to_writer)],
            vec![Some("writer_changes".into()), load(&s.writer_changes)],
        ];
        rows.extend(per_worker);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_admin_commands() {
        assert_eq!(parse("show backends;"), Some(Command::Backends));
        assert_eq!(parse("  SHOW   WRITER "), Some(Command::Writer));
        assert_eq!(
            parse("SET WRITER = 'cn1'"),
            Some(Command::SetWriter("cn1".into()))
        );
        assert_eq!(
            parse("set writer cn2;"),
            Some(Command::SetWriter("cn2".into()))
        );
        assert_eq!(parse("SET WRITER ="), None);
        assert_eq!(parse("DROP TABLE x"), None);
        assert_eq!(
            parse("EXPLAIN select * from t where id = 1"),
            Some(Command::Explain("select * from t where id = 1".into()))
        );
        assert_eq!(
            parse("select @@version_comment limit 1"),
            Some(Command::VersionComment)
        );
    }
}
