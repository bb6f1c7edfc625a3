//! Token cursor and the per-token flag scanner.
//!
//! [`Cursor`] wraps the lexer with one token of look-ahead and stops at `;` so each statement of
//! a multi-statement text is classified on its own. [`Scan`] looks at every token of a statement
//! with a two-token memory and raises [`StmtFlags`]: function calls (`name(`), locking clauses
//! (`FOR UPDATE`, `LOCK IN SHARE MODE`), `INTO`, user variables, session-bound `@@variables` and
//! sequence syntax. A window of two previous tokens is enough for every pattern we need, which
//! keeps the scan a single pass with no allocation.

use crate::keywords::{
    function_class, is_node_local_info_table, keyword, scan_keyword, system_schema,
    sysvar_is_node_local, FnClass, Kw, SystemSchema,
};
use crate::lexer::{Lexer, Tok, Token, Versioned};
use crate::StmtFlags;

/// A lexer with one token of look-ahead that does not step over `;`.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    lx: Lexer<'a>,
    peeked: Option<Option<Token>>,
}

impl<'a> Cursor<'a> {
    pub fn new(src: &'a [u8], backslash_escapes: bool) -> Self {
        Cursor {
            lx: Lexer::new(src, backslash_escapes),
            peeked: None,
        }
    }

    pub fn with_mode(src: &'a [u8], backslash_escapes: bool, versioned: Versioned) -> Self {
        Cursor {
            lx: Lexer::with_mode(src, backslash_escapes, versioned),
            peeked: None,
        }
    }

    pub fn src(&self) -> &'a [u8] {
        self.lx.src()
    }

    pub fn lexer(&self) -> &Lexer<'a> {
        &self.lx
    }

    fn fill(&mut self) -> Option<Token> {
        *self.peeked.get_or_insert_with(|| self.lx.next())
    }

    /// The next token of the current statement (`None` at `;` or end of input).
    pub fn peek(&mut self) -> Option<Token> {
        self.fill().filter(|t| t.kind != Tok::Semi)
    }

    /// Consumes and returns the next token of the current statement.
    #[inline]
    pub fn next_tok(&mut self) -> Option<Token> {
        let t = match self.peeked.take() {
            Some(t) => t,
            None => self.lx.next(),
        }?;
        if t.kind == Tok::Semi {
            self.peeked = Some(Some(t));
            return None;
        }
        Some(t)
    }

    /// The keyword at the next token (without consuming it).
    pub fn peek_kw(&mut self) -> Kw {
        match self.peek() {
            Some(t) => self.kw(t),
            None => Kw::None,
        }
    }

    /// Consumes the next token if it is keyword `kw`.
    pub fn eat_kw(&mut self, kw: Kw) -> bool {
        let hit = self.peek_kw() == kw;
        if hit {
            self.peeked = None;
        }
        hit
    }

    /// The keyword of `t` (`Kw::None` for non-words).
    pub fn kw(&self, t: Token) -> Kw {
        if t.kind == Tok::Word {
            keyword(self.text(t))
        } else {
            Kw::None
        }
    }

    pub fn text(&self, t: Token) -> &'a [u8] {
        &self.lx.src()[t.start()..t.end()]
    }

    /// Skips the rest of the current statement.
    pub fn drain(&mut self) {
        while self.next_tok().is_some() {}
    }

    /// At a `;`: consumes it. Returns `true` if another statement follows.
    pub fn next_statement(&mut self) -> bool {
        if self.fill().is_some_and(|t| t.kind == Tok::Semi) {
            self.peeked = None;
            return self.fill().is_some();
        }
        false
    }
}

/// The text of a word, or of a `` `quoted` `` name without its backquotes.
#[inline]
fn unquoted(src: &[u8], t: Token) -> &[u8] {
    let text = &src[t.start()..t.end()];
    match text {
        [b'`', inner @ .., b'`'] => inner,
        _ => text,
    }
}

/// The flag scanner; feed it every token of a statement.
///
/// The history is kept as plain scalars (kinds and one span) rather than whole tokens: copying
/// `Option<Token>`s every step caused store-forwarding stalls that dominated the hot path.
#[derive(Debug, Clone)]
pub(crate) struct Scan {
    pub flags: StmtFlags,
    /// Judge every function call (allow-list) — on for queries; off for statements that go to
    /// the writer anyway, where only the deny-list matters (for the session's pin tracking).
    select: bool,
    into_seen: bool,
    /// The previous tokens were `information_schema .`.
    info_schema: bool,
    prev_kind: Option<Tok>,
    prev_kw: Kw,
    prev_start: usize,
    prev_end: usize,
    prev2_kind: Option<Tok>,
    prev2_kw: Kw,
}

impl Scan {
    pub fn new(select: bool) -> Self {
        Scan {
            flags: StmtFlags::empty(),
            select,
            into_seen: false,
            info_schema: false,
            prev_kind: None,
            prev_kw: Kw::None,
            prev_start: 0,
            prev_end: 0,
            prev2_kind: None,
            prev2_kw: Kw::None,
        }
    }

    /// Forgets the previous tokens (so `name (` is not taken as a call).
    pub fn forget(&mut self) {
        self.prev_kind = None;
        self.prev2_kind = None;
        self.prev_kw = Kw::None;
        self.prev2_kw = Kw::None;
    }

    /// Scans the rest of the statement (the hot loop: lexer and scanner fused, no calls).
    pub fn feed_rest(&mut self, cur: &mut Cursor<'_>) {
        if cur.peeked.is_some() {
            match cur.next_tok() {
                Some(t) => self.feed(cur.src(), t),
                None => return,
            }
        }
        let src = cur.src();
        while let Some(t) = cur.lx.next_token() {
            if t.kind == Tok::Semi {
                cur.peeked = Some(Some(t));
                return;
            }
            self.feed(src, t);
        }
        cur.peeked = Some(None);
    }

    #[inline(always)]
    pub fn feed(&mut self, src: &[u8], t: Token) {
        let mut kw = Kw::None;
        let after_info_schema = std::mem::take(&mut self.info_schema);
        match t.kind {
            Tok::Word if self.prev_kind != Some(Tok::Dot) => {
                kw = scan_keyword(&src[t.start()..t.end()]);
                if kw != Kw::None {
                    self.word(kw);
                }
            }
            Tok::Word | Tok::QuotedIdent
                if after_info_schema && is_node_local_info_table(unquoted(src, t)) =>
            {
                self.flags |= StmtFlags::NODE_LOCAL;
            }
            Tok::Dot if matches!(self.prev_kind, Some(Tok::Word | Tok::QuotedIdent)) => {
                let prev = Token::new_span(Tok::Word, self.prev_start, self.prev_end);
                match system_schema(unquoted(src, prev)) {
                    Some(SystemSchema::Performance) => self.flags |= StmtFlags::NODE_LOCAL,
                    Some(SystemSchema::Information) => self.info_schema = true,
                    None => {}
                }
            }
            Tok::LParen => self.call(src),
            Tok::UserVar if self.into_seen => self.flags |= StmtFlags::USER_VAR_ASSIGN,
            Tok::UserVar => self.flags |= StmtFlags::USES_USER_VAR,
            Tok::Assign if self.prev_kind == Some(Tok::UserVar) => {
                self.flags |= StmtFlags::USER_VAR_ASSIGN
            }
            Tok::SysVar => {
                let text = &src[t.start()..t.end()];
                let name = text
                    .rsplit(|c| *c == b'.' || *c == b'@')
                    .next()
                    .unwrap_or(text);
                if let Some(f) = sysvar_is_node_local(name) {
                    self.flags |= f;
                }
            }
            _ => {}
        }
        self.prev2_kind = self.prev_kind;
        self.prev2_kw = self.prev_kw;
        self.prev_kind = Some(t.kind);
        self.prev_kw = kw;
        self.prev_start = t.start();
        self.prev_end = t.end();
    }

    fn word(&mut self, kw: Kw) {
        match kw {
            Kw::Into if self.select => {
                self.into_seen = true;
                self.flags |= StmtFlags::INTO;
            }
            Kw::Update if self.prev_kw == Kw::For => {
                self.flags |= StmtFlags::FOR_UPDATE | StmtFlags::LOCKING_READ
            }
            Kw::Share if self.prev_kw == Kw::For => self.flags |= StmtFlags::LOCKING_READ,
            Kw::In if self.prev_kw == Kw::Lock => self.flags |= StmtFlags::LOCKING_READ,
            Kw::For
                if self.prev_kw == Kw::Value
                    && matches!(self.prev2_kw, Kw::Next | Kw::Previous) =>
            {
                self.flags |= StmtFlags::SEQUENCE
            }
            Kw::SqlCalcFoundRows => self.flags |= StmtFlags::FOUND_ROWS,
            Kw::Procedure if self.select => {
                self.flags |= StmtFlags::UNKNOWN_FUNCTION | StmtFlags::ROUTINE
            }
            _ => {}
        }
    }

    /// At `(`: judge the call if the previous token names a function.
    fn call(&mut self, src: &[u8]) {
        let qualified = self.prev2_kind == Some(Tok::Dot);
        let class = match self.prev_kind {
            Some(Tok::Word) if !qualified => function_class(&src[self.prev_start..self.prev_end]),
            // A quoted name called as a function; `"f"(` is one under ANSI_QUOTES.
            Some(Tok::Word | Tok::QuotedIdent | Tok::Str) => FnClass::Unknown,
            _ => return,
        };
        match class {
            FnClass::Pure => {}
            FnClass::Writer(f) => self.flags |= f,
            FnClass::Unknown if self.select => {
                self.flags |= StmtFlags::UNKNOWN_FUNCTION | StmtFlags::ROUTINE
            }
            FnClass::Unknown => {}
        }
    }
}
