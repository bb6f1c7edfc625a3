//! COM_STMT_PREPARE_OK: the statement id and how many parameter and column definitions follow.
//! The proxy reads it to map the client's statement id onto the backend's.

use bytes::{BufMut, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::wire::Reader;

/// COM_STMT_PREPARE_OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StmtPrepareOk {
    /// Server-side statement id.
    pub statement_id: u32,
    /// Number of result columns.
    pub num_columns: u16,
    /// Number of `?` parameters.
    pub num_params: u16,
    /// Warning count.
    pub warnings: u16,
}

impl StmtPrepareOk {
    /// Parses the payload (12 bytes; the warning count is optional in very old servers).
    pub fn parse(payload: &[u8]) -> Result<StmtPrepareOk> {
        let mut r = Reader::new(payload, "COM_STMT_PREPARE_OK");
        if r.u8()? != 0 {
            return Err(ProtocolError::Malformed(
                "COM_STMT_PREPARE_OK header is not 0x00",
            ));
        }
        let statement_id = r.u32()?;
        let num_columns = r.u16()?;
        let num_params = r.u16()?;
        let mut warnings = 0;
        if !r.is_empty() {
            r.u8()?; // filler
            warnings = r.u16()?;
        }
        // MySQL 8 may append a metadata-follows byte (CLIENT_OPTIONAL_RESULTSET_METADATA).
        if r.remaining() > 1 {
            return Err(ProtocolError::TrailingBytes {
                what: "COM_STMT_PREPARE_OK",
                extra: r.remaining(),
            });
        }
        Ok(StmtPrepareOk {
            statement_id,
            num_columns,
            num_params,
            warnings,
        })
    }

    /// Encodes the 12-byte payload.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.put_u8(0);
        dst.put_u32_le(self.statement_id);
        dst.put_u16_le(self.num_columns);
        dst.put_u16_le(self.num_params);
        dst.put_u8(0);
        dst.put_u16_le(self.warnings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let ok = StmtPrepareOk {
            statement_id: 77,
            num_columns: 3,
            num_params: 2,
            warnings: 1,
        };
        let mut b = BytesMut::new();
        ok.encode(&mut b);
        assert_eq!(b.len(), 12);
        assert_eq!(StmtPrepareOk::parse(&b).unwrap(), ok);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            StmtPrepareOk::parse(&[]),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            StmtPrepareOk::parse(&[0, 1, 0, 0]),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            StmtPrepareOk::parse(&[1; 12]),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            StmtPrepareOk::parse(&[0; 14]),
            Err(ProtocolError::TrailingBytes { .. })
        ));
    }
}
