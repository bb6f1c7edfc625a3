//! The proxy's own error packets, with the codes and SQLSTATEs MySQL clients expect.

use bytes::BytesMut;
use tandem_protocol::ErrPacket;

/// ER_CON_COUNT_ERROR.
pub const TOO_MANY_CONNECTIONS: (u16, &str) = (1040, "08004");
/// ER_TOO_MANY_USER_CONNECTIONS: a user's own cap (`[[users]] max_connections` or
/// `max_backend_connections`).
pub const TOO_MANY_USER_CONNECTIONS: (u16, &str) = (1203, "42000");
/// ER_ACCESS_DENIED_ERROR.
pub const ACCESS_DENIED: (u16, &str) = (1045, "28000");
/// ER_HANDSHAKE_ERROR.
pub const BAD_HANDSHAKE: (u16, &str) = (1043, "08S01");
/// ER_NET_PACKET_TOO_LARGE.
pub const PACKET_TOO_LARGE: (u16, &str) = (1153, "08S01");
/// ER_OPTION_PREVENTS_STATEMENT: used for "no writable backend".
pub const NO_WRITER: (u16, &str) = (1290, "HY000");
/// CR_SERVER_LOST-style: the backend went away during the statement.
pub const BACKEND_LOST: (u16, &str) = (2013, "HY000");
/// ER_UNKNOWN_COM_ERROR.
pub const UNKNOWN_COMMAND: (u16, &str) = (1047, "08S01");
/// ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION.
pub const READ_ONLY_TRANSACTION: (u16, &str) = (1792, "25006");
/// ER_KILL_DENIED_ERROR.
pub const KILL_DENIED: (u16, &str) = (1095, "HY000");
/// ER_UNKNOWN_ERROR: Tandem's own failures that have no better server code.
pub const UNKNOWN_ERROR: (u16, &str) = (1105, "HY000");
/// ER_PARSE_ERROR.
pub const PARSE_ERROR: (u16, &str) = (1064, "42000");
/// ER_WRONG_ARGUMENTS.
pub const WRONG_ARGUMENTS: (u16, &str) = (1210, "HY000");
/// ER_NOT_SUPPORTED_YET.
pub const NOT_SUPPORTED: (u16, &str) = (1235, "42000");
/// ER_NO_SUCH_THREAD.
pub const NO_SUCH_THREAD: (u16, &str) = (1094, "HY000");
/// ER_MALFORMED_PACKET.
pub const MALFORMED: (u16, &str) = (1835, "HY000");
/// ER_XAER_RMFAIL-like "transaction lost" (writer changed or died inside a transaction).
pub const TRANSACTION_LOST: (u16, &str) = (1180, "HY000");
/// ER_SECURE_TRANSPORT_REQUIRED: TLS is required on this listener.
pub const SECURE_TRANSPORT_REQUIRED: (u16, &str) = (3159, "HY000");

/// Appends an ERR packet with sequence id `seq` to `out`.
pub fn write_err(out: &mut BytesMut, seq: u8, (code, state): (u16, &str), message: &str) {
    let err = ErrPacket::new(code, state, message);
    let mut payload = BytesMut::new();
    err.encode(&mut payload);
    tandem_protocol::write_packet(out, seq, &payload);
}
