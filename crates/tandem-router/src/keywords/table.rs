//! The keyword table behind [`keyword`](super::keyword): [`KEYWORD_LIST`] and its perfect
//! hash, built and checked for collisions at compile time.

use super::{key, Kw};

/// Multiplier of the perfect hash over [`KEYWORD_LIST`]. If adding a keyword makes the build
/// fail with "keyword hash collision", run `cargo test -p tandem-router -- --ignored
/// find_keyword_multiplier` and paste the value it prints.
const KW_HASH_MUL: u64 = 0x6361_b9f8_f33c_1a7f;
pub(super) const KW_BITS: u32 = 10;

/// Hash slot of a keyword key (multiply-shift on the folded 128-bit key).
pub(super) const fn kw_slot_with(k: u128, mul: u64) -> usize {
    let folded = (k as u64) ^ ((k >> 64) as u64).rotate_left(17);
    (folded.wrapping_mul(mul) >> (64 - KW_BITS)) as usize
}

pub(super) const fn kw_slot(k: u128) -> usize {
    kw_slot_with(k, KW_HASH_MUL)
}

/// Statement and clause keywords the classifier cares about.
#[rustfmt::skip]
pub(super) const KEYWORD_LIST: [(&[u8], Kw); 100] = [
    (b"SELECT", Kw::Select),
    (b"WITH", Kw::With),
    (b"TABLE", Kw::Table),
    (b"VALUES", Kw::Values),
    (b"SHOW", Kw::Show),
    (b"DESCRIBE", Kw::Describe),
    (b"DESC", Kw::Describe),
    (b"EXPLAIN", Kw::Explain),
    (b"ANALYZE", Kw::Analyze),
    (b"INSERT", Kw::Insert),
    (b"UPDATE", Kw::Update),
    (b"DELETE", Kw::Delete),
    (b"REPLACE", Kw::Replace),
    (b"CREATE", Kw::Create),
    (b"DROP", Kw::Drop),
    (b"ALTER", Kw::Alter),
    (b"TRUNCATE", Kw::Truncate),
    (b"RENAME", Kw::Rename),
    (b"GRANT", Kw::Grant),
    (b"REVOKE", Kw::Revoke),
    (b"BEGIN", Kw::Begin),
    (b"START", Kw::Start),
    (b"COMMIT", Kw::Commit),
    (b"ROLLBACK", Kw::Rollback),
    (b"SAVEPOINT", Kw::Savepoint),
    (b"RELEASE", Kw::Release),
    (b"SET", Kw::Set),
    (b"USE", Kw::Use),
    (b"LOCK", Kw::Lock),
    (b"UNLOCK", Kw::Unlock),
    (b"CALL", Kw::Call),
    (b"DO", Kw::Do),
    (b"HANDLER", Kw::Handler),
    (b"XA", Kw::Xa),
    (b"LOAD", Kw::Load),
    (b"FLUSH", Kw::Flush),
    (b"PREPARE", Kw::Prepare),
    (b"EXECUTE", Kw::Execute),
    (b"DEALLOCATE", Kw::Deallocate),
    (b"KILL", Kw::Kill),
    (b"OPTIMIZE", Kw::Admin),
    (b"REPAIR", Kw::Admin),
    (b"CHECK", Kw::Admin),
    (b"CHECKSUM", Kw::Admin),
    (b"INSTALL", Kw::Admin),
    (b"UNINSTALL", Kw::Admin),
    (b"CACHE", Kw::Admin),
    (b"PURGE", Kw::Admin),
    (b"RESET", Kw::Admin),
    (b"CHANGE", Kw::Admin),
    (b"STOP", Kw::Admin),
    (b"SHUTDOWN", Kw::Admin),
    (b"BINLOG", Kw::Admin),
    (b"BACKUP", Kw::Admin),
    (b"SIGNAL", Kw::Admin),
    (b"RESIGNAL", Kw::Admin),
    (b"GET", Kw::Admin),
    (b"HELP", Kw::Admin),
    (b"CLONE", Kw::Admin),
    (b"RESTART", Kw::Admin),
    (b"FOR", Kw::For),
    (b"SHARE", Kw::Share),
    (b"INTO", Kw::Into),
    (b"IN", Kw::In),
    (b"NEXT", Kw::Next),
    (b"PREVIOUS", Kw::Previous),
    (b"VALUE", Kw::Value),
    (b"PROCEDURE", Kw::Procedure),
    (b"TEMPORARY", Kw::Temporary),
    (b"TRANSACTION", Kw::Transaction),
    (b"READ", Kw::Read),
    (b"ONLY", Kw::Only),
    (b"WRITE", Kw::Write),
    (b"WORK", Kw::Work),
    (b"TO", Kw::To),
    (b"GLOBAL", Kw::Global),
    (b"SESSION", Kw::Session),
    (b"LOCAL", Kw::Local),
    (b"PERSIST", Kw::Persist),
    (b"PERSIST_ONLY", Kw::Persist),
    (b"NAMES", Kw::Names),
    (b"CHARACTER", Kw::Character),
    (b"CHARSET", Kw::Charset),
    (b"STATEMENT", Kw::Statement),
    (b"PASSWORD", Kw::Password),
    (b"ROLE", Kw::Role),
    (b"DEFAULT", Kw::Default),
    (b"DATA", Kw::Data),
    (b"XML", Kw::Xml),
    (b"AS", Kw::As),
    (b"RECURSIVE", Kw::Recursive),
    (b"FORMAT", Kw::Format),
    (b"EXTENDED", Kw::Extended),
    (b"PARTITIONS", Kw::Partitions),
    (b"OPEN", Kw::Open),
    (b"CLOSE", Kw::Close),
    (b"NOT", Kw::Not),
    (b"ATOMIC", Kw::Atomic),
    (b"TABLES", Kw::Tables),
    (b"OR", Kw::Or),
];

/// [`key`]s of [`KEYWORD_LIST`], in list order.
pub(super) static KW_KEYS: [u128; KEYWORD_LIST.len()] = {
    let mut keys = [0u128; KEYWORD_LIST.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = key(KEYWORD_LIST[i].0);
        i += 1;
    }
    keys
};

/// Perfect-hash table: slot → 1 + index into [`KEYWORD_LIST`] (0 = empty). Built, and checked
/// for collisions, at compile time.
pub(super) static KW_SLOTS: [u8; 1 << KW_BITS] = {
    let mut slots = [0u8; 1 << KW_BITS];
    let mut i = 0;
    while i < KEYWORD_LIST.len() {
        let s = kw_slot(key(KEYWORD_LIST[i].0));
        assert!(
            slots[s] == 0,
            "keyword hash collision: pick another KW_HASH_MUL"
        );
        slots[s] = (i + 1) as u8;
        i += 1;
    }
    slots
};
