//! Statement digests for `GET /digests`: per normalised statement (the router's digest: literals
//! replaced by `?`), how often it ran, its total and worst time, and the routes it took. Only
//! the digest text is kept, never parameter values. Bounded: past [`MAX_DIGESTS`] distinct
//! statements new ones are counted in `other`, not stored.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use serde::Serialize;

/// Distinct statements kept.
pub const MAX_DIGESTS: usize = 2000;
/// Longest digest text kept, in bytes.
const MAX_TEXT: usize = 1024;

#[derive(Debug, Default)]
struct Entry {
    text: String,
    count: AtomicU64,
    total_us: AtomicU64,
    max_us: AtomicU64,
    writer: AtomicU64,
    reader: AtomicU64,
    errors: AtomicU64,
}

/// The digest table.
#[derive(Debug, Default)]
pub struct Digests {
    map: DashMap<u64, Entry>,
    /// Executions of statements not stored (the table was full).
    other: AtomicU64,
}

/// One row of `GET /digests`.
#[derive(Debug, Serialize, PartialEq)]
pub struct DigestRow {
    pub digest: String,
    pub count: u64,
    pub total_ms: f64,
    pub avg_ms: f64,
    pub max_ms: f64,
    /// Executions on the writer and on readers.
    pub writer: u64,
    pub reader: u64,
    pub errors: u64,
}

/// `GET /digests`.
#[derive(Debug, Serialize)]
pub struct DigestReport {
    /// By total time, largest first.
    pub top: Vec<DigestRow>,
    /// Distinct statements stored.
    pub distinct: usize,
    /// Executions of statements past the table's bound.
    pub not_stored: u64,
}

impl Digests {
    /// Counts one execution of the text protocol statement `sql`.
    pub fn record(&self, sql: &[u8], on_writer: bool, took: Duration, err: bool) {
        let hash = tandem_router::digest_hash_bytes(sql);
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bump = |e: &Entry| {
            e.count.fetch_add(1, Ordering::Relaxed);
            e.total_us.fetch_add(us, Ordering::Relaxed);
            e.max_us.fetch_max(us, Ordering::Relaxed);
            let route = if on_writer { &e.writer } else { &e.reader };
            route.fetch_add(1, Ordering::Relaxed);
            if err {
                e.errors.fetch_add(1, Ordering::Relaxed);
            }
        };
        if let Some(e) = self.map.get(&hash) {
            bump(&e);
            return;
        }
        if self.map.len() >= MAX_DIGESTS {
            self.other.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut text = tandem_router::digest(&String::from_utf8_lossy(sql)).text;
        if text.len() > MAX_TEXT {
            let mut end = MAX_TEXT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
        let e = self.map.entry(hash).or_insert_with(|| Entry {
            text,
            ..Entry::default()
        });
        bump(&e);
    }

    /// The `limit` statements with the most total time.
    pub fn top(&self, limit: usize) -> DigestReport {
        let ms = |us: u64| (us as f64 / 1000.0 * 1000.0).round() / 1000.0;
        let mut rows: Vec<DigestRow> = self
            .map
            .iter()
            .map(|e| {
                let count = e.count.load(Ordering::Relaxed);
                let total = e.total_us.load(Ordering::Relaxed);
                DigestRow {
                    digest: e.text.clone(),
                    count,
                    total_ms: ms(total),
                    avg_ms: ms(total / count.max(1)),
                    max_ms: ms(e.max_us.load(Ordering::Relaxed)),
                    writer: e.writer.load(Ordering::Relaxed),
                    reader: e.reader.load(Ordering::Relaxed),
                    errors: e.errors.load(Ordering::Relaxed),
                }
            })
            .collect();
        rows.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms));
        rows.truncate(limit);
        DigestReport {
            top: rows,
            distinct: self.map.len(),
            not_stored: self.other.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_digest_and_keeps_no_values() {
        let d = Digests::default();
        d.record(
            b"SELECT c FROM t WHERE id = 1",
            false,
            Duration::from_millis(2),
            false,
        );
        d.record(
            b"select c from t where id = 42",
            true,
            Duration::from_millis(4),
            false,
        );
        d.record(
            b"INSERT INTO t VALUES ('secret')",
            true,
            Duration::from_millis(1),
            true,
        );
        let r = d.top(10);
        assert_eq!(r.distinct, 2);
        let sel = r
            .top
            .iter()
            .find(|x| x.count == 2)
            .expect("the select digest");
        assert_eq!((sel.writer, sel.reader), (1, 1));
        assert_eq!(sel.total_ms, 6.0);
        assert_eq!(sel.max_ms, 4.0);
        assert!(!sel.digest.contains("42"));
        let ins = r
            .top
            .iter()
            .find(|x| x.errors == 1)
            .expect("the insert digest");
        assert!(!ins.digest.contains("secret"), "{}", ins.digest);
    }
}
