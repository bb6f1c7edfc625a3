//! Session-state change records carried by OK packets when `CLIENT_SESSION_TRACK` is negotiated
//! and the status has `SESSION_STATE_CHANGED`.
//!
//! They tell a proxy what a statement changed on the backend session — current schema, system
//! variables (MariaDB reports `last_gtid` this way), transaction state — without re-parsing SQL.
//! Text fields are decoded lossily: they are informational and ASCII in practice.

use bytes::{BufMut, BytesMut};

use crate::error::Result;
use crate::wire::{lossy, put_lenenc_bytes, put_lenenc_int, Reader};

/// `SESSION_TRACK_SYSTEM_VARIABLES`.
pub const SESSION_TRACK_SYSTEM_VARIABLES: u8 = 0;
/// `SESSION_TRACK_SCHEMA`.
pub const SESSION_TRACK_SCHEMA: u8 = 1;
/// `SESSION_TRACK_STATE_CHANGE`.
pub const SESSION_TRACK_STATE_CHANGE: u8 = 2;
/// `SESSION_TRACK_GTIDS`.
pub const SESSION_TRACK_GTIDS: u8 = 3;
/// `SESSION_TRACK_TRANSACTION_CHARACTERISTICS`.
pub const SESSION_TRACK_TRANSACTION_CHARACTERISTICS: u8 = 4;
/// `SESSION_TRACK_TRANSACTION_STATE` (MySQL: `SESSION_TRACK_TRANSACTION_STATE`, MariaDB:
/// `SESSION_TRACK_TRANSACTION_TYPE`).
pub const SESSION_TRACK_TRANSACTION_STATE: u8 = 5;

/// One session-state change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionStateChange {
    /// A tracked system variable changed (e.g. `autocommit`, `character_set_client`,
    /// MariaDB's `last_gtid`).
    SystemVariable {
        /// Variable name.
        name: String,
        /// New value as text.
        value: String,
    },
    /// The current schema changed.
    Schema(String),
    /// Some session state changed (the server's "state change" flag).
    StateChanged(bool),
    /// GTIDs (MySQL `session_track_gtids`).
    Gtids(String),
    /// Transaction characteristics (`SET TRANSACTION ...` replay text).
    TransactionCharacteristics(String),
    /// Transaction state string.
    TransactionState(String),
    /// A type this crate does not know, kept raw.
    Unknown {
        /// Change type byte.
        kind: u8,
        /// Raw change data.
        data: Vec<u8>,
    },
}

impl SessionStateChange {
    /// Parses the whole session-state block (the bytes inside the block's length prefix).
    pub fn parse_all(block: &[u8]) -> Result<Vec<SessionStateChange>> {
        let mut out = Vec::new();
        let mut r = Reader::new(block, "session state change");
        while !r.is_empty() {
            let kind = r.u8()?;
            let data = r.lenenc_bytes()?;
            let mut d = Reader::new(data, "session state change data");
            match kind {
                SESSION_TRACK_SYSTEM_VARIABLES => {
                    // MySQL sends one variable per record; accept several for robustness.
                    loop {
                        let name = lossy(d.lenenc_bytes()?);
                        let value = lossy(d.lenenc_bytes()?);
                        out.push(Self::SystemVariable { name, value });
                        if d.is_empty() {
                            break;
                        }
                    }
                }
                SESSION_TRACK_SCHEMA => out.push(Self::Schema(lossy(d.lenenc_bytes()?))),
                SESSION_TRACK_STATE_CHANGE => {
                    // MariaDB and MySQL send the flag as one raw byte ('1'); a length-encoded
                    // string (the documented form) is accepted too.
                    let flag = match d.rest() {
                        [1, b] => *b,
                        [b] => *b,
                        _ => b'0',
                    };
                    out.push(Self::StateChanged(flag == b'1'))
                }
                SESSION_TRACK_GTIDS => {
                    let _encoding = d.u8()?;
                    out.push(Self::Gtids(lossy(d.lenenc_bytes()?)));
                }
                SESSION_TRACK_TRANSACTION_CHARACTERISTICS => {
                    out.push(Self::TransactionCharacteristics(lossy(d.lenenc_bytes()?)));
                }
                SESSION_TRACK_TRANSACTION_STATE => {
                    out.push(Self::TransactionState(lossy(d.lenenc_bytes()?)))
                }
                _ => {
                    out.push(Self::Unknown {
                        kind,
                        data: d.rest().to_vec(),
                    });
                }
            }
            d.finish()?;
        }
        Ok(out)
    }

    /// Encodes one record (type byte + length-prefixed data).
    pub fn encode(&self, dst: &mut BytesMut) {
        let mut data = BytesMut::new();
        let kind = match self {
            Self::SystemVariable { name, value } => {
                put_lenenc_bytes(&mut data, name.as_bytes());
                put_lenenc_bytes(&mut data, value.as_bytes());
                SESSION_TRACK_SYSTEM_VARIABLES
            }
            Self::Schema(s) => {
                put_lenenc_bytes(&mut data, s.as_bytes());
                SESSION_TRACK_SCHEMA
            }
            Self::StateChanged(b) => {
                data.put_u8(if *b { b'1' } else { b'0' });
                SESSION_TRACK_STATE_CHANGE
            }
            Self::Gtids(s) => {
                data.put_u8(0);
                put_lenenc_bytes(&mut data, s.as_bytes());
                SESSION_TRACK_GTIDS
            }
            Self::TransactionCharacteristics(s) => {
                put_lenenc_bytes(&mut data, s.as_bytes());
                SESSION_TRACK_TRANSACTION_CHARACTERISTICS
            }
            Self::TransactionState(s) => {
                put_lenenc_bytes(&mut data, s.as_bytes());
                SESSION_TRACK_TRANSACTION_STATE
            }
            Self::Unknown { kind, data: raw } => {
                data.put_slice(raw);
                *kind
            }
        };
        dst.put_u8(kind);
        put_lenenc_int(dst, data.len() as u64);
        dst.put_slice(&data);
    }

    /// Encodes a list of records as the block content (without the block's length prefix).
    pub fn encode_all(changes: &[SessionStateChange], dst: &mut BytesMut) {
        for c in changes {
            c.encode(dst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;

    #[test]
    fn round_trip_every_kind() {
        let all = vec![
            SessionStateChange::SystemVariable {
                name: "last_gtid".into(),
                value: "0-1-42".into(),
            },
            SessionStateChange::Schema("app".into()),
            SessionStateChange::StateChanged(true),
            SessionStateChange::Gtids("uuid:1-5".into()),
            SessionStateChange::TransactionCharacteristics("SET TRANSACTION READ ONLY;".into()),
            SessionStateChange::TransactionState("T_______".into()),
            SessionStateChange::Unknown {
                kind: 9,
                data: vec![1, 2, 3],
            },
        ];
        let mut b = BytesMut::new();
        SessionStateChange::encode_all(&all, &mut b);
        assert_eq!(SessionStateChange::parse_all(&b).unwrap(), all);
    }

    #[test]
    fn a_mariadb_block_as_sent() {
        // MariaDB 10.11's answer to `SET SESSION session_track_system_variables = '*',
        // session_track_state_change = ON`: the state-change flag is one raw byte.
        let mut block = vec![0x00, 0x21, 0x1e];
        block.extend_from_slice(b"session_track_system_variables");
        block.extend_from_slice(&[0x01, b'*', 0x00, 0x1e, 0x1a]);
        block.extend_from_slice(b"session_track_state_change");
        block.extend_from_slice(&[0x02, b'O', b'N', 0x02, 0x01, b'1']);
        let changes = SessionStateChange::parse_all(&block).expect("parses");
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[2], SessionStateChange::StateChanged(true));
        let mut again = BytesMut::new();
        SessionStateChange::encode_all(&changes, &mut again);
        assert_eq!(
            &again[..],
            &block[..],
            "encoded exactly as the server sends it"
        );
    }

    #[test]
    fn errors() {
        // data length beyond the block
        assert!(matches!(
            SessionStateChange::parse_all(&[1, 5, 1]),
            Err(ProtocolError::Truncated { .. })
        ));
        // schema record with trailing bytes inside its data
        assert!(matches!(
            SessionStateChange::parse_all(&[1, 3, 1, b'a', b'x']),
            Err(ProtocolError::TrailingBytes { .. })
        ));
        // missing type's data length
        assert!(matches!(
            SessionStateChange::parse_all(&[0]),
            Err(ProtocolError::Truncated { .. })
        ));
    }
}
