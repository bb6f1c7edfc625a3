//! tandem-protocol as a client against the real MariaDB pair, over a blocking socket: handshake,
//! native-password login, COM_QUERY with a multi-row result, a multi-result CALL and a prepared
//! statement round trip — every response's end found by `ResponseStream`.

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::BytesMut;
use tandem_protocol::client::{ClientLogin, Credential, LoginOptions, LoginStep};
use tandem_protocol::{
    Capabilities, Command, Handshake, Outcome, PacketCodec, ResponseStream, StatusFlags, Step,
};
use tandem_testkit::{pair, APP_PASSWORD, APP_USER};

struct Client {
    sock: TcpStream,
    buf: BytesMut,
    codec: PacketCodec,
    caps: Capabilities,
}

impl Client {
    fn read(&mut self) -> tandem_protocol::Packet {
        loop {
            if let Some(p) = self
                .codec
                .decode_packet(&mut self.buf)
                .expect("valid packets")
            {
                return p;
            }
            let mut chunk = [0u8; 65536];
            let n = self.sock.read(&mut chunk).expect("read");
            assert!(n > 0, "server closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn send(&mut self, seq: u8, payload: &[u8]) {
        let mut out = BytesMut::new();
        tandem_protocol::write_packet(&mut out, seq, payload);
        self.sock.write_all(&out).expect("write");
    }

    /// Sends a command; returns the raw physical packets of the response and how it ended.
    fn command(&mut self, payload: &[u8]) -> (usize, Outcome) {
        self.send(0, payload);
        let cmd = Command::of(payload).expect("known command");
        let mut rs = ResponseStream::new(cmd, self.caps);
        let mut raw = BytesMut::new();
        let mut packets = 0;
        loop {
            let scan = rs.scan(&raw).expect("well-formed response");
            packets += count_packets(&raw[..scan.consumed]);
            let _ = raw.split_to(scan.consumed);
            if let Step::Done(outcome) = scan.step {
                // Everything read must have been consumed exactly: nothing past the response.
                assert!(raw.is_empty() && self.buf.is_empty());
                return (packets, outcome);
            }
            if !self.buf.is_empty() {
                raw.extend_from_slice(&self.buf.split());
                continue;
            }
            let mut chunk = [0u8; 65536];
            let n = self.sock.read(&mut chunk).expect("read");
            assert!(n > 0, "server closed");
            raw.extend_from_slice(&chunk[..n]);
        }
    }
}

fn count_packets(mut b: &[u8]) -> usize {
    let mut n = 0;
    while let Some(h) = tandem_protocol::PacketHeader::parse(b) {
        b = &b[4 + h.len as usize..];
        n += 1;
    }
    n
}

fn login(addr: &str, deprecate_eof: bool) -> Client {
    let sock = TcpStream::connect(addr).expect("connect");
    let mut c = Client {
        sock,
        buf: BytesMut::new(),
        codec: PacketCodec::new(1 << 24).with_sequence_check(false),
        caps: Capabilities::empty(),
    };
    let hs = Handshake::parse(&c.read().payload).expect("handshake v10");
    assert_eq!(hs.protocol_version, 10);
    assert!(
        hs.server_version.contains("MariaDB"),
        "{}",
        hs.server_version
    );
    let mut opts = LoginOptions::new(APP_USER, Credential::Password(APP_PASSWORD.as_bytes()));
    opts.database = Some("shop");
    opts.capabilities = Capabilities::default_client()
        | Capabilities::MULTI_RESULTS
        | Capabilities::PS_MULTI_RESULTS;
    opts.capabilities
        .set(Capabilities::DEPRECATE_EOF, deprecate_eof);
    let (mut state, resp) = ClientLogin::start(&hs, opts).expect("login start");
    c.caps = state.capabilities();
    let mut p = BytesMut::new();
    resp.encode(&mut p).expect("encode");
    c.send(1, &p);
    loop {
        let pkt = c.read();
        match state.handle(&pkt.payload).expect("login accepted") {
            LoginStep::Done(ok) => {
                assert!(ok.status.contains(StatusFlags::AUTOCOMMIT));
                return c;
            }
            LoginStep::Wait => {}
            LoginStep::Send(d) => c.send(pkt.seq.wrapping_add(1), &d),
            LoginStep::Encrypt { .. } => panic!("unexpected RSA key exchange"),
        }
    }
}

#[test]
fn codec_drives_a_real_server() {
    let p = pair();
    p.cn1.query(
        "CREATE TABLE IF NOT EXISTS shop.codec (id INT PRIMARY KEY, v VARCHAR(20));
         REPLACE INTO shop.codec SELECT seq, CONCAT('row', seq) FROM shop.seq_1_to_300;
         DROP PROCEDURE IF EXISTS shop.two_results",
    );
    for deprecate_eof in [false, true] {
        let mut c = login(&p.cn1.addr(), deprecate_eof);
        if !deprecate_eof {
            // COM_QUERY does not split on `;`, so the body goes through as one statement.
            let (_, outcome) = c.command(
                b"\x03CREATE PROCEDURE two_results() BEGIN SELECT 1; SELECT id FROM codec LIMIT 5; END",
            );
            assert!(matches!(outcome, Outcome::Ok(_)), "{outcome:?}");
        }
        // A multi-row result: column count + 2 column defs + [EOF] + 300 rows + EOF/OK.
        let (n, outcome) = c.command(b"\x03SELECT id, v FROM codec ORDER BY id");
        let expected = 1 + 2 + usize::from(!deprecate_eof) + 300 + 1;
        assert_eq!(n, expected, "deprecate_eof={deprecate_eof}");
        assert!(matches!(outcome, Outcome::Ok(_)), "{outcome:?}");
        // A multi-result CALL: two result sets plus the procedure's final OK.
        let (_, outcome) = c.command(b"\x03CALL two_results()");
        match outcome {
            Outcome::Ok(ok) => assert!(!ok.status.contains(StatusFlags::MORE_RESULTS_EXISTS)),
            other => panic!("{other:?}"),
        }
        // Prepared statement round trip: prepare, execute (binary rows), close.
        let (_, outcome) = c.command(b"\x16SELECT id, v FROM codec WHERE id <= 3");
        let Outcome::Prepared { ok, .. } = outcome else {
            panic!("expected prepare OK, got {outcome:?}");
        };
        assert_eq!((ok.num_columns, ok.num_params), (2, 0));
        let mut exec = vec![0x17];
        exec.extend_from_slice(&ok.statement_id.to_le_bytes());
        exec.push(0); // no cursor
        exec.extend_from_slice(&1u32.to_le_bytes());
        assert_eq!(tandem_protocol::stmt_id(&exec), Some(ok.statement_id));
        let (n, outcome) = c.command(&exec);
        assert_eq!(n, 1 + 2 + usize::from(!deprecate_eof) + 3 + 1);
        assert!(matches!(outcome, Outcome::Ok(_)), "{outcome:?}");
        let mut close = vec![0x19];
        close.extend_from_slice(&ok.statement_id.to_le_bytes());
        c.send(0, &close); // no response
                           // An error ends the response too, and the connection stays usable.
        let (_, outcome) = c.command(b"\x03SELECT * FROM no_such_table");
        assert!(
            matches!(outcome, Outcome::Err(ref e) if e.code == 1146),
            "{outcome:?}"
        );
        let (_, outcome) = c.command(&[0x0e]);
        assert!(matches!(outcome, Outcome::Ok(_)));
    }
}
