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
