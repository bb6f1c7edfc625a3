//! Statement ids inside COM_STMT_* packets.
//!
//! A proxy prepares a client's statement lazily on whichever backend it routes to, so the id the
//! client knows differs from each backend's. These helpers read and rewrite the id in place
//! (bytes 1..5 of COM_STMT_EXECUTE / SEND_LONG_DATA / CLOSE / RESET / FETCH and MariaDB's
//! COM_STMT_BULK_EXECUTE) without touching the rest of the packet. MariaDB clients may send the id
//! `0xFFFFFFFF` ([`LAST_PREPARED_STMT_ID`]) meaning "the statement prepared just before".

use crate::error::{ProtocolError, Result};
use crate::message::command::Command;

/// MariaDB: "the most recently prepared statement" (used when pipelining prepare + execute).
pub const LAST_PREPARED_STMT_ID: u32 = 0xFFFF_FFFF;

/// COM_STMT_EXECUTE cursor flag: open a read-only cursor.
pub const CURSOR_TYPE_READ_ONLY: u8 = 0x01;

/// Statement id of a COM_STMT_* payload, or `None` if the command carries none or the payload is
/// too short.
pub fn stmt_id(payload: &[u8]) -> Option<u32> {
    if !Command::of(payload)?.carries_stmt_id() {
        return None;
    }
    match payload.get(1..5)? {
        [a, b, c, d] => Some(u32::from_le_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// Overwrites the statement id of a COM_STMT_* payload in place.
pub fn rewrite_stmt_id(payload: &mut [u8], new_id: u32) -> Result<()> {
    match Command::of(payload) {
        Some(c) if c.carries_stmt_id() => {}
        _ => {
            return Err(ProtocolError::Malformed(
                "not a command with a statement id",
            ))
        }
    }
    let slot = payload
        .get_mut(1..5)
        .ok_or(ProtocolError::truncated("statement id"))?;
    slot.copy_from_slice(&new_id.to_le_bytes());
    Ok(())
}

/// Cursor flags byte of a COM_STMT_EXECUTE payload (byte 5).
pub fn execute_cursor_flags(payload: &[u8]) -> Option<u8> {
    match Command::of(payload)? {
        Command::StmtExecute => payload.get(5).copied(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_and_rewrite() {
        let mut exec = vec![0x17, 1, 0, 0, 0, CURSOR_TYPE_READ_ONLY, 1, 0, 0, 0];
        assert_eq!(stmt_id(&exec), Some(1));
        rewrite_stmt_id(&mut exec, 0xA1B2C3D4).unwrap();
        assert_eq!(stmt_id(&exec), Some(0xA1B2C3D4));
        assert_eq!(&exec[5..], [1, 1, 0, 0, 0]);
        assert_eq!(execute_cursor_flags(&exec), Some(CURSOR_TYPE_READ_ONLY));
        for cmd in [0x18, 0x19, 0x1a, 0x1c, 0xfa] {
            let mut p = vec![cmd, 7, 0, 0, 0];
            assert_eq!(stmt_id(&p), Some(7));
            rewrite_stmt_id(&mut p, 9).unwrap();
            assert_eq!(stmt_id(&p), Some(9));
        }
    }

    #[test]
    fn errors() {
        assert_eq!(stmt_id(b"\x03SELECT"), None);
        assert_eq!(stmt_id(&[0x19, 1, 2]), None);
        assert_eq!(stmt_id(&[]), None);
        assert!(matches!(
            rewrite_stmt_id(&mut [0x19, 1, 2], 1),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            rewrite_stmt_id(&mut [0x03, 1, 2, 3, 4], 1),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            rewrite_stmt_id(&mut [], 1),
            Err(ProtocolError::Malformed(_))
        ));
        assert_eq!(execute_cursor_flags(&[0x19, 1, 0, 0, 0, 1]), None);
    }
}
