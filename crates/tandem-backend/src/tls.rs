//! TLS for both ends of a MySQL connection, with rustls (ring provider, TLS 1.2 and 1.3 only).
//!
//! MySQL starts every connection in clear text and upgrades in the middle of the handshake:
//! the server advertises `CLIENT_SSL`, the client answers with an SSLRequest packet and both
//! then run a TLS handshake on the same socket. [`Stream`] is the socket before or after the
//! upgrade; [`ServerTls`] is what Tandem presents to its clients, [`ClientTls`] how it checks a
//! backend (the MySQL clients' `--ssl-mode`: `disabled`, `preferred`, `required`, `verify-ca`,
//! `verify-identity`).

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Why a TLS setting cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the certificates or keys.
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    /// A verifier could not be built from the CA.
    #[error("{0}")]
    Verifier(String),
}

/// The aws-lc-rs provider (AWS-LC, built with the C compiler; no OpenSSL): rustls' default,
/// with post-quantum hybrid key exchange, and the same library Tandem's RSA key exchange for
/// caching_sha2_password uses ([`crate::rsa`]).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |reason: String| TlsError::File {
        path: path.display().to_string(),
        reason,
    };
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// What Tandem presents to TLS clients: a certificate chain and its key.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls")
    }
}

impl ServerTls {
    /// From PEM files: the certificate (chain) and its private key.
    pub fn from_pem(cert: &Path, key_path: &Path) -> Result<ServerTls, TlsError> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)?
            .with_no_client_auth()
            .with_single_cert(certs(cert)?, key(key_path)?)?;
        Ok(ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Runs the server side of the TLS handshake on `tcp`, after the bytes the client already
    /// sent past its SSLRequest (`early`).
    pub async fn accept(&self, tcp: TcpStream, early: Bytes) -> io::Result<Stream> {
        let tls = self.acceptor.accept(Prefixed { early, inner: tcp }).await?;
        Ok(Stream::Server(Box::new(tls)))
    }

    /// The server side over a plain TCP stream (the admin HTTP listener).
    pub async fn accept_tcp(
        &self,
        tcp: TcpStream,
    ) -> io::Result<tokio_rustls::server::TlsStream<Prefixed>> {
        self.acceptor
            .accept(Prefixed {
                early: Bytes::new(),
                inner: tcp,
            })
            .await
    }
}

/// How to treat a backend's TLS (the MySQL clients' `--ssl-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Never.
    #[default]
    Disabled,
    /// When the server offers it, without checking its certificate.
    Preferred,
    /// Always, without checking the certificate (refuse a server without TLS).
    Required,
    /// Always, with a certificate signed by the CA (any name).
    VerifyCa,
    /// Always, with a certificate signed by the CA for the server's name.
    VerifyIdentity,
}

/// How Tandem connects to one backend over TLS.
#[derive(Clone)]
pub struct ClientTls {
    /// The mode.
    pub mode: TlsMode,
    /// Without TLS, caching_sha2_password's full authentication may ask the server for its RSA
    /// public key and send the password encrypted with it (the MySQL clients'
    /// `--get-server-public-key`; the key is not verified, so an active attacker could
    /// substitute theirs: prefer TLS).
    pub request_public_key: bool,
    connector: Option<tokio_rustls::TlsConnector>,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("mode", &self.mode)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// No TLS.
    pub fn disabled() -> ClientTls {
        ClientTls {
            mode: TlsMode::Disabled,
            request_public_key: false,
            connector: None,
            server_name: ServerName::try_from("localhost").expect("a valid name"),
        }
    }

    /// TLS in `mode`: `ca` is the PEM bundle to verify against (the system's when absent, for
    /// the verifying modes), `client` an optional certificate and key to present, `name` the
    /// server name to expect (and send as SNI).
    pub fn new(
        mode: TlsMode,
        ca: Option<&Path>,
        client: Option<(&Path, &Path)>,
        name: &str,
    ) -> Result<ClientTls, TlsError> {
        let server_name = ServerName::try_from(name.to_owned())
            .map_err(|e| TlsError::Verifier(format!("server name `{name}`: {e}")))?;
        if mode == TlsMode::Disabled {
            return Ok(ClientTls {
                mode,
                request_public_key: false,
                connector: None,
                server_name,
            });
        }
        let verifier: Arc<dyn ServerCertVerifier> = match mode {
            TlsMode::Preferred | TlsMode::Required => Arc::new(Lenient {
                chain: None,
                provider: provider(),
            }),
            TlsMode::VerifyCa => Arc::new(Lenient {
                chain: Some(web_verifier(ca)?),
                provider: provider(),
            }),
            _ => web_verifier(ca)?,
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match client {
            Some((cert, key_path)) => {
                builder.with_client_auth_cert(certs(cert)?, key(key_path)?)?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(ClientTls {
            mode,
            request_public_key: false,
            connector: Some(tokio_rustls::TlsConnector::from(Arc::new(config))),
            server_name,
        })
    }

    /// Runs the client side of the TLS handshake on `tcp`.
    pub async fn connect(&self, tcp: TcpStream) -> io::Result<Stream> {
        let Some(connector) = &self.connector else {
            return Ok(Stream::Plain(tcp));
        };
        let tls = connector.connect(self.server_name.clone(), tcp).await?;
        Ok(Stream::Client(Box::new(tls)))
    }
}

fn web_verifier(ca: Option<&Path>) -> Result<Arc<dyn ServerCertVerifier>, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            for c in certs(path)? {
                roots
                    .add(c)
                    .map_err(|e| TlsError::Verifier(format!("{}: {e}", path.display())))?;
            }
        }
        None => {
            let system = rustls_native_certs::load_native_certs();
            for c in system.certs {
                let _ = roots.add(c);
            }
            if roots.is_empty() {
                return Err(TlsError::Verifier(
                    "no CA given and no system certificates found".into(),
                ));
            }
        }
    }
    let v = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    Ok(v)
}

/// The lenient modes: `required` and `preferred` check nothing (`chain: None`), as the MySQL
/// clients do; `verify-ca` checks the chain and ignores the name. Signatures are always checked.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<dyn ServerCertVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(e)) if wrong_name(&e) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(msg, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(msg, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn wrong_name(e: &rustls::CertificateError) -> bool {
    let text = format!("{e:?}");
    text.starts_with("NotValidForName")
}

/// A TCP stream that first yields bytes already read from it (the start of a client's TLS
/// handshake, read together with its SSLRequest).
#[derive(Debug)]
pub struct Prefixed {
    early: Bytes,
    inner: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.early.is_empty() {
            let n = self.early.len().min(buf.remaining());
            buf.put_slice(&self.early[..n]);
            self.early.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A connection's socket: clear text, or after the TLS upgrade as either end.
#[derive(Debug)]
pub enum Stream {
    /// Clear text.
    Plain(TcpStream),
    /// Tandem as the TLS client (to a backend).
    Client(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// Tandem as the TLS server (to a client).
    Server(Box<tokio_rustls::server::TlsStream<Prefixed>>),
    /// Taken for an upgrade that failed; every operation fails.
    Gone,
}

impl Stream {
    /// Encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Client(_) | Stream::Server(_))
    }

    /// Takes the clear-text socket for an upgrade (leaving [`Stream::Gone`]).
    pub fn take_plain(&mut self) -> Option<TcpStream> {
        match std::mem::replace(self, Stream::Gone) {
            Stream::Plain(t) => Some(t),
            other => {
                *self = other;
                None
            }
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the TLS upgrade failed")
}

/// Runs `$call` on whichever stream `$self` holds (a closed one fails).
macro_rules! each_stream {
    ($self:expr, $s:ident => $call:expr) => {
        match $self.get_mut() {
            Stream::Plain($s) => {
                let $s = Pin::new($s);
                $call
            }
            Stream::Client($s) => {
                let $s = Pin::new($s.as_mut());
                $call
            }
            Stream::Server($s) => {
                let $s = Pin::new($s.as_mut());
                $call
            }
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_stream!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self, s => s.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, s => s.poll_shutdown(cx))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        matches!(self, Stream::Plain(_))
    }
}
