//! The crate's one error type.
//!
//! Every parse of peer bytes funnels into [`ProtocolError`] so that callers can branch on *what*
//! went wrong (a short read, an oversize packet, a desynchronised sequence id, a packet that makes
//! no sense in the current state) instead of matching on strings. A proxy turns these into a
//! closed connection or an ERR packet; it never panics on them.

use std::io;

/// Errors produced while framing, parsing or sequencing MySQL protocol packets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The bytes ended before `what` was complete.
    #[error("truncated {what}")]
    Truncated {
        /// The field or message that was cut short.
        what: &'static str,
    },
    /// A packet (or a logical packet made of continuations) exceeds the configured maximum.
    #[error("packet of {len} bytes exceeds the maximum of {max} bytes")]
    Oversize {
        /// Length announced (or accumulated) so far.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The sequence id of a packet is not the one expected.
    #[error("packets out of sync: expected sequence id {expected}, got {got}")]
    PacketsOutOfSync {
        /// Sequence id that was expected.
        expected: u8,
        /// Sequence id that arrived.
        got: u8,
    },
    /// The bytes are internally inconsistent.
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    /// A message was complete but followed by bytes that belong to nothing.
    #[error("{extra} unexpected trailing bytes after {what}")]
    TrailingBytes {
        /// The message that was parsed.
        what: &'static str,
        /// Number of leftover bytes.
        extra: usize,
    },
    /// A well-formed packet arrived where the protocol does not allow it.
    #[error("unexpected packet (first byte {first_byte:#04x}) while {state}")]
    UnexpectedPacket {
        /// What the state machine was waiting for.
        state: &'static str,
        /// First payload byte of the offending packet (0 for an empty payload).
        first_byte: u8,
    },
    /// The peer asked for something this crate does not implement.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The server answered with an ERR packet where the caller needed success (client login).
    #[error("server error {code} ({sql_state}): {message}")]
    Server {
        /// MySQL error code.
        code: u16,
        /// Five-character SQLSTATE.
        sql_state: String,
        /// Human-readable message.
        message: String,
    },
    /// An I/O error surfaced through the tokio-util codec adapters.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

impl ProtocolError {
    /// Shorthand used by parsers.
    pub(crate) const fn truncated(what: &'static str) -> Self {
        Self::Truncated { what }
    }
}

/// Result alias for this crate.
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;
