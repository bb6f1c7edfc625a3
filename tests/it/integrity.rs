//! The one promise under attack: crafted SQL never writes on the passive master, a write the
//! classifier cannot see is refused by the reader (READ ONLY) and re-run on the writer, and
//! client SQL text is never run a second time. Checked on the servers (general log, rows).

use std::time::Duration;

use mysql_async::prelude::Queryable;
use tandem_testkit::pair;
use tokio::io::AsyncWriteExt;

use crate::hostile::{packet, raw_login, read_packet};
use crate::support::{config_text, general_log_on, logged, opts, start, Proxy};

/// Sends one COM_QUERY of raw bytes and reads the whole response (result sets included);
/// returns the first byte of the final packet (0x00 OK/EOF-ish, 0xFF ERR) and its payload.
async fn raw_query(s: &mut tokio::net::TcpStream, sql: &[u8]) -> (u8, Vec<u8>) {
    let mut p = vec![0x03];
    p.extend_from_slice(sql);
    s.write_all(&packet(0, &p)).await.expect("send");
    let mut stream = tandem_protocol::ResponseStream::new(
        tandem_protocol::Command::Query,
        tandem_protocol::Capabilities::PROTOCOL_41
            | tandem_protocol::Capabilities::MULTI_RESULTS
            | tandem_protocol::Capabilities::MULTI_STATEMENTS,
    );
    loop {
        let (seq, payload) = read_packet(s).await.expect("response packet");
        let header = tandem_protocol::PacketHeader {
            len: payload.len() as u32,
            seq,
        };
        match stream.feed(header, &payload).expect("valid response") {
            tandem_protocol::Step::Done(_) => {
                return (payload.first().copied().unwrap_or(0), payload)
            }
            tandem_protocol::Step::Continue => {}
            other => panic!("unexpected step {other:?}"),
        }
    }
}

async fn fresh(proxy: &Proxy) -> mysql_async::Conn {
    mysql_async::Conn::new(opts(proxy, "shop"))
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_writes_never_reach_the_passive_master() {
    let p = pair();
    p.reset();
    for n in [&p.cn1, &p.cn2] {
        n.query("SET GLOBAL log_bin_trust_function_creators = 1");
    }
    let proxy = start(&config_text(&p, "")).await;
    let mut c = fresh(&proxy).await;
    c.query_drop("CREATE TABLE hw (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .expect("create");
    c.query_drop("INSERT INTO hw (v) VALUES (1), (2), (3)")
        .await
        .expect("rows");
    c.query_drop(
        "CREATE FUNCTION json_bump() RETURNS INT MODIFIES SQL DATA \
         BEGIN INSERT INTO hw (v) VALUES (100); RETURN 1; END",
    )
    .await
    .expect("function");
    c.disconnect().await.expect("disconnect");
    p.wait_synced(Duration::from_secs(10));
    general_log_on(&p);

    // Each kind of hiding place: versioned comments the server skips or runs, MariaDB's /*M!,
    // nested executable comments, `--` before a control byte, a NUL, a stored function named
    // like a JSON built-in, lock functions, and latin1's non-breaking space.
    let corpus: Vec<Vec<u8>> = vec![
        b"/*!99999 SELECT */ DELETE FROM hw WHERE id = -1 /* hw:01 */".to_vec(),
        b"/*M!999999 SELECT */ UPDATE hw SET v = v WHERE id = -1 /* hw:02 */".to_vec(),
        b"SELECT v FROM hw /*!99999 x */ FOR UPDATE /* hw:03 */".to_vec(),
        b"SELECT v FROM hw WHERE id = 1 /*!100000 FOR UPDATE */ /* hw:04 */".to_vec(),
        b"SELECT v FROM hw WHERE id = 1 /*M!100000 FOR UPDATE */ /* hw:05 */".to_vec(),
        b"SELECT v FROM hw --\x01\nFOR UPDATE /* hw:06 */".to_vec(),
        b"SELECT v FROM hw --\x7f x\nWHERE id = 1 /* hw:07 */".to_vec(),
        b"SELECT v FROM hw # x\x00 y\n /* hw:08 */".to_vec(),
        b"SELECT json_bump() /* hw:09 */".to_vec(),
        b"SELECT /*!40101 GET_LOCK('hw', 0) */ /* hw:10 */".to_vec(),
        b"SELECT 1 /*M!100000 , IS_USED_LOCK('hw') */ /* hw:11 */".to_vec(),
        b"SELECT /*!40101 1 /*!40101 , 2 */ */ /* hw:12 */".to_vec(),
        b"SELECT \"json_bump\"() /* hw:13 */".to_vec(),
        b"SELECT `json_bump`() /* hw:14 */".to_vec(),
        b"SET STATEMENT transaction_read_only = 0 FOR SELECT v FROM hw /* hw:15 */".to_vec(),
    ];
    let latin1: Vec<Vec<u8>> = vec![
        b"SELECT v FROM hw WHERE id = 1 FOR\xa0UPDATE /* hw:16 */".to_vec(),
        b"SELECT GET_LOCK\xa0('hw2', 0) /* hw:17 */".to_vec(),
    ];
    let rounds = 6;
    for _ in 0..rounds {
        for sql in &corpus {
            let mut s = raw_login(&proxy).await;
            let _ = raw_query(&mut s, sql).await;
        }
        for sql in &latin1 {
            let mut s = raw_login(&proxy).await;
            let (first, _) = raw_query(&mut s, b"SET NAMES latin1").await;
            assert_eq!(first, 0x00, "SET NAMES latin1");
            let _ = raw_query(&mut s, sql).await;
        }
        // Plain reads still spread (a control: cn2 does serve reads).
        let mut s = raw_login(&proxy).await;
        let _ = raw_query(&mut s, b"SELECT v FROM hw /* hr:plain */").await;
    }
    let on_cn2 = logged(&p.cn2, "hw:");
    assert!(on_cn2.is_empty(), "hidden writes reached cn2: {on_cn2:#?}");
    let on_cn1 = logged(&p.cn1, "hw:");
    assert!(
        on_cn1.len() >= (corpus.len() + latin1.len()) * rounds,
        "every crafted statement ran on cn1: {} of {}",
        on_cn1.len(),
        (corpus.len() + latin1.len()) * rounds
    );
    assert!(
        !logged(&p.cn2, "hr:plain").is_empty(),
        "plain reads never reached cn2: the test proves nothing"
    );
    p.wait_synced(Duration::from_secs(10));
    assert!(p.cn1.replication_healthy() && p.cn2.replication_healthy());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_classifier_cannot_see_is_refused_by_the_reader_and_rerun_on_the_writer() {
    let p = pair();
    p.reset();
    for n in [&p.cn1, &p.cn2] {
        n.query("SET GLOBAL log_bin_trust_function_creators = 1");
    }
    let proxy = start(&config_text(&p, "")).await;
    let mut c = fresh(&proxy).await;
    for sql in [
        "CREATE TABLE bumps (id INT AUTO_INCREMENT PRIMARY KEY, at INT)",
        "CREATE FUNCTION bump() RETURNS INT MODIFIES SQL DATA \
         BEGIN INSERT INTO bumps (at) VALUES (@@server_id); RETURN 1; END",
        // A view hides the function from any classifier: SELECT on it looks like a read.
        "CREATE VIEW v_bump AS SELECT bump() AS x",
    ] {
        c.query_drop(sql).await.expect(sql);
    }
    c.disconnect().await.expect("disconnect");
    p.wait_synced(Duration::from_secs(10));
    general_log_on(&p);

    let n = 30;
    for i in 0..n {
        let mut s = fresh(&proxy).await;
        if i % 3 == 0 {
            // The client's own READ WRITE never reaches a reader connection.
            s.query_drop("SET SESSION TRANSACTION READ WRITE")
                .await
                .expect("set read write");
        }
        let x: Option<i64> = s
            .query_first(format!("SELECT x FROM v_bump /* mr:{i} */"))
            .await
            .expect("the misrouted read succeeds");
        assert_eq!(x, Some(1));
        s.disconnect().await.expect("disconnect");
    }
    p.wait_synced(Duration::from_secs(10));
    let count = |n: &tandem_testkit::Node| n.value("SELECT COUNT(*) FROM shop.bumps");
    assert_eq!(
        count(&p.cn1),
        n.to_string(),
        "each SELECT bumped exactly once"
    );
    assert_eq!(count(&p.cn2), n.to_string());
    let cn1_id = p.cn1.value("SELECT @@server_id");
    assert_eq!(
        p.cn1.value(&format!(
            "SELECT COUNT(*) FROM shop.bumps WHERE at <> {cn1_id}"
        )),
        "0",
        "a row was written on a node other than cn1"
    );
    let refused = logged(&p.cn2, "mr:");
    assert!(
        !refused.is_empty(),
        "no read went to cn2 first: the read-only defense was not exercised"
    );
    assert!(p.cn1.replication_healthy() && p.cn2.replication_healthy());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_hidden_in_a_set_runs_once_and_prepared_sets_keep_the_session() {
    let p = pair();
    p.reset();
    let proxy = start(&config_text(&p, "")).await;
    let mut c = fresh(&proxy).await;
    c.query_drop("CREATE TABLE once (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .expect("create");
    c.disconnect().await.expect("disconnect");
    p.wait_synced(Duration::from_secs(10));

    let mut s = fresh(&proxy).await;
    s.query_drop(
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES'; /*!40101 INSERT INTO once (v) VALUES (42) */",
    )
    .await
    .expect("set with a hidden insert");
    s.query_drop("SET SESSION time_zone = /*!40101 (SELECT '+01:00') */")
        .await
        .expect("set with a hidden subquery");
    tokio::time::sleep(Duration::from_millis(1200)).await; // past the read-your-writes window
    for _ in 0..20 {
        let _: Vec<i64> = s.query("SELECT v FROM once").await.expect("read");
    }
    // A SET prepared with a placeholder (binary protocol) and executed.
    s.exec_drop("SET SESSION sql_mode = ?", ("NO_ENGINE_SUBSTITUTION",))
        .await
        .expect("prepared SET");
    for _ in 0..20 {
        let _: Vec<i64> = s
            .query("SELECT v FROM once")
            .await
            .expect("read after a prepared SET");
    }
    s.query_drop("INSERT INTO once (v) VALUES (7)")
        .await
        .expect("write after a prepared SET");
    let mode: String = s
        .query_first("SELECT @@session.sql_mode")
        .await
        .expect("mode")
        .expect("a row");
    assert_eq!(mode, "NO_ENGINE_SUBSTITUTION");
    s.disconnect().await.expect("disconnect");
    p.wait_synced(Duration::from_secs(10));
    for n in [&p.cn1, &p.cn2] {
        assert_eq!(n.value("SELECT COUNT(*) FROM shop.once WHERE v = 42"), "1");
        assert_eq!(n.value("SELECT COUNT(*) FROM shop.once WHERE v = 7"), "1");
    }
    assert!(p.cn1.replication_healthy() && p.cn2.replication_healthy());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_of_another_users_session_needs_connection_admin() {
    let p = pair();
    for (user, pass) in [("other", "otherpass"), ("ops", "opspass")] {
        p.cn1.query(&format!(
            "CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{pass}'"
        ));
    }
    p.wait_synced(Duration::from_secs(10));
    let extra = "\n[[users]]\nname = \"other\"\npassword = \"otherpass\"\n\
                 \n[[users]]\nname = \"ops\"\npassword = \"opspass\"\nconnection_admin = true\n";
    let proxy = start(&(config_text(&p, "") + extra)).await;
    let as_user = |user: &str, pass: &str| -> mysql_async::Opts {
        mysql_async::OptsBuilder::from_opts(opts(&proxy, "shop"))
            .user(Some(user))
            .pass(Some(pass))
            .db_name(None::<String>)
            .into()
    };
    let mut victim = fresh(&proxy).await;
    victim.query_drop("DO 1").await.expect("victim works");
    let vid = victim.id();
    let mut other = mysql_async::Conn::new(as_user("other", "otherpass"))
        .await
        .expect("other user logs in");
    for sql in [format!("KILL {vid}"), format!("KILL QUERY {vid}")] {
        match other.query_drop(&sql).await {
            Err(mysql_async::Error::Server(e)) => {
                assert_eq!((e.code, e.state.as_str()), (1095, "HY000"), "{sql}: {e:?}")
            }
            other => panic!("{sql}: expected ERR 1095, got {other:?}"),
        }
    }
    victim
        .query_drop("DO 1")
        .await
        .expect("the victim survived another user's KILL");
    // The same user may kill its own other session; connection_admin may kill anyone's.
    let mut twin = fresh(&proxy).await;
    twin.query_drop(format!("KILL QUERY {vid}"))
        .await
        .expect("same user");
    let mut ops = mysql_async::Conn::new(as_user("ops", "opspass"))
        .await
        .expect("ops logs in");
    ops.query_drop(format!("KILL {vid}"))
        .await
        .expect("connection_admin kills");
    assert!(
        victim.query_drop("DO 1").await.is_err(),
        "the killed session still answers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_and_shutdown_commands_are_refused_and_the_session_goes_on() {
    let p = pair();
    let proxy = start(&config_text(&p, "")).await;
    let mut s = raw_login(&proxy).await;
    let mut dump = vec![0x12, 4, 0, 0, 0, 0, 0, 9, 9, 0, 0];
    dump.extend_from_slice(b"mysql-bin.000001");
    let commands: [(&str, Vec<u8>); 5] = [
        ("COM_BINLOG_DUMP", dump),
        (
            "COM_BINLOG_DUMP_GTID",
            vec![0x1e, 0, 0, 9, 9, 0, 0, 0, 0, 0, 0],
        ),
        (
            "COM_REGISTER_SLAVE",
            vec![0x15, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        ("COM_SHUTDOWN", vec![0x08, 0]),
        ("COM_STMT_BULK_EXECUTE", vec![0xfa, 1, 0, 0, 0, 0x80, 0]),
    ];
    for (name, cmd) in commands {
        s.write_all(&packet(0, &cmd)).await.expect("send");
        let (_, err) = read_packet(&mut s).await.expect("an answer");
        let err = tandem_protocol::ErrPacket::parse(&err).expect("an ERR packet");
        assert_eq!((err.code, &err.sql_state), (1235, b"42000"), "{name}");
        assert!(err.message.contains(name), "{name}: {}", err.message);
    }
    let (first, _) = raw_query(&mut s, b"SELECT 1").await;
    assert_ne!(first, 0xff, "the session works after the refusals");
    assert!(p.cn1.replication_healthy() && p.cn2.replication_healthy());
    assert_eq!(p.cn1.value("SELECT 1"), "1", "cn1 was not shut down");
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_before_login_bound_memory_time_and_connections() {
    use tokio::io::AsyncReadExt;
    let p = pair();
    let proxy = start(&config_text(
        &p,
        "handshake_timeout = \"3s\"\nmax_handshakes_per_address = 4",
    ))
    .await;

    // Four handshakes that claim 32 MiB of connection attributes: refused from the header.
    let before = rss_bytes();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_bytes());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            peak
        })
    };
    let mut floods = Vec::new();
    for _ in 0..4 {
        let addr = proxy.addr;
        floods.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let (_, _hs) = read_packet(&mut s).await.expect("handshake");
            // A 32 MiB logical packet: two full physical packets and the rest.
            let chunk = vec![0x41u8; 1 << 20];
            let mut header = vec![0xff, 0xff, 0xff, 1];
            header.extend_from_slice(&[0x85, 0xa2, 0x0f, 0x00]); // capabilities
            let _ = s.write_all(&header).await;
            for _ in 0..32 {
                if s.write_all(&chunk).await.is_err() {
                    break;
                }
            }
            let mut buf = vec![0u8; 4096];
            let mut got = Vec::new();
            while let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await
            {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            got
        }));
    }
    for f in floods {
        let got = f.await.expect("flood task");
        // An ERR 1043 (Bad handshake) or nothing: a clean refusal either way.
        if got.len() > 4 {
            let err = tandem_protocol::ErrPacket::parse(&got[4..]).expect("an ERR packet");
            assert_eq!(err.code, 1043, "{err:?}");
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let grown = sampler.await.expect("sampler").saturating_sub(before);
    println!(
        "4 x 32 MiB attribute handshakes: peak RSS growth {} KiB",
        grown >> 10
    );
    assert!(
        grown < 32 << 20,
        "4 x 32 MiB handshakes grew the process by {} MiB at the peak",
        grown >> 20
    );

    // Connections that never answer the handshake hold a slot until the timeout, and a fifth
    // from the same address is refused at once with 1040.
    // (A refused flood connection may still hold its slot for a moment: Tandem drains what it
    // sent before closing, after the client has seen the end. Such a refusal is retried.)
    let mut stalled = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stalled.len() < 4 {
        let mut s = tokio::net::TcpStream::connect(proxy.addr)
            .await
            .expect("connect");
        let (_, first) = read_packet(&mut s).await.expect("an answer");
        if first.first() == Some(&0x0a) {
            stalled.push(s);
            continue;
        }
        let err = tandem_protocol::ErrPacket::parse(&first).expect("a handshake or an ERR");
        assert_eq!(err.code, 1040, "{err:?}");
        assert!(std::time::Instant::now() < deadline, "slots never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut fifth = tokio::net::TcpStream::connect(proxy.addr)
        .await
        .expect("connect");
    let (_, first) = read_packet(&mut fifth).await.expect("an answer");
    let err = tandem_protocol::ErrPacket::parse(&first).expect("ERR 1040");
    assert_eq!(err.code, 1040, "{err:?}");
    let started = std::time::Instant::now();
    for s in stalled.iter_mut() {
        let mut b = [0u8; 64];
        let r = tokio::time::timeout(Duration::from_secs(8), s.read(&mut b)).await;
        assert!(
            matches!(r, Ok(Ok(0)) | Ok(Err(_))),
            "a stalled handshake was not closed: {r:?}"
        );
    }
    // Closed by the 3 s handshake timeout (a loaded 2-core machine needs the margin: with 1 s the
    // first stalled connection timed out before the fifth arrived once).
    assert!(started.elapsed() < Duration::from_secs(6));
    // The slots are free again: a real client logs in.
    let mut c = fresh(&proxy).await;
    c.query_drop("DO 1").await.expect("login after the flood");
}

/// Restores a node's `max_connections` when dropped (also when the test fails).
struct MaxConnections<'a> {
    node: &'a tandem_testkit::Node,
    was: String,
}

impl<'a> MaxConnections<'a> {
    fn set(node: &'a tandem_testkit::Node, n: u32) -> Self {
        let was = node.value("SELECT @@global.max_connections");
        node.query(&format!("SET GLOBAL max_connections = {n}"));
        MaxConnections { node, was }
    }
}

impl Drop for MaxConnections<'_> {
    fn drop(&mut self) {
        let _ = self
            .node
            .try_query(&format!("SET GLOBAL max_connections = {}", self.was));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_beyond_the_servers_max_connections_get_1040_and_the_writer_stays_up() {
    let p = pair();
    p.reset();
    let proxy = start(&config_text(&p, "pool_wait_timeout = \"1s\"")).await;
    let mut c = fresh(&proxy).await;
    c.query_drop("CREATE TABLE cap (id INT AUTO_INCREMENT PRIMARY KEY, sid INT)")
        .await
        .expect("create");
    c.disconnect().await.expect("disconnect");
    let cn1_id = p.cn1.value("SELECT @@server_id");
    let _limits = [
        MaxConnections::set(&p.cn1, 30),
        MaxConnections::set(&p.cn2, 30),
    ];
    // The monitor reads the new limit: Tandem's cap becomes 30 less the reserve (26).
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // 1. More sessions than the server can take, each holding its writer connection.
    let mut held = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..40 {
        // mysql_async runs a query while connecting: the refusal may come there.
        let attempt = async {
            let mut s = mysql_async::Conn::new(opts(&proxy, "shop")).await?;
            s.query_drop("INSERT INTO cap (sid) VALUES (@@server_id)")
                .await?;
            Ok::<_, mysql_async::Error>(s)
        };
        match attempt.await {
            Ok(s) => held.push(s),
            Err(mysql_async::Error::Server(e)) => refused.push(e),
            Err(e) => panic!("not a server error: {e:?}"),
        }
    }
    assert!(!refused.is_empty(), "no session was refused");
    assert!(
        held.len() >= 20,
        "only {} sessions got a connection",
        held.len()
    );
    for e in &refused {
        assert_eq!((e.code, e.state.as_str()), (1040, "08004"), "{e:?}");
        assert!(
            e.message.contains("'cn1'"),
            "the error names the node: {}",
            e.message
        );
    }
    // 2. Clients that bypass Tandem fill the server: its own 1040 is "busy", not "down".
    let mut direct = Vec::new();
    loop {
        match mysql_async::Conn::new(
            mysql_async::Opts::from_url(&p.cn1.url("app", "apppass", "shop")).expect("url"),
        )
        .await
        {
            Ok(conn) => direct.push(conn),
            Err(mysql_async::Error::Server(e)) if e.code == 1040 => break,
            Err(e) => panic!("unexpected: {e:?}"),
        }
        assert!(direct.len() < 100, "the server never refused");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await; // five checks at inter 300 ms
                                                           // A session that holds its writer connection writes on: cn1 is still the writer (a node
                                                           // marked down would hold this write and then refuse it with 1290).
    let keeper = held.first_mut().expect("a held session");
    keeper
        .query_drop("INSERT INTO cap (sid) VALUES (@@server_id)")
        .await
        .expect("the writer is busy, not down");
    drop(held);
    drop(direct);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // 3. Writes resume, on cn1: there was no failover.
    let mut s = fresh(&proxy).await;
    s.query_drop("INSERT INTO cap (sid) VALUES (@@server_id)")
        .await
        .expect("writes resume once sessions close");
    let last: Option<u32> = s
        .query_first("SELECT sid FROM cap ORDER BY id DESC LIMIT 1")
        .await
        .expect("read back");
    assert_eq!(last.map(|v| v.to_string()), Some(cn1_id.clone()));
    let sids = p.cn1.query("SELECT DISTINCT sid FROM shop.cap");
    assert_eq!(
        sids,
        vec![vec![cn1_id]],
        "a row was written on another node"
    );
    p.wait_synced(Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_backend_timeout_ends_and_the_proxy_goes_on() {
    let p = pair();
    let proxy = start(&config_text(&p, "backend_timeout = \"1s\"")).await;
    let mut s = fresh(&proxy).await;
    let started = std::time::Instant::now();
    let r: Result<Vec<i64>, _> = s.query("SELECT SLEEP(5)").await;
    assert!(
        r.is_err(),
        "a statement past backend_timeout must not complete: {r:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "ended after {:?}",
        started.elapsed()
    );
    let mut again = fresh(&proxy).await;
    again.query_drop("DO 1").await.expect("the proxy goes on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_has_the_same_limits_and_never_falls_over() {
    use crate::failback::admin;
    use crate::support::free_port;
    let p = pair();
    let port = free_port();
    let extra = format!(
        "\n[admin]\nlisten = \"127.0.0.1:{port}\"\nuser = \"admin\"\npassword = \"s3cret\"\n"
    );
    let _proxy = start(&(config_text(&p, "handshake_timeout = \"1s\"") + &extra)).await;
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    // An oversized handshake is refused from its header; garbage and a truncated packet end
    // the connection; none of it stops the listener.
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    read_packet(&mut s).await.expect("handshake");
    let _ = s.write_all(&[0xff, 0xff, 0xff, 1, 0, 0, 0, 0]).await;
    let (_, first) = read_packet(&mut s).await.expect("an answer");
    let e = tandem_protocol::ErrPacket::parse(&first).expect("ERR");
    assert_eq!(e.code, 1043, "{e:?}");
    for junk in [&b"\x05\x00\x00\x01\xff\xff\xff\xff\xff"[..], b"\x01\x00"] {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        read_packet(&mut s).await.expect("handshake");
        let _ = s.write_all(junk).await;
        drop(s);
    }
    // A stalled login is closed at the handshake timeout.
    let mut stalled = tokio::net::TcpStream::connect(addr).await.expect("connect");
    read_packet(&mut stalled).await.expect("handshake");
    let mut b = [0u8; 16];
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut stalled, &mut b),
    )
    .await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
    // After all that, the operator's commands work, and a wrong password is refused.
    let backends = admin(port, "s3cret", "SHOW BACKENDS").expect("admin works");
    assert!(backends.contains("cn1\t127.0.0.1"), "{backends}");
    let stats = admin(port, "s3cret", "SHOW STATS").expect("stats");
    assert!(stats.contains("misroutes"), "{stats}");
    let wrong = admin(port, "nope", "SHOW BACKENDS").expect_err("wrong password");
    assert!(
        wrong.contains("1045") || wrong.contains("denied"),
        "{wrong}"
    );
    let unknown = admin(port, "s3cret", "DROP TABLE x").expect_err("unknown command");
    assert!(unknown.contains("1064"), "{unknown}");
}
