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
use crate::{CharsetClass, Dialect, Statement, StatementKind as K, StmtFlags as F};

mod control;
mod ddl;
mod query;
mod set;

use control::control;
use ddl::{create, drop_stmt};
use query::{analyze, describe, explain, show, with_query};
use set::set;

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

/// Structure the lexer cannot place: writer, unless the sqlparser fallback decides otherwise.
fn undecided(cur: &mut Cursor<'_>, first: crate::lexer::Token) -> Statement {
    let mut scan = Scan::new(true);
    scan.feed(cur.src(), first);
    scan.feed_rest(cur);
    with_flags(K::Other, scan.flags | F::UNDECIDED)
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
