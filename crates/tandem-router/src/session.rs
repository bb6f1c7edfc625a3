//! [`SessionPolicy`]: the per-client-session state machine that says "writer or any reader?".
//!
//! It is fed two things, in protocol order: each statement as it is sent
//! ([`on_statement`](SessionPolicy::on_statement)) and the final server status flags of each
//! response ([`on_response`](SessionPolicy::on_response)). The status flags — not guesses from
//! SQL — decide whether a transaction is open or autocommit is off; SQL only pins *early*
//! (after `BEGIN` or `SET autocommit=0` is sent, until the answer arrives), which errs towards
//! the writer. Everything else that ties a session to its writer connection is tracked from the
//! statements: table locks, temporary tables, `GET_LOCK` locks, user variables, SQL `PREPARE`,
//! `HANDLER` cursors, XA, stored routines, and the read-your-writes window after a write.
//!
//! Time is an argument (`now: Instant`); the policy never reads a clock, so tests and embedding
//! services drive it deterministically.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::keywords::{keyword, Kw};
use crate::lexer::Tok;
use crate::scan::Cursor;
use crate::state::{unquote_ident, SessionState};
use crate::{classify, split_statements, PinReasons, SetKind, Statement, StatementKind as K};
use crate::{Hint, StmtFlags as F};

/// Server status flag: a transaction is open.
pub const SERVER_STATUS_IN_TRANS: u16 = 0x0001;
/// Server status flag: autocommit is on.
pub const SERVER_STATUS_AUTOCOMMIT: u16 = 0x0002;
/// Server status flag: the open transaction is read-only.
pub const SERVER_STATUS_IN_TRANS_READONLY: u16 = 0x2000;

/// Where a statement goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Route {
    /// The single writer node (this session's writer connection).
    Writer,
    /// Any reader chosen by [`Topology::reader`](crate::Topology::reader).
    Reader,
}

/// A routing decision with its reasons (empty reasons ⇔ [`Route::Reader`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Where to send the statement.
    pub route: Route,
    /// Why it must go to the writer (session pins plus `HINT` / `STATEMENT`).
    pub reasons: PinReasons,
}

/// Per-session policy settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct PolicyConfig {
    /// After a write, keep reading from the writer for this long (`None` disables). Default 1 s.
    pub read_your_writes: Option<Duration>,
    /// Pin the session for good after `CALL` or a call to an unknown (stored) function, whose
    /// session side effects (temporary tables, user variables, locks) cannot be seen. Default on.
    pub pin_after_routine: bool,
    /// Honour `/* tandem:writer */` and `/* tandem:reader */` hints. Default on.
    pub honor_hints: bool,
    /// Maximum number of replayable session-state statements; beyond it the session is pinned
    /// ([`PinReasons::STATE_OVERFLOW`]). Default 256.
    pub max_session_state: usize,
    /// Keep the [`session_state`](SessionPolicy::session_state) replay list from the text of
    /// `SET`/`USE` statements, pinning the session for a `SET` that cannot be re-run safely.
    /// A caller that learns session state from the servers themselves (session tracking in OK
    /// packets, as Tandem's proxy does) turns this off. Default on.
    pub state_from_text: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            read_your_writes: Some(Duration::from_secs(1)),
            pin_after_routine: true,
            honor_hints: true,
            max_session_state: 256,
            state_from_text: true,
        }
    }
}

/// The routing state of one client session.
///
/// Fed two things in protocol order — each statement as it is sent
/// ([`on_statement`](Self::on_statement)) and the final server status flags of each response
/// ([`on_response`](Self::on_response)) — it answers [`route`](Self::route). The status flags,
/// not guesses from SQL, decide whether a transaction is open or autocommit is off; SQL only
/// pins *early* (after `BEGIN` or `SET autocommit=0` is sent, until the answer arrives). Other
/// pins come from the statements: table locks, temporary tables, `GET_LOCK` locks, user
/// variables, SQL `PREPARE`, `HANDLER`, XA, stored routines, and the read-your-writes window.
/// See [`PinReasons`] for each reason and when it ends.
///
/// ```
/// use std::time::{Duration, Instant};
/// use tandem_router::{classify, PolicyConfig, Route, SessionPolicy};
///
/// let mut s = SessionPolicy::new(PolicyConfig::default());
/// let t0 = Instant::now();
/// let read = classify("SELECT name FROM ps_product WHERE id_product = 1");
/// assert_eq!(s.route(&read, t0), Route::Reader);
///
/// let begin = classify("BEGIN");
/// s.on_statement(&begin, "BEGIN", t0);
/// assert_eq!(s.route(&read, t0), Route::Writer); // BEGIN sent, no answer yet
/// s.on_response(0x0003, true); // IN_TRANS | AUTOCOMMIT
/// assert_eq!(s.route(&read, t0), Route::Writer);
/// s.on_statement(&classify("COMMIT"), "COMMIT", t0);
/// s.on_response(0x0002, true); // AUTOCOMMIT only: transaction over
/// assert_eq!(s.route(&read, t0 + Duration::from_secs(2)), Route::Reader);
/// ```
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    cfg: PolicyConfig,
    in_trans: bool,
    read_only_trans: bool,
    autocommit_off: bool,
    table_lock: bool,
    temp_tables: BTreeSet<String>,
    user_locks: u32,
    user_vars: bool,
    prepared: BTreeSet<String>,
    handlers: BTreeSet<String>,
    xa: bool,
    routine: bool,
    last_write: Option<Instant>,
    write_in_flight: bool,
    trans_wrote: bool,
    state: SessionState,
}

impl SessionPolicy {
    /// A fresh session (autocommit on, no transaction, nothing pinned).
    pub fn new(cfg: PolicyConfig) -> Self {
        let state = SessionState::new(cfg.max_session_state);
        SessionPolicy {
            cfg,
            in_trans: false,
            read_only_trans: false,
            autocommit_off: false,
            table_lock: false,
            temp_tables: BTreeSet::new(),
            user_locks: 0,
            user_vars: false,
            prepared: BTreeSet::new(),
            handlers: BTreeSet::new(),
            xa: false,
            routine: false,
            last_write: None,
            write_in_flight: false,
            trans_wrote: false,
            state,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PolicyConfig {
        &self.cfg
    }

    /// Where `stmt` goes: [`Route::Writer`] whenever the session is pinned or the statement is
    /// not [read-only](Statement::is_read_only). Call before sending it.
    pub fn route(&self, stmt: &Statement, now: Instant) -> Route {
        self.decide(stmt, now).route
    }

    /// [`route`](Self::route) with the reasons, for logs and metrics.
    pub fn decide(&self, stmt: &Statement, now: Instant) -> Decision {
        let mut why = self.pins(now);
        if self.cfg.honor_hints {
            match stmt.hint {
                Some(Hint::Writer) => why |= PinReasons::HINT,
                Some(Hint::Reader) => why.remove(PinReasons::SOFT),
                None => {}
            }
        }
        if !stmt.is_read_only() {
            why |= PinReasons::STATEMENT;
        }
        let route = if why.is_empty() {
            Route::Reader
        } else {
            Route::Writer
        };
        Decision {
            route,
            reasons: why,
        }
    }

    /// Why the session is pinned to the writer at `now` (empty when reads may spread).
    pub fn pins(&self, now: Instant) -> PinReasons {
        let mut p = self.pins_at_rest();
        let rw = match (self.cfg.read_your_writes, self.last_write) {
            (Some(window), Some(at)) => {
                self.write_in_flight || now.saturating_duration_since(at) < window
            }
            _ => false,
        };
        p.set(PinReasons::READ_YOUR_WRITES, rw);
        p
    }

    /// What ties the session to the backend connections it holds (state that lives only
    /// there: a transaction, locks, temporary tables, user variables, SQL prepared statements,
    /// cursors, XA, a routine's unknown side effects, untracked state). Empty when a proxy may
    /// give the connections back to a pool and serve the next statement from another one with
    /// the session's variables re-applied (multiplexing). The read-your-writes window routes to
    /// the writer but ties to no connection, so it is not counted.
    pub fn holds_connection(&self) -> PinReasons {
        self.pins_at_rest()
    }

    /// The session-level pins that do not depend on time (all but the read-your-writes window).
    fn pins_at_rest(&self) -> PinReasons {
        let mut p = PinReasons::empty();
        p.set(PinReasons::TRANSACTION, self.in_trans);
        p.set(PinReasons::AUTOCOMMIT_OFF, self.autocommit_off);
        p.set(PinReasons::TABLE_LOCK, self.table_lock);
        p.set(PinReasons::TEMP_TABLE, !self.temp_tables.is_empty());
        p.set(PinReasons::USER_LOCK, self.user_locks > 0);
        p.set(PinReasons::USER_VARS, self.user_vars);
        p.set(PinReasons::PREPARED, !self.prepared.is_empty());
        p.set(PinReasons::HANDLER, !self.handlers.is_empty());
        p.set(PinReasons::XA, self.xa);
        p.set(PinReasons::ROUTINE, self.routine);
        p.set(PinReasons::STATE_OVERFLOW, self.state.overflow);
        p
    }

    /// `true` when [`pins`](Self::pins) is not empty.
    pub fn is_pinned(&self, now: Instant) -> bool {
        !self.pins(now).is_empty()
    }

    /// `true` while the server reports an open transaction (or `BEGIN` awaits its answer).
    pub fn in_transaction(&self) -> bool {
        self.in_trans
    }

    /// `true` when the open transaction is read-only (`IN_TRANS_READONLY`).
    pub fn in_read_only_transaction(&self) -> bool {
        self.in_trans && self.read_only_trans
    }

    /// When the read-your-writes window ends, if one is running (`None` when the window is off,
    /// no write happened, or a write is still awaiting its response).
    pub fn read_your_writes_until(&self) -> Option<Instant> {
        if self.write_in_flight {
            return None;
        }
        Some(self.last_write? + self.cfg.read_your_writes?)
    }

    /// The statements to replay on another backend connection to recreate this session's state
    /// (`USE`, `SET NAMES`, `SET SESSION ...`, `SET SESSION TRANSACTION ...`), in order.
    pub fn session_state(&self) -> &[String] {
        self.state.statements()
    }

    /// `COM_INIT_DB`: the default schema changed.
    pub fn on_init_db(&mut self, db: &str) {
        if self.cfg.state_from_text {
            self.state.set_schema(db);
        }
    }

    /// `COM_RESET_CONNECTION` / `COM_CHANGE_USER`: back to a fresh session (configuration kept).
    pub fn reset(&mut self) {
        *self = SessionPolicy::new(self.cfg.clone());
    }

    /// Records that `stmt` (classified from `sql`) was sent. Updates pins and session state;
    /// multi-statement text is applied part by part.
    pub fn on_statement(&mut self, stmt: &Statement, sql: &str, now: Instant) {
        if stmt.flags.contains(F::MULTI_STATEMENT) {
            for part in split_statements(sql) {
                self.apply(&classify(part), part, now);
            }
        } else {
            self.apply(stmt, sql, now);
        }
    }

    /// Records the final server status flags of a response (`ok = false` for an ERR packet,
    /// which carries no status: the state is kept, erring towards the writer). Feed every
    /// response, including the backend handshake's OK so a server-side `autocommit=0` is seen.
    pub fn on_response(&mut self, status: u16, ok: bool) {
        self.write_in_flight = false;
        if !ok {
            return;
        }
        self.in_trans = status & SERVER_STATUS_IN_TRANS != 0;
        self.read_only_trans = status & SERVER_STATUS_IN_TRANS_READONLY != 0;
        self.autocommit_off = status & SERVER_STATUS_AUTOCOMMIT == 0;
        if !self.in_trans && !self.autocommit_off {
            self.trans_wrote = false;
        }
    }

    /// [`on_response`](Self::on_response) that also restarts the read-your-writes window at
    /// `now` when the answered statement was a write (measuring the window from completion
    /// rather than from sending, which matters for long-running writes).
    pub fn on_response_at(&mut self, status: u16, ok: bool, now: Instant) {
        if self.write_in_flight {
            self.last_write = Some(now);
        }
        self.on_response(status, ok);
    }

    fn apply(&mut self, stmt: &Statement, sql: &str, now: Instant) {
        let f = stmt.flags;
        match stmt.kind {
            K::Begin { .. } => self.in_trans = true,
            K::Set(kind) => self.apply_set(kind, sql),
            K::Use => {
                if let Some(db) = nth_name(sql, 1).filter(|_| self.cfg.state_from_text) {
                    self.state.set_schema(&db);
                }
            }
            K::LockTables => self.table_lock = true,
            K::UnlockTables => self.table_lock = false,
            K::Flush if f.contains(F::TABLE_LOCK) => self.table_lock = true,
            K::Prepare => insert_name(&mut self.prepared, nth_name(sql, 1)),
            K::Deallocate => remove_name(&mut self.prepared, nth_name(sql, 2)),
            K::Handler => self.apply_handler(sql),
            K::Xa => self.apply_xa(sql),
            K::Ddl => self.apply_ddl(f, sql),
            _ => {}
        }
        if f.contains(F::USER_VAR_ASSIGN) {
            self.user_vars = true;
        }
        if f.intersects(F::LOCK_FUNC | F::RELEASE_LOCK) {
            self.user_locks = count_user_locks(sql, self.user_locks);
        }
        if f.contains(F::ROUTINE) && self.cfg.pin_after_routine {
            self.routine = true;
        }
        let in_trans = self.in_trans || self.autocommit_off;
        let ends_trans = matches!(
            stmt.kind,
            K::Commit | K::Xa | K::Set(SetKind::Autocommit(_)) | K::Begin { .. }
        );
        if stmt.writes() || (ends_trans && self.trans_wrote) {
            self.last_write = Some(now);
            self.write_in_flight = true;
            if in_trans && stmt.writes() {
                self.trans_wrote = true;
            }
        }
    }

    fn apply_set(&mut self, kind: SetKind, sql: &str) {
        if let SetKind::Autocommit(v) = kind {
            // Pin early until the server's status flags confirm either way.
            if v != Some(true) {
                self.autocommit_off = true;
            }
        }
        if self.cfg.state_from_text {
            self.state.apply_set(sql);
        }
    }

    /// Pins the session to its connections ([`PinReasons::STATE_OVERFLOW`]) until a reset:
    /// for session state that cannot be copied to another connection (a server reported a
    /// state change that no tracked variable or schema explains).
    pub fn pin_state(&mut self) {
        self.state.overflow = true;
    }

    fn apply_handler(&mut self, sql: &str) {
        // HANDLER tbl OPEN [AS alias] | HANDLER name CLOSE
        let words = words(sql, 6);
        let Some(table) = words.get(1) else { return };
        match words.get(2).map(|w| keyword(w.as_bytes())) {
            Some(Kw::Open) => {
                let alias = match words.get(3).map(|w| keyword(w.as_bytes())) {
                    Some(Kw::As) => words.get(4),
                    _ => words.get(3),
                };
                let name = alias.unwrap_or(table).to_ascii_lowercase();
                self.handlers.insert(name);
            }
            Some(Kw::Close) => {
                self.handlers.remove(&table.to_ascii_lowercase());
            }
            _ => {}
        }
    }

    fn apply_xa(&mut self, sql: &str) {
        let words = words(sql, 2);
        match words.get(1).map(|w| w.to_ascii_uppercase()).as_deref() {
            Some("START" | "BEGIN") => self.xa = true,
            Some("COMMIT" | "ROLLBACK") => self.xa = false,
            _ => {}
        }
    }

    fn apply_ddl(&mut self, f: F, sql: &str) {
        if f.contains(F::CREATES_TEMP_TABLE) {
            if let Some(name) = table_names(sql).into_iter().next() {
                self.temp_tables.insert(name);
            }
        } else if f.contains(F::DROPS_TEMP_TABLE) {
            for name in table_names(sql) {
                self.temp_tables.remove(&name);
            }
        }
    }
}

fn insert_name(set: &mut BTreeSet<String>, name: Option<String>) {
    if let Some(n) = name {
        set.insert(n.to_ascii_lowercase());
    }
}

fn remove_name(set: &mut BTreeSet<String>, name: Option<String>) {
    if let Some(n) = name {
        set.remove(&n.to_ascii_lowercase());
    }
}

/// The first `limit` identifier-like tokens (words and unquoted `` `names` ``).
fn words(sql: &str, limit: usize) -> Vec<String> {
    let mut cur = Cursor::new(sql.as_bytes(), true);
    let mut out = Vec::new();
    while let Some(t) = cur.next_tok() {
        if out.len() >= limit {
            break;
        }
        if matches!(t.kind, Tok::Word | Tok::QuotedIdent) {
            out.push(unquote_ident(&sql[t.start()..t.end()]));
        }
    }
    out
}

/// The `n`-th identifier of the statement (0 = the leading keyword).
fn nth_name(sql: &str, n: usize) -> Option<String> {
    words(sql, n + 1).into_iter().nth(n)
}

/// Table names after `TABLE [IF [NOT] EXISTS]`, qualified names joined with `.`.
fn table_names(sql: &str) -> Vec<String> {
    let mut cur = Cursor::new(sql.as_bytes(), true);
    while let Some(t) = cur.next_tok() {
        if cur.kw(t) == Kw::Table {
            break;
        }
    }
    let is_word = |cur: &mut Cursor<'_>, w: &str| {
        cur.peek()
            .is_some_and(|t| t.kind == Tok::Word && cur.text(t).eq_ignore_ascii_case(w.as_bytes()))
    };
    if is_word(&mut cur, "if") {
        cur.next_tok();
        cur.eat_kw(Kw::Not);
        cur.next_tok(); // EXISTS
    }
    let mut names = Vec::new();
    loop {
        let mut name = String::new();
        while let Some(t) = cur.next_tok() {
            if !matches!(t.kind, Tok::Word | Tok::QuotedIdent) {
                break;
            }
            name.push_str(&unquote_ident(&sql[t.start()..t.end()]));
            if cur.peek().is_some_and(|d| d.kind == Tok::Dot) {
                cur.next_tok();
                name.push('.');
            } else {
                break;
            }
        }
        if name.is_empty() {
            return names;
        }
        names.push(name);
        if cur.peek().is_some_and(|c| c.kind == Tok::Comma) {
            cur.next_tok();
        } else {
            return names;
        }
    }
}

/// Applies `GET_LOCK` (+1), `RELEASE_LOCK` (-1) and `RELEASE_ALL_LOCKS` (0) in text order.
fn count_user_locks(sql: &str, mut held: u32) -> u32 {
    let mut cur = Cursor::new(sql.as_bytes(), true);
    let mut prev: Option<&[u8]> = None;
    while let Some(t) = cur.next_tok() {
        let text = cur.text(t);
        if t.kind == Tok::LParen {
            match prev {
                Some(p) if p.eq_ignore_ascii_case(b"get_lock") => held = held.saturating_add(1),
                Some(p) if p.eq_ignore_ascii_case(b"release_lock") => held = held.saturating_sub(1),
                Some(p) if p.eq_ignore_ascii_case(b"release_all_locks") => held = 0,
                _ => {}
            }
        }
        prev = (t.kind == Tok::Word).then_some(text);
    }
    held
}
