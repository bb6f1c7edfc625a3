//! tandem-backend: a small async MySQL/MariaDB client over `tandem-protocol`.
//!
//! One connection type, [`Conn`], serves both users of a server connection in Tandem: the monitor
//! logs in, runs its checks as text queries and reads the rows; the proxy relays client commands
//! on it without copying, scanning the bytes the connection has buffered ([`Conn::buffered`],
//! [`Conn::consume`]) and writing raw packets ([`Conn::write_raw`]). The socket and buffers stay
//! private: every read goes through [`Conn::fill`], so the buffer-growth policy and the
//! end-of-stream check live in one place.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tandem_protocol::client::{ClientLogin, Credential, LoginOptions, LoginStep};
use tandem_protocol::{
    Capabilities, ColumnDefinition, ErrPacket, Handshake, OkPacket, PacketCodec, ProtocolError,
    StatusFlags, MAX_PAYLOAD_LEN,
};

/// Largest logical packet this client accepts from a server (MariaDB's `max_allowed_packet` cap).
const MAX_RESPONSE_PACKET: usize = 1 << 30;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use std::collections::HashMap;

pub mod rsa;
pub mod tls;

pub use tls::{ClientTls, ServerTls, Stream, TlsError, TlsMode};

/// One result row by column name (`None` = SQL NULL).
pub type Row = HashMap<String, Option<String>>;

/// Why a client operation failed. Never carries credentials.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// Socket error, including the server closing the connection.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The server's bytes did not parse.
    #[error("protocol: {0}")]
    Protocol(#[from] ProtocolError),
    /// The server answered with an error packet.
    #[error("server error {}: {}", .0.code, .0.message)]
    Server(ErrPacket),
    /// The operation did not finish in time.
    #[error("timed out")]
    Timeout,
    /// Login failed for a reason other than an ERR packet (unsupported plugin, ...).
    #[error("login: {0}")]
    Login(String),
    /// The server sent something valid but out of place (an authentication request in the
    /// middle of a result, a LOCAL INFILE request to a client that never sends files).
    #[error("unexpected from the server: {0}")]
    Unexpected(&'static str),
}

/// A text-protocol result: column names and rows of nullable strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryResult {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows (`None` = SQL NULL).
    pub rows: Vec<Vec<Option<String>>>,
}

impl QueryResult {
    /// Rows as column-name maps.
    pub fn maps(&self) -> Vec<Row> {
        self.rows
            .iter()
            .map(|r| {
                self.columns
                    .iter()
                    .cloned()
                    .zip(r.iter().cloned())
                    .collect()
            })
            .collect()
    }
}

/// Login parameters.
#[derive(Clone, Copy)]
pub struct Login<'a> {
    /// User name.
    pub user: &'a str,
    /// Password or recovered SHA1(password).
    pub credential: Credential<'a>,
    /// Initial schema.
    pub database: Option<&'a str>,
    /// Capabilities to ask for (intersected with the server's).
    pub capabilities: Capabilities,
    /// Connection character set id.
    pub charset: u8,
    /// TLS to the server (`None`: clear text).
    pub tls: Option<&'a ClientTls>,
}

impl<'a> Login<'a> {
    /// The monitor's own login: password, no schema, utf8mb4_general_ci.
    pub fn monitor(user: &'a str, password: &'a str) -> Login<'a> {
        Login {
            user,
            credential: Credential::Password(password.as_bytes()),
            database: None,
            capabilities: monitor_capabilities(),
            charset: 45,
            tls: None,
        }
    }

    /// The same login over `tls`.
    pub fn with_tls(self, tls: Option<&'a ClientTls>) -> Login<'a> {
        Login { tls, ..self }
    }
}

impl std::fmt::Debug for Login<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

/// An authenticated connection to a server.
#[derive(Debug)]
pub struct Conn {
    stream: Stream,
    /// Bytes read but not yet consumed.
    buf: BytesMut,
    capabilities: Capabilities,
    connection_id: u32,
    server_version: String,
    /// Status flags from the last OK/EOF seen by this client's own methods.
    status: StatusFlags,
    /// How much room the next read gets: doubles (up to 256 KiB) while reads fill it, so large
    /// results move in few big reads and idle connections stay small.
    read_chunk: usize,
    /// Reused for outgoing packets (header and payload go out in one write, without an allocation
    /// per command).
    wbuf: BytesMut,
    /// Limit for this client's own round trips (`exec`, `query`, `ping`, `reset`).
    control_timeout: Duration,
}

/// Default limit for a connection's own round trips.
pub const DEFAULT_CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// `fut` within `limit`, or [`ConnError::Timeout`].
async fn timed<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, ConnError>>,
) -> Result<T, ConnError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| ConnError::Timeout)?
}

/// Capabilities the monitor asks for.
pub fn monitor_capabilities() -> Capabilities {
    Capabilities::LONG_PASSWORD
        | Capabilities::LONG_FLAG
        | Capabilities::PROTOCOL_41
        | Capabilities::TRANSACTIONS
        | Capabilities::SECURE_CONNECTION
        | Capabilities::MULTI_RESULTS
        | Capabilities::PLUGIN_AUTH
}

impl Conn {
    /// Connects and logs in, all within `timeout`.
    pub async fn connect(
        addr: &str,
        login: Login<'_>,
        timeout: Duration,
    ) -> Result<Conn, ConnError> {
        tokio::time::timeout(timeout, Conn::connect_inner(addr, login))
            .await
            .map_err(|_| ConnError::Timeout)?
    }

    async fn connect_inner(addr: &str, login: Login<'_>) -> Result<Conn, ConnError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            stream: Stream::Plain(stream),
            buf: BytesMut::with_capacity(16 * 1024),
            read_chunk: 16 * 1024,
            wbuf: BytesMut::new(),
            capabilities: login.capabilities,
            connection_id: 0,
            server_version: String::new(),
            status: StatusFlags::empty(),
            control_timeout: DEFAULT_CONTROL_TIMEOUT,
        };
        let (_, payload) = conn.read_packet().await?;
        if payload.first() == Some(&0xFF) {
            return Err(ConnError::Server(ErrPacket::parse(&payload)?));
        }
        let handshake = Handshake::parse(&payload)?;
        conn.connection_id = handshake.connection_id;
        conn.server_version = handshake.server_version.clone();
        let tls = login.tls.filter(|t| t.mode != TlsMode::Disabled);
        let offers_tls = handshake.capabilities.contains(Capabilities::SSL);
        if let Some(t) = tls {
            if !offers_tls && t.mode != TlsMode::Preferred {
                return Err(ConnError::Login(format!(
                    "the server does not offer TLS (ssl mode {:?})",
                    t.mode
                )));
            }
        }
        let mut opts = LoginOptions::new(login.user, login.credential);
        opts.database = login.database;
        opts.capabilities = login.capabilities;
        if tls.is_some() && offers_tls {
            opts.capabilities |= Capabilities::SSL;
        }
        opts.charset = login.charset;
        opts.request_public_key = login.tls.is_some_and(|t| t.request_public_key);
        let (mut state, response) = ClientLogin::start(&handshake, opts).map_err(server_err)?;
        conn.capabilities = state.capabilities();
        let mut seq = 1u8;
        let mut out = BytesMut::new();
        if let (Some(t), true) = (tls, conn.capabilities.contains(Capabilities::SSL)) {
            let mut payload = BytesMut::new();
            state.ssl_request().encode(&mut payload);
            tandem_protocol::write_packet(&mut out, seq, &payload);
            conn.stream.write_all(&out).await?;
            let tcp = conn
                .stream
                .take_plain()
                .ok_or(ConnError::Unexpected("TLS twice"))?;
            conn.stream = t.connect(tcp).await?;
            seq = 2;
        }
        let mut payload = BytesMut::new();
        response.encode(&mut payload)?;
        out.clear();
        tandem_protocol::write_packet(&mut out, seq, &payload);
        conn.stream.write_all(&out).await?;
        loop {
            let (seq, p) = conn.read_packet().await?;
            match state.handle(&p).map_err(server_err)? {
                LoginStep::Done(ok) => {
                    conn.status = ok.status;
                    return Ok(conn);
                }
                LoginStep::Wait => {}
                LoginStep::Send(data) => {
                    out.clear();
                    tandem_protocol::write_packet(&mut out, seq.wrapping_add(1), &data);
                    conn.stream.write_all(&out).await?;
                }
                LoginStep::Encrypt {
                    public_key,
                    plaintext,
                } => {
                    let data = rsa::encrypt(&public_key, plaintext.expose())
                        .map_err(|e| ConnError::Login(e.to_string()))?;
                    out.clear();
                    tandem_protocol::write_packet(&mut out, seq.wrapping_add(1), &data);
                    conn.stream.write_all(&out).await?;
                }
            }
        }
    }

    /// Reads one logical packet (continuations joined by the codec's [`PacketCodec`]); returns
    /// its first sequence id and payload.
    pub async fn read_packet(&mut self) -> Result<(u8, Bytes), ConnError> {
        let mut codec = PacketCodec::new(MAX_RESPONSE_PACKET);
        loop {
            if let Some(p) = codec.decode_packet(&mut self.buf)? {
                return Ok((p.seq, p.payload));
            }
            self.fill().await?;
        }
    }

    /// Reads more bytes into the buffer; an orderly close is an `UnexpectedEof` error.
    pub async fn fill(&mut self) -> Result<usize, ConnError> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(self.read_chunk);
        }
        let room = self.buf.capacity() - self.buf.len();
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Err(ConnError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        if n == room && self.read_chunk < 256 * 1024 {
            self.read_chunk *= 2;
        }
        Ok(n)
    }

    /// Sends a command packet (sequence 0).
    pub async fn send_command(&mut self, payload: &[u8]) -> Result<(), ConnError> {
        self.wbuf.clear();
        tandem_protocol::write_packet(&mut self.wbuf, 0, payload);
        let sent = self.stream.write_all(&self.wbuf).await;
        if self.wbuf.capacity() > 64 * 1024 {
            self.wbuf = BytesMut::new(); // a large statement does not stay allocated
        }
        sent?;
        Ok(())
    }

    /// The connection runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    /// Negotiated capabilities.
    pub fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    /// The server's connection id (for KILL).
    pub fn connection_id(&self) -> u32 {
        self.connection_id
    }

    /// The server's version string from its handshake.
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// Status flags from the last OK/EOF this client's own methods read (not the relayed ones).
    pub fn status(&self) -> StatusFlags {
        self.status
    }

    /// Bytes read from the server and not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Drops the first `n` buffered bytes (after relaying them). `n` beyond the buffer is capped.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        bytes::Buf::advance(&mut self.buf, n);
    }

    /// Writes bytes that are already framed packets (relayed client packets) to the server.
    pub async fn write_raw(&mut self, packets: &[u8]) -> Result<(), ConnError> {
        self.stream.write_all(packets).await?;
        Ok(())
    }

    /// Sets the limit for this client's own round trips (`exec`, `query`, `ping`, `reset`); a
    /// round trip that takes longer fails with [`ConnError::Timeout`] (drop the connection then:
    /// its state is unknown).
    pub fn set_control_timeout(&mut self, limit: Duration) {
        self.control_timeout = limit;
    }

    /// The limit for this client's own round trips.
    pub fn control_timeout(&self) -> Duration {
        self.control_timeout
    }

    /// Runs a statement that returns no rows; returns its OK packet.
    pub async fn exec(&mut self, sql: &str) -> Result<OkPacket, ConnError> {
        let mut res = self.query_inner(sql).await?;
        match res.ok.take() {
            Some(ok) => Ok(ok),
            None => Err(ConnError::Protocol(ProtocolError::Malformed(
                "expected OK, got a result set",
            ))),
        }
    }

    /// Runs a text query and collects its first result set (later ones are drained).
    pub async fn query(&mut self, sql: &str) -> Result<QueryResult, ConnError> {
        Ok(self.query_inner(sql).await?.result)
    }

    /// Sends COM_PING and waits for OK.
    pub async fn ping(&mut self) -> Result<(), ConnError> {
        let limit = self.control_timeout;
        let (_, p) = timed(limit, async {
            self.send_command(&[0x0e]).await?;
            self.read_packet().await
        })
        .await?;
        self.expect_ok(&p).map(|_| ())
    }

    /// Sends COM_RESET_CONNECTION and waits for OK.
    pub async fn reset(&mut self) -> Result<(), ConnError> {
        let limit = self.control_timeout;
        let (_, p) = timed(limit, async {
            self.send_command(&[0x1f]).await?;
            self.read_packet().await
        })
        .await?;
        self.expect_ok(&p)?;
        // A large result grew the read buffer; an idle pooled connection goes back to small.
        if self.buf.is_empty() && self.buf.capacity() > 64 * 1024 {
            self.buf = BytesMut::with_capacity(16 * 1024);
        }
        self.read_chunk = 16 * 1024;
        Ok(())
    }

    fn expect_ok(&mut self, p: &[u8]) -> Result<OkPacket, ConnError> {
        match p.first() {
            Some(0x00) | Some(0xFE) => {
                let ok = OkPacket::parse(p, self.capabilities)?;
                self.status = ok.status;
                Ok(ok)
            }
            Some(0xFF) => Err(ConnError::Server(ErrPacket::parse(p)?)),
            _ => Err(ConnError::Protocol(ProtocolError::Malformed("expected OK"))),
        }
    }

    async fn query_inner(&mut self, sql: &str) -> Result<Collected, ConnError> {
        let limit = self.control_timeout;
        timed(limit, self.query_untimed(sql)).await
    }

    async fn query_untimed(&mut self, sql: &str) -> Result<Collected, ConnError> {
        let mut cmd = Vec::with_capacity(sql.len() + 1);
        cmd.push(0x03);
        cmd.extend_from_slice(sql.as_bytes());
        self.send_command(&cmd).await?;
        let mut out = Collected::default();
        let mut first = true;
        loop {
            let (more, ok, result) = self.read_one_result().await?;
            if first {
                out.ok = ok;
                out.result = result;
                first = false;
            }
            if !more {
                return Ok(out);
            }
        }
    }

    /// Reads one result (OK, ERR or result set); returns (more results follow, ok, rows).
    async fn read_one_result(
        &mut self,
    ) -> Result<(bool, Option<OkPacket>, QueryResult), ConnError> {
        let (_, p) = self.read_packet().await?;
        match p.first() {
            Some(0x00) => {
                let ok = self.expect_ok(&p)?;
                let more = ok.status.contains(StatusFlags::MORE_RESULTS_EXISTS);
                return Ok((more, Some(ok), QueryResult::default()));
            }
            Some(0xFF) => return Err(ConnError::Server(ErrPacket::parse(&p)?)),
            Some(0xFB) => {
                return Err(ConnError::Protocol(ProtocolError::Malformed(
                    "LOCAL INFILE not supported by this client",
                )))
            }
            _ => {}
        }
        let ncols = tandem_protocol::wire::Reader::new(&p, "column count")
            .lenenc_int()?
            .min(4096) as usize;
        let mut res = QueryResult::default();
        for _ in 0..ncols {
            let (_, c) = self.read_packet().await?;
            res.columns
                .push(ColumnDefinition::parse(&c, self.capabilities)?.name);
        }
        let deprecate_eof = self.capabilities.contains(Capabilities::DEPRECATE_EOF);
        if !deprecate_eof {
            self.read_packet().await?; // EOF after column definitions
        }
        loop {
            let (_, row) = self.read_packet().await?;
            match row.first() {
                Some(0xFE) if row.len() < 9 || (deprecate_eof && row.len() < MAX_PAYLOAD_LEN) => {
                    let status = if deprecate_eof {
                        OkPacket::parse(&row, self.capabilities)?.status
                    } else {
                        tandem_protocol::EofPacket::parse(&row)?.status
                    };
                    self.status = status;
                    return Ok((status.contains(StatusFlags::MORE_RESULTS_EXISTS), None, res));
                }
                Some(0xFF) => return Err(ConnError::Server(ErrPacket::parse(&row)?)),
                _ => {
                    let cells = tandem_protocol::parse_text_row(&row, ncols)?;
                    res.rows.push(
                        cells
                            .into_iter()
                            .map(|c| c.map(|b| String::from_utf8_lossy(b).into_owned()))
                            .collect(),
                    );
                }
            }
        }
    }
}

fn server_err(e: ProtocolError) -> ConnError {
    match e {
        ProtocolError::Server {
            code,
            sql_state,
            message,
        } => ConnError::Server(ErrPacket::new(code, &sql_state, message)),
        other => ConnError::Protocol(other),
    }
}

#[derive(Default)]
struct Collected {
    ok: Option<OkPacket>,
    result: QueryResult,
}
