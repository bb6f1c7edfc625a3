//! `SET` statements, including `SET STATEMENT ... FOR <statement>`.

use super::{statement, with_flags, MAX_DEPTH};
use crate::scan::{Cursor, Scan};
use crate::setstmt::{bool_literal, parse_set, Assignment, Scope, SetForm, Target};
use crate::{SetKind, Statement, StatementKind as K, StmtFlags as F};

/// `SET ...`: the first assignment decides the [`SetKind`]; every assignment adds flags.
pub(super) fn set(cur: &mut Cursor<'_>, depth: u8) -> Statement {
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
