//! `CREATE` and `DROP`: DDL, noting temporary tables.

use super::with_flags;
use crate::keywords::Kw;
use crate::scan::Cursor;
use crate::{Statement, StatementKind as K, StmtFlags as F};

/// `CREATE [OR REPLACE] [TEMPORARY] TABLE ...` and other DDL.
pub(super) fn create(cur: &mut Cursor<'_>) -> Statement {
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
pub(super) fn drop_stmt(cur: &mut Cursor<'_>) -> Statement {
    match cur.peek_kw() {
        Kw::Prepare => Statement::new(K::Deallocate),
        Kw::Temporary | Kw::Table => with_flags(K::Ddl, F::WRITES | F::DROPS_TEMP_TABLE),
        _ => with_flags(K::Ddl, F::WRITES),
    }
}
