//! Password authentication plugins and salt generation.
//!
//! A proxy authenticates clients itself (it holds clear passwords or only the server-style stored
//! hash) and then logs in to backends on their behalf. `mysql_native_password` makes the second
//! step possible from a hash alone: verifying a client's response *recovers* SHA1(password), which
//! is exactly what the backend scramble needs ([`native_password::scramble_with_sha1`]).

pub mod caching_sha2;
pub mod ed25519;
pub mod native_password;

/// Plugin name of mysql_native_password.
pub const MYSQL_NATIVE_PASSWORD: &str = "mysql_native_password";
/// Plugin name of caching_sha2_password.
pub const CACHING_SHA2_PASSWORD: &str = "caching_sha2_password";
/// Length of a scramble / salt.
pub const SALT_LEN: usize = 20;

/// Fills a fresh 20-byte salt from the operating system's CSPRNG.
///
/// Bytes are folded into 1..=127 and `$` is avoided, as servers do, so the salt survives the
/// NUL-terminated and text-based places it travels through.
pub fn try_generate_salt() -> Result<[u8; SALT_LEN], getrandom::Error> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt)?;
    for b in &mut salt {
        *b &= 0x7F;
        if *b == 0 || *b == b'$' {
            *b += 1;
        }
    }
    Ok(salt)
}

/// Like [`try_generate_salt`].
///
/// # Panics
/// Only if the operating system's random source is unavailable, in which case no safe salt can
/// be produced and there is no sensible fallback (a fixed salt would defeat the scheme).
#[allow(clippy::expect_used)]
pub fn generate_salt() -> [u8; SALT_LEN] {
    try_generate_salt().expect("operating system CSPRNG unavailable")
}

/// Constant-time equality for secrets of equal length.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The first 20 bytes of a salt (servers sometimes send a trailing NUL).
pub(crate) fn salt20(salt: &[u8]) -> &[u8] {
    salt.get(..SALT_LEN).unwrap_or(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salts_are_printable_safe_and_random() {
        let a = generate_salt();
        let b = generate_salt();
        assert_ne!(a, b);
        for s in [a, b] {
            assert!(s.iter().all(|&c| c != 0 && c != b'$' && c < 0x80));
        }
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
