//! The client side of a session: its socket and read buffer, reading whole packets with the
//! size limit enforced on the header (before anything is buffered for an oversize packet), and
//! closing politely after refusing one.

use std::net::SocketAddr;

use bytes::{Buf, Bytes, BytesMut};
use tandem_protocol::{PacketHeader, MAX_PAYLOAD_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The client socket and its read buffer.
pub struct ClientIo {
    pub stream: TcpStream,
    pub buf: BytesMut,
    pub peer: SocketAddr,
}

/// A packet longer than the configured maximum.
#[derive(Debug)]
pub struct TooLarge;

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("packet larger than max_packet_size")
    }
}
impl std::error::Error for TooLarge {}

impl ClientIo {
    pub fn new(stream: TcpStream, peer: SocketAddr) -> ClientIo {
        ClientIo {
            stream,
            buf: BytesMut::with_capacity(8 * 1024),
            peer,
        }
    }

    async fn fill(&mut self) -> std::io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(8 * 1024);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    /// Reads one logical packet (continuations joined). `Ok(None)`: the client closed cleanly
    /// between packets. A length above `max` is refused before buffering it.
    pub async fn read_packet(&mut self, max: usize) -> std::io::Result<Option<(u8, Bytes)>> {
        let mut joined: Option<BytesMut> = None;
        let mut first_seq = None;
        loop {
            let so_far = joined.as_ref().map_or(0, BytesMut::len);
            let limit = max.saturating_sub(so_far);
            let Some((h, payload)) = self.read_physical(joined.is_none(), limit).await? else {
                return Ok(None);
            };
            first_seq.get_or_insert(h.seq);
            let more = h.len as usize == MAX_PAYLOAD_LEN;
            match joined.as_mut() {
                None if !more => return Ok(Some((h.seq, payload))),
                None => joined = Some(BytesMut::from(&payload[..])),
                Some(j) => j.extend_from_slice(&payload),
            }
            if !more {
                let seq = first_seq.unwrap_or(h.seq);
                return Ok(joined.take().map(|j| (seq, j.freeze())));
            }
        }
    }

    /// One physical packet; a header announcing more than `limit` payload bytes is refused
    /// before anything is buffered for it.
    async fn read_physical(
        &mut self,
        eof_ok: bool,
        limit: usize,
    ) -> std::io::Result<Option<(PacketHeader, Bytes)>> {
        loop {
            if let Some(h) = PacketHeader::parse(&self.buf) {
                if h.len as usize > limit {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        TooLarge,
                    ));
                }
                let total = 4 + h.len as usize;
                if self.buf.len() >= total {
                    self.buf.advance(4);
                    return Ok(Some((h, self.buf.split_to(h.len as usize).freeze())));
                }
                self.buf.reserve(total - self.buf.len());
            }
            if self.fill().await? == 0 {
                if eof_ok && self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Reads one physical packet and returns it with its header bytes (for LOCAL INFILE data).
    pub async fn read_physical_raw(&mut self) -> std::io::Result<(PacketHeader, Bytes)> {
        match self.read_physical(false, MAX_PAYLOAD_LEN).await? {
            Some((h, payload)) => {
                let mut raw = BytesMut::with_capacity(4 + payload.len());
                raw.extend_from_slice(&h.encode());
                raw.extend_from_slice(&payload);
                Ok((h, raw.freeze()))
            }
            None => Err(std::io::ErrorKind::UnexpectedEof.into()),
        }
    }

    /// Closes after an error sent mid-request: stops writing, then discards what the client is
    /// still sending (at most 64 MiB, for at most 2 s), so closing with unread input does not
    /// reset the connection and destroy the error packet before the client reads it.
    pub async fn linger_close(&mut self) {
        let _ = self.stream.shutdown().await;
        let mut sink = vec![0u8; 64 * 1024];
        let mut left: usize = 64 << 20;
        let drain = async {
            while left > 0 {
                match self.stream.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => left = left.saturating_sub(n),
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
    }

    pub async fn send(&mut self, out: &BytesMut) -> std::io::Result<()> {
        self.stream.write_all(out).await
    }
}
