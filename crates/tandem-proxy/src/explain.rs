//! `tandem explain "SQL"` and the admin port's `EXPLAIN ROUTE <sql>`: how Tandem reads one
//! statement and where a fresh session would send it — the classification, the reasons it
//! must go to the writer (if any), and, with a live topology, the node.

use std::time::Instant;

use tandem_router::{classify_with, Dialect, PolicyConfig, Route, SessionPolicy};

/// One statement, explained.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Explanation {
    /// The statement kind (`Select`, `Insert`, `Set`, ...).
    pub kind: String,
    /// What the classifier found in it (`FOR_UPDATE`, `UNKNOWN_FUNCTION`, ...).
    pub flags: String,
    /// `writer` or `reader`.
    pub route: &'static str,
    /// Why it goes to the writer (empty for a read).
    pub reasons: String,
    /// The normalised text (literals as `?`).
    pub digest: String,
}

/// Explains `sql` as a fresh session would route it (read-your-writes and state pins start
/// empty), for servers that read SQL as `dialect`.
pub fn explain(sql: &str, dialect: &Dialect) -> Explanation {
    let stmt = classify_with(sql.as_bytes(), dialect);
    let policy = SessionPolicy::new(PolicyConfig {
        state_from_text: false,
        ..PolicyConfig::default()
    });
    let decision = policy.decide(&stmt, Instant::now());
    Explanation {
        kind: format!("{:?}", stmt.kind),
        flags: if stmt.flags.is_empty() {
            String::new()
        } else {
            stmt.flags.to_string()
        },
        route: match decision.route {
            Route::Writer => "writer",
            Route::Reader => "reader",
        },
        reasons: if decision.reasons.is_empty() {
            String::new()
        } else {
            decision.reasons.to_string()
        },
        digest: tandem_router::digest(sql).text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes() {
        let d = Dialect::default();
        let r = explain("SELECT c FROM t WHERE id = 7", &d);
        assert_eq!((r.route, r.reasons.as_str()), ("reader", ""));
        assert_eq!(r.digest, "select c from t where id = ?");
        let w = explain("SELECT c FROM t WHERE id = 7 FOR UPDATE", &d);
        assert_eq!(w.route, "writer");
        assert!(!w.reasons.is_empty(), "{w:?}");
        assert_eq!(explain("INSERT INTO t VALUES (1)", &d).route, "writer");
    }
}
