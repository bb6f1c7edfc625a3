//! Keyword recognition and the function tables.
//!
//! Keywords are matched case-insensitively by copying a short word into a stack buffer and
//! upper-casing it: no allocation, and `match` on byte strings compiles to a length switch.
//!
//! Functions are judged with an **allow-list** of built-ins known to be free of side effects and
//! independent of the connection they run on. A call to anything else (a stored function, a
//! schema-qualified or backquoted name, a built-in we forgot) keeps the statement on the writer:
//! forgetting a pure built-in costs a little read scaling; forgetting an impure one would lose
//! data consistency. A short deny-list maps the impure built-ins to the
//! [`StmtFlags`](crate::StmtFlags) that explain *why* they need the writer.
//!
//! Judgement calls (documented here because they are policy):
//! - `SLEEP`, `BENCHMARK`, `RAND`, `UUID`, `UUID_SHORT`, `SYS_GUID`: harmless on a reader.
//! - `LOAD_FILE`: reads the *node's* filesystem (possibly written by `INTO OUTFILE` on the
//!   writer) → writer, [`StmtFlags::NODE_LOCAL`](crate::StmtFlags::NODE_LOCAL).
//! - `CONNECTION_ID`, `IS_FREE_LOCK`, `IS_USED_LOCK`, `BINLOG_GTID_POS`: connection/node-bound.

use crate::swar::{be_word, upper8, HI};

mod functions;
mod table;

pub(crate) use functions::{function_class, sysvar_is_node_local, FnClass};
use table::{kw_slot, KEYWORD_LIST, KW_KEYS, KW_SLOTS};

/// Keywords the classifier cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    None,
    Select,
    With,
    Table,
    Values,
    Show,
    Describe,
    Explain,
    Analyze,
    Insert,
    Update,
    Delete,
    Replace,
    Create,
    Drop,
    Alter,
    Truncate,
    Rename,
    Grant,
    Revoke,
    Begin,
    Start,
    Commit,
    Rollback,
    Savepoint,
    Release,
    Set,
    Use,
    Lock,
    Unlock,
    Call,
    Do,
    Handler,
    Xa,
    Load,
    Flush,
    Prepare,
    Execute,
    Deallocate,
    Kill,
    Admin,
    // inner keywords
    For,
    Share,
    Into,
    In,
    Next,
    Previous,
    Value,
    Procedure,
    SqlCalcFoundRows,
    Temporary,
    Transaction,
    Read,
    Only,
    Write,
    Work,
    To,
    Global,
    Session,
    Local,
    Persist,
    Names,
    Character,
    Charset,
    Statement,
    Password,
    Role,
    Default,
    Data,
    Xml,
    As,
    Recursive,
    Format,
    Extended,
    Partitions,
    Open,
    Close,
    Not,
    Atomic,
    Tables,
    Or,
}

/// Packs up to 16 bytes big-endian, zero-padded: integer order equals byte-string order, and a
/// `match` on these keys compiles to integer comparisons instead of a chain of `memcmp`s.
pub(crate) const fn key(s: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    let mut i = 0;
    while i < s.len() && i < 16 {
        b[i] = s[i];
        i += 1;
    }
    u128::from_be_bytes(b)
}

/// [`key`] of the upper-cased word; `None` if empty, longer than 16 bytes or not ASCII.
/// Built in registers (no stack buffer) to avoid a store-forwarding stall.
#[inline]
pub(crate) fn upper_key(word: &[u8]) -> Option<u128> {
    let n = word.len();
    if n == 0 || n > 16 {
        return None;
    }
    let hi = be_word(&word[..n.min(8)]);
    let lo = if n > 8 { be_word(&word[8..]) } else { 0 };
    if (hi | lo) & HI != 0 {
        return None; // non-ASCII: never a keyword or built-in
    }
    Some((u128::from(upper8(hi)) << 64) | u128::from(upper8(lo)))
}

/// Maps a word to a [`Kw`] (case-insensitive).
pub(crate) fn keyword(word: &[u8]) -> Kw {
    let Some(k) = upper_key(word) else {
        return if word.eq_ignore_ascii_case(b"SQL_CALC_FOUND_ROWS") {
            Kw::SqlCalcFoundRows
        } else {
            Kw::None
        };
    };
    match KW_SLOTS[kw_slot(k)] {
        0 => Kw::None,
        i if KW_KEYS[usize::from(i) - 1] == k => KEYWORD_LIST[usize::from(i) - 1].1,
        _ => Kw::None,
    }
}

/// The few clause keywords the flag scanner reacts to, found with a length switch and at most
/// three short comparisons (this runs for every word of every statement).
#[inline(always)]
pub(crate) fn scan_keyword(w: &[u8]) -> Kw {
    let is = |k: &[u8]| w.eq_ignore_ascii_case(k);
    match w.len() {
        2 if is(b"IN") => Kw::In,
        3 if is(b"FOR") => Kw::For,
        4 if is(b"INTO") => Kw::Into,
        4 if is(b"LOCK") => Kw::Lock,
        4 if is(b"NEXT") => Kw::Next,
        5 if is(b"SHARE") => Kw::Share,
        5 if is(b"VALUE") => Kw::Value,
        6 if is(b"UPDATE") => Kw::Update,
        8 if is(b"PREVIOUS") => Kw::Previous,
        9 if is(b"PROCEDURE") => Kw::Procedure,
        19 if is(b"SQL_CALC_FOUND_ROWS") => Kw::SqlCalcFoundRows,
        _ => Kw::None,
    }
}

/// Schema qualifiers whose tables belong to the node answering: all of `performance_schema`,
/// and the node-local tables of `information_schema` (see [`is_node_local_info_table`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SystemSchema {
    Performance,
    Information,
}

/// `performance_schema` / `information_schema` (case-insensitive), checked when a `.` follows.
#[inline]
pub(crate) fn system_schema(w: &[u8]) -> Option<SystemSchema> {
    if w.len() != 18 {
        return None;
    }
    if w.eq_ignore_ascii_case(b"performance_schema") {
        Some(SystemSchema::Performance)
    } else if w.eq_ignore_ascii_case(b"information_schema") {
        Some(SystemSchema::Information)
    } else {
        None
    }
}

/// `information_schema` tables whose rows describe the answering node or its connections.
pub(crate) fn is_node_local_info_table(w: &[u8]) -> bool {
    [
        &b"PROCESSLIST"[..],
        b"INNODB_TRX",
        b"INNODB_LOCKS",
        b"INNODB_LOCK_WAITS",
        b"GLOBAL_STATUS",
        b"SESSION_STATUS",
        b"USER_STATISTICS",
        b"CLIENT_STATISTICS",
        b"THREAD_POOL_QUEUES",
    ]
    .iter()
    .any(|n| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests;
