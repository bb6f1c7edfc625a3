//! SSLRequest: the 32-byte prefix of a HandshakeResponse41 with `CLIENT_SSL` set, sent in clear
//! before the TLS handshake; the real response follows over TLS.

use bytes::{BufMut, BytesMut};

use crate::capabilities::Capabilities;
use crate::error::Result;
use crate::wire::Reader;

/// Length of an SSLRequest payload.
pub const SSL_REQUEST_LEN: usize = 32;

/// SSLRequest (also the fixed head of every HandshakeResponse41).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SslRequest {
    /// Client capabilities; must contain `SSL`.
    pub capabilities: Capabilities,
    /// Largest packet the client wants to receive.
    pub max_packet_size: u32,
    /// Client collation id.
    pub charset: u8,
}

impl SslRequest {
    /// Whether a client's first packet is an SSLRequest rather than a full response.
    pub fn is_ssl_request(payload: &[u8]) -> bool {
        payload.len() == SSL_REQUEST_LEN
            && matches!(payload.get(1), Some(b) if b & ((Capabilities::SSL.bits() >> 8) as u8) != 0)
    }

    /// Parses an SSLRequest payload (exactly 32 bytes).
    pub fn parse(payload: &[u8]) -> Result<SslRequest> {
        let mut r = Reader::new(payload, "SSL request");
        let req = Self::parse_prefix(&mut r)?;
        r.finish()?;
        Ok(req)
    }

    /// Parses the 32-byte head shared with HandshakeResponse41.
    pub(crate) fn parse_prefix(r: &mut Reader<'_>) -> Result<SslRequest> {
        let low = r.u32()?;
        let max_packet_size = r.u32()?;
        let charset = r.u8()?;
        r.take(19)?;
        let ext = r.u32()?;
        let mut capabilities = Capabilities::from_halves(low, 0);
        if capabilities.is_mariadb() {
            capabilities = Capabilities::from_halves(low, ext);
        }
        Ok(SslRequest {
            capabilities,
            max_packet_size,
            charset,
        })
    }

    /// Encodes the 32 bytes.
    pub fn encode(&self, dst: &mut BytesMut) {
        let caps = self.capabilities;
        dst.put_u32_le(caps.low());
        dst.put_u32_le(self.max_packet_size);
        dst.put_u8(self.charset);
        dst.put_slice(&[0; 19]);
        dst.put_u32_le(if caps.is_mariadb() { caps.high() } else { 0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;

    #[test]
    fn round_trip() {
        let req = SslRequest {
            capabilities: Capabilities::PROTOCOL_41
                | Capabilities::SSL
                | Capabilities::MARIADB_CLIENT_PROGRESS,
            max_packet_size: 1 << 24,
            charset: 33,
        };
        let mut b = BytesMut::new();
        req.encode(&mut b);
        assert_eq!(b.len(), SSL_REQUEST_LEN);
        assert!(SslRequest::is_ssl_request(&b));
        assert_eq!(SslRequest::parse(&b).unwrap(), req);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            SslRequest::parse(&[0; 31]),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            SslRequest::parse(&[0; 33]),
            Err(ProtocolError::TrailingBytes { .. })
        ));
        assert!(!SslRequest::is_ssl_request(&[0; 32]));
    }
}
