//! Physical framing: a 4-byte header (3-byte little-endian payload length, 1-byte sequence id)
//! followed by the payload.
//!
//! A payload of exactly [`MAX_PAYLOAD_LEN`] bytes means "continued in the next packet"; a logical
//! packet whose length is an exact multiple of it ends with an empty packet. Sequence ids count up
//! (wrapping) across every physical packet of one command/response exchange.
//!
//! Two views are offered. [`scan_packets`] walks a buffer of physical packets without copying or
//! joining them — the proxy's hot path, which forwards whole reads in one write and only needs to
//! know where packets end. [`crate::PacketCodec`] joins continuations into logical [`Packet`]s for
//! code that needs to parse messages.

use std::ops::ControlFlow;

use bytes::{BufMut, Bytes, BytesMut};

/// Largest payload one physical packet can carry; a payload this long is continued.
pub const MAX_PAYLOAD_LEN: usize = 0xFF_FFFF;

/// Size of the packet header.
pub const HEADER_LEN: usize = 4;

/// Header of one physical packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PacketHeader {
    /// Payload length of this physical packet (at most [`MAX_PAYLOAD_LEN`]).
    pub len: u32,
    /// Sequence id.
    pub seq: u8,
}

impl PacketHeader {
    /// Parses a header from the first four bytes of `b`; `None` if fewer than four bytes.
    #[inline]
    pub fn parse(b: &[u8]) -> Option<PacketHeader> {
        match b {
            [l0, l1, l2, seq, ..] => Some(PacketHeader {
                len: u32::from_le_bytes([*l0, *l1, *l2, 0]),
                seq: *seq,
            }),
            _ => None,
        }
    }

    /// Encodes the header. Lengths above [`MAX_PAYLOAD_LEN`] are truncated to 24 bits; callers
    /// split with [`write_packet`].
    #[inline]
    pub fn encode(&self) -> [u8; 4] {
        let [l0, l1, l2, _] = self.len.to_le_bytes();
        [l0, l1, l2, self.seq]
    }

    /// Payload length as `usize`.
    #[inline]
    pub const fn payload_len(&self) -> usize {
        self.len as usize
    }

    /// Whether this packet is continued by the next one.
    #[inline]
    pub const fn is_continued(&self) -> bool {
        self.len as usize == MAX_PAYLOAD_LEN
    }
}

/// A logical packet: the payloads of a run of continuation packets joined together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Sequence id of the first physical packet.
    pub seq: u8,
    /// The joined payload.
    pub payload: Bytes,
}

impl Packet {
    /// Creates a packet.
    pub fn new(seq: u8, payload: impl Into<Bytes>) -> Self {
        Self {
            seq,
            payload: payload.into(),
        }
    }

    /// Number of physical packets this logical packet occupies on the wire.
    pub const fn physical_packets(&self) -> usize {
        physical_packets(self.payload.len())
    }

    /// Sequence id that follows this packet (the reply's first sequence id).
    pub const fn next_seq(&self) -> u8 {
        // Truncation is the intended wrap-around of sequence ids.
        self.seq.wrapping_add(self.physical_packets() as u8)
    }
}

/// Number of physical packets needed for a logical payload of `len` bytes.
pub const fn physical_packets(len: usize) -> usize {
    len / MAX_PAYLOAD_LEN + 1
}

/// Bytes on the wire for a logical payload of `len` bytes (headers included).
pub const fn wire_len(len: usize) -> usize {
    len.saturating_add(physical_packets(len).saturating_mul(HEADER_LEN))
}

/// Appends `payload` to `dst` as one or more physical packets starting at sequence id `seq`;
/// returns the sequence id for the next packet.
///
/// Payloads of [`MAX_PAYLOAD_LEN`] bytes or more are split, and a payload whose length is an exact
/// multiple of it (including 0) ends with an empty packet, as the protocol requires.
pub fn write_packet(dst: &mut BytesMut, seq: u8, payload: &[u8]) -> u8 {
    dst.reserve(wire_len(payload.len()));
    let mut seq = seq;
    let mut chunks = payload.chunks(MAX_PAYLOAD_LEN);
    loop {
        let chunk = chunks.next().unwrap_or_default();
        let header = PacketHeader {
            // A chunk is at most MAX_PAYLOAD_LEN bytes, so this fits in 24 bits.
            len: chunk.len() as u32,
            seq,
        };
        dst.put_slice(&header.encode());
        dst.put_slice(chunk);
        seq = seq.wrapping_add(1);
        if chunk.len() < MAX_PAYLOAD_LEN {
            return seq;
        }
    }
}

/// Walks `buf` from the start, calling `f(header, payload)` for each *complete* physical packet,
/// and returns how many bytes those packets occupy.
///
/// Stops at the first incomplete packet or when `f` returns [`ControlFlow::Break`] (the packet
/// that `f` broke on is counted). Continuations are not joined: `payload` is the physical packet's
/// own payload. The returned length is exactly what can be forwarded as whole packets.
#[inline]
pub fn scan_packets(
    buf: &[u8],
    mut f: impl FnMut(PacketHeader, &[u8]) -> ControlFlow<()>,
) -> usize {
    let mut pos = 0usize;
    loop {
        let Some(rest) = buf.get(pos..) else {
            return pos;
        };
        let Some(header) = PacketHeader::parse(rest) else {
            return pos;
        };
        let end = HEADER_LEN + header.payload_len();
        let Some(payload) = rest.get(HEADER_LEN..end) else {
            return pos;
        };
        pos += end;
        if f(header, payload).is_break() {
            return pos;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn physical(buf: &[u8]) -> Vec<(PacketHeader, usize)> {
        let mut out = Vec::new();
        let n = scan_packets(buf, |h, p| {
            out.push((h, p.len()));
            ControlFlow::Continue(())
        });
        assert_eq!(n, buf.len());
        out
    }

    #[test]
    fn header_round_trip() {
        let h = PacketHeader {
            len: 0xABCDEF,
            seq: 7,
        };
        assert_eq!(h.encode(), [0xEF, 0xCD, 0xAB, 7]);
        assert_eq!(PacketHeader::parse(&h.encode()), Some(h));
        assert_eq!(PacketHeader::parse(&[1, 2, 3]), None);
        assert!(PacketHeader {
            len: 0xFF_FFFF,
            seq: 0
        }
        .is_continued());
    }

    #[test]
    fn write_packet_size_boundaries() {
        let cases: [(usize, &[usize]); 5] = [
            (0, &[0]),
            (MAX_PAYLOAD_LEN - 1, &[MAX_PAYLOAD_LEN - 1]),
            (MAX_PAYLOAD_LEN, &[MAX_PAYLOAD_LEN, 0]),
            (MAX_PAYLOAD_LEN + 1, &[MAX_PAYLOAD_LEN, 1]),
            (2 * MAX_PAYLOAD_LEN, &[MAX_PAYLOAD_LEN, MAX_PAYLOAD_LEN, 0]),
        ];
        for (len, expect) in cases {
            let payload = vec![0xA5u8; len];
            let mut dst = BytesMut::new();
            let next = write_packet(&mut dst, 250, &payload);
            assert_eq!(dst.len(), wire_len(len));
            let pkts = physical(&dst);
            let lens: Vec<usize> = pkts.iter().map(|(_, l)| *l).collect();
            assert_eq!(lens, expect, "len {len}");
            for (i, (h, _)) in pkts.iter().enumerate() {
                assert_eq!(h.seq, 250u8.wrapping_add(i as u8));
            }
            assert_eq!(next, 250u8.wrapping_add(expect.len() as u8));
            assert_eq!(Packet::new(250, payload).next_seq(), next);
        }
    }

    #[test]
    fn scan_stops_at_incomplete_and_on_break() {
        let mut buf = BytesMut::new();
        write_packet(&mut buf, 0, b"one");
        write_packet(&mut buf, 1, b"two");
        let whole = buf.len();
        buf.extend_from_slice(&[10, 0, 0, 2, b'x']); // header says 10, only 1 byte present
        assert_eq!(scan_packets(&buf, |_, _| ControlFlow::Continue(())), whole);
        assert_eq!(scan_packets(&buf[..3], |_, _| ControlFlow::Continue(())), 0);
        let mut seen = 0;
        let n = scan_packets(&buf, |_, _| {
            seen += 1;
            ControlFlow::Break(())
        });
        assert_eq!((n, seen), (7, 1));
    }
}
