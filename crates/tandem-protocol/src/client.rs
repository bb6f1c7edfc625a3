//! Sans-IO client login: the packets a client sends to authenticate to a server.
//!
//! The monitor and the proxy's backend pools log in to MariaDB/MySQL with this. The caller owns
//! the socket: it reads the server's [`Handshake`], calls [`ClientLogin::start`], writes the
//! returned [`HandshakeResponse`] with the next sequence id, then passes every server packet to
//! [`ClientLogin::handle`] until it yields [`LoginStep::Done`]. A proxy that holds only
//! `mysql_native_password` hashes logs in with [`Credential::NativeSha1`] — the SHA1(password)
//! recovered while verifying its own client (see [`crate::auth::native_password::verify`]).

use crate::auth::{
    caching_sha2, ed25519, native_password, CACHING_SHA2_PASSWORD, MYSQL_NATIVE_PASSWORD,
};
use crate::capabilities::Capabilities;
use crate::error::{ProtocolError, Result};
use crate::message::auth_more_data::AuthMoreData;
use crate::message::auth_switch::AuthSwitchRequest;
use crate::message::err::ErrPacket;
use crate::message::handshake::Handshake;
use crate::message::handshake_response::HandshakeResponse;
use crate::message::ok::OkPacket;
use crate::message::ssl_request::SslRequest;

/// Plugin that sends the password in clear text (only over TLS).
pub const MYSQL_CLEAR_PASSWORD: &str = "mysql_clear_password";

/// What the client proves its identity with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// The clear-text password (empty for none).
    Password(&'a [u8]),
    /// `SHA1(password)`: enough for mysql_native_password, not for other plugins.
    NativeSha1([u8; 20]),
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        match self {
            Credential::Password(_) => f.write_str("Password(<redacted>)"),
            Credential::NativeSha1(_) => f.write_str("NativeSha1(<redacted>)"),
        }
    }
}

/// Login parameters.
#[derive(Debug, Clone)]
pub struct LoginOptions<'a> {
    /// User name.
    pub user: &'a str,
    /// Credential.
    pub credential: Credential<'a>,
    /// Initial schema.
    pub database: Option<&'a str>,
    /// Capabilities the client would like; the result is intersected with the server's.
    pub capabilities: Capabilities,
    /// Collation id (45 = utf8mb4_general_ci).
    pub charset: u8,
    /// Largest packet the client accepts.
    pub max_packet_size: u32,
    /// Connection attributes.
    pub connect_attrs: Vec<(String, String)>,
    /// The connection is TLS-protected: plugins may then send the password in clear.
    pub secure_transport: bool,
    /// Without TLS, caching_sha2_password's full authentication asks the server for its RSA
    /// public key ([`LoginStep::Encrypt`]); otherwise it fails (MySQL's
    /// `--get-server-public-key`).
    pub request_public_key: bool,
}

impl<'a> LoginOptions<'a> {
    /// Options with default capabilities, utf8mb4 and a 16 MiB packet limit.
    pub fn new(user: &'a str, credential: Credential<'a>) -> Self {
        Self {
            user,
            credential,
            database: None,
            capabilities: Capabilities::default_client(),
            charset: 45,
            max_packet_size: 16 * 1024 * 1024,
            connect_attrs: Vec::new(),
            secure_transport: false,
            request_public_key: false,
        }
    }
}

/// What to do after a server packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginStep {
    /// Send this payload (with the next sequence id) and wait for the server's answer.
    Send(Vec<u8>),
    /// Nothing to send; read the server's next packet.
    Wait,
    /// Logged in.
    Done(OkPacket),
    /// Encrypt `plaintext` with the server's PEM `public_key` (RSA-OAEP, SHA-1), send the
    /// result (with the next sequence id) and wait (caching_sha2_password without TLS).
    Encrypt {
        public_key: Vec<u8>,
        plaintext: Scrambled,
    },
}

/// `(password ‖ NUL) XOR scramble`: as good as the password to whoever saw the scramble, so it
/// never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Scrambled(Vec<u8>);

impl Scrambled {
    /// The bytes to encrypt.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Scrambled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scrambled(<redacted>)")
    }
}

/// The login state machine; see the module docs.
#[derive(Debug, Clone)]
pub struct ClientLogin<'a> {
    opts: LoginOptions<'a>,
    caps: Capabilities,
    plugin: String,
    salt: Vec<u8>,
    done: bool,
    /// The public key was requested: the next AuthMoreData carries it.
    awaiting_key: bool,
}

impl<'a> ClientLogin<'a> {
    /// Negotiates capabilities and computes the handshake response for `server`'s handshake.
    pub fn start(server: &Handshake, opts: LoginOptions<'a>) -> Result<(Self, HandshakeResponse)> {
        let server_caps = server.capabilities;
        let required = Capabilities::PROTOCOL_41 | Capabilities::SECURE_CONNECTION;
        if !server_caps.contains(required) {
            return Err(ProtocolError::Unsupported(
                "server without 4.1 protocol and auth",
            ));
        }
        let mut caps = opts.capabilities & server_caps;
        caps |= required;
        caps.set(
            Capabilities::CONNECT_WITH_DB,
            opts.database.is_some() && server_caps.contains(Capabilities::CONNECT_WITH_DB),
        );
        caps.set(
            Capabilities::CONNECT_ATTRS,
            !opts.connect_attrs.is_empty() && caps.contains(Capabilities::CONNECT_ATTRS),
        );
        // Bit 0 doubles as "I am MySQL": mirror the server so MariaDB gets our extended caps.
        caps.set(Capabilities::LONG_PASSWORD, !server_caps.is_mariadb());

        let server_plugin = if server_caps.contains(Capabilities::PLUGIN_AUTH) {
            server.auth_plugin_name.as_str()
        } else {
            MYSQL_NATIVE_PASSWORD
        };
        let plugin = match (server_plugin, opts.credential) {
            (CACHING_SHA2_PASSWORD, Credential::Password(_)) => CACHING_SHA2_PASSWORD,
            _ => MYSQL_NATIVE_PASSWORD,
        };
        let salt = server.scramble().to_vec();
        let mut login = ClientLogin {
            opts,
            caps,
            plugin: plugin.to_owned(),
            salt,
            done: false,
            awaiting_key: false,
        };
        let auth_response = login.auth_data()?;
        let response = HandshakeResponse {
            capabilities: caps,
            max_packet_size: login.opts.max_packet_size,
            charset: login.opts.charset,
            username: login.opts.user.to_owned(),
            auth_response,
            database: login.opts.database.map(str::to_owned),
            auth_plugin_name: caps
                .contains(Capabilities::PLUGIN_AUTH)
                .then(|| login.plugin.clone()),
            connect_attrs: login.opts.connect_attrs.clone(),
            zstd_compression_level: None,
        };
        if caps.contains(Capabilities::SSL) {
            login.opts.secure_transport = true;
        }
        Ok((login, response))
    }

    /// The capabilities sent to the server (what the session runs with).
    pub fn capabilities(&self) -> Capabilities {
        self.caps
    }

    /// The SSLRequest to send before upgrading to TLS (when `SSL` was negotiated).
    pub fn ssl_request(&self) -> SslRequest {
        SslRequest {
            capabilities: self.caps,
            max_packet_size: self.opts.max_packet_size,
            charset: self.opts.charset,
        }
    }

    /// Handles one server packet of the auth phase.
    pub fn handle(&mut self, payload: &[u8]) -> Result<LoginStep> {
        if self.done {
            return Err(ProtocolError::UnexpectedPacket {
                state: "login already complete",
                first_byte: payload.first().copied().unwrap_or(0),
            });
        }
        match payload.first().copied() {
            Some(0x00) => {
                self.done = true;
                Ok(LoginStep::Done(OkPacket::parse(payload, self.caps)?))
            }
            Some(0xFF) => Err(ErrPacket::parse(payload)?.into()),
            Some(0xFE) => {
                let switch = AuthSwitchRequest::parse(payload)?;
                self.plugin = switch.plugin.clone();
                // client_ed25519 signs the whole 32-byte nonce (which may end in a zero byte).
                self.salt = if self.plugin == ed25519::CLIENT_ED25519 && switch.data.len() == 32 {
                    switch.data.clone()
                } else {
                    switch.scramble().to_vec()
                };
                Ok(LoginStep::Send(self.auth_data()?))
            }
            Some(0x01) => {
                let more = AuthMoreData::parse(payload)?;
                if self.plugin != CACHING_SHA2_PASSWORD {
                    return Err(ProtocolError::Unsupported(
                        "auth more data outside caching_sha2_password",
                    ));
                }
                if self.awaiting_key {
                    self.awaiting_key = false;
                    let Credential::Password(p) = self.opts.credential else {
                        return Err(ProtocolError::Unsupported("RSA without a clear password"));
                    };
                    let plain = caching_sha2::xor_salt(&nul_terminated(p), &self.salt);
                    return Ok(LoginStep::Encrypt {
                        public_key: more.data.to_vec(),
                        plaintext: Scrambled(plain),
                    });
                }
                match more.data.first().copied() {
                    Some(caching_sha2::FAST_AUTH_SUCCESS) => Ok(LoginStep::Wait),
                    Some(caching_sha2::PERFORM_FULL_AUTH) => match self.opts.credential {
                        Credential::Password(p) if self.opts.secure_transport => {
                            Ok(LoginStep::Send(nul_terminated(p)))
                        }
                        Credential::Password(_) if self.opts.request_public_key => {
                            self.awaiting_key = true;
                            Ok(LoginStep::Send(vec![caching_sha2::REQUEST_PUBLIC_KEY]))
                        }
                        _ => Err(ProtocolError::Unsupported(
                            "caching_sha2_password full authentication needs TLS (or \
                             get_server_public_key) and a clear password",
                        )),
                    },
                    _ => Err(ProtocolError::Malformed(
                        "unknown caching_sha2_password auth data",
                    )),
                }
            }
            _ => Err(ProtocolError::UnexpectedPacket {
                state: "logging in",
                first_byte: payload.first().copied().unwrap_or(0),
            }),
        }
    }

    /// The auth response for the current plugin and salt.
    fn auth_data(&self) -> Result<Vec<u8>> {
        match (self.plugin.as_str(), self.opts.credential) {
            (MYSQL_NATIVE_PASSWORD, Credential::Password(p)) => {
                Ok(native_password::auth_response(p, &self.salt))
            }
            (MYSQL_NATIVE_PASSWORD, Credential::NativeSha1(h)) => {
                Ok(native_password::scramble_with_sha1(&h, &self.salt).to_vec())
            }
            (CACHING_SHA2_PASSWORD, Credential::Password(p)) => Ok(if p.is_empty() {
                Vec::new()
            } else {
                caching_sha2::scramble(p, &self.salt).to_vec()
            }),
            (ed25519::CLIENT_ED25519, Credential::Password(p)) => {
                Ok(ed25519::sign(p, &self.salt).to_vec())
            }
            (MYSQL_CLEAR_PASSWORD, Credential::Password(p)) if self.opts.secure_transport => {
                Ok(nul_terminated(p))
            }
            _ => Err(ProtocolError::Unsupported(
                "auth plugin not supported for this credential",
            )),
        }
    }
}

fn nul_terminated(p: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(p.len().saturating_add(1));
    v.extend_from_slice(p);
    v.push(0);
    v
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
