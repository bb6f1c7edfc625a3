//! HandshakeResponse41: the client's answer to the handshake — capabilities, user, auth
//! response, optional database, plugin name and connect attributes.
//!
//! The proxy parses it from clients (to authenticate them itself) and builds it for backends
//! (see [`crate::client`]). Every optional part is governed by a capability bit the client set;
//! MariaDB clients put their extended capabilities in the last four of the 23 reserved bytes.

use bytes::{BufMut, BytesMut};

use crate::capabilities::Capabilities;
use crate::error::{ProtocolError, Result};
use crate::message::ssl_request::SslRequest;
use crate::wire::{
    put_connect_attrs, put_lenenc_bytes, put_nul_bytes, read_connect_attrs, utf8, Reader,
};

/// HandshakeResponse41.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HandshakeResponse {
    /// Client capabilities (MariaDB extended half included).
    pub capabilities: Capabilities,
    /// Largest packet the client wants to receive.
    pub max_packet_size: u32,
    /// Client collation id.
    pub charset: u8,
    /// User name.
    pub username: String,
    /// Plugin-specific auth response (20 bytes for mysql_native_password, empty for no password).
    pub auth_response: Vec<u8>,
    /// Initial schema (`None` when absent or empty).
    pub database: Option<String>,
    /// Auth plugin the response was computed with (`None` when absent or empty).
    pub auth_plugin_name: Option<String>,
    /// Connection attributes, in order.
    pub connect_attrs: Vec<(String, String)>,
    /// MySQL 8 zstd compression level, present iff `ZSTD_COMPRESSION_ALGORITHM`.
    pub zstd_compression_level: Option<u8>,
}

impl HandshakeResponse {
    /// Parses a HandshakeResponse41 payload.
    pub fn parse(payload: &[u8]) -> Result<HandshakeResponse> {
        let mut r = Reader::new(payload, "handshake response");
        let head = SslRequest::parse_prefix(&mut r)?;
        let caps = head.capabilities;
        if !caps.contains(Capabilities::PROTOCOL_41) {
            return Err(ProtocolError::Unsupported("pre-4.1 handshake response"));
        }
        let username = utf8(r.nul_bytes()?, "user name is not UTF-8")?;
        let auth_response = if caps.contains(Capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA) {
            r.lenenc_bytes()?
        } else if caps.contains(Capabilities::SECURE_CONNECTION) {
            let n = r.u8()?;
            r.take(usize::from(n))?
        } else {
            r.nul_bytes()?
        }
        .to_vec();
        let mut database = None;
        if caps.contains(Capabilities::CONNECT_WITH_DB) && !r.is_empty() {
            database = non_empty(utf8(r.nul_or_eof_bytes(), "database name is not UTF-8")?);
        }
        let mut auth_plugin_name = None;
        if caps.contains(Capabilities::PLUGIN_AUTH) && !r.is_empty() {
            auth_plugin_name =
                non_empty(utf8(r.nul_or_eof_bytes(), "auth plugin name is not UTF-8")?);
        }
        let mut connect_attrs = Vec::new();
        if caps.contains(Capabilities::CONNECT_ATTRS) && !r.is_empty() {
            connect_attrs = read_connect_attrs(&mut r)?;
        }
        let mut zstd_compression_level = None;
        if caps.contains(Capabilities::ZSTD_COMPRESSION_ALGORITHM) && !r.is_empty() {
            zstd_compression_level = Some(r.u8()?);
        }
        r.finish()?;
        Ok(HandshakeResponse {
            capabilities: caps,
            max_packet_size: head.max_packet_size,
            charset: head.charset,
            username,
            auth_response,
            database,
            auth_plugin_name,
            connect_attrs,
            zstd_compression_level,
        })
    }

    /// Encodes the response. Optional fields are written when their capability bit is set
    /// (empty when the field is `None`).
    ///
    /// Fails if the auth response is longer than 255 bytes without
    /// `PLUGIN_AUTH_LENENC_CLIENT_DATA`, or if `SECURE_CONNECTION` is missing too.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<()> {
        let caps = self.capabilities;
        SslRequest {
            capabilities: caps,
            max_packet_size: self.max_packet_size,
            charset: self.charset,
        }
        .encode(dst);
        put_nul_bytes(dst, self.username.as_bytes());
        if caps.contains(Capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA) {
            put_lenenc_bytes(dst, &self.auth_response);
        } else if caps.contains(Capabilities::SECURE_CONNECTION) {
            let n = u8::try_from(self.auth_response.len()).map_err(|_| {
                ProtocolError::Malformed(
                    "auth response over 255 bytes needs PLUGIN_AUTH_LENENC_CLIENT_DATA",
                )
            })?;
            dst.put_u8(n);
            dst.put_slice(&self.auth_response);
        } else {
            return Err(ProtocolError::Unsupported(
                "handshake response without SECURE_CONNECTION",
            ));
        }
        if caps.contains(Capabilities::CONNECT_WITH_DB) {
            put_nul_bytes(dst, self.database.as_deref().unwrap_or_default().as_bytes());
        }
        if caps.contains(Capabilities::PLUGIN_AUTH) {
            put_nul_bytes(
                dst,
                self.auth_plugin_name
                    .as_deref()
                    .unwrap_or_default()
                    .as_bytes(),
            );
        }
        if caps.contains(Capabilities::CONNECT_ATTRS) {
            put_connect_attrs(dst, &self.connect_attrs);
        }
        if let Some(level) = self.zstd_compression_level {
            if caps.contains(Capabilities::ZSTD_COMPRESSION_ALGORITHM) {
                dst.put_u8(level);
            }
        }
        Ok(())
    }

    /// Looks up a connect attribute (e.g. `_client_name`).
    pub fn connect_attr(&self, key: &str) -> Option<&str> {
        self.connect_attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HandshakeResponse {
        HandshakeResponse {
            capabilities: Capabilities::default_client() | Capabilities::CONNECT_WITH_DB,
            max_packet_size: 16 << 20,
            charset: 45,
            username: "app".into(),
            auth_response: (0..20).collect(),
            database: Some("shop".into()),
            auth_plugin_name: Some("mysql_native_password".into()),
            connect_attrs: vec![
                ("_client_name".into(), "tandem".into()),
                ("_pid".into(), "7".into()),
            ],
            zstd_compression_level: None,
        }
    }

    fn round_trip(hr: &HandshakeResponse) {
        let mut b = BytesMut::new();
        hr.encode(&mut b).unwrap();
        assert_eq!(&HandshakeResponse::parse(&b).unwrap(), hr);
    }

    #[test]
    fn round_trips() {
        let full = sample();
        round_trip(&full);
        assert_eq!(full.connect_attr("_client_name"), Some("tandem"));
        // MariaDB flavour with extended caps.
        let mut maria = sample();
        maria.capabilities = (maria.capabilities - Capabilities::LONG_PASSWORD)
            | Capabilities::MARIADB_CLIENT_PROGRESS;
        round_trip(&maria);
        // 1-byte auth length, no db, no plugin, no attrs, empty password.
        let minimal = HandshakeResponse {
            capabilities: Capabilities::PROTOCOL_41 | Capabilities::SECURE_CONNECTION,
            username: "u".into(),
            ..HandshakeResponse::default()
        };
        round_trip(&minimal);
        let mut zstd = sample();
        zstd.capabilities |= Capabilities::ZSTD_COMPRESSION_ALGORITHM;
        zstd.zstd_compression_level = Some(7);
        round_trip(&zstd);
    }

    /// cargo-fuzz `handshake_response` crash: ZSTD set but the payload ends before the level;
    /// re-encoding must not invent one.
    #[test]
    fn fuzz_regression_absent_zstd_level_stays_absent() {
        let crash: &[u8] = b"\x0a\x82\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x07\
            \x00\x00\x1d\x00\x00\xf3\x1d\x9d\x3d\xfe\x00\x31\x00\xff\xff\x00\
            \x00\x00\x00\x02\x2a\x0e";
        let resp = HandshakeResponse::parse(crash).unwrap();
        assert_eq!(resp.zstd_compression_level, None);
        let mut b = BytesMut::new();
        resp.encode(&mut b).unwrap();
        assert_eq!(HandshakeResponse::parse(&b).unwrap(), resp);
    }

    #[test]
    fn encode_errors() {
        let mut long = sample();
        long.capabilities -= Capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA;
        long.auth_response = vec![1; 256];
        assert!(matches!(
            long.encode(&mut BytesMut::new()),
            Err(ProtocolError::Malformed(_))
        ));
        long.capabilities -= Capabilities::SECURE_CONNECTION;
        assert!(matches!(
            long.encode(&mut BytesMut::new()),
            Err(ProtocolError::Unsupported(_))
        ));
    }

    #[test]
    fn parse_errors() {
        let mut b = BytesMut::new();
        sample().encode(&mut b).unwrap();
        for cut in [0, 3, 31, 32, 35, 40, b.len() - 1] {
            assert!(
                matches!(
                    HandshakeResponse::parse(&b[..cut]),
                    Err(ProtocolError::Truncated { .. })
                ),
                "cut {cut}"
            );
        }
        let mut trailing = b.clone();
        trailing.put_u8(0);
        assert!(matches!(
            HandshakeResponse::parse(&trailing),
            Err(ProtocolError::TrailingBytes { .. })
        ));
        let mut old = b.clone();
        old[1] &= !((Capabilities::PROTOCOL_41.bits() >> 8) as u8);
        assert!(matches!(
            HandshakeResponse::parse(&old),
            Err(ProtocolError::Unsupported(_))
        ));
        let mut bad_user = b.clone();
        bad_user[32] = 0xFF;
        assert!(matches!(
            HandshakeResponse::parse(&bad_user),
            Err(ProtocolError::Malformed(_))
        ));
    }
}
