//! Word-at-a-time (SWAR) byte tricks shared by the lexer and keyword lookup.
//!
//! Finding the end of a word or quoted run eight bytes at a time replaces a hard-to-predict
//! per-byte loop exit with one mostly-predictable branch, and building keyword keys in registers
//! avoids reloading bytes just stored to the stack (a store-forwarding stall).

pub(crate) const LO: u64 = 0x0101_0101_0101_0101;
pub(crate) const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` that is zero (exact, no false positives).
#[inline]
pub(crate) fn zero_bytes(x: u64) -> u64 {
    !(((x & !HI).wrapping_add(!HI)) | x) & HI
}

/// High bit set in each byte of `x` (all bytes < 0x80) that lies in `lo..=hi`.
#[inline]
pub(crate) fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let a = x.wrapping_add(LO * u64::from(0x80 - lo));
    let b = x.wrapping_add(LO * u64::from(0x7F - hi));
    a & !b & HI
}

/// Up to 8 bytes as a big-endian word, zero-padded on the right.
#[inline]
pub(crate) fn be_word(b: &[u8]) -> u64 {
    if let Ok(a) = <[u8; 8]>::try_from(b) {
        return u64::from_be_bytes(a);
    }
    let mut x = 0u64;
    for (i, &c) in b.iter().enumerate().take(8) {
        x |= u64::from(c) << (56 - 8 * i);
    }
    x
}

/// ASCII upper-casing of eight bytes, all < 0x80.
#[inline]
pub(crate) fn upper8(x: u64) -> u64 {
    x - (in_range(x, b'a', b'z') >> 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        let w = be_word(b"sElEcT_1");
        assert_eq!(upper8(w).to_be_bytes(), *b"SELECT_1");
        assert_eq!(be_word(b"ab"), u64::from_be_bytes(*b"ab\0\0\0\0\0\0"));
        assert_eq!(
            zero_bytes(u64::from_le_bytes(*b"a\0b\0cdef")).count_ones(),
            2
        );
    }
}
