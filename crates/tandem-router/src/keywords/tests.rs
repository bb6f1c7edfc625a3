use super::functions::{is_pure, MAX_FN, PURE, PURE_KEYS};
use super::table::{kw_slot_with, KEYWORD_LIST, KW_BITS};
use super::*;
use crate::StmtFlags;

#[test]
fn pure_list_is_sorted_and_unique() {
    for w in PURE.windows(2) {
        assert!(
            w[0] < w[1],
            "{} >= {}",
            String::from_utf8_lossy(w[0]),
            String::from_utf8_lossy(w[1])
        );
    }
    assert!(PURE.iter().all(|n| n.len() <= MAX_FN));
    assert!(PURE_KEYS.windows(2).all(|w| w[0] < w[1]));
    for (word, kw) in KEYWORD_LIST {
        assert_eq!(keyword(word), kw);
        assert_eq!(keyword(&word.to_ascii_lowercase()), kw);
    }
    assert!(PURE.iter().all(|n| is_pure(n)));
}

#[test]
#[ignore = "tool: prints a collision-free KW_HASH_MUL"]
fn find_keyword_multiplier() {
    let mut state = 1u64;
    loop {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mul = (state ^ (state >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1;
        let mut seen = [false; 1 << KW_BITS];
        let ok = KEYWORD_LIST.iter().all(|(w, _)| {
            let s = kw_slot_with(key(w), mul);
            !std::mem::replace(&mut seen[s], true)
        });
        if ok {
            println!("KW_HASH_MUL = {mul:#x}");
            return;
        }
    }
}

#[test]
fn classes() {
    assert_eq!(function_class(b"count"), FnClass::Pure);
    assert_eq!(function_class(b"Json_Extract"), FnClass::Pure);
    assert_eq!(function_class(b"json_writes_stuff"), FnClass::Unknown);
    assert_eq!(function_class(b"st_my_proc"), FnClass::Unknown);
    assert_eq!(function_class(b"ST_DISTANCE_SPHERE"), FnClass::Pure);
    assert_eq!(
        function_class(b"last_insert_id"),
        FnClass::Writer(StmtFlags::LAST_INSERT_ID)
    );
    assert_eq!(function_class(b"my_proc_fn"), FnClass::Unknown);
    assert_eq!(keyword(b"select"), Kw::Select);
    assert_eq!(keyword(b"sql_calc_found_rows"), Kw::SqlCalcFoundRows);
    assert_eq!(keyword(b"x"), Kw::None);
}
