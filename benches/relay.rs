//! The engine in-process, without MariaDB in the loop: a raw fake backend (pre-encoded responses,
//! written with the codec's encoders) behind Tandem, driven by a raw blocking client.
//!
//! - `relay/round_trip`: one `COM_QUERY` with a one-row result, through Tandem and straight to
//!   the fake backend — statements/s and what the engine adds per statement.
//! - `relay/result_100MB`: a 100 MB result set (100,000 rows of 1,000 bytes), through Tandem and
//!   direct — bytes/s of the relay path (read buffer → boundary scan → client socket).
//!
//! Run: `cargo bench --bench relay` (`-- --warm-up-time 1 --measurement-time 5` for a quick run).
//! Target (2 cores): the 100 MB relay ≥ 1 GB/s.
//!
//! Last recorded figures are in the README's Benchmarks section.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tandem_protocol::client::{ClientLogin, Credential, LoginOptions, LoginStep};
use tandem_protocol::{
    encode_text_row, Capabilities, ColumnCount, ColumnDefinition, ColumnType, Command, EofPacket,
    Handshake, OkPacket, PacketCodec, ResponseStream, StatusFlags, Step,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIG_ROWS: usize = 100_000;
const BIG_ROW_LEN: usize = 1_000;

/// The fake server's capabilities: classic EOF packets, no session tracking.
fn fake_caps() -> Capabilities {
    (Capabilities::default_client() | Capabilities::CONNECT_WITH_DB | Capabilities::FOUND_ROWS)
        - Capabilities::DEPRECATE_EOF
        - Capabilities::SESSION_TRACK
}

/// A whole text result set as wire bytes (sequence ids from 1).
fn result_set(columns: &[&str], rows: &[Vec<Option<Vec<u8>>>]) -> Bytes {
    let caps = fake_caps();
    let mut out = BytesMut::new();
    let mut seq = 1u8;
    let mut put = |out: &mut BytesMut, payload: &BytesMut| {
        seq = tandem_protocol::write_packet(out, seq, payload);
    };
    let mut p = BytesMut::new();
    ColumnCount {
        count: columns.len() as u64,
        metadata_follows: true,
    }
    .encode(caps, &mut p);
    put(&mut out, &p);
    for name in columns {
        let mut p = BytesMut::new();
        ColumnDefinition {
            name: (*name).to_owned(),
            org_name: (*name).to_owned(),
            charset: 45,
            column_length: 1024,
            column_type: ColumnType::VAR_STRING,
            ..ColumnDefinition::default()
        }
        .encode(caps, &mut p);
        put(&mut out, &p);
    }
    let eof = |out: &mut BytesMut, put: &mut dyn FnMut(&mut BytesMut, &BytesMut)| {
        let mut p = BytesMut::new();
        EofPacket {
            warnings: 0,
            status: StatusFlags::AUTOCOMMIT,
        }
        .encode(&mut p);
        put(out, &p);
    };
    eof(&mut out, &mut put);
    for row in rows {
        let mut p = BytesMut::new();
        encode_text_row(&mut p, row);
        put(&mut out, &p);
    }
    eof(&mut out, &mut put);
    out.freeze()
}

fn ok_packet(seq: u8) -> Bytes {
    let mut p = BytesMut::new();
    OkPacket {
        status: StatusFlags::AUTOCOMMIT,
        ..OkPacket::default()
    }
    .encode(fake_caps(), &mut p);
    let mut out = BytesMut::new();
    tandem_protocol::write_packet(&mut out, seq, &p);
    out.freeze()
}

struct Canned {
    small: Bytes,
    big: Bytes,
    status: Bytes,
    replicas: Bytes,
    ok: Bytes,
}

impl Canned {
    fn new() -> Canned {
        let value = vec![b'x'; BIG_ROW_LEN];
        let big_rows: Vec<_> = (0..BIG_ROWS).map(|_| vec![Some(value.clone())]).collect();
        let s = |v: &str| Some(v.as_bytes().to_vec());
        Canned {
            small: result_set(&["1"], &[vec![s("1")]]),
            big: result_set(&["payload"], &big_rows),
            status: result_set(
                &[
                    "version",
                    "server_id",
                    "read_only",
                    "aii",
                    "aio",
                    "gtid_current",
                    "gtid_binlog",
                    "gtid_slave",
                    "semi_sync",
                ],
                &[vec![
                    s("10.11.0-MariaDB-fake"),
                    s("1"),
                    s("0"),
                    s("1"),
                    s("1"),
                    s("0-1-1"),
                    s("0-1-1"),
                    None,
                    s("0"),
                ]],
            ),
            replicas: result_set(&["Connection_name"], &[]),
            ok: ok_packet(1),
        }
    }
}

/// One fake backend connection: handshake, accept any login, then canned answers.
async fn fake_conn(mut s: tokio::net::TcpStream, canned: Arc<Canned>) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let hs = Handshake {
        protocol_version: 10,
        server_version: "10.11.0-MariaDB-fake".into(),
        connection_id: 1,
        auth_plugin_data: b"abcdefghijklmnopqrst".to_vec(),
        capabilities: fake_caps(),
        charset: 45,
        status: StatusFlags::AUTOCOMMIT,
        auth_plugin_name: "mysql_native_password".into(),
    };
    let mut p = BytesMut::new();
    hs.encode(&mut p);
    let mut out = BytesMut::new();
    tandem_protocol::write_packet(&mut out, 0, &p);
    s.write_all(&out).await?;
    let mut codec = PacketCodec::new(1 << 24).with_sequence_check(false);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut logged_in = false;
    loop {
        let pkt = loop {
            if let Some(p) = codec
                .decode_packet(&mut buf)
                .map_err(std::io::Error::other)?
            {
                break p;
            }
            if s.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        if !logged_in {
            logged_in = true;
            s.write_all(&ok_packet(2)).await?;
            continue;
        }
        let reply = match pkt.payload.first() {
            Some(0x01) | None => return Ok(()),
            Some(0x03) => {
                let q = pkt.payload.get(1..).unwrap_or_default();
                let upper = q.to_ascii_uppercase();
                if upper.starts_with(b"SELECT @@VERSION") {
                    &canned.status
                } else if upper.starts_with(b"SHOW ALL SLAVES") {
                    &canned.replicas
                } else if q == b"SELECT big" {
                    &canned.big
                } else if upper.starts_with(b"SELECT") {
                    &canned.small
                } else {
                    &canned.ok
                }
            }
            Some(_) => &canned.ok,
        };
        s.write_all(reply).await?;
    }
}

async fn fake_backend(canned: Arc<Canned>) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(fake_conn(s, canned.clone()));
        }
    });
    addr
}

/// A raw blocking client.
struct Client {
    sock: TcpStream,
    buf: BytesMut,
    caps: Capabilities,
    chunk: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let sock = TcpStream::connect(addr).expect("connect");
        sock.set_nodelay(true).expect("nodelay");
        let mut c = Client {
            sock,
            buf: BytesMut::new(),
            caps: Capabilities::empty(),
            chunk: vec![0; 1 << 20],
        };
        let mut codec = PacketCodec::new(1 << 24).with_sequence_check(false);
        let hs = Handshake::parse(&c.packet(&mut codec).payload).expect("handshake");
        let mut opts = LoginOptions::new("app", Credential::Password(b"apppass"));
        opts.capabilities = Capabilities::default_client() - Capabilities::DEPRECATE_EOF;
        let (mut state, resp) = ClientLogin::start(&hs, opts).expect("login");
        c.caps = state.capabilities();
        let mut p = BytesMut::new();
        resp.encode(&mut p).expect("encode");
        c.send(1, &p);
        loop {
            let pkt = c.packet(&mut codec);
            match state.handle(&pkt.payload).expect("login accepted") {
                LoginStep::Done(_) => return c,
                LoginStep::Wait => {}
                LoginStep::Send(d) => c.send(pkt.seq.wrapping_add(1), &d),
                LoginStep::Encrypt { .. } => panic!("unexpected RSA key exchange"),
            }
        }
    }

    fn packet(&mut self, codec: &mut PacketCodec) -> tandem_protocol::Packet {
        loop {
            if let Some(p) = codec.decode_packet(&mut self.buf).expect("packet") {
                return p;
            }
            let n = self.sock.read(&mut self.chunk).expect("read");
            assert!(n > 0, "closed");
            self.buf.extend_from_slice(&self.chunk[..n]);
        }
    }

    fn send(&mut self, seq: u8, payload: &[u8]) {
        let mut out = BytesMut::new();
        tandem_protocol::write_packet(&mut out, seq, payload);
        self.sock.write_all(&out).expect("write");
    }

    /// Runs a query; returns the bytes of its response and whether it succeeded.
    fn query(&mut self, sql: &[u8]) -> (usize, bool) {
        let mut p = Vec::with_capacity(sql.len() + 1);
        p.push(0x03);
        p.extend_from_slice(sql);
        self.send(0, &p);
        let mut rs = ResponseStream::new(Command::Query, self.caps);
        let mut total = 0;
        loop {
            let scan = rs.scan(&self.buf).expect("well-formed response");
            total += scan.consumed;
            let _ = self.buf.split_to(scan.consumed);
            if let Step::Done(outcome) = scan.step {
                return (total, !outcome.is_err());
            }
            let n = self.sock.read(&mut self.chunk).expect("read");
            assert!(n > 0, "closed");
            self.buf.extend_from_slice(&self.chunk[..n]);
        }
    }
}

struct Setup {
    _rt: tokio::runtime::Runtime,
    backend: SocketAddr,
    tandem: SocketAddr,
    big_len: usize,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let canned = Arc::new(Canned::new());
    let big_len = canned.big.len();
    let (backend, tandem) = rt.block_on(async {
        let b1 = fake_backend(canned.clone()).await;
        let b2 = fake_backend(canned).await;
        let config = format!(
            r#"
[proxy]
listen = "127.0.0.1:0"
[health]
inter = "200ms"
downinter = "200ms"
rise = 1
fall = 2
[monitor]
user = "monitor"
password = "x"
[writer]
auto_increment_fence = false
[[backends]]
name = "a"
address = "{b1}"
weight = 2
[[backends]]
name = "b"
address = "{b2}"
weight = 1
[[users]]
name = "app"
password = "apppass"
"#
        );
        let config = tandem_proxy::Config::parse(&config).expect("config");
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let tandem = l.local_addr().expect("addr");
        tokio::spawn(tandem_proxy::run(l, config, std::future::pending::<()>()));
        (b1, tandem)
    });
    // Wait until the monitor has elected a writer: a write-routed statement answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = Client::connect(tandem);
        if c.query(b"DO 1").1 {
            break;
        }
        assert!(Instant::now() < deadline, "tandem never ready");
    }
    Setup {
        _rt: rt,
        backend,
        tandem,
        big_len,
    }
}

fn relay(c: &mut Criterion) {
    let s = setup();
    let mut g = c.benchmark_group("relay/round_trip");
    g.throughput(Throughput::Elements(1));
    for (name, addr) in [("direct", s.backend), ("tandem", s.tandem)] {
        let mut client = Client::connect(addr);
        g.bench_function(name, |b| b.iter(|| client.query(b"SELECT 1")));
    }
    g.finish();

    let mut g = c.benchmark_group("relay/result_100MB");
    g.throughput(Throughput::Bytes(s.big_len as u64));
    g.sample_size(10);
    for (name, addr) in [("direct", s.backend), ("tandem", s.tandem)] {
        let mut client = Client::connect(addr);
        g.bench_function(name, |b| {
            b.iter(|| assert_eq!(client.query(b"SELECT big"), (s.big_len, true)))
        });
    }
    g.finish();
}

criterion_group!(benches, relay);
criterion_main!(benches);
