//! EOF packet (`0xFE`, warnings, status): ends column definitions and rows when
//! `CLIENT_DEPRECATE_EOF` is not negotiated, and answers COM_SET_OPTION / COM_DEBUG.

use bytes::{BufMut, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::message::ok::EOF_HEADER;
use crate::status::StatusFlags;
use crate::wire::Reader;

/// A `0xFE` packet shorter than this is an EOF packet, not a row (EOF is 5 bytes in 4.1, 1 before).
pub const EOF_MAX_LEN: usize = 9;

/// A parsed EOF packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EofPacket {
    /// Warning count.
    pub warnings: u16,
    /// Server status.
    pub status: StatusFlags,
}

impl EofPacket {
    /// Whether `payload` is an EOF packet (header `0xFE` and shorter than [`EOF_MAX_LEN`]).
    pub fn is_eof(payload: &[u8]) -> bool {
        payload.first() == Some(&EOF_HEADER) && payload.len() < EOF_MAX_LEN
    }

    /// Parses a 4.1 EOF payload; a bare pre-4.1 `0xFE` yields zeros.
    pub fn parse(payload: &[u8]) -> Result<EofPacket> {
        let mut r = Reader::new(payload, "EOF packet");
        if r.u8()? != EOF_HEADER {
            return Err(ProtocolError::Malformed("EOF packet header is not 0xFE"));
        }
        if r.is_empty() {
            return Ok(EofPacket::default());
        }
        let warnings = r.u16()?;
        let status = StatusFlags::from_bits_retain(r.u16()?);
        r.finish()?;
        Ok(EofPacket { warnings, status })
    }

    /// Encodes in the 4.1 format.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.put_u8(EOF_HEADER);
        dst.put_u16_le(self.warnings);
        dst.put_u16_le(self.status.bits());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let e = EofPacket {
            warnings: 3,
            status: StatusFlags::AUTOCOMMIT | StatusFlags::MORE_RESULTS_EXISTS,
        };
        let mut b = BytesMut::new();
        e.encode(&mut b);
        assert_eq!(&b[..], [0xFE, 3, 0, 10, 0]);
        assert!(EofPacket::is_eof(&b));
        assert_eq!(EofPacket::parse(&b).unwrap(), e);
        assert_eq!(EofPacket::parse(&[0xFE]).unwrap(), EofPacket::default());
    }

    #[test]
    fn errors() {
        assert!(matches!(
            EofPacket::parse(&[]),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            EofPacket::parse(&[0, 0, 0, 0, 0]),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            EofPacket::parse(&[0xFE, 0, 0, 0]),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            EofPacket::parse(&[0xFE, 0, 0, 0, 0, 1]),
            Err(ProtocolError::TrailingBytes { .. })
        ));
        assert!(!EofPacket::is_eof(&[0xFE; 9]));
    }
}
