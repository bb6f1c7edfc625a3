//! Property tests: encode → parse is the identity for every message, and no parser panics on
//! arbitrary bytes (a cheap always-on complement to the cargo-fuzz targets).

use std::ops::ControlFlow;

use bytes::BytesMut;
use proptest::prelude::*;
use tandem_protocol::{
    parse_text_row, scan_packets, write_packet, AuthSwitchRequest, Capabilities, ColumnCount,
    ColumnDefinition, ColumnFlags, ColumnType, Command, EofPacket, ErrPacket, Handshake,
    HandshakeResponse, OkPacket, PacketCodec, PacketHeader, ResponseStream, SessionStateChange,
    SslRequest, StatusFlags, StmtPrepareOk,
};

fn caps() -> impl Strategy<Value = Capabilities> {
    any::<u64>().prop_map(Capabilities::from_bits_retain)
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_ ]{0,24}"
}

fn session_change() -> impl Strategy<Value = SessionStateChange> {
    prop_oneof![
        (text(), text())
            .prop_map(|(name, value)| SessionStateChange::SystemVariable { name, value }),
        text().prop_map(SessionStateChange::Schema),
        any::<bool>().prop_map(SessionStateChange::StateChanged),
        text().prop_map(SessionStateChange::Gtids),
        text().prop_map(SessionStateChange::TransactionState),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ok_round_trip(
        affected in any::<u64>(), last in any::<u64>(), status in any::<u16>(), warnings in any::<u16>(),
        info in text(), changes in proptest::collection::vec(session_change(), 0..4),
    ) {
        let caps = Capabilities::PROTOCOL_41 | Capabilities::SESSION_TRACK;
        let mut status = StatusFlags::from_bits_retain(status);
        status.set(StatusFlags::SESSION_STATE_CHANGED, !changes.is_empty());
        let ok = OkPacket { affected_rows: affected, last_insert_id: last, status, warnings, info, session_state_changes: changes };
        prop_assert_eq!(OkPacket::parse(&ok.to_bytes(caps), caps).unwrap(), ok);
    }

    #[test]
    fn err_eof_prepare_round_trip(code in 0u16..0xFFFF, msg in text(), w in any::<u16>(), s in any::<u16>(), id in any::<u32>(), c in any::<u16>(), p in any::<u16>()) {
        let e = ErrPacket::new(code, "HY000", msg);
        prop_assert_eq!(ErrPacket::parse(&e.to_bytes()).unwrap(), e);
        let eof = EofPacket { warnings: w, status: StatusFlags::from_bits_retain(s) };
        let mut b = BytesMut::new();
        eof.encode(&mut b);
        prop_assert_eq!(EofPacket::parse(&b).unwrap(), eof);
        let ok = StmtPrepareOk { statement_id: id, num_columns: c, num_params: p, warnings: w };
        let mut b = BytesMut::new();
        ok.encode(&mut b);
        prop_assert_eq!(StmtPrepareOk::parse(&b).unwrap(), ok);
    }

    #[test]
    fn column_definition_round_trip(
        names in proptest::collection::vec(text(), 5), charset in any::<u16>(), len in any::<u32>(),
        ty in any::<u8>(), flags in any::<u16>(), decimals in any::<u8>(), ext in any::<bool>(),
        defaults in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
    ) {
        let caps = if ext { Capabilities::MARIADB_CLIENT_EXTENDED_METADATA } else { Capabilities::empty() };
        let col = ColumnDefinition {
            schema: names[0].clone(), table: names[1].clone(), org_table: names[2].clone(),
            name: names[3].clone(), org_name: names[4].clone(),
            extended_metadata: if ext { vec![(0, b"json".to_vec())] } else { Vec::new() },
            charset, column_length: len, column_type: ColumnType(ty), flags: ColumnFlags::from_bits_retain(flags),
            decimals, default_values: defaults,
        };
        let mut b = BytesMut::new();
        col.encode(caps, &mut b);
        prop_assert_eq!(ColumnDefinition::parse(&b, caps).unwrap(), col);
    }

    #[test]
    fn handshake_round_trip(version in text(), id in any::<u32>(), salt in proptest::collection::vec(1u8..=255, 20), caps in caps(), status in any::<u16>(), plugin in "[a-z_]{1,24}") {
        let caps = caps | Capabilities::PROTOCOL_41 | Capabilities::SECURE_CONNECTION | Capabilities::PLUGIN_AUTH;
        let hs = Handshake {
            protocol_version: 10, server_version: version, connection_id: id, auth_plugin_data: salt,
            capabilities: if caps.is_mariadb() { caps } else { Capabilities::from_bits_retain(caps.bits() & 0xFFFF_FFFF) },
            charset: 8, status: StatusFlags::from_bits_retain(status), auth_plugin_name: plugin,
        };
        let mut b = BytesMut::new();
        hs.encode(&mut b);
        prop_assert_eq!(Handshake::parse(&b).unwrap(), hs);
    }

    #[test]
    fn handshake_response_round_trip(
        caps in caps(), user in text(), auth in proptest::collection::vec(any::<u8>(), 0..255),
        db in proptest::option::of("[a-z]{1,10}"), plugin in proptest::option::of("[a-z_]{1,20}"),
        attrs in proptest::collection::vec(("[a-z_]{1,8}", text()), 0..4), zstd in any::<u8>(),
    ) {
        let mut caps = caps | Capabilities::PROTOCOL_41 | Capabilities::SECURE_CONNECTION;
        if !caps.is_mariadb() {
            caps = Capabilities::from_bits_retain(caps.bits() & 0xFFFF_FFFF);
        }
        let resp = HandshakeResponse {
            capabilities: caps, max_packet_size: 1 << 20, charset: 45, username: user, auth_response: auth,
            database: db.filter(|_| caps.contains(Capabilities::CONNECT_WITH_DB)),
            auth_plugin_name: plugin.filter(|_| caps.contains(Capabilities::PLUGIN_AUTH)),
            connect_attrs: if caps.contains(Capabilities::CONNECT_ATTRS) { attrs } else { Vec::new() },
            zstd_compression_level: caps.contains(Capabilities::ZSTD_COMPRESSION_ALGORITHM).then_some(zstd),
        };
        let mut b = BytesMut::new();
        resp.encode(&mut b).unwrap();
        prop_assert_eq!(HandshakeResponse::parse(&b).unwrap(), resp);
    }

    #[test]
    fn framing_round_trip(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..8), cut in proptest::collection::vec(1usize..50, 1..20)) {
        let mut wire = BytesMut::new();
        let mut seq = 0u8;
        for p in &payloads {
            seq = write_packet(&mut wire, seq, p);
        }
        // Decode with arbitrary chunking and sequence checking.
        let mut codec = PacketCodec::default().with_sequence_check(true);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut rest = &wire[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = cut[i % cut.len()].min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            i += 1;
            while let Some(p) = codec.decode_packet(&mut buf).unwrap() {
                got.push(p.payload.to_vec());
            }
        }
        prop_assert_eq!(got, payloads);
    }

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), caps in caps(), n in 0usize..64) {
        let _ = Handshake::parse(&bytes);
        let _ = HandshakeResponse::parse(&bytes);
        let _ = SslRequest::parse(&bytes);
        let _ = OkPacket::parse(&bytes, caps);
        let _ = ErrPacket::parse(&bytes);
        let _ = EofPacket::parse(&bytes);
        let _ = ColumnCount::parse(&bytes, caps);
        let _ = ColumnDefinition::parse(&bytes, caps);
        let _ = AuthSwitchRequest::parse(&bytes);
        let _ = StmtPrepareOk::parse(&bytes);
        let _ = SessionStateChange::parse_all(&bytes);
        let _ = parse_text_row(&bytes, n);
        let _ = tandem_protocol::stmt_id(&bytes);
        let mut m = bytes.clone();
        let _ = tandem_protocol::rewrite_stmt_id(&mut m, 1);
        let _ = PacketCodec::new(1 << 16).decode_packet(&mut BytesMut::from(&bytes[..]));
        if let Some(cmd) = Command::of(&bytes) {
            let mut rs = ResponseStream::new(cmd, caps);
            scan_packets(&bytes, |h, p| {
                let _ = rs.feed(h, p);
                let _ = rs.feed_client(h, p);
                ControlFlow::Continue(())
            });
        }
        let _ = PacketHeader::parse(&bytes);
    }
}
