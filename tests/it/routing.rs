//! Routing checked on the servers themselves (general log), not by trusting the proxy.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use tandem_testkit::pair;

use crate::support::{config_text, general_log_on, logged, opts, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_transactions_hit_cn1_only_and_reads_spread() {
    let p = pair();
    p.reset();
    let proxy = start(&config_text(&p, "")).await;
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    c.query_drop(
        "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(32)) /* tw:ddl */",
    )
    .await
    .expect("create");
    p.wait_synced(Duration::from_secs(10));
    general_log_on(&p);

    // Writes, a locking read, LAST_INSERT_ID, and a transaction with a plain SELECT inside.
    let writes = [
        "INSERT INTO items (name) VALUES ('a') /* tw:1 */",
        "UPDATE items SET name = 'b' WHERE id = 1 /* tw:2 */",
        "SELECT * FROM items WHERE id = 1 FOR UPDATE /* tw:3 */",
        "SELECT LAST_INSERT_ID() /* tw:4 */",
        "INSERT INTO items (name) VALUES ('c') /* tw:5 */",
    ];
    for w in writes {
        c.query_drop(w).await.expect(w);
    }
    c.query_drop("BEGIN /* tw:tx */").await.expect("begin");
    let _: Vec<(i32, String)> = c
        .query("SELECT id, name FROM items /* tw:in-tx */")
        .await
        .expect("select in tx");
    c.query_drop("INSERT INTO items (name) VALUES ('d') /* tw:in-tx-insert */")
        .await
        .expect("insert in tx");
    c.query_drop("COMMIT /* tw:commit */")
        .await
        .expect("commit");
    c.disconnect().await.expect("disconnect");
    p.wait_synced(Duration::from_secs(10));

    // Plain reads from fresh sessions (no read-your-writes window): spread over both nodes.
    let reads = 200;
    for i in 0..reads {
        let mut r = mysql_async::Conn::new(opts(&proxy, "shop"))
            .await
            .expect("connect");
        let _: Vec<(i32, String)> = r
            .query(format!("SELECT id, name FROM items /* tr:{i} */"))
            .await
            .expect("read");
        r.disconnect().await.expect("disconnect");
    }

    let on_cn1 = logged(&p.cn1, "tw:");
    let on_cn2 = logged(&p.cn2, "tw:");
    assert!(
        on_cn2.is_empty(),
        "writes or transaction statements reached cn2: {on_cn2:?}"
    );
    for marker in [
        "tw:1",
        "tw:2",
        "tw:3",
        "tw:4",
        "tw:5",
        "tw:tx",
        "tw:in-tx",
        "tw:in-tx-insert",
        "tw:commit",
    ] {
        assert!(
            on_cn1.iter().any(|s| s.contains(&format!("{marker} "))),
            "{marker} not seen on cn1: {on_cn1:?}"
        );
    }
    let r1 = logged(&p.cn1, "tr:").len();
    let r2 = logged(&p.cn2, "tr:").len();
    assert_eq!(r1 + r2, reads, "every read ran exactly once");
    assert!(
        r1 >= reads / 5 && r2 >= reads / 5,
        "reads not spread fairly: cn1 {r1}, cn2 {r2}"
    );
    for n in [&p.cn1, &p.cn2] {
        n.query("SET GLOBAL general_log = OFF");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_refused_with_1045() {
    let p = pair();
    let proxy = start(&config_text(&p, "")).await;
    let bad: mysql_async::Opts = mysql_async::OptsBuilder::from_opts(opts(&proxy, "shop"))
        .pass(Some("wrong"))
        .into();
    let err = mysql_async::Conn::new(bad)
        .await
        .expect_err("must be refused");
    match err {
        mysql_async::Error::Server(e) => {
            assert_eq!(e.code, 1045, "{e:?}");
            assert_eq!(e.state, "28000");
        }
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_reads_spread_and_prepared_writes_stay_on_cn1() {
    let p = pair();
    p.reset();
    let proxy = start(&config_text(&p, "")).await;
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    c.query_drop("CREATE TABLE kv (id INT PRIMARY KEY, v VARCHAR(16))")
        .await
        .expect("create");
    c.query_drop("INSERT INTO kv SELECT seq, CONCAT('v', seq) FROM seq_1_to_50")
        .await
        .expect("fill");
    c.disconnect().await.expect("disconnect");
    p.wait_synced(Duration::from_secs(10));
    general_log_on(&p);

    let mut r = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    let read = r
        .prep("SELECT v FROM kv WHERE id = ? /* tp:read */")
        .await
        .expect("prepare");
    for i in 1..=100u32 {
        let id = i % 50 + 1;
        let v: Option<String> = r.exec_first(&read, (id,)).await.expect("execute");
        assert_eq!(v, Some(format!("v{id}")), "execution {i}");
    }
    r.close(read).await.expect("close");
    let write = r
        .prep("UPDATE kv SET v = ? WHERE id = ? /* tp:write */")
        .await
        .expect("prepare");
    for i in 1..=10u32 {
        r.exec_drop(&write, ("w", i)).await.expect("execute write");
    }
    r.disconnect().await.expect("disconnect");

    let reads1 = logged(&p.cn1, "tp:read")
        .iter()
        .filter(|s| s.starts_with("SELECT"))
        .count();
    let reads2 = logged(&p.cn2, "tp:read")
        .iter()
        .filter(|s| s.starts_with("SELECT"))
        .count();
    assert!(
        reads2 >= 20 && reads1 >= 20,
        "prepared reads not spread: cn1 {reads1}, cn2 {reads2}"
    );
    let w2: Vec<String> = logged(&p.cn2, "tp:write");
    assert!(w2.is_empty(), "a prepared write reached cn2: {w2:?}");
    let w1 = logged(&p.cn1, "tp:write")
        .iter()
        .filter(|s| s.starts_with("UPDATE"))
        .count();
    assert_eq!(w1, 11, "one PREPARE and ten executions, all on cn1");
    for n in [&p.cn1, &p.cn2] {
        n.query("SET GLOBAL general_log = OFF");
    }
}

/// Creates `tables` (`id`, `v`) in `shop`, makes cn2 apply everything 4 s late
/// (`MASTER_DELAY = 4`), and returns the configuration for a `read_your_writes` mode in which
/// cn2, kept in the read pool by a large `max_lag`, is the only node with a read share.
fn lagging_replica(p: &tandem_testkit::Pair, tables: &[&str]) -> impl Fn(&str) -> String {
    for t in tables {
        p.cn1.query(&format!(
            "CREATE TABLE shop.{t} (id INT AUTO_INCREMENT PRIMARY KEY, v INT)"
        ));
    }
    p.wait_synced(Duration::from_secs(10));
    p.cn2
        .query("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 4; START SLAVE");
    let base = config_text(p, "")
        .replace("weight = 256\n", "weight = 256\nread_weight = 0\n")
        .replace("max_lag = \"10s\"", "max_lag = \"1h\"");
    move |mode: &str| base.clone() + &format!("\n[routing]\nread_your_writes = \"{mode}\"\n")
}

/// `read_your_writes = "gtid"` against a replica that lags on purpose (`MASTER_DELAY = 4`, kept
/// in the read pool with a large `max_lag`, and the only node with a read share): a session's
/// reads right after its writes are sent to the writer and always see them, while reads of
/// data the replica has applied go to the replica. The same run with `read_your_writes = "off"`
/// shows the replica returning stale results, so the check can fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gtid_causal_reads_see_the_sessions_own_writes_on_a_lagging_replica() {
    let p = pair();
    p.reset();
    let config = lagging_replica(&p, &["causal_off", "causal_gtid"]);
    let mut stale = Vec::new();
    for mode in ["off", "gtid"] {
        let proxy = start(&config(mode)).await;
        let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
            .await
            .expect("connect");
        let mut misses = 0;
        for i in 0..10 {
            c.query_drop(format!("INSERT INTO causal_{mode} (v) VALUES ({i})"))
                .await
                .expect("insert");
            let seen: Option<u64> = c
                .query_first(format!("SELECT COUNT(*) FROM causal_{mode} WHERE v = {i}"))
                .await
                .expect("read");
            if seen != Some(1) {
                misses += 1;
            }
        }
        stale.push(misses);
        c.disconnect().await.ok();
        drop(proxy);
    }
    println!(
        "reads missing the session's own write: off {} / 10, gtid {} / 10",
        stale[0], stale[1]
    );
    assert!(
        stale[0] > 0,
        "the delayed replica served no stale read with causality off"
    );
    assert_eq!(stale[1], 0, "a causal read missed the session's own write");

    // Once the replica has applied the write, the session's reads go to it again.
    let proxy = start(&config("gtid")).await;
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    c.query_drop("INSERT INTO causal_gtid (v) VALUES (100)")
        .await
        .expect("insert");
    tokio::time::sleep(Duration::from_secs(6)).await;
    general_log_on(&p);
    let seen: Option<u64> = c
        .query_first("SELECT COUNT(*) FROM causal_gtid WHERE v = 100 /* causal:late */")
        .await
        .expect("read");
    assert_eq!(seen, Some(1));
    assert_eq!(
        logged(&p.cn2, "causal:late").len(),
        1,
        "served by the replica"
    );
    assert!(logged(&p.cn1, "causal:late").is_empty());
    c.disconnect().await.ok();
    drop(proxy);
    p.cn2
        .query("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE");
    p.reset();
}

/// `read_your_writes = "global"` (the default) against the same lagging replica: a write on one
/// connection is seen at once by a read on *another* connection (Tandem acknowledged it before
/// the read started), while `"session"` mode — which only tracks a session's own writes — lets
/// the other connection read stale data, so the check can fail. Once the replica has applied
/// everything, reads go to it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_causal_reads_see_other_sessions_writes_on_a_lagging_replica() {
    let p = pair();
    p.reset();
    let config = lagging_replica(&p, &["causal_session", "causal_global"]);
    let mut stale = Vec::new();
    for mode in ["session", "global"] {
        let proxy = start(&config(mode)).await;
        let mut writer = mysql_async::Conn::new(opts(&proxy, "shop"))
            .await
            .expect("connect");
        let mut reader = mysql_async::Conn::new(opts(&proxy, "shop"))
            .await
            .expect("connect");
        let mut misses = 0;
        for i in 0..10 {
            writer
                .query_drop(format!("INSERT INTO causal_{mode} (v) VALUES ({i})"))
                .await
                .expect("insert");
            let seen: Option<u64> = reader
                .query_first(format!("SELECT COUNT(*) FROM causal_{mode} WHERE v = {i}"))
                .await
                .expect("read");
            if seen != Some(1) {
                misses += 1;
            }
        }
        stale.push(misses);
        drop(proxy);
    }
    println!(
        "reads on another connection missing a write: session {} / 10, global {} / 10",
        stale[0], stale[1]
    );
    assert!(
        stale[0] > 0,
        "the other connection never read stale data in session mode"
    );
    assert_eq!(
        stale[1], 0,
        "a global causal read missed an acknowledged write"
    );

    // Once the replica has applied everything, reads go to it again.
    let proxy = start(&config("global")).await;
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    c.query_drop("INSERT INTO causal_global (v) VALUES (100)")
        .await
        .expect("insert");
    tokio::time::sleep(Duration::from_secs(6)).await;
    general_log_on(&p);
    let mut other = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    let seen: Option<u64> = other
        .query_first("SELECT COUNT(*) FROM causal_global WHERE v = 100 /* causal:caught-up */")
        .await
        .expect("read");
    assert_eq!(seen, Some(1));
    assert_eq!(
        logged(&p.cn2, "causal:caught-up").len(),
        1,
        "served by the replica once it caught up"
    );
    drop(proxy);
    p.cn2
        .query("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE");
    p.reset();
}

/// With a read-your-writes window, the first read after a write and the window goes to a reader:
/// the router's hooks run in protocol order (statement, then its response), so the write is not
/// still "in flight" when that read is routed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_write_and_the_window_reads_leave_the_writer() {
    let p = pair();
    p.reset();
    p.cn1
        .query("CREATE TABLE shop.win (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
    p.wait_synced(Duration::from_secs(10));
    let config = config_text(&p, "").replace("weight = 256\n", "weight = 256\nread_weight = 0\n")
        + "\n[routing]\nread_your_writes = \"300ms\"\n";
    let proxy = start(&config).await;
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    general_log_on(&p);
    let rounds = 5;
    for i in 0..rounds {
        c.query_drop(format!("INSERT INTO win (v) VALUES ({i})"))
            .await
            .expect("insert");
        tokio::time::sleep(Duration::from_millis(450)).await;
        let _: Option<u64> = c
            .query_first(format!("SELECT COUNT(*) FROM win /* win:{i} */"))
            .await
            .expect("read");
    }
    let on_cn2 = logged(&p.cn2, "win:");
    assert_eq!(
        on_cn2.len(),
        rounds,
        "reads after the window stayed on the writer: {:?}",
        logged(&p.cn1, "win:")
    );
}
