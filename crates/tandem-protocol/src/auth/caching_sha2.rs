//! caching_sha2_password, fast-auth path.
//!
//! The client sends `SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) ‖ salt)`. A server (or proxy)
//! holding `SHA256(SHA256(pw))` verifies by removing the mask and hashing the candidate twice.
//! When the server has no cached entry it answers AuthMoreData [`PERFORM_FULL_AUTH`], which needs
//! TLS (send the clear password) or RSA; RSA is not implemented here.

use sha2::{Digest, Sha256};

use super::{ct_eq, salt20};

/// AuthMoreData byte: fast authentication succeeded, an OK follows.
pub const FAST_AUTH_SUCCESS: u8 = 0x03;
/// AuthMoreData byte: the server needs the full password (TLS or RSA).
pub const PERFORM_FULL_AUTH: u8 = 0x04;
/// Client byte requesting the server's RSA public key.
pub const REQUEST_PUBLIC_KEY: u8 = 0x02;

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// What the RSA key exchange encrypts: `data` (the NUL-terminated password) XORed with the
/// salt, repeated; the server undoes it the same way after decrypting.
pub fn xor_salt(data: &[u8], salt: &[u8]) -> Vec<u8> {
    if salt.is_empty() {
        return data.to_vec();
    }
    data.iter()
        .zip(salt.iter().cycle())
        .map(|(a, b)| a ^ b)
        .collect()
}

/// The client's fast-auth response (callers send an empty response for an empty password).
pub fn scramble(password: &[u8], salt: &[u8]) -> [u8; 32] {
    let h1 = sha256(&[password]);
    let h2 = sha256(&[&h1]);
    let mask = sha256(&[&h2, salt20(salt)]);
    let mut out = [0u8; 32];
    for ((o, a), b) in out.iter_mut().zip(&h1).zip(&mask) {
        *o = a ^ b;
    }
    out
}

/// `SHA256(SHA256(pw))`, what a verifier keeps.
pub fn hash_password(password: &[u8]) -> [u8; 32] {
    sha256(&[&sha256(&[password])])
}

/// Verifies a fast-auth `response` against `SHA256(SHA256(pw))`; on success returns the
/// recovered `SHA256(pw)`.
pub fn verify(stored: &[u8; 32], salt: &[u8], response: &[u8]) -> Option<[u8; 32]> {
    let response: &[u8; 32] = response.try_into().ok()?;
    let mask = sha256(&[stored, salt20(salt)]);
    let mut candidate = [0u8; 32];
    for ((o, a), b) in candidate.iter_mut().zip(response).zip(&mask) {
        *o = a ^ b;
    }
    ct_eq(&sha256(&[&candidate]), stored).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scramble_verifies() {
        let salt: Vec<u8> = (10..30).collect();
        let stored = hash_password(b"pass");
        let resp = scramble(b"pass", &salt);
        assert_eq!(verify(&stored, &salt, &resp), Some(sha256(&[b"pass"])));
        assert!(verify(&stored, &salt, &scramble(b"nope", &salt)).is_none());
        assert!(verify(&stored, &salt, &resp[..31]).is_none());
    }

    #[test]
    fn known_vector() {
        // Independent computation of the documented formula with a fixed salt.
        let salt = [0x41u8; 20];
        let h1 = sha256(&[b"root"]);
        let mask = sha256(&[&sha256(&[&h1]), &salt]);
        let expect: Vec<u8> = h1.iter().zip(mask).map(|(a, b)| a ^ b).collect();
        assert_eq!(scramble(b"root", &salt).to_vec(), expect);
    }
}
