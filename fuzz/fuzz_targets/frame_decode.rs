//! Raw framing: arbitrary bytes through `PacketCodec` with arbitrary read chunking, checked
//! against a naive reference that joins continuations with `scan_packets`.

#![no_main]

use std::ops::ControlFlow;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tandem_protocol::{scan_packets, PacketCodec, ProtocolError};

/// Reference: logical payloads of the complete logical packets at the start of `wire`.
fn reference(wire: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    scan_packets(wire, |h, p| {
        cur.extend_from_slice(p);
        if !h.is_continued() {
            out.push(std::mem::take(&mut cur));
        }
        ControlFlow::Continue(())
    });
    out
}

fuzz_target!(|data: &[u8]| {
    let [a, b, c, wire @ ..] = data else { return };
    let max = usize::from(*a) << (usize::from(*b) % 25);
    let chunk = usize::from(*c).max(1);
    let check_seq = b & 0x80 != 0;

    let mut codec = PacketCodec::new(max).with_sequence_check(check_seq);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    let mut failed = false;
    'feed: for piece in wire.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode_packet(&mut buf) {
                Ok(Some(p)) => {
                    assert!(p.payload.len() <= max);
                    got.push(p.payload.to_vec());
                }
                Ok(None) => break,
                Err(ProtocolError::Oversize { len, max: m }) => {
                    assert!(len > m);
                    failed = true;
                    break 'feed;
                }
                Err(ProtocolError::PacketsOutOfSync { .. }) if check_seq => {
                    failed = true;
                    break 'feed;
                }
                Err(e) => panic!("unexpected error {e}"),
            }
        }
    }
    if !failed {
        // Everything decoded must equal the naive join, and what is left must be incomplete.
        assert_eq!(got, reference(wire));
        let _ = codec.decode_packet_eof(&mut buf);
    }
});
