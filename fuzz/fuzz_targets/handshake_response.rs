//! HandshakeResponse41 (and the other connection-phase parsers) on arbitrary bytes: no panic, and
//! whatever parses re-encodes to something that parses to the same message.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tandem_protocol::{AuthSwitchRequest, Capabilities, ChangeUser, Handshake, HandshakeResponse, SslRequest};

fuzz_target!(|data: &[u8]| {
    if let Ok(resp) = HandshakeResponse::parse(data) {
        let mut b = BytesMut::new();
        if resp.encode(&mut b).is_ok() {
            let again = HandshakeResponse::parse(&b).expect("re-encoded response parses");
            assert_eq!(again, resp);
        }
    }
    if let Ok(hs) = Handshake::parse(data) {
        let mut b = BytesMut::new();
        hs.encode(&mut b);
        let _ = Handshake::parse(&b);
        let _ = hs.scramble();
    }
    // COM_CHANGE_USER carries the same fields; use the first byte's bits as the session caps.
    if let [c, rest @ ..] = data {
        let caps = Capabilities::from_bits_retain(u64::from(*c) << 15);
        if let Ok(cu) = ChangeUser::parse(rest, caps) {
            let mut b = BytesMut::new();
            if cu.encode(caps, &mut b).is_ok() {
                assert_eq!(ChangeUser::parse(&b, caps).expect("re-encoded change user parses"), cu);
            }
        }
    }
    let _ = SslRequest::parse(data);
    let _ = SslRequest::is_ssl_request(data);
    if let Ok(sw) = AuthSwitchRequest::parse(data) {
        let _ = sw.scramble();
    }
});
