//! [`PacketCodec`]: logical packets out of a byte stream, and back.
//!
//! Decoding is a small state machine in the style of `tokio_util::codec`: `Ok(None)` means "need
//! more bytes", an error means the stream is corrupt. The size limit is checked as soon as a
//! header is seen — before any payload is buffered — and a single-packet payload is handed out as
//! a zero-copy `Bytes` split off the read buffer. Only logical packets spanning continuations are
//! copied (into one contiguous buffer, bounded by the limit).
//!
//! The inherent [`PacketCodec::decode_packet`] / [`PacketCodec::encode_packet`] work without
//! tokio; the `codec` feature adds the `tokio_util` `Decoder`/`Encoder` impls on top.

use bytes::{Buf, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::framing::{wire_len, write_packet, Packet, PacketHeader, HEADER_LEN, MAX_PAYLOAD_LEN};

/// Default logical packet limit: 64 MiB (MariaDB's `max_allowed_packet` defaults to 16 MiB and
/// tops out at 1 GiB).
pub const DEFAULT_MAX_PACKET_LEN: usize = 64 * 1024 * 1024;

/// Frames MySQL packets; see the module docs.
#[derive(Debug)]
pub struct PacketCodec {
    max_packet_len: usize,
    check_seq: bool,
    next_seq: u8,
}

impl Default for PacketCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PACKET_LEN)
    }
}

impl PacketCodec {
    /// A codec that rejects logical packets longer than `max_packet_len`; sequence ids are not
    /// checked (see [`PacketCodec::with_sequence_check`]).
    pub fn new(max_packet_len: usize) -> Self {
        Self {
            max_packet_len,
            check_seq: false,
            next_seq: 0,
        }
    }

    /// Enables or disables checking that every decoded packet carries the expected sequence id.
    #[must_use]
    pub fn with_sequence_check(mut self, check: bool) -> Self {
        self.check_seq = check;
        self
    }

    /// The configured limit.
    pub const fn max_packet_len(&self) -> usize {
        self.max_packet_len
    }

    /// Sequence id expected for the next decoded packet, which is also the one the next encoded
    /// reply should carry.
    pub const fn next_seq(&self) -> u8 {
        self.next_seq
    }

    /// Sets the expected sequence id, e.g. `0` before reading a new command.
    pub fn set_next_seq(&mut self, seq: u8) {
        self.next_seq = seq;
    }

    /// Resets the sequence to 0 (start of a command exchange).
    pub fn reset_seq(&mut self) {
        self.next_seq = 0;
    }

    /// Decodes one logical packet from the front of `src`, or returns `Ok(None)` if `src` does not
    /// yet hold a complete one (the bytes stay in `src`).
    ///
    /// A logical packet made of continuations is left in `src` until all of its physical packets
    /// have arrived, then compacted in place (each continuation's payload moved over the header
    /// before it) and split off — so the first, largest chunk is never copied.
    pub fn decode_packet(&mut self, src: &mut BytesMut) -> Result<Option<Packet>> {
        let mut off = 0usize;
        let mut total = 0usize;
        let mut physical = 0usize;
        let mut expected = self.next_seq;
        let (last_seq, end) = loop {
            let Some(header) = src.get(off..).and_then(PacketHeader::parse) else {
                return Ok(None);
            };
            if self.check_seq && header.seq != expected {
                return Err(ProtocolError::PacketsOutOfSync {
                    expected,
                    got: header.seq,
                });
            }
            let len = header.payload_len();
            total = total.saturating_add(len);
            if total > self.max_packet_len {
                return Err(ProtocolError::Oversize {
                    len: total,
                    max: self.max_packet_len,
                });
            }
            physical += 1;
            let frame_end = off + HEADER_LEN + len;
            if src.len() < frame_end {
                reserve_for(src, frame_end);
                return Ok(None);
            }
            if !header.is_continued() {
                break (header.seq, frame_end);
            }
            off = frame_end;
            expected = header.seq.wrapping_add(1);
        };
        let first_seq = src.get(3).copied().unwrap_or(0);
        self.next_seq = last_seq.wrapping_add(1);
        if physical > 1 {
            compact_continuations(src, end);
        }
        let mut frame = src.split_to(end);
        frame.advance(HEADER_LEN);
        frame.truncate(total);
        Ok(Some(Packet::new(first_seq, frame.freeze())))
    }

    /// Called at end of stream: a clean end returns `Ok(None)`; leftover bytes (a partial packet
    /// or an unfinished run of continuations) are a truncation.
    pub fn decode_packet_eof(&mut self, src: &mut BytesMut) -> Result<Option<Packet>> {
        match self.decode_packet(src)? {
            Some(p) => Ok(Some(p)),
            None if src.is_empty() => Ok(None),
            None => Err(ProtocolError::truncated("packet at end of stream")),
        }
    }

    /// Encodes `payload` as one or more physical packets starting at `seq`, checking the limit;
    /// afterwards [`PacketCodec::next_seq`] is the sequence id after the last one.
    pub fn encode_packet(&mut self, seq: u8, payload: &[u8], dst: &mut BytesMut) -> Result<()> {
        if payload.len() > self.max_packet_len {
            return Err(ProtocolError::Oversize {
                len: payload.len(),
                max: self.max_packet_len,
            });
        }
        dst.reserve(wire_len(payload.len()));
        self.next_seq = write_packet(dst, seq, payload);
        Ok(())
    }

    /// Encodes `payload` with the codec's own running sequence id.
    pub fn encode_next(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<()> {
        self.encode_packet(self.next_seq, payload, dst)
    }
}

/// Smallest read-ahead reservation, and the growth step for buffers smaller than it.
const MIN_RESERVE: usize = 64 * 1024;

/// Makes room towards `needed` bytes without trusting the announced length: the buffer grows at
/// most geometrically (by what it already holds, or 64 KiB), so a peer has to actually send
/// bytes to make it large — a 4-byte header claiming 16 MiB reserves 64 KiB, not 16 MiB.
fn reserve_for(src: &mut BytesMut, needed: usize) {
    let missing = needed.saturating_sub(src.len());
    src.reserve(missing.min(src.len().max(MIN_RESERVE)));
}

/// Moves the payloads of the continuation packets in `src[..end]` left over the headers between
/// them, so that the logical payload is contiguous right after the first header.
fn compact_continuations(src: &mut [u8], end: usize) {
    let Some(first) = PacketHeader::parse(src) else {
        return;
    };
    let mut write = HEADER_LEN + first.payload_len();
    let mut read = write;
    while read < end {
        let Some(h) = src.get(read..).and_then(PacketHeader::parse) else {
            return;
        };
        let from = read + HEADER_LEN;
        let to = from + h.payload_len();
        if to > src.len() {
            return;
        }
        src.copy_within(from..to, write);
        write += h.payload_len();
        read = to;
    }
}

/// Largest number of bytes a single physical packet can occupy on the wire.
pub const MAX_PHYSICAL_PACKET: usize = HEADER_LEN + MAX_PAYLOAD_LEN;

#[cfg(feature = "codec")]
mod tokio_impls {
    use bytes::{Bytes, BytesMut};
    use tokio_util::codec::{Decoder, Encoder};

    use super::PacketCodec;
    use crate::error::ProtocolError;
    use crate::framing::Packet;

    impl Decoder for PacketCodec {
        type Item = Packet;
        type Error = ProtocolError;

        fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, ProtocolError> {
            self.decode_packet(src)
        }

        fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, ProtocolError> {
            self.decode_packet_eof(src)
        }
    }

    impl Encoder<Packet> for PacketCodec {
        type Error = ProtocolError;

        fn encode(&mut self, item: Packet, dst: &mut BytesMut) -> Result<(), ProtocolError> {
            self.encode_packet(item.seq, &item.payload, dst)
        }
    }

    impl Encoder<(u8, &[u8])> for PacketCodec {
        type Error = ProtocolError;

        fn encode(
            &mut self,
            (seq, payload): (u8, &[u8]),
            dst: &mut BytesMut,
        ) -> Result<(), ProtocolError> {
            self.encode_packet(seq, payload, dst)
        }
    }

    /// A bare payload is sent with the codec's running sequence id.
    impl Encoder<Bytes> for PacketCodec {
        type Error = ProtocolError;

        fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), ProtocolError> {
            self.encode_next(&payload, dst)
        }
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
