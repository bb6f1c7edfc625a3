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

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use opensrv_mysql::{
    AsyncMysqlIntermediary, AsyncMysqlShim, Column, ColumnFlags, ColumnType, ErrorKind, OkResponse,
    ParamParser, QueryResultWriter, StatementMetaWriter,
};
use tandem_protocol::auth::{generate_salt, native_password};
use tokio::io::AsyncWrite;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::config::AdminConfig;
use crate::shared::Shared;

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
        let shim = Admin {
            shared: shared.clone(),
            user: user.clone(),
            stored,
            salt: generate_salt(),
        };
        tokio::spawn(async move {
            let (r, w) = stream.into_split();
            if let Err(e) = AsyncMysqlIntermediary::run_on(shim, r, w).await {
                info!(client = %peer, error = %e, "admin session ended");
            }
        });
    }
}

struct Admin {
    shared: Arc<Shared>,
    user: Arc<str>,
    stored: [u8; 20],
    salt: [u8; 20],
}

/// What an admin statement asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Backends,
    Writer,
    Events,
    Stats,
    SetWriter(String),
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
                    SHOW STATS, SET WRITER = 'name'";

fn text_columns(names: &[&str]) -> Vec<Column> {
    names
        .iter()
        .map(|n| Column {
            table: String::new(),
            column: (*n).to_owned(),
            coltype: ColumnType::MYSQL_TYPE_VAR_STRING,
            colflags: ColumnFlags::empty(),
        })
        .collect()
}

async fn rows<W: AsyncWrite + Send + Unpin>(
    results: QueryResultWriter<'_, W>,
    names: &[&str],
    data: Vec<Vec<Option<String>>>,
) -> io::Result<()> {
    let cols = text_columns(names);
    let mut w = results.start(&cols).await?;
    for row in data {
        w.write_row(row).await?;
    }
    w.finish().await
}

impl Admin {
    fn backends(&self) -> Vec<Vec<Option<String>>> {
        let snap = self.shared.monitor.snapshot();
        snap.nodes
            .iter()
            .enumerate()
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
                    self.shared.pools.get(i).map(|p| p.live().to_string()),
                    self.shared.pools.get(i).map(|p| p.cap().to_string()),
                    n.last_error.clone(),
                ]
            })
            .collect()
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
            vec![Some("writer_changes".into()), load(&s.writer_changes)],
        ];
        rows.extend(per_worker);
        rows
    }
}

#[async_trait]
impl<W: AsyncWrite + Send + Unpin> AsyncMysqlShim<W> for Admin {
    type Error = io::Error;

    fn version(&self) -> String {
        format!("10.11.0-tandem-admin-{}", env!("CARGO_PKG_VERSION"))
    }

    fn salt(&self) -> [u8; 20] {
        self.salt
    }

    async fn authenticate(
        &self,
        plugin: &str,
        username: &[u8],
        salt: &[u8],
        auth_data: &[u8],
    ) -> bool {
        let ok = plugin == "mysql_native_password"
            && username == self.user.as_bytes()
            && native_password::verify(&self.stored, salt, auth_data).is_some();
        if !ok {
            self.shared
                .stats
                .auth_failures
                .fetch_add(1, Ordering::Relaxed);
            warn!(user = %String::from_utf8_lossy(username), "admin login refused");
        }
        ok
    }

    async fn on_prepare<'a>(
        &'a mut self,
        _: &'a str,
        info: StatementMetaWriter<'a, W>,
    ) -> io::Result<()> {
        info.error(
            ErrorKind::ER_NOT_SUPPORTED_YET,
            b"prepared statements are not supported on the admin interface",
        )
        .await
    }

    async fn on_execute<'a>(
        &'a mut self,
        _: u32,
        _: ParamParser<'a>,
        results: QueryResultWriter<'a, W>,
    ) -> io::Result<()> {
        results
            .error(ErrorKind::ER_UNKNOWN_STMT_HANDLER, b"unknown statement")
            .await
    }

    async fn on_close<'a>(&'a mut self, _: u32)
    where
        W: 'async_trait,
    {
    }

    async fn on_query<'a>(
        &'a mut self,
        sql: &'a str,
        results: QueryResultWriter<'a, W>,
    ) -> io::Result<()> {
        let Some(cmd) = parse(sql) else {
            return results
                .error(ErrorKind::ER_PARSE_ERROR, HELP.as_bytes())
                .await;
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
                rows(results, &names, self.backends()).await
            }
            Command::Writer => rows(results, &["writer", "reason"], self.writer()).await,
            Command::Events => {
                let events = self.shared.recent_events();
                rows(results, &["at", "event"], events).await
            }
            Command::Stats => rows(results, &["name", "value"], self.stats()).await,
            Command::VersionComment => {
                let row = vec![vec![Some("Tandem admin".to_owned())]];
                rows(results, &["@@version_comment"], row).await
            }
            Command::Ping => results.completed(OkResponse::default()).await,
            Command::SetWriter(name) => match self.shared.monitor.set_writer(&name).await {
                Ok(()) => {
                    info!(node = %name, "writer set by an operator");
                    results.completed(OkResponse::default()).await
                }
                Err(e) => {
                    let msg = format!("cannot make `{name}` the writer: {e}");
                    results
                        .error(ErrorKind::ER_WRONG_ARGUMENTS, msg.as_bytes())
                        .await
                }
            },
        }
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
            parse("select @@version_comment limit 1"),
            Some(Command::VersionComment)
        );
    }
}
