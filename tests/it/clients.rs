//! The client matrix through Tandem: PHP PDO (server-side prepares) and mysqli, mysql_async
//! (prepared statements, transactions, session state across readers and the writer,
//! COM_CHANGE_USER, COM_RESET_CONNECTION), KILL, the connection cap and graceful shutdown.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::ChangeUserOpts;
use tandem_testkit::pair;

use crate::support::{config_text, opts, shop_tables, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn php_pdo_and_mysqli() {
    let p = pair();
    p.reset();
    let proxy = start(&config_text(&p, "")).await;
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    shop_tables(&mut c).await;
    p.wait_synced(Duration::from_secs(10));
    let script = tandem_testkit::workspace_root().join("tests/it/prestashop.php");
    let port = proxy.addr.port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("php")
            .arg(script)
            .arg(port)
            .arg("200")
            .output()
    })
    .await
    .expect("join")
    .expect("run php (scripts/install-deps installs php-cli php-mysql)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "php failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("ok 201 "), "{stdout}");
    p.wait_synced(Duration::from_secs(20));
    assert!(p.cn1.replication_healthy() && p.cn2.replication_healthy());
    let q = "SELECT COUNT(*), SUM(total) FROM shop.ps_orders";
    assert_eq!(p.cn1.query(q), p.cn2.query(q));
    assert_eq!(p.cn1.value("SELECT COUNT(*) FROM shop.ps_orders"), "201");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_async_prepared_transactions_session_state_change_user() {
    let p = pair();
    let proxy = start(&config_text(&p, "")).await;
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    c.query_drop(
        "CREATE TABLE IF NOT EXISTS ma (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(16))",
    )
    .await
    .expect("create");
    // Prepared statements with parameters, LAST_INSERT_ID.
    c.exec_drop("INSERT INTO ma (v) VALUES (?)", ("one",))
        .await
        .expect("insert");
    let id = c.last_insert_id().expect("insert id");
    let last: Option<u64> = c.query_first("SELECT LAST_INSERT_ID()").await.expect("lid");
    assert_eq!(last, Some(id));
    let v: Option<String> = c
        .exec_first("SELECT v FROM ma WHERE id = ?", (id,))
        .await
        .expect("select");
    assert_eq!(v.as_deref(), Some("one"));
    // A transaction: rolled back, nothing left.
    let mut tx = c
        .start_transaction(Default::default())
        .await
        .expect("begin");
    tx.exec_drop("INSERT INTO ma (v) VALUES (?)", ("rolled",))
        .await
        .expect("insert in tx");
    tx.rollback().await.expect("rollback");
    let n: Option<i64> = c
        .query_first("SELECT COUNT(*) FROM ma WHERE v = 'rolled'")
        .await
        .expect("count");
    assert_eq!(n, Some(0));
    // Multi-row result.
    let rows: Vec<u32> = c.query("SELECT seq FROM seq_1_to_500").await.expect("rows");
    assert_eq!(rows.len(), 500);
    // Session state follows the session onto whichever node serves its reads.
    c.query_drop("SET time_zone = '+03:00'")
        .await
        .expect("set tz");
    c.query_drop("SET NAMES latin1").await.expect("names");
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the read-your-writes window
    for _ in 0..20 {
        let (tz, cs): (String, String) = c
            .query_first("SELECT @@time_zone, @@character_set_client")
            .await
            .expect("read state")
            .expect("row");
        assert_eq!((tz.as_str(), cs.as_str()), ("+03:00", "latin1"));
    }
    // COM_CHANGE_USER to a user configured in Tandem by its mysql_native_password hash only:
    // Tandem accepts it, but the user does not exist on the backends, so its first statement
    // fails cleanly. Then to `app` with a schema; a wrong password is refused.
    c.change_user(
        ChangeUserOpts::default()
            .with_user(Some("hashed".into()))
            .with_pass(Some("password".into())),
    )
    .await
    .expect("Tandem authenticates a hash-only user");
    let err = c
        .query_drop("DO 1")
        .await
        .expect_err("no such user on the backends");
    assert!(
        matches!(err, mysql_async::Error::Server(ref e) if e.code == 1045 && e.state == "28000"),
        "{err:?}"
    );
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("reconnect");
    c.change_user(
        ChangeUserOpts::default()
            .with_user(Some("app".into()))
            .with_pass(Some("apppass".into()))
            .with_db_name(Some("tandem_test".into())),
    )
    .await
    .expect("change user");
    let db: Option<String> = c.query_first("SELECT DATABASE()").await.expect("db");
    assert_eq!(db.as_deref(), Some("tandem_test"));
    let err = c
        .change_user(
            ChangeUserOpts::default()
                .with_user(Some("app".into()))
                .with_pass(Some("nope".into())),
        )
        .await
        .expect_err("wrong password");
    assert!(
        matches!(err, mysql_async::Error::Server(ref e) if e.code == 1045),
        "{err:?}"
    );
    // COM_RESET_CONNECTION clears session variables.
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    c.query_drop("SET @x = 5").await.expect("set var");
    assert!(c.reset().await.expect("reset"));
    let x: Option<Option<i64>> = c.query_first("SELECT @x").await.expect("read var");
    assert_eq!(x, Some(None));
    c.query_drop("DROP TABLE shop.ma").await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_query_and_connection_by_tandem_id() {
    let p = pair();
    let proxy = start(&config_text(&p, "")).await;
    let mut victim = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("victim");
    let mut killer = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("killer");
    let vid = victim.id();
    let started = Instant::now();
    let sleeper = tokio::spawn(async move {
        let r: Result<Option<i64>, _> = victim.query_first("SELECT SLEEP(20)").await;
        (r, victim)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    killer
        .query_drop(format!("KILL QUERY {vid}"))
        .await
        .expect("kill query");
    let (r, mut victim) = sleeper.await.expect("join");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "KILL QUERY did not interrupt the sleep"
    );
    // SLEEP() interrupted returns 1 (or the statement fails with 1317): either way, not 20 s.
    if let Ok(v) = r {
        assert_eq!(v, Some(1));
    }
    victim
        .query_drop("DO 1")
        .await
        .expect("victim survives KILL QUERY");
    killer
        .query_drop(format!("KILL {vid}"))
        .await
        .expect("kill connection");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        victim.query_drop("DO 1").await.is_err(),
        "killed connection still serves"
    );
    let err = killer
        .query_drop("KILL 999999")
        .await
        .expect_err("unknown id");
    assert!(
        matches!(err, mysql_async::Error::Server(ref e) if e.code == 1094),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cap_and_graceful_shutdown() {
    let p = pair();
    let proxy = start(&config_text(
        &p,
        "max_connections = 3\nshutdown_timeout = \"10s\"",
    ))
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            mysql_async::Conn::new(opts(&proxy, "shop"))
                .await
                .expect("within the cap"),
        );
    }
    let err = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect_err("over the cap");
    assert!(
        matches!(err, mysql_async::Error::Server(ref e) if e.code == 1040),
        "{err:?}"
    );
    let mut busy = held.pop().expect("conn");
    let running = tokio::spawn(async move { busy.query_first::<i64, _>("SELECT SLEEP(1)").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let addr = proxy.addr;
    drop(proxy); // shutdown: stop accepting, let the running statement finish
    let r = running.await.expect("join");
    assert_eq!(r.expect("statement finished during shutdown"), Some(0));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_connections_never_leak_a_schema() {
    let p = pair();
    let proxy = start(&config_text(&p, "")).await;
    let with_db = |db: Option<&str>| -> mysql_async::Opts {
        mysql_async::OptsBuilder::from_opts(opts(&proxy, "shop"))
            .db_name(db.map(str::to_owned))
            .into()
    };
    for round in 0..5 {
        let mut a = mysql_async::Conn::new(with_db(Some("tandem_test")))
            .await
            .expect("a");
        a.query_drop("DO 1")
            .await
            .expect("write pins a writer connection");
        a.query_drop("USE shop").await.expect("use");
        a.disconnect().await.expect("a quits");
        let mut b = mysql_async::Conn::new(with_db(None)).await.expect("b");
        b.query_drop("DO 1").await.expect("b on the writer");
        let db: Option<Option<String>> = b.query_first("SELECT DATABASE()").await.expect("b db");
        assert_eq!(
            db,
            Some(None),
            "round {round}: a schema leaked into a session without one"
        );
        b.disconnect().await.expect("b quits");
        let mut c = mysql_async::Conn::new(with_db(Some("tandem_test")))
            .await
            .expect("c");
        c.query_drop("DO 1").await.expect("c on the writer");
        let db: Option<String> = c.query_first("SELECT DATABASE()").await.expect("c db");
        assert_eq!(db.as_deref(), Some("tandem_test"), "round {round}");
        c.disconnect().await.expect("c quits");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_through_tandem() {
    use sqlx::{Connection, Row};
    let p = pair();
    let proxy = start(&config_text(&p, "")).await;
    let url = format!("mysql://app:apppass@127.0.0.1:{}/shop", proxy.addr.port());
    let mut c = sqlx::MySqlConnection::connect(&url)
        .await
        .expect("sqlx connect");
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS sx (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(16))",
    )
    .execute(&mut c)
    .await
    .expect("create");
    // sqlx uses server-side prepared statements for everything.
    let done = sqlx::query("INSERT INTO sx (v) VALUES (?)")
        .bind("a")
        .execute(&mut c)
        .await
        .expect("insert");
    let id = done.last_insert_id();
    assert!(id > 0);
    let row = sqlx::query("SELECT LAST_INSERT_ID() AS lid")
        .fetch_one(&mut c)
        .await
        .expect("lid");
    assert_eq!(row.get::<u64, _>("lid"), id);
    let mut tx = c.begin().await.expect("begin");
    sqlx::query("INSERT INTO sx (v) VALUES (?)")
        .bind("in-tx")
        .execute(&mut *tx)
        .await
        .expect("insert in tx");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sx WHERE v = 'in-tx'")
        .fetch_one(&mut *tx)
        .await
        .expect("read own write in tx");
    assert_eq!(n, 1);
    tx.rollback().await.expect("rollback");
    let rows = sqlx::query("SELECT seq FROM seq_1_to_300")
        .fetch_all(&mut c)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 300);
    let v: Option<String> = sqlx::query_scalar("SELECT v FROM sx WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut c)
        .await
        .expect("select by id");
    assert_eq!(v.as_deref(), Some("a"));
    sqlx::query("DROP TABLE sx")
        .execute(&mut c)
        .await
        .expect("drop");
    c.close().await.expect("close");
}

/// Sessions one after another take turns on the two event loops; each loop keeps its own idle
/// backend connections, so a stream of short sessions reuses a handful of backend connections
/// instead of opening one per client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_sessions_reuse_pooled_backend_connections_on_every_worker() {
    let p = pair();
    let proxy = start(&config_text(&p, "")).await;
    let sessions = 30;
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..sessions {
        let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
            .await
            .expect("connect");
        // In a transaction: runs on the writer, on this session's pooled connection there.
        c.query_drop("BEGIN").await.expect("begin");
        let id: Option<u64> = c
            .query_first(format!("SELECT CONNECTION_ID() /* pool:{i} */"))
            .await
            .expect("connection id");
        c.query_drop("COMMIT").await.expect("commit");
        c.disconnect().await.expect("disconnect");
        ids.insert(id.expect("an id"));
        // Let the background reset put the connection back before the next client.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ids.len() <= 4,
        "{sessions} sessions used {} backend connections: {ids:?}",
        ids.len()
    );
    assert!(
        ids.len() >= 2,
        "sessions should alternate between the two event loops, each with its own pooled connection: {ids:?}"
    );
}

/// At the per-node connection cap, an idle connection kept by another event loop is closed to
/// make room, instead of refusing the client (sessions alternate between the two loops here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_an_idle_connection_of_another_worker_makes_room() {
    let p = pair();
    let proxy = start(&config_text(&p, "pool_max_connections = 1")).await;
    for i in 0..6 {
        let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
            .await
            .expect("connect");
        c.query_drop("BEGIN").await.expect("begin");
        let id: Result<Option<u64>, _> = c
            .query_first(format!("SELECT CONNECTION_ID() /* cap:{i} */"))
            .await;
        assert!(id.is_ok(), "session {i} refused at the cap: {id:?}");
        c.query_drop("COMMIT").await.expect("commit");
        c.disconnect().await.expect("disconnect");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}
