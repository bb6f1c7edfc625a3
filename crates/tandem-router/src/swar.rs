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

use crate::lexer::is_ident_byte;

/// Length of the identifier run at the start of `s` (see [`is_ident_byte`](crate::lexer::is_ident_byte)).
#[inline]
pub(crate) fn ident_len(s: &[u8]) -> usize {
    let mut i = 0;
    while let Some(chunk) = s.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let high = w & HI;
        let x = w & !HI;
        let ident = high
            | in_range(x | (LO * 0x20), b'a', b'z')
            | in_range(x, b'0', b'9')
            | zero_bytes(x ^ (LO * u64::from(b'_')))
            | zero_bytes(x ^ (LO * u64::from(b'$')));
        let stop = !ident & HI;
        if stop != 0 {
            return i + (stop.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + s[i..]
        .iter()
        .position(|&b| !is_ident_byte(b))
        .unwrap_or(s.len() - i)
}

/// Position of the first `a` in `s`.
#[inline]
pub(crate) fn find1(s: &[u8], a: u8) -> Option<usize> {
    let pat = LO * u64::from(a);
    let mut i = 0;
    while let Some(chunk) = s.get(i..i + 8) {
        let hit = zero_bytes(u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])) ^ pat);
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..].iter().position(|&c| c == a).map(|p| p + i)
}

/// Position of the first `a` or `b` in `s`.
#[inline]
pub(crate) fn find2(s: &[u8], a: u8, b: u8) -> Option<usize> {
    let mut i = 0;
    while let Some(chunk) = s.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let hit = zero_bytes(w ^ (LO * u64::from(a))) | zero_bytes(w ^ (LO * u64::from(b)));
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..].iter().position(|&c| c == a || c == b).map(|p| p + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swar_helpers_match_bytewise() {
        let mut all: Vec<u8> = (0..=255).collect();
        all.extend_from_slice(b"abc_$9Z\x80 x");
        for start in 0..all.len() {
            for end in start..all.len().min(start + 20) {
                let s = &all[start..end];
                let want = s.iter().position(|&b| !is_ident_byte(b)).unwrap_or(s.len());
                assert_eq!(ident_len(s), want, "{s:?}");
                let want2 = s.iter().position(|&c| c == b'`' || c == b'\\');
                assert_eq!(find2(s, b'`', b'\\'), want2, "{s:?}");
                assert_eq!(find1(s, b'`'), s.iter().position(|&c| c == b'`'), "{s:?}");
            }
        }
    }

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
