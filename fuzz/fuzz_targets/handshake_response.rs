//! HandshakeResponse41 (and the other connection-phase parsers) on arbitrary bytes: no panic, and
//! whatever parses re-encodes to something that parses to the same message.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tandem_protocol::{AuthSwitchRequest, Handshake, HandshakeResponse, SslRequest};

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
    let _ = SslRequest::parse(data);
    let _ = SslRequest::is_ssl_request(data);
    if let Ok(sw) = AuthSwitchRequest::parse(data) {
        let _ = sw.scramble();
    }
});
