//! Capability flags negotiated in the handshake.
//!
//! MySQL defines 32 bits; MariaDB adds 32 more ("extended capabilities") carried in bytes the
//! MySQL handshake reserves. They share one `u64` here — low half standard, high half MariaDB — so
//! that negotiation is a single `&` and nobody has to remember which half a flag lives in.
//! MariaDB reuses bit 0 (`LONG_PASSWORD`, which it calls `CLIENT_MYSQL`): a MariaDB server leaves
//! it clear, which tells the peer that the extended half is present.

bitflags::bitflags! {
    /// Client/server capability flags (`CLIENT_*`, `MARIADB_CLIENT_*` shifted by 32).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Capabilities: u64 {
        /// `CLIENT_LONG_PASSWORD`; MariaDB calls it `CLIENT_MYSQL` and clears it.
        const LONG_PASSWORD = 1;
        /// Report found rows instead of affected rows.
        const FOUND_ROWS = 1 << 1;
        /// Longer column flags.
        const LONG_FLAG = 1 << 2;
        /// A database name may be given in the handshake response.
        const CONNECT_WITH_DB = 1 << 3;
        /// `db.table.column` is not allowed.
        const NO_SCHEMA = 1 << 4;
        /// Compressed protocol.
        const COMPRESS = 1 << 5;
        /// ODBC client.
        const ODBC = 1 << 6;
        /// `LOAD DATA LOCAL INFILE` allowed.
        const LOCAL_FILES = 1 << 7;
        /// Ignore spaces before `(`.
        const IGNORE_SPACE = 1 << 8;
        /// The 4.1 protocol (required by this crate).
        const PROTOCOL_41 = 1 << 9;
        /// Interactive client (interactive_timeout).
        const INTERACTIVE = 1 << 10;
        /// TLS requested / supported.
        const SSL = 1 << 11;
        /// Ignore SIGPIPE (client-side only).
        const IGNORE_SIGPIPE = 1 << 12;
        /// Status flags in OK packets.
        const TRANSACTIONS = 1 << 13;
        /// Unused (old 4.1 flag).
        const RESERVED = 1 << 14;
        /// 4.1 authentication (`CLIENT_SECURE_CONNECTION`).
        const SECURE_CONNECTION = 1 << 15;
        /// Several statements per COM_QUERY.
        const MULTI_STATEMENTS = 1 << 16;
        /// Multiple result sets.
        const MULTI_RESULTS = 1 << 17;
        /// Multiple result sets from COM_STMT_EXECUTE.
        const PS_MULTI_RESULTS = 1 << 18;
        /// Pluggable authentication.
        const PLUGIN_AUTH = 1 << 19;
        /// Connection attributes in the handshake response.
        const CONNECT_ATTRS = 1 << 20;
        /// Length-encoded auth response in the handshake response.
        const PLUGIN_AUTH_LENENC_CLIENT_DATA = 1 << 21;
        /// Client can handle expired passwords.
        const CAN_HANDLE_EXPIRED_PASSWORDS = 1 << 22;
        /// Session state tracking in OK packets.
        const SESSION_TRACK = 1 << 23;
        /// OK packets (0xFE header) replace EOF packets.
        const DEPRECATE_EOF = 1 << 24;
        /// MySQL 8: optional result set metadata.
        const OPTIONAL_RESULTSET_METADATA = 1 << 25;
        /// MySQL 8: zstd compression.
        const ZSTD_COMPRESSION_ALGORITHM = 1 << 26;
        /// MySQL 8: query attributes in COM_QUERY / COM_STMT_EXECUTE.
        const QUERY_ATTRIBUTES = 1 << 27;
        /// MySQL 8: multi-factor authentication.
        const MULTI_FACTOR_AUTHENTICATION = 1 << 28;
        /// Reserved for capability extension.
        const CAPABILITY_EXTENSION = 1 << 29;
        /// Client verifies the server certificate (client-side only).
        const SSL_VERIFY_SERVER_CERT = 1 << 30;
        /// Remember options after a failed connect (client-side only).
        const REMEMBER_OPTIONS = 1 << 31;

        /// MariaDB: progress reports (ERR packets with code 0xFFFF) during long statements.
        const MARIADB_CLIENT_PROGRESS = 1 << 32;
        /// MariaDB: COM_MULTI.
        const MARIADB_CLIENT_COM_MULTI = 1 << 33;
        /// MariaDB: COM_STMT_BULK_EXECUTE.
        const MARIADB_CLIENT_STMT_BULK_OPERATIONS = 1 << 34;
        /// MariaDB: extended type information in column definitions.
        const MARIADB_CLIENT_EXTENDED_METADATA = 1 << 35;
        /// MariaDB: metadata may be skipped for prepared statement results (column count
        /// packets carry a "metadata follows" byte).
        const MARIADB_CLIENT_CACHE_METADATA = 1 << 36;
        /// MariaDB 11.5: unit results for bulk operations.
        const MARIADB_CLIENT_BULK_UNIT_RESULTS = 1 << 37;

        // Keep unknown bits when parsing peers so they can be forwarded unchanged.
        const _ = !0;
    }
}

impl Capabilities {
    /// The low 32 bits (the standard `CLIENT_*` flags).
    pub const fn low(self) -> u32 {
        (self.bits() & 0xFFFF_FFFF) as u32
    }

    /// The high 32 bits (MariaDB extended capabilities), shifted down.
    pub const fn high(self) -> u32 {
        (self.bits() >> 32) as u32
    }

    /// Joins the two halves.
    pub const fn from_halves(low: u32, high: u32) -> Self {
        Self::from_bits_retain((high as u64) << 32 | low as u64)
    }

    /// Whether the peer is MariaDB-flavoured (bit 0 clear): the handshake carries an extended
    /// capability half.
    pub const fn is_mariadb(self) -> bool {
        !self.contains(Self::LONG_PASSWORD)
    }

    /// What a modern client asks for by default: 4.1 protocol and auth, plugins, transactions,
    /// multi results, session tracking, connect attributes and lenenc auth data.
    pub const fn default_client() -> Self {
        Self::LONG_PASSWORD
            .union(Self::LONG_FLAG)
            .union(Self::PROTOCOL_41)
            .union(Self::TRANSACTIONS)
            .union(Self::SECURE_CONNECTION)
            .union(Self::MULTI_RESULTS)
            .union(Self::PS_MULTI_RESULTS)
            .union(Self::PLUGIN_AUTH)
            .union(Self::PLUGIN_AUTH_LENENC_CLIENT_DATA)
            .union(Self::CONNECT_ATTRS)
            .union(Self::SESSION_TRACK)
            .union(Self::DEPRECATE_EOF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_round_trip() {
        let c = Capabilities::PROTOCOL_41 | Capabilities::MARIADB_CLIENT_CACHE_METADATA;
        assert_eq!(c.low(), 1 << 9);
        assert_eq!(c.high(), 1 << 4);
        assert_eq!(Capabilities::from_halves(c.low(), c.high()), c);
        assert!(c.is_mariadb());
        assert!(!Capabilities::LONG_PASSWORD.is_mariadb());
    }

    #[test]
    fn unknown_bits_are_retained() {
        let c = Capabilities::from_bits_retain(1 << 63);
        assert_eq!(c.bits(), 1 << 63);
    }
}
