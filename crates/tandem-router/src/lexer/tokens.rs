//! Token scanning: quoted strings and identifiers, words, numbers, variables and operators.

use super::{is_ident_byte, Lexer, Tok};
use crate::swar::{find2, ident_len};

impl Lexer<'_> {
    /// Consumes a quoted run starting at the opening quote at `self.pos`.
    pub(super) fn quoted(&mut self, q: u8, escapes: bool) {
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
    pub(super) fn ident_run(&mut self) {
        let rest = &self.src[self.pos..];
        self.pos += ident_len(rest);
    }

    #[inline]
    pub(super) fn word_or_literal(&mut self, start: usize) -> Tok {
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

    pub(super) fn variable(&mut self) -> Tok {
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

    pub(super) fn operator(&mut self, b: u8) -> Tok {
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
