//! The client side of a session: its socket and read buffer, reading whole packets with the
//! size limit enforced on the header (before anything is buffered for an oversize packet), and
//! closing politely after refusing one.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use tandem_backend::{ServerTls, Stream};
use tandem_protocol::{PacketCodec, PacketHeader, ProtocolError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The client socket (clear text, or TLS after the upgrade) and its read buffer.
pub struct ClientIo {
    pub stream: Stream,
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
            stream: Stream::Plain(stream),
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

    /// Reads one logical packet (continuations joined, by the codec's [`PacketCodec`]).
    /// `Ok(None)`: the client closed cleanly between packets. A length above `max` is refused
    /// from the header, before anything is buffered for it.
    pub async fn read_packet(&mut self, max: usize) -> std::io::Result<Option<(u8, Bytes)>> {
        let mut codec = PacketCodec::new(max);
        loop {
            match codec.decode_packet(&mut self.buf) {
                Ok(Some(p)) => return Ok(Some((p.seq, p.payload))),
                Ok(None) => {}
                Err(ProtocolError::Oversize { .. }) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        TooLarge,
                    ))
                }
                Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            }
            if self.fill().await? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Reads one physical packet and returns it with its header bytes (LOCAL INFILE data is
    /// forwarded packet by packet, continuation trailers included).
    pub async fn read_physical_raw(&mut self) -> std::io::Result<(PacketHeader, Bytes)> {
        loop {
            if let Some(h) = PacketHeader::parse(&self.buf) {
                let total = 4 + h.len as usize;
                if self.buf.len() >= total {
                    return Ok((h, self.buf.split_to(total).freeze()));
                }
                self.buf.reserve(total - self.buf.len());
            }
            if self.fill().await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
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

    /// The TLS upgrade after an SSLRequest: bytes already read past it are the start of the
    /// client's TLS handshake.
    pub async fn upgrade(&mut self, tls: &ServerTls) -> std::io::Result<()> {
        let early = self.buf.split().freeze();
        let tcp = self.stream.take_plain().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "TLS requested twice")
        })?;
        self.stream = tls.accept(tcp, early).await?;
        Ok(())
    }

    pub async fn send(&mut self, out: &BytesMut) -> std::io::Result<()> {
        self.stream.write_all(out).await
    }
}
