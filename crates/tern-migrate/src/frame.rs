//! Frames: `type: u8`, `length: u32 LE`, `payload`, `crc32: u32 LE` of type, length and
//! payload. A length above [`MAX_PAYLOAD`] or a wrong CRC ends the stream.

use crate::MigrateError;
use std::io::{Read, Write};

/// Largest payload a frame may carry (a memory batch is at most 4 MiB before LZ4).
pub const MAX_PAYLOAD: u32 = 8 << 20;

pub mod kind {
    //! Frame types.
    pub const HELLO: u8 = 1;
    pub const MODULE: u8 = 2;
    pub const PAGES: u8 = 3;
    pub const ROUND: u8 = 4;
    pub const FILE: u8 = 5;
    pub const FILE_DATA: u8 = 6;
    pub const STATE: u8 = 7;
    pub const END: u8 = 8;
    /// source → target, after RUNNING: the source has given the program up; run it.
    pub const COMMIT: u8 = 9;
    /// target → source: the hello is accepted, send the rest.
    pub const ACCEPT: u8 = 16;
    /// target → source: the program is restored and runs once the source commits.
    pub const RUNNING: u8 = 17;
    /// target → source: refused, with a UTF-8 reason.
    pub const REFUSE: u8 = 18;
    /// target → source: every page up to this ROUND (a `u32` round number) is in place.
    pub const ROUND_DONE: u8 = 19;
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, ty: u8, payload: &[u8]) -> Result<(), MigrateError> {
    assert!(
        payload.len() <= MAX_PAYLOAD as usize,
        "frame payload too large"
    );
    let mut head = [0u8; 5];
    head[0] = ty;
    head[1..].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    crc.update(payload);
    w.write_all(&head)?;
    w.write_all(payload)?;
    w.write_all(&crc.finalize().to_le_bytes())?;
    Ok(())
}

/// Reads one frame; its payload is allocated only once the length is known to be within
/// [`MAX_PAYLOAD`], and read in full before the CRC is checked.
pub fn read_frame(r: &mut impl Read) -> Result<(u8, Vec<u8>), MigrateError> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head)?;
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
    if len > MAX_PAYLOAD {
        return Err(MigrateError::Protocol(format!(
            "frame of type {} claims {len} bytes (limit {MAX_PAYLOAD})",
            head[0]
        )));
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload)?;
    let mut crc = [0u8; 4];
    r.read_exact(&mut crc)?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&head);
    hasher.update(&payload);
    if hasher.finalize() != u32::from_le_bytes(crc) {
        return Err(MigrateError::Protocol(format!(
            "corrupted frame (type {}, {len} bytes): CRC-32 mismatch",
            head[0]
        )));
    }
    Ok((head[0], payload))
}

/// A little-endian payload reader that reports what is missing.
pub struct Cursor<'a>(pub &'a [u8]);

impl<'a> Cursor<'a> {
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], MigrateError> {
        if self.0.len() < n {
            return Err(MigrateError::Protocol(format!("truncated {what}")));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    pub fn u8(&mut self, what: &str) -> Result<u8, MigrateError> {
        Ok(self.take(1, what)?[0])
    }
    pub fn u32(&mut self, what: &str) -> Result<u32, MigrateError> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    pub fn u64(&mut self, what: &str) -> Result<u64, MigrateError> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    /// `len: u32 LE` then UTF-8.
    pub fn string(&mut self, what: &str) -> Result<String, MigrateError> {
        let n = self.u32(what)? as usize;
        String::from_utf8(self.take(n, what)?.to_vec())
            .map_err(|_| MigrateError::Protocol(format!("{what} is not UTF-8")))
    }
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

/// Appends `len: u32 LE` then the bytes of `s`.
pub fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_and_truncated_frames_are_rejected() {
        let mut wire = vec![kind::PAGES];
        wire.extend_from_slice(&(MAX_PAYLOAD + 1).to_le_bytes());
        assert!(matches!(
            read_frame(&mut &wire[..]),
            Err(MigrateError::Protocol(_))
        ));
        let mut ok = Vec::new();
        write_frame(&mut ok, kind::END, &[1, 2, 3]).unwrap();
        ok.pop();
        assert!(matches!(read_frame(&mut &ok[..]), Err(MigrateError::Io(_))));
    }
}
