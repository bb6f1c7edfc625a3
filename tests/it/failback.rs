//! Moving the writes back to cn1 after a failover, under load: by an operator through the admin
//! interface (`failback = "manual"`, the default), or by Tandem once cn1 has caught up
//! (`failback = "auto"`). Each ends with no id handed out twice, every acknowledged insert on
//! cn1, replication healthy and identical rows.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tandem_testkit::{eventually, pair, NodeId};

use crate::agreement::{check_end, collect, load, setup, window, Insert};
use crate::support::{config_text, free_port, opts, start, Proxy};

/// Runs `sql` on the admin interface with the mariadb CLI; rows as tab-separated lines.
pub(crate) fn admin(port: u16, password: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("mariadb")
        .args(["-h", "127.0.0.1", "-P", &port.to_string(), "-u", "admin"])
        .arg(format!("-p{password}"))
        .args(["--skip-ssl", "-N", "-B", "-e", sql])
        .output()
        .expect("run mariadb");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The node the proxy sends writes to, by its `@@server_id` (node-local reads go to the writer).
async fn writer_id(proxy: &Proxy) -> Option<u32> {
    let mut c = mysql_async::Conn::new(opts(proxy, "shop")).await.ok()?;
    let id: Option<u32> = c.query_first("SELECT @@server_id").await.ok()?;
    c.disconnect().await.ok();
    id
}

async fn wait_writer(proxy: &Proxy, id: u32, within: Duration) {
    let deadline = Instant::now() + within;
    while writer_id(proxy).await != Some(id) {
        assert!(Instant::now() < deadline, "writer never became server {id}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

type Load = (
    Instant,
    Arc<AtomicBool>,
    Vec<tokio::task::JoinHandle<Vec<Insert>>>,
);

/// Starts three insert loops, SIGKILLs cn1 1.5 s in and waits until writes go to cn2.
async fn fail_over_under_load(p: &tandem_testkit::Pair, proxy: &Proxy) -> Load {
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(proxy, "A", 3, t0, stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    p.cn1.signal("KILL");
    wait_writer(proxy, 2, Duration::from_secs(15)).await;
    (t0, stop, workers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_moves_the_writes_back_through_the_admin_interface() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("tandem_monitor=info")
        .with_test_writer()
        .try_init();
    let p = pair();
    p.reset();
    let port = free_port();
    let config = format!(
        "{}\n[admin]\nlisten = \"127.0.0.1:{port}\"\nuser = \"admin\"\npassword = \"s3cret\"\n",
        config_text(&p, "")
    );
    let proxy = start(&config).await;
    setup(&p, &proxy).await;
    let backends = admin(port, "s3cret", "SHOW BACKENDS").expect("admin");
    assert!(backends.contains("cn1\t127.0.0.1"), "{backends}");
    let wrong = admin(port, "wrong", "SHOW BACKENDS").expect_err("wrong password refused");
    assert!(
        wrong.contains("1698") || wrong.contains("denied") || wrong.contains("failed"),
        "{wrong}"
    );

    let (t0, stop, workers) = fail_over_under_load(&p, &proxy).await;
    p.kill(NodeId::Cn1); // clears the pid file
    p.start(NodeId::Cn1);
    eventually(Duration::from_secs(20), "cn1 back as a reader", || {
        let b = admin(port, "s3cret", "SHOW BACKENDS").ok()?;
        b.lines()
            .any(|l| l.starts_with("cn1\t") && l.contains("\tup\treader\t"))
            .then_some(())
    });
    assert_eq!(writer_id(&proxy).await, Some(2), "failback is manual");
    let refused = admin(port, "s3cret", "SET WRITER = 'nope'").expect_err("unknown node");
    assert!(refused.contains("nope"), "{refused}");
    let switch_at = t0.elapsed();
    admin(port, "s3cret", "SET WRITER = 'cn1'").expect("set writer");
    wait_writer(&proxy, 1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let inserts = collect(workers).await;

    let after: Vec<&Insert> = inserts
        .iter()
        .filter(|i| i.result.is_ok() && i.started > switch_at + Duration::from_secs(1))
        .collect();
    assert!(!after.is_empty(), "writes continued after the switch");
    let on_cn2_max: u64 = p
        .cn1
        .value("SELECT COALESCE(MAX(id),0) FROM shop.o WHERE origin = 2")
        .parse()
        .expect("max");
    let wrong_place = p.cn1.value(&format!(
        "SELECT COUNT(*) FROM shop.o WHERE origin = 1 AND id > 10000 AND id < {on_cn2_max}"
    ));
    assert_eq!(
        wrong_place, "0",
        "cn1 handed out ids below cn2's after the switch"
    );
    let stats = admin(port, "s3cret", "SHOW STATS").expect("stats");
    let changes: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("writer_changes\t"))
        .and_then(|v| v.trim().parse().ok())
        .expect("writer_changes");
    assert!(changes >= 3, "initial, failover, manual: {stats}");
    // Two event loops (the test proxy's), each listed with its live sessions.
    for worker in ["sessions_worker_0\t", "sessions_worker_1\t"] {
        assert!(stats.lines().any(|l| l.starts_with(worker)), "{stats}");
    }
    assert!(
        !stats.contains("sessions_worker_2"),
        "only two loops: {stats}"
    );
    let events = admin(port, "s3cret", "SHOW EVENTS").expect("events");
    assert!(events.contains("Manual"), "{events}");
    println!(
        "manual failback: {} inserts ok, {} failed; failover gap {:?}; switch back gap {:?}",
        inserts.iter().filter(|i| i.result.is_ok()).count(),
        inserts.iter().filter(|i| i.result.is_err()).count(),
        window(
            &inserts,
            Duration::from_millis(1500),
            Duration::from_millis(1500)
        ),
        window(&inserts, switch_at, switch_at),
    );
    let all: Vec<&Insert> = inserts.iter().collect();
    check_end(&p, &p.cn1, &all);
    drop(proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_failback_returns_the_writes_once_cn1_caught_up() {
    let p = pair();
    p.reset();
    let config = format!("{}\n[writer]\nfailback = \"auto\"\n", config_text(&p, ""));
    let proxy = start(&config).await;
    setup(&p, &proxy).await;
    let (t0, stop, workers) = fail_over_under_load(&p, &proxy).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    p.kill(NodeId::Cn1);
    p.start(NodeId::Cn1);
    let restarted_at = t0.elapsed();
    wait_writer(&proxy, 1, Duration::from_secs(30)).await;
    let back_after = t0.elapsed() - restarted_at;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let inserts = collect(workers).await;
    let late_cn2 = p.cn1.value(
        "SELECT COUNT(*) FROM shop.o WHERE origin = 2 AND id > (SELECT MAX(id) FROM shop.o WHERE origin = 1)",
    );
    println!(
        "auto failback: writes back on cn1 {back_after:?} after it restarted; {} inserts ok, {} failed",
        inserts.iter().filter(|i| i.result.is_ok()).count(),
        inserts.iter().filter(|i| i.result.is_err()).count()
    );
    assert_eq!(late_cn2, "0", "cn2 wrote after cn1 took the writes back");
    let all: Vec<&Insert> = inserts.iter().collect();
    check_end(&p, &p.cn1, &all);
    drop(proxy);
}
