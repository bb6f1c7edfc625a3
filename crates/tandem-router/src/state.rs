//! Replayable session state: the statements that recreate a client's session on another backend
//! connection.
//!
//! Entries are keyed by what they set (`schema`, `names`, a variable name, ...). Setting a key
//! again moves it to the end with the new text, so replaying the list in order reproduces the
//! final state even when settings interact (`SET NAMES` after `SET collation_connection` wins,
//! as it did on the original connection). Two exceptions keep that property:
//! - `SET NAMES` / `SET CHARACTER SET` supersede every charset/collation entry;
//! - a value that reads a system variable (`SET sql_mode = CONCAT(@@sql_mode, ',X')`) is relative
//!   to the previous value, so earlier entries for that key are kept, not replaced.
//!
//! One-shot variables (`insert_id`, `last_insert_id`, `identity`, `rand_seed1/2`) affect only the
//! next statement on the connection they were set on and are never replayed.

use crate::keywords::{keyword, Kw};
use crate::lexer::{Lexer, Tok};
use crate::scan::{Cursor, Scan};
use crate::setstmt::{parse_set, Assignment, Scope, SetForm, Target};

const CHARSET_GROUP: &[&str] = &[
    "names",
    "character_set_client",
    "character_set_connection",
    "character_set_results",
    "collation_connection",
];

const ONE_SHOT: &[&str] = &[
    "insert_id",
    "last_insert_id",
    "identity",
    "rand_seed1",
    "rand_seed2",
];

/// The ordered, de-duplicated replay list.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionState {
    keys: Vec<String>,
    stmts: Vec<String>,
    cap: usize,
    pub overflow: bool,
}

impl SessionState {
    pub fn new(cap: usize) -> Self {
        SessionState {
            cap,
            ..Default::default()
        }
    }

    pub fn statements(&self) -> &[String] {
        &self.stmts
    }

    fn remove_key(&mut self, key: &str) {
        while let Some(i) = self.keys.iter().position(|k| k == key) {
            self.keys.remove(i);
            self.stmts.remove(i);
        }
    }

    fn put(&mut self, key: String, stmt: String, replace: bool) {
        if replace {
            self.remove_key(&key);
        }
        if self.stmts.len() >= self.cap {
            self.overflow = true;
            return;
        }
        self.keys.push(key);
        self.stmts.push(stmt);
    }

    /// `USE db` / `COM_INIT_DB`.
    pub fn set_schema(&mut self, db: &str) {
        let stmt = format!("USE {}", quote_ident(db));
        self.put("schema".into(), stmt, true);
    }

    /// Records the session-scoped effects of a `SET` statement. A `SET` that Tandem will not
    /// re-run elsewhere (see [`value_replayable`]: comments, a second statement, values that are
    /// not plain) marks the state as overflowing instead, which pins the session to its
    /// connection. User-variable and global assignments are not session state to replay.
    pub fn apply_set(&mut self, sql: &str) {
        let mut cur = Cursor::new(sql.as_bytes(), true);
        if cur.next_tok().is_none_or(|t| cur.kw(t) != Kw::Set) {
            return;
        }
        let mut scan = Scan::new(false);
        let mut found: Vec<Assignment> = Vec::new();
        let form = parse_set(&mut cur, &mut scan, |a| found.push(*a));
        cur.drain();
        let single = !cur.next_statement();
        let lx = cur.lexer();
        let clean = single && !lx.error && !lx.saw_comment;
        match form {
            SetForm::Assignments => {}
            SetForm::Role if clean => {
                self.put("role".into(), sql.trim().to_string(), true);
                return;
            }
            SetForm::Role => {
                self.overflow = true;
                return;
            }
            _ => return,
        }
        found.retain(|a| {
            !matches!(
                a.target,
                Target::UserVar
                    | Target::SysVar {
                        scope: Scope::Global,
                        ..
                    }
                    | Target::Transaction {
                        scope: None | Some(Scope::Global)
                    }
            )
        });
        if found.is_empty() {
            return;
        }
        let plain = found
            .iter()
            .all(|a| value_replayable(&sql[a.value.0..a.value.1]));
        if !clean || !plain {
            self.overflow = true;
            return;
        }
        for a in found {
            self.apply_assignment(sql, &a);
        }
    }

    fn apply_assignment(&mut self, sql: &str, a: &Assignment) {
        let value = sql[a.value.0..a.value.1].trim();
        match a.target {
            Target::Names | Target::CharacterSet => {
                for k in CHARSET_GROUP {
                    self.remove_key(k);
                }
                let what = if a.target == Target::Names {
                    "NAMES"
                } else {
                    "CHARACTER SET"
                };
                self.put("names".into(), format!("SET {what} {value}"), true);
            }
            Target::SysVar {
                scope: Scope::Session,
                name,
            } => {
                let name = unquote_ident(&sql[name.0..name.1]);
                let key = var_key(&name);
                if ONE_SHOT.contains(&key.as_str()) {
                    return;
                }
                let stmt = format!("SET SESSION {name} = {value}");
                self.put(key, stmt, !a.value_has_sysvar);
            }
            Target::Transaction {
                scope: Some(Scope::Session),
            } => {
                for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let key = if starts_with_ci(part, "isolation") {
                        "transaction_isolation".to_string()
                    } else if starts_with_ci(part, "read") {
                        "transaction_read_only".to_string()
                    } else {
                        format!("transaction:{}", part.to_ascii_lowercase())
                    };
                    self.put(key, format!("SET SESSION TRANSACTION {part}"), true);
                }
            }
            _ => {}
        }
    }
}

/// Whether the value of a session assignment may be re-run on another connection: literals,
/// names, system variables, operators and known-pure built-ins only — no user variables (they
/// live on one connection), placeholders, subqueries or other functions.
fn value_replayable(value: &str) -> bool {
    let mut lx = Lexer::new(value.as_bytes(), true);
    let mut scan = Scan::new(true);
    for t in lx.by_ref() {
        let bad = match t.kind {
            Tok::Semi | Tok::UserVar | Tok::Placeholder => true,
            Tok::Word => keyword(&value.as_bytes()[t.start()..t.end()]) == Kw::Select,
            _ => false,
        };
        if bad {
            return false;
        }
        scan.feed(value.as_bytes(), t);
    }
    !lx.error && !lx.saw_comment && !lx.saw_backslash && scan.flags.is_empty()
}

fn starts_with_ci(s: &str, p: &str) -> bool {
    s.len() >= p.len() && s.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
}

/// De-duplication key of an (unquoted) variable name: lower-case, `tx_*` aliases mapped to the
/// `transaction_*` names (the statement itself keeps the spelling the client used).
fn var_key(name: &str) -> String {
    let k = name.to_ascii_lowercase();
    match k.as_str() {
        "tx_isolation" => "transaction_isolation".into(),
        "tx_read_only" => "transaction_read_only".into(),
        _ => k,
    }
}

/// Strips backquotes from each part of a possibly qualified identifier.
pub(crate) fn unquote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut cur = Cursor::new(name.as_bytes(), true);
    while let Some(t) = cur.next_tok() {
        let text = &name[t.start()..t.end()];
        match t.kind {
            Tok::QuotedIdent => {
                // An unterminated name (`` `x ``) has no closing quote to strip.
                let inner = text.strip_prefix('`').unwrap_or(text);
                let inner = inner.strip_suffix('`').unwrap_or(inner);
                out.push_str(&inner.replace("``", "`"))
            }
            _ => out.push_str(text),
        }
    }
    out
}

/// `` `name` `` with embedded backquotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_and_order() {
        let mut s = SessionState::new(16);
        s.set_schema("shop");
        s.apply_set("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci");
        s.apply_set("SET @@session.sql_mode = 'STRICT_ALL_TABLES', autocommit=0");
        s.apply_set("SET SESSION sql_mode = ''");
        s.apply_set("SET collation_connection = utf8mb4_bin");
        s.apply_set("SET CHARACTER SET latin1");
        s.apply_set("SET GLOBAL max_connections = 10");
        s.apply_set("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY");
        s.apply_set("SET tx_isolation = 'SERIALIZABLE'");
        s.apply_set("SET insert_id = 5");
        s.set_schema("sh`op");
        assert_eq!(
            s.statements(),
            [
                "SET SESSION autocommit = 0",
                "SET SESSION sql_mode = ''",
                "SET CHARACTER SET latin1",
                "SET SESSION TRANSACTION READ ONLY",
                "SET SESSION tx_isolation = 'SERIALIZABLE'",
                "USE `sh``op`",
            ]
        );
    }

    #[test]
    fn relative_values_keep_history_and_cap_overflows() {
        let mut s = SessionState::new(3);
        s.apply_set("SET sql_mode = 'A'");
        s.apply_set("SET sql_mode = CONCAT(@@sql_mode, ',B')");
        assert_eq!(s.statements().len(), 2);
        s.apply_set("SET a = 1, b = 2");
        assert!(s.overflow);
        for hidden in [
            "SET SESSION sql_mode = '' /*!99999 ; INSERT INTO t VALUES (1) */",
            "SET sql_mode = ''; INSERT INTO t VALUES (1)",
            "SET sql_mode = (SELECT 'x')",
            "SET sql_mode = @m",
            "SET sql_mode = ?",
            "SET sql_mode = my_func()",
            "SET sql_mode = 'a' -- c",
        ] {
            let mut s = SessionState::new(8);
            s.apply_set(hidden);
            assert!(s.overflow && s.statements().is_empty(), "{hidden}");
        }
        let mut s = SessionState::new(8);
        s.apply_set("SET sql_mode = CONCAT(@@sql_mode, ',NO_ZERO_DATE'), time_zone = '+00:00'");
        assert!(!s.overflow);
        assert_eq!(s.statements().len(), 2);
        assert_eq!(unquote_ident("`db`.`t``x`"), "db.t`x");
    }
}
