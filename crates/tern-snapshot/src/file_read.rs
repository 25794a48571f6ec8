//! [`SnapshotFile`]: a snapshot file read front to back for a restore, its memory pages
//! decompressed straight from a reused read buffer into the restored memories.
//!
//! Reading the whole file into one fresh buffer first, as [`SnapshotView`] needs, costs
//! more than decompressing it once the file is large (the kernel fills a new buffer page
//! by page), and then the checksum can be verified before anything is decoded. Here the
//! file is read in chunks (`read`, not `mmap`: a mapped file that another process
//! truncates kills the reader with `SIGBUS`), so the checksum is known only at the end,
//! when the memories are already filled; [`SnapshotFile::finish`] verifies it, and a
//! restore must not run the program before it has.
//!
//! Errors are those of [`SnapshotView::parse`] and [`SnapshotView::fill_memory`], in the
//! same priority (`docs/snapshot-format.md`, *How a reader validates a file*): whenever
//! this reader finds a problem, it reads the whole file again and reports what the
//! reference reader reports. Only failures pay for that.

use crate::error::SnapshotError;
use crate::format::{
    CHECKSUM_LEN, HEADER_LEN, KNOWN_FLAGS, OPTIONAL_SECTION_BIT, REQUIRED_FLAGS_MASK,
    SECTION_HEADER_LEN, section, section_name,
};
use crate::identity::ModuleIdentity;
use crate::layout::{Section, header};
use crate::memory_stream::MemoryStream;
use crate::state::ExecState;
use crate::trigger::TriggerInfo;
use crate::view::{SnapshotView, decode_head};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Bytes read from the file at a time: large enough that the decompression of one chunk
/// is split over every core, small enough to stay in the caches' neighbourhood.
const CHUNK: usize = 8 << 20;

/// An open snapshot file whose small sections are decoded and whose memory pages are
/// still to be read.
///
/// Use: [`open`](Self::open); check [`module`](Self::module) and the state;
/// [`fill_memory`](Self::fill_memory) for every memory, in order;
/// [`finish`](Self::finish), which verifies the checksum — only then may the restored
/// program run. If the restore fails for another reason before the memories are filled,
/// [`check`](Self::check) says whether the file itself is to blame (its error comes first).
///
/// ```
/// use tern_snapshot::{ExecState, MemoryImage, ModuleIdentity, Snapshot, SnapshotFile, TriggerInfo, WASM_PAGE};
///
/// let mut page = vec![0u8; WASM_PAGE];
/// page[7] = 1;
/// let snapshot = Snapshot {
///     module: ModuleIdentity::of(b""),
///     trigger: TriggerInfo::now("manual", ""),
///     state: ExecState {
///         memories: vec![MemoryImage { pages: 2, nonzero_pages: vec![(1, page)] }],
///         ..ExecState::default()
///     },
///     wasi: None,
/// };
/// let path = std::env::temp_dir().join(format!("tern-doc-file-{}.snap", std::process::id()));
/// tern_snapshot::write_snapshot_file(&path, &snapshot).unwrap();
/// let mut file = SnapshotFile::open(&path).unwrap();
/// assert_eq!(file.state.memories[0].pages, 2);
/// let mut memory = vec![0u8; 2 * WASM_PAGE];
/// file.fill_memory(0, &mut memory).unwrap();
/// file.finish().unwrap();
/// assert_eq!(memory[WASM_PAGE + 7], 1);
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub struct SnapshotFile {
    /// The module the program runs; a restore must be given the same one.
    pub module: ModuleIdentity,
    /// Why and when the snapshot was taken.
    pub trigger: TriggerInfo,
    /// The Wasm-level state; its memory images hold sizes only (no pages).
    pub state: ExecState,
    /// The WASI state as UTF-8 JSON, if the program runs with WASI.
    pub wasi: Option<Vec<u8>>,
    path: PathBuf,
    memory: MemoryStream,
    /// CRC-32 of the bytes after the memory section, up to the stored checksum.
    tail_crc: crc32fast::Hasher,
    /// The stored checksum and its offset.
    stored_crc: u32,
    checksum_at: usize,
}

impl std::fmt::Debug for SnapshotFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotFile")
            .field("path", &self.path)
            .field("module", &self.module)
            .field("trigger", &self.trigger)
            .finish_non_exhaustive()
    }
}

impl SnapshotFile {
    /// Opens the snapshot file at `path` and decodes everything but the memory pages.
    pub fn open(path: &Path) -> Result<SnapshotFile, SnapshotError> {
        Self::open_with_chunk(path, CHUNK)
    }

    pub(crate) fn open_with_chunk(
        path: &Path,
        chunk: usize,
    ) -> Result<SnapshotFile, SnapshotError> {
        let file = File::open(path).map_err(|e| io_error(path, e))?;
        read_head(file, path, chunk).map_err(|e| reference_error(path, e))
    }

    /// Decompresses memory `m`'s pages into `memory`, which must be the memory's whole
    /// content (`state.memories[m].pages` × [`WASM_PAGE`](crate::WASM_PAGE) bytes) and
    /// zero. Memories must be filled in order, each once, and all of them (even empty).
    ///
    /// On error `memory` holds a mix of decoded and zero pages, to be thrown away.
    ///
    /// # Panics
    ///
    /// If `m` is not the next memory or `memory` has another size.
    pub fn fill_memory(&mut self, m: usize, memory: &mut [u8]) -> Result<(), SnapshotError> {
        let path = &self.path;
        self.memory
            .fill(m, memory)
            .map_err(|e| reference_error(path, with_path(e, path)))
    }

    /// Reads the rest of the file and verifies its checksum. Until this returns `Ok`, the
    /// memories filled may hold damaged data.
    pub fn finish(self) -> Result<(), SnapshotError> {
        let path = self.path;
        let checked = self.memory.finish().and_then(|mut crc| {
            crc.combine(&self.tail_crc);
            let computed = crc.finalize();
            if computed == self.stored_crc {
                return Ok(());
            }
            Err(SnapshotError::ChecksumMismatch {
                offset: self.checksum_at,
                stored: self.stored_crc,
                computed,
            })
        });
        checked.map_err(|e| reference_error(&path, with_path(e, &path)))
    }

    /// The error a full read of the file gives, if any: for a restore that failed for
    /// another reason before its memories were filled, whose own error comes second.
    pub fn check(&self) -> Result<(), SnapshotError> {
        let bytes = fs::read(&self.path).map_err(|e| io_error(&self.path, e))?;
        SnapshotView::parse(&bytes).map(drop)
    }
}

/// What the reference reader reports for the file at `path` — the error that takes
/// priority — or `found` if it has nothing to say (a page that does not decompress, or
/// a file that changed between the two reads).
fn reference_error(path: &Path, found: SnapshotError) -> SnapshotError {
    match fs::read(path) {
        Ok(bytes) => SnapshotView::parse(&bytes).err().unwrap_or(found),
        Err(_) => found,
    }
}

fn io_error(path: &Path, source: io::Error) -> SnapshotError {
    SnapshotError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    }
}

/// Names the file in a read error of the memory stream.
fn with_path(e: SnapshotError, path: &Path) -> SnapshotError {
    match e {
        SnapshotError::Io { source, .. } => io_error(path, source),
        e => e,
    }
}

/// Reads the header and every section but the memory section's payload, which it skips
/// (it is streamed later), and positions the file there.
fn read_head(mut file: File, path: &Path, chunk: usize) -> Result<SnapshotFile, SnapshotError> {
    let len = file.metadata().map_err(|e| io_error(path, e))?.len();
    let mut input = Input {
        file: &mut file,
        path,
        head_crc: crc32fast::Hasher::new(),
        tail_crc: crc32fast::Hasher::new(),
        in_tail: false,
    };
    let head = input.read(0, len.min(HEADER_LEN as u64) as usize)?;
    let version = header(&head)?;
    let flags = u32::from_le_bytes(head[12..16].try_into().expect("header is 16 bytes"));
    // known[i]: module, trigger, state, wasi, with the offset of the section header.
    let mut known: [Option<(usize, Vec<u8>)>; 4] = Default::default();
    let mut memory = None;
    let mut trace_seen = false;
    let mut pos = HEADER_LEN as u64;
    let stored_crc = loop {
        let remaining = len - pos;
        if remaining < SECTION_HEADER_LEN as u64 {
            return Err(truncated(len, "the file ends before the 'end' section"));
        }
        let section_header = input.read(pos, SECTION_HEADER_LEN)?;
        let id = section_header[0];
        let size = u64::from_le_bytes(section_header[1..].try_into().expect("8 bytes"));
        if size > remaining - SECTION_HEADER_LEN as u64 {
            return Err(truncated(len, "a section is longer than the file"));
        }
        let start = pos + SECTION_HEADER_LEN as u64;
        let slot = match id {
            section::END => {
                if size != CHECKSUM_LEN as u64 || start + size != len {
                    return Err(malformed(
                        "end",
                        pos,
                        "the end section is not 4 bytes at the end",
                    ));
                }
                let mut stored = [0; CHECKSUM_LEN];
                input
                    .file
                    .read_exact(&mut stored)
                    .map_err(|e| io_error(path, e))?;
                break u32::from_le_bytes(stored);
            }
            section::MEMORY if memory.is_none() => {
                memory = Some((pos, start, size));
                input.in_tail = true;
                pos = start + size;
                continue;
            }
            section::MODULE => 0,
            section::TRIGGER => 1,
            section::STATE => 2,
            section::WASI => 3,
            section::MEMORY => {
                return Err(SnapshotError::DuplicateSection {
                    section: "memory",
                    offset: pos as usize,
                });
            }
            // Known but not needed to restore: skipped, yet a duplicate is refused as
            // by every other reader.
            section::TRACE if !trace_seen => {
                trace_seen = true;
                input.skip(start, size, chunk)?;
                pos = start + size;
                continue;
            }
            section::TRACE => {
                return Err(SnapshotError::DuplicateSection {
                    section: "trace",
                    offset: pos as usize,
                });
            }
            _ if id & OPTIONAL_SECTION_BIT != 0 => {
                input.skip(start, size, chunk)?;
                pos = start + size;
                continue;
            }
            _ => {
                return Err(SnapshotError::UnknownSection {
                    id,
                    offset: pos as usize,
                    found: version,
                });
            }
        };
        if known[slot].is_some() {
            return Err(SnapshotError::DuplicateSection {
                section: section_name(id).expect("known section"),
                offset: pos as usize,
            });
        }
        let payload = input.read(start, usize::try_from(size).unwrap_or(usize::MAX))?;
        known[slot] = Some((pos as usize, payload));
        pos = start + size;
    };
    if flags & REQUIRED_FLAGS_MASK & !KNOWN_FLAGS != 0 {
        return Err(SnapshotError::UnsupportedFlags { flags });
    }
    let section = |i: usize, id: u8| {
        known[i]
            .as_ref()
            .map(|(offset, payload)| Section {
                offset: *offset,
                payload,
            })
            .ok_or(SnapshotError::MissingSection {
                section: section_name(id).expect("known section"),
            })
    };
    let (module, trigger, state) = decode_head(
        section(0, section::MODULE)?,
        section(1, section::TRIGGER)?,
        section(2, section::STATE)?,
    )?;
    let (_, memory_start, memory_len) =
        memory.ok_or(SnapshotError::MissingSection { section: "memory" })?;
    let Input {
        head_crc, tail_crc, ..
    } = input;
    file.seek(SeekFrom::Start(memory_start))
        .map_err(|e| io_error(path, e))?;
    let sizes = state.memories.iter().map(|m| m.pages).collect();
    Ok(SnapshotFile {
        module,
        trigger,
        state,
        wasi: known[3].take().map(|(_, payload)| payload),
        path: path.to_path_buf(),
        memory: MemoryStream::new(file, memory_start, memory_len, head_crc, sizes, chunk),
        tail_crc,
        stored_crc,
        checksum_at: (len - CHECKSUM_LEN as u64) as usize,
    })
}

/// The file while its sections are framed: every byte read is added to the checksum of
/// the part before the memory section's payload or of the part after it.
struct Input<'a> {
    file: &'a mut File,
    path: &'a Path,
    head_crc: crc32fast::Hasher,
    tail_crc: crc32fast::Hasher,
    /// Whether the memory section has been passed.
    in_tail: bool,
}

impl Input<'_> {
    /// `n` bytes at file offset `at` (within the file's length, checked by the caller).
    fn read(&mut self, at: u64, n: usize) -> Result<Vec<u8>, SnapshotError> {
        self.file
            .seek(SeekFrom::Start(at))
            .map_err(|e| io_error(self.path, e))?;
        let mut bytes = Vec::with_capacity(n);
        let got = self
            .file
            .by_ref()
            .take(n as u64)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(self.path, e))?;
        if got != n {
            return Err(truncated(
                at + got as u64,
                "the file got shorter while it was read",
            ));
        }
        self.hash(&bytes);
        Ok(bytes)
    }

    /// Reads `n` bytes at `at` only for the checksum (an unknown optional section).
    fn skip(&mut self, at: u64, n: u64, chunk: usize) -> Result<(), SnapshotError> {
        let mut done = 0;
        while done < n {
            let part = (n - done).min(chunk as u64) as usize;
            self.read(at + done, part)?;
            done += part as u64;
        }
        Ok(())
    }

    fn hash(&mut self, bytes: &[u8]) {
        if self.in_tail {
            self.tail_crc.update(bytes);
        } else {
            self.head_crc.update(bytes);
        }
    }
}

fn truncated(offset: u64, context: &str) -> SnapshotError {
    SnapshotError::Truncated {
        offset: offset as usize,
        context: context.into(),
    }
}

fn malformed(section: &'static str, offset: u64, message: &str) -> SnapshotError {
    SnapshotError::Malformed {
        section,
        offset: offset as usize,
        message: message.into(),
    }
}
