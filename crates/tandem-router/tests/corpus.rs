//! Table-driven routing corpus: every statement in `data/corpus.txt` with its expected route.
//!
//! Each entry is classified with a [`Classifier`] (fast path + sqlparser fallback) and routed by
//! a fresh [`SessionPolicy`], exactly as the proxy does for the first statement of a session.
//! All mismatches are reported at once.

use std::time::Instant;

use tandem_router::{Classifier, PolicyConfig, Route, SessionPolicy};

const CORPUS: &str = include_str!("data/corpus.txt");

fn entries() -> Vec<(Route, String, usize)> {
    let mut out: Vec<(Route, String, usize)> = Vec::new();
    for (i, line) in CORPUS.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("+|") {
            let last = out.last_mut().expect("continuation without a statement");
            last.1.push('\n');
            last.1.push_str(rest);
            continue;
        }
        let route = match line.split_once('|') {
            Some(("R", _)) => Route::Reader,
            Some(("W", _)) => Route::Writer,
            _ if line.trim().is_empty() => continue,
            _ => panic!("corpus line {}: expected `R|` or `W|`: {line}", i + 1),
        };
        out.push((route, line[2..].to_string(), i + 1));
    }
    out
}

#[test]
fn corpus_routes_as_expected() {
    let entries = entries();
    assert!(entries.len() >= 300, "corpus has {} entries", entries.len());
    let mut classifier = Classifier::new(256);
    let now = Instant::now();
    let mut failures = Vec::new();
    for (want, sql, line) in &entries {
        let stmt = classifier.classify(sql);
        let session = SessionPolicy::new(PolicyConfig::default());
        let got = session.route(&stmt, now);
        if got != *want {
            failures.push(format!(
                "line {line}: want {want:?}, got {got:?} ({:?} {}) for {sql:?}",
                stmt.kind, stmt.flags
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_is_stable_under_case_and_whitespace() {
    // Upper-casing keywords and changing whitespace must not change a route; restrict to
    // entries without string literals or quoted names, whose content case matters.
    let now = Instant::now();
    for (want, sql, line) in entries() {
        if sql.contains(['\'', '"', '`', '@', '#', '-', '/', '\n']) || sql.trim().is_empty() {
            continue;
        }
        let variant = format!("  {}\t", sql.to_uppercase().replace(' ', "  "));
        let got = SessionPolicy::new(PolicyConfig::default())
            .route(&Classifier::default().classify(&variant), now);
        assert_eq!(got, want, "line {line}: {variant:?}");
    }
}
