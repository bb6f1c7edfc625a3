//! The response-stream state machine: given the command that was sent and the physical packets
//! that come back, says when the response is complete and with which final status.
//!
//! This is what lets the proxy relay a backend's raw bytes without decoding rows: it walks packet
//! boundaries ([`crate::scan_packets`]), feeds each header plus payload here, and learns (a) when
//! the connection is free again, (b) the final `SERVER_STATUS_*` flags (transaction state), and
//! (c) points where the *client* must speak (LOCAL INFILE, COM_CHANGE_USER auth).
//!
//! Only the first byte and length of row packets are looked at. A packet whose payload is exactly
//! `0xFFFFFF` bytes is continued, and its continuations are never classified — a row that happens
//! to begin with `0xFE` or `0xFF` in a continuation cannot end the response early. A `0xFE` packet
//! ends a result set only if it is short: under `CLIENT_DEPRECATE_EOF` shorter than `0xFFFFFF`
//! (an OK packet), otherwise shorter than 9 bytes (an EOF packet), as the server's own clients
//! decide.

mod step;
#[cfg(test)]
mod tests;

pub use step::{Outcome, Step};

use crate::capabilities::Capabilities;
use crate::error::{ProtocolError, Result};
use crate::framing::{PacketHeader, HEADER_LEN, MAX_PAYLOAD_LEN};
use crate::message::column_count::ColumnCount;
use crate::message::command::Command;
use crate::message::eof::EofPacket;
use crate::message::err::ErrPacket;
use crate::message::ok::{OkPacket, EOF_HEADER, OK_HEADER};
use crate::message::stmt_prepare_ok::StmtPrepareOk;
use crate::status::StatusFlags;

const ERR_HEADER: u8 = 0xFF;
const LOCAL_INFILE_HEADER: u8 = 0xFB;
const AUTH_MORE_DATA_HEADER: u8 = 0x01;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Start of a result: OK, ERR, LOCAL INFILE request, EOF, or a column count.
    Head,
    ColumnDefs {
        remaining: u64,
    },
    ColumnsEof,
    Rows,
    PrepareHead,
    PrepareParams {
        remaining: u16,
    },
    PrepareParamsEof,
    PrepareColumns {
        remaining: u16,
    },
    PrepareColumnsEof,
    FieldList,
    Statistics,
    /// Waiting for the client's LOCAL INFILE data (ends with an empty packet).
    InfileData,
    /// COM_CHANGE_USER: OK/ERR ends it, auth switch / more data continue it.
    ChangeUser,
    Done,
}

impl State {
    const fn describe(self) -> &'static str {
        match self {
            State::Head => "awaiting a result head",
            State::ColumnDefs { .. } => "reading column definitions",
            State::ColumnsEof => "awaiting the EOF after column definitions",
            State::Rows => "reading rows",
            State::PrepareHead => "awaiting COM_STMT_PREPARE_OK",
            State::PrepareParams { .. } => "reading parameter definitions",
            State::PrepareParamsEof => "awaiting the EOF after parameter definitions",
            State::PrepareColumns { .. } => "reading prepared column definitions",
            State::PrepareColumnsEof => "awaiting the EOF after prepared column definitions",
            State::FieldList => "reading COM_FIELD_LIST definitions",
            State::Statistics => "awaiting the statistics string",
            State::InfileData => "awaiting the client's LOCAL INFILE data",
            State::ChangeUser => "in the COM_CHANGE_USER exchange",
            State::Done => "the response is already complete",
        }
    }
}

/// Tracks one command's response; see the module docs.
#[derive(Debug, Clone)]
pub struct ResponseStream {
    cmd: Command,
    caps: Capabilities,
    state: State,
    /// The next physical server packet continues the current logical packet.
    continued: bool,
    /// Same, for client packets during LOCAL INFILE.
    client_continued: bool,
    expected_seq: Option<u8>,
    last_status: Option<StatusFlags>,
    prepared: Option<StmtPrepareOk>,
    outcome: Option<Outcome>,
}

/// Result of [`ResponseStream::scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Bytes of complete packets processed (forward exactly these).
    pub consumed: usize,
    /// The last step: `Continue` if every processed packet was ordinary, otherwise the step that
    /// stopped the scan (`Done`, `LocalInfile`, `AuthRequest`).
    pub step: Step,
}

impl ResponseStream {
    /// Starts tracking the response to `cmd`; `caps` are the capabilities negotiated between the
    /// client and the server (`DEPRECATE_EOF`, `PROTOCOL_41`, `SESSION_TRACK`,
    /// `MARIADB_CLIENT_CACHE_METADATA` matter). Commands without a response start complete.
    pub fn new(cmd: Command, caps: Capabilities) -> Self {
        let state = if !cmd.expects_response() {
            State::Done
        } else {
            match cmd {
                Command::StmtPrepare => State::PrepareHead,
                Command::StmtFetch => State::Rows,
                Command::FieldList => State::FieldList,
                Command::Statistics => State::Statistics,
                Command::ChangeUser => State::ChangeUser,
                _ => State::Head,
            }
        };
        Self {
            cmd,
            caps,
            state,
            continued: false,
            client_continued: false,
            expected_seq: None,
            last_status: None,
            prepared: None,
            outcome: None,
        }
    }

    /// Starts tracking the response to a client command packet (by its first byte); `None` for an
    /// unknown command byte.
    pub fn for_command(payload: &[u8], caps: Capabilities) -> Option<Self> {
        Command::of(payload).map(|c| Self::new(c, caps))
    }

    /// Whether the server answers `cmd` at all.
    pub const fn expects_response(cmd: Command) -> bool {
        cmd.expects_response()
    }

    /// The command this response answers.
    pub const fn command(&self) -> Command {
        self.cmd
    }

    /// Whether the response is complete.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the client must send packets next (LOCAL INFILE data).
    pub fn awaits_client(&self) -> bool {
        self.state == State::InfileData
    }

    /// The last status flags the server reported in this response (the final ones once
    /// [`Self::is_done`]); `None` if no OK/EOF carried any, e.g. a lone ERR.
    pub fn status(&self) -> Option<StatusFlags> {
        self.last_status
    }

    /// How the response ended, once done.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Feeds one physical server packet, in order.
    #[inline]
    pub fn feed(&mut self, header: PacketHeader, payload: &[u8]) -> Result<Step> {
        // Hot path: an ordinary row (not a continuation, not 0xFE/0xFF, in sequence).
        if self.state == State::Rows && !self.continued && self.expected_seq == Some(header.seq) {
            let first = payload.first().copied();
            if first != Some(EOF_HEADER) && first != Some(ERR_HEADER) {
                self.expected_seq = Some(header.seq.wrapping_add(1));
                self.continued = header.is_continued();
                return Ok(Step::Continue);
            }
        }
        self.feed_slow(header, payload)
    }

    #[inline(never)]
    fn feed_slow(&mut self, header: PacketHeader, payload: &[u8]) -> Result<Step> {
        if self.state == State::Done || self.state == State::InfileData {
            return Err(self.unexpected(payload));
        }
        self.check_seq(header)?;
        if self.continued {
            self.continued = header.is_continued();
            return Ok(Step::Continue);
        }
        self.continued = header.is_continued();
        let first = payload.first().copied();
        let short_terminator = self.is_terminator(header, first);
        match self.state {
            State::Head => self.head(header, payload),
            State::ColumnDefs { remaining } => {
                self.state = match remaining.saturating_sub(1) {
                    0 => self.after_column_defs(),
                    remaining => State::ColumnDefs { remaining },
                };
                Ok(Step::Continue)
            }
            State::ColumnsEof => {
                let status = self.expect_eof(payload)?;
                if self.cmd == Command::StmtExecute && status.contains(StatusFlags::CURSOR_EXISTS) {
                    // A cursor was opened: no rows follow until COM_STMT_FETCH.
                    return Ok(self.end_result(payload, status));
                }
                self.state = State::Rows;
                Ok(Step::Continue)
            }
            State::Rows => match first {
                Some(EOF_HEADER) if short_terminator => self.terminator(payload),
                Some(ERR_HEADER) => self.err(payload),
                _ => Ok(Step::Continue),
            },
            State::PrepareHead
            | State::PrepareParams { .. }
            | State::PrepareParamsEof
            | State::PrepareColumns { .. }
            | State::PrepareColumnsEof => self.prepare_packet(payload),
            State::FieldList => match first {
                Some(EOF_HEADER) if short_terminator => self.terminator(payload),
                Some(ERR_HEADER) => self.err(payload),
                _ => Ok(Step::Continue),
            },
            State::Statistics => {
                if header.is_continued() {
                    // The string goes on; only its last packet completes the response.
                    self.continued = false;
                    return Ok(Step::Continue);
                }
                if first == Some(ERR_HEADER) {
                    return self.err(payload);
                }
                Ok(self.done(Outcome::Text))
            }
            State::ChangeUser => self.change_user_reply(payload),
            State::InfileData | State::Done => Err(self.unexpected(payload)),
        }
    }

    /// One packet of a COM_STMT_PREPARE response: the prepare-OK, then the parameter and column
    /// definitions, each block ended by an EOF unless `DEPRECATE_EOF`.
    fn prepare_packet(&mut self, payload: &[u8]) -> Result<Step> {
        match self.state {
            State::PrepareHead => self.prepare_head(payload),
            State::PrepareParams { remaining } => {
                self.state = match remaining.saturating_sub(1) {
                    0 if self.deprecate_eof() => return Ok(self.after_params()),
                    0 => State::PrepareParamsEof,
                    remaining => State::PrepareParams { remaining },
                };
                Ok(Step::Continue)
            }
            State::PrepareParamsEof => {
                self.expect_eof(payload)?;
                Ok(self.after_params())
            }
            State::PrepareColumns { remaining } => match remaining.saturating_sub(1) {
                0 if self.deprecate_eof() => Ok(self.prepared_done()),
                0 => {
                    self.state = State::PrepareColumnsEof;
                    Ok(Step::Continue)
                }
                remaining => {
                    self.state = State::PrepareColumns { remaining };
                    Ok(Step::Continue)
                }
            },
            State::PrepareColumnsEof => {
                self.expect_eof(payload)?;
                Ok(self.prepared_done())
            }
            _ => Err(self.unexpected(payload)),
        }
    }

    /// The server's reply to COM_CHANGE_USER: OK, ERR, or an authentication request.
    fn change_user_reply(&mut self, payload: &[u8]) -> Result<Step> {
        match payload.first().copied() {
            Some(OK_HEADER) => {
                let ok = OkPacket::parse(payload, self.caps)?;
                self.last_status = Some(ok.status);
                Ok(self.done(Outcome::Ok(ok)))
            }
            Some(ERR_HEADER) => self.err(payload),
            Some(EOF_HEADER | AUTH_MORE_DATA_HEADER) => Ok(Step::AuthRequest),
            _ => Err(self.unexpected(payload)),
        }
    }

    /// Feeds one physical packet sent by the *client* while the server waits for it: LOCAL
    /// INFILE data (the empty packet that ends the file hands the turn back to the server) or a
    /// COM_CHANGE_USER auth reply.
    pub fn feed_client(&mut self, header: PacketHeader, payload: &[u8]) -> Result<Step> {
        match self.state {
            State::InfileData => {
                self.check_seq(header)?;
                if self.client_continued {
                    self.client_continued = header.is_continued();
                } else if payload.is_empty() {
                    self.state = State::Head;
                } else {
                    self.client_continued = header.is_continued();
                }
                Ok(Step::Continue)
            }
            State::ChangeUser => {
                self.check_seq(header)?;
                Ok(Step::Continue)
            }
            _ => Err(self.unexpected(payload)),
        }
    }

    /// Scans `buf` for complete physical server packets and feeds each one, stopping after the
    /// first that completes the response or hands the turn to the client. Returns how many bytes
    /// were processed — forward exactly those.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Scan> {
        let mut consumed = 0usize;
        while let Some(rest) = buf.get(consumed..) {
            let Some(header) = PacketHeader::parse(rest) else {
                break;
            };
            let end = HEADER_LEN + header.payload_len();
            let Some(payload) = rest.get(HEADER_LEN..end) else {
                break;
            };
            let step = self.feed(header, payload)?;
            consumed += end;
            if !matches!(step, Step::Continue) {
                return Ok(Scan { consumed, step });
            }
        }
        Ok(Scan {
            consumed,
            step: Step::Continue,
        })
    }

    fn check_seq(&mut self, header: PacketHeader) -> Result<()> {
        if let Some(expected) = self.expected_seq {
            if header.seq != expected {
                return Err(ProtocolError::PacketsOutOfSync {
                    expected,
                    got: header.seq,
                });
            }
        }
        self.expected_seq = Some(header.seq.wrapping_add(1));
        Ok(())
    }

    fn deprecate_eof(&self) -> bool {
        self.caps.contains(Capabilities::DEPRECATE_EOF)
    }

    /// Whether a `0xFE` packet of this length is a terminator rather than a row.
    #[inline]
    fn is_terminator(&self, header: PacketHeader, first: Option<u8>) -> bool {
        first == Some(EOF_HEADER)
            && if self.deprecate_eof() {
                header.payload_len() < MAX_PAYLOAD_LEN
            } else {
                header.payload_len() < crate::message::eof::EOF_MAX_LEN
            }
    }

    fn head(&mut self, header: PacketHeader, payload: &[u8]) -> Result<Step> {
        match payload.first().copied() {
            None => Err(ProtocolError::Malformed(
                "empty packet at the start of a result",
            )),
            Some(OK_HEADER) => {
                let ok = OkPacket::parse(payload, self.caps)?;
                let status = ok.status;
                Ok(self.finish_result(status, Outcome::Ok(ok)))
            }
            Some(ERR_HEADER) => self.err(payload),
            Some(LOCAL_INFILE_HEADER) if self.cmd == Command::Query => {
                self.state = State::InfileData;
                self.client_continued = false;
                Ok(Step::LocalInfile)
            }
            Some(EOF_HEADER) if self.is_terminator(header, Some(EOF_HEADER)) => {
                self.terminator(payload)
            }
            Some(_) => {
                let cc = ColumnCount::parse(payload, self.caps)?;
                self.state = if cc.metadata_follows {
                    State::ColumnDefs {
                        remaining: cc.count,
                    }
                } else {
                    self.after_column_defs()
                };
                Ok(Step::Continue)
            }
        }
    }

    fn after_column_defs(&self) -> State {
        if self.deprecate_eof() {
            State::Rows
        } else {
            State::ColumnsEof
        }
    }

    fn expect_eof(&mut self, payload: &[u8]) -> Result<StatusFlags> {
        if !EofPacket::is_eof(payload) {
            return Err(self.unexpected(payload));
        }
        let eof = EofPacket::parse(payload)?;
        self.last_status = Some(eof.status);
        Ok(eof.status)
    }

    /// A short `0xFE` packet ending a result set (EOF, or OK under DEPRECATE_EOF).
    fn terminator(&mut self, payload: &[u8]) -> Result<Step> {
        let ok = if self.deprecate_eof() {
            OkPacket::parse(payload, self.caps)?
        } else {
            let eof = EofPacket::parse(payload)?;
            OkPacket {
                status: eof.status,
                warnings: eof.warnings,
                ..OkPacket::default()
            }
        };
        let status = ok.status;
        Ok(self.finish_result(status, Outcome::Ok(ok)))
    }

    /// Ends a result (after an EOF carrying `status`) for the cursor case.
    fn end_result(&mut self, payload: &[u8], status: StatusFlags) -> Step {
        let warnings = EofPacket::parse(payload).map(|e| e.warnings).unwrap_or(0);
        self.finish_result(
            status,
            Outcome::Ok(OkPacket {
                status,
                warnings,
                ..OkPacket::default()
            }),
        )
    }

    fn finish_result(&mut self, status: StatusFlags, outcome: Outcome) -> Step {
        self.last_status = Some(status);
        if status.contains(StatusFlags::MORE_RESULTS_EXISTS) {
            self.state = State::Head;
            match outcome {
                Outcome::Ok(ok) if status.contains(StatusFlags::SESSION_STATE_CHANGED) => {
                    Step::Tracked(ok)
                }
                _ => Step::Continue,
            }
        } else {
            self.done(outcome)
        }
    }

    fn err(&mut self, payload: &[u8]) -> Result<Step> {
        if ErrPacket::is_progress_report(payload) {
            return Ok(Step::Continue);
        }
        Ok(self.done(Outcome::Err(ErrPacket::parse(payload)?)))
    }

    fn prepare_head(&mut self, payload: &[u8]) -> Result<Step> {
        match payload.first().copied() {
            Some(OK_HEADER) => {
                let ok = StmtPrepareOk::parse(payload)?;
                self.prepared = Some(ok);
                if ok.num_params > 0 {
                    self.state = State::PrepareParams {
                        remaining: ok.num_params,
                    };
                    Ok(Step::Continue)
                } else {
                    Ok(self.after_params())
                }
            }
            Some(ERR_HEADER) => self.err(payload),
            _ => Err(self.unexpected(payload)),
        }
    }

    fn after_params(&mut self) -> Step {
        match self.prepared.map_or(0, |p| p.num_columns) {
            0 => self.prepared_done(),
            n => {
                self.state = State::PrepareColumns { remaining: n };
                Step::Continue
            }
        }
    }

    fn prepared_done(&mut self) -> Step {
        let ok = self.prepared.unwrap_or_default();
        self.done(Outcome::Prepared {
            ok,
            status: self.last_status,
        })
    }

    fn done(&mut self, outcome: Outcome) -> Step {
        self.state = State::Done;
        self.outcome = Some(outcome.clone());
        Step::Done(outcome)
    }

    fn unexpected(&self, payload: &[u8]) -> ProtocolError {
        ProtocolError::UnexpectedPacket {
            state: self.state.describe(),
            first_byte: payload.first().copied().unwrap_or(0),
        }
    }
}
