//! The client-facing handshake: Tandem authenticates clients itself (mysql_native_password), so a
//! wrong password never costs a backend connection. A successful check also recovers SHA1(password)
//! from the client's scramble, which is what logs the session in to the backends as the same user —
//! the proxy never needs clear-text passwords.

use bytes::BytesMut;
use tandem_protocol::auth::{caching_sha2, generate_salt, native_password};
use tandem_protocol::{
    AuthSwitchRequest, Capabilities, Handshake, HandshakeResponse, OkPacket, StatusFlags,
};
use tokio::io::AsyncWriteExt;

use crate::errors::{self, write_err};
use crate::session::ClientIo;
use crate::shared::Shared;
use std::sync::Arc;
use tandem_backend::ServerTls;

/// What the proxy offers clients. No SSL (yet), no compression, no MariaDB extended capabilities:
/// backend connections are opened with exactly the subset a client negotiated.
pub fn server_capabilities() -> Capabilities {
    Capabilities::LONG_PASSWORD
        | Capabilities::FOUND_ROWS
        | Capabilities::LONG_FLAG
        | Capabilities::CONNECT_WITH_DB
        | Capabilities::LOCAL_FILES
        | Capabilities::IGNORE_SPACE
        | Capabilities::PROTOCOL_41
        | Capabilities::INTERACTIVE
        | Capabilities::TRANSACTIONS
        | Capabilities::SECURE_CONNECTION
        | Capabilities::MULTI_STATEMENTS
        | Capabilities::MULTI_RESULTS
        | Capabilities::PS_MULTI_RESULTS
        | Capabilities::PLUGIN_AUTH
        | Capabilities::CONNECT_ATTRS
        | Capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA
        | Capabilities::SESSION_TRACK
        | Capabilities::DEPRECATE_EOF
}

/// Capabilities that shape the backend conversation (part of the pool key): what the client
/// negotiated, less what only concerns the client-side login, plus session tracking, which
/// Tandem always asks for: it learns a session's state from the servers' reports (and strips
/// them from OK packets for a client that did not ask for them).
pub fn backend_capabilities(client: Capabilities) -> Capabilities {
    let login_only = Capabilities::CONNECT_WITH_DB | Capabilities::CONNECT_ATTRS;
    (client & server_capabilities() & !login_only)
        | Capabilities::PROTOCOL_41
        | Capabilities::SECURE_CONNECTION
        | Capabilities::PLUGIN_AUTH
        | Capabilities::SESSION_TRACK
}

/// An authenticated client.
pub struct ClientLogin {
    /// The handshake scramble (COM_CHANGE_USER answers are computed with it).
    pub salt: [u8; 20],
    pub user: String,
    pub sha1: [u8; 20],
    pub capabilities: Capabilities,
    pub charset: u8,
    pub database: Option<String>,
    /// The session counted against its user's `max_connections` (client listener only).
    pub slot: Option<crate::shared::UserSlot>,
}

pub enum Outcome {
    LoggedIn(ClientLogin),
    /// The client was told why (or vanished); close the connection.
    Rejected,
}

/// Whom a listener accepts and what it offers them: the client listener (users from the
/// configuration) and the admin listener (its one user) share one login path.
pub struct Acceptor<'a> {
    /// The version string in the handshake.
    pub server_version: String,
    /// The capabilities offered.
    pub capabilities: Capabilities,
    /// Largest handshake response accepted (refused from its header, nothing buffered).
    pub max_handshake_size: usize,
    /// The stored `SHA1(SHA1(password))` of a user that may log in here.
    pub stored: &'a (dyn Fn(&str) -> Option<[u8; 20]> + Send + Sync),
    /// Called with the user name of a refused login (counting, logging; never the password).
    pub on_denied: &'a (dyn Fn(&str) + Send + Sync),
    /// TLS offered to clients (`CLIENT_SSL`), when configured.
    pub tls: Option<Arc<ServerTls>>,
    /// Refuse clients without TLS (ERR 3159).
    pub require_tls: bool,
    /// Users that may log in only over TLS.
    pub user_requires_tls: &'a (dyn Fn(&str) -> bool + Send + Sync),
    /// The plugin announced in the handshake (`mysql_native_password` or
    /// `caching_sha2_password`).
    pub plugin: &'static str,
    /// caching_sha2_password: the `SHA256(SHA256(pw))` and `SHA1(pw)` known for a user (from a
    /// clear-text password in the configuration, or learnt from a full authentication).
    pub sha2_known: &'a (dyn Fn(&str) -> Option<Sha2Entry> + Send + Sync),
    /// Remembers a user's caching_sha2 entry after a full authentication.
    pub sha2_learn: &'a (dyn Fn(&str, Sha2Entry) + Send + Sync),
    /// Called on each accepted login with how it was checked: `native`, `sha2_fast` or
    /// `sha2_full`.
    pub on_login: &'a (dyn Fn(&'static str) + Send + Sync),
    /// Counts an authenticated session against its user's limit: `Err` is the message of the
    /// refusal (ERR 1203).
    pub admit: &'a (dyn Fn(&str) -> Result<Option<crate::shared::UserSlot>, String> + Send + Sync),
    /// caching_sha2_password's full authentication without TLS by RSA key exchange (the
    /// client asks for this public key, sends the password encrypted with it) instead of a
    /// switch to mysql_native_password.
    pub rsa: Option<&'a tandem_backend::rsa::ServerKey>,
}

/// What caching_sha2_password's fast path needs for one user, plus the `SHA1(pw)` Tandem logs
/// in to the backends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sha2Entry {
    /// `SHA256(SHA256(pw))`.
    pub stored: [u8; 32],
    /// `SHA1(pw)`.
    pub sha1: [u8; 20],
}

impl Sha2Entry {
    /// From a clear-text password.
    pub fn from_password(pw: &[u8]) -> Sha2Entry {
        Sha2Entry {
            stored: caching_sha2::hash_password(pw),
            sha1: native_password::sha1_password(pw),
        }
    }
}

/// Acceptor parts for listeners without caching_sha2_password (admin).
pub fn no_sha2(_: &str) -> Option<Sha2Entry> {
    None
}

/// See [`no_sha2`].
pub fn no_sha2_learn(_: &str, _: Sha2Entry) {}

/// See [`no_sha2`].
pub fn uncounted(_: &'static str) {}

const NATIVE: &str = "mysql_native_password";
const SHA2: &str = "caching_sha2_password";

/// Runs the client listener's handshake and authentication; the caller applies the timeout.
pub async fn handshake(
    io: &mut ClientIo,
    shared: &Shared,
    conn_id: u32,
) -> Result<Outcome, std::io::Error> {
    let stored = |user: &str| shared.users.load().get(user).map(|u| u.stored);
    let on_denied = |user: &str| client_denied(shared, user);
    let requires = |user: &str| shared.users.load().get(user).is_some_and(|u| u.require_tls);
    let sha2_known = |user: &str| shared.sha2_entry(user);
    let sha2_learn = |user: &str, e: Sha2Entry| {
        shared.sha2_cache.insert(user.to_owned(), e);
    };
    let on_login = |how: &'static str| shared.stats.login(how);
    let admit = |user: &str| shared.take_user_slot(user).map(Some);
    let tls = shared.server_tls.load_full();
    let mut capabilities = server_capabilities();
    if tls.is_some() {
        capabilities |= Capabilities::SSL;
    }
    let acceptor = Acceptor {
        server_version: server_version(shared),
        capabilities,
        max_handshake_size: shared.proxy.load().max_handshake_size,
        stored: &stored,
        on_denied: &on_denied,
        require_tls: tls.is_some() && shared.config.tls.as_ref().is_some_and(|t| t.require),
        tls,
        user_requires_tls: &requires,
        plugin: announced_plugin(shared),
        sha2_known: &sha2_known,
        sha2_learn: &sha2_learn,
        on_login: &on_login,
        admit: &admit,
        rsa: shared.rsa_key(),
    };
    authenticate(io, &acceptor, conn_id).await
}

/// A refused client login: counted and logged (the user name only).
pub fn client_denied(shared: &Shared, user: &str) {
    shared
        .stats
        .auth_failures
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(user = %user, "authentication failed");
}

/// The handshake and `mysql_native_password` authentication against `acceptor`: a fresh salt,
/// an auth switch for clients that start with another plugin, `Access denied` (1045) for a
/// wrong user or password, `Bad handshake` (1043) for a malformed or oversized response.
pub async fn authenticate(
    io: &mut ClientIo,
    acceptor: &Acceptor<'_>,
    conn_id: u32,
) -> Result<Outcome, std::io::Error> {
    let salt = generate_salt();
    send_handshake(io, acceptor, conn_id, &salt).await?;
    let Some((mut seq, mut pkt)) = read_response(io, acceptor).await? else {
        return Ok(Outcome::Rejected);
    };
    if is_ssl_request(&pkt) {
        let Some(tls) = &acceptor.tls else {
            let msg = "SSL is not enabled on this Tandem listener";
            return reject(io, seq.wrapping_add(1), errors::BAD_HANDSHAKE, msg).await;
        };
        if let Err(e) = io.upgrade(tls).await {
            tracing::info!(client = %io.peer, error = %e, "TLS handshake failed");
            return Ok(Outcome::Rejected);
        }
        (seq, pkt) = match read_response(io, acceptor).await? {
            Some(p) => p,
            None => return Ok(Outcome::Rejected),
        };
    }
    if acceptor.require_tls && !io.stream.is_tls() {
        let msg = "Connections using insecure transport are prohibited while \
                   --require_secure_transport=ON.";
        let seq = seq.wrapping_add(1);
        return reject(io, seq, errors::SECURE_TRANSPORT_REQUIRED, msg).await;
    }
    let resp = match HandshakeResponse::parse(&pkt) {
        Ok(r) => r,
        Err(_) => {
            return reject(
                io,
                seq.wrapping_add(1),
                errors::BAD_HANDSHAKE,
                "Bad handshake",
            )
            .await;
        }
    };
    if resp.capabilities.contains(Capabilities::SSL) && !io.stream.is_tls() {
        let msg = "SSL is not enabled on this Tandem listener";
        return reject(io, seq.wrapping_add(1), errors::BAD_HANDSHAKE, msg).await;
    }
    let user = resp.username.clone();
    let answer = Answer {
        seq,
        user: &user,
        plugin: resp.auth_plugin_name.as_deref(),
        auth: resp.auth_response.clone(),
    };
    let Some((seq, sha1)) = verify(io, acceptor, &salt, answer).await? else {
        return Ok(Outcome::Rejected);
    };
    if !io.stream.is_tls() && (acceptor.user_requires_tls)(&user) {
        (acceptor.on_denied)(&user);
        let msg = format!(
            "Access denied for user '{user}'@'{}' (using password: YES): this user must use TLS",
            io.peer.ip()
        );
        return reject(io, seq.wrapping_add(1), errors::ACCESS_DENIED, &msg).await;
    }
    let slot = match (acceptor.admit)(&user) {
        Ok(slot) => slot,
        Err(msg) => {
            tracing::info!(user = %user, "login refused: the user's max_connections is reached");
            let seq = seq.wrapping_add(1);
            return reject(io, seq, errors::TOO_MANY_USER_CONNECTIONS, &msg).await;
        }
    };
    let capabilities = resp.capabilities & acceptor.capabilities;
    let ok = OkPacket {
        status: StatusFlags::AUTOCOMMIT,
        ..OkPacket::default()
    };
    let mut p = BytesMut::new();
    ok.encode(capabilities, &mut p);
    let mut out = BytesMut::new();
    tandem_protocol::write_packet(&mut out, seq.wrapping_add(1), &p);
    io.stream.write_all(&out).await?;
    Ok(Outcome::LoggedIn(ClientLogin {
        salt,
        user,
        sha1,
        capabilities,
        charset: resp.charset,
        database: resp.database.clone().filter(|d| !d.is_empty()),
        slot,
    }))
}

/// The client's handshake response (or SSLRequest); `None` when it left or was refused.
async fn read_response(
    io: &mut ClientIo,
    acceptor: &Acceptor<'_>,
) -> Result<Option<(u8, bytes::Bytes)>, std::io::Error> {
    let limit = acceptor.max_handshake_size;
    match io.read_packet(limit).await {
        Ok(p) => Ok(p),
        Err(e)
            if e.get_ref()
                .is_some_and(|i| i.is::<crate::client_io::TooLarge>()) =>
        {
            // Refused from the header alone: nothing of it was buffered.
            tracing::info!(client = %io.peer, limit, "handshake response too large");
            let _ = reject(io, 2, errors::BAD_HANDSHAKE, "Bad handshake").await;
            io.linger_close().await;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// An SSLRequest: the first 32 bytes of a handshake response, with `CLIENT_SSL`, and nothing
/// after them.
fn is_ssl_request(pkt: &[u8]) -> bool {
    pkt.len() == 32
        && tandem_protocol::SslRequest::parse(pkt)
            .is_ok_and(|r| r.capabilities.contains(Capabilities::SSL))
}

/// The server greeting: protocol 10, a fresh salt, mysql_native_password.
async fn send_handshake(
    io: &mut ClientIo,
    acceptor: &Acceptor<'_>,
    conn_id: u32,
    salt: &[u8; 20],
) -> Result<(), std::io::Error> {
    let hs = Handshake {
        protocol_version: 10,
        server_version: acceptor.server_version.clone(),
        connection_id: conn_id,
        auth_plugin_data: salt.to_vec(),
        capabilities: acceptor.capabilities,
        charset: 45,
        status: StatusFlags::AUTOCOMMIT,
        auth_plugin_name: acceptor.plugin.to_owned(),
    };
    let mut payload = BytesMut::new();
    hs.encode(&mut payload);
    let mut out = BytesMut::new();
    tandem_protocol::write_packet(&mut out, 0, &payload);
    io.stream.write_all(&out).await
}

/// A client's answer to a login challenge: from a handshake response or a COM_CHANGE_USER.
pub struct Answer<'a> {
    /// Sequence id of the packet that carried it.
    pub seq: u8,
    /// The user name it logs in as.
    pub user: &'a str,
    /// The plugin the client computed `auth` with (`None`: mysql_native_password).
    pub plugin: Option<&'a str>,
    /// The auth response.
    pub auth: Vec<u8>,
}

/// The one check of a login, shared by the client listener, COM_CHANGE_USER and the admin
/// listener: a client that answered with another plugin is switched to mysql_native_password,
/// then its answer is checked against `acceptor`'s stored hash. Returns the sequence id of the
/// last client packet and the recovered `SHA1(password)` (for logging in to the backends), or
/// `None` after telling the client `Access denied` (1045), or when it left.
pub async fn verify(
    io: &mut ClientIo,
    acceptor: &Acceptor<'_>,
    salt: &[u8; 20],
    answer: Answer<'_>,
) -> Result<Option<(u8, [u8; 20])>, std::io::Error> {
    let Answer {
        mut seq,
        user,
        plugin,
        mut auth,
    } = answer;
    if plugin == Some(SHA2) {
        match sha2_login(io, acceptor, salt, seq, user, &auth).await? {
            Sha2::Accepted(seq, sha1, how) => {
                (acceptor.on_login)(how);
                return Ok(Some((seq, sha1)));
            }
            Sha2::Denied(last) => return deny(io, acceptor, user, last, true).await,
            Sha2::Fallback => {}
        }
    }
    if plugin.is_some_and(|p| p != NATIVE) {
        let mut data = salt.to_vec();
        data.push(0);
        let switch = AuthSwitchRequest {
            plugin: NATIVE.to_owned(),
            data,
        };
        let mut p = BytesMut::new();
        switch.encode(&mut p);
        let mut out = BytesMut::new();
        tandem_protocol::write_packet(&mut out, seq.wrapping_add(1), &p);
        io.stream.write_all(&out).await?;
        let Some((s, data)) = io.read_packet(1024).await? else {
            return Ok(None);
        };
        seq = s;
        auth = data.to_vec();
    }
    let sha1 =
        (acceptor.stored)(user).and_then(|stored| native_password::verify(&stored, salt, &auth));
    match sha1 {
        Some(sha1) => {
            (acceptor.on_login)("native");
            Ok(Some((seq, sha1)))
        }
        None => deny(io, acceptor, user, seq, !auth.is_empty()).await,
    }
}

/// Tells the client `Access denied` (1045) after its packet `seq`.
async fn deny(
    io: &mut ClientIo,
    acceptor: &Acceptor<'_>,
    user: &str,
    seq: u8,
    with_password: bool,
) -> Result<Option<(u8, [u8; 20])>, std::io::Error> {
    (acceptor.on_denied)(user);
    let denied = format!(
        "Access denied for user '{user}'@'{}' (using password: {})",
        io.peer.ip(),
        if with_password { "YES" } else { "NO" }
    );
    reject(io, seq.wrapping_add(1), errors::ACCESS_DENIED, &denied).await?;
    Ok(None)
}

enum Sha2 {
    /// Logged in; the last packet's sequence id, `SHA1(pw)`, and the path taken.
    Accepted(u8, [u8; 20], &'static str),
    /// Wrong password, after the client's packet with this sequence id.
    Denied(u8),
    /// Nothing sent: fall back to switching the client to mysql_native_password.
    Fallback,
}

/// caching_sha2_password as a MySQL 8 server runs it: the fast path when Tandem knows the
/// user's `SHA256(SHA256(pw))` (0x03, then OK); otherwise, over TLS, a full authentication
/// (0x04, the client sends its password, checked against the stored hash and remembered).
/// Without TLS and without the hash, Tandem asks the client to switch to mysql_native_password,
/// or with `rsa_key_exchange` runs the RSA key exchange as a MySQL 8 server would.
async fn sha2_login(
    io: &mut ClientIo,
    acceptor: &Acceptor<'_>,
    salt: &[u8; 20],
    seq: u8,
    user: &str,
    auth: &[u8],
) -> Result<Sha2, std::io::Error> {
    let stored = (acceptor.stored)(user);
    let known =
        (acceptor.sha2_known)(user).filter(|e| stored == Some(native_password::hash_sha1(&e.sha1)));
    if let Some(entry) = known {
        if caching_sha2::verify(&entry.stored, salt, auth).is_some() {
            send_more_data(io, seq.wrapping_add(1), caching_sha2::FAST_AUTH_SUCCESS).await?;
            return Ok(Sha2::Accepted(seq.wrapping_add(1), entry.sha1, "sha2_fast"));
        }
        if !io.stream.is_tls() {
            return Ok(Sha2::Denied(seq));
        }
    }
    let rsa = acceptor.rsa.filter(|_| !io.stream.is_tls());
    if !io.stream.is_tls() && rsa.is_none() {
        return Ok(Sha2::Fallback);
    }
    send_more_data(io, seq.wrapping_add(1), caching_sha2::PERFORM_FULL_AUTH).await?;
    let Some((mut seq, mut data)) = io.read_packet(1024).await? else {
        return Ok(Sha2::Denied(seq.wrapping_add(2)));
    };
    if let Some(key) = rsa {
        if data[..] == [caching_sha2::REQUEST_PUBLIC_KEY] {
            let mut more = vec![0x01];
            more.extend_from_slice(key.public_pem());
            let mut out = BytesMut::new();
            tandem_protocol::write_packet(&mut out, seq.wrapping_add(1), &more);
            io.stream.write_all(&out).await?;
            let Some(next) = io.read_packet(1024).await? else {
                return Ok(Sha2::Denied(seq.wrapping_add(2)));
            };
            (seq, data) = next;
        }
        // The password, `XOR`ed with the salt and encrypted with the public key.
        data = match key.decrypt(&data) {
            Ok(plain) => caching_sha2::xor_salt(&plain, salt).into(),
            Err(_) => return Ok(Sha2::Denied(seq)),
        };
    }
    let password = data.strip_suffix(&[0]).unwrap_or(&data);
    match stored {
        Some(h) if native_password::hash_password(password) == h => {
            let entry = Sha2Entry::from_password(password);
            (acceptor.sha2_learn)(user, entry);
            Ok(Sha2::Accepted(seq, entry.sha1, "sha2_full"))
        }
        _ => Ok(Sha2::Denied(seq)),
    }
}

async fn send_more_data(io: &mut ClientIo, seq: u8, status: u8) -> Result<(), std::io::Error> {
    let mut out = BytesMut::new();
    tandem_protocol::write_packet(&mut out, seq, &[0x01, status]);
    io.stream.write_all(&out).await
}

/// The plugin the client listener announces: `[proxy] default_auth`, where `auto` is what the
/// writer would announce (caching_sha2_password for MySQL 8 and later).
fn announced_plugin(shared: &Shared) -> &'static str {
    use crate::config::DefaultAuth;
    match shared.config.proxy.default_auth {
        DefaultAuth::MysqlNativePassword => NATIVE,
        DefaultAuth::CachingSha2Password => SHA2,
        DefaultAuth::Auto => {
            let snap = shared.topology.load();
            let mysql8 = snap
                .writer
                .and_then(|w| snap.nodes.get(w))
                .and_then(|n| n.status.as_ref())
                .is_some_and(|s| {
                    s.flavor == tandem_monitor::Flavor::MySql
                        && s.version
                            .split('.')
                            .next()
                            .and_then(|v| v.parse::<u32>().ok())
                            >= Some(8)
                });
            if mysql8 {
                SHA2
            } else {
                NATIVE
            }
        }
    }
}

async fn reject(
    io: &mut ClientIo,
    seq: u8,
    code: (u16, &str),
    msg: &str,
) -> Result<Outcome, std::io::Error> {
    let mut out = BytesMut::new();
    write_err(&mut out, seq, code, msg);
    io.stream.write_all(&out).await?;
    Ok(Outcome::Rejected)
}

/// The version string clients see: the writer's (MariaDB style), so drivers detect the flavour.
fn server_version(shared: &Shared) -> String {
    let view = shared.topology.load();
    let snap = &*view;
    let status = snap
        .writer
        .and_then(|w| snap.nodes.get(w))
        .or_else(|| snap.nodes.iter().find(|n| n.status.is_some()))
        .and_then(|n| n.status.as_ref());
    match status {
        Some(s) if s.flavor == tandem_monitor::Flavor::MariaDb => format!("5.5.5-{}", s.version),
        Some(s) => s.version.clone(),
        None => "5.5.5-10.11.0-MariaDB-tandem".to_owned(),
    }
}
