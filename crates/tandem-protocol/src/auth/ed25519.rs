//! MariaDB's `client_ed25519`: the server sends a 32-byte nonce, the client answers with an
//! Ed25519 signature of it made with a key derived from the password itself — the 64-byte
//! expanded secret key is `SHA512(password)` (MariaDB's `crypto_sign` in
//! `plugin/auth_ed25519/ref10/sign.c`), so only the clear password can log in.

use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha512};

/// Plugin name.
pub const CLIENT_ED25519: &str = "client_ed25519";

/// The signature of `nonce` for `password` (64 bytes).
pub fn sign(password: &[u8], nonce: &[u8]) -> [u8; 64] {
    let az: [u8; 64] = Sha512::digest(password).into();
    let esk = ExpandedSecretKey::from_bytes(&az);
    let public = VerifyingKey::from(&esk);
    raw_sign::<Sha512>(&esk, nonce, &public).to_bytes()
}

/// The public key MariaDB stores for `password` (`SELECT ed25519_password('pw')`, base64).
pub fn public_key(password: &[u8]) -> [u8; 32] {
    let az: [u8; 64] = Sha512::digest(password).into();
    VerifyingKey::from(&ExpandedSecretKey::from_bytes(&az)).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier};

    #[test]
    fn the_public_key_is_mariadbs() {
        // MariaDB 10.11: CREATE USER u IDENTIFIED VIA ed25519 USING PASSWORD('secret'), then
        // mysql.global_priv's authentication_string (base64 without padding).
        let mariadb = "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY";
        let ours = public_key(b"secret");
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut n = 0;
        let mut decoded = Vec::new();
        for c in mariadb.bytes() {
            let v = alphabet.iter().position(|&a| a == c).expect("base64") as u32;
            bits = (bits << 6) | v;
            n += 6;
            if n >= 8 {
                n -= 8;
                decoded.push((bits >> n) as u8);
                bits &= (1 << n) - 1;
            }
        }
        assert_eq!(decoded, ours);
    }

    #[test]
    fn signatures_verify_with_the_derived_public_key() {
        let nonce = [7u8; 32];
        let sig = Signature::from_bytes(&sign(b"secret", &nonce));
        let key = VerifyingKey::from_bytes(&public_key(b"secret")).expect("a point");
        assert!(key.verify(&nonce, &sig).is_ok());
        assert!(key.verify(&[8u8; 32], &sig).is_err());
        let other = VerifyingKey::from_bytes(&public_key(b"other")).expect("a point");
        assert!(other.verify(&nonce, &sig).is_err());
    }
}
