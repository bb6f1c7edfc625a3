//! [`Classifier`]: the fast path plus a cached sqlparser fallback.
//!
//! The lexer settles nearly everything. When it cannot place a statement's structure it marks
//! it [`StmtFlags::UNDECIDED`]; only then does the classifier parse the text with sqlparser's
//! `MySqlDialect` and ask one question: is every statement a plain query (no locking clause, no
//! `INTO`, no data-modifying body)? The answer is cached by digest (hash *and* normalised text,
//! so a hash collision can never turn a write into a read) in a bounded FIFO owned by the caller
//! — there is no global state. The lexer's own flags (functions, variables, hints) still apply,
//! so sqlparser can only ever *relax* "undecided", never the other rules.

use std::collections::{HashMap, VecDeque};

use sqlparser::ast::{Query, SetExpr, Statement as Ast};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use crate::{classify, digest, Statement, StatementKind, StmtFlags};

/// Counters for observability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClassifierStats {
    /// Statements classified.
    pub classified: u64,
    /// Statements the lexer left undecided.
    pub undecided: u64,
    /// Undecided statements answered from the cache.
    pub cache_hits: u64,
    /// Undecided statements that sqlparser accepted as plain queries.
    pub fallback_reads: u64,
}

/// A classifier with a bounded sqlparser-fallback cache; keep one per worker or session.
///
/// ```
/// use tandem_router::Classifier;
/// let mut c = Classifier::new(1024);
/// assert!(c.classify("SELECT 1").is_read_only());
/// // The lexer leaves a parenthesised main query after a CTE list undecided; sqlparser settles it.
/// assert!(c.classify("WITH a AS (SELECT 1 AS x) (SELECT x FROM a)").is_read_only());
/// assert_eq!(c.stats().undecided, 1);
/// ```
#[derive(Debug)]
pub struct Classifier {
    capacity: usize,
    cache: HashMap<u64, (String, bool)>,
    order: VecDeque<u64>,
    stats: ClassifierStats,
}

impl Default for Classifier {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl Classifier {
    /// A classifier whose fallback cache holds at most `capacity` digests (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        Classifier {
            capacity,
            cache: HashMap::new(),
            order: VecDeque::new(),
            stats: ClassifierStats::default(),
        }
    }

    /// Classifies `sql`: [`classify`] first, sqlparser only for [`StmtFlags::UNDECIDED`] text.
    pub fn classify(&mut self, sql: &str) -> Statement {
        self.stats.classified += 1;
        let mut st = classify(sql);
        // sqlparser reads executable comments as comments; the server may run them.
        if !st.flags.contains(StmtFlags::UNDECIDED) || sql.contains("/*!") || sql.contains("/*M!") {
            return st;
        }
        self.stats.undecided += 1;
        let dg = digest(sql);
        let read = match self.cache.get(&dg.hash) {
            Some((text, read)) if *text == dg.text => {
                self.stats.cache_hits += 1;
                *read
            }
            _ => {
                let read = parses_as_plain_queries(sql);
                self.remember(dg.hash, dg.text, read);
                read
            }
        };
        if read {
            self.stats.fallback_reads += 1;
            st.flags.remove(StmtFlags::UNDECIDED);
            if st.kind == StatementKind::Other {
                st.kind = StatementKind::Select;
            }
        }
        st
    }

    /// Counters since creation.
    pub fn stats(&self) -> ClassifierStats {
        self.stats
    }

    /// Number of cached fallback verdicts.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    fn remember(&mut self, hash: u64, text: String, read: bool) {
        if self.capacity == 0 {
            return;
        }
        while self.cache.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.cache.remove(&old);
                }
                None => break,
            }
        }
        if self.cache.insert(hash, (text, read)).is_none() {
            self.order.push_back(hash);
        }
    }
}

/// `true` when sqlparser parses `sql` into only plain, non-locking queries.
fn parses_as_plain_queries(sql: &str) -> bool {
    match Parser::parse_sql(&MySqlDialect {}, sql) {
        Ok(stmts) if !stmts.is_empty() => stmts.iter().all(|s| match s {
            Ast::Query(q) => plain_query(q),
            _ => false,
        }),
        _ => false,
    }
}

fn plain_query(q: &Query) -> bool {
    q.locks.is_empty()
        && q.for_clause.is_none()
        && q.with
            .as_ref()
            .is_none_or(|w| w.cte_tables.iter().all(|c| plain_query(&c.query)))
        && plain_body(&q.body)
}

fn plain_body(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(s) => s.into.is_none(),
        SetExpr::Query(q) => plain_query(q),
        SetExpr::SetOperation { left, right, .. } => plain_body(left) && plain_body(right),
        SetExpr::Values(_) | SetExpr::Table(_) => true,
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_is_cached_and_safe() {
        let mut c = Classifier::new(2);
        let q = "WITH a AS (SELECT 1 AS x) (SELECT x FROM a)";
        assert!(c.classify(q).is_read_only());
        assert!(c
            .classify("WITH a AS (SELECT 2 AS x) (SELECT x FROM a)")
            .is_read_only());
        assert_eq!(c.stats().cache_hits, 1);
        // sqlparser cannot relax the lexer's other flags.
        let locked = "WITH a AS (SELECT 1 AS x) (SELECT x FROM a FOR UPDATE)";
        assert!(!c.classify(locked).is_read_only());
        // Unknown statements stay on the writer.
        assert!(!c.classify("FROBNICATE everything").is_read_only());
        assert!(c.cached() <= 2);
    }
}
