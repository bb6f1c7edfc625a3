//! The poller against the real local pair (tandem-testkit): health, replication flags, failover.

use std::time::{Duration, Instant};

use tandem_monitor::{
    fence, FenceSettings, HealthSettings, Monitor, MonitorSettings, NodeConfig, Snapshot,
};
use tandem_testkit::{pair, NodeId, Pair, MONITOR_PASSWORD, MONITOR_USER};

fn config(p: &Pair) -> MonitorSettings {
    MonitorSettings {
        nodes: [(&p.cn1, 256), (&p.cn2, 1)]
            .into_iter()
            .map(|(n, weight)| NodeConfig {
                name: n.name().to_owned(),
                address: n.addr(),
                weight,
                read_weight: None,
                tls: tandem_backend::ClientTls::disabled(),
            })
            .collect(),
        user: MONITOR_USER.to_owned(),
        password: MONITOR_PASSWORD.to_owned(),
        health: HealthSettings {
            inter: Duration::from_millis(200),
            downinter: Duration::from_millis(200),
            rise: 2,
            fall: 2,
            timeout: Duration::from_millis(500),
            slowstart: Duration::ZERO,
        },
        election: Default::default(),
        max_lag: Duration::from_secs(5),
        fence: Default::default(),
    }
}

async fn until(
    m: &Monitor,
    timeout: Duration,
    what: &str,
    f: impl Fn(&Snapshot) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        if f(&m.snapshot()) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < timeout,
            "timed out waiting for {what}: {:#?}",
            m.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_flags_on_the_real_pair() {
    let p = pair();
    p.reset();
    let m = Monitor::spawn(config(&p));
    until(&m, Duration::from_secs(10), "both up, cn1 writer", |s| {
        s.complete && s.writer == Some(0) && s.nodes.iter().all(|n| n.up && n.readable)
    })
    .await;
    let snap = m.snapshot();
    for n in &snap.nodes {
        let st = n.status.as_ref().expect("status");
        assert_eq!(
            (st.auto_increment_increment, st.auto_increment_offset),
            (1, 1)
        );
        assert!(!st.read_only && !st.replication_broken());
        assert_eq!(n.lag, Some(Duration::ZERO), "{}", n.name);
        assert_eq!(
            st.semi_sync,
            Some(false),
            "asynchronous replication detected"
        );
    }

    // STOP SLAVE SQL_THREAD on cn2: stopped (not broken), lag unknown, out of the read pool.
    p.cn2.query("STOP SLAVE SQL_THREAD");
    until(&m, Duration::from_secs(5), "cn2 stopped", |s| {
        let n = &s.nodes[1];
        n.status
            .as_ref()
            .is_some_and(|st| st.replication_stopped() && !st.replication_broken())
            && !n.readable
    })
    .await;
    p.cn2.query("START SLAVE SQL_THREAD");
    until(&m, Duration::from_secs(5), "cn2 readable again", |s| {
        s.nodes[1].readable
    })
    .await;

    // An error-stopped SQL thread (duplicate key 1062) is `replication_broken`.
    p.cn1.query("CREATE TABLE shop.dup (id INT PRIMARY KEY)");
    p.wait_synced(Duration::from_secs(10));
    p.cn2
        .query("SET SESSION sql_log_bin = 0; INSERT INTO shop.dup VALUES (7)");
    p.cn1.query("INSERT INTO shop.dup VALUES (7)");
    until(&m, Duration::from_secs(10), "cn2 broken", |s| {
        s.nodes[1]
            .status
            .as_ref()
            .is_some_and(|st| st.replication_broken())
            && !s.nodes[1].readable
    })
    .await;
    let st = m.snapshot().nodes[1].status.clone().expect("status");
    assert!(
        st.channels.iter().any(|c| c.last_sql_errno == 1062),
        "{st:?}"
    );
    assert_eq!(
        m.snapshot().writer,
        Some(0),
        "a broken reader does not move the writer"
    );
    p.reset();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_restart_and_sigstop() {
    let p = pair();
    p.reset();
    let cfg = config(&p);
    let (fall, inter, timeout, rise) = (
        cfg.health.fall,
        cfg.health.inter,
        cfg.health.timeout,
        cfg.health.rise,
    );
    let m = Monitor::spawn(cfg);
    until(&m, Duration::from_secs(10), "both up", |s| {
        s.complete && s.nodes.iter().all(|n| n.up)
    })
    .await;

    // SIGKILL cn2: down after `fall` checks, within fall × inter + timeout (plus one check's slack).
    p.kill(NodeId::Cn2);
    let bound = inter * fall + timeout + inter;
    let took = until(&m, bound + Duration::from_secs(1), "cn2 down", |s| {
        !s.nodes[1].up
    })
    .await;
    println!("cn2 down after {took:?} (bound {bound:?})");
    assert!(
        took <= bound + Duration::from_millis(300),
        "took {took:?}, bound {bound:?}"
    );
    // The survivor sees its IO thread fail: that is not lag.
    until(
        &m,
        Duration::from_secs(15),
        "cn1 fresh despite a dead peer",
        |s| s.nodes[0].readable && s.nodes[0].lag == Some(Duration::ZERO) && s.writer == Some(0),
    )
    .await;
    p.start(NodeId::Cn2);
    let took = until(&m, Duration::from_secs(15), "cn2 up again", |s| {
        s.nodes[1].up
    })
    .await;
    println!("cn2 up {took:?} after restart (rise {rise})");

    // SIGSTOP cn2: the socket stays open but nothing answers; down via the check timeout.
    p.cn2.signal("STOP");
    let took = until(&m, Duration::from_secs(10), "paused cn2 down", |s| {
        !s.nodes[1].up
    })
    .await;
    println!("SIGSTOPped cn2 down after {took:?}");
    p.cn2.signal("CONT");
    until(&m, Duration::from_secs(15), "cn2 back", |s| s.nodes[1].up).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cn1_dies_cn2_is_not_lagging_and_takes_over_once_caught_up() {
    let p = pair();
    p.reset();
    let m = Monitor::spawn(config(&p));
    until(&m, Duration::from_secs(10), "cn1 writer", |s| {
        s.complete && s.writer == Some(0)
    })
    .await;
    p.cn1.query("CREATE TABLE shop.f (id INT AUTO_INCREMENT PRIMARY KEY); INSERT INTO shop.f VALUES (),(),()");
    p.wait_synced(Duration::from_secs(10));
    let mut events = m.subscribe();
    p.kill(NodeId::Cn1);
    until(&m, Duration::from_secs(10), "cn2 writer", |s| {
        s.writer == Some(1)
    })
    .await;
    let s = m.snapshot();
    assert!(
        s.nodes[1].readable,
        "cn2 must not be considered lagging: {:?}",
        s.nodes[1]
    );
    assert_eq!(s.nodes[1].lag, Some(Duration::ZERO));
    let mut saw_change = false;
    while let Ok(e) = events.try_recv() {
        if let tandem_monitor::Event::WriterChanged { to: Some(to), .. } = &e {
            saw_change |= to == "cn2";
        }
    }
    assert!(saw_change, "a WriterChanged event to cn2 was published");
    p.start(NodeId::Cn1);
    until(&m, Duration::from_secs(15), "cn1 up", |s| s.nodes[0].up).await;
    assert_eq!(
        m.snapshot().writer,
        Some(1),
        "failback is manual: cn1 returns as a reader"
    );
    p.reset();
}

/// PrestaShop has about 300 tables with an auto_increment column: the fence must raise them all
/// well inside the write hold (default 5 s). Prints the time; asserts every counter moved by the
/// margin on the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fence_raises_three_hundred_tables() {
    let p = pair();
    p.reset();
    const TABLES: usize = 300;
    let ddl: String = (0..TABLES)
        .map(|i| {
            format!(
                "CREATE TABLE tandem_test.t{i} (id INT AUTO_INCREMENT PRIMARY KEY, v INT); \
                 INSERT INTO tandem_test.t{i} (v) VALUES (1),(2),(3);"
            )
        })
        .collect();
    p.cn1.query(&ddl);
    p.wait_synced(Duration::from_secs(60));
    let settings = FenceSettings {
        schemas: vec!["tandem_test".into()],
        margin: 10_000,
        ..FenceSettings::default()
    };
    let report = fence(
        &p.cn2.addr(),
        tandem_backend::Login::monitor(MONITOR_USER, MONITOR_PASSWORD),
        &settings,
        Duration::from_secs(30),
    )
    .await
    .expect("fence");
    println!(
        "auto_increment fence: {} tables in {:?} ({:?} per table)",
        report.tables.len(),
        report.took,
        report.took / TABLES as u32
    );
    assert_eq!(report.tables.len(), TABLES);
    assert!(report
        .tables
        .iter()
        .all(|(_, from, to)| *from == 4 && *to == 10_004));
    let raised = p.cn2.value(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'tandem_test' \
         AND AUTO_INCREMENT >= 10004",
    );
    assert_eq!(raised, TABLES.to_string());
    p.reset();
}
