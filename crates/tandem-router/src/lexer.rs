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

use crate::swar::{find1, find2, ident_len};
use crate::Hint;

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

impl Versioned {
    /// Whether a comment `/*!NNNNN` (or `/*M!NNNNNN` when `maria`) is run as code.
    fn runs(self, v: u32, maria: bool) -> bool {
        match self {
            Versioned::AllCode => true,
            Versioned::AllSkipped => false,
            // MariaDB ignores MySQL 5.7+ versioned comments (50700..=99999) unless `/*M!`.
            Versioned::Server {
                version,
                mariadb: true,
            } => v <= version && (maria || !(50700..=99999).contains(&v)),
            // MySQL does not know `/*M!` (a plain comment there).
            Versioned::Server {
                version,
                mariadb: false,
            } => !maria && v <= version,
        }
    }
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

    /// Skips whitespace and comments (but not executable-comment code).
    #[inline]
    fn skip_trivia(&mut self) {
        // Fast path: at most one plain space before a token that cannot start trivia.
        let mut b = self.at(self.pos);
        if b == b' ' {
            self.pos += 1;
            b = self.at(self.pos);
        }
        if !matches!(b, b'\t'..=b'\r' | b' ' | b'#' | b'-' | b'/' | b'*') {
            return;
        }
        self.skip_trivia_slow();
    }

    fn skip_trivia_slow(&mut self) {
        loop {
            let b = self.at(self.pos);
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => self.pos += 1,
                b'#' => self.skip_line(),
                b'-' if self.at(self.pos + 1) == b'-'
                    && (self.pos + 2 >= self.src.len() || self.at(self.pos + 2) <= b' ') =>
                {
                    self.skip_line()
                }
                b'/' if self.at(self.pos + 1) == b'*' => {
                    self.saw_comment = true;
                    self.block_comment()
                }
                b'*' if self.in_exec && self.at(self.pos + 1) == b'/' => {
                    self.in_exec = false;
                    self.pos += 2;
                }
                _ => return,
            }
        }
    }

    fn skip_line(&mut self) {
        self.saw_comment = true;
        match self.src[self.pos..].iter().position(|&c| c == b'\n') {
            Some(n) => self.pos += n + 1,
            None => self.pos = self.src.len(),
        }
    }

    /// At `/*`: executable comments the server runs switch to code, others are skipped
    /// (noting hints).
    fn block_comment(&mut self) {
        let body = self.pos + 2;
        let exec = match (self.at(body), self.at(body + 1)) {
            (b'!', _) => Some((body + 1, false)),
            (b'M', b'!') => Some((body + 2, true)),
            _ => None,
        };
        if let Some((p, maria)) = exec {
            if self.in_exec {
                // Executable comments do not nest; the server rejects this or reads it in a
                // way we will not guess at.
                return self.fail();
            }
            let digits = self.src[p.min(self.src.len())..]
                .iter()
                .take(6)
                .take_while(|c| c.is_ascii_digit())
                .count();
            // MariaDB reads a 6th digit as part of the version, MySQL as code after it.
            let digits = match self.versioned {
                Versioned::Server { mariadb: false, .. } => digits.min(5),
                Versioned::Server { mariadb: true, .. } => digits,
                // Server not known: the two readings differ; we will not guess.
                Versioned::AllCode | Versioned::AllSkipped if digits == 6 => return self.fail(),
                Versioned::AllCode | Versioned::AllSkipped => digits,
            };
            if digits < 5 {
                // Not a version comment: its content is code (fewer digits lex as a number).
                self.in_exec = true;
                self.pos = p;
                return;
            }
            let version = self.src[p..p + digits]
                .iter()
                .fold(0u32, |v, c| v * 10 + u32::from(c - b'0'));
            match self.first_version {
                None => self.first_version = Some(version),
                Some(v) if v != version => self.mixed_versions = true,
                Some(_) => {}
            }
            if self.versioned.runs(version, maria) {
                self.in_exec = true;
                self.pos = p + digits;
            } else {
                self.skip_versioned(p + digits);
            }
            return;
        }
        let end = find(&self.src[body..], b"*/");
        let Some(n) = end else {
            return self.fail();
        };
        self.note_hint(&self.src[body..body + n]);
        self.pos = body + n + 2;
    }

    /// Skips a versioned comment the server does not run, from `from` (after its digits) to its
    /// `*/`. As in the server, it may contain plain `/* */` comments one level deep.
    fn skip_versioned(&mut self, from: usize) {
        let mut i = from;
        loop {
            let Some(n) = find2(&self.src[i.min(self.src.len())..], b'*', b'/') else {
                return self.fail();
            };
            i += n;
            match (self.at(i), self.at(i + 1)) {
                (b'*', b'/') => {
                    self.pos = i + 2;
                    return;
                }
                (b'/', b'*') => match find(&self.src[i + 2..], b"*/") {
                    Some(m) => i += 2 + m + 2,
                    None => return self.fail(),
                },
                _ => i += 1,
            }
        }
    }

    /// Text we will not guess at: stop lexing and mark it.
    fn fail(&mut self) {
        self.error = true;
        self.pos = self.src.len();
    }

    fn note_hint(&mut self, body: &[u8]) {
        let text = body.trim_ascii();
        let Some(rest) = strip_prefix_ci(text, b"tandem:") else {
            return;
        };
        let hint = if let Some(tail) = strip_prefix_ci(rest, b"writer") {
            (tail.first().is_none_or(|c| !is_ident_byte(*c))).then_some(Hint::Writer)
        } else if let Some(tail) = strip_prefix_ci(rest, b"reader") {
            (tail.first().is_none_or(|c| !is_ident_byte(*c))).then_some(Hint::Reader)
        } else {
            None
        };
        match (self.hint, hint) {
            (_, None) | (Some(Hint::Writer), _) => {}
            (_, h) => self.hint = h,
        }
    }

    /// Consumes a quoted run starting at the opening quote at `self.pos`.
    fn quoted(&mut self, q: u8, escapes: bool) {
        let mut i = self.pos + 1;
        loop {
            let rest = &self.src[i.min(self.src.len())..];
            let Some(n) = find2(rest, q, b'\\') else {
                self.error = true;
                self.pos = self.src.len();
                return;
            };
            i += n;
            if self.src[i] == b'\\' {
                self.saw_backslash = true;
                i += if escapes { 2 } else { 1 };
            } else if self.at(i + 1) == q {
                i += 2;
            } else {
                self.pos = i + 1;
                return;
            }
        }
    }

    #[inline]
    fn ident_run(&mut self) {
        let rest = &self.src[self.pos..];
        self.pos += ident_len(rest);
    }

    #[inline]
    fn word_or_literal(&mut self, start: usize) -> Tok {
        self.ident_run();
        if self.at(self.pos) == b'\'' {
            let word = &self.src[start..self.pos];
            let prefixed = matches!(word, [b'n' | b'N' | b'x' | b'X' | b'b' | b'B'])
                || (word.first() == Some(&b'_') && word.len() > 1);
            if prefixed {
                self.quoted(b'\'', self.backslash_escapes);
                return Tok::Str;
            }
        }
        if self.src[start].is_ascii_digit() {
            return self.number_tail(&self.src[start..self.pos]);
        }
        Tok::Word
    }

    /// After a run starting with a digit: decide number vs identifier, eat fraction/exponent.
    fn number_tail(&mut self, word: &[u8]) -> Tok {
        let all_digits = word.iter().all(u8::is_ascii_digit);
        let radix = word.len() > 2 && matches!(&word[..2], b"0x" | b"0b");
        let exp = word.iter().position(|c| *c == b'e' || *c == b'E');
        let simple_exp = exp.is_some_and(|e| {
            word[..e].iter().all(u8::is_ascii_digit) && word[e + 1..].iter().all(u8::is_ascii_digit)
        });
        if !(all_digits || radix || simple_exp) {
            return Tok::Word;
        }
        if all_digits && self.at(self.pos) == b'.' {
            self.pos += 1;
            self.ident_run();
        }
        let last = self.at(self.pos - 1);
        if (last == b'e' || last == b'E')
            && matches!(self.at(self.pos), b'+' | b'-')
            && self.at(self.pos + 1).is_ascii_digit()
        {
            self.pos += 1;
            self.ident_run();
        }
        Tok::Num
    }

    fn variable(&mut self) -> Tok {
        // at '@'
        if self.at(self.pos + 1) == b'@' {
            self.pos += 2;
            loop {
                self.ident_run();
                if self.at(self.pos) == b'.' && is_ident_byte(self.at(self.pos + 1)) {
                    self.pos += 1;
                } else if self.at(self.pos) == b'`' {
                    self.quoted(b'`', false);
                } else {
                    return Tok::SysVar;
                }
            }
        }
        self.pos += 1;
        match self.at(self.pos) {
            q @ (b'\'' | b'"') => self.quoted(q, self.backslash_escapes),
            b'`' => self.quoted(b'`', false),
            c if is_ident_byte(c) => {
                while is_ident_byte(self.at(self.pos)) || self.at(self.pos) == b'.' {
                    self.pos += 1;
                }
            }
            _ => return Tok::Op,
        }
        Tok::UserVar
    }

    fn operator(&mut self, b: u8) -> Tok {
        if b == b'[' {
            // A delimited identifier under sql_mode MSSQL (a quote inside does not open a
            // string there); no other MySQL syntax uses it outside strings.
            self.error = true;
        }
        let next = self.at(self.pos + 1);
        let two = matches!(
            (b, next),
            (b':', b'=')
                | (b'<', b'=')
                | (b'>', b'=')
                | (b'<', b'>')
                | (b'!', b'=')
                | (b'|', b'|')
                | (b'&', b'&')
                | (b'<', b'<')
                | (b'>', b'>')
                | (b'-', b'>')
        );
        if !two {
            self.pos += 1;
            return if b == b'=' { Tok::Eq } else { Tok::Op };
        }
        self.pos += 2;
        if (b == b'<' && next == b'=' && self.at(self.pos) == b'>')
            || (b == b'-' && self.at(self.pos) == b'>')
        {
            self.pos += 1;
        }
        if b == b':' {
            Tok::Assign
        } else {
            Tok::Op
        }
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
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(Tok, &str)> {
        Lexer::new(sql.as_bytes(), true)
            .map(|t| (t.kind, &sql[t.start()..t.end()]))
            .collect()
    }

    #[test]
    fn comments_and_exec_comments() {
        assert_eq!(
            kinds("/*!40101 SET */ x -- c\n# d\n/*+ BKA(t) */ y"),
            vec![(Tok::Word, "SET"), (Tok::Word, "x"), (Tok::Word, "y")]
        );
        assert_eq!(
            kinds("/*M!100100 a*/b"),
            vec![(Tok::Word, "a"), (Tok::Word, "b")]
        );
        assert_eq!(
            kinds("a--1"),
            vec![
                (Tok::Word, "a"),
                (Tok::Op, "-"),
                (Tok::Op, "-"),
                (Tok::Num, "1")
            ]
        );
        assert_eq!(kinds("a --"), vec![(Tok::Word, "a")]);
    }

    #[test]
    fn strings_and_idents() {
        assert_eq!(
            kinds(r"'a\'b''c' `x``y` N'z' _utf8mb4'w' @`v` @@session.x := 1.5e-3"),
            vec![
                (Tok::Str, r"'a\'b''c'"),
                (Tok::QuotedIdent, "`x``y`"),
                (Tok::Str, "N'z'"),
                (Tok::Str, "_utf8mb4'w'"),
                (Tok::UserVar, "@`v`"),
                (Tok::SysVar, "@@session.x"),
                (Tok::Assign, ":="),
                (Tok::Num, "1.5e-3"),
            ]
        );
        let mut lx = Lexer::new(b"'abc", true);
        assert_eq!(lx.by_ref().count(), 1);
        assert!(lx.error);
        let mut lx = Lexer::new(b"x /* open", true);
        lx.by_ref().for_each(drop);
        assert!(lx.error);
    }

    proptest::proptest! {
        /// The register-only fast path must produce exactly what the general path produces.
        #[test]
        fn fast_path_agrees_with_general_path(s in "[a-c `'.,()=?;@#/*!\\\\0-9_-]{0,40}") {
            let mut fast = Lexer::new(s.as_bytes(), true);
            let mut slow = Lexer::new(s.as_bytes(), true);
            loop {
                let (a, b) = (fast.next_token(), slow.next_general());
                proptest::prop_assert_eq!(a, b, "{:?}", s);
                if a.is_none() {
                    break;
                }
            }
            proptest::prop_assert_eq!(fast.error, slow.error);
        }
    }

    #[test]
    fn hints() {
        let mut lx = Lexer::new(b"/* tandem:reader */ SELECT 1", true);
        lx.by_ref().for_each(drop);
        assert_eq!(lx.hint, Some(Hint::Reader));
        let mut lx = Lexer::new(b"/*TANDEM:WRITER*/ SELECT /* tandem:reader */ 1", true);
        lx.by_ref().for_each(drop);
        assert_eq!(lx.hint, Some(Hint::Writer));
        let mut lx = Lexer::new(b"SELECT '/* tandem:writer */'", true);
        lx.by_ref().for_each(drop);
        assert_eq!(lx.hint, None);
    }
}
