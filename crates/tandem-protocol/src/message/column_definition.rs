//! Column definition (ColumnDefinition41): one per result-set column, per prepared-statement
//! parameter, and per COM_FIELD_LIST field.
//!
//! The proxy forwards these untouched; it parses them only in tests, fakes and the monitor.
//! MariaDB's `MARIADB_CLIENT_EXTENDED_METADATA` inserts typed key/value pairs (e.g. `json`,
//! `uuid`) before the fixed-length block; COM_FIELD_LIST appends default values after it.

use bytes::{BufMut, BytesMut};

use crate::capabilities::Capabilities;
use crate::error::{ProtocolError, Result};
use crate::wire::{lossy, put_lenenc_bytes, put_lenenc_int, Reader};

/// Length of the fixed-length block, announced by a lenenc `0x0C`.
const FIXED_LEN: u64 = 0x0C;

/// A column type byte (`MYSQL_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ColumnType(pub u8);

#[allow(missing_docs)]
impl ColumnType {
    pub const DECIMAL: Self = Self(0);
    pub const TINY: Self = Self(1);
    pub const SHORT: Self = Self(2);
    pub const LONG: Self = Self(3);
    pub const FLOAT: Self = Self(4);
    pub const DOUBLE: Self = Self(5);
    pub const NULL: Self = Self(6);
    pub const TIMESTAMP: Self = Self(7);
    pub const LONGLONG: Self = Self(8);
    pub const INT24: Self = Self(9);
    pub const DATE: Self = Self(10);
    pub const TIME: Self = Self(11);
    pub const DATETIME: Self = Self(12);
    pub const YEAR: Self = Self(13);
    pub const NEWDATE: Self = Self(14);
    pub const VARCHAR: Self = Self(15);
    pub const BIT: Self = Self(16);
    pub const TIMESTAMP2: Self = Self(17);
    pub const DATETIME2: Self = Self(18);
    pub const TIME2: Self = Self(19);
    pub const JSON: Self = Self(245);
    pub const NEWDECIMAL: Self = Self(246);
    pub const ENUM: Self = Self(247);
    pub const SET: Self = Self(248);
    pub const TINY_BLOB: Self = Self(249);
    pub const MEDIUM_BLOB: Self = Self(250);
    pub const LONG_BLOB: Self = Self(251);
    pub const BLOB: Self = Self(252);
    pub const VAR_STRING: Self = Self(253);
    pub const STRING: Self = Self(254);
    pub const GEOMETRY: Self = Self(255);
}

bitflags::bitflags! {
    /// Column definition flags (`*_FLAG`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ColumnFlags: u16 {
        /// NOT NULL.
        const NOT_NULL = 1;
        /// Part of the primary key.
        const PRI_KEY = 1 << 1;
        /// Part of a unique key.
        const UNIQUE_KEY = 1 << 2;
        /// Part of a non-unique key.
        const MULTIPLE_KEY = 1 << 3;
        /// BLOB or TEXT.
        const BLOB = 1 << 4;
        /// UNSIGNED.
        const UNSIGNED = 1 << 5;
        /// ZEROFILL.
        const ZEROFILL = 1 << 6;
        /// BINARY.
        const BINARY = 1 << 7;
        /// ENUM.
        const ENUM = 1 << 8;
        /// AUTO_INCREMENT.
        const AUTO_INCREMENT = 1 << 9;
        /// TIMESTAMP.
        const TIMESTAMP = 1 << 10;
        /// SET.
        const SET = 1 << 11;
        /// No default value.
        const NO_DEFAULT_VALUE = 1 << 12;
        /// ON UPDATE NOW().
        const ON_UPDATE_NOW = 1 << 13;
        /// Part of some key.
        const PART_KEY = 1 << 14;
        /// Numeric.
        const NUM = 1 << 15;
    }
}

/// ColumnDefinition41.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnDefinition {
    /// Schema name.
    pub schema: String,
    /// Table alias.
    pub table: String,
    /// Physical table name.
    pub org_table: String,
    /// Column alias.
    pub name: String,
    /// Physical column name.
    pub org_name: String,
    /// MariaDB extended metadata pairs (`0` = type name, `1` = format), present only under
    /// `MARIADB_CLIENT_EXTENDED_METADATA`.
    pub extended_metadata: Vec<(u8, Vec<u8>)>,
    /// Collation id.
    pub charset: u16,
    /// Maximum display length.
    pub column_length: u32,
    /// Type.
    pub column_type: ColumnType,
    /// Flags.
    pub flags: ColumnFlags,
    /// Decimal digits.
    pub decimals: u8,
    /// Default value block (COM_FIELD_LIST responses only).
    pub default_values: Option<Vec<u8>>,
}

impl ColumnDefinition {
    /// Parses a column definition under the negotiated capabilities.
    pub fn parse(payload: &[u8], caps: Capabilities) -> Result<ColumnDefinition> {
        let mut r = Reader::new(payload, "column definition");
        let catalog = r.lenenc_bytes()?;
        if catalog != b"def" {
            return Err(ProtocolError::Malformed(
                "column definition catalog is not \"def\"",
            ));
        }
        let schema = lossy(r.lenenc_bytes()?);
        let table = lossy(r.lenenc_bytes()?);
        let org_table = lossy(r.lenenc_bytes()?);
        let name = lossy(r.lenenc_bytes()?);
        let org_name = lossy(r.lenenc_bytes()?);
        let mut extended_metadata = Vec::new();
        if caps.contains(Capabilities::MARIADB_CLIENT_EXTENDED_METADATA) {
            let mut e = Reader::new(r.lenenc_bytes()?, "column extended metadata");
            while !e.is_empty() {
                let kind = e.u8()?;
                extended_metadata.push((kind, e.lenenc_bytes()?.to_vec()));
            }
        }
        if r.lenenc_int()? != FIXED_LEN {
            return Err(ProtocolError::Malformed(
                "column definition fixed block is not 12 bytes",
            ));
        }
        let charset = r.u16()?;
        let column_length = r.u32()?;
        let column_type = ColumnType(r.u8()?);
        let flags = ColumnFlags::from_bits_retain(r.u16()?);
        let decimals = r.u8()?;
        r.take(2)?;
        let default_values = if r.is_empty() {
            None
        } else {
            Some(r.lenenc_bytes()?.to_vec())
        };
        r.finish()?;
        Ok(ColumnDefinition {
            schema,
            table,
            org_table,
            name,
            org_name,
            extended_metadata,
            charset,
            column_length,
            column_type,
            flags,
            decimals,
            default_values,
        })
    }

    /// Encodes a column definition under the negotiated capabilities.
    pub fn encode(&self, caps: Capabilities, dst: &mut BytesMut) {
        put_lenenc_bytes(dst, b"def");
        put_lenenc_bytes(dst, self.schema.as_bytes());
        put_lenenc_bytes(dst, self.table.as_bytes());
        put_lenenc_bytes(dst, self.org_table.as_bytes());
        put_lenenc_bytes(dst, self.name.as_bytes());
        put_lenenc_bytes(dst, self.org_name.as_bytes());
        if caps.contains(Capabilities::MARIADB_CLIENT_EXTENDED_METADATA) {
            let mut e = BytesMut::new();
            for (kind, v) in &self.extended_metadata {
                e.put_u8(*kind);
                put_lenenc_bytes(&mut e, v);
            }
            put_lenenc_bytes(dst, &e);
        }
        put_lenenc_int(dst, FIXED_LEN);
        dst.put_u16_le(self.charset);
        dst.put_u32_le(self.column_length);
        dst.put_u8(self.column_type.0);
        dst.put_u16_le(self.flags.bits());
        dst.put_u8(self.decimals);
        dst.put_u16_le(0);
        if let Some(d) = &self.default_values {
            put_lenenc_bytes(dst, d);
        }
    }

    /// A plain column as a fake server would describe it (utf8mb4 VAR_STRING).
    pub fn simple(name: &str, column_type: ColumnType) -> Self {
        Self {
            name: name.to_owned(),
            org_name: name.to_owned(),
            charset: 45,
            column_length: 255,
            column_type,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ColumnDefinition {
        ColumnDefinition {
            schema: "shop".into(),
            table: "o".into(),
            org_table: "orders".into(),
            name: "id".into(),
            org_name: "id".into(),
            extended_metadata: Vec::new(),
            charset: 63,
            column_length: 20,
            column_type: ColumnType::LONGLONG,
            flags: ColumnFlags::NOT_NULL | ColumnFlags::PRI_KEY | ColumnFlags::AUTO_INCREMENT,
            decimals: 0,
            default_values: None,
        }
    }

    #[test]
    fn round_trips() {
        let c = sample();
        let mut b = BytesMut::new();
        c.encode(Capabilities::empty(), &mut b);
        assert_eq!(
            ColumnDefinition::parse(&b, Capabilities::empty()).unwrap(),
            c
        );

        let mut ext = sample();
        ext.extended_metadata = vec![(0, b"json".to_vec())];
        ext.default_values = Some(b"0".to_vec());
        let caps = Capabilities::MARIADB_CLIENT_EXTENDED_METADATA;
        let mut b = BytesMut::new();
        ext.encode(caps, &mut b);
        assert_eq!(ColumnDefinition::parse(&b, caps).unwrap(), ext);
    }

    #[test]
    fn errors() {
        let none = Capabilities::empty();
        let mut b = BytesMut::new();
        sample().encode(none, &mut b);
        for cut in [0, 3, 10, b.len() - 1] {
            assert!(
                matches!(
                    ColumnDefinition::parse(&b[..cut], none),
                    Err(ProtocolError::Truncated { .. })
                ),
                "cut {cut}"
            );
        }
        let mut bad_catalog = b.clone();
        bad_catalog[1] = b'x';
        assert!(matches!(
            ColumnDefinition::parse(&bad_catalog, none),
            Err(ProtocolError::Malformed(_))
        ));
        let fixed_pos = b.len() - 13;
        let mut bad_fixed = b.clone();
        bad_fixed[fixed_pos] = 0x0B;
        assert!(matches!(
            ColumnDefinition::parse(&bad_fixed, none),
            Err(ProtocolError::Malformed(_))
        ));
        let mut trailing = b.clone();
        trailing.extend_from_slice(&[1, b'x', 0]);
        assert!(matches!(
            ColumnDefinition::parse(&trailing, none),
            Err(ProtocolError::TrailingBytes { .. })
        ));
    }
}
