//! mysql_native_password.
//!
//! The server stores `SHA1(SHA1(pw))` (shown as `*` + 40 upper-case hex digits). The client sends
//! `SHA1(pw) XOR SHA1(salt ‖ SHA1(SHA1(pw)))`. Verifying XORs the mask back off, which yields the
//! candidate `SHA1(pw)`; hashing it must give the stored value. That candidate is returned so a
//! proxy holding only stored hashes can compute backend scrambles with [`scramble_with_sha1`].
//! An empty password is an empty response, never a 20-byte scramble.

use sha1::{Digest, Sha1};

use super::{ct_eq, salt20};

fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn xor(a: &[u8; 20], b: &[u8; 20]) -> [u8; 20] {
    let mut out = [0u8; 20];
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
    out
}

/// The client's response for a clear-text password (callers send an empty response for an
/// empty password; see [`auth_response`]).
pub fn scramble(password: &[u8], salt: &[u8]) -> [u8; 20] {
    scramble_with_sha1(&sha1(&[password]), salt)
}

/// The client's response computed from `SHA1(password)` alone.
pub fn scramble_with_sha1(sha1_pw: &[u8; 20], salt: &[u8]) -> [u8; 20] {
    let stored = sha1(&[sha1_pw]);
    xor(sha1_pw, &sha1(&[salt20(salt), &stored]))
}

/// The auth response bytes for a clear-text password: empty for an empty password.
pub fn auth_response(password: &[u8], salt: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        Vec::new()
    } else {
        scramble(password, salt).to_vec()
    }
}

/// `SHA1(password)`, the secret from which a backend scramble can be computed.
pub fn sha1_password(password: &[u8]) -> [u8; 20] {
    sha1(&[password])
}

/// `SHA1(SHA1(password))`, what the server stores.
pub fn hash_password(password: &[u8]) -> [u8; 20] {
    sha1(&[&sha1(&[password])])
}

/// The stored hash from a recovered `SHA1(password)`: `SHA1(SHA1(password))`.
pub fn hash_sha1(sha1_password: &[u8; 20]) -> [u8; 20] {
    sha1(&[sha1_password])
}

/// Parses `*` + 40 hex digits (either case) into the stored hash.
pub fn parse_stored_hash(s: &str) -> Option<[u8; 20]> {
    let hex = s.strip_prefix('*')?.as_bytes();
    if hex.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let hi = hex_val(*pair.first()?)?;
        let lo = hex_val(*pair.get(1)?)?;
        *o = hi << 4 | lo;
    }
    Some(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Formats a stored hash as `*` + 40 upper-case hex digits (as `PASSWORD()` shows it).
pub fn format_stored_hash(hash: &[u8; 20]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(41);
    s.push('*');
    for b in hash {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0F)]));
    }
    s
}

/// Verifies a client's `response` to `salt` against the stored `SHA1(SHA1(pw))`. On success
/// returns the recovered `SHA1(pw)`. A response that is not 20 bytes fails (an empty response
/// means "no password": check that separately against an account without one).
pub fn verify(stored: &[u8; 20], salt: &[u8], response: &[u8]) -> Option<[u8; 20]> {
    let response: &[u8; 20] = response.try_into().ok()?;
    let candidate = xor(response, &sha1(&[salt20(salt), stored]));
    ct_eq(&sha1(&[&candidate]), stored).then_some(candidate)
}

/// Verifies a client's response against a clear-text password (empty password ⇔ empty
/// response).
pub fn verify_password(password: &[u8], salt: &[u8], response: &[u8]) -> bool {
    if password.is_empty() {
        return response.is_empty();
    }
    verify(&hash_password(password), salt, response).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    // SELECT PASSWORD('secret') on MariaDB 10.11.
    const SECRET_HASH: &str = "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7";

    #[test]
    fn stored_hash_matches_server() {
        let h = hash_password(b"secret");
        assert_eq!(format_stored_hash(&h), SECRET_HASH);
        assert_eq!(parse_stored_hash(SECRET_HASH), Some(h));
        assert_eq!(parse_stored_hash(&SECRET_HASH.to_lowercase()), Some(h));
        assert_eq!(
            parse_stored_hash("14E65567ABDB5135D0CFD9A70B3032C179A49EE7"),
            None
        );
        assert_eq!(parse_stored_hash("*14E6"), None);
        assert_eq!(
            parse_stored_hash("*ZZE65567ABDB5135D0CFD9A70B3032C179A49EE7"),
            None
        );
        assert_eq!(
            parse_stored_hash("*é4E65567ABDB5135D0CFD9A70B3032C179A49EE"),
            None
        );
    }

    #[test]
    fn verify_recovers_sha1() {
        let salt: Vec<u8> = (1..=20).collect();
        let resp = scramble(b"secret", &salt);
        let stored = parse_stored_hash(SECRET_HASH).unwrap();
        let recovered = verify(&stored, &salt, &resp).unwrap();
        assert_eq!(recovered, sha1_password(b"secret"));
        // The recovered secret logs in elsewhere with a different salt.
        let salt2 = [7u8; 20];
        assert_eq!(
            scramble_with_sha1(&recovered, &salt2),
            scramble(b"secret", &salt2)
        );
        // Salt with a trailing NUL is accepted.
        let mut salt21 = salt.clone();
        salt21.push(0);
        assert!(verify(&stored, &salt21, &resp).is_some());
    }

    #[test]
    fn verify_rejects() {
        let salt = [3u8; 20];
        let stored = hash_password(b"secret");
        assert!(verify(&stored, &salt, &scramble(b"wrong", &salt)).is_none());
        assert!(verify(&stored, &[4u8; 20], &scramble(b"secret", &salt)).is_none());
        assert!(verify(&stored, &salt, &[]).is_none());
        assert!(verify(&stored, &salt, &[0; 21]).is_none());
        assert!(verify_password(b"", &salt, &[]));
        assert!(!verify_password(b"", &salt, &[1]));
        assert!(verify_password(
            b"secret",
            &salt,
            &auth_response(b"secret", &salt)
        ));
        assert!(auth_response(b"", &salt).is_empty());
    }
}
