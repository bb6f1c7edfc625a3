//! Scripted server responses for [`ResponseStream`].

use bytes::BytesMut;

use super::*;
use crate::framing::{scan_packets, write_packet};
use crate::message::column_definition::{ColumnDefinition, ColumnType};
use crate::message::row::encode_text_row;

const OLD: Capabilities = Capabilities::PROTOCOL_41
    .union(Capabilities::TRANSACTIONS)
    .union(Capabilities::SESSION_TRACK)
    .union(Capabilities::MULTI_RESULTS);
const NEW: Capabilities = OLD.union(Capabilities::DEPRECATE_EOF);

/// Builds a server response as physical packets with consecutive sequence ids.
struct Wire {
    caps: Capabilities,
    buf: BytesMut,
    seq: u8,
}

impl Wire {
    fn new(caps: Capabilities) -> Self {
        Self {
            caps,
            buf: BytesMut::new(),
            seq: 1,
        }
    }
    fn raw(&mut self, payload: &[u8]) -> &mut Self {
        self.seq = write_packet(&mut self.buf, self.seq, payload);
        self
    }
    fn ok(&mut self, status: StatusFlags) -> &mut Self {
        let b = OkPacket::with_status(status).to_bytes(self.caps);
        self.raw(&b)
    }
    fn err(&mut self) -> &mut Self {
        let b = ErrPacket::new(1064, "42000", "syntax").to_bytes();
        self.raw(&b)
    }
    fn eof(&mut self, status: StatusFlags) -> &mut Self {
        let mut b = BytesMut::new();
        EofPacket {
            warnings: 0,
            status,
        }
        .encode(&mut b);
        self.raw(&b)
    }
    /// EOF or OK-as-EOF depending on DEPRECATE_EOF.
    fn end(&mut self, status: StatusFlags) -> &mut Self {
        if self.caps.contains(Capabilities::DEPRECATE_EOF) {
            let mut b = BytesMut::new();
            OkPacket::with_status(status).encode_as_eof(self.caps, &mut b);
            self.raw(&b)
        } else {
            self.eof(status)
        }
    }
    fn coldefs(&mut self, n: usize) -> &mut Self {
        for i in 0..n {
            let mut b = BytesMut::new();
            ColumnDefinition::simple(&format!("c{i}"), ColumnType::VAR_STRING)
                .encode(self.caps, &mut b);
            self.raw(&b);
        }
        self
    }
    /// Column count, definitions and (without DEPRECATE_EOF) the metadata EOF.
    fn header(&mut self, n: usize) -> &mut Self {
        let mut b = BytesMut::new();
        ColumnCount {
            count: n as u64,
            metadata_follows: true,
        }
        .encode(self.caps, &mut b);
        self.raw(&b).coldefs(n);
        if !self.caps.contains(Capabilities::DEPRECATE_EOF) {
            self.eof(StatusFlags::AUTOCOMMIT);
        }
        self
    }
    fn rows(&mut self, n: usize) -> &mut Self {
        for i in 0..n {
            let mut b = BytesMut::new();
            encode_text_row(&mut b, &[Some(format!("v{i}").as_bytes()), None]);
            self.raw(&b);
        }
        self
    }
}

/// Feeds every packet; asserts `Done` comes exactly at the last one and returns it.
fn run(cmd: Command, w: &Wire) -> Outcome {
    let mut rs = ResponseStream::new(cmd, w.caps);
    let mut steps = Vec::new();
    let n = scan_packets(&w.buf, |h, p| {
        steps.push(rs.feed(h, p).unwrap());
        std::ops::ControlFlow::Continue(())
    });
    assert_eq!(n, w.buf.len());
    let (last, before) = steps.split_last().unwrap();
    assert!(before.iter().all(|s| *s == Step::Continue), "{steps:?}");
    assert!(rs.is_done());
    match last {
        Step::Done(o) => {
            assert_eq!(rs.outcome(), Some(o));
            o.clone()
        }
        other => panic!("last step {other:?}"),
    }
}

#[test]
fn ok_and_err() {
    for caps in [OLD, NEW] {
        let o = run(Command::Query, Wire::new(caps).ok(StatusFlags::IN_TRANS));
        assert_eq!(o.status(), Some(StatusFlags::IN_TRANS));
        let o = run(Command::Ping, Wire::new(caps).err());
        assert!(matches!(o, Outcome::Err(ref e) if e.code == 1064));
        assert_eq!(o.status(), None);
    }
}

#[test]
fn text_result_sets() {
    for caps in [OLD, NEW] {
        let o = run(
            Command::Query,
            Wire::new(caps)
                .header(2)
                .rows(3)
                .end(StatusFlags::AUTOCOMMIT | StatusFlags::IN_TRANS),
        );
        assert_eq!(
            o.status(),
            Some(StatusFlags::AUTOCOMMIT | StatusFlags::IN_TRANS)
        );
        // Zero rows.
        run(
            Command::Query,
            Wire::new(caps).header(1).end(StatusFlags::AUTOCOMMIT),
        );
        // Error in the middle of the rows.
        let o = run(Command::Query, Wire::new(caps).header(1).rows(2).err());
        assert!(o.is_err());
    }
}

#[test]
fn multi_results_end_after_the_last() {
    let more = StatusFlags::AUTOCOMMIT | StatusFlags::MORE_RESULTS_EXISTS;
    for caps in [OLD, NEW] {
        let o = run(
            Command::Query,
            Wire::new(caps)
                .header(2)
                .rows(2)
                .end(more)
                .ok(more)
                .header(1)
                .rows(1)
                .end(more)
                .ok(StatusFlags::IN_TRANS),
        );
        assert_eq!(o.status(), Some(StatusFlags::IN_TRANS));
        // An error ends a multi-result response; the earlier status stays visible.
        let w = {
            let mut w = Wire::new(caps);
            w.ok(more | StatusFlags::IN_TRANS).err();
            w
        };
        let mut rs = ResponseStream::new(Command::Query, caps);
        let scan = rs.scan(&w.buf).unwrap();
        assert!(matches!(scan.step, Step::Done(Outcome::Err(_))));
        assert_eq!(rs.status(), Some(more | StatusFlags::IN_TRANS));
    }
}

#[test]
fn rows_beginning_with_fe() {
    // Without DEPRECATE_EOF a 0xFE packet of 9+ bytes is a row.
    let mut w = Wire::new(OLD);
    w.header(1)
        .raw(&[0xFE, 1, 0, 0, 0, 0, 0, 0, 0, b'x'])
        .eof(StatusFlags::empty());
    run(Command::Query, &w);
}

#[test]
fn continuation_packets_are_never_classified() {
    for caps in [OLD, NEW] {
        // A 16 MiB+ row starting with 0xFE whose continuation looks like OK, EOF and ERR.
        let mut row = vec![0xFEu8];
        row.extend_from_slice(&((MAX_PAYLOAD_LEN + 7) as u64).to_le_bytes());
        row.resize(MAX_PAYLOAD_LEN, b'a');
        row.extend_from_slice(&[0xFE, 0, 0, 2, 0, 0, 0, 0xFF, 0, 0]);
        let mut w = Wire::new(caps);
        w.header(1).raw(&row).rows(1).end(StatusFlags::AUTOCOMMIT);
        run(Command::Query, &w);
        // Exactly 0xFFFFFF bytes: the empty trailer is a continuation, not a terminator.
        let mut exact = vec![b'z'; MAX_PAYLOAD_LEN];
        exact[0] = 0xFE;
        let mut w = Wire::new(caps);
        w.header(1).raw(&exact).end(StatusFlags::AUTOCOMMIT);
        run(Command::Query, &w);
    }
}

#[test]
fn local_infile() {
    let mut rs = ResponseStream::new(Command::Query, NEW);
    let h = |len: usize, seq| PacketHeader {
        len: len as u32,
        seq,
    };
    assert_eq!(rs.feed(h(5, 1), b"\xfbfile").unwrap(), Step::LocalInfile);
    assert!(rs.awaits_client());
    assert!(matches!(
        rs.feed(h(7, 2), &[0; 7]),
        Err(ProtocolError::UnexpectedPacket { .. })
    ));
    let big = vec![1u8; MAX_PAYLOAD_LEN];
    assert_eq!(
        rs.feed_client(h(MAX_PAYLOAD_LEN, 2), &big).unwrap(),
        Step::Continue
    );
    // Empty continuation trailer of the exact-multiple packet: still the client's turn.
    assert_eq!(rs.feed_client(h(0, 3), &[]).unwrap(), Step::Continue);
    assert!(rs.awaits_client());
    assert_eq!(rs.feed_client(h(3, 4), b"a,b").unwrap(), Step::Continue);
    assert_eq!(rs.feed_client(h(0, 5), &[]).unwrap(), Step::Continue);
    assert!(!rs.awaits_client());
    let ok = OkPacket::with_status(StatusFlags::AUTOCOMMIT).to_bytes(NEW);
    assert!(rs.feed(h(ok.len(), 6), &ok).unwrap().is_done());
    // LOCAL INFILE is only legal for COM_QUERY.
    let mut rs = ResponseStream::new(Command::StmtExecute, NEW);
    assert!(matches!(
        rs.feed(h(2, 1), b"\xfbf"),
        Err(ProtocolError::Malformed(_))
    ));
    let mut rs = ResponseStream::new(Command::Query, NEW);
    assert!(matches!(
        rs.feed_client(h(0, 1), &[]),
        Err(ProtocolError::UnexpectedPacket { .. })
    ));
}

#[test]
fn prepare() {
    for caps in [OLD, NEW] {
        for (params, cols) in [(2u16, 3u16), (0, 2), (1, 0), (0, 0)] {
            let mut w = Wire::new(caps);
            let mut b = BytesMut::new();
            StmtPrepareOk {
                statement_id: 5,
                num_columns: cols,
                num_params: params,
                warnings: 0,
            }
            .encode(&mut b);
            w.raw(&b);
            if params > 0 {
                w.coldefs(params.into());
                if !caps.contains(Capabilities::DEPRECATE_EOF) {
                    w.eof(StatusFlags::AUTOCOMMIT);
                }
            }
            if cols > 0 {
                w.coldefs(cols.into());
                if !caps.contains(Capabilities::DEPRECATE_EOF) {
                    w.eof(StatusFlags::AUTOCOMMIT | StatusFlags::IN_TRANS);
                }
            }
            let o = run(Command::StmtPrepare, &w);
            let Outcome::Prepared { ok, .. } = o else {
                panic!("{o:?}")
            };
            assert_eq!(
                (ok.statement_id, ok.num_params, ok.num_columns),
                (5, params, cols)
            );
        }
        assert!(run(Command::StmtPrepare, Wire::new(caps).err()).is_err());
    }
}

#[test]
fn execute_with_cursor_and_fetch() {
    let cursor = StatusFlags::AUTOCOMMIT | StatusFlags::CURSOR_EXISTS;
    // Metadata then one EOF / OK-as-EOF carrying CURSOR_EXISTS, no rows.
    let mut w = Wire::new(OLD);
    w.raw(&[1]).coldefs(1).eof(cursor);
    assert_eq!(run(Command::StmtExecute, &w).status(), Some(cursor));
    let mut w = Wire::new(NEW);
    w.raw(&[1]).coldefs(1).end(cursor);
    assert_eq!(run(Command::StmtExecute, &w).status(), Some(cursor));
    // Binary rows start with 0x00 and are not OK packets.
    for caps in [OLD, NEW] {
        let mut w = Wire::new(caps);
        w.header(1)
            .raw(&[0, 0, 1, b'x'])
            .end(StatusFlags::AUTOCOMMIT);
        run(Command::StmtExecute, &w);
        let mut w = Wire::new(caps);
        w.raw(&[0, 0, 2, b'a', b'b'])
            .raw(&[0, 0, 1, b'c'])
            .end(cursor | StatusFlags::LAST_ROW_SENT);
        let o = run(Command::StmtFetch, &w);
        assert!(o.status().unwrap().contains(StatusFlags::LAST_ROW_SENT));
    }
}

#[test]
fn field_list_statistics_set_option() {
    for caps in [OLD, NEW] {
        run(
            Command::FieldList,
            Wire::new(caps).coldefs(3).end(StatusFlags::AUTOCOMMIT),
        );
        assert!(run(Command::FieldList, Wire::new(caps).err()).is_err());
        assert_eq!(
            run(
                Command::Statistics,
                Wire::new(caps).raw(b"Uptime: 5  Threads: 1")
            ),
            Outcome::Text
        );
        run(
            Command::SetOption,
            Wire::new(caps).end(StatusFlags::AUTOCOMMIT),
        );
    }
    let long = vec![b'u'; MAX_PAYLOAD_LEN + 3];
    assert_eq!(
        run(Command::Statistics, Wire::new(OLD).raw(&long)),
        Outcome::Text
    );
}

#[test]
fn cache_metadata_skips_definitions() {
    let caps = OLD | Capabilities::MARIADB_CLIENT_CACHE_METADATA;
    let mut w = Wire::new(caps);
    w.raw(&[2, 0])
        .eof(StatusFlags::empty())
        .rows(2)
        .eof(StatusFlags::AUTOCOMMIT);
    run(Command::StmtExecute, &w);
    let mut w = Wire::new(caps);
    w.raw(&[1, 1])
        .coldefs(1)
        .eof(StatusFlags::empty())
        .rows(1)
        .eof(StatusFlags::AUTOCOMMIT);
    run(Command::Query, &w);
}

#[test]
fn progress_reports_are_skipped() {
    let caps = NEW | Capabilities::MARIADB_CLIENT_PROGRESS;
    let mut w = Wire::new(caps);
    w.raw(&[0xFF, 0xFF, 0xFF, 1, 1, 0, 0, 0, 0])
        .ok(StatusFlags::AUTOCOMMIT);
    run(Command::Query, &w);
}

#[test]
fn change_user_exchange() {
    let mut rs = ResponseStream::new(Command::ChangeUser, NEW);
    let h = |len: usize, seq| PacketHeader {
        len: len as u32,
        seq,
    };
    let switch = b"\xfemysql_native_password\x00aaaaaaaaaaaaaaaaaaaa\x00";
    assert_eq!(
        rs.feed(h(switch.len(), 1), switch).unwrap(),
        Step::AuthRequest
    );
    assert_eq!(rs.feed_client(h(20, 2), &[7; 20]).unwrap(), Step::Continue);
    let ok = OkPacket::with_status(StatusFlags::AUTOCOMMIT).to_bytes(NEW);
    assert!(rs.feed(h(ok.len(), 3), &ok).unwrap().is_done());
    let mut rs = ResponseStream::new(Command::ChangeUser, NEW);
    assert!(matches!(
        rs.feed(h(1, 1), &[0x42]),
        Err(ProtocolError::UnexpectedPacket { .. })
    ));
}

#[test]
fn no_response_commands() {
    for cmd in [Command::Quit, Command::StmtClose, Command::StmtSendLongData] {
        assert!(!ResponseStream::expects_response(cmd));
        let mut rs = ResponseStream::new(cmd, NEW);
        assert!(rs.is_done());
        assert!(matches!(
            rs.feed(PacketHeader { len: 1, seq: 1 }, &[0]),
            Err(ProtocolError::UnexpectedPacket { .. })
        ));
    }
    assert!(ResponseStream::for_command(&[0x99], NEW).is_none());
    assert_eq!(
        ResponseStream::for_command(b"\x03SELECT 1", NEW)
            .unwrap()
            .command(),
        Command::Query
    );
}

#[test]
fn scan_stops_at_done_and_keeps_partial_bytes() {
    let mut w = Wire::new(NEW);
    w.header(2).rows(100).end(StatusFlags::AUTOCOMMIT);
    let total = w.buf.len();
    let mut rs = ResponseStream::new(Command::Query, NEW);
    // Half the buffer: everything complete is consumed, nothing is done.
    let half = rs.scan(&w.buf[..total / 2]).unwrap();
    assert_eq!(half.step, Step::Continue);
    assert!(half.consumed <= total / 2 && half.consumed > 0);
    let mut rest = w.buf[half.consumed..].to_vec();
    rest.extend_from_slice(b"\x01\x00\x00\x09junk"); // bytes after the response are not consumed
    let end = rs.scan(&rest).unwrap();
    assert!(end.step.is_done());
    assert_eq!(half.consumed + end.consumed, total);
    assert!(matches!(
        rs.scan(&rest[end.consumed..]),
        Err(ProtocolError::UnexpectedPacket { .. })
    ));
}

#[test]
fn errors() {
    let h = |len: usize, seq| PacketHeader {
        len: len as u32,
        seq,
    };
    let mut rs = ResponseStream::new(Command::Query, OLD);
    assert!(matches!(
        rs.feed(h(0, 1), &[]),
        Err(ProtocolError::Malformed(_))
    ));
    // Sequence gap.
    let mut rs = ResponseStream::new(Command::Query, OLD);
    rs.feed(h(1, 1), &[1]).unwrap();
    assert!(matches!(
        rs.feed(h(1, 3), &[1]),
        Err(ProtocolError::PacketsOutOfSync {
            expected: 2,
            got: 3
        })
    ));
    // A row where the metadata EOF belongs.
    let mut w = Wire::new(OLD);
    w.raw(&[1]).coldefs(1);
    let mut rs = ResponseStream::new(Command::Query, OLD);
    assert_eq!(rs.scan(&w.buf).unwrap().step, Step::Continue);
    assert!(matches!(
        rs.feed(h(2, w.seq), &[1, b'x']),
        Err(ProtocolError::UnexpectedPacket { .. })
    ));
    // Malformed OK / column count / prepare OK.
    let mut rs = ResponseStream::new(Command::Query, OLD);
    assert!(matches!(
        rs.feed(h(2, 1), &[0, 0]),
        Err(ProtocolError::Truncated { .. })
    ));
    let mut rs = ResponseStream::new(Command::Query, OLD);
    assert!(matches!(
        rs.feed(h(2, 1), &[0xFC, 0]),
        Err(ProtocolError::Truncated { .. })
    ));
    let mut rs = ResponseStream::new(Command::StmtPrepare, OLD);
    assert!(matches!(
        rs.feed(h(1, 1), &[3]),
        Err(ProtocolError::UnexpectedPacket { .. })
    ));
}
