//! The `memory` section read from a file front to back, through a window of a few MiB
//! that is reused: each batch of pages is decompressed into its memory (on every core)
//! while the next chunk of the file is read, so the file is never held whole and the
//! reading overlaps the decompression.
//!
//! Every check of [`parse_memories`](crate::memory_read::parse_memories) is made here too,
//! page by page; the messages may differ (the window is not the section), which is why
//! [`crate::SnapshotFile`] re-derives the reference error when anything fails.

use crate::bytes::Reader;
use crate::compress::{PAGE_LZ4, PAGE_RAW};
use crate::error::SnapshotError;
use crate::memory_read::{StoredPage, fill_memory};
use crate::state::WASM_PAGE;
use std::fs::File;
use std::io::Read;

/// The longest record header: an index and a length of up to 10 bytes each (padded
/// LEB128 is accepted) and the encoding byte.
const MAX_RECORD_HEADER: usize = 21;

pub(crate) struct MemoryStream {
    file: File,
    /// Bytes read from the file at a time (the window's usual size).
    chunk: usize,
    /// The section's payload is `[window_at + pos, end)` from here on.
    end: u64,
    window: Vec<u8>,
    /// File offset of `window[0]`; the window always ends where the file was read up to.
    window_at: u64,
    /// The next unparsed byte of `window`.
    pos: usize,
    /// The buffer the next chunk is read into while the window's pages are decoded.
    spare: Vec<u8>,
    /// CRC-32 of every byte read so far, continued from the bytes before the section.
    pub(crate) crc: crc32fast::Hasher,
    /// Memory sizes in pages, from the `state` section.
    sizes: Vec<u32>,
    /// Whether the section's memory count has been read (and checked).
    counted: bool,
    /// The next memory whose pages come.
    next_memory: usize,
}

impl MemoryStream {
    /// `file` is positioned at the section's payload, which starts at `start` and holds
    /// `len` bytes.
    pub(crate) fn new(
        file: File,
        start: u64,
        len: u64,
        crc: crc32fast::Hasher,
        sizes: Vec<u32>,
        chunk: usize,
    ) -> MemoryStream {
        MemoryStream {
            file,
            chunk,
            end: start + len,
            window: Vec::new(),
            window_at: start,
            pos: 0,
            spare: Vec::new(),
            crc,
            sizes,
            counted: false,
            next_memory: 0,
        }
    }

    /// Bytes of the section not parsed yet.
    fn left(&self) -> u64 {
        self.end - self.window_at - self.pos as u64
    }

    /// File offset of `window[pos]`.
    fn offset(&self) -> usize {
        (self.window_at + self.pos as u64) as usize
    }

    /// The unparsed bytes in the window, never beyond the section.
    fn parsable(&self) -> &[u8] {
        let avail = (self.window.len() - self.pos).min(self.left() as usize);
        &self.window[self.pos..self.pos + avail]
    }

    /// Makes the window hold at least `need` unparsed bytes, or the rest of the section.
    fn fill_window(&mut self, need: usize) -> Result<(), SnapshotError> {
        let need = need.min(usize::try_from(self.left()).unwrap_or(usize::MAX));
        if self.window.len() - self.pos >= need {
            return Ok(());
        }
        self.window.drain(..self.pos);
        self.window_at += self.pos as u64;
        self.pos = 0;
        let more = (need - self.window.len()).max(self.chunk);
        read_more(
            &mut self.file,
            &mut self.crc,
            &mut self.window,
            self.window_at,
            more,
            self.end,
        )
    }

    /// One LEB128 integer (at most 10 bytes).
    fn uleb(&mut self) -> Result<u64, SnapshotError> {
        self.fill_window(10)?;
        let at = self.offset();
        let mut r = Reader::new(self.parsable(), at, "memory");
        let n = r.uleb()?;
        self.pos += r.offset() - at;
        Ok(n)
    }

    /// A count of things of at least `min_size` bytes each, checked against the section.
    fn count(&mut self, min_size: u64, what: &str) -> Result<usize, SnapshotError> {
        let at = self.offset();
        let n = self.uleb()?;
        if n.saturating_mul(min_size) > self.left() {
            return Err(malformed(
                at,
                format!("{what} count {n} exceeds the section"),
            ));
        }
        Ok(n as usize)
    }

    /// Reads and checks the memory count, once.
    pub(crate) fn read_count(&mut self) -> Result<(), SnapshotError> {
        if !self.counted {
            let at = self.offset();
            let count = self.count(1, "memory")?;
            if count != self.sizes.len() {
                return Err(malformed(at, format!("{count} memories here")));
            }
            self.counted = true;
        }
        Ok(())
    }

    /// Decompresses memory `m`'s pages into `memory` (its whole, zeroed content). The
    /// memories must come in order, each once.
    pub(crate) fn fill(&mut self, m: usize, memory: &mut [u8]) -> Result<(), SnapshotError> {
        self.read_count()?;
        assert_eq!(m, self.next_memory, "memories are filled in order");
        self.next_memory += 1;
        let size = self.sizes[m];
        assert_eq!(memory.len(), size as usize * WASM_PAGE);
        // Each page takes at least an index, an encoding and a length byte.
        let n = self.count(3, "page")?;
        let mut done = 0;
        let mut prev = None;
        while done < n {
            let window = Window {
                bytes: &self.window,
                at: self.window_at,
                pos: self.pos,
                end: self.end,
            };
            let (pages, used, need) = window.parse_batch(m, size, n - done, &mut prev)?;
            if pages.is_empty() {
                self.fill_window(need)?;
                continue;
            }
            done += pages.len();
            // Decode this batch while the next chunk is read into the spare buffer.
            let next_at = self.window_at + used as u64;
            self.spare.clear();
            self.spare.extend_from_slice(&self.window[used..]);
            let more = if done < n || self.next_memory < self.sizes.len() {
                self.chunk
            } else {
                0
            };
            let mut read_next = |crc: &mut crc32fast::Hasher, spare: &mut Vec<u8>| {
                read_more(&mut self.file, crc, spare, next_at, more, self.end)
            };
            let (decoded, read) = if crate::threads::available() == 1 {
                // No second thread (e.g. on WASI): decode, then read.
                let decoded = fill_memory(m, &pages, memory);
                (decoded, read_next(&mut self.crc, &mut self.spare))
            } else {
                std::thread::scope(|scope| {
                    let decoder = scope.spawn(|| fill_memory(m, &pages, memory));
                    let read = read_next(&mut self.crc, &mut self.spare);
                    (decoder.join().expect("decoder panicked"), read)
                })
            };
            decoded?;
            read?;
            std::mem::swap(&mut self.window, &mut self.spare);
            self.window_at = next_at;
            self.pos = 0;
        }
        Ok(())
    }

    /// Checks that every memory was filled and the section ends after the last page;
    /// returns the CRC-32 of everything read.
    pub(crate) fn finish(mut self) -> Result<crc32fast::Hasher, SnapshotError> {
        self.read_count()?;
        if self.next_memory != self.sizes.len() {
            return Err(malformed(
                self.offset(),
                format!("memory {} was not restored", self.next_memory),
            ));
        }
        if self.left() != 0 {
            return Err(malformed(
                self.offset(),
                format!("{} unexpected bytes after the last field", self.left()),
            ));
        }
        Ok(self.crc)
    }
}

/// The window's bytes, apart from the stream, so the pages parsed from it can be
/// decoded while the stream reads on.
#[derive(Clone, Copy)]
struct Window<'a> {
    bytes: &'a [u8],
    /// File offset of `bytes[0]`.
    at: u64,
    /// The next unparsed byte.
    pos: usize,
    /// File offset of the section's end.
    end: u64,
}

impl<'a> Window<'a> {
    /// The complete page records at the front of the window, at most `max`: the pages,
    /// the window position after them and, when none is complete, the bytes needed.
    fn parse_batch(
        self,
        m: usize,
        size: u32,
        max: usize,
        prev: &mut Option<u32>,
    ) -> Result<(Vec<StoredPage<'a>>, usize, usize), SnapshotError> {
        let mut pages = Vec::new();
        let mut pos = self.pos;
        let window_end_at = self.at + self.bytes.len() as u64;
        let reaches_end = window_end_at >= self.end;
        while pages.len() < max {
            let left = self.end - self.at - pos as u64;
            let avail = (self.bytes.len() - pos).min(usize::try_from(left).unwrap_or(usize::MAX));
            let at = (self.at + pos as u64) as usize;
            let mut r = Reader::new(&self.bytes[pos..pos + avail], at, "memory");
            let header = (|| Ok::<_, SnapshotError>((r.u32()?, r.u8()?, r.uleb()?)))();
            let (index, encoding, len) = match header {
                Ok(header) => header,
                // The header is cut by the window, not by the section: read more.
                Err(_) if !reaches_end && avail < MAX_RECORD_HEADER => {
                    return Ok((pages, pos, MAX_RECORD_HEADER));
                }
                Err(e) => return Err(e),
            };
            let header_len = r.offset() - at;
            if index >= size || prev.is_some_and(|p| p >= index) {
                return Err(malformed(
                    at,
                    format!("memory {m}: page {index} out of order"),
                ));
            }
            if len > left - header_len as u64 {
                return Err(malformed(
                    at,
                    format!("page {index}: data beyond the section"),
                ));
            }
            let len = len as usize;
            match encoding {
                PAGE_RAW if len != WASM_PAGE => {
                    return Err(malformed(
                        at,
                        format!("page {index}: raw page of {len} bytes"),
                    ));
                }
                PAGE_RAW | PAGE_LZ4 => {}
                _ => return Err(malformed(at, format!("page {index}: unknown encoding"))),
            }
            if avail - header_len < len {
                return Ok((pages, pos, header_len + len));
            }
            let data_at = pos + header_len;
            pages.push(StoredPage {
                index,
                encoding,
                data: &self.bytes[data_at..data_at + len],
                data_at: at + header_len,
            });
            *prev = Some(index);
            pos = data_at + len;
        }
        Ok((pages, pos, 0))
    }
}

/// Appends up to `more` bytes of the file (never beyond `end`) to `buf`, which holds the
/// file from `buf_at` on, and adds them to the checksum. The file may have shrunk since
/// it was framed: running out of bytes is a truncation.
fn read_more(
    file: &mut File,
    crc: &mut crc32fast::Hasher,
    buf: &mut Vec<u8>,
    buf_at: u64,
    more: usize,
    end: u64,
) -> Result<(), SnapshotError> {
    let read_at = buf_at + buf.len() as u64;
    let more = more.min(usize::try_from(end - read_at).unwrap_or(usize::MAX));
    let old = buf.len();
    // Room for all of it up front (the buffer is reused, so this allocates once), and
    // `read_to_end` reads into that spare capacity without zeroing it first.
    buf.reserve(more);
    match file.by_ref().take(more as u64).read_to_end(buf) {
        Ok(n) if n == more => {
            crc.update(&buf[old..]);
            Ok(())
        }
        Ok(n) => Err(SnapshotError::Truncated {
            offset: (read_at + n as u64) as usize,
            context: "the file got shorter while it was read".into(),
        }),
        Err(e) => Err(SnapshotError::Io {
            action: "read",
            path: "the snapshot".into(),
            source: e,
        }),
    }
}

fn malformed(offset: usize, message: String) -> SnapshotError {
    SnapshotError::Malformed {
        section: "memory",
        offset,
        message,
    }
}
