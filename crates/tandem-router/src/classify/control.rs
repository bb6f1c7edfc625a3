//! Statements led by transaction-control, lock, routine and administrative keywords.

use super::{rest, undecided, with_flags};
use crate::keywords::Kw;
use crate::scan::Cursor;
use crate::{Statement, StatementKind as K, StmtFlags as F};

/// Transaction control, locks and the remaining statement keywords.
pub(super) fn control(cur: &mut Cursor<'_>, kw: Kw, first: crate::lexer::Token) -> Statement {
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
