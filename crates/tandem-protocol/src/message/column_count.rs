//! Column count packet: the first packet of a result set. Under MariaDB's
//! `MARIADB_CLIENT_CACHE_METADATA` it carries a "metadata follows" byte; when that is 0 the
//! column definitions are skipped (the client reuses cached ones).

use bytes::{BufMut, BytesMut};

use crate::capabilities::Capabilities;
use crate::error::{ProtocolError, Result};
use crate::wire::{put_lenenc_int, Reader};

/// Column count packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnCount {
    /// Number of columns (non-zero).
    pub count: u64,
    /// Whether column definitions follow (always true without `MARIADB_CLIENT_CACHE_METADATA`).
    pub metadata_follows: bool,
}

impl ColumnCount {
    /// Parses the packet under the negotiated capabilities.
    pub fn parse(payload: &[u8], caps: Capabilities) -> Result<ColumnCount> {
        let mut r = Reader::new(payload, "column count");
        let count = r.lenenc_int()?;
        if count == 0 {
            return Err(ProtocolError::Malformed("column count of zero"));
        }
        let metadata_follows = if caps.contains(Capabilities::MARIADB_CLIENT_CACHE_METADATA) {
            r.u8()? != 0
        } else {
            true
        };
        r.finish()?;
        Ok(ColumnCount {
            count,
            metadata_follows,
        })
    }

    /// Encodes the packet.
    pub fn encode(&self, caps: Capabilities, dst: &mut BytesMut) {
        put_lenenc_int(dst, self.count);
        if caps.contains(Capabilities::MARIADB_CLIENT_CACHE_METADATA) {
            dst.put_u8(u8::from(self.metadata_follows));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for caps in [
            Capabilities::empty(),
            Capabilities::MARIADB_CLIENT_CACHE_METADATA,
        ] {
            for (count, follows) in [(1, true), (300, true), (2, false)] {
                let cc = ColumnCount {
                    count,
                    metadata_follows: follows || caps.is_empty(),
                };
                let mut b = BytesMut::new();
                cc.encode(caps, &mut b);
                assert_eq!(ColumnCount::parse(&b, caps).unwrap(), cc);
            }
        }
    }

    #[test]
    fn errors() {
        let none = Capabilities::empty();
        assert!(matches!(
            ColumnCount::parse(&[], none),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            ColumnCount::parse(&[0], none),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            ColumnCount::parse(&[1, 1], none),
            Err(ProtocolError::TrailingBytes { .. })
        ));
        assert!(matches!(
            ColumnCount::parse(&[1], Capabilities::MARIADB_CLIENT_CACHE_METADATA),
            Err(ProtocolError::Truncated { .. })
        ));
    }
}
