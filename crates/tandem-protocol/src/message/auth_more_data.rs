//! AuthMoreData (`0x01` + plugin data): extra round trips inside an auth plugin, e.g.
//! caching_sha2_password's "fast auth succeeded" (`0x03`) / "perform full authentication"
//! (`0x04`) and the RSA public key.

use bytes::{BufMut, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::wire::Reader;

/// AuthMoreData header byte.
pub const AUTH_MORE_DATA_HEADER: u8 = 0x01;

/// AuthMoreData.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthMoreData {
    /// Plugin data.
    pub data: Vec<u8>,
}

impl AuthMoreData {
    /// Parses the payload.
    pub fn parse(payload: &[u8]) -> Result<AuthMoreData> {
        let mut r = Reader::new(payload, "auth more data");
        if r.u8()? != AUTH_MORE_DATA_HEADER {
            return Err(ProtocolError::Malformed(
                "auth more data header is not 0x01",
            ));
        }
        Ok(AuthMoreData {
            data: r.rest().to_vec(),
        })
    }

    /// Encodes the payload.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.put_u8(AUTH_MORE_DATA_HEADER);
        dst.put_slice(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = AuthMoreData { data: vec![3] };
        let mut b = BytesMut::new();
        m.encode(&mut b);
        assert_eq!(&b[..], [1, 3]);
        assert_eq!(AuthMoreData::parse(&b).unwrap(), m);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            AuthMoreData::parse(&[]),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            AuthMoreData::parse(&[2, 3]),
            Err(ProtocolError::Malformed(_))
        ));
    }
}
