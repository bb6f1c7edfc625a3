//! Running Tandem in-process in front of the test pair, and client helpers.

use std::net::SocketAddr;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use tandem_testkit::Pair;
use tokio::sync::oneshot;

/// A proxy running on a background task; stops when dropped. Its sessions are spread over two
/// event loops, as in the binary on a 2-core machine: the test's runtime and one extra worker.
pub struct Proxy {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Configuration text for the test pair; `extra` is appended (more sections, overrides).
pub fn config_text(pair: &Pair, proxy_extra: &str) -> String {
    format!(
        r#"
[proxy]
listen = "127.0.0.1:0"
write_hold = "3s"
{proxy_extra}

[health]
inter = "300ms"
downinter = "300ms"
rise = 2
fall = 2
timeout = "1s"

[monitor]
user = "monitor"
password = "monpass"
max_lag = "10s"

[[backends]]
name = "cn1"
address = "127.0.0.1:{}"
weight = 256

[[backends]]
name = "cn2"
address = "127.0.0.1:{}"
weight = 1

[[users]]
name = "app"
password = "apppass"

[[users]]
name = "hashed"
password_hash = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
"#,
        pair.cn1.port, pair.cn2.port
    )
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts Tandem with `config` without waiting for it.
pub async fn start_unchecked(config: &str) -> Proxy {
    let config = tandem_proxy::Config::parse(config).expect("valid test config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let workers = tandem_proxy::Workers::start(1).expect("worker thread");
    tokio::spawn(async move {
        let _ = tandem_proxy::run_on(
            listener,
            config,
            async {
                let _ = rx.await;
            },
            workers,
        )
        .await;
    });
    Proxy {
        addr,
        stop: Some(tx),
    }
}

/// Starts Tandem with `config` and waits until it accepts writes.
pub async fn start(config: &str) -> Proxy {
    let proxy = start_unchecked(config).await;
    proxy.wait_ready().await;
    proxy
}

impl Proxy {
    /// A Tandem started elsewhere (another process) listening on `addr`.
    pub fn at(addr: SocketAddr) -> Proxy {
        Proxy { addr, stop: None }
    }

    /// Waits until the proxy accepts a write (up to 20 s).
    pub async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let last = match mysql_async::Conn::new(opts(self, "shop")).await {
                Ok(mut c) => match c.query_drop("DO 0").await {
                    Ok(()) => {
                        let _ = c.disconnect().await;
                        return;
                    }
                    Err(e) => e,
                },
                Err(e) => e,
            };
            assert!(
                tokio::time::Instant::now() < deadline,
                "proxy never accepted a write: {last}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The `mariadb` CLI through Tandem as `user`, with `extra` options, in schema `shop`;
/// returns (success, stdout + stderr).
pub fn mariadb(
    proxy: &Proxy,
    user: &str,
    password: &str,
    extra: &[&str],
    sql: &str,
) -> (bool, String) {
    let out = std::process::Command::new("mariadb")
        .args(["--no-defaults", "-h", "127.0.0.1", "-u", user])
        .arg(format!("-p{password}"))
        .arg(format!("-P{}", proxy.addr.port()))
        .args(extra)
        .args(["shop", "-e", sql])
        .output()
        .expect("run mariadb");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// mysql_async options for the app user through the proxy.
pub fn opts(proxy: &Proxy, db: &str) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname(proxy.addr.ip().to_string())
        .tcp_port(proxy.addr.port())
        .user(Some("app"))
        .pass(Some("apppass"))
        .db_name(Some(db))
        .prefer_socket(false)
        .into()
}

/// Turns the general log on (to a table) on both nodes, emptied.
pub fn general_log_on(pair: &Pair) {
    for n in [&pair.cn1, &pair.cn2] {
        n.query("SET GLOBAL general_log = OFF; TRUNCATE mysql.general_log; SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = ON");
    }
}

/// Statements the node's general log holds that contain `marker`, in order.
pub fn logged(node: &tandem_testkit::Node, marker: &str) -> Vec<String> {
    node.query(&format!(
        "SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log WHERE command_type IN ('Query','Execute','Prepare') AND user_host LIKE 'app%' AND CONVERT(argument USING utf8mb4) LIKE '%{marker}%' ORDER BY event_time"
    ))
    .into_iter()
    .map(|r| r.join("\t"))
    .collect()
}

/// The PrestaShop-style tables the workload tests use (`ps_orders`, `ps_order_detail`, and
/// `ps_product` with three products), created if missing.
pub async fn shop_tables(c: &mut mysql_async::Conn) {
    for sql in [
        "CREATE TABLE IF NOT EXISTS ps_orders (id_order INT AUTO_INCREMENT PRIMARY KEY, id_customer INT, total DECIMAL(10,2), created DATETIME)",
        "CREATE TABLE IF NOT EXISTS ps_order_detail (id_order_detail INT AUTO_INCREMENT PRIMARY KEY, id_order INT NOT NULL, product VARCHAR(64))",
        "CREATE TABLE IF NOT EXISTS ps_product (id_product INT PRIMARY KEY, name VARCHAR(64))",
        "INSERT IGNORE INTO ps_product VALUES (1,'mug'),(2,'shirt'),(3,'poster')",
    ] {
        c.query_drop(sql).await.expect(sql);
    }
}

/// A TCP forwarder in front of `target` that can be cut. While cut it moves no bytes in either
/// direction and new connections are accepted but never answered — a partition as the proxy
/// sees it (TCP retransmits, nothing arrives), while the target keeps replicating with its peer.
/// Healing delivers what was held, as TCP would.
pub struct Blackhole {
    pub addr: SocketAddr,
    cut: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Blackhole {
    pub async fn start(target: SocketAddr) -> Blackhole {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let cut = std::sync::Arc::new(tokio::sync::watch::channel(false).0);
        let c = cut.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut rx = c.subscribe();
                tokio::spawn(async move {
                    if rx.wait_for(|cut| !cut).await.is_err() {
                        return;
                    }
                    let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        _ = pump(cr, sw, rx.clone()) => {}
                        _ = pump(sr, cw, rx) => {}
                    }
                });
            }
        });
        Blackhole { addr, cut, task }
    }

    /// Cuts (`true`) or heals (`false`) the link.
    pub fn cut(&self, on: bool) {
        self.cut.send_replace(on);
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.cut.send_replace(false);
        self.task.abort();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut cut: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if cut.wait_for(|cut| !cut).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if cut.wait_for(|cut| !cut).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
