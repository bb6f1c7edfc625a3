//! Sans-IO MySQL / MariaDB wire protocol for the Tandem proxy.
//!
//! No sockets, no runtime: bytes in, typed messages and decisions out. The pieces:
//!
//! - **Framing** ([`PacketHeader`], [`write_packet`], [`scan_packets`], [`PacketCodec`]): 3-byte
//!   length + sequence id, continuation of 0xFFFFFF-byte payloads, a size limit checked before
//!   buffering, typed out-of-sync errors; a zero-copy tokio-util codec behind the `codec` feature.
//! - **Messages** (handshake, handshake response, SSL request, auth switch / more data, OK, ERR,
//!   EOF, column count and definition, text rows, commands, statement ids, prepare-OK), each with
//!   `parse` and `encode`.
//! - **Auth** ([`auth`]): mysql_native_password (including login from stored hashes) and
//!   caching_sha2_password fast auth; CSPRNG salts.
//! - **Client login** ([`client`]): the packets to authenticate to a backend.
//! - **Response tracking** ([`ResponseStream`]): where a response to a command ends and which
//!   status flags it ended with, without decoding rows.
//!
//! Every parser returns [`ProtocolError`] on truncated, oversized or inconsistent input; none
//! panics, indexes unchecked, overflows or allocates according to a peer-supplied length.

#![forbid(unsafe_code)]

pub mod auth;
mod capabilities;
pub mod client;
mod codec;
mod error;
mod framing;
pub mod message;
mod response;
mod status;
pub mod wire;

pub use capabilities::Capabilities;
pub use codec::{PacketCodec, DEFAULT_MAX_PACKET_LEN, MAX_PHYSICAL_PACKET};
pub use error::{ProtocolError, Result};
pub use framing::{
    physical_packets, scan_packets, wire_len, write_packet, Packet, PacketHeader, HEADER_LEN,
    MAX_PAYLOAD_LEN,
};
pub use message::auth_more_data::AuthMoreData;
pub use message::auth_switch::{AuthSwitchRequest, AuthSwitchResponse};
pub use message::change_user::ChangeUser;
pub use message::column_count::ColumnCount;
pub use message::column_definition::{ColumnDefinition, ColumnFlags, ColumnType};
pub use message::command::Command;
pub use message::eof::EofPacket;
pub use message::err::ErrPacket;
pub use message::handshake::Handshake;
pub use message::handshake_response::HandshakeResponse;
pub use message::ok::OkPacket;
pub use message::query::query_text;
pub use message::row::{encode_text_row, parse_text_row};
pub use message::session_state::SessionStateChange;
pub use message::ssl_request::SslRequest;
pub use message::stmt::{execute_cursor_flags, rewrite_stmt_id, stmt_id, LAST_PREPARED_STMT_ID};
pub use message::stmt_prepare_ok::StmtPrepareOk;
pub use response::{Outcome, ResponseStream, Scan, Step};
pub use status::StatusFlags;
