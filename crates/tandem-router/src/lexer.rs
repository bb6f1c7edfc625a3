//! Allocation-free MySQL/MariaDB lexer.
//!
//! Routing only needs token *boundaries*, never values, so the lexer yields `(kind, span)` pairs
//! over the raw bytes. It works on bytes (not `str`) because query text arrives in the client's
//! character set; every byte ≥ 0x80 is treated as an identifier byte, which is right for UTF-8
//! and the single-byte charsets.
//!
//! What it must get right, because a wrong boundary could turn a write into a "read":
//! - `-- ` comments need whitespace/control after the dashes (`a--1` is arithmetic); `#` comments;
//! - `/* ... */` comments, but `/*! ... */` and `/*M! ... */` are *code* when the server would run
//!   them: without version digits always, with a version (5 or 6 digits) only when the target
//!   server's version reaches it ([`Versioned`]). A versioned comment the server skips is skipped
//!   as the server skips it (one level of nested `/* */` allowed inside). A `/*!` inside running
//!   executable code, or an unterminated comment, is an error; `/*+ ... */` hints are comments;
//! - `'...'` / `"..."` strings with doubled quotes and (optionally) backslash escapes, `` `...` ``;
//! - `/* tandem:writer */` and `/* tandem:reader */` routing hints, recorded on the side.
//!
//! With `NO_BACKSLASH_ESCAPES` (or multi-byte charsets whose trail byte is `\`) the server may end a
//! string where we would not. The lexer therefore records whether it saw a backslash inside a
//! string, so the classifier can re-lex without escapes and demand that both readings agree.

use crate::swar::{find1, ident_len};
use crate::Hint;

mod comments;
mod tokens;

/// How versioned executable comments (`/*!50001 ... */`, `/*M!100500 ... */`) are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Versioned {
    /// As this server reads them: `version` as the lexer compares it (10.11.6 = 101106),
    /// `mariadb` for MariaDB's rules (`/*M!`, MySQL 5.7+ versions skipped).
    Server { version: u32, mariadb: bool },
    /// Every versioned comment is code (one reading when the server is not known).
    AllCode,
    /// Every versioned comment is skipped (the other reading).
    AllSkipped,
}

/// Token kinds; the span is carried by [`Token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// Unquoted identifier or keyword.
    Word,
    /// `` `identifier` ``.
    QuotedIdent,
    /// String literal, including `N'..'`, `X'..'`, `B'..'` and `_charset'..'` forms.
    Str,
    /// Numeric literal (decimal, exponent, `0x..`, `0b..`).
    Num,
    /// `@name`, `@'name'`, `` @`name` ``.
    UserVar,
    /// `@@name`, `@@session.name`, ...
    SysVar,
    /// `?` placeholder.
    Placeholder,
    LParen,
    RParen,
    Comma,
    Semi,
    Dot,
    /// `:=`.
    Assign,
    /// `=`.
    Eq,
    /// Any other operator or punctuation.
    Op,
}

/// One token: kind plus byte span in the source.
///
/// The span is packed into one `u64` (start in the high half, end in the low half) so that
/// `Option<Token>` is a scalar pair returned in two registers: returning a three-field token
/// through memory caused store-forwarding stalls that dominated classification time. Offsets
/// fit because [`Lexer::new`] rejects sources longer than `u32::MAX` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Tok,
    span: u64,
}

impl Token {
    /// A token of `kind` over `start..end` (crate-internal helpers reuse spans).
    #[inline]
    pub(crate) fn new_span(kind: Tok, start: usize, end: usize) -> Self {
        Self::new(kind, start, end)
    }

    #[inline]
    fn new(kind: Tok, start: usize, end: usize) -> Self {
        Token {
            kind,
            span: ((start as u64) << 32) | (end as u64 & 0xFFFF_FFFF),
        }
    }
    #[inline]
    pub fn start(&self) -> usize {
        (self.span >> 32) as usize
    }
    #[inline]
    pub fn end(&self) -> usize {
        (self.span & 0xFFFF_FFFF) as usize
    }
}

/// The lexer; an iterator of [`Token`]s with side information (hint, errors).
#[derive(Debug, Clone)]
pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    in_exec: bool,
    backslash_escapes: bool,
    versioned: Versioned,
    /// The routing hint found in a comment, if any (`Writer` wins over `Reader`).
    pub hint: Option<Hint>,
    /// Unterminated string, quoted identifier or comment.
    pub error: bool,
    /// A backslash occurred inside a string literal.
    pub saw_backslash: bool,
    /// The first version of a versioned executable comment seen (`None`: none yet).
    pub first_version: Option<u32>,
    /// Versioned comments with two different versions were seen.
    pub mixed_versions: bool,
    /// A comment of any kind (plain, executable, `#`, `--`) was seen.
    pub saw_comment: bool,
}

/// Identifier bytes: ASCII alphanumerics, `_`, `$`, and every byte ≥ 0x80.
pub(crate) static IDENT: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
        i += 1;
    }
    t
};

#[inline]
pub(crate) fn is_ident_byte(b: u8) -> bool {
    IDENT[b as usize]
}

impl<'a> Lexer<'a> {
    /// A lexer over `src` that reads every executable comment as code (for callers that only
    /// need token boundaries, not a routing verdict).
    pub fn new(src: &'a [u8], backslash_escapes: bool) -> Self {
        let every_comment_runs = Versioned::Server {
            version: u32::MAX,
            mariadb: true,
        };
        Self::with_mode(src, backslash_escapes, every_comment_runs)
    }

    /// A lexer over `src`; text longer than `u32::MAX` bytes is treated as empty and erroneous.
    pub fn with_mode(src: &'a [u8], backslash_escapes: bool, versioned: Versioned) -> Self {
        let too_long = u32::try_from(src.len()).is_err();
        Lexer {
            src: if too_long { &[] } else { src },
            pos: 0,
            in_exec: false,
            backslash_escapes,
            versioned,
            hint: None,
            error: too_long,
            saw_backslash: false,
            first_version: None,
            mixed_versions: false,
            saw_comment: false,
        }
    }

    /// The source text.
    pub fn src(&self) -> &'a [u8] {
        self.src
    }

    fn at(&self, i: usize) -> u8 {
        self.src.get(i).copied().unwrap_or(0)
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        self.next_token()
    }
}

impl Lexer<'_> {
    /// The next token; always inlined so the scan loop is one function without calls.
    #[inline(always)]
    pub(crate) fn next_token(&mut self) -> Option<Token> {
        // Hot path with the position in a register: an optional single space, then a plain
        // word or a one-byte punctuation token. Everything else takes the general path.
        let src = self.src;
        let mut pos = self.pos;
        if src.get(pos) == Some(&b' ') {
            pos += 1;
        }
        if let Some(&b) = src.get(pos) {
            if b.is_ascii_alphabetic() {
                let end = pos + ident_len(&src[pos..]);
                if src.get(end) != Some(&b'\'') {
                    self.pos = end;
                    return Some(Token::new(Tok::Word, pos, end));
                }
            } else if let Some(kind) = punct(b) {
                self.pos = pos + 1;
                return Some(Token::new(kind, pos, pos + 1));
            } else if b == b'.' && !src.get(pos + 1).is_some_and(u8::is_ascii_digit) {
                self.pos = pos + 1;
                return Some(Token::new(Tok::Dot, pos, pos + 1));
            } else if b == b'`' {
                if let Some(n) = find1(&src[pos + 1..], b'`') {
                    let end = pos + n + 2;
                    if src.get(end) != Some(&b'`') {
                        self.pos = end;
                        return Some(Token::new(Tok::QuotedIdent, pos, end));
                    }
                }
            }
        }
        self.next_general()
    }

    #[inline(never)]
    fn next_general(&mut self) -> Option<Token> {
        self.skip_trivia();
        let start = self.pos;
        let Some(&b) = self.src.get(start) else {
            if self.in_exec {
                // An executable comment that never closes.
                self.in_exec = false;
                self.error = true;
            }
            return None;
        };
        if b.is_ascii_alphabetic() {
            let kind = self.word_or_literal(start);
            return Some(Token::new(kind, start, self.pos));
        }
        let kind = match b {
            b'\'' | b'"' => {
                self.quoted(b, self.backslash_escapes);
                Tok::Str
            }
            b'`' => {
                self.quoted(b'`', false);
                Tok::QuotedIdent
            }
            b'@' => self.variable(),
            b'?' => self.single(Tok::Placeholder),
            b'(' => self.single(Tok::LParen),
            b')' => self.single(Tok::RParen),
            b',' => self.single(Tok::Comma),
            b';' => {
                // MariaDB 10.11 aborts on `;` inside running executable code (older servers
                // start a new statement there): never a read.
                if self.in_exec {
                    self.error = true;
                }
                self.single(Tok::Semi)
            }
            b'.' if self.at(start + 1).is_ascii_digit() => {
                self.pos += 1;
                self.ident_run();
                Tok::Num
            }
            b'.' => self.single(Tok::Dot),
            c if is_ident_byte(c) => self.word_or_literal(start),
            _ => self.operator(b),
        };
        Some(Token::new(kind, start, self.pos))
    }
}

impl Lexer<'_> {
    fn single(&mut self, t: Tok) -> Tok {
        self.pos += 1;
        t
    }
}

/// One-byte tokens that need no look-ahead (`.` does: `.5` is a number). A table rather than
/// a `match`, which compiled to a poorly predicted indirect jump on the hot path.
static PUNCT: [Option<Tok>; 256] = {
    let mut t = [None; 256];
    t[b'(' as usize] = Some(Tok::LParen);
    t[b')' as usize] = Some(Tok::RParen);
    t[b',' as usize] = Some(Tok::Comma);
    t[b'=' as usize] = Some(Tok::Eq);
    t[b'?' as usize] = Some(Tok::Placeholder);
    t
};

#[inline]
fn punct(b: u8) -> Option<Tok> {
    PUNCT[usize::from(b)]
}

/// Position of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// ASCII case-insensitive prefix strip.
pub(crate) fn strip_prefix_ci<'b>(s: &'b [u8], prefix: &[u8]) -> Option<&'b [u8]> {
    (s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests;
