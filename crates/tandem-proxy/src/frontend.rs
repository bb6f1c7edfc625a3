//! The client-facing handshake: Tandem authenticates clients itself (mysql_native_password), so a
//! wrong password never costs a backend connection. A successful check also recovers SHA1(password)
//! from the client's scramble, which is what logs the session in to the backends as the same user —
//! the proxy never needs clear-text passwords.

use bytes::BytesMut;
use tandem_protocol::auth::{generate_salt, native_password};
use tandem_protocol::{
    AuthSwitchRequest, Capabilities, Handshake, HandshakeResponse, OkPacket, StatusFlags,
};
use tokio::io::AsyncWriteExt;

use crate::errors::{self, write_err};
use crate::session::ClientIo;
use crate::shared::Shared;

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
}

const NATIVE: &str = "mysql_native_password";

/// Runs the client listener's handshake and authentication; the caller applies the timeout.
pub async fn handshake(
    io: &mut ClientIo,
    shared: &Shared,
    conn_id: u32,
) -> Result<Outcome, std::io::Error> {
    let stored = |user: &str| shared.users.load().get(user).map(|u| u.stored);
    let on_denied = |user: &str| client_denied(shared, user);
    let acceptor = Acceptor {
        server_version: server_version(shared),
        capabilities: server_capabilities(),
        max_handshake_size: shared.proxy.load().max_handshake_size,
        stored: &stored,
        on_denied: &on_denied,
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
    let limit = acceptor.max_handshake_size;
    let (seq, pkt) = match io.read_packet(limit).await {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(Outcome::Rejected),
        Err(e)
            if e.get_ref()
                .is_some_and(|i| i.is::<crate::client_io::TooLarge>()) =>
        {
            // Refused from the header alone: nothing of it was buffered.
            tracing::info!(client = %io.peer, limit, "handshake response too large");
            let out = reject(io, 2, errors::BAD_HANDSHAKE, "Bad handshake").await;
            io.linger_close().await;
            return out;
        }
        Err(e) => return Err(e),
    };
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
    if resp.capabilities.contains(Capabilities::SSL) {
        return reject(
            io,
            seq.wrapping_add(1),
            errors::BAD_HANDSHAKE,
            "SSL is not enabled on this Tandem listener",
        )
        .await;
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
    }))
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
        auth_plugin_name: NATIVE.to_owned(),
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
        Some(sha1) => Ok(Some((seq, sha1))),
        None => {
            (acceptor.on_denied)(user);
            let denied = format!(
                "Access denied for user '{user}'@'{}' (using password: {})",
                io.peer.ip(),
                if auth.is_empty() { "NO" } else { "YES" }
            );
            reject(io, seq.wrapping_add(1), errors::ACCESS_DENIED, &denied).await?;
            Ok(None)
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
