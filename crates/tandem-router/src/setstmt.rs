//! Parsing of `SET` statements, shared by the classifier and the session policy.
//!
//! `SET` is where session state changes: `SET NAMES`, `SET CHARACTER SET`, session variables in
//! all their spellings (`SET x=`, `SET SESSION x=`, `SET LOCAL x=`, `SET @@x=`,
//! `SET @@session.x=`), `SET [SESSION] TRANSACTION ...`, plus user variables (`SET @u=`) and
//! global changes (`SET GLOBAL x=`, `SET @@global.x=`, `SET PERSIST x=`). One statement may mix
//! them, and a `GLOBAL`/`SESSION` keyword carries over to later assignments without one, as in
//! MySQL. The parser reports each assignment with byte spans so callers can slice the original
//! text without allocating (the classifier) or build replay statements (the session policy).

use crate::keywords::Kw;
use crate::lexer::{Tok, Token};
use crate::scan::{Cursor, Scan};

/// Scope of a system-variable assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Session,
    Global,
}

/// What an assignment targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Names,
    CharacterSet,
    UserVar,
    /// A system variable; `name` is the span of the bare name (without `@@scope.`).
    SysVar {
        scope: Scope,
        name: (usize, usize),
    },
    /// `SET [scope] TRANSACTION ...`; the value span holds the characteristics.
    Transaction {
        scope: Option<Scope>,
    },
}

/// One assignment of a `SET` statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub target: Target,
    /// Span of the value (or of `NAMES`/`CHARACTER SET`/`TRANSACTION` arguments).
    pub value: (usize, usize),
    /// The value reads a system variable (so it is relative to the current state).
    pub value_has_sysvar: bool,
}

/// The overall form of a `SET` statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetForm {
    /// Zero or more assignments, all reported.
    Assignments,
    /// `SET STATEMENT var=val[, ...] FOR` — the cursor is positioned after `FOR`.
    StatementFor,
    /// `SET PASSWORD ...` / `SET DEFAULT ROLE ...`.
    Account,
    /// `SET ROLE ...`.
    Role,
    /// Something we do not understand.
    Other,
}

/// Parses a `SET` statement after the `SET` keyword. Value tokens are fed to `scan`.
pub(crate) fn parse_set(
    cur: &mut Cursor<'_>,
    scan: &mut Scan,
    mut on_assign: impl FnMut(&Assignment),
) -> SetForm {
    match cur.peek_kw() {
        Kw::Statement => {
            cur.next_tok();
            return statement_for(cur, scan);
        }
        Kw::Password => return SetForm::Account,
        Kw::Role => return SetForm::Role,
        Kw::Default => return SetForm::Account,
        _ => {}
    }
    let mut scope = Scope::Session;
    let mut explicit_scope = None;
    loop {
        let Some(t) = cur.next_tok() else {
            return SetForm::Assignments;
        };
        let target = match (t.kind, cur.kw(t)) {
            (Tok::Word, Kw::Global | Kw::Persist) => {
                scope = Scope::Global;
                explicit_scope = Some(scope);
                continue;
            }
            (Tok::Word, Kw::Session | Kw::Local) => {
                scope = Scope::Session;
                explicit_scope = Some(scope);
                continue;
            }
            (Tok::Word, Kw::Transaction) => {
                let value = rest_span(cur, t.end());
                on_assign(&Assignment {
                    target: Target::Transaction {
                        scope: explicit_scope,
                    },
                    value,
                    value_has_sysvar: false,
                });
                return SetForm::Assignments;
            }
            (Tok::Word, Kw::Names) => Target::Names,
            (Tok::Word, Kw::Charset) => Target::CharacterSet,
            (Tok::Word, Kw::Character) if cur.eat_kw(Kw::Set) => Target::CharacterSet,
            (Tok::Word | Tok::QuotedIdent, _) => sysvar_target(cur, t, scope),
            (Tok::SysVar, _) => at_at_target(cur.src(), t),
            (Tok::UserVar, _) => Target::UserVar,
            _ => return SetForm::Other,
        };
        let needs_eq = !matches!(target, Target::Names | Target::CharacterSet);
        if needs_eq && !matches!(cur.next_tok(), Some(e) if matches!(e.kind, Tok::Eq | Tok::Assign))
        {
            return SetForm::Other;
        }
        let (value, value_has_sysvar, more) = value(cur, scan);
        on_assign(&Assignment {
            target,
            value,
            value_has_sysvar,
        });
        if !more {
            return SetForm::Assignments;
        }
    }
}

/// `name` or `` `name` `` or `structured.name` after an optional scope keyword.
fn sysvar_target(cur: &mut Cursor<'_>, t: Token, scope: Scope) -> Target {
    let mut end = t.end();
    while cur.peek().is_some_and(|d| d.kind == Tok::Dot) {
        cur.next_tok();
        match cur.next_tok() {
            Some(n) => end = n.end(),
            None => break,
        }
    }
    Target::SysVar {
        scope,
        name: (t.start(), end),
    }
}

/// `@@name`, `@@session.name`, `@@global.name`, ...
fn at_at_target(src: &[u8], t: Token) -> Target {
    let body = t.start() + 2;
    let text = &src[body..t.end()];
    let dot = text.iter().position(|c| *c == b'.');
    let (scope, name_start) = match dot {
        Some(d) => {
            let prefix = &text[..d];
            let global =
                prefix.eq_ignore_ascii_case(b"global") || prefix.eq_ignore_ascii_case(b"persist");
            let session =
                prefix.eq_ignore_ascii_case(b"session") || prefix.eq_ignore_ascii_case(b"local");
            match (global, session) {
                (true, _) => (Scope::Global, body + d + 1),
                (_, true) => (Scope::Session, body + d + 1),
                _ => (Scope::Session, body),
            }
        }
        None => (Scope::Session, body),
    };
    Target::SysVar {
        scope,
        name: (name_start, t.end()),
    }
}

/// Reads a value up to a top-level `,` or the end; returns (span, has_sysvar, more_follow).
fn value(cur: &mut Cursor<'_>, scan: &mut Scan) -> ((usize, usize), bool, bool) {
    let mut depth = 0usize;
    let mut span: Option<(usize, usize)> = None;
    let mut sysvar = false;
    scan.forget();
    while let Some(t) = cur.next_tok() {
        match t.kind {
            Tok::Comma if depth == 0 => {
                return (span.unwrap_or((t.start(), t.start())), sysvar, true);
            }
            Tok::LParen => depth += 1,
            Tok::RParen => depth = depth.saturating_sub(1),
            Tok::SysVar => sysvar = true,
            _ => {}
        }
        scan.feed(cur.src(), t);
        span = Some((span.map_or(t.start(), |s| s.0), t.end()));
    }
    let end = cur.src().len();
    (span.unwrap_or((end, end)), sysvar, false)
}

/// Span from the first remaining token to the last, consuming them.
fn rest_span(cur: &mut Cursor<'_>, fallback: usize) -> (usize, usize) {
    let mut span: Option<(usize, usize)> = None;
    while let Some(t) = cur.next_tok() {
        span = Some((span.map_or(t.start(), |s| s.0), t.end()));
    }
    span.unwrap_or((fallback, fallback))
}

/// `SET STATEMENT a=1, b=2 FOR <stmt>`: skips to the top-level `FOR`.
fn statement_for(cur: &mut Cursor<'_>, scan: &mut Scan) -> SetForm {
    let mut depth = 0usize;
    while let Some(t) = cur.next_tok() {
        match t.kind {
            Tok::LParen => depth += 1,
            Tok::RParen => depth = depth.saturating_sub(1),
            Tok::Word if depth == 0 && cur.kw(t) == Kw::For => return SetForm::StatementFor,
            // `SET STATEMENT transaction_read_only = 0 FOR ...` would lift a reader's
            // read-only mode for the statement: never on a reader.
            Tok::Word | Tok::SysVar
                if cur
                    .text(t)
                    .windows(9)
                    .any(|w| w.eq_ignore_ascii_case(b"read_only")) =>
            {
                scan.flags |= crate::StmtFlags::WRITES;
            }
            _ => {}
        }
        scan.feed(cur.src(), t);
    }
    SetForm::Other
}

/// The literal truth value of an `autocommit` assignment, if it is one.
pub(crate) fn bool_literal(text: &[u8]) -> Option<bool> {
    let t = text.trim_ascii();
    let t = t
        .strip_prefix(b"'")
        .and_then(|s| s.strip_suffix(b"'"))
        .unwrap_or(t);
    if t == b"1" || t.eq_ignore_ascii_case(b"on") || t.eq_ignore_ascii_case(b"true") {
        Some(true)
    } else if t == b"0" || t.eq_ignore_ascii_case(b"off") || t.eq_ignore_ascii_case(b"false") {
        Some(false)
    } else {
        None
    }
}
