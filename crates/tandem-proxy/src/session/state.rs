//! A session's state as the servers report it, never as the client's text says.
//!
//! Every backend connection asks for session tracking (`session_track_system_variables = '*'`,
//! schema and state change), so the OK packet of each client statement says what it changed:
//! the variables with their new values, the schema, and a bare "state changed" flag for what no
//! variable describes (user variables, temporary tables, prepared statements...). [`Tracked`]
//! keeps what the client changed; each backend connection keeps a [`Tracked`] of what it has.
//! Before a connection serves the session, [`Tracked::catch_up`] gives Tandem's own statement
//! that brings it level — one `SET SESSION a = 'x', b = 2` with quoted values, only for what
//! differs — and the schema to select. Client SQL is never run a second time.
//!
//! Not copied: variables that are per connection by nature (`last_gtid`, `last_insert_id`,
//! `insert_id`, `identity`, `rand_seed*`, `pseudo_thread_id`, the schema-derived
//! `character_set_database`/`collation_database`, Tandem's own `session_track_*` settings), and,
//! on a reader, the transaction access mode (a reader always runs `READ ONLY`).

use std::collections::BTreeMap;
use std::fmt::Write;

use tandem_protocol::SessionStateChange;

/// Never copied to another connection.
const NOT_COPIED: &[&str] = &[
    "last_gtid",
    "last_insert_id",
    "insert_id",
    "identity",
    "rand_seed1",
    "rand_seed2",
    "pseudo_thread_id",
    "character_set_database",
    "collation_database",
    "session_track_system_variables",
    "session_track_schema",
    "session_track_state_change",
    "session_track_transaction_info",
    "session_track_gtids",
    "session_track_user_variables",
];

/// The transaction access mode: a reader keeps its own (`READ ONLY`).
const ACCESS_MODE: &[&str] = &["tx_read_only", "transaction_read_only"];

/// Applied first, in this order: a later one may change an earlier one's effect (setting
/// `character_set_connection` resets `collation_connection`).
const CHARSET_ORDER: &[&str] = &[
    "character_set_client",
    "character_set_results",
    "character_set_connection",
    "collation_connection",
];

/// Session variables and schema as reported by a server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tracked {
    /// Variables, by lower-case name, with the value the server reported.
    vars: BTreeMap<String, String>,
    /// The current schema, once a statement changed it (`None`: the login schema).
    schema: Option<String>,
}

/// What one response's changes said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Learned {
    /// The server reported a state change that no variable or schema explains (a user
    /// variable, temporary table, prepared statement...): it cannot be copied.
    pub unexplained: bool,
    /// The client changed Tandem's own tracking settings: what it reports can no longer be
    /// trusted to be complete.
    pub tracking_changed: bool,
    /// The client's character set changed (`character_set_client`).
    pub client_charset: bool,
    /// `character_set_connection` changed and the server did not say to which collation
    /// (`SET NAMES cs COLLATE co` reports only the character sets): ask it.
    pub collation_unknown: bool,
}

impl Tracked {
    /// The schema a statement selected, if any did.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// A variable's reported value.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Records the changes one response reported.
    pub fn learn(&mut self, changes: &[SessionStateChange]) -> Learned {
        let mut learned = Learned::default();
        let mut explained = false;
        let mut state_changed = false;
        let names: Vec<String> = changes
            .iter()
            .filter_map(|c| match c {
                SessionStateChange::SystemVariable { name, .. } => Some(name.to_ascii_lowercase()),
                _ => None,
            })
            .collect();
        let has = |n: &str| names.iter().any(|x| x == n);
        // Setting one of a charset/collation pair resets the other to match (the server does
        // not always report both).
        if has("character_set_connection") && !has("collation_connection") {
            self.vars.remove("collation_connection");
            learned.collation_unknown = true;
        }
        if has("collation_connection") && !has("character_set_connection") {
            self.vars.remove("character_set_connection");
        }
        for change in changes {
            match change {
                SessionStateChange::SystemVariable { name, value } => {
                    let name = name.to_ascii_lowercase();
                    explained = true;
                    learned.tracking_changed |= name.starts_with("session_track_");
                    learned.client_charset |= name == "character_set_client";
                    self.vars.insert(name, value.clone());
                }
                SessionStateChange::Schema(s) => {
                    explained = true;
                    self.schema = Some(s.clone());
                }
                SessionStateChange::StateChanged(on) => state_changed |= *on,
                _ => {}
            }
        }
        learned.unexplained = state_changed && !explained;
        learned
    }

    /// What brings a connection whose state is `known` to this state: a `SET SESSION` of the
    /// variables that differ (`None` if none) and the schema to select (`None` if the same).
    /// `reader`: leave the access mode alone.
    pub fn catch_up(&self, known: &Tracked, reader: bool) -> (Option<String>, Option<&str>) {
        let plain_name = |name: &str| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        let excluded =
            |name: &str| NOT_COPIED.contains(&name) || (reader && ACCESS_MODE.contains(&name));
        let copied = |name: &str| plain_name(name) && !excluded(name);
        let differs = |name: &str, value: &String| known.vars.get(name) != Some(value);
        let first = CHARSET_ORDER
            .iter()
            .filter_map(|n| self.vars.get_key_value(*n));
        let rest = self
            .vars
            .iter()
            .filter(|(n, _)| !CHARSET_ORDER.contains(&n.as_str()));
        let mut sql = String::new();
        for (name, value) in first.chain(rest) {
            if !copied(name) || !differs(name, value) {
                continue;
            }
            sql.push_str(if sql.is_empty() { "SET SESSION " } else { ", " });
            let _ = write!(sql, "{name} = {}", literal(name, value));
        }
        let schema = match (&self.schema, &known.schema) {
            (Some(want), have) if have.as_ref() != Some(want) => Some(want.as_str()),
            _ => None,
        };
        ((!sql.is_empty()).then_some(sql), schema)
    }

    /// Whether [`catch_up`](Self::catch_up) can bring a connection in this state to `want`:
    /// every variable it has set is one `want` sets too (a variable `want` never set would
    /// need the connection's value from before, which nobody reported), and its schema can be
    /// selected (`want`'s, or the login schema when there is one). Otherwise the connection
    /// needs a reset first.
    pub fn levelable_to(&self, want: &Tracked, login_schema: bool) -> bool {
        let vars = self
            .vars
            .keys()
            .all(|n| NOT_COPIED.contains(&n.as_str()) || want.vars.contains_key(n));
        vars && (self.schema.is_none() || want.schema.is_some() || login_schema)
    }

    /// After a `USE` of the login schema: back to it.
    pub fn at_login_schema(&mut self) {
        self.schema = None;
    }

    /// After [`catch_up`](Self::catch_up) ran on a connection: it now has `target`'s state.
    pub fn caught_up(&mut self, target: &Tracked) {
        for (name, value) in &target.vars {
            self.vars.insert(name.clone(), value.clone());
        }
        if target.schema.is_some() {
            self.schema.clone_from(&target.schema);
        }
    }
}

/// A reported value as an SQL literal for `SET SESSION name = <literal>`: numbers bare (numeric
/// variables refuse strings), `character_set_results`'s empty value as `NULL` (how servers
/// report it), other text quoted — as a hex string when it holds a backslash, which
/// `NO_BACKSLASH_ESCAPES` would read differently.
fn literal(name: &str, value: &str) -> String {
    if value.is_empty() && name == "character_set_results" {
        return "NULL".into();
    }
    if is_number(value) {
        return value.into();
    }
    if value.contains('\\') {
        let mut hex = String::with_capacity(value.len() * 2 + 3);
        hex.push_str("X'");
        for b in value.bytes() {
            let _ = write!(hex, "{b:02X}");
        }
        hex.push('\'');
        return hex;
    }
    format!("'{}'", value.replace('\'', "''"))
}

fn is_number(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, value: &str) -> SessionStateChange {
        SessionStateChange::SystemVariable {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn catch_up_sets_what_differs_charsets_first() {
        let mut want = Tracked::default();
        let l = want.learn(&[
            var("time_zone", "+01:00"),
            var("sql_mode", "ANSI_QUOTES,STRICT_TRANS_TABLES"),
            var("character_set_connection", "utf8mb4"),
            var("character_set_client", "utf8mb4"),
            var("wait_timeout", "100"),
            var("last_gtid", "0-1-5"),
            var("tx_read_only", "OFF"),
            var("lc_time_names", "it's"),
            var("character_set_results", ""),
            SessionStateChange::Schema("shop".into()),
            SessionStateChange::StateChanged(true),
        ]);
        assert!(!l.unexplained && l.client_charset && !l.tracking_changed);
        let fresh = Tracked::default();
        let (sql, schema) = want.catch_up(&fresh, true);
        assert_eq!(
            sql.as_deref(),
            Some(
                "SET SESSION character_set_client = 'utf8mb4', character_set_results = NULL, \
                 character_set_connection = 'utf8mb4', lc_time_names = 'it''s', \
                 sql_mode = 'ANSI_QUOTES,STRICT_TRANS_TABLES', time_zone = '+01:00', \
                 wait_timeout = 100"
            )
        );
        assert_eq!(schema, Some("shop"));
        // On the writer the access mode is copied too.
        let (sql, _) = want.catch_up(&fresh, false);
        assert!(sql.unwrap_or_default().contains("tx_read_only = 'OFF'"));
        // A connection that has it all needs nothing.
        let mut level = Tracked::default();
        level.caught_up(&want);
        assert_eq!(want.catch_up(&level, false), (None, None));
    }

    #[test]
    fn charset_and_collation_reset_each_other() {
        let mut t = Tracked::default();
        t.learn(&[var("collation_connection", "utf8mb4_unicode_ci")]);
        t.learn(&[var("character_set_connection", "latin1")]);
        assert_eq!(t.var("collation_connection"), None);
        t.learn(&[var("collation_connection", "utf8mb4_bin")]);
        assert_eq!(t.var("character_set_connection"), None);
        t.learn(&[
            var("character_set_connection", "utf8mb4"),
            var("collation_connection", "utf8mb4_unicode_ci"),
        ]);
        assert_eq!(t.var("character_set_connection"), Some("utf8mb4"));
        assert_eq!(t.var("collation_connection"), Some("utf8mb4_unicode_ci"));
    }

    #[test]
    fn unexplained_changes_and_tracking_changes_are_flagged() {
        let mut t = Tracked::default();
        assert!(
            t.learn(&[SessionStateChange::StateChanged(true)])
                .unexplained
        );
        assert!(
            t.learn(&[var("session_track_system_variables", "")])
                .tracking_changed
        );
        let (sql, _) = t.catch_up(&Tracked::default(), false);
        assert_eq!(sql, None, "tracking settings are never copied");
    }

    #[test]
    fn a_connection_is_levelable_when_it_set_nothing_the_session_did_not() {
        let mut conn = Tracked::default();
        conn.learn(&[var("sql_mode", "ANSI"), var("last_gtid", "0-1-9")]);
        let mut want = Tracked::default();
        assert!(!conn.levelable_to(&want, true), "sql_mode would stay ANSI");
        want.learn(&[var("sql_mode", ""), var("time_zone", "+02:00")]);
        assert!(conn.levelable_to(&want, true));
        conn.learn(&[SessionStateChange::Schema("other".into())]);
        assert!(conn.levelable_to(&want, true), "USE of the login schema");
        assert!(
            !conn.levelable_to(&want, false),
            "no login schema to go back to"
        );
        want.learn(&[SessionStateChange::Schema("shop".into())]);
        assert!(conn.levelable_to(&want, false));
    }

    #[test]
    fn literals() {
        assert_eq!(literal("timestamp", "1000000.000000"), "1000000.000000");
        assert_eq!(literal("x", "-5"), "-5");
        assert_eq!(literal("x", "1e5"), "'1e5'");
        assert_eq!(literal("x", ""), "''");
        assert_eq!(literal("x", "a\\b"), "X'615C62'");
        assert_eq!(literal("x", "."), "'.'");
    }
}
