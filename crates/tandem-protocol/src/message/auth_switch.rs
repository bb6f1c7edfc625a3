//! AuthSwitchRequest (server → client: "use this plugin, with this scramble") and its response
//! (client → server: the plugin's raw answer).
//!
//! Sent when the user's plugin differs from the one the client guessed in its handshake
//! response. The scramble usually carries a trailing NUL, which [`AuthSwitchRequest::scramble`]
//! strips.

use bytes::{BufMut, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::wire::{put_nul_bytes, utf8, Reader};

/// AuthSwitchRequest header byte (shared with EOF).
pub const AUTH_SWITCH_HEADER: u8 = 0xFE;

/// AuthSwitchRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSwitchRequest {
    /// Plugin to switch to, e.g. `mysql_native_password`.
    pub plugin: String,
    /// Plugin data as sent (for native password: 20-byte scramble + NUL).
    pub data: Vec<u8>,
}

impl AuthSwitchRequest {
    /// Parses the payload. A bare `0xFE` (the pre-4.1 "old password" switch) is unsupported.
    pub fn parse(payload: &[u8]) -> Result<AuthSwitchRequest> {
        let mut r = Reader::new(payload, "auth switch request");
        if r.u8()? != AUTH_SWITCH_HEADER {
            return Err(ProtocolError::Malformed("auth switch header is not 0xFE"));
        }
        if r.is_empty() {
            return Err(ProtocolError::Unsupported("old-password auth switch"));
        }
        let plugin = utf8(r.nul_bytes()?, "auth plugin name is not UTF-8")?;
        Ok(AuthSwitchRequest {
            plugin,
            data: r.rest().to_vec(),
        })
    }

    /// Encodes the payload.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.put_u8(AUTH_SWITCH_HEADER);
        put_nul_bytes(dst, self.plugin.as_bytes());
        dst.put_slice(&self.data);
    }

    /// The plugin data without its trailing NUL.
    pub fn scramble(&self) -> &[u8] {
        match self.data.split_last() {
            Some((0, head)) => head,
            _ => &self.data,
        }
    }
}

/// AuthSwitchResponse: the plugin's answer, sent raw as the whole payload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthSwitchResponse {
    /// Plugin-specific data.
    pub data: Vec<u8>,
}

impl AuthSwitchResponse {
    /// Any payload is a valid response.
    pub fn parse(payload: &[u8]) -> AuthSwitchResponse {
        AuthSwitchResponse {
            data: payload.to_vec(),
        }
    }

    /// Encodes the payload.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut data: Vec<u8> = (1..=20).collect();
        data.push(0);
        let req = AuthSwitchRequest {
            plugin: "mysql_native_password".into(),
            data,
        };
        let mut b = BytesMut::new();
        req.encode(&mut b);
        let back = AuthSwitchRequest::parse(&b).unwrap();
        assert_eq!(back, req);
        assert_eq!(back.scramble().len(), 20);
        let resp = AuthSwitchResponse { data: vec![9; 20] };
        let mut b = BytesMut::new();
        resp.encode(&mut b);
        assert_eq!(AuthSwitchResponse::parse(&b), resp);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            AuthSwitchRequest::parse(&[]),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            AuthSwitchRequest::parse(&[0xFE]),
            Err(ProtocolError::Unsupported(_))
        ));
        assert!(matches!(
            AuthSwitchRequest::parse(&[0x01, b'a']),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            AuthSwitchRequest::parse(b"\xfeabc"),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            AuthSwitchRequest::parse(b"\xfe\xff\0"),
            Err(ProtocolError::Malformed(_))
        ));
    }
}
