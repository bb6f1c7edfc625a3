//! Scripted, fragmented-input tests for [`PacketCodec`].

use bytes::BytesMut;

use super::*;
use crate::framing::write_packet;

const BOUNDARIES: [usize; 5] = [
    0,
    MAX_PAYLOAD_LEN - 1,
    MAX_PAYLOAD_LEN,
    MAX_PAYLOAD_LEN + 1,
    2 * MAX_PAYLOAD_LEN,
];

fn wire(seq: u8, payload: &[u8]) -> BytesMut {
    let mut b = BytesMut::new();
    write_packet(&mut b, seq, payload);
    b
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn size_boundaries_round_trip() {
    for len in BOUNDARIES {
        let payload = pattern(len);
        let mut codec = PacketCodec::new(usize::MAX).with_sequence_check(true);
        let mut out = BytesMut::new();
        codec.encode_packet(0, &payload, &mut out).unwrap();
        let after_encode = codec.next_seq();
        codec.reset_seq();
        let p = codec.decode_packet(&mut out).unwrap().unwrap();
        assert_eq!(p.seq, 0);
        assert_eq!(p.payload.len(), len);
        assert!(p.payload[..] == payload[..], "len {len}");
        assert!(out.is_empty());
        assert_eq!(codec.next_seq(), after_encode);
        assert_eq!(p.next_seq(), after_encode);
        assert!(codec.decode_packet(&mut out).unwrap().is_none());
    }
}

#[test]
fn fed_byte_by_byte() {
    let mut stream = wire(0, b"hello");
    stream.extend_from_slice(&wire(1, b""));
    stream.extend_from_slice(&wire(2, &pattern(300)));
    let mut codec = PacketCodec::default().with_sequence_check(true);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for b in stream.iter() {
        buf.extend_from_slice(&[*b]);
        while let Some(p) = codec.decode_packet(&mut buf).unwrap() {
            got.push(p);
        }
    }
    assert_eq!(got.len(), 3);
    assert_eq!(&got[0].payload[..], b"hello");
    assert!(got[1].payload.is_empty());
    assert_eq!(got[2].payload[..], pattern(300)[..]);
    assert_eq!(got.iter().map(|p| p.seq).collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn continuation_fed_in_chunks_joins() {
    let payload = pattern(MAX_PAYLOAD_LEN + 10);
    let stream = wire(5, &payload);
    let mut codec = PacketCodec::default().with_sequence_check(true);
    codec.set_next_seq(5);
    let mut buf = BytesMut::new();
    let mut got = None;
    for chunk in stream.chunks(1 << 20) {
        assert!(got.is_none());
        buf.extend_from_slice(chunk);
        got = codec.decode_packet(&mut buf).unwrap();
    }
    let p = got.unwrap();
    assert_eq!(p.seq, 5);
    assert!(p.payload[..] == payload[..]);
    assert_eq!(codec.next_seq(), 7);
}

#[test]
fn continuation_payload_is_compacted_in_place() {
    let payload = pattern(2 * MAX_PAYLOAD_LEN + 3);
    let mut buf = wire(0, &payload);
    let base = buf.as_ptr() as usize;
    let p = PacketCodec::default()
        .decode_packet(&mut buf)
        .unwrap()
        .unwrap();
    assert_eq!(p.payload.as_ptr() as usize, base + HEADER_LEN);
    assert!(p.payload[..] == payload[..]);
    assert!(buf.is_empty());
}

#[test]
fn sequence_checked_across_continuations() {
    let mut buf = wire(0, &pattern(MAX_PAYLOAD_LEN + 1));
    buf[HEADER_LEN + MAX_PAYLOAD_LEN + 3] = 9; // second physical packet's sequence id
    let mut codec = PacketCodec::default().with_sequence_check(true);
    assert!(matches!(
        codec.decode_packet(&mut buf),
        Err(ProtocolError::PacketsOutOfSync {
            expected: 1,
            got: 9
        })
    ));
}

#[test]
fn single_packet_payload_is_not_copied() {
    let mut buf = wire(0, b"abcdef");
    let base = buf.as_ptr() as usize;
    let p = PacketCodec::default()
        .decode_packet(&mut buf)
        .unwrap()
        .unwrap();
    assert_eq!(p.payload.as_ptr() as usize, base + HEADER_LEN);
}

#[test]
fn oversize_is_rejected_before_buffering() {
    let mut codec = PacketCodec::new(100);
    // Only the header is present: the error must come without waiting for the payload.
    let mut buf = BytesMut::from(&[101u8, 0, 0, 0][..]);
    assert!(matches!(
        codec.decode_packet(&mut buf),
        Err(ProtocolError::Oversize { len: 101, max: 100 })
    ));
    let mut ok = wire(0, &[0; 100]);
    assert!(PacketCodec::new(100)
        .decode_packet(&mut ok)
        .unwrap()
        .is_some());
}

#[test]
fn announced_length_does_not_size_the_buffer() {
    let mut codec = PacketCodec::new(usize::MAX);
    let mut buf = BytesMut::from(&[0xFF, 0xFF, 0xFF, 0][..]);
    assert!(codec.decode_packet(&mut buf).unwrap().is_none());
    assert!(
        buf.capacity() <= 4 + 64 * 1024,
        "capacity {}",
        buf.capacity()
    );
}

#[test]
fn oversize_accumulated_over_continuations() {
    let mut codec = PacketCodec::new(MAX_PAYLOAD_LEN + 5);
    let mut buf = wire(0, &pattern(MAX_PAYLOAD_LEN + 6));
    assert!(matches!(
        codec.decode_packet(&mut buf),
        Err(ProtocolError::Oversize { len, max }) if len == MAX_PAYLOAD_LEN + 6 && max == MAX_PAYLOAD_LEN + 5
    ));
}

#[test]
fn encode_oversize_is_rejected() {
    let mut codec = PacketCodec::new(3);
    let mut dst = BytesMut::new();
    assert!(matches!(
        codec.encode_packet(0, b"abcd", &mut dst),
        Err(ProtocolError::Oversize { len: 4, max: 3 })
    ));
    assert!(dst.is_empty());
}

#[test]
fn sequence_mismatch_is_typed() {
    let mut codec = PacketCodec::default().with_sequence_check(true);
    let mut buf = wire(3, b"x");
    assert!(matches!(
        codec.decode_packet(&mut buf),
        Err(ProtocolError::PacketsOutOfSync {
            expected: 0,
            got: 3
        })
    ));
    // Without checking, any sequence id is accepted and tracked.
    let mut codec = PacketCodec::default();
    let mut buf = wire(3, b"x");
    assert_eq!(codec.decode_packet(&mut buf).unwrap().unwrap().seq, 3);
    assert_eq!(codec.next_seq(), 4);
}

#[test]
fn eof_with_leftover_is_truncation() {
    let mut codec = PacketCodec::default();
    let mut buf = BytesMut::from(&[5u8, 0, 0, 0, b'a'][..]);
    assert!(matches!(
        codec.decode_packet_eof(&mut buf),
        Err(ProtocolError::Truncated { .. })
    ));
    assert!(codec
        .decode_packet_eof(&mut BytesMut::new())
        .unwrap()
        .is_none());
    // A half-joined logical packet at EOF is also a truncation.
    let mut codec = PacketCodec::default();
    let mut buf = wire(0, &pattern(MAX_PAYLOAD_LEN + 1));
    buf.truncate(HEADER_LEN + MAX_PAYLOAD_LEN);
    assert!(codec.decode_packet(&mut buf).unwrap().is_none());
    assert!(matches!(
        codec.decode_packet_eof(&mut buf),
        Err(ProtocolError::Truncated { .. })
    ));
}

#[cfg(feature = "codec")]
#[test]
fn tokio_util_traits_frame_a_stream() {
    use tokio_util::codec::{Decoder, Encoder};
    let mut codec = PacketCodec::default();
    let mut dst = BytesMut::new();
    Encoder::<Packet>::encode(&mut codec, Packet::new(0, &b"abc"[..]), &mut dst).unwrap();
    Encoder::<(u8, &[u8])>::encode(&mut codec, (1, &b"de"[..]), &mut dst).unwrap();
    Encoder::<bytes::Bytes>::encode(&mut codec, bytes::Bytes::from_static(b"f"), &mut dst).unwrap();
    let mut dec = PacketCodec::default().with_sequence_check(true);
    let a = dec.decode(&mut dst).unwrap().unwrap();
    let b = dec.decode(&mut dst).unwrap().unwrap();
    let c = dec.decode_eof(&mut dst).unwrap().unwrap();
    assert_eq!(
        (&a.payload[..], &b.payload[..], &c.payload[..]),
        (&b"abc"[..], &b"de"[..], &b"f"[..])
    );
    assert_eq!(c.seq, 2);
    assert!(dec.decode_eof(&mut dst).unwrap().is_none());
}
