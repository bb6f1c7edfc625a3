//! Command recognition: the first byte of every client packet in the command phase.
//!
//! The proxy dispatches on [`Command`] (route a query, answer a ping itself, remap a statement id,
//! expect or not expect a response); [`Command::of`] never fails on arbitrary bytes.

/// A client command byte (`COM_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum Command {
    /// COM_SLEEP (internal; servers reject it).
    Sleep = 0x00,
    /// COM_QUIT.
    Quit = 0x01,
    /// COM_INIT_DB (`USE db`).
    InitDb = 0x02,
    /// COM_QUERY.
    Query = 0x03,
    /// COM_FIELD_LIST.
    FieldList = 0x04,
    /// COM_CREATE_DB.
    CreateDb = 0x05,
    /// COM_DROP_DB.
    DropDb = 0x06,
    /// COM_REFRESH.
    Refresh = 0x07,
    /// COM_SHUTDOWN.
    Shutdown = 0x08,
    /// COM_STATISTICS.
    Statistics = 0x09,
    /// COM_PROCESS_INFO.
    ProcessInfo = 0x0a,
    /// COM_CONNECT (internal).
    Connect = 0x0b,
    /// COM_PROCESS_KILL.
    ProcessKill = 0x0c,
    /// COM_DEBUG.
    Debug = 0x0d,
    /// COM_PING.
    Ping = 0x0e,
    /// COM_TIME (internal).
    Time = 0x0f,
    /// COM_DELAYED_INSERT (internal).
    DelayedInsert = 0x10,
    /// COM_CHANGE_USER.
    ChangeUser = 0x11,
    /// COM_BINLOG_DUMP.
    BinlogDump = 0x12,
    /// COM_TABLE_DUMP.
    TableDump = 0x13,
    /// COM_CONNECT_OUT (internal).
    ConnectOut = 0x14,
    /// COM_REGISTER_SLAVE.
    RegisterSlave = 0x15,
    /// COM_STMT_PREPARE.
    StmtPrepare = 0x16,
    /// COM_STMT_EXECUTE.
    StmtExecute = 0x17,
    /// COM_STMT_SEND_LONG_DATA (no response).
    StmtSendLongData = 0x18,
    /// COM_STMT_CLOSE (no response).
    StmtClose = 0x19,
    /// COM_STMT_RESET.
    StmtReset = 0x1a,
    /// COM_SET_OPTION (answered with EOF).
    SetOption = 0x1b,
    /// COM_STMT_FETCH.
    StmtFetch = 0x1c,
    /// COM_DAEMON (internal).
    Daemon = 0x1d,
    /// COM_BINLOG_DUMP_GTID.
    BinlogDumpGtid = 0x1e,
    /// COM_RESET_CONNECTION.
    ResetConnection = 0x1f,
    /// MariaDB COM_STMT_BULK_EXECUTE.
    StmtBulkExecute = 0xfa,
    /// MariaDB COM_MULTI.
    Multi = 0xfe,
}

impl Command {
    /// Recognises a command byte.
    pub const fn from_u8(b: u8) -> Option<Command> {
        use Command::*;
        Some(match b {
            0x00 => Sleep,
            0x01 => Quit,
            0x02 => InitDb,
            0x03 => Query,
            0x04 => FieldList,
            0x05 => CreateDb,
            0x06 => DropDb,
            0x07 => Refresh,
            0x08 => Shutdown,
            0x09 => Statistics,
            0x0a => ProcessInfo,
            0x0b => Connect,
            0x0c => ProcessKill,
            0x0d => Debug,
            0x0e => Ping,
            0x0f => Time,
            0x10 => DelayedInsert,
            0x11 => ChangeUser,
            0x12 => BinlogDump,
            0x13 => TableDump,
            0x14 => ConnectOut,
            0x15 => RegisterSlave,
            0x16 => StmtPrepare,
            0x17 => StmtExecute,
            0x18 => StmtSendLongData,
            0x19 => StmtClose,
            0x1a => StmtReset,
            0x1b => SetOption,
            0x1c => StmtFetch,
            0x1d => Daemon,
            0x1e => BinlogDumpGtid,
            0x1f => ResetConnection,
            0xfa => StmtBulkExecute,
            0xfe => Multi,
            _ => return None,
        })
    }

    /// The command of a client packet (its first payload byte).
    pub fn of(payload: &[u8]) -> Option<Command> {
        payload.first().and_then(|b| Self::from_u8(*b))
    }

    /// The command byte.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Whether the server answers this command at all (COM_QUIT, COM_STMT_CLOSE and
    /// COM_STMT_SEND_LONG_DATA get no response).
    pub const fn expects_response(self) -> bool {
        !matches!(
            self,
            Command::Quit | Command::StmtClose | Command::StmtSendLongData
        )
    }

    /// Whether the payload starts with a 4-byte statement id (bytes 1..5).
    pub const fn carries_stmt_id(self) -> bool {
        matches!(
            self,
            Command::StmtExecute
                | Command::StmtSendLongData
                | Command::StmtClose
                | Command::StmtReset
                | Command::StmtFetch
                | Command::StmtBulkExecute
        )
    }

    /// The text argument of commands whose payload is `command byte + text` (COM_QUERY without
    /// query attributes, COM_INIT_DB, COM_STMT_PREPARE, COM_FIELD_LIST's table).
    pub fn argument(payload: &[u8]) -> &[u8] {
        payload.get(1..).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_is_total() {
        let mut known = 0;
        for b in 0..=u8::MAX {
            if let Some(c) = Command::from_u8(b) {
                assert_eq!(c.as_u8(), b);
                known += 1;
            }
        }
        assert_eq!(known, 34);
        assert_eq!(Command::of(&[]), None);
        assert_eq!(Command::of(b"\x03SELECT 1"), Some(Command::Query));
        assert_eq!(Command::argument(b"\x03SELECT 1"), b"SELECT 1");
        assert_eq!(Command::argument(b""), b"");
    }

    #[test]
    fn response_expectations() {
        assert!(!Command::Quit.expects_response());
        assert!(!Command::StmtClose.expects_response());
        assert!(!Command::StmtSendLongData.expects_response());
        assert!(Command::StmtReset.expects_response());
        assert!(Command::StmtFetch.carries_stmt_id());
        assert!(!Command::StmtPrepare.carries_stmt_id());
    }
}
