//! Writer safety under faults, with the PrestaShop workload running throughout: the writer is
//! SIGKILLed mid-load, Tandem fails over to cn2 once it has caught up, cn1 comes back as a reader
//! (manual failback). Ends with: no id handed out twice, every acknowledged order present on the
//! surviving writer, replication healthy on both nodes with identical rows, and the measured
//! write-unavailability window printed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tandem_testkit::{pair, NodeId};

use crate::support::{config_text, opts, shop_tables, start};

#[derive(Debug)]
struct Page {
    started: Duration,
    at: Duration,
    result: Result<u64, String>,
}

/// Concurrent PrestaShop page loops during a fault.
const WORKERS: usize = 8;

async fn page(o: &mysql_async::Opts) -> Result<u64, mysql_async::Error> {
    let mut c = mysql_async::Conn::new(o.clone()).await?;
    let _: Vec<(i32, String)> = c.query("SELECT id_product, name FROM ps_product").await?;
    c.query_drop("INSERT INTO ps_orders (id_customer, total, created) VALUES (1, 9.90, NOW())")
        .await?;
    let id: Option<u64> = c.query_first("SELECT LAST_INSERT_ID()").await?;
    let id = id.unwrap_or(0);
    c.query_drop(format!(
        "INSERT INTO ps_order_detail (id_order, product) VALUES ({id}, 'mug')"
    ))
    .await?;
    c.disconnect().await?;
    Ok(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_sigkilled_under_load_fails_over_without_collision() {
    writer_fault_under_load(Fault::Kill, "300ms").await;
}

/// HAProxy's reference cadence, `inter 1s fall 2` (target: writes resume within 2 s of the
/// writer's death; the figure is printed — measured 0.95 s — and only a prompt failover is
/// asserted here, speed targets live in the benchmarks). Sessions that see the writer refuse
/// connections trigger immediate checks, so detection does not wait for `fall × inter`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_sigkilled_with_inter_1s_fall_2() {
    writer_fault_under_load(Fault::Kill, "1s").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_sigstopped_under_load_fails_over_without_collision() {
    writer_fault_under_load(Fault::Stop, "300ms").await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// SIGKILL cn1, restart it later.
    Kill,
    /// SIGSTOP cn1 (hangs with its sockets open); later it is restarted.
    Stop,
}

/// Runs the scenario with the given check interval (`fall 2`).
async fn writer_fault_under_load(fault: Fault, inter: &str) {
    let p = pair();
    p.reset();
    // fall 2, write_hold 3s; `inter` as given.
    let config = config_text(&p, "").replace("inter = \"300ms\"", &format!("inter = \"{inter}\""));
    let proxy = start(&config).await;
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    shop_tables(&mut c).await;
    c.disconnect().await.expect("disconnect");
    p.wait_synced(Duration::from_secs(10));

    let start_at = Instant::now();
    let run_for = Duration::from_secs(20);
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let o = opts(&proxy, "shop");
        workers.push(tokio::spawn(async move {
            let mut pages = Vec::new();
            while start_at.elapsed() < run_for && pages.len() < 100_000 {
                let started = start_at.elapsed();
                let result = page(&o).await.map_err(|e| e.to_string());
                pages.push(Page {
                    started,
                    at: start_at.elapsed(),
                    result,
                });
            }
            pages
        }));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cn1 = p.cn1.clone();
    let (kill_started, killed_at) = tokio::task::spawn_blocking(move || {
        let before = start_at.elapsed();
        cn1.signal(if fault == Fault::Kill { "KILL" } else { "STOP" });
        (before, start_at.elapsed())
    })
    .await
    .expect("kill");

    tokio::time::sleep(Duration::from_secs(7)).await;
    match fault {
        Fault::Kill => {
            p.kill(NodeId::Cn1); // already dead: clears its pid file
            p.start(NodeId::Cn1); // returns as a reader (failback is manual)
        }
        // A paused writer is restarted, not resumed: on SIGCONT it would still run the
        // statements that were in flight when it paused (their clients were told 2013), with
        // ids that follow the new writer's replicated rows — a collision no proxy can stop
        // (SECURITY.md, "What Tandem does not promise").
        Fault::Stop => {
            p.kill(NodeId::Cn1);
            p.start(NodeId::Cn1);
        }
    }
    let mut pages = Vec::new();
    for w in workers {
        pages.extend(w.await.expect("worker"));
    }

    let ok: Vec<&Page> = pages.iter().filter(|p| p.result.is_ok()).collect();
    let errors: Vec<&Page> = pages.iter().filter(|p| p.result.is_err()).collect();
    let last_before = ok
        .iter()
        .map(|p| p.at)
        .filter(|t| *t <= killed_at)
        .max()
        .unwrap_or_default();
    // Writes resumed: the end of the first successful page that started after cn1 died.
    let first_after = ok
        .iter()
        .filter(|p| p.started > killed_at)
        .map(|p| p.at)
        .min()
        .expect("writes resumed");
    let window = first_after - killed_at;
    println!(
        "{fault:?} failover (inter {inter}): {} pages ok, {} failed; writes resumed {window:?} after cn1 died \
         (signal took {:?}; last ok page before it at -{:?})",
        ok.len(),
        errors.len(),
        killed_at - kill_started,
        killed_at.saturating_sub(last_before)
    );
    for e in errors.iter().take(5) {
        println!("  error at {:?}: {:?}", e.at, e.result);
    }
    assert!(
        window < Duration::from_secs(5),
        "writes did not resume in time: {window:?}"
    );
    assert!(
        errors
            .iter()
            .all(|e| e.at + Duration::from_millis(10) >= kill_started),
        "errors before the fault"
    );
    assert!(
        errors.len() <= 16,
        "only statements in flight at the fault may fail: {} failed",
        errors.len()
    );

    let ids: Vec<u64> = ok.iter().filter_map(|p| p.result.clone().ok()).collect();
    let unique: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "an order id was handed out twice");
    // The auto-increment fence promises that cn2 hands out ids at least `fence_margin`
    // (10,000, the default) above the counter it had when it took over. Inserts that cn1
    // acknowledged but never sent to cn2 before it died sit above that counter, inside the gap:
    // at most one per worker in flight. So the gap is at least the margin less the workers —
    // never the 1 it would be without a fence — but not exactly the margin.
    let mut sorted: Vec<u64> = unique.iter().copied().collect();
    sorted.sort_unstable();
    let biggest_gap = sorted.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let (margin, in_flight) = (10_000u64, WORKERS as u64);
    assert!(
        biggest_gap >= margin - in_flight,
        "no fence gap in the ids (largest gap {biggest_gap})"
    );

    // cn1 rejoins: both replicate again, no duplicate-key stop, identical data.
    p.wait_synced(Duration::from_secs(60));
    for n in [&p.cn1, &p.cn2] {
        let s = n.slave_status();
        assert_eq!(
            s.get("Last_SQL_Errno").map(String::as_str),
            Some("0"),
            "{}: {s:?}",
            n.name()
        );
    }
    let present: HashSet<u64> = p
        .cn2
        .query("SELECT id_order FROM shop.ps_orders")
        .into_iter()
        .filter_map(|r| r.first().and_then(|v| v.parse().ok()))
        .collect();
    let missing: Vec<u64> = unique.difference(&present).copied().collect();
    assert!(
        missing.is_empty(),
        "acknowledged orders missing on the surviving writer: {missing:?}"
    );
    for q in [
        "SELECT COUNT(*), COALESCE(SUM(id_order), 0) FROM shop.ps_orders",
        "SELECT COUNT(*), COALESCE(SUM(id_order), 0) FROM shop.ps_order_detail",
    ] {
        assert_eq!(p.cn1.query(q), p.cn2.query(q), "{q}");
    }
    p.reset();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_waits_for_a_delayed_replica_to_catch_up() {
    let p = pair();
    p.reset();
    let proxy = start(&config_text(&p, "")).await; // write_hold = 3s
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    c.query_drop("CREATE TABLE d (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .expect("create");
    p.wait_synced(Duration::from_secs(10));
    // cn2 receives but does not apply cn1's writes.
    p.cn2.query("STOP SLAVE SQL_THREAD");
    for i in 0..50 {
        c.query_drop(format!("INSERT INTO d (v) VALUES ({i})"))
            .await
            .expect("insert on cn1");
    }
    c.disconnect().await.expect("disconnect");
    tandem_testkit::eventually(Duration::from_secs(10), "cn2 received cn1's writes", || {
        let s = p.cn2.slave_status();
        (s.get("Read_Master_Log_Pos") != s.get("Exec_Master_Log_Pos")).then_some(())
    });
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    p.kill(NodeId::Cn1);
    // cn2 has not applied everything it got from cn1: no failover, writes held then refused.
    let err = c
        .query_drop("INSERT INTO d (v) VALUES (-1)")
        .await
        .expect_err("no caught-up writer");
    assert!(
        matches!(err, mysql_async::Error::Server(ref e) if e.code == 1290),
        "{err:?}"
    );
    assert_eq!(
        p.cn2.value("SELECT COUNT(*) FROM shop.d"),
        "0",
        "cn2 wrote before catching up"
    );
    // Once cn2 applies its relay log, it takes over (fenced) and the write goes through.
    p.cn2.query("START SLAVE SQL_THREAD");
    let started = Instant::now();
    c.query_drop("INSERT INTO d (v) VALUES (-2)")
        .await
        .expect("write after catch-up");
    println!(
        "write accepted {:?} after cn2's SQL thread restarted",
        started.elapsed()
    );
    let rows = p.cn2.query("SELECT COUNT(*), MAX(id) FROM shop.d");
    assert_eq!(rows[0][0], "51", "cn1's 50 rows and the new one");
    let max: u64 = rows[0][1].parse().expect("max id");
    assert!(max > 50 + 9_000, "the new row is above the fence: {max}");
    p.start(NodeId::Cn1);
    p.wait_synced(Duration::from_secs(30));
    assert_eq!(p.cn1.value("SELECT COUNT(*) FROM shop.d"), "51");
    p.reset();
}
