//! OK packet: success of a command, with affected rows, last insert id, status flags, warnings,
//! info text and session-state changes.
//!
//! Under `CLIENT_DEPRECATE_EOF` the same layout with a `0xFE` header ends result sets; [`OkPacket::parse`]
//! accepts both headers (the caller decides, from context and length, whether a `0xFE` packet is
//! a terminator — see `crate::ResponseStream`).

use bytes::{BufMut, BytesMut};

use crate::capabilities::Capabilities;
use crate::error::{ProtocolError, Result};
use crate::message::session_state::SessionStateChange;
use crate::status::StatusFlags;
use crate::wire::{lossy, put_lenenc_bytes, put_lenenc_int, Reader};

/// OK packet header byte.
pub const OK_HEADER: u8 = 0x00;
/// EOF / OK-as-EOF header byte.
pub const EOF_HEADER: u8 = 0xFE;

/// A parsed OK packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OkPacket {
    /// Rows affected by the statement.
    pub affected_rows: u64,
    /// `LAST_INSERT_ID()` after the statement.
    pub last_insert_id: u64,
    /// Server status.
    pub status: StatusFlags,
    /// Warning count.
    pub warnings: u16,
    /// Human-readable info (e.g. `Rows matched: 1  Changed: 1  Warnings: 0`).
    pub info: String,
    /// Session state changes (empty unless `SESSION_STATE_CHANGED`).
    pub session_state_changes: Vec<SessionStateChange>,
}

impl OkPacket {
    /// An OK with just a status.
    pub fn with_status(status: StatusFlags) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    /// Parses an OK payload (header `0x00` or `0xFE`) under the negotiated capabilities.
    pub fn parse(payload: &[u8], caps: Capabilities) -> Result<OkPacket> {
        let mut r = Reader::new(payload, "OK packet");
        match r.u8()? {
            OK_HEADER | EOF_HEADER => {}
            _ => {
                return Err(ProtocolError::Malformed(
                    "OK packet header is not 0x00 or 0xFE",
                ))
            }
        }
        let affected_rows = r.lenenc_int()?;
        let last_insert_id = r.lenenc_int()?;
        let (status, warnings) = if caps.contains(Capabilities::PROTOCOL_41) {
            (StatusFlags::from_bits_retain(r.u16()?), r.u16()?)
        } else if caps.contains(Capabilities::TRANSACTIONS) {
            (StatusFlags::from_bits_retain(r.u16()?), 0)
        } else {
            (StatusFlags::empty(), 0)
        };
        let mut info = String::new();
        let mut session_state_changes = Vec::new();
        if caps.contains(Capabilities::SESSION_TRACK) {
            // The info string is omitted entirely when there is nothing after the counters.
            if !r.is_empty() {
                info = lossy(r.lenenc_bytes()?);
            }
            if status.contains(StatusFlags::SESSION_STATE_CHANGED) && !r.is_empty() {
                session_state_changes = SessionStateChange::parse_all(r.lenenc_bytes()?)?;
            }
            r.finish()?;
        } else if !r.is_empty() {
            // Documented as string<EOF>, but MySQL's and MariaDB's `net_send_ok` write a
            // length-encoded string; accept the documented form when the prefix does not fit.
            let mut lenenc = r;
            info = match lenenc.lenenc_bytes() {
                Ok(s) if lenenc.is_empty() => lossy(s),
                _ => lossy(r.rest()),
            };
        }
        Ok(OkPacket {
            affected_rows,
            last_insert_id,
            status,
            warnings,
            info,
            session_state_changes,
        })
    }

    /// Encodes with a `0x00` header.
    pub fn encode(&self, caps: Capabilities, dst: &mut BytesMut) {
        self.encode_with_header(OK_HEADER, caps, dst);
    }

    /// Encodes with a `0xFE` header (result-set terminator under `CLIENT_DEPRECATE_EOF`).
    pub fn encode_as_eof(&self, caps: Capabilities, dst: &mut BytesMut) {
        self.encode_with_header(EOF_HEADER, caps, dst);
    }

    fn encode_with_header(&self, header: u8, caps: Capabilities, dst: &mut BytesMut) {
        dst.put_u8(header);
        put_lenenc_int(dst, self.affected_rows);
        put_lenenc_int(dst, self.last_insert_id);
        let mut status = self.status;
        if caps.contains(Capabilities::PROTOCOL_41) {
            status.set(
                StatusFlags::SESSION_STATE_CHANGED,
                !self.session_state_changes.is_empty()
                    && caps.contains(Capabilities::SESSION_TRACK),
            );
            dst.put_u16_le(status.bits());
            dst.put_u16_le(self.warnings);
        } else if caps.contains(Capabilities::TRANSACTIONS) {
            dst.put_u16_le(status.bits());
        }
        if caps.contains(Capabilities::SESSION_TRACK) {
            let has_state = status.contains(StatusFlags::SESSION_STATE_CHANGED);
            if !self.info.is_empty() || has_state {
                put_lenenc_bytes(dst, self.info.as_bytes());
            }
            if has_state {
                let mut block = BytesMut::new();
                SessionStateChange::encode_all(&self.session_state_changes, &mut block);
                put_lenenc_bytes(dst, &block);
            }
        } else if !self.info.is_empty() {
            put_lenenc_bytes(dst, self.info.as_bytes());
        }
    }

    /// Convenience: encodes into a fresh buffer.
    pub fn to_bytes(&self, caps: Capabilities) -> bytes::Bytes {
        let mut b = BytesMut::new();
        self.encode(caps, &mut b);
        b.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: Capabilities = Capabilities::PROTOCOL_41
        .union(Capabilities::TRANSACTIONS)
        .union(Capabilities::SESSION_TRACK);

    #[test]
    fn round_trip() {
        let ok = OkPacket {
            affected_rows: 300,
            last_insert_id: 0x1_0000_0000,
            status: StatusFlags::AUTOCOMMIT
                | StatusFlags::IN_TRANS
                | StatusFlags::SESSION_STATE_CHANGED,
            warnings: 2,
            info: "Rows matched: 1".into(),
            session_state_changes: vec![SessionStateChange::Schema("db".into())],
        };
        for caps in [CAPS, CAPS - Capabilities::SESSION_TRACK] {
            let mut expect = ok.clone();
            if !caps.contains(Capabilities::SESSION_TRACK) {
                expect.session_state_changes.clear();
                expect.status -= StatusFlags::SESSION_STATE_CHANGED;
            }
            let b = expect.to_bytes(caps);
            assert_eq!(OkPacket::parse(&b, caps).unwrap(), expect);
            let mut e = BytesMut::new();
            expect.encode_as_eof(caps, &mut e);
            assert_eq!(e[0], EOF_HEADER);
            assert_eq!(OkPacket::parse(&e, caps).unwrap(), expect);
        }
    }

    #[test]
    fn minimal_ok_without_info() {
        // The 7-byte OK MariaDB sends after e.g. `SET autocommit=1`.
        let ok = OkPacket::parse(&[0, 0, 0, 2, 0, 0, 0], CAPS).unwrap();
        assert_eq!(ok.status, StatusFlags::AUTOCOMMIT);
        assert!(ok.info.is_empty());
        assert_eq!(
            OkPacket::with_status(StatusFlags::AUTOCOMMIT).to_bytes(CAPS)[..],
            [0, 0, 0, 2, 0, 0, 0]
        );
    }

    #[test]
    fn info_without_session_track() {
        let caps = Capabilities::PROTOCOL_41;
        // Length-encoded, as servers really send it.
        let ok = OkPacket::parse(b"\x00\x01\x00\x02\x00\x00\x00\x03abc", caps).unwrap();
        assert_eq!(ok.info, "abc");
        // The documented string<EOF> form.
        let ok = OkPacket::parse(b"\x00\x01\x00\x02\x00\x00\x00Rows matched", caps).unwrap();
        assert_eq!(ok.info, "Rows matched");
    }

    #[test]
    fn errors() {
        assert!(matches!(
            OkPacket::parse(&[], CAPS),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            OkPacket::parse(&[0xFF, 0, 0], CAPS),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            OkPacket::parse(&[0, 0, 0, 2], CAPS),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            OkPacket::parse(&[0, 0xFB, 0, 2, 0, 0, 0], CAPS),
            Err(ProtocolError::Malformed(_))
        ));
        // info length beyond the payload
        assert!(matches!(
            OkPacket::parse(&[0, 0, 0, 2, 0, 0, 0, 9, b'a'], CAPS),
            Err(ProtocolError::Truncated { .. })
        ));
        // junk after the session-state block
        let mut b = BytesMut::new();
        OkPacket {
            status: StatusFlags::SESSION_STATE_CHANGED,
            session_state_changes: vec![SessionStateChange::StateChanged(true)],
            ..OkPacket::default()
        }
        .encode(CAPS, &mut b);
        b.put_u8(1);
        assert!(matches!(
            OkPacket::parse(&b, CAPS),
            Err(ProtocolError::TrailingBytes { .. })
        ));
    }
}
