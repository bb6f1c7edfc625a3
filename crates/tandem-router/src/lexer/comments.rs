//! Whitespace and comments: `#` and `-- ` line comments, `/* */` blocks, executable and
//! versioned comments (`/*!`, `/*M!`), and the `/* tandem:... */` routing hints.

use super::{find, is_ident_byte, strip_prefix_ci, Lexer, Versioned};
use crate::swar::find2;
use crate::Hint;

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

impl Lexer<'_> {
    /// Skips whitespace and comments (but not executable-comment code).
    #[inline]
    pub(super) fn skip_trivia(&mut self) {
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
}
