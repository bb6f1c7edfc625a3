//! Statement digests: a normalised fingerprint plus a 64-bit hash.
//!
//! Normalisation, in the spirit of `pt-fingerprint` and ProxySQL digests: comments and hints are
//! dropped (executable-comment code is kept), literals become `?` (a sign directly before a
//! number is folded into it), unquoted words are lower-cased, whitespace is folded to single
//! spaces with a fixed rule, `IN (1, 2, 3)` becomes `in (...)`, and multi-row
//! `VALUES (..), (..)` of literals becomes `values (...)`. A trailing `;` is dropped.
//!
//! [`digest_hash`] streams the very same normalised bytes into a hash without allocating, so
//! `digest(sql).hash == digest_hash(sql)` always holds and either can key a cache.

use crate::keywords::{keyword, Kw};
use crate::lexer::{Lexer, Tok, Token};

/// A normalised statement fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Digest {
    /// The normalised text, e.g. `select c from sbtest1 where id = ?`.
    pub text: String,
    /// 64-bit hash of `text` (equal to [`digest_hash`] of the original statement).
    pub hash: u64,
}

/// Computes the normalised digest of `sql`.
///
/// ```
/// let d = tandem_router::digest("SELECT * FROM t WHERE id IN (1, 2, 3) AND name = 'x' -- c");
/// assert_eq!(d.text, "select * from t where id in (...) and name = ?");
/// assert_eq!(d.hash, tandem_router::digest_hash("select *  FROM t WHERE id IN (4,5) AND name='y'"));
/// ```
pub fn digest(sql: &str) -> Digest {
    let mut text = String::with_capacity(sql.len());
    normalize(sql.as_bytes(), &mut |s: &[u8]| {
        text.push_str(&String::from_utf8_lossy(s))
    });
    let hash = hash_str(&text);
    Digest { text, hash }
}

/// The digest hash of `sql` without building the text (no allocation).
pub fn digest_hash(sql: &str) -> u64 {
    digest_hash_bytes(sql.as_bytes())
}

/// [`digest_hash`] for text in any ASCII-compatible character set.
pub fn digest_hash_bytes(sql: &[u8]) -> u64 {
    let mut h = Hasher64::new();
    normalize(sql, &mut |s: &[u8]| h.write(s));
    h.finish()
}

fn hash_str(s: &str) -> u64 {
    let mut h = Hasher64::new();
    h.write(s.as_bytes());
    h.finish()
}

/// A small, fast, seedless 64-bit hash (word-at-a-time multiply-rotate, splitmix finaliser).
/// Stable across platforms and releases of this crate's major version.
#[derive(Debug)]
struct Hasher64 {
    h: u64,
    buf: u64,
    n: u32,
    len: u64,
}

impl Hasher64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;

    fn new() -> Self {
        Hasher64 {
            h: 0x243F_6A88_85A3_08D3,
            buf: 0,
            n: 0,
            len: 0,
        }
    }

    fn mix(&mut self, w: u64) {
        self.h = (self.h ^ w).wrapping_mul(Self::K).rotate_left(29);
    }

    fn write(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if self.n == 0 {
            while let Some((chunk, rest)) = bytes.split_first_chunk::<8>() {
                self.mix(u64::from_le_bytes(*chunk));
                bytes = rest;
            }
        }
        for &b in bytes {
            self.buf |= u64::from(b) << (8 * self.n);
            self.n += 1;
            if self.n == 8 {
                let w = self.buf;
                self.mix(w);
                self.buf = 0;
                self.n = 0;
            }
        }
    }

    fn finish(mut self) -> u64 {
        let w = self.buf ^ self.len.rotate_left(56);
        self.mix(w);
        let mut z = self.h;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// What the last emitted piece was, for spacing and sign folding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    Start,
    /// A value-like token: literal, identifier, `)`, variable.
    Value,
    /// A word that may be a function name (no space before a following `(`).
    Word,
    /// An operator or keyword after which a sign belongs to the number.
    Operator,
    /// `(` or `.`: no space after.
    Open,
}

struct Normalizer<'a, 's> {
    src: &'a [u8],
    sink: &'s mut dyn FnMut(&[u8]),
    last: Last,
}

impl Normalizer<'_, '_> {
    fn emit(&mut self, s: &[u8], space_before: bool, last: Last) {
        if space_before && !matches!(self.last, Last::Start | Last::Open) {
            (self.sink)(b" ");
        }
        (self.sink)(s);
        self.last = last;
    }

    fn word(&mut self, t: Token) {
        let w = &self.src[t.start()..t.end()];
        let mut buf = [0u8; 64];
        let last = if is_operator_word(w) {
            Last::Operator
        } else {
            Last::Word
        };
        if w.len() <= buf.len() {
            let b = &mut buf[..w.len()];
            b.copy_from_slice(w);
            b.make_ascii_lowercase();
            self.emit(b, true, last);
        } else {
            self.emit(&w.to_ascii_lowercase(), true, last);
        }
    }
}

fn is_operator_word(w: &[u8]) -> bool {
    !matches!(keyword(w), Kw::None | Kw::Table | Kw::Values)
        || [
            "WHERE", "AND", "NOT", "WHEN", "THEN", "ELSE", "BY", "LIMIT", "BETWEEN", "LIKE", "IS",
            "INTERVAL", "ON", "HAVING", "XOR", "CASE", "RETURN", "OFFSET",
        ]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k.as_bytes()))
}

fn is_literal(t: Token) -> bool {
    matches!(t.kind, Tok::Str | Tok::Num | Tok::Placeholder)
}

/// If `lx` is positioned just after `(`, checks whether a literal list follows (optionally
/// several groups `(..), (..)` when `groups`); returns the lexer positioned after the list.
fn literal_list<'a>(lx: &Lexer<'a>, groups: bool) -> Option<Lexer<'a>> {
    let mut ahead = lx.clone();
    let src = ahead.src();
    loop {
        let mut expect_value = true;
        loop {
            let t = ahead.next()?;
            let sign = t.kind == Tok::Op && matches!(&src[t.start()..t.end()], b"-" | b"+");
            match t.kind {
                _ if expect_value && sign => continue,
                _ if expect_value && is_literal(t) => expect_value = false,
                _ if expect_value && t.kind == Tok::Word => {
                    let w = &src[t.start()..t.end()];
                    if !(w.eq_ignore_ascii_case(b"null") || w.eq_ignore_ascii_case(b"default")) {
                        return None;
                    }
                    expect_value = false;
                }
                Tok::Comma if !expect_value => expect_value = true,
                Tok::RParen if !expect_value => break,
                _ => return None,
            }
        }
        if !groups {
            return Some(ahead);
        }
        let mut next = ahead.clone();
        match (next.next(), next.next()) {
            (Some(c), Some(p)) if c.kind == Tok::Comma && p.kind == Tok::LParen => ahead = next,
            _ => return Some(ahead),
        }
    }
}

/// Streams the normalised form of `sql` into `sink`.
fn normalize(sql: &[u8], sink: &mut dyn FnMut(&[u8])) {
    let mut lx = Lexer::new(sql, true);
    let mut n = Normalizer {
        src: sql,
        sink,
        last: Last::Start,
    };
    let mut list_kw: Option<bool> = None; // Some(groups) after IN / VALUES
    while let Some(t) = lx.next() {
        let text = &sql[t.start()..t.end()];
        let was_list_kw = list_kw.take();
        match t.kind {
            Tok::Str | Tok::Num | Tok::Placeholder => n.emit(b"?", true, Last::Value),
            Tok::Word => {
                n.word(t);
                list_kw = match keyword(text) {
                    Kw::In => Some(false),
                    Kw::Values | Kw::Value => Some(true),
                    _ => None,
                };
            }
            Tok::QuotedIdent => n.emit(text, true, Last::Value),
            Tok::UserVar | Tok::SysVar => {
                n.emit(&text.to_ascii_lowercase(), true, Last::Value);
            }
            Tok::LParen => {
                if let Some(after) = was_list_kw.and_then(|g| literal_list(&lx, g)) {
                    lx = after;
                    n.emit(b"(...)", true, Last::Value);
                    continue;
                }
                let space = n.last != Last::Word;
                n.emit(b"(", space, Last::Open);
            }
            Tok::RParen => n.emit(b")", false, Last::Value),
            Tok::Comma => n.emit(b",", false, Last::Operator),
            Tok::Dot => n.emit(b".", false, Last::Open),
            Tok::Semi => {
                let mut ahead = lx.clone();
                if ahead.next().is_some() {
                    n.emit(b";", false, Last::Operator);
                }
            }
            Tok::Op
                if matches!(text, b"-" | b"+") && n.last != Last::Value && n.last != Last::Word =>
            {
                let mut ahead = lx.clone();
                if ahead.next().is_some_and(|x| x.kind == Tok::Num) {
                    continue;
                }
                n.emit(text, true, Last::Operator);
            }
            Tok::Op | Tok::Eq | Tok::Assign => n.emit(text, true, Last::Operator),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> String {
        digest(s).text
    }

    #[test]
    fn normalises() {
        assert_eq!(
            d("SELECT  c FROM sbtest1 WHERE id=42"),
            "select c from sbtest1 where id = ?"
        );
        assert_eq!(
            d("/* tandem:reader */ select COUNT(*) from `T` where a in (1,-2, 'x') and b = -3;"),
            "select count(*) from `T` where a in (...) and b = ?"
        );
        assert_eq!(
            d("INSERT INTO t (a,b) VALUES (1,'x'),(2,'y'),(3, NULL)"),
            "insert into t(a, b) values (...)"
        );
        assert_eq!(d("SELECT a-1 FROM t"), "select a - ? from t");
        assert_eq!(d("SELECT t.a FROM db.t"), "select t.a from db.t");
        assert_eq!(
            d("SELECT 1; SELECT @x, @@SESSION.sql_mode"),
            "select ?; select @x, @@session.sql_mode"
        );
        assert_eq!(
            d("select * from t where a in (select b from u)"),
            "select * from t where a in (select b from u)"
        );
        assert_eq!(d("/*!40101 SET NAMES utf8 */"), "set names utf8");
    }

    #[test]
    fn hash_matches_text() {
        for s in ["SELECT 1", "select * from t where id in (1,2)", "", "  ;  "] {
            let dg = digest(s);
            assert_eq!(dg.hash, digest_hash(s), "{s}");
        }
        assert_eq!(
            digest_hash("SELECT * FROM t WHERE id = 1"),
            digest_hash("select *\nfrom t  where id=  2")
        );
        assert_ne!(
            digest_hash("SELECT a FROM t"),
            digest_hash("SELECT b FROM t")
        );
    }
}
