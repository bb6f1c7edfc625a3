//! Memory with many idle clients: the `tandem` binary in front of the test pair, 10,000 clients
//! logged in on loopback and left idle, Tandem's RSS read from /proc before and after. Every
//! client must be served (logged in; a sample answers a query afterwards), and the RSS per idle
//! client is printed and held to the 32 KiB budget. Bounded: a fixed number of clients, every
//! step under a deadline, the process killed at the end.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tandem_protocol::client::{ClientLogin, Credential, LoginOptions, LoginStep};
use tandem_protocol::{Capabilities, Handshake, PacketCodec};
use tandem_testkit::{pair, APP_PASSWORD, APP_USER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CLIENTS: usize = 10_000;

struct Tandem(Child);

impl Drop for Tandem {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

async fn read_packet(
    s: &mut TcpStream,
    buf: &mut BytesMut,
    codec: &mut PacketCodec,
) -> std::io::Result<tandem_protocol::Packet> {
    loop {
        if let Some(p) = codec.decode_packet(buf).map_err(std::io::Error::other)? {
            return Ok(p);
        }
        if s.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

async fn send(s: &mut TcpStream, seq: u8, payload: &[u8]) -> std::io::Result<()> {
    let mut out = BytesMut::new();
    tandem_protocol::write_packet(&mut out, seq, payload);
    s.write_all(&out).await
}

/// Connects and logs in as the app user; returns the idle connection.
async fn login(addr: std::net::SocketAddr) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr).await?;
    let mut buf = BytesMut::with_capacity(512);
    let mut codec = PacketCodec::new(1 << 20).with_sequence_check(false);
    let hs = Handshake::parse(&read_packet(&mut s, &mut buf, &mut codec).await?.payload)
        .map_err(std::io::Error::other)?;
    let mut opts = LoginOptions::new(APP_USER, Credential::Password(APP_PASSWORD.as_bytes()));
    opts.capabilities = Capabilities::default_client();
    let (mut state, resp) = ClientLogin::start(&hs, opts).map_err(std::io::Error::other)?;
    let mut p = BytesMut::new();
    resp.encode(&mut p).map_err(std::io::Error::other)?;
    send(&mut s, 1, &p).await?;
    loop {
        let pkt = read_packet(&mut s, &mut buf, &mut codec).await?;
        match state.handle(&pkt.payload).map_err(std::io::Error::other)? {
            LoginStep::Done(_) => return Ok(s),
            LoginStep::Wait => {}
            LoginStep::Send(d) => send(&mut s, pkt.seq.wrapping_add(1), &d).await?,
            LoginStep::Encrypt { .. } => {
                return Err(std::io::Error::other("unexpected RSA key exchange"))
            }
        }
    }
}

/// `SELECT 1` on an idle connection; true when a result came back.
async fn select_one(s: &mut TcpStream) -> bool {
    if send(s, 0, b"\x03SELECT 1").await.is_err() {
        return false;
    }
    let mut buf = BytesMut::new();
    let mut codec = PacketCodec::new(1 << 20).with_sequence_check(false);
    // Column count, column definition, row, then OK-as-EOF (DEPRECATE_EOF).
    for _ in 0..4 {
        match read_packet(s, &mut buf, &mut codec).await {
            Ok(p) if p.payload.first() != Some(&0xFF) => {}
            _ => return false,
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_clients_fit_the_memory_budget() {
    let p = pair();
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    assert!(
        nofile >= CLIENTS as u64 + 500,
        "need {} file descriptors, have {nofile}",
        CLIENTS + 500
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let config = crate::support::config_text(&p, "max_connections = 20000").replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    let dir = std::env::temp_dir().join(format!("tandem-idle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let path = dir.join("tandem.toml");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(config.as_bytes()))
        .expect("write config");
    let tandem = Tandem(
        Command::new(env!("CARGO_BIN_EXE_tandem"))
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tandem"),
    );
    let pid = tandem.0.id();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut first = loop {
        if let Ok(mut c) = login(addr).await {
            if select_one(&mut c).await {
                break c;
            }
        }
        assert!(Instant::now() < deadline, "tandem never served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(pid);

    let started = Instant::now();
    let mut clients = Vec::with_capacity(CLIENTS);
    let mut failed = 0;
    for batch in 0..CLIENTS / 250 {
        let logins: Vec<_> = (0..250)
            .map(|_| tokio::spawn(tokio::time::timeout(Duration::from_secs(15), login(addr))))
            .collect();
        for l in logins {
            match l.await.expect("task") {
                Ok(Ok(c)) => clients.push(c),
                _ => failed += 1,
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "logins too slow: batch {batch}"
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(pid);
    let per_client = (after.saturating_sub(before) as f64) * 1024.0 / CLIENTS as f64;
    println!(
        "{} idle clients logged in in {:?}: Tandem RSS {before} KiB -> {after} KiB, {:.1} KiB per idle client",
        clients.len(),
        started.elapsed(),
        per_client / 1024.0
    );
    assert_eq!(failed, 0, "logins refused");
    assert_eq!(clients.len(), CLIENTS);
    // Idle sessions are alive: a spread-out sample answers, and so does the first client.
    for c in clients.iter_mut().step_by(CLIENTS / 20) {
        assert!(select_one(c).await, "an idle session stopped answering");
    }
    assert!(select_one(&mut first).await);
    assert!(
        per_client <= 32.0 * 1024.0,
        "{:.1} KiB per idle client (budget 32 KiB)",
        per_client / 1024.0
    );
    drop(clients);
    drop(tandem);
    let _ = std::fs::remove_dir_all(&dir);
}
