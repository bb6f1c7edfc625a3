//! Initial handshake (protocol v10), the server's first packet.
//!
//! It carries the server's capabilities and the 20-byte scramble (salt) that password plugins mix
//! into the client's response. MariaDB leaves capability bit 0 clear and puts its extended
//! capabilities in four of the ten reserved bytes; MySQL leaves them zero. A server that refuses
//! the connection outright (too many connections, blocked host) sends an ERR packet instead,
//! which [`Handshake::parse`] surfaces as [`ProtocolError::Server`].

use bytes::{BufMut, BytesMut};

use crate::capabilities::Capabilities;
use crate::error::{ProtocolError, Result};
use crate::message::err::ErrPacket;
use crate::status::StatusFlags;
use crate::wire::{lossy, put_nul_bytes, utf8, Reader};

/// The only handshake protocol version this crate speaks.
pub const PROTOCOL_VERSION: u8 = 10;

/// Initial handshake packet, v10.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// Always 10.
    pub protocol_version: u8,
    /// e.g. `5.5.5-10.11.6-MariaDB`.
    pub server_version: String,
    /// Server thread id (what `KILL` takes).
    pub connection_id: u32,
    /// The scramble, normally 20 bytes (trailing NUL removed).
    pub auth_plugin_data: Vec<u8>,
    /// Server capabilities (MariaDB extended half included).
    pub capabilities: Capabilities,
    /// Default collation id.
    pub charset: u8,
    /// Server status.
    pub status: StatusFlags,
    /// Default auth plugin, e.g. `mysql_native_password`.
    pub auth_plugin_name: String,
}

impl Handshake {
    /// Parses the server's first packet.
    pub fn parse(payload: &[u8]) -> Result<Handshake> {
        if ErrPacket::is_err(payload) {
            return Err(ErrPacket::parse(payload)?.into());
        }
        let mut r = Reader::new(payload, "handshake");
        let protocol_version = r.u8()?;
        if protocol_version != PROTOCOL_VERSION {
            return Err(ProtocolError::Unsupported(
                "handshake protocol version other than 10",
            ));
        }
        let server_version = lossy(r.nul_bytes()?);
        let connection_id = r.u32()?;
        let mut auth_plugin_data = r.take(8)?.to_vec();
        r.u8()?; // filler
        let caps_low = u32::from(r.u16()?);
        let mut hs = Handshake {
            protocol_version,
            server_version,
            connection_id,
            auth_plugin_data: Vec::new(),
            capabilities: Capabilities::from_bits_retain(u64::from(caps_low)),
            charset: 0,
            status: StatusFlags::empty(),
            auth_plugin_name: String::new(),
        };
        if r.is_empty() {
            hs.auth_plugin_data = auth_plugin_data;
            return Ok(hs);
        }
        hs.charset = r.u8()?;
        hs.status = StatusFlags::from_bits_retain(r.u16()?);
        let low = caps_low | u32::from(r.u16()?) << 16;
        let auth_data_len = usize::from(r.u8()?);
        r.take(6)?;
        let ext = r.u32()?;
        let mut caps = Capabilities::from_halves(low, 0);
        if caps.is_mariadb() {
            caps = Capabilities::from_halves(low, ext);
        }
        hs.capabilities = caps;
        if caps.contains(Capabilities::SECURE_CONNECTION) {
            let part2_len = auth_data_len.saturating_sub(8).max(13);
            auth_plugin_data.extend_from_slice(r.take(part2_len)?);
            if auth_plugin_data.last() == Some(&0) {
                auth_plugin_data.pop();
            }
        }
        hs.auth_plugin_data = auth_plugin_data;
        if caps.contains(Capabilities::PLUGIN_AUTH) {
            hs.auth_plugin_name = utf8(r.nul_or_eof_bytes(), "auth plugin name is not UTF-8")?;
        }
        r.finish()?;
        Ok(hs)
    }

    /// Encodes the handshake (as a proxy greeting its clients does).
    pub fn encode(&self, dst: &mut BytesMut) {
        let caps = self.capabilities;
        dst.put_u8(self.protocol_version);
        put_nul_bytes(dst, self.server_version.as_bytes());
        dst.put_u32_le(self.connection_id);
        let mut part1 = [0u8; 8];
        for (d, s) in part1.iter_mut().zip(&self.auth_plugin_data) {
            *d = *s;
        }
        dst.put_slice(&part1);
        dst.put_u8(0);
        let low = caps.low();
        dst.put_u16_le((low & 0xFFFF) as u16);
        dst.put_u8(self.charset);
        dst.put_u16_le(self.status.bits());
        dst.put_u16_le((low >> 16) as u16);
        let part2 = self.auth_plugin_data.get(8..).unwrap_or_default();
        if caps.contains(Capabilities::PLUGIN_AUTH) {
            // 8 + part 2 + NUL, saturating at the field's width.
            dst.put_u8(u8::try_from(part2.len() + 9).unwrap_or(u8::MAX));
        } else {
            dst.put_u8(0);
        }
        dst.put_slice(&[0; 6]);
        dst.put_u32_le(if caps.is_mariadb() { caps.high() } else { 0 });
        if caps.contains(Capabilities::SECURE_CONNECTION) {
            dst.put_slice(part2);
            // NUL-terminate, padding to the 13-byte minimum.
            for _ in part2.len()..13 {
                dst.put_u8(0);
            }
            if part2.len() >= 13 {
                dst.put_u8(0);
            }
        }
        if caps.contains(Capabilities::PLUGIN_AUTH) {
            put_nul_bytes(dst, self.auth_plugin_name.as_bytes());
        }
    }

    /// The scramble truncated to the 20 bytes password plugins use.
    pub fn scramble(&self) -> &[u8] {
        self.auth_plugin_data
            .get(..20)
            .unwrap_or(&self.auth_plugin_data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Handshake {
        Handshake {
            protocol_version: 10,
            server_version: "5.5.5-10.11.6-MariaDB".into(),
            connection_id: 42,
            auth_plugin_data: (1..=20).collect(),
            capabilities: (Capabilities::default_client() - Capabilities::LONG_PASSWORD)
                | Capabilities::MARIADB_CLIENT_CACHE_METADATA,
            charset: 45,
            status: StatusFlags::AUTOCOMMIT,
            auth_plugin_name: "mysql_native_password".into(),
        }
    }

    #[test]
    fn round_trip_mariadb_and_mysql() {
        let mut hs = sample();
        for caps in [hs.capabilities, Capabilities::default_client()] {
            hs.capabilities = caps;
            let mut b = BytesMut::new();
            hs.encode(&mut b);
            assert_eq!(Handshake::parse(&b).unwrap(), hs);
        }
    }

    #[test]
    fn mysql_ignores_reserved_bytes() {
        let mut hs = sample();
        hs.capabilities = Capabilities::default_client();
        let mut b = BytesMut::new();
        hs.encode(&mut b);
        // Poke junk into the reserved bytes a MySQL server would send as zero.
        let pos = 1 + hs.server_version.len() + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 6;
        b[pos] = 0xFF;
        assert_eq!(
            Handshake::parse(&b).unwrap().capabilities,
            Capabilities::default_client()
        );
    }

    #[test]
    fn err_instead_of_handshake() {
        let e = ErrPacket::new(1040, "08004", "Too many connections").to_bytes();
        assert!(matches!(
            Handshake::parse(&e),
            Err(ProtocolError::Server { code: 1040, .. })
        ));
    }

    #[test]
    fn errors() {
        let mut b = BytesMut::new();
        sample().encode(&mut b);
        for cut in [0, 1, 5, 20, 30, 40, b.len() - 30] {
            assert!(
                matches!(
                    Handshake::parse(&b[..cut]),
                    Err(ProtocolError::Truncated { .. })
                ),
                "cut {cut}"
            );
        }
        let mut v9 = b.clone();
        v9[0] = 9;
        assert!(matches!(
            Handshake::parse(&v9),
            Err(ProtocolError::Unsupported(_))
        ));
        let mut bad_name = b.clone();
        let n = bad_name.len();
        bad_name[n - 2] = 0xFF;
        assert!(matches!(
            Handshake::parse(&bad_name),
            Err(ProtocolError::Malformed(_))
        ));
    }
}
