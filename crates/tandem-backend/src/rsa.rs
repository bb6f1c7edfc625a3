//! The RSA key exchange of caching_sha2_password without TLS, both ways (RSA-OAEP with SHA-1,
//! as MySQL 8 runs it): a client encrypts `(password ‖ NUL) XOR scramble` with the server's
//! public key; the server decrypts it with its private key. AWS-LC does the RSA (constant-time
//! decryption, unlike the pure-Rust `rsa` crate's, RUSTSEC-2023-0071).

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey, OAEP_SHA1_MGF1SHA1,
};
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::SubjectPublicKeyInfoDer;

/// Why an RSA step failed (no detail: nothing about keys or plaintexts is worth logging).
#[derive(Debug, thiserror::Error)]
pub enum RsaError {
    #[error("the server's RSA public key is not a PEM SubjectPublicKeyInfo")]
    BadPublicKey,
    #[error("RSA encryption failed")]
    Encrypt,
    #[error("RSA decryption failed")]
    Decrypt,
    #[error("RSA key generation failed")]
    Generate,
}

/// Encrypts `plaintext` (the scrambled password) with the PEM public key a server sent.
pub fn encrypt(public_key_pem: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, RsaError> {
    let der = SubjectPublicKeyInfoDer::from_pem_slice(public_key_pem)
        .map_err(|_| RsaError::BadPublicKey)?;
    let key = PublicEncryptingKey::from_der(der.as_ref()).map_err(|_| RsaError::BadPublicKey)?;
    let key = OaepPublicEncryptingKey::new(key).map_err(|_| RsaError::BadPublicKey)?;
    let mut out = vec![0u8; key.ciphertext_size()];
    let n = key
        .encrypt(&OAEP_SHA1_MGF1SHA1, plaintext, &mut out, None)
        .map_err(|_| RsaError::Encrypt)?
        .len();
    out.truncate(n);
    Ok(out)
}

/// A server's RSA key pair for caching_sha2_password (generated in memory, as MySQL does with
/// `caching_sha2_password_auto_generate_rsa_keys`).
pub struct ServerKey {
    private: OaepPrivateDecryptingKey,
    pem: Vec<u8>,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(<private>)")
    }
}

impl ServerKey {
    /// A new 2048-bit key pair.
    pub fn generate() -> Result<ServerKey, RsaError> {
        let private =
            PrivateDecryptingKey::generate(KeySize::Rsa2048).map_err(|_| RsaError::Generate)?;
        let public = private.public_key();
        let der: PublicKeyX509Der<'_> = public.as_der().map_err(|_| RsaError::Generate)?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        let private = OaepPrivateDecryptingKey::new(private).map_err(|_| RsaError::Generate)?;
        Ok(ServerKey {
            private,
            pem: pem.into_bytes(),
        })
    }

    /// The public key as PEM, what a client that asks for it is sent.
    pub fn public_pem(&self) -> &[u8] {
        &self.pem
    }

    /// Decrypts a client's encrypted scrambled password.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, RsaError> {
        let mut out = vec![0u8; self.private.min_output_size()];
        let n = self
            .private
            .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut out, None)
            .map_err(|_| RsaError::Decrypt)?
            .len();
        out.truncate(n);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_survives_the_exchange() {
        let key = ServerKey::generate().expect("key");
        assert!(key
            .public_pem()
            .starts_with(b"-----BEGIN PUBLIC KEY-----\n"));
        let salt: Vec<u8> = (1..=20).collect();
        let plain = tandem_protocol::auth::caching_sha2::xor_salt(b"s3cret\0", &salt);
        let ct = encrypt(key.public_pem(), &plain).expect("encrypt");
        assert_eq!(ct.len(), 256);
        assert_ne!(
            ct,
            encrypt(key.public_pem(), &plain).expect("again"),
            "OAEP is randomised"
        );
        let back = key.decrypt(&ct).expect("decrypt");
        assert_eq!(
            tandem_protocol::auth::caching_sha2::xor_salt(&back, &salt),
            b"s3cret\0"
        );
        assert!(key.decrypt(&ct[1..]).is_err());
        assert!(encrypt(
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            &plain
        )
        .is_err());
    }
}
