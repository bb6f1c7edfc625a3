//! COM_CHANGE_USER: re-authenticate an open connection as another user (and reset its session).
//!
//! A proxy cannot relay this blindly — the backend connection belongs to the proxy's pool and the
//! proxy authenticates clients itself — so it parses the request, authenticates the new user, and
//! answers or replays it on its own terms.

use bytes::{BufMut, BytesMut};

use crate::capabilities::Capabilities;
use crate::error::{ProtocolError, Result};
use crate::message::command::Command;
use crate::wire::{put_connect_attrs, put_nul_bytes, read_connect_attrs, utf8, Reader};

/// COM_CHANGE_USER request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeUser {
    /// New user.
    pub username: String,
    /// Auth response computed with the connection's current scramble.
    pub auth_response: Vec<u8>,
    /// New default schema (`None` if empty).
    pub database: Option<String>,
    /// Collation id, when sent.
    pub charset: Option<u16>,
    /// Plugin the response was computed with, when sent.
    pub auth_plugin_name: Option<String>,
    /// Connection attributes, when sent.
    pub connect_attrs: Vec<(String, String)>,
}

impl ChangeUser {
    /// Parses a COM_CHANGE_USER payload (command byte included) under the session's
    /// capabilities.
    pub fn parse(payload: &[u8], caps: Capabilities) -> Result<ChangeUser> {
        let mut r = Reader::new(payload, "COM_CHANGE_USER");
        if r.u8()? != Command::ChangeUser.as_u8() {
            return Err(ProtocolError::Malformed("not a COM_CHANGE_USER packet"));
        }
        let username = utf8(r.nul_bytes()?, "user name is not UTF-8")?;
        let auth_response = if caps.contains(Capabilities::SECURE_CONNECTION) {
            let n = r.u8()?;
            r.take(usize::from(n))?
        } else {
            r.nul_bytes()?
        }
        .to_vec();
        let database = utf8(r.nul_bytes()?, "database name is not UTF-8")?;
        let mut out = ChangeUser {
            username,
            auth_response,
            database: (!database.is_empty()).then_some(database),
            ..ChangeUser::default()
        };
        if r.is_empty() {
            return Ok(out);
        }
        out.charset = Some(r.u16()?);
        if caps.contains(Capabilities::PLUGIN_AUTH) && !r.is_empty() {
            let name = utf8(r.nul_or_eof_bytes(), "auth plugin name is not UTF-8")?;
            out.auth_plugin_name = (!name.is_empty()).then_some(name);
        }
        if caps.contains(Capabilities::CONNECT_ATTRS) && !r.is_empty() {
            out.connect_attrs = read_connect_attrs(&mut r)?;
        }
        r.finish()?;
        Ok(out)
    }

    /// Encodes the request (command byte included). The charset, plugin and attributes are
    /// written when `charset` is set, in the order the protocol requires.
    pub fn encode(&self, caps: Capabilities, dst: &mut BytesMut) -> Result<()> {
        dst.put_u8(Command::ChangeUser.as_u8());
        put_nul_bytes(dst, self.username.as_bytes());
        if caps.contains(Capabilities::SECURE_CONNECTION) {
            let n = u8::try_from(self.auth_response.len()).map_err(|_| {
                ProtocolError::Malformed("COM_CHANGE_USER auth response over 255 bytes")
            })?;
            dst.put_u8(n);
            dst.put_slice(&self.auth_response);
        } else {
            put_nul_bytes(dst, &self.auth_response);
        }
        put_nul_bytes(dst, self.database.as_deref().unwrap_or_default().as_bytes());
        let Some(charset) = self.charset else {
            return Ok(());
        };
        dst.put_u16_le(charset);
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: Capabilities = Capabilities::PROTOCOL_41
        .union(Capabilities::SECURE_CONNECTION)
        .union(Capabilities::PLUGIN_AUTH)
        .union(Capabilities::CONNECT_ATTRS);

    #[test]
    fn round_trips() {
        let full = ChangeUser {
            username: "app".into(),
            auth_response: vec![7; 20],
            database: Some("shop".into()),
            charset: Some(45),
            auth_plugin_name: Some("mysql_native_password".into()),
            connect_attrs: vec![("_client_name".into(), "x".into())],
        };
        let minimal = ChangeUser {
            username: "u".into(),
            ..ChangeUser::default()
        };
        for cu in [full, minimal] {
            let mut b = BytesMut::new();
            cu.encode(CAPS, &mut b).unwrap();
            assert_eq!(ChangeUser::parse(&b, CAPS).unwrap(), cu);
        }
    }

    #[test]
    fn errors() {
        assert!(matches!(
            ChangeUser::parse(&[], CAPS),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            ChangeUser::parse(b"\x03u\0", CAPS),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            ChangeUser::parse(b"\x11u\0\x05ab", CAPS),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            ChangeUser::parse(b"\x11u\0\x00db", CAPS),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            ChangeUser::parse(b"\x11u\0\x00\0\x2d", CAPS),
            Err(ProtocolError::Truncated { .. })
        ));
        let long = ChangeUser {
            auth_response: vec![0; 256],
            ..ChangeUser::default()
        };
        assert!(matches!(
            long.encode(CAPS, &mut BytesMut::new()),
            Err(ProtocolError::Malformed(_))
        ));
    }
}
