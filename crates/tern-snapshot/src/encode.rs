//! Encoding a snapshot as a stream: the small sections first, then the memory pages as
//! they are compressed, with the CRC-32 computed on the way, so a file is written in one
//! pass without the whole encoding ever being in memory.

use crate::codec::encode_state;
use crate::format::{CHECKSUM_LEN, FormatVersion, MAGIC, section};
use crate::memory_write::{MemorySource, write_memories};
use crate::snapshot::Snapshot;
use crate::state::{ExecState, MemoryImage, WASM_PAGE};
use crate::trace::TraceTail;
use crc32fast::Hasher;
use std::borrow::Cow;
use std::io;

/// Where the encoding goes. `patch` overwrites bytes already appended: the `memory`
/// section's length is known only after its pages are compressed.
pub trait Output {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    fn patch(&mut self, at: u64, bytes: &[u8]) -> io::Result<()>;
}

impl Output for Vec<u8> {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }

    fn patch(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
        let at = at as usize;
        self[at..at + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }
}

/// Encodes `snapshot` in the current format version; memory contents come from
/// `memories` when given (one whole linear memory per memory of the state, whose images
/// then carry only sizes), else from the state's images.
///
/// # Panics
///
/// If a memory page is not exactly [`WASM_PAGE`] bytes long; if `memories` is given but
/// its length or a memory's size differs from the state's, or an image holds pages too.
pub fn write_snapshot(
    out: &mut dyn Output,
    snapshot: &Snapshot,
    memories: Option<&[&[u8]]>,
    trace: Option<&TraceTail>,
) -> io::Result<()> {
    let images = &snapshot.state.memories;
    let sources: Vec<MemorySource<'_>> = match memories {
        None => images.iter().map(MemorySource::Image).collect(),
        Some(whole) => {
            assert_eq!(
                whole.len(),
                images.len(),
                "one memory per memory of the state"
            );
            for (m, (bytes, image)) in whole.iter().zip(images).enumerate() {
                assert!(
                    bytes.len() == image.pages as usize * WASM_PAGE
                        && image.nonzero_pages.is_empty(),
                    "memory {m}: the content does not match the state's size, or the state \
                     holds pages too"
                );
            }
            whole
                .iter()
                .map(|bytes| MemorySource::Whole(bytes))
                .collect()
        }
    };

    let mut head = Vec::new();
    head.extend_from_slice(&MAGIC);
    head.extend_from_slice(&FormatVersion::CURRENT.major.to_le_bytes());
    head.extend_from_slice(&FormatVersion::CURRENT.minor.to_le_bytes());
    head.extend_from_slice(&0u32.to_le_bytes()); // flags: none defined yet
    // Small sections first, so a reader that wants only metadata finds it early.
    put_section(&mut head, section::MODULE, |out| {
        out.extend_from_slice(&snapshot.module.sha256);
        out.extend_from_slice(&snapshot.module.len.to_le_bytes());
    });
    put_section(&mut head, section::TRIGGER, |out| {
        snapshot.trigger.encode(out)
    });
    put_section(&mut head, section::STATE, |out| {
        out.extend_from_slice(&encode_state(&without_pages(&snapshot.state)));
    });
    if let Some(wasi) = &snapshot.wasi {
        put_section(&mut head, section::WASI, |out| out.extend_from_slice(wasi));
    }
    if let Some(trace) = trace {
        put_section(&mut head, section::TRACE, |out| trace.encode(out));
    }
    // The memory section's header, its length patched in at the end.
    head.push(section::MEMORY);
    let mut crc = Hasher::new();
    crc.update(&head);
    out.append(&head)?;
    let length_at = head.len() as u64;
    out.append(&[0; 8])?;

    // The payload gets a CRC of its own, combined with the one of everything before it
    // once the length between them is known.
    let mut payload_crc = Hasher::new();
    let mut payload_len = 0u64;
    write_memories(&sources, &mut |bytes| {
        payload_crc.update(bytes);
        payload_len += bytes.len() as u64;
        out.append(bytes)
    })?;
    let length = payload_len.to_le_bytes();
    out.patch(length_at, &length)?;
    crc.update(&length);
    crc.combine(&payload_crc);

    let mut end = vec![section::END];
    end.extend_from_slice(&(CHECKSUM_LEN as u64).to_le_bytes());
    crc.update(&end);
    end.extend_from_slice(&crc.finalize().to_le_bytes());
    out.append(&end)
}

/// Appends a section whose payload `fill` writes, then patches in its length.
fn put_section(out: &mut Vec<u8>, id: u8, fill: impl FnOnce(&mut Vec<u8>)) {
    out.push(id);
    let len_at = out.len();
    out.extend_from_slice(&[0; 8]);
    fill(out);
    let len = (out.len() - len_at - 8) as u64;
    out[len_at..len_at + 8].copy_from_slice(&len.to_le_bytes());
}

/// The state with memory sizes but no page data: pages go, compressed, in the `memory`
/// section, so the `state` section reuses the plain state encoding unchanged.
fn without_pages(state: &ExecState) -> Cow<'_, ExecState> {
    if state.memories.iter().all(|m| m.nonzero_pages.is_empty()) {
        return Cow::Borrowed(state);
    }
    Cow::Owned(ExecState {
        memories: state
            .memories
            .iter()
            .map(|m| MemoryImage {
                pages: m.pages,
                nonzero_pages: Vec::new(),
            })
            .collect(),
        tables: state.tables.clone(),
        globals: state.globals.clone(),
        instances: state.instances.clone(),
        frames: state.frames.clone(),
    })
}
