//! Commands that act on sessions rather than data: `KILL [QUERY | CONNECTION] id` and
//! COM_PROCESS_KILL, where `id` is Tandem's connection id (the one the handshake gave the client),
//! mapped to the backend threads that session holds; and COM_CHANGE_USER, which Tandem answers
//! itself like the first login (the client's scramble is checked against the handshake salt) and
//! which ends every pin and returns the session's backend connections to their pools.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use tandem_protocol::{ChangeUser, OkPacket, StatusFlags};

use super::{Session, Stop};
use crate::errors;
use crate::pool::PoolKey;
use crate::shared::Control;

/// What a KILL statement asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Kill {
    pub id: u32,
    pub query_only: bool,
}

/// Parses `KILL [HARD | SOFT] [CONNECTION | QUERY] [ID] <number>`; `None` for other forms
/// (e.g. `KILL USER x`, `KILL QUERY ID` by query id), which go to the writer unchanged.
pub(super) fn parse_kill(sql: &str) -> Option<Kill> {
    let mut words = sql
        .trim()
        .trim_end_matches(';')
        .split_ascii_whitespace()
        .map(str::to_ascii_uppercase);
    if words.next()? != "KILL" {
        return None;
    }
    let mut query_only = false;
    for w in words {
        match w.as_str() {
            "HARD" | "SOFT" | "CONNECTION" => {}
            "QUERY" => query_only = true,
            n => {
                return n.parse().ok().map(|id| Kill { id, query_only });
            }
        }
    }
    None
}

impl Session {
    /// Records which backend thread this session holds on `node` (for KILL from elsewhere).
    pub(super) fn track(&self, node: usize, id: Option<u32>) {
        if let Ok(mut ids) = self.control.backend_ids.lock() {
            if ids.len() <= node {
                ids.resize(node + 1, None);
            }
            if let Some(slot) = ids.get_mut(node) {
                *slot = id;
            }
        }
    }

    /// Runs a KILL aimed at Tandem connection `k.id`.
    pub(super) async fn kill(&mut self, seq: u8, k: Kill) -> Result<(), Stop> {
        let Some(target) = self
            .shared
            .sessions
            .get(&k.id)
            .map(|c| Arc::clone(c.value()))
        else {
            let msg = format!("Unknown thread id: {}", k.id);
            return self.reply_err(seq, errors::NO_SUCH_THREAD, &msg).await;
        };
        let own = Arc::ptr_eq(&target, &self.control);
        if !own && !self.may_kill(&target) {
            let msg = format!("You are not owner of thread {}", k.id);
            return self.reply_err(seq, errors::KILL_DENIED, &msg).await;
        }
        let threads: Vec<(usize, u32)> = target
            .backend_ids
            .lock()
            .map(|ids| {
                ids.iter()
                    .enumerate()
                    .filter_map(|(n, id)| id.map(|id| (n, id)))
                    .collect()
            })
            .unwrap_or_default();
        for (node, thread) in threads {
            if own {
                continue; // our own statement is not running while we run this one
            }
            match self.backend(node).await {
                Ok(mut b) => {
                    // Best effort: the query may have finished in the meantime (ERR 1094).
                    let _ = b.conn.exec(&format!("KILL QUERY {thread}")).await;
                    self.put_back(node, b);
                }
                Err(e) => tracing::info!(node, error = %e, "KILL: backend unreachable"),
            }
        }
        if !k.query_only {
            kill_session(&target);
        }
        self.reply_ok(seq).await
    }

    /// A session may kill another of the same user, or any with `connection_admin`.
    fn may_kill(&self, target: &Control) -> bool {
        let admin = self
            .shared
            .users
            .load()
            .get(&self.login.user)
            .is_some_and(|u| u.connection_admin);
        admin
            || target
                .user
                .lock()
                .is_ok_and(|u| u.as_str() == self.login.user)
    }

    /// COM_CHANGE_USER: re-authenticates and starts the session over as the new user.
    pub(super) async fn change_user(&mut self, seq: u8, payload: &[u8]) -> Result<(), Stop> {
        // Attributes are the last field; some clients (mysql_async) send an empty attribute block
        // without having negotiated CONNECT_ATTRS, and servers accept that, so read it if present.
        let caps = self.login.capabilities | tandem_protocol::Capabilities::CONNECT_ATTRS;
        let cu = match ChangeUser::parse(payload, caps) {
            Ok(cu) => cu,
            Err(e) => {
                let msg = format!("Malformed COM_CHANGE_USER packet: {e}");
                return self.reply_err(seq, errors::MALFORMED, &msg).await;
            }
        };
        let shared = self.shared.clone();
        let stored = |user: &str| shared.users.load().get(user).map(|u| u.stored);
        let on_denied = |user: &str| crate::frontend::client_denied(&shared, user);
        let sha2_known = |user: &str| shared.sha2_entry(user);
        let sha2_learn = |user: &str, e: crate::frontend::Sha2Entry| {
            shared.sha2_cache.insert(user.to_owned(), e);
        };
        let on_login = |how: &'static str| shared.stats.login(how);
        let acceptor = crate::frontend::Acceptor {
            server_version: String::new(),
            capabilities: self.login.capabilities,
            max_handshake_size: shared.proxy.load().max_handshake_size,
            stored: &stored,
            on_denied: &on_denied,
            tls: None,
            require_tls: false,
            user_requires_tls: &|_| false,
            plugin: "mysql_native_password",
            sha2_known: &sha2_known,
            sha2_learn: &sha2_learn,
            on_login: &on_login,
            // Counted below, once the user is known to be allowed in.
            admit: &|_| Ok(None),
            rsa: None,
        };
        let answer = crate::frontend::Answer {
            seq,
            user: &cu.username,
            plugin: cu.auth_plugin_name.as_deref(),
            auth: cu.auth_response.clone(),
        };
        let salt = self.login.salt;
        let verified = crate::frontend::verify(&mut self.io, &acceptor, &salt, answer).await;
        let Ok(Some((seq, sha1))) = verified else {
            return Err(Stop::Client);
        };
        let needs_tls = shared
            .users
            .load()
            .get(&cu.username)
            .is_some_and(|u| u.require_tls);
        if needs_tls && !self.io.stream.is_tls() {
            crate::frontend::client_denied(&shared, &cu.username);
            let msg = format!(
                "Access denied for user '{}'@'{}' (using password: YES): this user must use TLS",
                cu.username,
                self.io.peer.ip()
            );
            self.reply_err(seq, errors::ACCESS_DENIED, &msg).await?;
            return Err(Stop::Client);
        }
        // The new user's slot is taken before the old one is given back (as a server does,
        // a session changing to its own user needs room for one more).
        match shared.take_user_slot(&cu.username) {
            Ok(slot) => self.login.slot = Some(slot),
            Err(msg) => {
                self.reply_err(seq, errors::TOO_MANY_USER_CONNECTIONS, &msg)
                    .await?;
                return Err(Stop::Client);
            }
        }
        self.release();
        self.stmts.clear();
        self.set_tx_node(None);
        self.last_insert_id = 0;
        self.login.user = cu.username.clone();
        if let Ok(mut u) = self.control.user.lock() {
            u.clone_from(&cu.username);
        }
        self.login.sha1 = sha1;
        if let Some(cs) = cu.charset.and_then(|c| u8::try_from(c).ok()) {
            self.login.charset = cs;
        }
        self.charset = tandem_router::CharsetClass::from_collation_id(self.login.charset);
        self.tracked = super::state::Tracked::default();
        self.login.database = cu.database.clone().filter(|d| !d.is_empty());
        self.key = PoolKey {
            user: self.login.user.clone(),
            database: self.login.database.clone(),
            capabilities: self.key.capabilities,
            charset: self.login.charset,
        };
        self.policy.reset();
        self.status = StatusFlags::AUTOCOMMIT;
        let ok = OkPacket::with_status(self.status);
        let mut p = BytesMut::new();
        ok.encode(self.login.capabilities, &mut p);
        let mut out = BytesMut::new();
        tandem_protocol::write_packet(&mut out, seq.wrapping_add(1), &p);
        self.io.send(&out).await.map_err(|_| Stop::Client)
    }
}

/// Marks a session killed and wakes it if idle.
pub(super) fn kill_session(c: &Control) {
    c.killed.store(true, Ordering::Release);
    c.kill.notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_forms() {
        assert_eq!(
            parse_kill("KILL 12"),
            Some(Kill {
                id: 12,
                query_only: false
            })
        );
        assert_eq!(
            parse_kill("kill connection 7;"),
            Some(Kill {
                id: 7,
                query_only: false
            })
        );
        assert_eq!(
            parse_kill("KILL QUERY 9"),
            Some(Kill {
                id: 9,
                query_only: true
            })
        );
        assert_eq!(
            parse_kill("KILL HARD QUERY 3"),
            Some(Kill {
                id: 3,
                query_only: true
            })
        );
        assert_eq!(parse_kill("KILL USER app"), None);
        assert_eq!(parse_kill("SELECT 1"), None);
    }
}
