//! Text-protocol result rows: one length-encoded string per column, `0xFB` for NULL.
//!
//! The proxy never decodes rows on its hot path (it scans packet boundaries); these helpers serve
//! the monitor (reading `SHOW REPLICA STATUS`), tests and fake servers.

use bytes::{BufMut, BytesMut};

use crate::error::Result;
use crate::wire::{put_lenenc_bytes, Reader};

/// Parses a text row of exactly `columns` values, borrowing from `payload`.
pub fn parse_text_row(payload: &[u8], columns: usize) -> Result<Vec<Option<&[u8]>>> {
    // Every value takes at least one byte, so the payload bounds the allocation.
    let mut out = Vec::with_capacity(columns.min(payload.len()));
    let mut r = Reader::new(payload, "text row");
    for _ in 0..columns {
        out.push(r.lenenc_bytes_or_null()?);
    }
    r.finish()?;
    Ok(out)
}

/// Encodes a text row.
pub fn encode_text_row<V: AsRef<[u8]>>(dst: &mut BytesMut, values: &[Option<V>]) {
    for v in values {
        match v {
            Some(v) => put_lenenc_bytes(dst, v.as_ref()),
            None => dst.put_u8(0xFB),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;

    #[test]
    fn round_trip() {
        let values: Vec<Option<&[u8]>> = vec![Some(b"1"), None, Some(b""), Some(&[0xFB; 300])];
        let mut b = BytesMut::new();
        encode_text_row(&mut b, &values);
        assert_eq!(parse_text_row(&b, 4).unwrap(), values);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse_text_row(&[1, b'a'], 2),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            parse_text_row(&[1, b'a', 0], 1),
            Err(ProtocolError::TrailingBytes { .. })
        ));
        assert!(matches!(
            parse_text_row(&[0xFF], 1),
            Err(ProtocolError::Malformed(_))
        ));
        // A huge column count with a tiny payload neither allocates much nor panics.
        assert!(matches!(
            parse_text_row(&[0], usize::MAX),
            Err(ProtocolError::Truncated { .. })
        ));
        assert_eq!(parse_text_row(&[], 0).unwrap(), Vec::<Option<&[u8]>>::new());
    }
}
