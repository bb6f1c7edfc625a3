//! COM_QUERY: the SQL text, past MySQL 8 query attributes when `CLIENT_QUERY_ATTRIBUTES` is on.
//!
//! The router classifies the statement text, so the proxy must find it reliably. Without query
//! attributes (always the case with MariaDB) the text is simply everything after the command
//! byte; with them, a parameter block precedes it and has to be skipped value by value.

use crate::capabilities::Capabilities;
use crate::error::{ProtocolError, Result};
use crate::message::column_definition::ColumnType;
use crate::message::command::Command;
use crate::wire::Reader;

/// The SQL text of a COM_QUERY payload (command byte included).
pub fn query_text(payload: &[u8], caps: Capabilities) -> Result<&[u8]> {
    let mut r = Reader::new(payload, "COM_QUERY");
    if r.u8()? != Command::Query.as_u8() {
        return Err(ProtocolError::Malformed("not a COM_QUERY packet"));
    }
    if caps.contains(Capabilities::QUERY_ATTRIBUTES) {
        skip_query_attributes(&mut r)?;
    }
    Ok(r.rest())
}

fn skip_query_attributes(r: &mut Reader<'_>) -> Result<()> {
    let count = r.lenenc_int()?;
    let _sets = r.lenenc_int()?;
    if count == 0 {
        return Ok(());
    }
    // Each parameter needs at least its type (2 bytes); bound the count by the bytes present.
    let count = usize::try_from(count).map_err(|_| ProtocolError::truncated("query attributes"))?;
    if count > r.remaining() {
        return Err(ProtocolError::truncated("query attributes"));
    }
    let null_bitmap = r.take(count.div_ceil(8))?;
    if r.u8()? != 1 {
        // Without types the values cannot be delimited.
        return Err(ProtocolError::Unsupported(
            "query attributes without parameter types",
        ));
    }
    let mut types = Vec::with_capacity(count);
    for _ in 0..count {
        let [ty, _flags] = r.array::<2>()?;
        r.lenenc_bytes()?; // name
        types.push(ColumnType(ty));
    }
    for (i, ty) in types.into_iter().enumerate() {
        let is_null = null_bitmap
            .get(i / 8)
            .is_some_and(|b| b & (1 << (i % 8)) != 0);
        if !is_null {
            skip_binary_value(r, ty)?;
        }
    }
    Ok(())
}

/// Skips one binary-protocol value of type `ty`.
pub(crate) fn skip_binary_value(r: &mut Reader<'_>, ty: ColumnType) -> Result<()> {
    let fixed = match ty {
        ColumnType::NULL => 0,
        ColumnType::TINY => 1,
        ColumnType::SHORT | ColumnType::YEAR => 2,
        ColumnType::LONG | ColumnType::INT24 | ColumnType::FLOAT => 4,
        ColumnType::LONGLONG | ColumnType::DOUBLE => 8,
        ColumnType::DATE
        | ColumnType::DATETIME
        | ColumnType::TIMESTAMP
        | ColumnType::TIME
        | ColumnType::DATETIME2
        | ColumnType::TIMESTAMP2
        | ColumnType::TIME2
        | ColumnType::NEWDATE => usize::from(r.u8()?),
        _ => {
            r.lenenc_bytes()?;
            return Ok(());
        }
    };
    r.take(fixed).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_query() {
        assert_eq!(
            query_text(b"\x03SELECT 1", Capabilities::empty()).unwrap(),
            b"SELECT 1"
        );
        assert_eq!(query_text(b"\x03", Capabilities::empty()).unwrap(), b"");
    }

    #[test]
    fn with_query_attributes() {
        let caps = Capabilities::QUERY_ATTRIBUTES;
        // No attributes.
        assert_eq!(
            query_text(b"\x03\x00\x01SELECT 1", caps).unwrap(),
            b"SELECT 1"
        );
        // Three attributes: LONGLONG 7, NULL-flagged VARCHAR, DATETIME with 4 bytes.
        let mut p = vec![0x03, 3, 1, 0b010, 1];
        p.extend_from_slice(&[8, 0, 1, b'a']);
        p.extend_from_slice(&[15, 0, 1, b'b']);
        p.extend_from_slice(&[12, 0, 1, b'c']);
        p.extend_from_slice(&7i64.to_le_bytes());
        p.extend_from_slice(&[4, 0xE8, 0x07, 1, 2]);
        p.extend_from_slice(b"SELECT 2");
        assert_eq!(query_text(&p, caps).unwrap(), b"SELECT 2");
    }

    #[test]
    fn errors() {
        let caps = Capabilities::QUERY_ATTRIBUTES;
        assert!(matches!(
            query_text(&[], caps),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            query_text(b"\x02db", caps),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            query_text(b"\x03\xfe", caps),
            Err(ProtocolError::Truncated { .. })
        ));
        // A huge attribute count with few bytes is a truncation, not an allocation.
        assert!(matches!(
            query_text(b"\x03\xfe\xff\xff\xff\xff\xff\xff\xff\x7f\x01", caps),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            query_text(b"\x03\x01\x01\x00\x00", caps),
            Err(ProtocolError::Unsupported(_))
        ));
        assert!(matches!(
            query_text(b"\x03\x01\x01\x00\x01\x08\x00\x00\x01\x02", caps),
            Err(ProtocolError::Truncated { .. })
        ));
    }
}
