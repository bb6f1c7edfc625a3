//! ERR packet: a failed command (code, SQLSTATE, message) — and MariaDB's progress reports,
//! which borrow the ERR header with code `0xFFFF`.
//!
//! The proxy also *writes* ERR packets for its own refusals (`ErrPacket::new(1045, "28000",
//! "Access denied ...")`), so encoding is as important as parsing.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::wire::{lossy, Reader};

/// ERR packet header byte.
pub const ERR_HEADER: u8 = 0xFF;
/// Error code MariaDB uses for progress-report packets.
pub const PROGRESS_REPORT_CODE: u16 = 0xFFFF;

/// A parsed ERR packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrPacket {
    /// MySQL error code (e.g. 1045).
    pub code: u16,
    /// Five-byte SQLSTATE (`HY000` when the server sent none).
    pub sql_state: [u8; 5],
    /// Human-readable message.
    pub message: String,
}

impl ErrPacket {
    /// Builds an error; `sql_state` is padded/truncated to five bytes.
    pub fn new(code: u16, sql_state: &str, message: impl Into<String>) -> Self {
        let mut state = *b"HY000";
        for (dst, src) in state.iter_mut().zip(sql_state.bytes()) {
            *dst = src;
        }
        Self {
            code,
            sql_state: state,
            message: message.into(),
        }
    }

    /// The SQLSTATE as text.
    pub fn sql_state_str(&self) -> &str {
        std::str::from_utf8(&self.sql_state).unwrap_or("HY000")
    }

    /// Whether `payload` is an ERR packet (header `0xFF`).
    pub fn is_err(payload: &[u8]) -> bool {
        payload.first() == Some(&ERR_HEADER)
    }

    /// Whether `payload` is a MariaDB progress report rather than an error.
    pub fn is_progress_report(payload: &[u8]) -> bool {
        matches!(payload, [ERR_HEADER, 0xFF, 0xFF, ..])
    }

    /// Parses an ERR payload. The `#SQLSTATE` marker is optional (servers omit it before the
    /// 4.1 handshake, e.g. "Too many connections" sent instead of a handshake).
    pub fn parse(payload: &[u8]) -> Result<ErrPacket> {
        let mut r = Reader::new(payload, "ERR packet");
        if r.u8()? != ERR_HEADER {
            return Err(ProtocolError::Malformed("ERR packet header is not 0xFF"));
        }
        let code = r.u16()?;
        if code == PROGRESS_REPORT_CODE {
            return Err(ProtocolError::Malformed("progress report is not an error"));
        }
        let sql_state = if r.peek_u8() == Some(b'#') {
            r.u8()?;
            r.array::<5>()?
        } else {
            *b"HY000"
        };
        Ok(ErrPacket {
            code,
            sql_state,
            message: lossy(r.rest()),
        })
    }

    /// Encodes in the 4.1 format (`#` + SQLSTATE).
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(9 + self.message.len());
        dst.put_u8(ERR_HEADER);
        dst.put_u16_le(self.code);
        dst.put_u8(b'#');
        dst.put_slice(&self.sql_state);
        dst.put_slice(self.message.as_bytes());
    }

    /// Convenience: encodes into a fresh buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.freeze()
    }
}

impl std::fmt::Display for ErrPacket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ERROR {} ({}): {}",
            self.code,
            self.sql_state_str(),
            self.message
        )
    }
}

impl From<ErrPacket> for ProtocolError {
    fn from(e: ErrPacket) -> Self {
        ProtocolError::Server {
            code: e.code,
            sql_state: e.sql_state_str().to_owned(),
            message: e.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let e = ErrPacket::new(1045, "28000", "Access denied for user 'x'@'h'");
        let b = e.to_bytes();
        assert_eq!(&b[..9], b"\xff\x15\x04#28000");
        assert_eq!(ErrPacket::parse(&b).unwrap(), e);
        assert_eq!(
            e.to_string(),
            "ERROR 1045 (28000): Access denied for user 'x'@'h'"
        );
        assert!(ErrPacket::is_err(&b));
    }

    #[test]
    fn without_sqlstate_marker() {
        let e = ErrPacket::parse(b"\xff\x10\x04Too many connections").unwrap();
        assert_eq!(e.code, 1040);
        assert_eq!(&e.sql_state, b"HY000");
        assert_eq!(e.message, "Too many connections");
    }

    #[test]
    fn short_state_is_padded() {
        assert_eq!(&ErrPacket::new(1, "08", "").sql_state, b"08000");
    }

    #[test]
    fn errors() {
        assert!(matches!(
            ErrPacket::parse(&[]),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            ErrPacket::parse(&[0xFF, 1]),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            ErrPacket::parse(&[0, 1, 2]),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            ErrPacket::parse(b"\xff\x01\x00#28"),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            ErrPacket::parse(&[0xFF, 0xFF, 0xFF, 1, 3]),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(ErrPacket::is_progress_report(&[0xFF, 0xFF, 0xFF, 1, 3]));
    }
}
