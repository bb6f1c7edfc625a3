//! Text crafted to hide a write from the classifier: every case must route to the writer, under
//! the reading the server will take (its version and the session's character set), and the
//! classifier must never panic, whatever the bytes.

use tandem_router::{classify_bytes, classify_with, CharsetClass, Dialect, StmtFlags};

fn mariadb_10_11() -> Dialect {
    Dialect::from_server_version("10.11.6-MariaDB-0+deb12u1")
}

fn mysql_8() -> Dialect {
    Dialect::from_server_version("8.0.36")
}

fn latin1(d: Dialect) -> Dialect {
    Dialect {
        charset: CharsetClass::Other,
        ..d
    }
}

#[track_caller]
fn writer(sql: &[u8], d: Dialect) {
    let st = classify_with(sql, &d);
    assert!(
        !st.is_read_only(),
        "{:?} was called a read under {d:?}: {st:?}",
        String::from_utf8_lossy(sql)
    );
}

#[track_caller]
fn reader(sql: &[u8], d: Dialect) {
    let st = classify_with(sql, &d);
    assert!(
        st.is_read_only(),
        "{:?} should be a read under {d:?}: {st:?}",
        String::from_utf8_lossy(sql)
    );
}

#[test]
fn versioned_comments_follow_the_server_version() {
    let (m, my, unknown) = (mariadb_10_11(), mysql_8(), Dialect::default());
    for d in [m, my, unknown] {
        writer(b"/*!99999 SELECT */ DELETE FROM t", d);
        writer(b"/*!99999 SELECT 1 FROM */ t FOR UPDATE", d);
        writer(b"/*M!999999 SELECT */ DELETE FROM t", d);
        writer(
            b"SELECT 1 /*!99999 /* one nested level */ SELECT */ ; DELETE FROM t",
            d,
        );
        writer(b"SELECT /*!40101 1 /*!40101 , 2 */ */", d); // nested executable comments
        writer(b"SELECT /*!40101 1", d); // never closed
        writer(b"SELECT 1 /*!99999 unterminated", d);
        reader(b"SELECT /*!40001 SQL_NO_CACHE */ * FROM t", d);
        reader(b"SELECT 1 /* plain */", d);
    }
    // Known versions read exactly as the server does.
    reader(b"/*!40101 SELECT 1 */", m);
    reader(b"/*M!100100 SELECT 1 */", m);
    writer(b"/*M!100100 SELECT */ DELETE FROM t", my); // MySQL: /*M! is a plain comment
    writer(b"SELECT 1 /*!100100 FOR UPDATE */", m);
    reader(b"SELECT 1 /*!110500 FOR UPDATE */", m); // newer than 10.11: skipped by the server
    writer(b"SELECT 1 /*!110500 FOR UPDATE */", Dialect::default());
    writer(b"SELECT 1 /*M!100000 FOR UPDATE */", m);
    // MariaDB skips MySQL 5.7+ versioned comments; MySQL 8 runs them.
    writer(b"SELECT 1 /*!80000 FOR UPDATE */", my);
    reader(b"SELECT 1 /*!80000 FOR UPDATE */", m);
    writer(b"/*!80000 SELECT */ DELETE FROM t", m);
    // Two versions and no known server: too many readings.
    writer(
        b"SELECT 1 /*!40101 , 2 */ /*!50001 , 3 */",
        Dialect::default(),
    );
    // A versioned comment that the server runs cannot hide a second statement.
    writer(b"SELECT 1 /*!40101 ; DELETE FROM t */", m);
}

#[test]
fn comment_rules_and_control_bytes() {
    let d = mariadb_10_11();
    // `--` starts a comment only before whitespace or a control byte.
    writer(b"SELECT a FROM t --\x01\nFOR UPDATE", d);
    writer(b"SELECT a FROM t --\x7f FOR UPDATE", d);
    writer(b"SELECT a FROM t -- x\x00\nFOR UPDATE", d);
    writer(b"SELECT a FROM t # x\x00 FOR UPDATE", d);
    writer(b"SELECT a FROM t\x00 FOR UPDATE", d);
    writer(b"SELECT a\x1a FROM t", d);
    writer(b"SELECT a FROM t --FOR UPDATE", d);
    reader(b"SELECT 1--1", d);
    reader(b"SELECT a FROM t -- c\n", d);
    reader(b"SELECT a\tFROM\r\nt\x0b\x0c", d);
}

#[test]
fn character_sets() {
    let d = mariadb_10_11();
    // latin1: 0xA0 is whitespace to the server, so this is FOR UPDATE there.
    writer(b"SELECT a FROM t FOR\xa0UPDATE", latin1(d));
    writer(b"SELECT GET_LOCK\xa0('x', 0)", latin1(d));
    // gbk/sjis/big5: a lead byte swallows a backslash or backquote that follows it.
    writer(b"SELECT '\x81\\' , 1 FROM t; DELETE FROM t -- '", latin1(d));
    writer(b"SELECT `\x81` FOR UPDATE", latin1(d));
    // Text without high bytes is read the same in any charset.
    reader(b"SELECT a FROM t WHERE b = 'x'", latin1(d));
    // UTF-8: multi-byte characters are identifier or string characters.
    reader(
        "SELECT nom FROM produits WHERE nom = 'Crème brûlée'".as_bytes(),
        d,
    );
    // Backslashes under NO_BACKSLASH_ESCAPES or a multi-byte charset: both readings.
    writer(b"SELECT 'a\\' FOR UPDATE -- '", d);
}

#[test]
fn functions_are_pure_only_by_name() {
    let d = mariadb_10_11();
    for sql in [
        "SELECT json_writer(1)",
        "SELECT JSON_EXTRACTX(a)",
        "SELECT st_mine(1)",
        "SELECT mbr_log(1)",
        "SELECT column_sync(1)",
        "SELECT regexp_rewrite('a')",
        "SELECT \"f\"(1)",
        "SELECT `concat`('a')",
        "SELECT shop.concat('a')",
        "SELECT GET_LOCK('a', 0)",
        "SELECT get_lock /* x */ ('a', 0)",
        "SELECT IS_USED_LOCK('a')",
        "SELECT RELEASE_LOCK('a')",
    ] {
        writer(sql.as_bytes(), d);
    }
    reader(b"SELECT JSON_VALUE(j, '$.a'), CONCAT(a, b) FROM t", d);
}

#[test]
fn lock_functions_hidden_are_still_found() {
    let d = mariadb_10_11();
    writer(b"SELECT /*!40101 GET_LOCK('a', 0) */", d);
    writer(b"SELECT 1 /*M!100000 , GET_LOCK('a', 0) */", d);
    writer(b"SELECT 1 -- x\n, GET_LOCK('a', 0)", d);
}

#[test]
fn unterminated_quotes_do_not_panic() {
    for sql in [
        &b"/*!40101 `"[..],
        b"/*!40101 SELECT `",
        b"SET `",
        b"SET @@`",
        b"USE `",
        b"SET NAMES `",
        b"SET SESSION `x",
        b"/*M!100000 SET `a",
    ] {
        let st = classify_bytes(sql);
        assert!(!st.is_read_only() || st.flags.contains(StmtFlags::UNPARSEABLE));
        let _ = classify_with(sql, &mariadb_10_11());
    }
}

#[test]
fn findings_from_the_server_lexer() {
    let (m, my) = (mariadb_10_11(), mysql_8());
    // MySQL reads five version digits, the sixth is code; MariaDB reads six.
    writer(b"SELECT a FROM t /*!800001 FOR UPDATE */", my);
    reader(b"SELECT 1 /*!999999 FOR UPDATE */", m);
    writer(b"SELECT 1 /*!101106 FOR UPDATE */", Dialect::default()); // six digits, server unknown
                                                                     // Skipped versioned comments do not know strings: the quote is inside the comment.
    writer(b"/*!99999 '*/ DELETE FROM t; -- ' */", m);
    writer(b"/*!99999 /* /* */ */ DELETE FROM t", m);
    // `*/` in a string or a `#` comment does not close running executable code.
    writer(b"SELECT 1 /*!50000 , '*/' FOR UPDATE */", m);
    writer(b"SELECT 1 /*!50000 # */\n FOR UPDATE */", m);
    // A `;` inside running executable code.
    writer(b"SELECT 1 /*!40101 ; SELECT 2 */", m);
    // MSSQL mode's [delimited identifiers] hide quotes.
    writer(b"SELECT 1 AS [x'], 2 FOR UPDATE -- ']", m);
    // A lowercase m is a plain comment.
    reader(b"SELECT 1 /*m!100000 FOR UPDATE */", m);
    // Seven digits: the seventh is code.
    writer(b"SELECT 1 /*!1000002 FOR UPDATE */", m);
}
