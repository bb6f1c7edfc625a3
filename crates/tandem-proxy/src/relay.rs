//! Relaying one response from a backend to the client as raw bytes. The codec's response-stream
//! machine sees each physical packet (header + payload, never decoded further for rows) to learn
//! where the response ends and its final status flags. Whole read buffers are forwarded in one
//! write; the next read from the backend waits until the client has taken the previous bytes
//! (backpressure).

use bytes::BytesMut;
use tandem_backend::{Conn, ConnError};
use tandem_protocol::{
    Capabilities, Command, OkPacket, Outcome, PacketHeader, ResponseStream, SessionStateChange,
    StatusFlags, Step, HEADER_LEN,
};
use tokio::io::AsyncWriteExt;

use crate::session::ClientIo;

/// How a response ended.
#[derive(Debug, Clone)]
pub struct Done {
    /// Final status flags, when the last packet carried them (not after a lone ERR).
    pub status: Option<StatusFlags>,
    /// The response ended with an ERR packet.
    pub err: bool,
    /// The final OK packet's last insert id (0: none).
    pub last_insert_id: u64,
    /// The server refused the statement with ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION (1792)
    /// before anything reached the client, and the error was held back (see [`relay`]'s
    /// `hold_read_only_refusal`): the statement wrote, it must run on the writer.
    pub read_only_refused: bool,
    /// Session-state changes the server reported (session tracking), in order.
    pub changes: Vec<SessionStateChange>,
    /// The response reported a transaction's GTID (`last_gtid`).
    pub gtid_reported: bool,
    /// The final OK packet's affected rows (0: none, or not an OK).
    pub affected_rows: u64,
    /// The final OK or EOF packet's warning count.
    pub warnings: u16,
}

/// ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION.
pub const READ_ONLY_REFUSED: u16 = 1792;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The client went away or could not be written to.
    #[error("client: {0}")]
    Client(std::io::Error),
    /// The backend failed; `forwarded` says whether part of the response already reached the client.
    #[error("backend: {error}")]
    Backend { error: ConnError, forwarded: bool },
}

/// Ends a wait on a backend when the monitor marks its node down, so a statement in flight on a
/// hung server (SIGSTOP, a partition) gets an error instead of hanging until the server returns.
/// Borrowed from the session for one statement: no allocation on the per-statement path.
pub struct NodeWatch<'a, F: Fn() -> bool> {
    /// The session's receiver of topology versions.
    pub watch: &'a mut tokio::sync::watch::Receiver<u64>,
    /// Whether the node serving the statement is down in the latest snapshot.
    pub is_down: F,
    /// How long to busy-poll for the answer before sleeping ([`crate::spin`]).
    pub busy_poll: std::time::Duration,
}

impl<F: Fn() -> bool> NodeWatch<'_, F> {
    /// Resolves once the node is (or becomes) down.
    async fn down(&mut self) {
        loop {
            if (self.is_down)() {
                return;
            }
            if self.watch.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Reads more from the backend, unless its node goes down first.
async fn fill_or_down<F: Fn() -> bool>(
    backend: &mut Conn,
    node: &mut NodeWatch<'_, F>,
) -> Result<usize, ConnError> {
    tokio::select! {
        r = crate::spin::poll_briefly(backend.fill(), node.busy_poll) => r,
        _ = node.down() => Err(ConnError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the node was marked down while the statement ran",
        ))),
    }
}

/// Relays the response to `cmd` (already sent) until it is complete.
///
/// The backend connection negotiated `CLIENT_SESSION_TRACK` (Tandem learns session state from
/// it); its OK packets carrying state changes are recorded in [`Done::changes`] and, for a client
/// that did not negotiate it (`client_caps`), rewritten without the changes, as that client's
/// own server would have sent them. With `hold_read_only_refusal` (a statement on a reader
/// connection, which runs `READ ONLY`), a response that is nothing but ERR 1792 is not
/// forwarded but reported in [`Done::read_only_refused`], so the caller can run the statement on
/// the writer instead.
pub async fn relay(
    backend: &mut Conn,
    client: &mut ClientIo,
    cmd: Command,
    client_caps: Capabilities,
    node: &mut NodeWatch<'_, impl Fn() -> bool>,
    hold_read_only_refusal: bool,
    watermark: &crate::causal::Watermark,
) -> Result<Done, RelayError> {
    let backend_caps = backend.capabilities();
    let mut out = Forwarding {
        strip: backend_caps.contains(Capabilities::SESSION_TRACK)
            && !client_caps.contains(Capabilities::SESSION_TRACK),
        client_caps,
        forwarded: false,
        changes: Vec::new(),
        gtid_reported: false,
    };
    let mut stream = ResponseStream::new(cmd, backend_caps);
    loop {
        let scan = stream
            .scan(backend.buffered())
            .map_err(|e| out.backend_error(ConnError::Protocol(e)))?;
        if hold_read_only_refusal && !out.forwarded {
            if let Step::Done(Outcome::Err(e)) = &scan.step {
                if e.code == READ_ONLY_REFUSED {
                    backend.consume(scan.consumed);
                    return Ok(out.done(None, true, None));
                }
            }
        }
        if scan.consumed > 0 {
            out.forward(backend, client, &scan.step, scan.consumed, watermark)
                .await?;
        }
        match scan.step {
            Step::Done(outcome) => {
                let status = outcome.status().or(stream.status());
                return Ok(out.done(status, false, Some(&outcome)));
            }
            Step::LocalInfile => {
                forward_infile(backend, client, &mut stream).await?;
                continue;
            }
            Step::AuthRequest => {
                return Err(out.backend_error(ConnError::Unexpected(
                    "an authentication request in a response",
                )))
            }
            // More of the response may already be buffered.
            Step::Tracked(_) => continue,
            Step::Continue => {}
        }
        fill_or_down(backend, node)
            .await
            .map_err(|error| out.backend_error(error))?;
    }
}

/// What [`relay`] has done so far with one response.
struct Forwarding {
    /// Rewrite OKs without session-state changes (the client did not ask for them).
    strip: bool,
    client_caps: Capabilities,
    /// Some of the response reached the client.
    forwarded: bool,
    /// Session-state changes the response carried.
    changes: Vec<SessionStateChange>,
    /// An OK in it reported a GTID (causal reads).
    gtid_reported: bool,
}

impl Forwarding {
    fn backend_error(&self, error: ConnError) -> RelayError {
        RelayError::Backend {
            error,
            forwarded: self.forwarded,
        }
    }

    /// Sends the `consumed` scanned bytes to the client, learning (and for a client without
    /// session tracking, removing) the state changes of an OK among them.
    async fn forward(
        &mut self,
        backend: &mut Conn,
        client: &mut ClientIo,
        step: &Step,
        consumed: usize,
        watermark: &crate::causal::Watermark,
    ) -> Result<(), RelayError> {
        let tracked = match step {
            Step::Done(Outcome::Ok(ok)) | Step::Tracked(ok)
                if ok.status.contains(StatusFlags::SESSION_STATE_CHANGED) =>
            {
                Some(ok)
            }
            _ => None,
        };
        let bytes = &backend.buffered()[..consumed];
        let sent = match tracked {
            Some(ok) => {
                // Acknowledged writes raise the causal-read watermark before the client hears
                // of them.
                self.gtid_reported |= watermark.acknowledge(&ok.session_state_changes);
                self.changes
                    .extend(ok.session_state_changes.iter().cloned());
                if self.strip {
                    client
                        .stream
                        .write_all(&without_state(bytes, ok, self.client_caps))
                        .await
                } else {
                    client.stream.write_all(bytes).await
                }
            }
            None => client.stream.write_all(bytes).await,
        };
        sent.map_err(RelayError::Client)?;
        backend.consume(consumed);
        self.forwarded = true;
        Ok(())
    }

    /// The result: `outcome` when the response ended, none when a 1792 was held back.
    fn done(self, status: Option<StatusFlags>, refused: bool, outcome: Option<&Outcome>) -> Done {
        let (last_insert_id, affected_rows, warnings) = match outcome {
            Some(Outcome::Ok(ok)) => (ok.last_insert_id, ok.affected_rows, ok.warnings),
            _ => (0, 0, 0),
        };
        Done {
            status,
            err: refused || outcome.is_some_and(Outcome::is_err),
            last_insert_id,
            read_only_refused: refused,
            changes: self.changes,
            gtid_reported: self.gtid_reported,
            affected_rows,
            warnings,
        }
    }
}

/// `packets` (whole packets, the last one the OK `ok`) with that OK re-encoded for a client
/// without `CLIENT_SESSION_TRACK`: no state changes, no `SESSION_STATE_CHANGED` flag.
fn without_state(packets: &[u8], ok: &OkPacket, client_caps: Capabilities) -> BytesMut {
    let mut last = 0;
    let mut at = 0;
    while let Some(h) = packets.get(at..).and_then(PacketHeader::parse) {
        last = at;
        at += HEADER_LEN + h.payload_len();
    }
    let seq = packets.get(last + 3).copied().unwrap_or(0);
    let header = packets.get(last + HEADER_LEN).copied().unwrap_or(0);
    let plain = OkPacket {
        session_state_changes: Vec::new(),
        status: ok.status.difference(StatusFlags::SESSION_STATE_CHANGED),
        ..ok.clone()
    };
    let mut payload = BytesMut::new();
    if header == 0xFE && !client_caps.contains(Capabilities::DEPRECATE_EOF) {
        // A classic EOF packet (whose status had the flag): warnings and status only.
        payload.extend_from_slice(&[0xFE]);
        payload.extend_from_slice(&plain.warnings.to_le_bytes());
        payload.extend_from_slice(&plain.status.bits().to_le_bytes());
    } else if header == 0xFE {
        plain.encode_as_eof(client_caps, &mut payload);
    } else {
        plain.encode(client_caps, &mut payload);
    }
    let mut out = BytesMut::with_capacity(last + HEADER_LEN + payload.len());
    out.extend_from_slice(&packets[..last]);
    tandem_protocol::write_packet(&mut out, seq, &payload);
    out
}

/// After a LOCAL INFILE request: copies the client's file packets to the backend up to and
/// including the empty packet that ends them.
async fn forward_infile(
    backend: &mut Conn,
    client: &mut ClientIo,
    stream: &mut ResponseStream,
) -> Result<(), RelayError> {
    while stream.awaits_client() {
        let (header, raw) = client
            .read_physical_raw()
            .await
            .map_err(RelayError::Client)?;
        stream
            .feed_client(header, raw.get(4..).unwrap_or(&[]))
            .map_err(|e| RelayError::Backend {
                error: ConnError::Protocol(e),
                forwarded: true,
            })?;
        backend
            .write_raw(&raw)
            .await
            .map_err(|error| RelayError::Backend {
                error,
                forwarded: true,
            })?;
    }
    Ok(())
}

/// Reads one whole response into memory (for small, metadata-only responses such as
/// COM_STMT_PREPARE's, which the proxy rewrites or consumes itself).
pub async fn collect(
    backend: &mut Conn,
    cmd: Command,
) -> Result<(bytes::BytesMut, tandem_protocol::Outcome), ConnError> {
    let limit = backend.control_timeout();
    tokio::time::timeout(limit, collect_untimed(backend, cmd))
        .await
        .map_err(|_| ConnError::Timeout)?
}

async fn collect_untimed(
    backend: &mut Conn,
    cmd: Command,
) -> Result<(bytes::BytesMut, tandem_protocol::Outcome), ConnError> {
    let mut stream = ResponseStream::new(cmd, backend.capabilities());
    let mut out = bytes::BytesMut::new();
    loop {
        let scan = stream.scan(backend.buffered())?;
        out.extend_from_slice(&backend.buffered()[..scan.consumed]);
        backend.consume(scan.consumed);
        match scan.step {
            Step::Done(outcome) => return Ok((out, outcome)),
            Step::Tracked(_) => continue,
            Step::Continue => {}
            Step::LocalInfile | Step::AuthRequest => {
                return Err(ConnError::Unexpected("a request in a metadata response"))
            }
        }
        backend.fill().await?;
    }
}
