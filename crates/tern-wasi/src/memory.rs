//! The guest's linear memory as the WASI functions see it: one byte slice, with every
//! pointer and length checked before use.
//!
//! A check that fails gives `EFAULT` instead of a host panic or a trap. Functions
//! validate *all* the memory they will touch (buffers and result pointers) before they
//! act on the host, so a bad pointer never loses data already read from a file or socket.

use crate::errno::Errno;
use std::ops::Range;

/// An engine's view of one linear memory: the WASI functions only ever need its bytes.
///
/// ```
/// use tern_wasi::GuestMemory;
/// let mut memory = vec![0u8; 65536];
/// assert_eq!(GuestMemory::bytes(&mut memory).len(), 65536);
/// ```
pub trait GuestMemory {
    /// The whole memory, writable.
    fn bytes(&mut self) -> &mut [u8];
}

impl GuestMemory for [u8] {
    fn bytes(&mut self) -> &mut [u8] {
        self
    }
}

impl GuestMemory for Vec<u8> {
    fn bytes(&mut self) -> &mut [u8] {
        self
    }
}

impl GuestMemory for &mut [u8] {
    fn bytes(&mut self) -> &mut [u8] {
        self
    }
}

/// One iovec / ciovec: a guest buffer, already bounds-checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IoVec {
    pub ptr: u32,
    pub len: u32,
}

/// Checked access to guest memory.
pub(crate) struct Mem<'a> {
    bytes: &'a mut [u8],
}

pub(crate) type Result<T> = std::result::Result<T, Errno>;

impl<'a> Mem<'a> {
    pub fn new(memory: &'a mut dyn GuestMemory) -> Mem<'a> {
        Mem {
            bytes: memory.bytes(),
        }
    }

    /// The byte range `ptr .. ptr + len`, if it lies inside memory.
    pub fn range(&self, ptr: u32, len: u32) -> Result<Range<usize>> {
        let end = u64::from(ptr) + u64::from(len);
        if end > self.bytes.len() as u64 {
            return Err(Errno::FAULT);
        }
        Ok(ptr as usize..end as usize)
    }

    /// Fails with `EFAULT` unless `len` bytes at `ptr` are addressable.
    pub fn check(&self, ptr: u32, len: u32) -> Result<()> {
        self.range(ptr, len).map(|_| ())
    }

    pub fn slice(&self, ptr: u32, len: u32) -> Result<&[u8]> {
        let range = self.range(ptr, len)?;
        Ok(&self.bytes[range])
    }

    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8]> {
        let range = self.range(ptr, len)?;
        Ok(&mut self.bytes[range])
    }

    fn array<const N: usize>(&self, ptr: u32) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.slice(ptr, N as u32)?);
        Ok(out)
    }

    pub fn read_u32(&self, ptr: u32) -> Result<u32> {
        self.array(ptr).map(u32::from_le_bytes)
    }

    #[cfg(test)]
    pub fn read_u64(&self, ptr: u32) -> Result<u64> {
        self.array(ptr).map(u64::from_le_bytes)
    }

    pub fn write(&mut self, ptr: u32, data: &[u8]) -> Result<()> {
        let len = u32::try_from(data.len()).map_err(|_| Errno::FAULT)?;
        self.slice_mut(ptr, len)?.copy_from_slice(data);
        Ok(())
    }

    pub fn write_u8(&mut self, ptr: u32, value: u8) -> Result<()> {
        self.write(ptr, &[value])
    }

    pub fn write_u16(&mut self, ptr: u32, value: u16) -> Result<()> {
        self.write(ptr, &value.to_le_bytes())
    }

    pub fn write_u32(&mut self, ptr: u32, value: u32) -> Result<()> {
        self.write(ptr, &value.to_le_bytes())
    }

    pub fn write_u64(&mut self, ptr: u32, value: u64) -> Result<()> {
        self.write(ptr, &value.to_le_bytes())
    }

    /// A guest string (path or symlink target): `EILSEQ` unless it is UTF-8, which is
    /// what WASI requires of paths.
    pub fn string(&self, ptr: u32, len: u32) -> Result<String> {
        let bytes = self.slice(ptr, len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Errno::ILSEQ)
    }

    /// `count` iovecs at `ptr` (8 bytes each: buffer pointer, length), every buffer
    /// checked.
    pub fn iovecs(&self, ptr: u32, count: u32) -> Result<Vec<IoVec>> {
        let size = count.checked_mul(8).ok_or(Errno::FAULT)?;
        self.check(ptr, size)?;
        (0..count)
            .map(|i| {
                let at = ptr + i * 8;
                let iov = IoVec {
                    ptr: self.read_u32(at)?,
                    len: self.read_u32(at + 4)?,
                };
                self.check(iov.ptr, iov.len)?;
                Ok(iov)
            })
            .collect()
    }

    /// The bytes of a list of ciovecs, concatenated.
    pub fn gather(&self, iovs: &[IoVec]) -> Vec<u8> {
        let mut out = Vec::with_capacity(iovs.iter().map(|v| v.len as usize).sum());
        for iov in iovs {
            // Checked by `iovecs`.
            out.extend_from_slice(&self.bytes[iov.ptr as usize..][..iov.len as usize]);
        }
        out
    }

    /// Spreads `data` over a list of iovecs, in order.
    pub fn scatter(&mut self, iovs: &[IoVec], mut data: &[u8]) {
        for iov in iovs {
            if data.is_empty() {
                break;
            }
            let n = data.len().min(iov.len as usize);
            self.bytes[iov.ptr as usize..][..n].copy_from_slice(&data[..n]);
            data = &data[n..];
        }
    }
}

/// Total capacity of a list of iovecs, capped so one call never allocates more than
/// `cap` bytes on the host (short reads are always allowed).
pub(crate) fn capacity(iovs: &[IoVec], cap: usize) -> usize {
    iovs.iter()
        .map(|v| v.len as usize)
        .fold(0usize, usize::saturating_add)
        .min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked() {
        let mut memory = vec![0u8; 64];
        let mut mem = Mem::new(&mut memory);
        assert_eq!(mem.write_u32(60, 7), Ok(()));
        assert_eq!(mem.read_u32(60), Ok(7));
        assert_eq!(mem.write_u32(61, 7), Err(Errno::FAULT));
        assert_eq!(mem.read_u64(u32::MAX), Err(Errno::FAULT));
        assert_eq!(mem.check(0, 64), Ok(()));
        assert_eq!(mem.check(1, u32::MAX), Err(Errno::FAULT));
        // An iovec whose buffer runs past the end is refused before anything happens.
        mem.write_u32(0, 60).unwrap();
        mem.write_u32(4, 8).unwrap();
        assert_eq!(mem.iovecs(0, 1).unwrap_err(), Errno::FAULT);
        assert_eq!(mem.iovecs(0, u32::MAX).unwrap_err(), Errno::FAULT);
        mem.write(8, &[0xff, 0xfe]).unwrap();
        assert_eq!(mem.string(8, 2), Err(Errno::ILSEQ));
    }
}
