//! The classifier's output types.
//!
//! A [`Statement`] is small and `Copy`: a [`StatementKind`], a set of [`StmtFlags`] saying what
//! else was found, and an optional routing [`Hint`]. Only [`Statement::is_read_only`] decides
//! whether a statement may leave the writer; everything else is information for the session
//! policy, logs and metrics.

use crate::StmtFlags;

/// The kind of a statement, from its leading keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum StatementKind {
    /// `SELECT`, `WITH ... SELECT`, `TABLE t`, `VALUES ...`, parenthesised queries.
    Select,
    /// `SHOW ...`.
    Show,
    /// `DESCRIBE t` / `DESC t` (of a table; `DESCRIBE SELECT` is [`Explain`](Self::Explain)).
    Describe,
    /// `EXPLAIN`/`DESCRIBE`/`ANALYZE` of a statement (read-only only if that statement is).
    Explain,
    /// `INSERT`.
    Insert,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// `REPLACE`.
    Replace,
    /// `CREATE`, `ALTER`, `DROP`, `TRUNCATE`, `RENAME`, `GRANT`, `REVOKE`.
    Ddl,
    /// `BEGIN [WORK]`, `START TRANSACTION [READ ONLY | READ WRITE | WITH CONSISTENT SNAPSHOT]`.
    Begin {
        /// `START TRANSACTION READ ONLY`.
        read_only: bool,
    },
    /// `COMMIT`.
    Commit,
    /// `ROLLBACK` (of the whole transaction).
    Rollback,
    /// `ROLLBACK [WORK] TO [SAVEPOINT] name`.
    RollbackToSavepoint,
    /// `SAVEPOINT name`.
    Savepoint,
    /// `RELEASE SAVEPOINT name`.
    ReleaseSavepoint,
    /// `SET ...`; the payload describes the first assignment.
    Set(SetKind),
    /// `USE db`.
    Use,
    /// `LOCK TABLE(S)`, `LOCK INSTANCE FOR BACKUP`.
    LockTables,
    /// `UNLOCK TABLE(S)`, `UNLOCK INSTANCE`.
    UnlockTables,
    /// `CALL proc(...)`.
    Call,
    /// `DO expr`.
    Do,
    /// `HANDLER t OPEN|READ|CLOSE`.
    Handler,
    /// `XA ...`.
    Xa,
    /// `LOAD DATA` / `LOAD XML`.
    LoadData,
    /// `FLUSH ...`.
    Flush,
    /// SQL-level `PREPARE name FROM ...`.
    Prepare,
    /// SQL-level `EXECUTE name`.
    Execute,
    /// `DEALLOCATE PREPARE name` / `DROP PREPARE name`.
    Deallocate,
    /// `KILL ...`.
    Kill,
    /// Administrative statements: `OPTIMIZE`, `REPAIR`, `ANALYZE TABLE`, `CHECK`, `PURGE`,
    /// `RESET`, `CHANGE MASTER`, `START/STOP SLAVE`, `BINLOG`, `SIGNAL`, `GET DIAGNOSTICS`, ...
    Admin,
    /// Only whitespace and comments (the server answers "Query was empty").
    Empty,
    /// Anything not recognised; always goes to the writer.
    Other,
}

impl StatementKind {
    /// Kinds that can be side-effect-free reads (subject to the flags).
    pub const fn is_read_kind(self) -> bool {
        matches!(
            self,
            StatementKind::Select
                | StatementKind::Show
                | StatementKind::Describe
                | StatementKind::Explain
        )
    }

    /// Kinds that change data, schema or server state.
    pub const fn is_write_kind(self) -> bool {
        matches!(
            self,
            StatementKind::Insert
                | StatementKind::Update
                | StatementKind::Delete
                | StatementKind::Replace
                | StatementKind::Ddl
                | StatementKind::LoadData
                | StatementKind::Call
                | StatementKind::Admin
        )
    }
}

/// What a `SET` statement changes (its first assignment; see [`StmtFlags`] for the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum SetKind {
    /// `SET NAMES cs [COLLATE co]`.
    Names,
    /// `SET CHARACTER SET cs` / `SET CHARSET cs`.
    CharacterSet,
    /// `SET [SESSION] autocommit = ...`; `None` when the value is not a literal.
    Autocommit(Option<bool>),
    /// `SET [SESSION | LOCAL | @@session. | @@] var = ...`.
    SessionVar,
    /// `SET [SESSION | GLOBAL] TRANSACTION ...`; `session` is false for the next-transaction-only
    /// form without a scope (and for `GLOBAL`).
    Transaction {
        /// The change persists for the session.
        session: bool,
    },
    /// `SET @user_var = ...`.
    UserVar,
    /// `SET GLOBAL ...` / `SET PERSIST ...` / `SET @@global.var = ...`.
    Global,
    /// `SET ROLE ...`.
    Role,
    /// `SET PASSWORD ...`, `SET DEFAULT ROLE ...` (account changes).
    Password,
    /// Not understood.
    Other,
}

/// A routing hint found in a comment: `/* tandem:writer */` or `/* tandem:reader */`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Hint {
    /// Send this statement to the writer.
    Writer,
    /// This read may go to a reader even inside the read-your-writes window. It never sends a
    /// statement that is not read-only to a reader, and never overrides hard pins.
    Reader,
}

/// A classified statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Statement {
    /// What the statement is.
    pub kind: StatementKind,
    /// What else was found in it.
    pub flags: StmtFlags,
    /// A routing hint from a comment.
    pub hint: Option<Hint>,
}

impl Statement {
    /// A statement of `kind` with no flags and no hint.
    pub const fn new(kind: StatementKind) -> Self {
        Statement {
            kind,
            flags: StmtFlags::empty(),
            hint: None,
        }
    }

    /// This statement with `flags` added.
    pub const fn with_flags(self, flags: StmtFlags) -> Self {
        Statement {
            flags: self.flags.union(flags),
            ..self
        }
    }

    /// `true` when the statement is positively known to be a side-effect-free read that gives
    /// the same answer on any up-to-date node, i.e. it *may* go to a reader. Hints are not
    /// considered here (see [`SessionPolicy::route`](crate::SessionPolicy::route)).
    pub const fn is_read_only(&self) -> bool {
        self.kind.is_read_kind() && self.flags.difference(StmtFlags::READ_COMPATIBLE).is_empty()
    }

    /// `true` when the statement may change data visible to other sessions (starts the
    /// read-your-writes window).
    pub const fn writes(&self) -> bool {
        self.flags.contains(StmtFlags::WRITES)
    }
}
