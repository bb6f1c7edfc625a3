//! Server-message parsers (OK, ERR, EOF, column count and definition, prepare-OK, session state,
//! text rows, statement ids) on arbitrary bytes under arbitrary capabilities: no panic, and
//! parse → encode → parse is stable.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tandem_protocol::{
    parse_text_row, query_text, rewrite_stmt_id, stmt_id, Capabilities, ColumnCount, ColumnDefinition, EofPacket, ErrPacket,
    OkPacket, SessionStateChange, StatusFlags, StmtPrepareOk,
};

fuzz_target!(|data: &[u8]| {
    let [c0, c1, c2, c3, c4, c5, c6, c7, payload @ ..] = data else { return };
    let caps = Capabilities::from_bits_retain(u64::from_le_bytes([*c0, *c1, *c2, *c3, *c4, *c5, *c6, *c7]));

    if let Ok(ok) = OkPacket::parse(payload, caps) {
        let again = OkPacket::parse(&ok.to_bytes(caps), caps).expect("re-encoded OK parses");
        // The encoder derives SESSION_STATE_CHANGED from whether changes are present.
        let mut want = ok.clone();
        if caps.contains(Capabilities::PROTOCOL_41) {
            want.status.set(
                StatusFlags::SESSION_STATE_CHANGED,
                !ok.session_state_changes.is_empty() && caps.contains(Capabilities::SESSION_TRACK),
            );
        }
        assert_eq!(again, want);
    }
    if let Ok(e) = ErrPacket::parse(payload) {
        assert_eq!(ErrPacket::parse(&e.to_bytes()).expect("re-encoded ERR parses"), e);
    }
    if let Ok(eof) = EofPacket::parse(payload) {
        let mut b = BytesMut::new();
        eof.encode(&mut b);
        assert_eq!(EofPacket::parse(&b).expect("re-encoded EOF parses"), eof);
    }
    if let Ok(cc) = ColumnCount::parse(payload, caps) {
        let mut b = BytesMut::new();
        cc.encode(caps, &mut b);
        assert_eq!(ColumnCount::parse(&b, caps).expect("re-encoded column count parses"), cc);
    }
    if let Ok(col) = ColumnDefinition::parse(payload, caps) {
        let mut b = BytesMut::new();
        col.encode(caps, &mut b);
        assert_eq!(ColumnDefinition::parse(&b, caps).expect("re-encoded column parses"), col);
    }
    if let Ok(p) = StmtPrepareOk::parse(payload) {
        let mut b = BytesMut::new();
        p.encode(&mut b);
        assert_eq!(StmtPrepareOk::parse(&b).expect("re-encoded prepare OK parses"), p);
    }
    if let Ok(changes) = SessionStateChange::parse_all(payload) {
        let mut b = BytesMut::new();
        SessionStateChange::encode_all(&changes, &mut b);
        assert_eq!(SessionStateChange::parse_all(&b).expect("re-encoded state parses"), changes);
    }
    let _ = parse_text_row(payload, usize::from(*c0));
    let _ = stmt_id(payload);
    let _ = query_text(payload, caps);
    let mut m = payload.to_vec();
    let _ = rewrite_stmt_id(&mut m, 7);
});
