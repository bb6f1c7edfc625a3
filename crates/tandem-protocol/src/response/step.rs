//! What [`super::ResponseStream`] reports after each packet.

use crate::message::err::ErrPacket;
use crate::message::ok::OkPacket;
use crate::message::stmt_prepare_ok::StmtPrepareOk;
use crate::status::StatusFlags;

/// Result of feeding one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The response goes on; keep relaying.
    Continue,
    /// The server sent a LOCAL INFILE request (`0xFB` + file name). The client now sends the file
    /// as packets ending with an empty one — feed those with
    /// [`super::ResponseStream::feed_client`] — and then the server answers with OK/ERR.
    LocalInfile,
    /// During COM_CHANGE_USER the server sent an auth switch or auth-more-data packet. The client
    /// may reply (feed it with [`super::ResponseStream::feed_client`]); the server's next packet
    /// continues the exchange.
    AuthRequest,
    /// The response is complete (after the last result of a multi-result response).
    Done(Outcome),
    /// An OK packet that ends one result of a multi-result response (more results follow)
    /// carried session-state changes (`SESSION_STATE_CHANGED`). The response goes on, like
    /// [`Continue`](Self::Continue); the packet is the last one scanned, so a proxy can record
    /// the changes (or rewrite the packet for a client that did not ask for them).
    Tracked(OkPacket),
}

impl Step {
    /// Whether this step completes the response.
    pub const fn is_done(&self) -> bool {
        matches!(self, Step::Done(_))
    }

    /// Whether the client must act (send LOCAL INFILE data or an auth reply) before the server
    /// continues.
    pub const fn awaits_client(&self) -> bool {
        matches!(self, Step::LocalInfile | Step::AuthRequest)
    }
}

/// How a complete response ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An OK packet, an EOF packet or an OK-as-EOF (`0xFE`) packet ended the response. For EOF
    /// endings only `status` and `warnings` are filled in.
    Ok(OkPacket),
    /// An ERR packet ended the response.
    Err(ErrPacket),
    /// COM_STMT_PREPARE succeeded; `status` comes from the last EOF packet if one was sent.
    Prepared {
        /// The prepare-OK header (statement id, counts).
        ok: StmtPrepareOk,
        /// Status from a trailing EOF packet, when `CLIENT_DEPRECATE_EOF` is off.
        status: Option<StatusFlags>,
    },
    /// COM_STATISTICS' human-readable string.
    Text,
}

impl Outcome {
    /// Final status flags, when the ending packet carried them.
    pub fn status(&self) -> Option<StatusFlags> {
        match self {
            Outcome::Ok(ok) => Some(ok.status),
            Outcome::Prepared { status, .. } => *status,
            Outcome::Err(_) | Outcome::Text => None,
        }
    }

    /// Whether the response ended in an error.
    pub const fn is_err(&self) -> bool {
        matches!(self, Outcome::Err(_))
    }
}
