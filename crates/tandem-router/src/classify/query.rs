//! Query-like statements: `WITH`, `SHOW`, and `DESCRIBE` / `EXPLAIN` / `ANALYZE` with the
//! statement they explain.

use super::{rest, statement, with_flags, MAX_DEPTH};
use crate::keywords::Kw;
use crate::lexer::Tok;
use crate::scan::{Cursor, Scan};
use crate::{Statement, StatementKind as K, StmtFlags as F};

/// `WITH [RECURSIVE] name [(cols)] AS (query) [, ...] <main statement>`.
pub(super) fn with_query(cur: &mut Cursor<'_>) -> Statement {
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
pub(super) fn show(cur: &mut Cursor<'_>) -> Statement {
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
pub(super) fn describe(cur: &mut Cursor<'_>, depth: u8) -> Statement {
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
pub(super) fn explain(cur: &mut Cursor<'_>, depth: u8) -> Statement {
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
pub(super) fn analyze(cur: &mut Cursor<'_>, depth: u8) -> Statement {
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
