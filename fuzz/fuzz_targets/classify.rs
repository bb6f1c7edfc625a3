//! The router on arbitrary bytes: classification under several server dialects and charsets,
//! the session policy's statement hook (SET parsing, replay list) and the digest. Checks: no
//! panic and the same answer twice.

#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use tandem_router::{
    classify_with, digest, CharsetClass, Dialect, PolicyConfig, SessionPolicy,
};

fuzz_target!(|data: &[u8]| {
    let [sel, sql @ ..] = data else { return };
    let dialect = Dialect {
        version: match sel % 4 {
            0 => None,
            1 => Some(101106),
            2 => Some(80036),
            _ => Some(50744),
        },
        mariadb: sel & 4 != 0,
        charset: if sel & 8 != 0 {
            CharsetClass::Other
        } else {
            CharsetClass::Utf8
        },
    };
    let a = classify_with(sql, &dialect);
    let b = classify_with(sql, &dialect);
    assert_eq!(a, b, "classification is not deterministic");
    if let Ok(text) = std::str::from_utf8(sql) {
        let _ = digest(text);
        let mut policy = SessionPolicy::new(PolicyConfig::default());
        policy.on_statement(&a, text, Instant::now());
        let _ = policy.session_state();
    }
});
