//! Real packets recorded from MariaDB 10.11 (and its command-line client) by
//! `examples/capture_fixtures.rs`; see `tests/fixtures/README.md`.
//!
//! Each `.bin` file holds the raw bytes a server sent for one command, delimited by a read
//! timeout — independently of `ResponseStream`, which must find exactly that end.

use std::ops::ControlFlow;

use bytes::BytesMut;
use tandem_protocol::client::{ClientLogin, Credential, LoginOptions};
use tandem_protocol::{
    auth::native_password, parse_text_row, scan_packets, Capabilities, ColumnCount,
    ColumnDefinition, Command, ErrPacket, Handshake, HandshakeResponse, OkPacket, Outcome,
    PacketHeader, ResponseStream, SessionStateChange, StatusFlags, Step,
};

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $path
        ))
        .as_slice()
    };
}

/// The capabilities the capture session negotiated.
fn caps(deprecate_eof: bool) -> Capabilities {
    let hs = Handshake::parse(fixture!("deprecate_eof/handshake.payload")).unwrap();
    let mut opts = LoginOptions::new("app", Credential::Password(b"secret"));
    opts.capabilities = Capabilities::default_client()
        | Capabilities::CONNECT_WITH_DB
        | Capabilities::MULTI_STATEMENTS
        | Capabilities::LOCAL_FILES;
    if !deprecate_eof {
        opts.capabilities -= Capabilities::DEPRECATE_EOF;
    }
    opts.database = Some("shop");
    opts.connect_attrs = vec![("_client_name".into(), "tandem-capture".into())];
    ClientLogin::start(&hs, opts).unwrap().0.capabilities()
}

fn packets(buf: &[u8]) -> Vec<(PacketHeader, Vec<u8>)> {
    let mut out = Vec::new();
    let n = scan_packets(buf, |h, p| {
        out.push((h, p.to_vec()));
        ControlFlow::Continue(())
    });
    assert_eq!(n, buf.len(), "fixture holds only whole packets");
    out
}

/// Feeds a recorded response; `Done` must come exactly with the last packet.
fn run(cmd: Command, caps: Capabilities, buf: &[u8]) -> Outcome {
    let mut rs = ResponseStream::new(cmd, caps);
    let scan = rs.scan(buf).unwrap();
    assert_eq!(scan.consumed, buf.len(), "{cmd:?} ended early");
    match scan.step {
        Step::Done(o) => o,
        other => panic!("{cmd:?}: {other:?}"),
    }
}

/// Looks a recorded response up by name.
type Fixtures = fn(&str) -> &'static [u8];

/// Both capture sessions: (with DEPRECATE_EOF, fixture accessor).
fn sessions() -> [(bool, Fixtures); 2] {
    [(true, deprecate), (false, classic)]
}

fn deprecate(name: &str) -> &'static [u8] {
    match name {
        "ping" => fixture!("deprecate_eof/ping.bin"),
        "select_rows" => fixture!("deprecate_eof/select_rows.bin"),
        "select_empty" => fixture!("deprecate_eof/select_empty.bin"),
        "call_multi" => fixture!("deprecate_eof/call_multi.bin"),
        "multi_statement" => fixture!("deprecate_eof/multi_statement.bin"),
        "syntax_error" => fixture!("deprecate_eof/syntax_error.bin"),
        "begin" => fixture!("deprecate_eof/begin.bin"),
        "insert" => fixture!("deprecate_eof/insert.bin"),
        "rollback" => fixture!("deprecate_eof/rollback.bin"),
        "set_autocommit" => fixture!("deprecate_eof/set_autocommit.bin"),
        "set_autocommit1" => fixture!("deprecate_eof/set_autocommit1.bin"),
        "use_db" => fixture!("deprecate_eof/use_db.bin"),
        "init_db" => fixture!("deprecate_eof/init_db.bin"),
        "field_list" => fixture!("deprecate_eof/field_list.bin"),
        "statistics" => fixture!("deprecate_eof/statistics.bin"),
        "set_option" => fixture!("deprecate_eof/set_option.bin"),
        "stmt_prepare" => fixture!("deprecate_eof/stmt_prepare.bin"),
        "stmt_execute" => fixture!("deprecate_eof/stmt_execute.bin"),
        "stmt_execute_cursor" => fixture!("deprecate_eof/stmt_execute_cursor.bin"),
        "stmt_fetch_partial" => fixture!("deprecate_eof/stmt_fetch_partial.bin"),
        "stmt_fetch_rest" => fixture!("deprecate_eof/stmt_fetch_rest.bin"),
        "stmt_reset" => fixture!("deprecate_eof/stmt_reset.bin"),
        "local_infile_request" => fixture!("deprecate_eof/local_infile_request.bin"),
        "local_infile_answer" => fixture!("deprecate_eof/local_infile_answer.bin"),
        "delete" => fixture!("deprecate_eof/delete.bin"),
        "reset_connection" => fixture!("deprecate_eof/reset_connection.bin"),
        _ => panic!("no fixture {name}"),
    }
}

fn classic(name: &str) -> &'static [u8] {
    match name {
        "ping" => fixture!("classic_eof/ping.bin"),
        "select_rows" => fixture!("classic_eof/select_rows.bin"),
        "select_empty" => fixture!("classic_eof/select_empty.bin"),
        "call_multi" => fixture!("classic_eof/call_multi.bin"),
        "multi_statement" => fixture!("classic_eof/multi_statement.bin"),
        "syntax_error" => fixture!("classic_eof/syntax_error.bin"),
        "begin" => fixture!("classic_eof/begin.bin"),
        "insert" => fixture!("classic_eof/insert.bin"),
        "rollback" => fixture!("classic_eof/rollback.bin"),
        "set_autocommit" => fixture!("classic_eof/set_autocommit.bin"),
        "set_autocommit1" => fixture!("classic_eof/set_autocommit1.bin"),
        "use_db" => fixture!("classic_eof/use_db.bin"),
        "init_db" => fixture!("classic_eof/init_db.bin"),
        "field_list" => fixture!("classic_eof/field_list.bin"),
        "statistics" => fixture!("classic_eof/statistics.bin"),
        "set_option" => fixture!("classic_eof/set_option.bin"),
        "stmt_prepare" => fixture!("classic_eof/stmt_prepare.bin"),
        "stmt_execute" => fixture!("classic_eof/stmt_execute.bin"),
        "stmt_execute_cursor" => fixture!("classic_eof/stmt_execute_cursor.bin"),
        "stmt_fetch_partial" => fixture!("classic_eof/stmt_fetch_partial.bin"),
        "stmt_fetch_rest" => fixture!("classic_eof/stmt_fetch_rest.bin"),
        "stmt_reset" => fixture!("classic_eof/stmt_reset.bin"),
        "local_infile_request" => fixture!("classic_eof/local_infile_request.bin"),
        "local_infile_answer" => fixture!("classic_eof/local_infile_answer.bin"),
        "delete" => fixture!("classic_eof/delete.bin"),
        "reset_connection" => fixture!("classic_eof/reset_connection.bin"),
        _ => panic!("no fixture {name}"),
    }
}

fn ok_of(o: Outcome) -> OkPacket {
    match o {
        Outcome::Ok(ok) => ok,
        other => panic!("expected OK, got {other:?}"),
    }
}

#[test]
fn server_handshake_parses_and_reencodes_byte_exact() {
    for payload in [
        fixture!("deprecate_eof/handshake.payload"),
        fixture!("classic_eof/handshake.payload"),
    ] {
        let hs = Handshake::parse(payload).unwrap();
        assert_eq!(hs.protocol_version, 10);
        assert!(hs.server_version.contains("10.11"), "{}", hs.server_version);
        assert!(hs.server_version.contains("MariaDB"));
        assert_eq!(hs.auth_plugin_data.len(), 20);
        assert!(hs.capabilities.is_mariadb());
        assert!(hs
            .capabilities
            .contains(Capabilities::DEPRECATE_EOF | Capabilities::SESSION_TRACK));
        assert!(hs
            .capabilities
            .contains(Capabilities::MARIADB_CLIENT_CACHE_METADATA));
        assert_eq!(hs.auth_plugin_name, "mysql_native_password");
        let mut b = BytesMut::new();
        hs.encode(&mut b);
        assert_eq!(&b[..], payload);
    }
}

#[test]
fn login_ok() {
    let ok = OkPacket::parse(fixture!("deprecate_eof/login_ok.payload"), caps(true)).unwrap();
    assert!(ok.status.contains(StatusFlags::AUTOCOMMIT));
}

#[test]
fn real_client_handshake_response() {
    let hs = Handshake::parse(fixture!("client/server_handshake.payload")).unwrap();
    let payload = fixture!("client/mariadb_cli_response.payload");
    let resp = HandshakeResponse::parse(payload).unwrap();
    assert_eq!(resp.username, "app");
    assert_eq!(resp.database.as_deref(), Some("shop"));
    assert_eq!(
        resp.auth_plugin_name.as_deref(),
        Some("mysql_native_password")
    );
    assert_eq!(resp.connect_attr("_client_name"), Some("libmariadb"));
    assert!(resp.capabilities.is_mariadb());
    assert!(resp
        .capabilities
        .contains(Capabilities::MARIADB_CLIENT_CACHE_METADATA));
    let stored =
        native_password::parse_stored_hash("*14E65567ABDB5135D0CFD9A70B3032C179A49EE7").unwrap();
    let sha1 = native_password::verify(&stored, hs.scramble(), &resp.auth_response).unwrap();
    assert_eq!(sha1, native_password::sha1_password(b"secret"));
    let mut b = BytesMut::new();
    resp.encode(&mut b).unwrap();
    assert_eq!(&b[..], payload);
}

#[test]
fn simple_ok_responses() {
    for (deprecate_eof, f) in sessions() {
        let c = caps(deprecate_eof);
        for (name, cmd) in [
            ("ping", Command::Ping),
            ("init_db", Command::InitDb),
            ("stmt_reset", Command::StmtReset),
            ("reset_connection", Command::ResetConnection),
            ("set_option", Command::SetOption),
            ("delete", Command::Query),
        ] {
            let ok = ok_of(run(cmd, c, f(name)));
            assert!(ok.status.contains(StatusFlags::AUTOCOMMIT), "{name}");
        }
        let begin = ok_of(run(Command::Query, c, f("begin")));
        assert!(begin.status.contains(StatusFlags::IN_TRANS));
        let insert = ok_of(run(Command::Query, c, f("insert")));
        assert_eq!(insert.affected_rows, 1);
        assert!(insert.last_insert_id >= 4, "{insert:?}");
        assert!(insert.status.contains(StatusFlags::IN_TRANS));
        let rollback = ok_of(run(Command::Query, c, f("rollback")));
        assert!(!rollback.status.contains(StatusFlags::IN_TRANS));
    }
}

#[test]
fn session_state_changes() {
    for (deprecate_eof, f) in sessions() {
        let c = caps(deprecate_eof);
        let ok = ok_of(run(Command::Query, c, f("set_autocommit")));
        assert!(!ok.status.contains(StatusFlags::AUTOCOMMIT));
        assert_eq!(
            ok.session_state_changes,
            [SessionStateChange::SystemVariable {
                name: "autocommit".into(),
                value: "OFF".into()
            }]
        );
        let ok = ok_of(run(Command::Query, c, f("use_db")));
        assert_eq!(
            ok.session_state_changes,
            [SessionStateChange::Schema("mysql".into())]
        );
        // Re-encoding reproduces the server's bytes.
        for name in [
            "set_autocommit",
            "set_autocommit1",
            "use_db",
            "ping",
            "insert",
        ] {
            let (_, payload) = packets(f(name)).remove(0);
            let mut b = BytesMut::new();
            OkPacket::parse(&payload, c).unwrap().encode(c, &mut b);
            assert_eq!(&b[..], &payload[..], "{name}");
        }
    }
}

#[test]
fn errors() {
    for (deprecate_eof, f) in sessions() {
        let Outcome::Err(e) = run(Command::Query, caps(deprecate_eof), f("syntax_error")) else {
            panic!("expected ERR");
        };
        assert_eq!((e.code, e.sql_state_str()), (1064, "42000"));
        let (_, payload) = packets(f("syntax_error")).remove(0);
        assert_eq!(
            ErrPacket::parse(&payload).unwrap().to_bytes()[..],
            payload[..]
        );
    }
}

#[test]
fn text_result_set_decodes() {
    for (deprecate_eof, f) in sessions() {
        let c = caps(deprecate_eof);
        assert!(ok_of(run(Command::Query, c, f("select_rows")))
            .status
            .contains(StatusFlags::AUTOCOMMIT));
        run(Command::Query, c, f("select_empty"));
        let pk = packets(f("select_rows"));
        let count = ColumnCount::parse(&pk[0].1, c).unwrap();
        assert_eq!(count.count, 2);
        let id = ColumnDefinition::parse(&pk[1].1, c).unwrap();
        let v = ColumnDefinition::parse(&pk[2].1, c).unwrap();
        assert_eq!(
            (id.name.as_str(), id.org_table.as_str(), id.schema.as_str()),
            ("id", "t", "shop")
        );
        assert_eq!(v.name, "v");
        for p in &pk[1..3] {
            let mut b = BytesMut::new();
            ColumnDefinition::parse(&p.1, c).unwrap().encode(c, &mut b);
            assert_eq!(&b[..], &p.1[..]);
        }
        let first_row = if deprecate_eof { 3 } else { 4 };
        let rows: Vec<_> = pk[first_row..first_row + 3]
            .iter()
            .map(|(_, p)| {
                parse_text_row(p, 2)
                    .unwrap()
                    .into_iter()
                    .map(|v| v.map(<[u8]>::to_vec))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            rows,
            [
                vec![Some(b"1".to_vec()), Some(b"a".to_vec())],
                vec![Some(b"2".to_vec()), Some(b"b".to_vec())],
                vec![Some(b"3".to_vec()), None],
            ]
        );
    }
}

#[test]
fn multi_results() {
    for (deprecate_eof, f) in sessions() {
        let c = caps(deprecate_eof);
        let ok = ok_of(run(Command::Query, c, f("call_multi")));
        assert!(!ok.status.contains(StatusFlags::MORE_RESULTS_EXISTS));
        run(Command::Query, c, f("multi_statement"));
    }
}

#[test]
fn field_list_and_statistics() {
    for (deprecate_eof, f) in sessions() {
        let c = caps(deprecate_eof);
        run(Command::FieldList, c, f("field_list"));
        let pk = packets(f("field_list"));
        let col = ColumnDefinition::parse(&pk[0].1, c).unwrap();
        assert_eq!(col.name, "id");
        assert!(col.default_values.is_some());
        assert_eq!(run(Command::Statistics, c, f("statistics")), Outcome::Text);
    }
}

#[test]
fn prepared_statements_and_cursors() {
    for (deprecate_eof, f) in sessions() {
        let c = caps(deprecate_eof);
        let Outcome::Prepared { ok, .. } = run(Command::StmtPrepare, c, f("stmt_prepare")) else {
            panic!("expected prepare OK");
        };
        assert_eq!((ok.num_params, ok.num_columns), (1, 2));
        run(Command::StmtExecute, c, f("stmt_execute"));
        let cursor = ok_of(run(Command::StmtExecute, c, f("stmt_execute_cursor")));
        assert!(cursor.status.contains(StatusFlags::CURSOR_EXISTS));
        let partial = ok_of(run(Command::StmtFetch, c, f("stmt_fetch_partial")));
        assert!(partial.status.contains(StatusFlags::CURSOR_EXISTS));
        assert!(!partial.status.contains(StatusFlags::LAST_ROW_SENT));
        let rest = ok_of(run(Command::StmtFetch, c, f("stmt_fetch_rest")));
        assert!(rest.status.contains(StatusFlags::LAST_ROW_SENT));
    }
}

#[test]
fn local_infile_round() {
    for (deprecate_eof, f) in sessions() {
        let c = caps(deprecate_eof);
        let mut rs = ResponseStream::new(Command::Query, c);
        let req = rs.scan(f("local_infile_request")).unwrap();
        assert_eq!(req.step, Step::LocalInfile);
        // The capture tool sent the file as seq 2 and the empty end packet as seq 3.
        let data = b"100,p\n101,q\n";
        rs.feed_client(
            PacketHeader {
                len: data.len() as u32,
                seq: 2,
            },
            data,
        )
        .unwrap();
        rs.feed_client(PacketHeader { len: 0, seq: 3 }, &[])
            .unwrap();
        let ans = rs.scan(f("local_infile_answer")).unwrap();
        let Step::Done(o) = ans.step else {
            panic!("{ans:?}")
        };
        let ok = ok_of(o);
        assert_eq!(ok.affected_rows, 2);
        assert!(ok.info.starts_with("Records: 2"));
    }
}

#[test]
fn every_fixture_survives_byte_by_byte_scanning() {
    // Feeding the recorded bytes one at a time must reach the same end.
    for (deprecate_eof, f) in sessions() {
        let c = caps(deprecate_eof);
        for (name, cmd) in [
            ("call_multi", Command::Query),
            ("stmt_prepare", Command::StmtPrepare),
        ] {
            let bytes = f(name);
            let mut rs = ResponseStream::new(cmd, c);
            let mut pending: Vec<u8> = Vec::new();
            let mut done_at = None;
            for (i, b) in bytes.iter().enumerate() {
                pending.push(*b);
                let s = rs.scan(&pending).unwrap();
                pending.drain(..s.consumed);
                if s.step.is_done() {
                    done_at = Some(i);
                }
            }
            assert_eq!(done_at, Some(bytes.len() - 1), "{name}");
        }
    }
}
