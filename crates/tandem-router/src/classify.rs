//! The fast, allocation-free statement classifier.
//!
//! The leading keyword(s) decide the [`StatementKind`]; a single pass of [`Scan`] over the rest
//! raises [`StmtFlags`]. The design is fail-safe: a statement may leave the writer only when it is
//! a query kind *and* nothing in it raised a flag. Anything the lexer cannot place becomes
//! [`StatementKind::Other`] with [`StmtFlags::UNDECIDED`] (the [`Classifier`](crate::Classifier)
//! may then ask sqlparser), and lexing problems raise [`StmtFlags::UNPARSEABLE`].
//!
//! Multi-statement text is split at top-level `;` and each part classified; the result is a read
//! only if every part is. When a string literal contains a backslash the text is lexed a second
//! time without backslash escapes (as the server would under `NO_BACKSLASH_ESCAPES`, or with a
//! multi-byte charset whose trail byte is `\`); if that reading is not a read, neither is ours.

use crate::keywords::Kw;
use crate::lexer::{Tok, Versioned};
use crate::scan::{Cursor, Scan};
use crate::setstmt::{bool_literal, parse_set, Assignment, Scope, SetForm, Target};
use crate::{CharsetClass, Dialect, SetKind, Statement, StatementKind as K, StmtFlags as F};

/// Nesting limit for `EXPLAIN <stmt>` / `SET STATEMENT ... FOR <stmt>`.
const MAX_DEPTH: u8 = 4;

/// Classifies one SQL text (possibly several `;`-separated statements). Never allocates.
///
/// Text the lexer cannot settle is returned as [`StatementKind::Other`](crate::StatementKind::Other)
/// with [`StmtFlags::UNDECIDED`](crate::StmtFlags::UNDECIDED), which routes to the writer; use a [`Classifier`](crate::Classifier)
/// to let sqlparser settle those.
///
/// ```
/// use tandem_router::{classify, StatementKind, StmtFlags};
/// let s = classify("SELECT c FROM sbtest1 WHERE id = 42");
/// assert!(s.is_read_only());
/// let s = classify("SELECT * FROM ps_cart WHERE id_cart = 7 FOR UPDATE");
/// assert!(!s.is_read_only() && s.flags.contains(StmtFlags::FOR_UPDATE));
/// assert_eq!(classify("INSERT INTO t VALUES (1)").kind, StatementKind::Insert);
/// ```
pub fn classify(sql: &str) -> Statement {
    classify_bytes(sql.as_bytes())
}

/// [`classify`] for query text in any ASCII-compatible character set (as received on the wire),
/// for a server and session not known in detail ([`Dialect::default`]).
pub fn classify_bytes(sql: &[u8]) -> Statement {
    classify_with(sql, &Dialect::default())
}

/// Classifies `sql` as the server described by `dialect` will read it.
///
/// A statement is called a read only if it is one under every reading the server might take:
/// with and without backslash escapes (`NO_BACKSLASH_ESCAPES`, multi-byte trail bytes) when a
/// backslash occurs in a string, and with versioned executable comments run and skipped when
/// the server's version is not known. Text the server may cut differently from us — control
/// bytes other than whitespace, a NUL, bytes ≥ 0x80 in a session whose character set is not
/// UTF-8 — is never a read.
pub fn classify_with(sql: &[u8], dialect: &Dialect) -> Statement {
    let versioned = match dialect.version {
        Some(version) => Versioned::Server {
            version,
            mariadb: dialect.mariadb,
        },
        None => Versioned::AllCode,
    };
    let first = classify_mode(sql, true, versioned, true);
    let mut st = first.stmt;
    if !st.is_read_only() {
        return st;
    }
    let mut other_readings = [None; 3];
    if first.saw_backslash {
        other_readings[0] = Some((false, versioned));
    }
    if dialect.version.is_none() && first.first_version.is_some() {
        if first.mixed_versions {
            // Several versions with an unknown server: more readings than we will try.
            st.flags |= F::UNPARSEABLE;
            return st;
        }
        other_readings[1] = Some((true, Versioned::AllSkipped));
        if first.saw_backslash {
            other_readings[2] = Some((false, Versioned::AllSkipped));
        }
    }
    for (escapes, mode) in other_readings.into_iter().flatten() {
        if !classify_mode(sql, escapes, mode, false).stmt.is_read_only() {
            st.flags |= F::UNPARSEABLE;
            return st;
        }
    }
    if !plain_text(sql, dialect.charset) {
        st.flags |= F::UNPARSEABLE;
    }
    st
}

/// No byte the server might lex differently from us: control bytes other than whitespace
/// (a NUL ends a comment there; DEL starts a `--` comment), and, outside UTF-8, any byte ≥ 0x80.
fn plain_text(sql: &[u8], charset: CharsetClass) -> bool {
    let high_ok = charset == CharsetClass::Utf8;
    let byte_ok = |b: &u8| matches!(b, b'\t'..=b'\r' | 0x20..=0x7e) || (*b >= 0x80 && high_ok);
    let mut chunks = sql.chunks_exact(8);
    for c in chunks.by_ref() {
        let x = crate::swar::be_word(c);
        // Eight printable ASCII bytes (the usual case) settle a chunk in a few operations.
        let printable =
            x & crate::swar::HI == 0 && crate::swar::in_range(x, 0x20, 0x7e) == crate::swar::HI;
        if !printable && !c.iter().all(byte_ok) {
            return false;
        }
    }
    chunks.remainder().iter().all(byte_ok)
}

/// What one pass over the text found.
struct Pass {
    stmt: Statement,
    saw_backslash: bool,
    first_version: Option<u32>,
    mixed_versions: bool,
}

/// One full pass. `strict`: a lexing error (unterminated string/comment) makes the text
/// unparseable; the alternative readings are not strict because the server would reject such
/// text before running any of it.
fn classify_mode(sql: &[u8], backslash: bool, versioned: Versioned, strict: bool) -> Pass {
    let mut cur = Cursor::with_mode(sql, backslash, versioned);
    let mut acc = statement(&mut cur, 0);
    cur.drain();
    while cur.next_statement() {
        let part = statement(&mut cur, 0);
        cur.drain();
        acc.flags |= part.flags | F::MULTI_STATEMENT;
        if acc.kind.is_read_kind() && !part.is_read_only() {
            acc.kind = part.kind;
        }
    }
    let lx = cur.lexer();
    if strict && lx.error {
        acc.flags |= F::UNPARSEABLE;
    }
    acc.hint = lx.hint;
    Pass {
        stmt: acc,
        saw_backslash: lx.saw_backslash,
        first_version: lx.first_version,
        mixed_versions: lx.mixed_versions,
    }
}

fn with_flags(kind: K, flags: F) -> Statement {
    Statement {
        kind,
        flags,
        hint: None,
    }
}

/// Scans the rest of the statement and returns `kind` with the flags found plus `extra`.
fn rest(cur: &mut Cursor<'_>, kind: K, extra: F, select: bool) -> Statement {
    let mut scan = Scan::new(select);
    scan.feed_rest(cur);
    with_flags(kind, scan.flags | extra)
}

/// Classifies one statement; leaves the cursor inside it (the caller drains).
pub(crate) fn statement(cur: &mut Cursor<'_>, depth: u8) -> Statement {
    let mut parens = 0;
    let first = loop {
        match cur.next_tok() {
            Some(t) if t.kind == Tok::LParen => parens += 1,
            other => break other,
        }
    };
    let Some(first) = first else {
        return if parens > 0 {
            with_flags(K::Other, F::UNPARSEABLE)
        } else {
            Statement::new(K::Empty)
        };
    };
    let kw = cur.kw(first);
    if parens > 0 && !matches!(kw, Kw::Select | Kw::With | Kw::Values | Kw::Table) {
        return undecided(cur, first);
    }
    match kw {
        Kw::Select | Kw::Table | Kw::Values => {
            let mut scan = Scan::new(true);
            scan.feed(cur.src(), first);
            scan.feed_rest(cur);
            with_flags(K::Select, scan.flags)
        }
        Kw::With => with_query(cur),
        Kw::Show => show(cur),
        Kw::Describe => describe(cur, depth),
        Kw::Explain => explain(cur, depth),
        Kw::Analyze => analyze(cur, depth),
        Kw::Insert => rest(cur, K::Insert, F::WRITES, false),
        Kw::Update => rest(cur, K::Update, F::WRITES, false),
        Kw::Delete => rest(cur, K::Delete, F::WRITES, false),
        Kw::Replace => rest(cur, K::Replace, F::WRITES, false),
        Kw::Create => create(cur),
        Kw::Drop => drop_stmt(cur),
        Kw::Alter | Kw::Truncate | Kw::Rename | Kw::Grant | Kw::Revoke => {
            with_flags(K::Ddl, F::WRITES)
        }
        Kw::Set => set(cur, depth),
        _ => control(cur, kw, first),
    }
}

/// Transaction control, locks and the remaining statement keywords.
fn control(cur: &mut Cursor<'_>, kw: Kw, first: crate::lexer::Token) -> Statement {
    match kw {
        Kw::Begin => {
            cur.eat_kw(Kw::Work);
            if cur.peek().is_none() {
                Statement::new(K::Begin { read_only: false })
            } else {
                // `BEGIN NOT ATOMIC ... END`: a compound statement that may do anything.
                with_flags(K::Other, F::WRITES | F::ROUTINE)
            }
        }
        Kw::Start if cur.eat_kw(Kw::Transaction) => start_transaction(cur),
        Kw::Start => with_flags(K::Admin, F::WRITES),
        Kw::Commit => Statement::new(K::Commit),
        Kw::Rollback => {
            let mut to = false;
            while let Some(t) = cur.next_tok() {
                to |= cur.kw(t) == Kw::To;
            }
            Statement::new(if to {
                K::RollbackToSavepoint
            } else {
                K::Rollback
            })
        }
        Kw::Savepoint => Statement::new(K::Savepoint),
        Kw::Release if cur.eat_kw(Kw::Savepoint) => Statement::new(K::ReleaseSavepoint),
        Kw::Use => with_flags(K::Use, F::SESSION_STATE),
        Kw::Lock => with_flags(K::LockTables, F::TABLE_LOCK),
        Kw::Unlock => Statement::new(K::UnlockTables),
        Kw::Call => rest(cur, K::Call, F::WRITES | F::ROUTINE, false),
        Kw::Do => {
            let mut st = rest(cur, K::Do, F::empty(), true);
            if st.flags.contains(F::ROUTINE) {
                st.flags |= F::WRITES;
            }
            st
        }
        Kw::Handler => Statement::new(K::Handler),
        Kw::Xa => with_flags(K::Xa, F::WRITES),
        Kw::Load if matches!(cur.peek_kw(), Kw::Data | Kw::Xml) => {
            rest(cur, K::LoadData, F::WRITES, false)
        }
        Kw::Load => with_flags(K::Admin, F::WRITES),
        Kw::Flush => flush(cur),
        Kw::Prepare => Statement::new(K::Prepare),
        Kw::Execute => rest(cur, K::Execute, F::WRITES, false),
        Kw::Deallocate => Statement::new(K::Deallocate),
        Kw::Kill => with_flags(K::Kill, F::NODE_LOCAL),
        Kw::Admin => with_flags(K::Admin, F::WRITES),
        _ => undecided(cur, first),
    }
}

/// Structure the lexer cannot place: writer, unless the sqlparser fallback decides otherwise.
fn undecided(cur: &mut Cursor<'_>, first: crate::lexer::Token) -> Statement {
    let mut scan = Scan::new(true);
    scan.feed(cur.src(), first);
    scan.feed_rest(cur);
    with_flags(K::Other, scan.flags | F::UNDECIDED)
}

/// `WITH [RECURSIVE] name [(cols)] AS (query) [, ...] <main statement>`.
fn with_query(cur: &mut Cursor<'_>) -> Statement {
    let mut scan = Scan::new(true);
    let mut depth = 0usize;
    let mut last_depth0 = Tok::Word;
    while let Some(t) = cur.next_tok() {
        match t.kind {
            Tok::LParen if depth == 0 => {
                if last_depth0 == Tok::RParen {
                    // `WITH a AS (...) (SELECT ...)`: a parenthesised main query.
                    break;
                }
                scan.forget();
                depth = 1;
                continue;
            }
            Tok::RParen if depth == 1 => {
                scan.forget();
                depth = 0;
                last_depth0 = Tok::RParen;
                continue;
            }
            Tok::LParen => depth += 1,
            Tok::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > 0 {
            scan.feed(cur.src(), t);
            continue;
        }
        last_depth0 = t.kind;
        let kind = match cur.kw(t) {
            Kw::Select | Kw::Table | Kw::Values => K::Select,
            Kw::Insert => K::Insert,
            Kw::Update => K::Update,
            Kw::Delete => K::Delete,
            Kw::Replace => K::Replace,
            _ => continue,
        };
        scan.feed(cur.src(), t);
        scan.feed_rest(cur);
        let writes = if kind == K::Select {
            F::empty()
        } else {
            F::WRITES
        };
        return with_flags(kind, scan.flags | writes);
    }
    scan.feed_rest(cur);
    with_flags(K::Other, scan.flags | F::UNDECIDED)
}

/// `SHOW ...`: a read, except for output bound to the connection or node.
fn show(cur: &mut Cursor<'_>) -> Statement {
    let mut what = cur.next_tok();
    if let Some(t) = what {
        let w = cur.text(t);
        let modifier = ["GLOBAL", "SESSION", "LOCAL", "FULL", "ALL"]
            .iter()
            .any(|m| w.eq_ignore_ascii_case(m.as_bytes()));
        if modifier && cur.peek().is_some() {
            what = cur.next_tok();
        }
    }
    let node_local = what.is_some_and(|t| {
        let w = cur.text(t);
        [
            "WARNINGS",
            "ERRORS",
            "COUNT",
            "PROFILE",
            "PROFILES",
            "STATUS",
            "MASTER",
            "SLAVE",
            "SLAVES",
            "REPLICA",
            "REPLICAS",
            "BINLOG",
            "BINARY",
            "RELAYLOG",
            "PROCESSLIST",
            "ENGINE",
            "OPEN",
            "EXPLAIN",
            "ANALYZE",
            "INNODB",
            "WSREP_STATUS",
        ]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k.as_bytes()))
    });
    let extra = if node_local || what.is_none() {
        F::NODE_LOCAL
    } else {
        F::empty()
    };
    rest(cur, K::Show, extra, true)
}

/// `DESCRIBE t [col]` or `DESCRIBE <statement>` (= `EXPLAIN`).
fn describe(cur: &mut Cursor<'_>, depth: u8) -> Statement {
    let explains = cur.peek().is_some_and(|t| t.kind == Tok::LParen)
        || matches!(
            cur.peek_kw(),
            Kw::Select
                | Kw::With
                | Kw::Insert
                | Kw::Update
                | Kw::Delete
                | Kw::Replace
                | Kw::Table
                | Kw::Values
                | Kw::Format
                | Kw::Extended
                | Kw::Partitions
                | Kw::Analyze
                | Kw::For
        );
    if explains {
        explain(cur, depth)
    } else {
        Statement::new(K::Describe)
    }
}

/// `EXPLAIN [EXTENDED | PARTITIONS | FORMAT=x | ANALYZE] <statement>`, `EXPLAIN t`.
fn explain(cur: &mut Cursor<'_>, depth: u8) -> Statement {
    loop {
        match cur.peek_kw() {
            Kw::Extended | Kw::Partitions | Kw::Analyze => {
                cur.next_tok();
            }
            Kw::Format => {
                cur.next_tok();
                if cur.peek().is_some_and(|t| t.kind == Tok::Eq) {
                    cur.next_tok();
                }
                cur.next_tok();
            }
            Kw::For => return with_flags(K::Explain, F::NODE_LOCAL),
            _ => break,
        }
    }
    let is_stmt = cur.peek().is_some_and(|t| t.kind == Tok::LParen)
        || matches!(
            cur.peek_kw(),
            Kw::Select
                | Kw::With
                | Kw::Insert
                | Kw::Update
                | Kw::Delete
                | Kw::Replace
                | Kw::Table
                | Kw::Values
        );
    if !is_stmt {
        return Statement::new(K::Describe);
    }
    explained(cur, depth)
}

/// The statement under `EXPLAIN`/`ANALYZE`: the whole is read-only only if the inner one is.
fn explained(cur: &mut Cursor<'_>, depth: u8) -> Statement {
    if depth >= MAX_DEPTH {
        return with_flags(K::Explain, F::UNPARSEABLE);
    }
    let inner = statement(cur, depth + 1);
    let mut flags = inner.flags;
    if !inner.kind.is_read_kind() && flags.difference(F::READ_COMPATIBLE).is_empty() {
        flags |= F::UNDECIDED;
    }
    with_flags(K::Explain, flags)
}

/// MariaDB `ANALYZE <statement>` runs the statement; `ANALYZE TABLE` is maintenance.
fn analyze(cur: &mut Cursor<'_>, depth: u8) -> Statement {
    match cur.peek_kw() {
        Kw::Format => {
            cur.next_tok();
            if cur.peek().is_some_and(|t| t.kind == Tok::Eq) {
                cur.next_tok();
            }
            cur.next_tok();
            explained(cur, depth)
        }
        Kw::Select | Kw::With | Kw::Insert | Kw::Update | Kw::Delete | Kw::Replace | Kw::Values => {
            explained(cur, depth)
        }
        _ if is_lparen(cur) => explained(cur, depth),
        _ => with_flags(K::Admin, F::WRITES),
    }
}

fn is_lparen(cur: &mut Cursor<'_>) -> bool {
    cur.peek().is_some_and(|t| t.kind == Tok::LParen)
}

/// `CREATE [OR REPLACE] [TEMPORARY] TABLE ...` and other DDL.
fn create(cur: &mut Cursor<'_>) -> Statement {
    if cur.eat_kw(Kw::Or) {
        cur.eat_kw(Kw::Replace);
    }
    let temp = if cur.eat_kw(Kw::Temporary) {
        F::CREATES_TEMP_TABLE
    } else {
        F::empty()
    };
    with_flags(K::Ddl, F::WRITES | temp)
}

/// `DROP [TEMPORARY] TABLE` (either may drop a temporary table), `DROP PREPARE`, other DDL.
fn drop_stmt(cur: &mut Cursor<'_>) -> Statement {
    match cur.peek_kw() {
        Kw::Prepare => Statement::new(K::Deallocate),
        Kw::Temporary | Kw::Table => with_flags(K::Ddl, F::WRITES | F::DROPS_TEMP_TABLE),
        _ => with_flags(K::Ddl, F::WRITES),
    }
}

/// `START TRANSACTION [READ ONLY | READ WRITE | WITH CONSISTENT SNAPSHOT], ...`.
fn start_transaction(cur: &mut Cursor<'_>) -> Statement {
    let mut read_only = false;
    let mut prev = Kw::None;
    while let Some(t) = cur.next_tok() {
        let kw = cur.kw(t);
        if prev == Kw::Read && kw == Kw::Only {
            read_only = true;
        }
        prev = kw;
    }
    Statement::new(K::Begin { read_only })
}

/// `FLUSH ...`; `WITH READ LOCK` and `FOR EXPORT` take table locks.
fn flush(cur: &mut Cursor<'_>) -> Statement {
    let mut prev = Kw::None;
    let mut lock = false;
    while let Some(t) = cur.next_tok() {
        let kw = cur.kw(t);
        let w = cur.text(t);
        lock |= (prev == Kw::Read && kw == Kw::Lock)
            || (prev == Kw::For && w.eq_ignore_ascii_case(b"export"));
        prev = kw;
    }
    let flags = if lock { F::TABLE_LOCK } else { F::empty() };
    with_flags(K::Flush, flags)
}

/// `SET ...`: the first assignment decides the [`SetKind`]; every assignment adds flags.
fn set(cur: &mut Cursor<'_>, depth: u8) -> Statement {
    let mut scan = Scan::new(true);
    let mut first: Option<SetKind> = None;
    let mut flags = F::empty();
    let src = cur.src();
    let form = parse_set(cur, &mut scan, |a: &Assignment| {
        let (kind, f) = assignment_kind(src, a);
        first.get_or_insert(kind);
        flags |= f;
    });
    let kind = match form {
        SetForm::Assignments => first.unwrap_or(SetKind::Other),
        SetForm::StatementFor if depth < MAX_DEPTH => {
            let mut inner = statement(cur, depth + 1);
            inner.flags |= scan.flags | F::SET_STATEMENT;
            return inner;
        }
        SetForm::Role => {
            return with_flags(K::Set(SetKind::Role), F::SESSION_STATE);
        }
        SetForm::Account => return with_flags(K::Set(SetKind::Password), F::WRITES),
        SetForm::StatementFor | SetForm::Other => {
            return with_flags(K::Set(SetKind::Other), F::UNPARSEABLE | scan.flags)
        }
    };
    // A function in a SET value runs on the writer anyway; only routines need a session pin.
    let scanned = scan.flags.difference(F::UNKNOWN_FUNCTION);
    with_flags(K::Set(kind), flags | scanned)
}

fn assignment_kind(src: &[u8], a: &Assignment) -> (SetKind, F) {
    match a.target {
        Target::Names => (SetKind::Names, F::SESSION_STATE),
        Target::CharacterSet => (SetKind::CharacterSet, F::SESSION_STATE),
        Target::UserVar => (SetKind::UserVar, F::USER_VAR_ASSIGN),
        Target::SysVar {
            scope: Scope::Global,
            ..
        } => (SetKind::Global, F::WRITES),
        Target::SysVar { name, .. } => {
            let n = &src[name.0..name.1];
            if n.eq_ignore_ascii_case(b"autocommit") {
                let v = bool_literal(&src[a.value.0..a.value.1]);
                (SetKind::Autocommit(v), F::SESSION_STATE)
            } else {
                (SetKind::SessionVar, F::SESSION_STATE)
            }
        }
        Target::Transaction {
            scope: Some(Scope::Global),
        } => (SetKind::Transaction { session: false }, F::WRITES),
        Target::Transaction {
            scope: Some(Scope::Session),
        } => (SetKind::Transaction { session: true }, F::SESSION_STATE),
        Target::Transaction { scope: None } => {
            (SetKind::Transaction { session: false }, F::empty())
        }
    }
}

/// Splits `sql` at top-level `;` (outside strings and comments) into statement texts, each
/// trimmed to its first and last token; empty statements are skipped. Allocation-free.
///
/// ```
/// let parts: Vec<_> = tandem_router::split_statements("SET NAMES utf8; SELECT ';' ; ").collect();
/// assert_eq!(parts, ["SET NAMES utf8", "SELECT ';'"]);
/// ```
pub fn split_statements(sql: &str) -> SplitStatements<'_> {
    SplitStatements {
        sql,
        lx: crate::lexer::Lexer::new(sql.as_bytes(), true),
    }
}

/// Iterator returned by [`split_statements`].
#[derive(Debug, Clone)]
pub struct SplitStatements<'a> {
    sql: &'a str,
    lx: crate::lexer::Lexer<'a>,
}

impl<'a> Iterator for SplitStatements<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let first = self.lx.by_ref().find(|t| t.kind != Tok::Semi)?;
        let mut end = first.end();
        for t in self.lx.by_ref() {
            if t.kind == Tok::Semi {
                break;
            }
            end = t.end();
        }
        self.sql.get(first.start()..end)
    }
}
