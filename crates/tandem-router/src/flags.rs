//! Small bit-set newtypes ([`StmtFlags`], [`PinReasons`]).
//!
//! The router needs two "bitflags"-style sets but must stay dependency-light, so a tiny
//! declarative macro generates them: named constants, set operations, and a `Debug`/`Display`
//! that lists the names (useful in logs and metrics labels).

macro_rules! flag_set {
    (
        $(#[$outer:meta])*
        $name:ident : $repr:ty {
            $( $(#[$doc:meta])* const $flag:ident = $bit:expr, $label:literal; )*
        }
    ) => {
        $(#[$outer])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub struct $name($repr);

        impl $name {
            $( $(#[$doc])* pub const $flag: Self = Self(1 << $bit); )*

            const NAMES: &'static [(Self, &'static str)] = &[ $( (Self::$flag, $label), )* ];

            /// The empty set.
            pub const fn empty() -> Self {
                Self(0)
            }
            /// The raw bits.
            pub const fn bits(self) -> $repr {
                self.0
            }
            /// Builds a set from raw bits; unknown bits are kept as-is.
            pub const fn from_bits_retain(bits: $repr) -> Self {
                Self(bits)
            }
            /// `true` when no flag is set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
            /// `true` when every flag of `other` is set in `self`.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }
            /// `true` when at least one flag of `other` is set in `self`.
            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }
            /// Set union.
            pub const fn union(self, other: Self) -> Self {
                Self(self.0 | other.0)
            }
            /// Set difference.
            pub const fn difference(self, other: Self) -> Self {
                Self(self.0 & !other.0)
            }
            /// Adds the flags of `other`.
            pub fn insert(&mut self, other: Self) {
                self.0 |= other.0;
            }
            /// Removes the flags of `other`.
            pub fn remove(&mut self, other: Self) {
                self.0 &= !other.0;
            }
            /// Adds or removes `other` depending on `on`.
            pub fn set(&mut self, other: Self, on: bool) {
                if on {
                    self.insert(other)
                } else {
                    self.remove(other)
                }
            }
            /// The lower-case names of the set flags, in declaration order.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                Self::NAMES
                    .iter()
                    .filter(move |(f, _)| self.contains(*f))
                    .map(|(_, n)| *n)
            }
        }

        impl core::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                self.union(rhs)
            }
        }
        impl core::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: Self) {
                self.insert(rhs)
            }
        }
        impl core::ops::BitAnd for $name {
            type Output = Self;
            fn bitand(self, rhs: Self) -> Self {
                Self(self.0 & rhs.0)
            }
        }
        impl core::fmt::Display for $name {
            /// Comma-separated flag names, `-` when empty.
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                if self.is_empty() {
                    return f.write_str("-");
                }
                for (i, n) in self.names().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(n)?;
                }
                Ok(())
            }
        }
        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
    };
}

flag_set! {
    /// What the classifier found in a statement besides its [`StatementKind`](crate::StatementKind).
    ///
    /// Any flag except [`MULTI_STATEMENT`](Self::MULTI_STATEMENT), [`SET_STATEMENT`](Self::SET_STATEMENT) and
    /// [`SESSION_STATE`](Self::SESSION_STATE) makes a statement ineligible for a reader.
    StmtFlags: u32 {
        /// `SELECT ... FOR UPDATE`.
        const FOR_UPDATE = 0, "for_update";
        /// Any locking read: `FOR UPDATE`, `FOR SHARE`, `LOCK IN SHARE MODE`.
        const LOCKING_READ = 1, "locking_read";
        /// `SELECT ... INTO @var | OUTFILE | DUMPFILE`.
        const INTO = 2, "into";
        /// Assigns a user variable (`SET @v = ..`, `@v := ..`, `INTO @v`).
        const USER_VAR_ASSIGN = 3, "user_var_assign";
        /// Reads a user variable (`@v`); user variables live on one connection only.
        const USES_USER_VAR = 4, "uses_user_var";
        /// `LAST_INSERT_ID()` or `@@identity`/`@@last_insert_id`.
        const LAST_INSERT_ID = 5, "last_insert_id";
        /// `FOUND_ROWS()` or `SQL_CALC_FOUND_ROWS`.
        const FOUND_ROWS = 6, "found_rows";
        /// `ROW_COUNT()`.
        const ROW_COUNT = 7, "row_count";
        /// `GET_LOCK()`.
        const LOCK_FUNC = 8, "lock_func";
        /// `RELEASE_LOCK()` / `RELEASE_ALL_LOCKS()`.
        const RELEASE_LOCK = 9, "release_lock";
        /// Sequence access: `NEXTVAL`, `SETVAL`, `LASTVAL`, `NEXT VALUE FOR`, `PREVIOUS VALUE FOR`.
        const SEQUENCE = 10, "sequence";
        /// Replication waits: `MASTER_POS_WAIT`, `MASTER_GTID_WAIT`, `WAIT_FOR_EXECUTED_GTID_SET`, ...
        const GTID_WAIT = 11, "gtid_wait";
        /// More than one statement separated by `;`.
        const MULTI_STATEMENT = 12, "multi_statement";
        /// `CREATE [OR REPLACE] TEMPORARY TABLE`.
        const CREATES_TEMP_TABLE = 13, "creates_temp_table";
        /// `DROP TEMPORARY TABLE` (or `DROP TABLE`, which may drop a temporary table).
        const DROPS_TEMP_TABLE = 14, "drops_temp_table";
        /// The lexer could not make sense of the text (unterminated string/comment, empty part,
        /// or the text lexes differently with and without backslash escapes).
        const UNPARSEABLE = 15, "unparseable";
        /// Changes data, schema, server or replication state.
        const WRITES = 16, "writes";
        /// Calls a function that is not a known-pure built-in (e.g. a stored function).
        const UNKNOWN_FUNCTION = 17, "unknown_function";
        /// The result depends on the connection or node it runs on (`CONNECTION_ID()`,
        /// `SHOW WARNINGS`, `SHOW PROCESSLIST`, `@@server_id`, `LOAD_FILE()`, ...).
        const NODE_LOCAL = 18, "node_local";
        /// Changes replayable session state (`USE`, `SET NAMES`, `SET SESSION ..`, ...).
        const SESSION_STATE = 19, "session_state";
        /// Takes table locks (`LOCK TABLES`, `FLUSH TABLES WITH READ LOCK`).
        const TABLE_LOCK = 20, "table_lock";
        /// The lexer could not settle the statement's structure; [`Classifier`](crate::Classifier)
        /// consults sqlparser for these.
        const UNDECIDED = 21, "undecided";
        /// Runs server-side code whose effects are unknown (`CALL`, stored functions).
        const ROUTINE = 22, "routine";
        /// Runs under `SET STATEMENT var = value FOR ...`: the variables change for that one
        /// statement (servers report the temporary values in its OK packet).
        const SET_STATEMENT = 23, "set_statement";
    }
}

impl StmtFlags {
    /// Flags that are compatible with running a statement on a reader.
    pub(crate) const READ_COMPATIBLE: Self = Self::MULTI_STATEMENT.union(Self::SET_STATEMENT);
}

flag_set! {
    /// Why a session is pinned to the writer (see [`SessionPolicy::pins`](crate::SessionPolicy::pins)),
    /// plus the per-statement reasons reported by [`SessionPolicy::decide`](crate::SessionPolicy::decide).
    PinReasons: u32 {
        /// A transaction is open (server status `IN_TRANS`), or `BEGIN` was sent and not yet answered.
        const TRANSACTION = 0, "transaction";
        /// `autocommit` is off (server status lacks `AUTOCOMMIT`, or `SET autocommit=0` was sent).
        const AUTOCOMMIT_OFF = 1, "autocommit_off";
        /// `LOCK TABLES` or `FLUSH TABLES WITH READ LOCK` until `UNLOCK TABLES`.
        const TABLE_LOCK = 2, "table_lock";
        /// At least one temporary table exists.
        const TEMP_TABLE = 3, "temp_table";
        /// A `GET_LOCK()` lock may be held.
        const USER_LOCK = 4, "user_lock";
        /// User variables were assigned; they live only on the writer connection.
        const USER_VARS = 5, "user_vars";
        /// An SQL-level `PREPARE`d statement exists.
        const PREPARED = 6, "prepared";
        /// A `HANDLER ... OPEN` cursor exists.
        const HANDLER = 7, "handler";
        /// An XA transaction is active.
        const XA = 8, "xa";
        /// Within the read-your-writes window after a write.
        const READ_YOUR_WRITES = 9, "read_your_writes";
        /// A stored procedure or unknown function ran; its session side effects are unknown.
        const ROUTINE = 10, "routine";
        /// Session state grew beyond what can be replayed; stay on the current connection.
        const STATE_OVERFLOW = 11, "state_overflow";
        /// Per statement: a `/* tandem:writer */` hint.
        const HINT = 12, "hint";
        /// Per statement: the statement itself is not a side-effect-free read.
        const STATEMENT = 13, "statement";
    }
}

impl PinReasons {
    /// Session-level pins that a `/* tandem:reader */` hint may override (soft pins).
    pub const SOFT: Self = Self::READ_YOUR_WRITES;
    /// Per-statement reasons (not session state).
    pub const PER_STATEMENT: Self = Self::HINT.union(Self::STATEMENT);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_ops_and_display() {
        let mut f = StmtFlags::INTO | StmtFlags::WRITES;
        assert!(f.contains(StmtFlags::INTO));
        assert!(f.intersects(StmtFlags::WRITES | StmtFlags::SEQUENCE));
        f.remove(StmtFlags::INTO);
        assert_eq!(f.to_string(), "writes");
        assert_eq!(StmtFlags::empty().to_string(), "-");
        assert_eq!(
            format!("{:?}", PinReasons::TRANSACTION | PinReasons::HINT),
            "PinReasons(transaction,hint)"
        );
    }
}
