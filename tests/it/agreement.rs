//! Several Tandem instances in front of one pair, with the read-only fence (`fence =
//! "read_only"`): the `read_only` flags are the shared truth, and a writer this proxy cannot reach
//! counts as dead only when the candidate's replication lost it too. Under load through both
//! proxies:
//! - proxy A loses sight of cn1 (a blackhole between A and cn1 only; cn1 keeps replicating):
//!   A holds, then refuses its writes; B keeps writing to cn1; no row is ever written on cn2 and
//!   cn2 stays read-only throughout; A resumes when the link heals;
//! - cn1 is SIGKILLed: both proxies move to cn2 (its replication lost cn1 too), and when cn1
//!   restarts writable the proxies close it (`read_only=ON`) instead of writing there.
//!
//! Every row records `@@server_id` of the server that inserted it, which tells which master took
//! each write. Each test ends with no id handed out twice, every acknowledged insert present,
//! replication healthy and identical rows, and prints the write-unavailability window.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tandem_testkit::{eventually, pair, NodeId, Pair};

use crate::support::{config_text, opts, start, Blackhole, Proxy};

pub(crate) fn fenced(config: String) -> String {
    format!("{config}\n[writer]\nfence = \"read_only\"\n")
}

#[derive(Debug)]
pub(crate) struct Insert {
    pub started: Duration,
    pub at: Duration,
    pub result: Result<u64, String>,
}

/// Inserts through `proxy` on `workers` connections-per-request loops until `stop`.
pub(crate) fn load(
    proxy: &Proxy,
    via: &'static str,
    workers: usize,
    t0: Instant,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<Insert>>> {
    (0..workers)
        .map(|_| {
            let o = opts(proxy, "shop");
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                // Bounded: the caller stops it, and no run exceeds 4,000 inserts per worker.
                while !stop.load(Ordering::Relaxed) && out.len() < 4_000 {
                    let started = t0.elapsed();
                    let result = insert(&o, via).await;
                    if result.is_err() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    out.push(Insert {
                        started,
                        at: t0.elapsed(),
                        result,
                    });
                }
                out
            })
        })
        .collect()
}

/// One connection-per-request insert. `LAST_INSERT_ID()` must agree with the OK packet's id —
/// also when the writer moved between the two statements.
async fn insert(o: &mysql_async::Opts, via: &str) -> Result<u64, String> {
    insert_inner(o, via).await.map_err(|e| e.to_string())?
}

async fn insert_inner(
    o: &mysql_async::Opts,
    via: &str,
) -> Result<Result<u64, String>, mysql_async::Error> {
    let mut c = mysql_async::Conn::new(o.clone()).await?;
    let _: Option<u64> = c.query_first("SELECT COUNT(*) FROM o").await?;
    c.query_drop(format!(
        "INSERT INTO o (via, origin) VALUES ('{via}', @@server_id)"
    ))
    .await?;
    let ok_id = c.last_insert_id();
    let id: Option<(u64, u32)> = c
        .query_first("SELECT LAST_INSERT_ID(), @@server_id")
        .await?;
    c.disconnect().await?;
    Ok(match (ok_id, id) {
        (Some(ok), Some((last, _))) if ok == last => Ok(ok),
        _ => Err(format!(
            "LAST_INSERT_ID mismatch: OK packet {ok_id:?}, SELECT gave (id, server) {id:?}"
        )),
    })
}

pub(crate) async fn collect(handles: Vec<tokio::task::JoinHandle<Vec<Insert>>>) -> Vec<Insert> {
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("worker"));
    }
    all
}

/// Samples cn2's `read_only` every 100 ms until `stop`; returns whether it was ever OFF.
fn watch_read_only(addr: SocketAddr, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<bool> {
    tokio::spawn(async move {
        let o: mysql_async::Opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(addr.ip().to_string())
            .tcp_port(addr.port())
            .user(Some("app"))
            .pass(Some("apppass"))
            .prefer_socket(false)
            .into();
        let mut c = mysql_async::Conn::new(o).await.expect("direct cn2");
        let mut ever_open = false;
        while !stop.load(Ordering::Relaxed) {
            let ro: Option<u8> = c
                .query_first("SELECT @@read_only")
                .await
                .expect("read_only");
            ever_open |= ro == Some(0);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ever_open
    })
}

pub(crate) async fn setup(p: &Pair, proxy: &Proxy) {
    let mut c = mysql_async::Conn::new(opts(proxy, "shop"))
        .await
        .expect("connect");
    c.query_drop(
        "CREATE TABLE o (id INT AUTO_INCREMENT PRIMARY KEY, via CHAR(1), origin INT NOT NULL)",
    )
    .await
    .expect("create");
    c.disconnect().await.ok();
    p.wait_synced(Duration::from_secs(10));
}

/// The common end: ids unique, every acknowledged insert on `survivor`, replication healthy and
/// rows identical once both nodes run.
pub(crate) fn check_end(p: &Pair, survivor: &tandem_testkit::Node, inserts: &[&Insert]) {
    let acked: Vec<u64> = inserts
        .iter()
        .filter_map(|i| i.result.as_ref().ok().copied())
        .collect();
    let mismatched: Vec<_> = inserts
        .iter()
        .filter(|i| i.result.as_ref().is_err_and(|e| e.contains("mismatch")))
        .collect();
    assert!(mismatched.is_empty(), "{mismatched:?}");
    let unique: std::collections::HashSet<_> = acked.iter().collect();
    assert_eq!(unique.len(), acked.len(), "an id was handed out twice");
    p.wait_synced(Duration::from_secs(30));
    let present: usize = survivor
        .value(&format!(
            "SELECT COUNT(*) FROM shop.o WHERE id IN ({})",
            acked
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ))
        .parse()
        .expect("count");
    if present != acked.len() {
        let have: std::collections::HashSet<u64> = survivor
            .query("SELECT id FROM shop.o")
            .into_iter()
            .filter_map(|r| r.first().and_then(|v| v.parse().ok()))
            .collect();
        let missing: Vec<_> = inserts
            .iter()
            .filter(|i| i.result.as_ref().is_ok_and(|id| !have.contains(id)))
            .collect();
        panic!("acknowledged inserts missing on the survivor: {missing:?}");
    }
    assert!(p.cn1.replication_healthy(), "cn1 replication");
    assert!(p.cn2.replication_healthy(), "cn2 replication");
    let q = "SELECT COUNT(*), COALESCE(SUM(id),0), COALESCE(SUM(origin),0) FROM shop.o";
    assert_eq!(p.cn1.query(q), p.cn2.query(q), "rows differ between nodes");
}

/// From the fault to the first acknowledged insert started once the fault was in place
/// (`settled`: e.g. when the killed process had ended) — an upper bound of the write gap.
pub(crate) fn window(inserts: &[Insert], fault: Duration, settled: Duration) -> Duration {
    inserts
        .iter()
        .filter(|i| i.result.is_ok() && i.started > settled)
        .map(|i| i.at)
        .min()
        .expect("writes resumed")
        .saturating_sub(fault)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_partitioned_from_the_writer_does_not_promote_a_second_master() {
    let p = pair();
    p.reset();
    let cn1: SocketAddr = format!("127.0.0.1:{}", p.cn1.port).parse().unwrap();
    let cn2: SocketAddr = format!("127.0.0.1:{}", p.cn2.port).parse().unwrap();
    let hole = Blackhole::start(cn1).await;
    let config_a = fenced(config_text(&p, "")).replace(&cn1.to_string(), &hole.addr.to_string());
    let b = start(&fenced(config_text(&p, ""))).await;
    let a = start(&config_a).await;
    setup(&p, &b).await;
    eventually(Duration::from_secs(10), "the fence closes cn2", || {
        (p.cn2.value("SELECT @@read_only") == "1").then_some(())
    });
    assert_eq!(p.cn1.value("SELECT @@read_only"), "0");

    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_read_only(cn2, stop.clone());
    let la = load(&a, "A", 3, t0, stop.clone());
    let lb = load(&b, "B", 3, t0, stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cut_at = t0.elapsed();
    hole.cut(true);
    // Long enough for A to mark cn1 down (fall 2 × 300 ms + 1 s timeout), hold writes (3 s)
    // and refuse them, while B writes on.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let healed_at = t0.elapsed();
    hole.cut(false);
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    let (ra, rb) = (collect(la).await, collect(lb).await);
    let cn2_opened = watcher.await.expect("watcher");

    let a_ok_during = ra
        .iter()
        .filter(|i| i.result.is_ok() && i.at > cut_at + Duration::from_secs(2) && i.at < healed_at)
        .count();
    let a_failed = ra.iter().filter(|i| i.result.is_err()).count();
    let b_failed: Vec<_> = rb.iter().filter(|i| i.result.is_err()).collect();
    let a_after = ra
        .iter()
        .filter(|i| i.result.is_ok() && i.at > healed_at)
        .count();
    let b_ok = rb.iter().filter(|i| i.result.is_ok()).count();
    println!(
        "partition A-cn1 for {:?}: A {} ok / {a_failed} failed ({a_ok_during} ok while cut, {a_after} after healing; \
         unavailable {:?}), B {b_ok} ok / {} failed; cn2 ever writable: {cn2_opened}",
        healed_at - cut_at,
        ra.len() - a_failed,
        window(&ra, cut_at, cut_at),
        b_failed.len()
    );
    assert!(!cn2_opened, "cn2 was made writable during the partition");
    assert_eq!(
        p.cn1.value("SELECT COUNT(*) FROM shop.o WHERE origin <> 1"),
        "0",
        "a row was written on cn2"
    );
    assert!(
        b_failed.is_empty(),
        "B lost writes: {:?}",
        &b_failed[..b_failed.len().min(3)]
    );
    assert!(b_ok > 0 && a_after > 0, "both proxies wrote after healing");
    assert_eq!(a_ok_during, 0, "A wrote while it could not see cn1");
    assert!(a_failed > 0, "A's writes during the partition were refused");
    let all: Vec<&Insert> = ra.iter().chain(rb.iter()).collect();
    check_end(&p, &p.cn1, &all);
    drop((a, b, hole));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_proxies_fail_over_together_and_close_the_returning_writer() {
    let p = pair();
    p.reset();
    let config = fenced(config_text(&p, ""));
    let a = start(&config).await;
    let b = start(&config).await;
    setup(&p, &a).await;
    eventually(Duration::from_secs(10), "the fence closes cn2", || {
        (p.cn2.value("SELECT @@read_only") == "1").then_some(())
    });

    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let la = load(&a, "A", 3, t0, stop.clone());
    let lb = load(&b, "B", 3, t0, stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed_at = t0.elapsed();
    p.kill(NodeId::Cn1);
    let dead_at = t0.elapsed(); // the process has ended
                                // Both proxies move to cn2; then cn1 restarts writable (my.cnf has no read_only).
    eventually(Duration::from_secs(15), "cn2 opened", || {
        (p.cn2.value("SELECT @@read_only") == "0").then_some(())
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    p.start(NodeId::Cn1);
    let restarted_at = t0.elapsed();
    eventually(
        Duration::from_secs(15),
        "the proxies close the old writer",
        || (p.cn1.value("SELECT @@read_only") == "1").then_some(()),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let (ra, rb) = (collect(la).await, collect(lb).await);

    let late_on_cn1 = p.cn2.value(
        "SELECT COUNT(*) FROM shop.o WHERE origin = 1 AND id > (SELECT MIN(id) FROM shop.o WHERE origin = 2)",
    );
    let failed = ra
        .iter()
        .chain(rb.iter())
        .filter(|i| i.result.is_err())
        .count();
    println!(
        "SIGKILL cn1 with two proxies: A resumed after {:?}, B after {:?}; {} ok, {failed} failed; \
         cn1 restarted at {:?} and was closed (the kill command took {:?})",
        window(&ra, killed_at, dead_at),
        window(&rb, killed_at, dead_at),
        ra.len() + rb.len() - failed,
        restarted_at,
        dead_at - killed_at
    );
    assert_eq!(
        late_on_cn1, "0",
        "a row was written on cn1 after cn2 took over"
    );
    for (name, r) in [("A", &ra), ("B", &rb)] {
        assert!(
            r.iter().any(|i| i.result.is_ok() && i.at > restarted_at),
            "{name} kept writing after cn1 returned"
        );
    }
    let all: Vec<&Insert> = ra.iter().chain(rb.iter()).collect();
    check_end(&p, &p.cn2, &all);
    assert_eq!(
        p.cn2.value("SELECT @@read_only"),
        "0",
        "cn2 stays the writer"
    );
    drop((a, b));
}
