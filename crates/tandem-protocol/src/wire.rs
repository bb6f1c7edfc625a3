//! Primitive wire types: fixed-width little-endian integers, length-encoded integers and strings,
//! NUL-terminated strings.
//!
//! [`Reader`] is a bounds-checked cursor: every read returns `Result`, never indexes past the end,
//! and a length-encoded length is only ever compared with the bytes actually present — it never
//! sizes an allocation. Writers are free functions over `BytesMut` so that message encoders stay
//! symmetric with their parsers.

use bytes::{BufMut, BytesMut};

use crate::error::{ProtocolError, Result};

/// A bounds-checked little-endian cursor over a payload.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Creates a reader; `what` names the message in `Truncated` errors.
    pub const fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, what }
    }

    /// Bytes not yet consumed.
    pub const fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Whether every byte has been consumed.
    pub const fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The unconsumed bytes, without consuming them.
    pub const fn peek_rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Next byte without consuming it.
    pub fn peek_u8(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    /// Fails with `TrailingBytes` if anything is left.
    pub fn finish(&self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::TrailingBytes {
                what: self.what,
                extra: self.buf.len(),
            })
        }
    }

    /// Consumes exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.buf.split_at_checked(n) {
            Some((head, tail)) => {
                self.buf = tail;
                Ok(head)
            }
            None => Err(ProtocolError::truncated(self.what)),
        }
    }

    /// Consumes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Consumes everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Consumes one byte.
    pub fn u8(&mut self) -> Result<u8> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    /// Consumes a little-endian `u16`.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Consumes a little-endian 3-byte integer.
    pub fn u24(&mut self) -> Result<u32> {
        let [a, b, c] = self.array()?;
        Ok(u32::from_le_bytes([a, b, c, 0]))
    }

    /// Consumes a little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Consumes a little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Consumes a length-encoded integer. `0xFB` (NULL) and `0xFF` (ERR marker) are rejected.
    pub fn lenenc_int(&mut self) -> Result<u64> {
        match self.lenenc_int_or_null()? {
            Some(v) => Ok(v),
            None => Err(ProtocolError::Malformed(
                "NULL where a length-encoded integer was expected",
            )),
        }
    }

    /// Consumes a length-encoded integer, mapping the `0xFB` marker to `None` (SQL NULL in rows).
    pub fn lenenc_int_or_null(&mut self) -> Result<Option<u64>> {
        let first = self.u8()?;
        let v = match first {
            0x00..=0xFA => u64::from(first),
            0xFB => return Ok(None),
            0xFC => u64::from(self.u16()?),
            0xFD => u64::from(self.u24()?),
            0xFE => self.u64()?,
            0xFF => {
                return Err(ProtocolError::Malformed(
                    "invalid length-encoded integer prefix 0xFF",
                ))
            }
        };
        Ok(Some(v))
    }

    /// Consumes a length-encoded byte string.
    pub fn lenenc_bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.lenenc_int()?;
        self.take_u64(len)
    }

    /// Consumes a length-encoded byte string or a NULL marker.
    pub fn lenenc_bytes_or_null(&mut self) -> Result<Option<&'a [u8]>> {
        match self.lenenc_int_or_null()? {
            Some(len) => self.take_u64(len).map(Some),
            None => Ok(None),
        }
    }

    fn take_u64(&mut self, len: u64) -> Result<&'a [u8]> {
        let len = usize::try_from(len).map_err(|_| ProtocolError::truncated(self.what))?;
        self.take(len)
    }

    /// Consumes a NUL-terminated byte string (the NUL is consumed, not returned).
    pub fn nul_bytes(&mut self) -> Result<&'a [u8]> {
        let pos = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .ok_or(ProtocolError::truncated(self.what))?;
        let s = self.take(pos)?;
        self.take(1)?;
        Ok(s)
    }

    /// Consumes a NUL-terminated string, or everything left if there is no NUL
    /// (some servers omit the terminator on the last field).
    pub fn nul_or_eof_bytes(&mut self) -> &'a [u8] {
        match self.buf.iter().position(|&b| b == 0) {
            Some(pos) => {
                let (s, tail) = self.buf.split_at(pos);
                self.buf = tail.get(1..).unwrap_or_default();
                s
            }
            None => self.rest(),
        }
    }
}

/// Number of bytes `put_lenenc_int` writes for `v`.
pub const fn lenenc_int_len(v: u64) -> usize {
    if v < 0xFB {
        1
    } else if v <= 0xFFFF {
        3
    } else if v <= 0xFF_FFFF {
        4
    } else {
        9
    }
}

/// Writes a length-encoded integer.
pub fn put_lenenc_int(dst: &mut BytesMut, v: u64) {
    // Each arm's range guarantees the narrowing below is lossless.
    if v < 0xFB {
        dst.put_u8(v as u8);
    } else if v <= 0xFFFF {
        dst.put_u8(0xFC);
        dst.put_u16_le(v as u16);
    } else if v <= 0xFF_FFFF {
        dst.put_u8(0xFD);
        dst.put_uint_le(v, 3);
    } else {
        dst.put_u8(0xFE);
        dst.put_u64_le(v);
    }
}

/// Writes a length-encoded byte string.
pub fn put_lenenc_bytes(dst: &mut BytesMut, s: &[u8]) {
    put_lenenc_int(dst, s.len() as u64);
    dst.put_slice(s);
}

/// Writes a NUL-terminated byte string. Interior NULs would corrupt the message, so the string is
/// cut at the first one.
pub fn put_nul_bytes(dst: &mut BytesMut, s: &[u8]) {
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    dst.put_slice(s.get(..end).unwrap_or_default());
    dst.put_u8(0);
}

/// Decodes identity-like strings (user, schema, plugin names): invalid UTF-8 is an error, never
/// silently replaced, so two different byte strings cannot map to the same name.
pub fn utf8(bytes: &[u8], what: &'static str) -> Result<String> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| ProtocolError::Malformed(what))
}

/// Decodes informational text (messages, server version): invalid UTF-8 is replaced.
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Reads a connection-attributes block (HandshakeResponse41, COM_CHANGE_USER): a length-encoded
/// blob of length-encoded key/value strings. Keys must be UTF-8; values are taken lossily.
pub fn read_connect_attrs(r: &mut Reader<'_>) -> Result<Vec<(String, String)>> {
    let mut attrs = Vec::new();
    let mut a = Reader::new(r.lenenc_bytes()?, "connect attributes");
    while !a.is_empty() {
        let k = utf8(a.lenenc_bytes()?, "connect attribute key is not UTF-8")?;
        let v = String::from_utf8_lossy(a.lenenc_bytes()?).into_owned();
        attrs.push((k, v));
    }
    Ok(attrs)
}

/// Writes a connection-attributes block (see [`read_connect_attrs`]).
pub fn put_connect_attrs(dst: &mut BytesMut, attrs: &[(String, String)]) {
    let mut block = BytesMut::new();
    for (k, v) in attrs {
        put_lenenc_bytes(&mut block, k.as_bytes());
        put_lenenc_bytes(&mut block, v.as_bytes());
    }
    put_lenenc_int(dst, block.len() as u64);
    dst.put_slice(&block);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_round_trip_at_every_width_boundary() {
        for v in [
            0,
            1,
            0xFA,
            0xFB,
            0xFC,
            0xFFFF,
            0x1_0000,
            0xFF_FFFF,
            0x100_0000,
            u64::MAX,
        ] {
            let mut b = BytesMut::new();
            put_lenenc_int(&mut b, v);
            assert_eq!(b.len(), lenenc_int_len(v), "{v:#x}");
            let mut r = Reader::new(&b, "t");
            assert_eq!(r.lenenc_int().unwrap(), v);
            r.finish().unwrap();
        }
    }

    #[test]
    fn lenenc_errors() {
        assert!(matches!(
            Reader::new(&[0xFB], "t").lenenc_int(),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            Reader::new(&[0xFF], "t").lenenc_int(),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            Reader::new(&[0xFC, 1], "t").lenenc_int(),
            Err(ProtocolError::Truncated { what: "t" })
        ));
        assert!(matches!(
            Reader::new(&[0xFE, 1, 2, 3], "t").lenenc_int(),
            Err(ProtocolError::Truncated { .. })
        ));
        // A length far beyond the buffer is a truncation, not an allocation.
        let mut huge = vec![0xFE];
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            Reader::new(&huge, "t").lenenc_bytes(),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            Reader::new(&[], "t").u8(),
            Err(ProtocolError::Truncated { .. })
        ));
    }

    #[test]
    fn nul_strings() {
        let mut r = Reader::new(b"abc\0def", "t");
        assert_eq!(r.nul_bytes().unwrap(), b"abc");
        assert!(matches!(
            r.nul_bytes(),
            Err(ProtocolError::Truncated { .. })
        ));
        assert_eq!(r.nul_or_eof_bytes(), b"def");
        assert!(r.is_empty());
        let mut b = BytesMut::new();
        put_nul_bytes(&mut b, b"x\0y");
        assert_eq!(&b[..], b"x\0");
    }

    #[test]
    fn finish_reports_trailing() {
        let r = Reader::new(&[1, 2], "msg");
        assert!(matches!(
            r.finish(),
            Err(ProtocolError::TrailingBytes {
                what: "msg",
                extra: 2
            })
        ));
    }
}
