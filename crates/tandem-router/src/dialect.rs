//! What the classifier must know about the server and the session to read SQL text as the
//! server will: the server's version (executable comments `/*!NNNNN ... */` run only when the
//! version reaches theirs), whether it is MariaDB (`/*M!` comments, MySQL 5.7+ versions skipped),
//! and the session's character set (which bytes are whitespace or part of a multi-byte
//! character). Unknown parts are read the cautious way: a statement is a read only if it is one
//! under every reading.

/// How the session's character set affects lexing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum CharsetClass {
    /// UTF-8 (`utf8mb3`, `utf8mb4`) or ASCII: every byte ≥ 0x80 belongs to an identifier or
    /// string character, never whitespace or punctuation.
    #[default]
    Utf8,
    /// Anything else. Single-byte sets give some high bytes other meanings (latin1's 0xA0 is
    /// whitespace to the server), and the multi-byte sets gbk, big5, sjis, cp932 and gb18030
    /// have trail bytes that are `\` or `` ` ``. A statement with any byte ≥ 0x80 is never
    /// called a read in such a session.
    Other,
}

impl CharsetClass {
    /// The class of a character set or collation name (`utf8mb4`, `utf8mb4_unicode_ci`,
    /// `latin1`, ...), case-insensitive; quotes around it are ignored.
    pub fn from_name(name: &str) -> CharsetClass {
        let n = name
            .trim()
            .trim_matches(|c| c == '\'' || c == '"' || c == '`')
            .to_ascii_lowercase();
        let utf8 = ["utf8mb4", "utf8mb3", "utf8", "ascii"]
            .iter()
            .any(|cs| n == *cs || n.strip_prefix(cs).is_some_and(|r| r.starts_with('_')));
        if utf8 {
            CharsetClass::Utf8
        } else {
            CharsetClass::Other
        }
    }

    /// The class of a handshake collation id (the one byte a client sends at login).
    pub fn from_collation_id(id: u8) -> CharsetClass {
        // ascii (11, 65), utf8mb3 (33, 83, 192-215), utf8mb4 (45, 46, 224-247, 255).
        match id {
            11 | 65 | 33 | 83 | 192..=215 | 45 | 46 | 224..=247 | 255 => CharsetClass::Utf8,
            _ => CharsetClass::Other,
        }
    }
}

/// The server and session facts the classifier reads SQL by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Dialect {
    /// The server's version as its lexer compares executable-comment versions (MariaDB 10.11.6
    /// = 101106, MySQL 8.0.36 = 80036); `None` when not known (or the nodes differ).
    pub version: Option<u32>,
    /// The server is MariaDB.
    pub mariadb: bool,
    /// The session's character set (of the client's text: `character_set_client`).
    pub charset: CharsetClass,
}

impl Dialect {
    /// The dialect of a server from its version string (`10.11.6-MariaDB-0+deb12u1`,
    /// `5.5.5-10.11.6-MariaDB`, `8.0.36`); `version` is `None` when it cannot be read.
    pub fn from_server_version(s: &str) -> Dialect {
        let mariadb = s.contains("MariaDB");
        let s = s.strip_prefix("5.5.5-").unwrap_or(s);
        let mut parts = s
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|p| p.parse::<u32>().ok());
        let version = match (parts.next(), parts.next(), parts.next()) {
            (Some(Some(a)), Some(Some(b)), Some(Some(c))) if b < 100 && c < 100 => {
                Some(a * 10_000 + b * 100 + c)
            }
            _ => None,
        };
        Dialect {
            version,
            mariadb,
            charset: CharsetClass::Utf8,
        }
    }

    /// The dialect that is safe for several servers: their common version if they all agree,
    /// otherwise unknown.
    pub fn common(servers: impl IntoIterator<Item = Dialect>) -> Dialect {
        let mut it = servers.into_iter();
        let Some(first) = it.next() else {
            return Dialect::default();
        };
        it.fold(first, |acc, d| {
            if acc.version == d.version && acc.mariadb == d.mariadb {
                acc
            } else {
                Dialect {
                    version: None,
                    ..acc
                }
            }
        })
    }
}

/// The client character set after a successful `SET` (`SET NAMES cs`, `SET CHARACTER SET cs`,
/// `SET character_set_client = cs`), or `None` when the statement does not set it. A value
/// that is not a plain name (an expression, `DEFAULT`) gives [`CharsetClass::Other`].
pub fn client_charset_change(sql: &str) -> Option<CharsetClass> {
    use crate::keywords::Kw;
    use crate::scan::{Cursor, Scan};
    use crate::setstmt::{parse_set, Scope, Target};
    let mut cur = Cursor::new(sql.as_bytes(), true);
    if cur.next_tok().is_none_or(|t| cur.kw(t) != Kw::Set) {
        return None;
    }
    let mut scan = Scan::new(false);
    let mut class = None;
    let src = sql.as_bytes();
    parse_set(&mut cur, &mut scan, |a| {
        let sets_client = match a.target {
            Target::Names | Target::CharacterSet => true,
            Target::SysVar {
                scope: Scope::Session,
                name,
            } => {
                let n = &src[name.0..name.1];
                n.eq_ignore_ascii_case(b"character_set_client")
            }
            _ => false,
        };
        if !sets_client {
            return;
        }
        let value = sql.get(a.value.0..a.value.1).unwrap_or("").trim();
        // `SET NAMES cs COLLATE co`: the charset is the first word.
        let name = value.split_ascii_whitespace().next().unwrap_or("");
        let plain = !name.is_empty()
            && name
                .trim_matches(|c| c == '\'' || c == '"' || c == '`')
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.eq_ignore_ascii_case("default");
        class = Some(if plain {
            CharsetClass::from_name(name)
        } else {
            CharsetClass::Other
        });
    });
    class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_charsets() {
        let d = Dialect::from_server_version("10.11.6-MariaDB-0+deb12u1-log");
        assert_eq!((d.version, d.mariadb), (Some(101106), true));
        let d = Dialect::from_server_version("5.5.5-10.11.6-MariaDB");
        assert_eq!((d.version, d.mariadb), (Some(101106), true));
        let d = Dialect::from_server_version("8.0.36");
        assert_eq!((d.version, d.mariadb), (Some(80036), false));
        assert_eq!(Dialect::from_server_version("garbage").version, None);
        let a = Dialect::from_server_version("10.11.6-MariaDB");
        let b = Dialect::from_server_version("10.11.7-MariaDB");
        assert_eq!(Dialect::common([a, a]).version, Some(101106));
        assert_eq!(Dialect::common([a, b]).version, None);
        assert_eq!(CharsetClass::from_name("'UTF8MB4'"), CharsetClass::Utf8);
        assert_eq!(
            CharsetClass::from_name("utf8mb4_unicode_ci"),
            CharsetClass::Utf8
        );
        assert_eq!(CharsetClass::from_name("latin1"), CharsetClass::Other);
        assert_eq!(CharsetClass::from_name("utf16"), CharsetClass::Other);
        assert_eq!(CharsetClass::from_name("gbk"), CharsetClass::Other);
        assert_eq!(CharsetClass::from_collation_id(45), CharsetClass::Utf8);
        assert_eq!(CharsetClass::from_collation_id(8), CharsetClass::Other);
        assert_eq!(CharsetClass::from_collation_id(28), CharsetClass::Other);
        let change = |s: &str| client_charset_change(s);
        assert_eq!(change("SET NAMES latin1"), Some(CharsetClass::Other));
        assert_eq!(
            change("SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'"),
            Some(CharsetClass::Utf8)
        );
        assert_eq!(change("SET CHARACTER SET gbk"), Some(CharsetClass::Other));
        assert_eq!(
            change("set character_set_client = utf8"),
            Some(CharsetClass::Utf8)
        );
        assert_eq!(change("SET NAMES DEFAULT"), Some(CharsetClass::Other));
        assert_eq!(change("SET sql_mode = ''"), None);
        assert_eq!(change("SET character_set_results = latin1"), None);
    }
}
