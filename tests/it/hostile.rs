//! Bad input gets an error packet or a clean disconnect, and other sessions are unaffected.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use tandem_protocol::{
    auth::native_password, Capabilities, ErrPacket, Handshake, HandshakeResponse,
};
use tandem_testkit::pair;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{config_text, opts, start, Proxy};

pub(crate) async fn read_packet(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut h))
        .await
        .ok()?
        .ok()?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
    let mut p = vec![0; len];
    s.read_exact(&mut p).await.ok()?;
    Some((h[3], p))
}

pub(crate) fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    tandem_protocol::write_packet(&mut out, seq, payload);
    out.to_vec()
}

/// Logs in as app with raw packets; returns the socket ready for commands.
pub(crate) async fn raw_login(proxy: &Proxy) -> TcpStream {
    let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
    let (_, hs) = read_packet(&mut s).await.expect("handshake");
    let hs = Handshake::parse(&hs).expect("parse handshake");
    let resp = HandshakeResponse {
        capabilities: Capabilities::PROTOCOL_41
            | Capabilities::SECURE_CONNECTION
            | Capabilities::PLUGIN_AUTH
            | Capabilities::MULTI_STATEMENTS
            | Capabilities::MULTI_RESULTS
            | Capabilities::CONNECT_WITH_DB,
        max_packet_size: 1 << 24,
        charset: 45,
        username: "app".into(),
        auth_response: native_password::scramble(b"apppass", hs.scramble()).to_vec(),
        database: Some("shop".into()),
        auth_plugin_name: Some("mysql_native_password".into()),
        connect_attrs: vec![],
        zstd_compression_level: None,
    };
    let mut p = bytes::BytesMut::new();
    resp.encode(&mut p).expect("encode");
    s.write_all(&packet(1, &p)).await.expect("send");
    let (_, ok) = read_packet(&mut s).await.expect("ok");
    assert_eq!(ok.first(), Some(&0x00), "login OK");
    s
}

async fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), s.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_get_errors_or_clean_disconnects() {
    let p = pair();
    let proxy = start(&config_text(&p, "max_packet_size = 1048576")).await;
    // A healthy session that must survive everything below.
    let mut good = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    good.query_drop(
        "CREATE TABLE IF NOT EXISTS hostile (id INT AUTO_INCREMENT PRIMARY KEY, v LONGTEXT)",
    )
    .await
    .expect("create");
    good.query_drop("INSERT INTO hostile (v) SELECT REPEAT('x', 1000) FROM seq_1_to_2000")
        .await
        .expect("fill");

    // 1. Garbage instead of a handshake response: ERR 1043, then closed.
    let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
    read_packet(&mut s).await.expect("handshake");
    s.write_all(&packet(1, b"\x01\x02garbage"))
        .await
        .expect("send");
    let (_, err) = read_packet(&mut s).await.expect("an error packet");
    let err = ErrPacket::parse(&err).expect("ERR");
    assert_eq!((err.code, err.sql_state_str()), (1043, "08S01"), "{err:?}");
    assert!(closed(&mut s).await);

    // 2. After login, a packet header announcing more than max_packet_size: ERR 1153, closed.
    let mut s = raw_login(&proxy).await;
    s.write_all(&[0xff, 0xff, 0xff, 0x00]).await.ok(); // Tandem may refuse on the header and stop reading: writes can fail
    s.write_all(&vec![0x03; 1 << 20]).await.ok();
    s.write_all(&[0xff, 0xff, 0xff, 0x01]).await.ok();
    s.write_all(&vec![0x20; 1 << 16]).await.ok();
    let (_, err) = read_packet(&mut s).await.expect("an error packet");
    assert_eq!(ErrPacket::parse(&err).expect("ERR").code, 1153);
    assert!(closed(&mut s).await);

    // 3. A truncated packet, then the client vanishes.
    let mut s = raw_login(&proxy).await;
    s.write_all(&[0x20, 0x00, 0x00, 0x00, 0x03, b'S', b'E'])
        .await
        .expect("send");
    drop(s);

    // 4. A client that closes in the middle of a large result.
    let mut s = raw_login(&proxy).await;
    s.write_all(&packet(0, b"\x03SELECT v FROM hostile"))
        .await
        .expect("send");
    let _ = read_packet(&mut s).await;
    drop(s);

    // 5. An unknown command byte: ERR 1047, session continues.
    let mut s = raw_login(&proxy).await;
    s.write_all(&packet(0, &[0xee])).await.expect("send");
    let (_, err) = read_packet(&mut s).await.expect("an error packet");
    assert_eq!(ErrPacket::parse(&err).expect("ERR").code, 1047);
    s.write_all(&packet(0, &[0x0e])).await.expect("ping");
    let (_, ok) = read_packet(&mut s).await.expect("ping answered");
    assert_eq!(ok.first(), Some(&0x00));

    // The healthy session and new sessions still work, reads and writes.
    let n: Option<i64> = good
        .query_first("SELECT COUNT(*) FROM hostile")
        .await
        .expect("still serving");
    assert_eq!(n, Some(2000));
    for _ in 0..20 {
        let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
            .await
            .expect("new session");
        c.query_drop("INSERT INTO hostile (v) VALUES ('y')")
            .await
            .expect("write");
        let _: Option<i64> = c
            .query_first("SELECT COUNT(*) FROM hostile")
            .await
            .expect("read");
        c.disconnect().await.expect("disconnect");
    }
    good.query_drop("DROP TABLE hostile").await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_cli_through_tandem() {
    let p = pair();
    let proxy = start(&config_text(&p, "")).await;
    let sql = "CREATE TABLE IF NOT EXISTS cli (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(8)); \
               INSERT INTO cli (v) VALUES ('a'); SELECT LAST_INSERT_ID(); \
               SELECT COUNT(*) FROM cli; DROP TABLE cli";
    let port = proxy.addr.port();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("mariadb")
            .args([
                "--no-defaults",
                "-h127.0.0.1",
                "-uapp",
                "-papppass",
                "--batch",
                "--skip-column-names",
                "shop",
            ])
            .arg(format!("-P{port}"))
            .arg("-e")
            .arg(sql)
            .output()
    })
    .await
    .expect("join")
    .expect("run mariadb");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "mariadb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].parse::<u64>().is_ok_and(|id| id >= 1), "{stdout}");
    assert_eq!(lines[1], "1");
}

/// Sends a command and reads its whole response; returns how it ended.
async fn roundtrip(
    s: &mut TcpStream,
    payload: &[u8],
    caps: Capabilities,
) -> tandem_protocol::Outcome {
    s.write_all(&packet(0, payload)).await.expect("send");
    let cmd = tandem_protocol::Command::of(payload).expect("command");
    let mut rs = tandem_protocol::ResponseStream::new(cmd, caps);
    loop {
        let (seq, p) = read_packet(s).await.expect("response packet");
        let len = u32::try_from(p.len()).expect("len");
        match rs
            .feed(tandem_protocol::PacketHeader { len, seq }, &p)
            .expect("valid")
        {
            tandem_protocol::Step::Done(o) => return o,
            tandem_protocol::Step::Continue => {}
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_option_follows_the_session_to_every_node() {
    let p = pair();
    let proxy = start(&config_text(&p, "")).await;
    let caps =
        Capabilities::PROTOCOL_41 | Capabilities::MULTI_STATEMENTS | Capabilities::MULTI_RESULTS;
    let mut s = raw_login(&proxy).await;
    let o = roundtrip(&mut s, b"\x03SELECT 1; SELECT 2", caps).await;
    assert!(!o.is_err(), "multi-statements are on: {o:?}");
    // MYSQL_OPTION_MULTI_STATEMENTS_OFF
    let o = roundtrip(&mut s, &[0x1b, 1, 0], caps).await;
    assert!(!o.is_err(), "{o:?}");
    // Reads spread over both nodes: every one of them must now refuse a multi-statement.
    for i in 0..20 {
        let o = roundtrip(&mut s, b"\x03SELECT 1; SELECT 2", caps).await;
        assert!(
            matches!(o, tandem_protocol::Outcome::Err(ref e) if e.code == 1064),
            "read {i}: {o:?}"
        );
    }
}
