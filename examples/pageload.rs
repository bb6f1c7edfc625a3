//! A PrestaShop-style, connection-per-request load generator (what sysbench cannot do): each
//! "page" opens a new connection, runs 3 SELECTs, an INSERT and `SELECT LAST_INSERT_ID()`, and
//! closes. Bounded by time and by a page cap; prints one line: pages/s, p95 page latency (ms),
//! errors, and the statements per second.
//!
//! ```text
//! cargo run --release --example pageload -- --port 3306 --workers 16 --secs 10
//! ```
//!
//! With `--clients N`, a shop under a sale instead: N clients connect (spread over the first
//! seconds) and stay connected, each running a page about every `--interval-ms` (jittered):
//! a product lookup, an INSERT, `LAST_INSERT_ID()`, and every tenth page a short transaction.
//! Prints pages/s, p50/p99 page latency, errors (and the first one) and clients connected.
//! Expects database `shop` with `ps_product` / `ps_orders` (created if missing).

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

struct Args {
    host: String,
    port: u16,
    user: String,
    password: String,
    workers: usize,
    secs: u64,
    clients: usize,
    interval_ms: u64,
}

fn args() -> Args {
    let mut a = Args {
        host: "127.0.0.1".into(),
        port: 3306,
        user: "app".into(),
        password: "apppass".into(),
        workers: 16,
        secs: 10,
        clients: 0,
        interval_ms: 1000,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let (k, v) = (pair[0].as_str(), pair.get(1).cloned().unwrap_or_default());
        match k {
            "--host" => a.host = v,
            "--port" => a.port = v.parse().expect("--port"),
            "--user" => a.user = v,
            "--password" => a.password = v,
            "--workers" => a.workers = v.parse().expect("--workers"),
            "--secs" => a.secs = v.parse().expect("--secs"),
            "--clients" => a.clients = v.parse().expect("--clients"),
            "--interval-ms" => a.interval_ms = v.parse().expect("--interval-ms"),
            other => panic!("unknown option {other}"),
        }
    }
    a
}

async fn page(opts: &mysql_async::Opts) -> Result<(), mysql_async::Error> {
    let mut c = mysql_async::Conn::new(opts.clone()).await?;
    let _: Vec<(i32, String)> = c
        .query("SELECT id_product, name FROM ps_product ORDER BY id_product")
        .await?;
    let _: Option<i64> = c
        .query_first("SELECT COUNT(*) FROM ps_product WHERE id_product < 3")
        .await?;
    let _: Vec<(i32, String)> = c
        .query("SELECT id_product, name FROM ps_product WHERE id_product IN (1,2)")
        .await?;
    c.query_drop("INSERT INTO ps_orders (id_customer, total, created) VALUES (1, 19.90, NOW())")
        .await?;
    let _: Option<u64> = c.query_first("SELECT LAST_INSERT_ID()").await?;
    c.disconnect().await
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let a = args();
    let opts: mysql_async::Opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(a.host.clone())
        .tcp_port(a.port)
        .user(Some(a.user.clone()))
        .pass(Some(a.password.clone()))
        .db_name(Some("shop"))
        .prefer_socket(false)
        .into();
    {
        let mut c = mysql_async::Conn::new(opts.clone()).await.expect("connect");
        for sql in [
            "CREATE TABLE IF NOT EXISTS ps_product (id_product INT PRIMARY KEY, name VARCHAR(64))",
            "INSERT IGNORE INTO ps_product VALUES (1,'mug'),(2,'shirt'),(3,'poster')",
            "CREATE TABLE IF NOT EXISTS ps_orders (id_order INT AUTO_INCREMENT PRIMARY KEY, id_customer INT, total DECIMAL(10,2), created DATETIME)",
        ] {
            c.query_drop(sql).await.expect(sql);
        }
        c.disconnect().await.expect("disconnect");
    }
    if a.clients > 0 {
        return held(&a, &opts).await;
    }
    let deadline = Instant::now() + Duration::from_secs(a.secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.workers {
        let o = opts.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < deadline && lat.len() < 10_000_000 {
                let t = Instant::now();
                match page(&o).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.expect("worker");
        lat.extend(l);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let p95 = lat
        .get(lat.len().saturating_mul(95) / 100)
        .copied()
        .unwrap_or_default();
    println!(
        "pages_per_sec={:.1} p95_ms={:.2} errors={} statements_per_sec={:.1}",
        lat.len() as f64 / secs,
        p95.as_secs_f64() * 1000.0,
        errors,
        lat.len() as f64 * 5.0 / secs
    );
}

/// One page on a held connection; every tenth is wrapped in a transaction.
async fn held_page(c: &mut mysql_async::Conn, n: u64) -> Result<(), mysql_async::Error> {
    let _: Option<String> = c
        .query_first(format!(
            "SELECT name FROM ps_product WHERE id_product = {}",
            n % 3 + 1
        ))
        .await?;
    let tx = n.is_multiple_of(10);
    if tx {
        c.query_drop("BEGIN").await?;
    }
    c.query_drop("INSERT INTO ps_orders (id_customer, total, created) VALUES (2, 5.00, NOW())")
        .await?;
    let id: Option<u64> = c.query_first("SELECT LAST_INSERT_ID()").await?;
    if tx {
        c.query_drop(format!(
            "UPDATE ps_orders SET total = total + 1 WHERE id_order = {}",
            id.unwrap_or(0)
        ))
        .await?;
        c.query_drop("COMMIT").await?;
    }
    Ok(())
}

/// `--clients N`: N held connections, a page each about every interval.
async fn held(a: &Args, opts: &mysql_async::Opts) {
    let ramp = Duration::from_millis(2000.min(a.secs * 1000 / 4));
    let deadline = Instant::now() + Duration::from_secs(a.secs);
    let started = Instant::now();
    let interval = Duration::from_millis(a.interval_ms.max(1));
    let mut tasks = Vec::new();
    for i in 0..a.clients {
        let o = opts.clone();
        let delay = ramp.mul_f64(i as f64 / a.clients as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let (mut lat, mut errors, mut first) = (Vec::new(), 0u64, None::<String>);
            let mut c = match mysql_async::Conn::new(o).await {
                Ok(c) => c,
                Err(e) => return (lat, 1, Some(e.to_string()), false),
            };
            // Jitter: each client starts its period at its own offset.
            let offset = interval.mul_f64((i * 7919 % 1000) as f64 / 1000.0);
            tokio::time::sleep(offset).await;
            let mut n = i as u64;
            while Instant::now() < deadline && lat.len() < 1_000_000 {
                let t = Instant::now();
                match held_page(&mut c, n).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first.get_or_insert_with(|| e.to_string());
                    }
                }
                n += 1;
                let next = t + interval;
                if next > deadline {
                    break;
                }
                tokio::time::sleep_until(next.into()).await;
            }
            let _ = c.disconnect().await;
            (lat, errors, first, true)
        }));
    }
    let (mut lat, mut errors, mut first, mut connected) = (Vec::new(), 0, None, 0);
    for t in tasks {
        let (l, e, f, ok) = t.await.expect("client");
        lat.extend(l);
        errors += e;
        connected += usize::from(ok);
        if first.is_none() {
            first = f;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: usize| {
        lat.get(lat.len().saturating_mul(p) / 100)
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0
    };
    println!(
        "clients={} connected={connected} pages={} pages_per_sec={:.1} p50_ms={:.2} p99_ms={:.2} errors={errors} first_error={:?}",
        a.clients,
        lat.len(),
        lat.len() as f64 / secs,
        pct(50),
        pct(99),
        first.unwrap_or_default()
    );
}
