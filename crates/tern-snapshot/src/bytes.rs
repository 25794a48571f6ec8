//! Primitive encodings shared by the file's own sections: unsigned LEB128, fixed-width
//! little-endian integers and length-prefixed UTF-8 strings (the same conventions as the
//! state encoding in `codec.rs`).

use crate::error::SnapshotError;

/// Appends primitives to a byte vector.
pub struct Writer<'a>(pub &'a mut Vec<u8>);

impl Writer<'_> {
    pub fn uleb(&mut self, mut n: u64) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }

    pub fn u8(&mut self, n: u8) {
        self.0.push(n);
    }

    pub fn u64(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    pub fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    pub fn string(&mut self, s: &str) {
        self.uleb(s.len() as u64);
        self.bytes(s.as_bytes());
    }
}

/// Reads primitives from one section's payload. Errors name the section and carry
/// absolute byte offsets in the file, so a message points at the exact byte.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Absolute file offset of `bytes[0]`.
    base: usize,
    section: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8], base: usize, section: &'static str) -> Self {
        Reader {
            bytes,
            pos: 0,
            base,
            section,
        }
    }

    /// Absolute file offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// An error at an absolute file offset inside this section.
    pub fn error_at(&self, offset: usize, message: String) -> SnapshotError {
        SnapshotError::Malformed {
            section: self.section,
            offset,
            message,
        }
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if n > self.remaining() {
            return Err(self.error_at(
                self.offset(),
                format!(
                    "{n} bytes needed but the section ends after {}",
                    self.remaining()
                ),
            ));
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    pub fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.take(1)?[0])
    }

    pub fn u64(&mut self) -> Result<u64, SnapshotError> {
        let bytes = self.take(8)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("took 8 bytes")))
    }

    pub fn uleb(&mut self) -> Result<u64, SnapshotError> {
        let start = self.offset();
        let mut result = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            // The tenth byte may only carry the single remaining bit of a u64.
            if shift == 63 && bits > 1 {
                return Err(self.error_at(start, "integer does not fit in 64 bits".into()));
            }
            result |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(result);
            }
        }
        Err(self.error_at(start, "integer too long".into()))
    }

    pub fn u32(&mut self) -> Result<u32, SnapshotError> {
        let start = self.offset();
        let n = self.uleb()?;
        u32::try_from(n).map_err(|_| self.error_at(start, format!("{n} does not fit in 32 bits")))
    }

    /// A count of things that each take at least `min_size` bytes: a count the rest of the
    /// section cannot hold is forged, and is refused before anything is allocated for it.
    /// `what` names the things counted, for the error message (built only on error).
    pub fn count(
        &mut self,
        min_size: usize,
        what: impl FnOnce() -> String,
    ) -> Result<usize, SnapshotError> {
        let start = self.offset();
        let n = self.uleb()?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min_size) <= self.remaining() => Ok(n),
            _ => Err(self.error_at(
                start,
                format!(
                    "{} count {n} exceeds what the remaining {} bytes can hold",
                    what(),
                    self.remaining()
                ),
            )),
        }
    }

    pub fn string(&mut self) -> Result<String, SnapshotError> {
        let len = self.count(1, || "string length".into())?;
        let start = self.offset();
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|e| self.error_at(start, format!("string is not UTF-8: {e}")))
    }

    /// Refuses bytes left over after the last field: sections have exact lengths.
    pub fn finish(self) -> Result<(), SnapshotError> {
        if self.remaining() != 0 {
            return Err(self.error_at(
                self.offset(),
                format!("{} unexpected bytes after the last field", self.remaining()),
            ));
        }
        Ok(())
    }
}
