//! Per-user limits on the real pair: `[[users]] max_connections` (client sessions, ERR 1203 at
//! login and at COM_CHANGE_USER) and `max_backend_connections` (backend connections per node:
//! the user waits for one of its own, other users do not), checked on the server's process
//! list; and `[health] slowstart`, a reader coming back taking its share in steps.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::ChangeUserOpts;
use tandem_testkit::pair;

use crate::http::{http_section, post, status};
use crate::support::{config_text, free_port, general_log_on, logged, start, Proxy};

const W: &str = "/* tandem:writer */";

fn capped_opts(proxy: &Proxy) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname(proxy.addr.ip().to_string())
        .tcp_port(proxy.addr.port())
        .user(Some("capu"))
        .pass(Some("cappass"))
        .db_name(Some("shop"))
        .prefer_socket(false)
        .into()
}

fn is_1203(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == 1203 && s.state == "42000")
}

/// `capu`'s connections on cn1, from cn1's own process list.
fn server_connections(node: &tandem_testkit::Node) -> usize {
    let rows =
        node.query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'capu'");
    rows[0][0].parse().expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_caps_on_sessions_and_backend_connections() {
    let p = pair();
    p.reset(); // cn1 the writer, whatever the test before left
    p.cn1.query(
        "CREATE USER IF NOT EXISTS 'capu'@'%' IDENTIFIED BY 'cappass'; \
         GRANT ALL ON shop.* TO 'capu'@'%'",
    );
    p.wait_synced(Duration::from_secs(30));
    let config = format!(
        "{}\n[[users]]\nname = \"capu\"\npassword = \"cappass\"\n\
         max_connections = 3\nmax_backend_connections = 1\n",
        config_text(
            &p,
            "pool_wait_timeout = \"600ms\"\nmultiplex_linger = \"5ms\""
        )
    );
    let proxy = start(&config).await;

    // Sessions: three at once, the fourth refused with 1203/42000.
    let mut held = Vec::new();
    for i in 0..3 {
        let c = mysql_async::Conn::new(capped_opts(&proxy))
            .await
            .unwrap_or_else(|e| panic!("session {i}: {e}"));
        held.push(c);
    }
    let err = mysql_async::Conn::new(capped_opts(&proxy))
        .await
        .expect_err("a fourth session is over the user's max_connections");
    assert!(is_1203(&err), "{err:?}");
    assert!(err.to_string().contains("max_user_connections"), "{err}");
    // Other users are not limited by it.
    let mut app = mysql_async::Conn::new(crate::support::opts(&proxy, "shop"))
        .await
        .expect("app logs in");
    // COM_CHANGE_USER into the capped user counts too.
    let err = app
        .change_user(
            ChangeUserOpts::default()
                .with_user(Some("capu".into()))
                .with_pass(Some("cappass".into())),
        )
        .await
        .expect_err("changing into a user at its cap");
    assert!(is_1203(&err), "{err:?}");
    // That session is over (as after a refused COM_CHANGE_USER on a server); a new one.
    let mut app = mysql_async::Conn::new(crate::support::opts(&proxy, "shop"))
        .await
        .expect("app logs in again");
    // A session that leaves gives its slot back.
    held.pop().expect("one").disconnect().await.expect("bye");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut third = loop {
        match mysql_async::Conn::new(capped_opts(&proxy)).await {
            Ok(c) => break c,
            Err(e) if is_1203(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the freed slot was not given back: {e}"),
        }
    };

    // Backend connections: a transaction holds capu's one connection to cn1; another capu
    // session waits for it, then gets 1203 naming the cap and the node.
    let mut a = held.pop().expect("a");
    let mut b = held.pop().expect("b");
    a.query_drop("BEGIN").await.expect("begin");
    a.query_drop(format!("{W} SELECT 1"))
        .await
        .expect("a holds cn1");
    let started = std::time::Instant::now();
    let err = b
        .query_drop(format!("{W} SELECT 1"))
        .await
        .expect_err("b is over capu's max_backend_connections to cn1");
    assert!(is_1203(&err), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("max_backend_connections of 1") && text.contains("'cn1'"),
        "{text}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it waited pool_wait_timeout first ({:?})",
        started.elapsed()
    );
    assert_eq!(
        server_connections(&p.cn1),
        1,
        "cn1 holds one capu connection"
    );
    // Meanwhile another user gets cn1 at once.
    app.query_drop(format!("{W} SELECT 1"))
        .await
        .expect("app is not capped");
    // The waiter gets the connection as soon as the transaction ends.
    let waiter = tokio::spawn(async move {
        let r: Result<Option<u64>, _> = b.query_first(format!("{W} SELECT 41 + 1")).await;
        (b, r)
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    a.query_drop("COMMIT").await.expect("commit");
    let (_b, r) = waiter.await.expect("join");
    assert_eq!(r.expect("b got the freed connection"), Some(42));
    assert!(server_connections(&p.cn1) <= 1, "never more than one");
    third.query_drop("DO 1").await.expect("third still works");
}

/// The `warming_percent` of `node` in Tandem's `/status`, if it has one.
fn warming(http: u16, node: &str) -> Option<u64> {
    node_row(http, node)["warming_percent"].as_u64()
}

fn node_row(http: u16, node: &str) -> serde_json::Value {
    let v = status(http);
    let nodes = v["nodes"].as_array().expect("nodes");
    nodes
        .iter()
        .find(|n| n["name"] == node)
        .cloned()
        .expect("node")
}

/// A reader that leaves the read pool (its replication stopped) and comes back ramps up over
/// `slowstart`: `/status` shows it warming, and it takes a small part of the reads at first,
/// then its full share once the ramp is over (counted in cn2's general log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowstart_ramps_a_returning_reader() {
    let p = pair();
    p.reset(); // cn1 the writer, cn2 a replicating reader
    let http = free_port();
    let mut config = config_text(&p, "");
    config = config.replace(
        "timeout = \"1s\"\n",
        "timeout = \"1s\"\nslowstart = \"6s\"\n",
    );
    config.push_str(&http_section(http));
    let proxy = start(&config).await;
    general_log_on(&p);
    // At start-up nobody warms.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(warming(http, "cn2"), None, "no slow start at start-up");
    // cn2 leaves the read pool: its replication stops.
    p.cn2.query("STOP SLAVE");
    let guard = RestartReplication(&p);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while reader_role(http, "cn2") {
        assert!(std::time::Instant::now() < deadline, "cn2 stayed a reader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    p.cn2.query("START SLAVE");
    drop(guard);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let first = loop {
        if let Some(w) = warming(http, "cn2") {
            break w;
        }
        assert!(std::time::Instant::now() < deadline, "cn2 never warmed up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        (5..50).contains(&first),
        "a returning reader starts low: {first}%"
    );
    // Reads in the ramp's first part: cn2 gets clearly less than its even half.
    let mut c = mysql_async::Conn::new(crate::support::opts(&proxy, "shop"))
        .await
        .expect("connect");
    let on_cn2 = reads_on_cn2(&p, &mut c, "ss1").await;
    eprintln!("slow start: first seen at {first}%, cn2 took {on_cn2} of 200 reads");
    assert!(
        on_cn2 < 90,
        "a warming reader took {on_cn2} of 200 reads (an even spread gives ~100)"
    );
    // Later it is ramped up and gone from the status.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut last = first;
    while let Some(w) = warming(http, "cn2") {
        assert!(w >= last, "the ramp only goes up ({last}% then {w}%)");
        last = w;
        assert!(
            std::time::Instant::now() < deadline,
            "still warming at {w}%"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let on_cn2 = reads_on_cn2(&p, &mut c, "ss2").await;
    eprintln!("after the ramp cn2 took {on_cn2} of 200 reads");
    assert!(
        (60..=140).contains(&on_cn2),
        "after the ramp cn2 takes its even share: {on_cn2} of 200"
    );
    // Back from maintenance is a return too.
    let (code, body) = post(http, "/nodes/cn2/drain");
    assert_eq!(code, 200, "{body}");
    assert_eq!(warming(http, "cn2"), None, "a drained node does not warm");
    let (code, body) = post(http, "/nodes/cn2/ready");
    assert_eq!(code, 200, "{body}");
    let w = warming(http, "cn2");
    assert!(
        w.is_some_and(|w| w < 50),
        "a node back from maintenance starts low: {w:?}"
    );
}

/// Runs 200 reads marked `marker` and counts those cn2's general log holds.
async fn reads_on_cn2(p: &tandem_testkit::Pair, c: &mut mysql_async::Conn, marker: &str) -> usize {
    for i in 0..200 {
        let _: Vec<u32> = c
            .query(format!("SELECT {i} AS `{marker}`"))
            .await
            .expect("read");
    }
    logged(&p.cn2, marker).len()
}

fn reader_role(http: u16, node: &str) -> bool {
    node_row(http, node)["role"] == "reader"
}

/// Starts cn2's replication again if the test fails while it is stopped.
struct RestartReplication<'a>(&'a tandem_testkit::Pair);

impl Drop for RestartReplication<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.cn2.query("START SLAVE");
        }
    }
}
