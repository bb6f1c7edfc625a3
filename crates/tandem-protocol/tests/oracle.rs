//! Cross-checks against `mysql_common` (blackbeam/rust_mysql_common), an independent
//! implementation, as an oracle: scrambles must agree, and messages one side encodes the other
//! must parse to the same fields.

use std::collections::HashMap;

use bytes::BytesMut;
use mysql_common::constants::CapabilityFlags;
use mysql_common::io::ParseBuf;
use mysql_common::packets as mc;
use mysql_common::proto::MySerialize;
use proptest::prelude::*;
use tandem_protocol::auth::{caching_sha2, native_password};
use tandem_protocol::{
    Capabilities, ErrPacket, Handshake, HandshakeResponse, OkPacket, StatusFlags,
};

fn salt() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(1u8..=127, 20)
}

fn attrs() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::hash_map("_?[a-z]{1,12}", "[ -~]{0,20}", 0..5)
        .prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn native_scramble_agrees(pw in proptest::collection::vec(any::<u8>(), 1..64), salt in salt()) {
        let theirs = mysql_common::scramble::scramble_native(&salt, &pw).unwrap();
        prop_assert_eq!(native_password::scramble(&pw, &salt), theirs);
        let sha1 = native_password::sha1_password(&pw);
        prop_assert_eq!(native_password::scramble_with_sha1(&sha1, &salt), theirs);
        prop_assert_eq!(native_password::verify(&native_password::hash_password(&pw), &salt, &theirs), Some(sha1));
    }

    #[test]
    fn sha2_scramble_agrees(pw in proptest::collection::vec(any::<u8>(), 1..64), salt in salt()) {
        let theirs = mysql_common::scramble::scramble_sha256(&salt, &pw).unwrap();
        prop_assert_eq!(caching_sha2::scramble(&pw, &salt), theirs);
        prop_assert!(caching_sha2::verify(&caching_sha2::hash_password(&pw), &salt, &theirs).is_some());
    }

    #[test]
    fn our_handshake_response_parses_in_mysql_common(
        user in "[a-z][a-z0-9_]{0,15}",
        db in proptest::option::of("[a-z]{1,10}"),
        auth in proptest::collection::vec(any::<u8>(), 0..40),
        attrs in attrs(),
        lenenc in any::<bool>(),
        mariadb in any::<bool>(),
    ) {
        let mut caps = Capabilities::default_client();
        caps.set(Capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA, lenenc);
        caps.set(Capabilities::CONNECT_WITH_DB, db.is_some());
        caps.set(Capabilities::CONNECT_ATTRS, true);
        if mariadb {
            caps = (caps - Capabilities::LONG_PASSWORD) | Capabilities::MARIADB_CLIENT_CACHE_METADATA;
        }
        let ours = HandshakeResponse {
            capabilities: caps,
            max_packet_size: 1 << 24,
            charset: 45,
            username: user.clone(),
            auth_response: auth.clone(),
            database: db.clone(),
            auth_plugin_name: Some("mysql_native_password".into()),
            connect_attrs: attrs.clone(),
            zstd_compression_level: None,
        };
        let mut b = BytesMut::new();
        ours.encode(&mut b).unwrap();
        let theirs: mc::HandshakeResponse<'_> = ParseBuf(&b).parse(()).unwrap();
        prop_assert_eq!(theirs.user(), user.as_bytes());
        prop_assert_eq!(theirs.db_name(), db.as_deref().map(str::as_bytes));
        prop_assert_eq!(theirs.scramble_buf(), &auth[..]);
        prop_assert_eq!(theirs.auth_plugin().map(|p| p.as_bytes().to_vec()), Some(b"mysql_native_password".to_vec()));
        prop_assert_eq!(theirs.capabilities().bits(), caps.low());
        let want: HashMap<String, String> = attrs.into_iter().collect();
        prop_assert_eq!(theirs.connect_attributes().unwrap_or_default(), want);
        // And back: their serialization parses to the same message.
        let mut again = Vec::new();
        theirs.serialize(&mut again);
        let back = HandshakeResponse::parse(&again).unwrap();
        prop_assert_eq!(back.username, user);
        prop_assert_eq!(back.auth_response, auth);
        prop_assert_eq!(back.database, db);
    }

    #[test]
    fn their_handshake_response_parses_here(
        user in "[a-z][a-z0-9_]{0,15}",
        db in proptest::option::of("[a-z]{1,10}"),
        pw in proptest::collection::vec(any::<u8>(), 1..20),
        salt in salt(),
    ) {
        let scramble = mysql_common::scramble::scramble_native(&salt, &pw).unwrap();
        let flags = CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_LONG_PASSWORD
            | CapabilityFlags::CLIENT_TRANSACTIONS
            | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
        let theirs = mc::HandshakeResponse::new(
            Some(scramble.to_vec()),
            (10, 11, 6),
            Some(user.as_bytes().to_vec()),
            db.as_ref().map(|d| d.as_bytes().to_vec()),
            Some(mc::AuthPlugin::MysqlNativePassword),
            flags,
            None,
            1 << 24,
        );
        let mut b = Vec::new();
        theirs.serialize(&mut b);
        let ours = HandshakeResponse::parse(&b).unwrap();
        prop_assert_eq!(&ours.username, &user);
        prop_assert_eq!(&ours.database, &db);
        prop_assert_eq!(ours.auth_plugin_name.as_deref(), Some("mysql_native_password"));
        prop_assert!(native_password::verify(&native_password::hash_password(&pw), &salt, &ours.auth_response).is_some());
    }

    #[test]
    fn our_handshake_parses_in_mysql_common(
        version in "[0-9]\\.[0-9]\\.[0-9]{1,2}-[A-Za-z]{0,10}",
        conn_id in any::<u32>(),
        salt in salt(),
        mariadb in any::<bool>(),
    ) {
        let mut caps = Capabilities::default_client() | Capabilities::CONNECT_WITH_DB;
        if mariadb {
            caps = (caps - Capabilities::LONG_PASSWORD) | Capabilities::MARIADB_CLIENT_PROGRESS;
        }
        let hs = Handshake {
            protocol_version: 10,
            server_version: version.clone(),
            connection_id: conn_id,
            auth_plugin_data: salt.clone(),
            capabilities: caps,
            charset: 45,
            status: StatusFlags::AUTOCOMMIT,
            auth_plugin_name: "mysql_native_password".into(),
        };
        let mut b = BytesMut::new();
        hs.encode(&mut b);
        let theirs: mc::HandshakePacket<'_> = ParseBuf(&b).parse(()).unwrap();
        prop_assert_eq!(theirs.server_version_ref(), version.as_bytes());
        prop_assert_eq!(theirs.connection_id(), conn_id);
        prop_assert_eq!(theirs.nonce(), salt);
        prop_assert_eq!(theirs.capabilities().bits(), caps.low());
        prop_assert_eq!(theirs.auth_plugin_name_ref(), Some(&b"mysql_native_password"[..]));
    }

    #[test]
    fn ok_and_err_agree(
        affected in any::<u64>(),
        last_id in any::<u64>(),
        status in any::<u16>(),
        warnings in any::<u16>(),
        info in "[ -~]{0,40}",
        code in 1u16..0xFFFF,
        message in "[ -~]{0,60}",
    ) {
        let caps = Capabilities::PROTOCOL_41 | Capabilities::TRANSACTIONS;
        let ok = OkPacket {
            affected_rows: affected,
            last_insert_id: last_id,
            // Only the bits mysql_common knows (it rejects 1 << 2 and MariaDB's ANSI_QUOTES).
            status: StatusFlags::from_bits_retain(status & 0x3FFB),
            warnings,
            info: info.clone(),
            session_state_changes: Vec::new(),
        };
        let b = ok.to_bytes(caps);
        let flags = CapabilityFlags::CLIENT_PROTOCOL_41 | CapabilityFlags::CLIENT_TRANSACTIONS;
        let theirs = ParseBuf(&b)
            .parse::<mc::OkPacketDeserializer<'_, mc::CommonOkPacket>>(flags)
            .unwrap()
            .into_inner();
        prop_assert_eq!(theirs.affected_rows(), affected);
        prop_assert_eq!(theirs.last_insert_id().unwrap_or(0), last_id);
        prop_assert_eq!(theirs.warnings(), warnings);
        prop_assert_eq!(theirs.info_ref().unwrap_or_default(), info.as_bytes());

        let e = ErrPacket::new(code, "HY001", message.clone()).to_bytes();
        let theirs: mc::ErrPacket<'_> = ParseBuf(&e).parse(flags).unwrap();
        let mc::ErrPacket::Error(se) = theirs else {
            return Err(TestCaseError::fail("progress report"));
        };
        prop_assert_eq!(se.error_code(), code);
        prop_assert_eq!(se.message_ref(), message.as_bytes());
    }
}
