//! Captures real server/client packets as test fixtures.
//!
//! The fixtures under `tests/fixtures/` were recorded from MariaDB 10.11 with this tool, so that
//! the parsers and the response-stream machine are tested on bytes a real server produced, not
//! only on bytes this crate's own encoders produced. Responses are delimited by a read timeout,
//! independently of `ResponseStream`, so the fixtures can check it.
//!
//! ```text
//! # throwaway server: see tests/fixtures/README.md
//! cargo run -p tandem-protocol --example capture_fixtures -- 127.0.0.1:23306 app secret \
//!     crates/tandem-protocol/tests/fixtures
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::BytesMut;
use tandem_protocol::client::{ClientLogin, Credential, LoginOptions, LoginStep};
use tandem_protocol::{
    scan_packets, write_packet, Capabilities, Handshake, PacketCodec, StatusFlags,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Conn {
    s: TcpStream,
    buf: BytesMut,
}

impl Conn {
    /// Reads until the server stays silent for `idle`; returns all raw bytes.
    fn read_all(&mut self, idle: Duration) -> Res<Vec<u8>> {
        self.s.set_read_timeout(Some(idle))?;
        let mut out = std::mem::take(&mut self.buf).to_vec();
        let mut chunk = vec![0u8; 1 << 16];
        loop {
            match self.s.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    fn read_packet(&mut self) -> Res<(u8, Vec<u8>)> {
        let mut codec = PacketCodec::default();
        let mut chunk = vec![0u8; 1 << 16];
        self.s.set_read_timeout(Some(Duration::from_secs(5)))?;
        loop {
            if let Some(p) = codec.decode_packet(&mut self.buf)? {
                return Ok((p.seq, p.payload.to_vec()));
            }
            let n = self.s.read(&mut chunk)?;
            if n == 0 {
                return Err("closed".into());
            }
            self.buf
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }

    fn send(&mut self, seq: u8, payload: &[u8]) -> Res<()> {
        let mut out = BytesMut::new();
        write_packet(&mut out, seq, payload);
        self.s.write_all(&out)?;
        Ok(())
    }
}

fn save(dir: &Path, name: &str, bytes: &[u8]) -> Res<()> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, bytes)?;
    let mut packets = 0;
    let whole = scan_packets(bytes, |_, _| {
        packets += 1;
        std::ops::ControlFlow::Continue(())
    });
    println!(
        "{name}: {} bytes, {packets} packets, {} whole",
        bytes.len(),
        whole
    );
    Ok(())
}

fn login(
    addr: &str,
    user: &str,
    pw: &str,
    caps: Capabilities,
    dir: &Path,
    prefix: &str,
) -> Res<Conn> {
    let s = TcpStream::connect(addr)?;
    let mut c = Conn {
        s,
        buf: BytesMut::new(),
    };
    let (_, hs_payload) = c.read_packet()?;
    save(dir, &format!("{prefix}/handshake.payload"), &hs_payload)?;
    let hs = Handshake::parse(&hs_payload)?;
    let mut opts = LoginOptions::new(user, Credential::Password(pw.as_bytes()));
    opts.capabilities = caps;
    opts.database = Some("shop");
    opts.connect_attrs = vec![("_client_name".into(), "tandem-capture".into())];
    let (mut st, resp) = ClientLogin::start(&hs, opts)?;
    let mut p = BytesMut::new();
    resp.encode(&mut p)?;
    c.send(1, &p)?;
    loop {
        let (seq, payload) = c.read_packet()?;
        match st.handle(&payload)? {
            LoginStep::Done(_) => {
                save(dir, &format!("{prefix}/login_ok.payload"), &payload)?;
                return Ok(c);
            }
            LoginStep::Wait => {}
            LoginStep::Send(d) => c.send(seq.wrapping_add(1), &d)?,
            LoginStep::Encrypt { .. } => return Err("RSA key exchange not supported here".into()),
        }
    }
}

fn exchange(c: &mut Conn, dir: &Path, name: &str, cmd: &[u8]) -> Res<Vec<u8>> {
    c.send(0, cmd)?;
    let bytes = c.read_all(Duration::from_millis(400))?;
    save(dir, name, &bytes)?;
    Ok(bytes)
}

fn capture_server(addr: &str, user: &str, pw: &str, dir: &Path) -> Res<()> {
    let base = Capabilities::default_client()
        | Capabilities::CONNECT_WITH_DB
        | Capabilities::MULTI_STATEMENTS
        | Capabilities::LOCAL_FILES;
    for (prefix, caps) in [
        ("deprecate_eof", base),
        ("classic_eof", base - Capabilities::DEPRECATE_EOF),
    ] {
        let mut c = login(addr, user, pw, caps, dir, prefix)?;
        let p = |n: &str| format!("{prefix}/{n}.bin");
        exchange(&mut c, dir, &p("ping"), &[0x0e])?;
        exchange(
            &mut c,
            dir,
            &p("select_rows"),
            b"\x03SELECT id, v FROM shop.t ORDER BY id",
        )?;
        exchange(
            &mut c,
            dir,
            &p("select_empty"),
            b"\x03SELECT id FROM shop.t WHERE id < 0",
        )?;
        exchange(&mut c, dir, &p("call_multi"), b"\x03CALL shop.p()")?;
        exchange(
            &mut c,
            dir,
            &p("multi_statement"),
            b"\x03SELECT 1; SELECT 2, 3",
        )?;
        exchange(&mut c, dir, &p("syntax_error"), b"\x03SELEC 1")?;
        exchange(&mut c, dir, &p("begin"), b"\x03BEGIN")?;
        exchange(
            &mut c,
            dir,
            &p("insert"),
            b"\x03INSERT INTO shop.t (v) VALUES ('x')",
        )?;
        exchange(&mut c, dir, &p("rollback"), b"\x03ROLLBACK")?;
        exchange(&mut c, dir, &p("set_autocommit"), b"\x03SET autocommit=0")?;
        exchange(&mut c, dir, &p("set_autocommit1"), b"\x03SET autocommit=1")?;
        exchange(&mut c, dir, &p("use_db"), b"\x03USE mysql")?;
        exchange(&mut c, dir, &p("init_db"), b"\x02shop")?;
        exchange(&mut c, dir, &p("field_list"), b"\x04t\x00")?;
        exchange(&mut c, dir, &p("statistics"), &[0x09])?;
        exchange(&mut c, dir, &p("set_option"), &[0x1b, 0, 0])?;
        let prep = exchange(
            &mut c,
            dir,
            &p("stmt_prepare"),
            b"\x16SELECT id, v FROM shop.t WHERE id > ?",
        )?;
        let mut id = None;
        scan_packets(&prep, |_, payload| {
            if id.is_none() {
                id = payload
                    .get(1..5)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
            std::ops::ControlFlow::Break(())
        });
        let id = id.ok_or("no statement id")?.to_le_bytes();
        // COM_STMT_EXECUTE: id, flags, iteration count 1, null bitmap, new-params flag, type LONGLONG, value 0.
        let exec = |flags: u8| {
            let mut v = vec![0x17];
            v.extend_from_slice(&id);
            v.push(flags);
            v.extend_from_slice(&1u32.to_le_bytes());
            v.extend_from_slice(&[0, 1, 8, 0]);
            v.extend_from_slice(&0i64.to_le_bytes());
            v
        };
        exchange(&mut c, dir, &p("stmt_execute"), &exec(0))?;
        exchange(&mut c, dir, &p("stmt_execute_cursor"), &exec(1))?;
        let mut fetch = vec![0x1c];
        fetch.extend_from_slice(&id);
        fetch.extend_from_slice(&2u32.to_le_bytes());
        exchange(&mut c, dir, &p("stmt_fetch_partial"), &fetch)?;
        exchange(&mut c, dir, &p("stmt_fetch_rest"), &fetch)?;
        let mut reset = vec![0x1a];
        reset.extend_from_slice(&id);
        exchange(&mut c, dir, &p("stmt_reset"), &reset)?;
        // LOAD DATA LOCAL: the request, then the client's data and the server's answer.
        exchange(
            &mut c,
            dir,
            &p("local_infile_request"),
            b"\x03LOAD DATA LOCAL INFILE 'x.csv' INTO TABLE shop.t FIELDS TERMINATED BY ',' (id, v)",
        )?;
        c.send(2, b"100,p\n101,q\n")?;
        c.send(3, b"")?;
        let ans = c.read_all(Duration::from_millis(400))?;
        save(dir, &p("local_infile_answer"), &ans)?;
        exchange(
            &mut c,
            dir,
            &p("delete"),
            b"\x03DELETE FROM shop.t WHERE id >= 4",
        )?;
        exchange(&mut c, dir, &p("reset_connection"), &[0x1f])?;
    }
    Ok(())
}

/// Plays a server just long enough to record a real client's HandshakeResponse41.
fn capture_client_response(client_cmd: &str, dir: &Path) -> Res<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let hs = Handshake {
        protocol_version: 10,
        server_version: "5.5.5-10.11.6-MariaDB".into(),
        connection_id: 7,
        auth_plugin_data: b"abcdefghijklmnopqrst".to_vec(),
        capabilities: (Capabilities::default_client() - Capabilities::LONG_PASSWORD)
            | Capabilities::CONNECT_WITH_DB
            | Capabilities::MULTI_STATEMENTS
            | Capabilities::LOCAL_FILES
            | Capabilities::MARIADB_CLIENT_PROGRESS
            | Capabilities::MARIADB_CLIENT_STMT_BULK_OPERATIONS
            | Capabilities::MARIADB_CLIENT_EXTENDED_METADATA
            | Capabilities::MARIADB_CLIENT_CACHE_METADATA,
        charset: 45,
        status: StatusFlags::AUTOCOMMIT,
        auth_plugin_name: "mysql_native_password".into(),
    };
    let cmd = client_cmd.replace("PORT", &port.to_string());
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .spawn()?;
    let (s, _) = listener.accept()?;
    let mut c = Conn {
        s,
        buf: BytesMut::new(),
    };
    let mut p = BytesMut::new();
    hs.encode(&mut p);
    save(dir, "client/server_handshake.payload", &p)?;
    c.send(0, &p)?;
    let (_, resp) = c.read_packet()?;
    save(dir, "client/mariadb_cli_response.payload", &resp)?;
    drop(c);
    let _ = child.wait();
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, user, pw, dir] = args.as_slice() else {
        return Err("usage: capture_fixtures ADDR USER PASSWORD DIR".into());
    };
    let dir = PathBuf::from(dir);
    capture_server(addr, user, pw, &dir)?;
    capture_client_response(
        "mariadb --no-defaults -h127.0.0.1 -PPORT -uapp -psecret shop -e 'select 1' >/dev/null 2>&1",
        &dir,
    )?;
    Ok(())
}
