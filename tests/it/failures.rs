//! A backend failing mid-statement: the client gets an error for that statement (not a hang), and
//! outside a transaction the session goes on.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tandem_testkit::{pair, NodeId};

use crate::support::{config_text, opts, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_killed_mid_statement() {
    let p = pair();
    p.reset();
    // Nearly every read goes to cn2.
    let config = config_text(&p, "").replace("weight = 1\n", "weight = 1\nread_weight = 100000\n");
    let config = config.replace("weight = 256\n", "weight = 256\nread_weight = 1\n");
    // A table whose content differs per node tells which node served a read.
    p.cn1.query("CREATE TABLE shop.whoami (n VARCHAR(8))");
    p.wait_synced(Duration::from_secs(10));
    for n in [&p.cn1, &p.cn2] {
        n.query(&format!(
            "SET SESSION sql_log_bin = 0; INSERT INTO shop.whoami VALUES ('{}')",
            n.name()
        ));
    }
    let proxy = start(&config).await;
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    let server: Option<String> = c.query_first("SELECT n FROM whoami").await.expect("read");
    assert_eq!(
        server.as_deref(),
        Some("cn2"),
        "reads are meant to go to cn2 here"
    );

    let started = Instant::now();
    let sleeping = tokio::spawn(async move {
        let r: Result<Option<i64>, _> = c.query_first("SELECT SLEEP(30)").await;
        (r, c)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    p.kill(NodeId::Cn2);
    let (r, mut c) = sleeping.await.expect("join");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "the client waited {took:?}");
    match r {
        Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 2013, "{e:?}"),
        other => panic!("expected a 2013 error, got {other:?}"),
    }
    // The session goes on: reads fall back to the writer while cn2 is gone.
    for _ in 0..10 {
        let server: Option<String> = c
            .query_first("SELECT n FROM whoami")
            .await
            .expect("read after the failure");
        assert_eq!(server.as_deref(), Some("cn1"));
    }
    c.query_drop("DO 1").await.expect("write after the failure");
    p.start(NodeId::Cn2);
    p.reset();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_writable_node_holds_then_refuses_writes_reads_go_on() {
    let p = pair();
    p.reset();
    let proxy = start(&config_text(&p, "")).await; // write_hold = 3s
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    for n in [&p.cn1, &p.cn2] {
        n.query("SET GLOBAL read_only = ON");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await; // the monitor sees it
    let started = Instant::now();
    let err = c
        .query_drop("CREATE TABLE nope (id INT)")
        .await
        .expect_err("no writer");
    let held = started.elapsed();
    match err {
        mysql_async::Error::Server(ref e) => {
            assert_eq!((e.code, e.state.as_str()), (1290, "HY000"), "{e:?}");
            assert!(e.message.contains("no writable backend"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        held >= Duration::from_millis(2500) && held < Duration::from_secs(10),
        "held {held:?}"
    );
    let one: Option<i64> = c.query_first("SELECT 1").await.expect("reads go on");
    assert_eq!(one, Some(1));
    // A write issued while the writer is missing goes through once it is back.
    let pending = tokio::spawn(async move {
        let r = c.query_drop("CREATE TABLE yes (id INT)").await;
        (r, c)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    p.cn1.query("SET GLOBAL read_only = OFF");
    let (r, _c) = pending.await.expect("join");
    r.expect("held write succeeded once cn1 was writable again");
    assert_eq!(
        p.cn1
            .value("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'yes'"),
        "1"
    );
    p.reset();
}
