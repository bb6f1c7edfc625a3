//! Session state learned from the servers' session tracking, never replayed from client text:
//! what a client's SET did reaches every node that serves its reads (checked on the servers),
//! temporary values do not stick, and nothing leaks to the next client of a pooled connection.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use tandem_testkit::pair;

use crate::support::{config_text, general_log_on, logged, opts, start};

type State = (String, String, String, u64, String);

const STATE: &str = "SELECT @@session.sql_mode, @@session.time_zone, @@collation_connection, \
                     @@session.wait_timeout, @@lc_time_names";

async fn in_transaction(c: &mut mysql_async::Conn) -> State {
    c.query_drop("BEGIN").await.expect("begin");
    let s: State = c.query_first(STATE).await.expect("state").expect("row");
    c.query_drop("COMMIT").await.expect("commit");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_set_did_reaches_every_node_that_serves_the_session() {
    let p = pair();
    let proxy = start(&config_text(&p, "")).await;
    general_log_on(&p);
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    // What sqlx sends at connect (an expression, a subquery, NAMES with COLLATE in one SET),
    // and mysql_async-style plain assignments.
    c.query_drop(
        "SET sql_mode=(SELECT CONCAT(@@sql_mode, ',PIPES_AS_CONCAT,NO_ENGINE_SUBSTITUTION')),\
         time_zone='+03:00',NAMES utf8mb4 COLLATE utf8mb4_unicode_ci",
    )
    .await
    .expect("sqlx-style SET");
    c.query_drop("SET SESSION wait_timeout = 1234, lc_time_names = 'fr_FR'")
        .await
        .expect("plain SET");
    // A temporary value does not stick.
    let _: Option<i64> = c
        .query_first("SET STATEMENT time_zone = '+05:00' FOR SELECT 1")
        .await
        .expect("SET STATEMENT");
    let want = in_transaction(&mut c).await;
    assert!(want.0.contains("PIPES_AS_CONCAT"), "{want:?}");
    assert_eq!(
        (want.1.as_str(), want.2.as_str(), want.3, want.4.as_str()),
        ("+03:00", "utf8mb4_unicode_ci", 1234, "fr_FR")
    );
    for i in 0..40 {
        let got: State = c
            .query_first(format!("{STATE} /* st:{i} */"))
            .await
            .expect("read")
            .expect("row");
        assert_eq!(got, want, "read {i} saw other session state");
    }
    let on_cn2 = logged(&p.cn2, "st:");
    assert!(
        on_cn2.len() >= 5,
        "the session's reads did not spread to cn2 ({} of 40): it was pinned",
        on_cn2.len()
    );
    // Tandem set the state on cn2 with its own statements, not the client's text.
    let replays = logged(&p.cn2, "PIPES_AS_CONCAT");
    assert!(
        replays.iter().all(|s| !s.contains("SELECT CONCAT")),
        "the client's SET text ran on cn2: {replays:?}"
    );
    c.disconnect().await.expect("disconnect");

    // The next client of the same pooled connections starts from the server defaults.
    let defaults: State = {
        let mut d = mysql_async::Conn::new(
            mysql_async::Opts::from_url(&p.cn1.url("app", "apppass", "shop")).expect("url"),
        )
        .await
        .expect("direct");
        d.query_first(STATE).await.expect("defaults").expect("row")
    };
    tokio::time::sleep(Duration::from_millis(200)).await; // the pool's reset runs after close
    for _ in 0..10 {
        let mut n = mysql_async::Conn::new(opts(&proxy, "shop"))
            .await
            .expect("connect");
        let got: State = n.query_first(STATE).await.expect("read").expect("row");
        assert_eq!(got.1, defaults.1, "time_zone leaked to the next client");
        assert_eq!(got.4, defaults.4, "lc_time_names leaked to the next client");
        assert_eq!(got.3, defaults.3, "wait_timeout leaked to the next client");
        n.disconnect().await.expect("disconnect");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_servers_error_reaches_the_client_as_the_server_sent_it() {
    let p = pair();
    p.reset();
    // A table on cn1 only (not binlogged): preparing a read of it on cn2 fails there.
    p.cn1.query(
        "SET SESSION sql_log_bin = 0; CREATE TABLE shop.only_cn1 (id INT PRIMARY KEY); \
         INSERT INTO shop.only_cn1 VALUES (1)",
    );
    let proxy = start(&config_text(&p, "")).await;
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    let stmt = c
        .prep("SELECT id FROM only_cn1 WHERE id = ?")
        .await
        .expect("prepared on the writer");
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..30 {
        match c.exec_first::<i32, _, _>(&stmt, (1,)).await {
            Ok(Some(1)) => ok += 1,
            Err(mysql_async::Error::Server(e)) => {
                assert_eq!((e.code, e.state.as_str()), (1146, "42S02"), "{e:?}");
                assert!(
                    e.message.contains("doesn't exist") && !e.message.contains("ErrPacket"),
                    "{}",
                    e.message
                );
                refused += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        ok > 0 && refused > 0,
        "ok {ok}, refused {refused}: both nodes must have served"
    );
    // The session goes on after the server's error.
    c.query_drop("DO 1").await.expect("the session goes on");
    p.cn1
        .query("SET SESSION sql_log_bin = 0; DROP TABLE shop.only_cn1");
}
