//! Server status flags, carried by OK and EOF packets.
//!
//! The proxy trusts these — not guesses from SQL text — for transaction state
//! (`IN_TRANS`, `IN_TRANS_READONLY`), for where a multi-result response ends
//! (`MORE_RESULTS_EXISTS`) and for cursor state (`CURSOR_EXISTS`, `LAST_ROW_SENT`).

bitflags::bitflags! {
    /// `SERVER_STATUS_*` flags.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct StatusFlags: u16 {
        /// A transaction is active.
        const IN_TRANS = 1;
        /// Autocommit is on.
        const AUTOCOMMIT = 1 << 1;
        /// More result sets follow this one.
        const MORE_RESULTS_EXISTS = 1 << 3;
        /// The query used a bad index.
        const QUERY_NO_GOOD_INDEX_USED = 1 << 4;
        /// The query used no index.
        const QUERY_NO_INDEX_USED = 1 << 5;
        /// A cursor is open (COM_STMT_EXECUTE with a cursor / COM_STMT_FETCH).
        const CURSOR_EXISTS = 1 << 6;
        /// The cursor has been exhausted.
        const LAST_ROW_SENT = 1 << 7;
        /// The current database was dropped.
        const DB_DROPPED = 1 << 8;
        /// `NO_BACKSLASH_ESCAPES` sql_mode is active.
        const NO_BACKSLASH_ESCAPES = 1 << 9;
        /// A prepared statement's metadata changed (re-prepare happened).
        const METADATA_CHANGED = 1 << 10;
        /// The query was logged as slow.
        const QUERY_WAS_SLOW = 1 << 11;
        /// The result set holds OUT parameters of a procedure.
        const PS_OUT_PARAMS = 1 << 12;
        /// The active transaction is read-only.
        const IN_TRANS_READONLY = 1 << 13;
        /// The OK packet carries session state changes.
        const SESSION_STATE_CHANGED = 1 << 14;
        /// MariaDB: `ANSI_QUOTES` sql_mode is active.
        const ANSI_QUOTES = 1 << 15;

        // Keep unknown bits so status words can be forwarded unchanged.
        const _ = !0;
    }
}
