//! The configuration sections for Tandem's own surfaces: logging, the admin listeners (MySQL
//! protocol and HTTP) and TLS (to clients, and per backend).

use std::fmt;
use std::net::SocketAddr;

use serde::Deserialize;

use super::{defaults, BackendConfig};

/// `[admin]`: a MySQL-protocol admin listener (`mariadb -h 127.0.0.1 -P 6032 -u admin -p`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Where to listen; loopback unless `allow_remote`.
    #[serde(default = "defaults::admin_listen")]
    pub listen: SocketAddr,
    /// Admin user name.
    pub user: String,
    /// Admin password (required, never logged).
    pub password: String,
    /// Permit a non-loopback `listen` address.
    #[serde(default)]
    pub allow_remote: bool,
}

impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig")
            .field("listen", &self.listen)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("allow_remote", &self.allow_remote)
            .finish()
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// `[log]`: level (a `tracing` filter such as `"info"` or `"info,tandem_proxy=debug"`;
/// `RUST_LOG` overrides it) and format (`--log-format` overrides it).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_owned(),
            format: LogFormat::Human,
        }
    }
}

/// `[tls]`: what Tandem presents to clients that ask for TLS (advertised with `CLIENT_SSL`;
/// TLS 1.2 and 1.3 only). The files are read again on reload.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain (PEM), the server's certificate first.
    pub cert: std::path::PathBuf,
    /// Its private key (PEM).
    pub key: std::path::PathBuf,
    /// Refuse clients that do not use TLS (MySQL's `require_secure_transport`): ERR 3159.
    #[serde(default)]
    pub require: bool,
}

/// `[[backends]] tls = { ... }`: how Tandem (its pools, the monitor, the causal-read followers)
/// connects to that node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendTlsConfig {
    /// `"disabled"` (default), `"preferred"`, `"required"`, `"verify-ca"`, `"verify-identity"`,
    /// as the MySQL clients' `--ssl-mode`.
    #[serde(default)]
    pub mode: tandem_backend::TlsMode,
    /// CA bundle (PEM) to verify the server against; the system's roots when absent.
    #[serde(default)]
    pub ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM) to present, with `key`.
    #[serde(default)]
    pub cert: Option<std::path::PathBuf>,
    /// Its private key (PEM).
    #[serde(default)]
    pub key: Option<std::path::PathBuf>,
    /// The name the server's certificate must carry (`verify-identity`); the host part of
    /// `address` when absent.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Without TLS, let caching_sha2_password's full authentication fetch the server's RSA
    /// public key and send the password encrypted with it (MySQL's `--get-server-public-key`;
    /// the key is not verified). Needs the clear password in `[[users]]`.
    #[serde(default)]
    pub get_server_public_key: bool,
}

impl BackendConfig {
    /// [`BackendConfig::client_tls`] of a configuration already validated (which checked it
    /// builds); clear text should it fail after all.
    pub fn validated_tls(&self) -> tandem_backend::ClientTls {
        self.client_tls()
            .unwrap_or_else(|_| tandem_backend::ClientTls::disabled())
    }

    /// The TLS settings for this node, ready to connect with.
    pub fn client_tls(&self) -> Result<tandem_backend::ClientTls, tandem_backend::TlsError> {
        let Some(t) = &self.tls else {
            return Ok(tandem_backend::ClientTls::disabled());
        };
        let host = self
            .address
            .rsplit_once(':')
            .map_or(self.address.as_str(), |(h, _)| h)
            .trim_matches(|c| c == '[' || c == ']');
        let name = t.server_name.as_deref().unwrap_or(host);
        let client = t.cert.as_deref().zip(t.key.as_deref());
        let mut tls = tandem_backend::ClientTls::new(t.mode, t.ca.as_deref(), client, name)?;
        tls.request_public_key = t.get_server_public_key;
        Ok(tls)
    }
}

impl TlsConfig {
    /// The certificate and key, loaded.
    pub fn server_tls(&self) -> Result<tandem_backend::ServerTls, tandem_backend::TlsError> {
        tandem_backend::ServerTls::from_pem(&self.cert, &self.key)
    }
}

/// `[http]`: the admin HTTP interface (`curl -u admin:secret http://127.0.0.1:9000/status`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Where to listen; loopback unless `allow_remote`.
    #[serde(default = "defaults::http_listen")]
    pub listen: SocketAddr,
    /// User for HTTP basic auth (required: every page and action needs it).
    pub user: String,
    /// Its password (required, never logged).
    pub password: String,
    /// Permit a non-loopback `listen` address.
    #[serde(default)]
    pub allow_remote: bool,
    /// Serve HTTPS with the `[tls]` certificate.
    #[serde(default)]
    pub tls: bool,
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("listen", &self.listen)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("allow_remote", &self.allow_remote)
            .field("tls", &self.tls)
            .finish()
    }
}
