//! Multiplexing on the real pair: quiet sessions give their backend connections back and the
//! next session takes them with its own state re-applied. With one backend connection per node,
//! two sessions must share it — and each still sees exactly its own state; what ties a session
//! to its connection (a transaction, user variables) keeps the other one waiting.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use tandem_testkit::pair;

use crate::support::{config_text, opts, start, Proxy};

/// Statements carry the writer hint, so both sessions run on cn1's one connection.
const W: &str = "/* tandem:writer */";

/// Longer than the linger: the session has gone quiet and given its connection back.
async fn quiet() {
    tokio::time::sleep(Duration::from_millis(60)).await;
}

async fn one_connection_proxy() -> (tandem_testkit::Pair, Proxy) {
    let p = pair();
    let extra = "pool_max_connections = 1\npool_wait_timeout = \"400ms\"\n\
                 multiplex_linger = \"5ms\"";
    let proxy = start(&config_text(&p, extra)).await;
    (p, proxy)
}

async fn connect(proxy: &Proxy, db: &str) -> mysql_async::Conn {
    mysql_async::Conn::new(opts(proxy, db))
        .await
        .expect("connect")
}

type State = (u64, String, String, String);

async fn state(c: &mut mysql_async::Conn) -> State {
    c.query_first(format!(
        "{W} SELECT CONNECTION_ID(), @@session.sql_mode, @@session.time_zone, DATABASE()"
    ))
    .await
    .expect("state")
    .expect("row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_share_one_connection_and_keep_their_own_state() {
    let (_p, proxy) = one_connection_proxy().await;
    let mut a = connect(&proxy, "shop").await;
    let mut b = connect(&proxy, "shop").await;
    a.query_drop(format!(
        "{W} SET SESSION sql_mode = 'ANSI_QUOTES,STRICT_ALL_TABLES', time_zone = '+01:00'"
    ))
    .await
    .expect("a: SET");
    a.query_drop(format!("{W} USE mysql"))
        .await
        .expect("a: USE");
    quiet().await;
    b.query_drop(format!("{W} SET SESSION time_zone = '+09:00'"))
        .await
        .expect("b: SET");
    quiet().await;
    let mut ids = Vec::new();
    for round in 0..4 {
        let sa = state(&mut a).await;
        quiet().await;
        let sb = state(&mut b).await;
        quiet().await;
        assert_eq!(
            (sa.1.as_str(), sa.2.as_str(), sa.3.as_str()),
            ("ANSI_QUOTES,STRICT_ALL_TABLES", "+01:00", "mysql"),
            "round {round}: session a saw another state"
        );
        assert_eq!(sb.2, "+09:00", "round {round}: session b's time zone");
        assert_eq!(sb.3, "shop", "round {round}: session b's schema");
        assert!(
            !sb.1.contains("ANSI_QUOTES"),
            "round {round}: a's sql_mode leaked to b: {}",
            sb.1
        );
        ids.push(sa.0);
        ids.push(sb.0);
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "the sessions did not share the one backend connection: {ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_or_user_variables_keep_the_connection() {
    let (_p, proxy) = one_connection_proxy().await;
    let mut a = connect(&proxy, "shop").await;
    let mut b = connect(&proxy, "shop").await;
    a.query_drop("BEGIN").await.expect("begin");
    let _: Option<i64> = a.query_first(format!("{W} SELECT 1")).await.expect("a");
    quiet().await;
    let busy = b.query_drop(format!("{W} DO 1")).await;
    let err = busy.expect_err("b got the connection a's transaction holds");
    assert!(err.to_string().contains("1040"), "{err}");
    a.query_drop("COMMIT").await.expect("commit");
    quiet().await;
    b.query_drop(format!("{W} DO 1"))
        .await
        .expect("b after the commit");
    quiet().await;

    a.query_drop(format!("{W} SET @cart = 41"))
        .await
        .expect("a: @cart");
    quiet().await;
    let busy = b.query_drop(format!("{W} DO 1")).await;
    assert!(
        busy.is_err(),
        "b got the connection holding a's user variable"
    );
    let cart: Option<i64> = a
        .query_first(format!("{W} SELECT @cart + 1"))
        .await
        .expect("a: @cart");
    assert_eq!(cart, Some(42));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_insert_id_follows_the_session_across_connections() {
    let (_p, proxy) = one_connection_proxy().await;
    let mut a = connect(&proxy, "shop").await;
    let mut b = connect(&proxy, "shop").await;
    a.query_drop(
        "CREATE TABLE IF NOT EXISTS mux_ids (id INT AUTO_INCREMENT PRIMARY KEY, who CHAR(1))",
    )
    .await
    .expect("create");
    a.query_drop("INSERT INTO mux_ids (who) VALUES ('a')")
        .await
        .expect("a: insert");
    let mine: Option<u64> = a
        .query_first("SELECT LAST_INSERT_ID()")
        .await
        .expect("a: id");
    let _: Option<i64> = a.query_first(format!("{W} SELECT 1")).await.expect("a");
    quiet().await;
    // b's insert on the same backend connection moves its LAST_INSERT_ID().
    b.query_drop("INSERT INTO mux_ids (who) VALUES ('b')")
        .await
        .expect("b: insert");
    let theirs: Option<u64> = b
        .query_first("SELECT LAST_INSERT_ID()")
        .await
        .expect("b: id");
    let _: Option<i64> = b.query_first(format!("{W} SELECT 1")).await.expect("b");
    quiet().await;
    assert_ne!(mine, theirs);
    let again: Option<u64> = a
        .query_first("SELECT LAST_INSERT_ID()")
        .await
        .expect("a: id again");
    assert_eq!(
        again, mine,
        "a's LAST_INSERT_ID() after b used the connection"
    );
    let _: Option<i64> = a.query_first(format!("{W} SELECT 1")).await.expect("a");
    quiet().await;
    // A new session on the connection a used: its LAST_INSERT_ID() is its own (0), not a's.
    let mut c = connect(&proxy, "shop").await;
    let fresh: Option<u64> = c
        .query_first("SELECT LAST_INSERT_ID()")
        .await
        .expect("c: id");
    assert_eq!(fresh, Some(0), "another session's LAST_INSERT_ID() leaked");
    let _: Option<i64> = c.query_first(format!("{W} SELECT 1")).await.expect("c");
    drop(c);
    quiet().await;
    a.query_drop("DROP TABLE mux_ids").await.expect("drop");
}
