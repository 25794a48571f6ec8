//! Reading the `memory` section: first its structure (every page's index, encoding and
//! data, checked against the memory sizes of the `state` section, nothing decompressed),
//! then the pages, decompressed straight into their place in a linear memory, on every
//! core.

use crate::bytes::Reader;
use crate::compress::{PAGE_LZ4, PAGE_RAW, decode_page};
use crate::error::SnapshotError;
use crate::state::WASM_PAGE;
use std::sync::Mutex;

/// Fewer stored pages than this are decompressed on the calling thread.
const PARALLEL_MIN_PAGES: usize = 64;

/// One page as the file stores it.
#[derive(Debug, Clone, Copy)]
pub struct StoredPage<'a> {
    pub index: u32,
    pub encoding: u8,
    pub data: &'a [u8],
    /// Byte offset of `data` in the file, for error messages.
    pub data_at: usize,
}

/// The stored pages of every memory, ascending by index within each.
pub type MemoryPages<'a> = Vec<Vec<StoredPage<'a>>>;

/// Reads the section's structure; `sizes` are the memories' sizes in pages, from the
/// `state` section.
pub fn parse_memories<'a>(
    mut r: Reader<'a>,
    sizes: &[u32],
) -> Result<MemoryPages<'a>, SnapshotError> {
    let at = r.offset();
    let count = r.count(1, || "memory".into())?;
    if count != sizes.len() {
        return Err(r.error_at(
            at,
            format!(
                "{count} memories here but {} in the state section",
                sizes.len()
            ),
        ));
    }
    let mut memories = Vec::with_capacity(count);
    for (m, &size) in sizes.iter().enumerate() {
        // Each page takes at least an index, an encoding and a length byte.
        let n = r.count(3, || format!("memory {m} page"))?;
        let mut pages: Vec<StoredPage<'a>> = Vec::with_capacity(n);
        for _ in 0..n {
            let at = r.offset();
            let index = r.u32()?;
            if index >= size || pages.last().is_some_and(|prev| prev.index >= index) {
                return Err(r.error_at(
                    at,
                    format!(
                        "memory {m}: page index {index} out of order or beyond its {size} pages"
                    ),
                ));
            }
            let encoding_at = r.offset();
            let encoding = r.u8()?;
            let len = r.count(1, || format!("memory {m} page {index} data length"))?;
            let data_at = r.offset();
            let data = r.take(len)?;
            match encoding {
                PAGE_RAW if len != WASM_PAGE => {
                    return Err(SnapshotError::BadCompression {
                        memory: m as u32,
                        page: index,
                        offset: data_at,
                        message: format!("raw page of {len} bytes, not {WASM_PAGE}"),
                    });
                }
                PAGE_RAW | PAGE_LZ4 => {}
                other => {
                    return Err(r.error_at(
                        encoding_at,
                        format!("memory {m} page {index}: unknown page encoding {other}"),
                    ));
                }
            }
            pages.push(StoredPage {
                index,
                encoding,
                data,
                data_at,
            });
        }
        memories.push(pages);
    }
    r.finish()?;
    Ok(memories)
}

/// Decodes one page into `page`, with the error naming memory, page and offset.
pub fn decode_stored(
    m: usize,
    stored: &StoredPage<'_>,
    page: &mut [u8],
) -> Result<(), SnapshotError> {
    decode_page(stored.encoding, stored.data, page).map_err(|message| {
        SnapshotError::BadCompression {
            memory: m as u32,
            page: stored.index,
            offset: stored.data_at,
            message,
        }
    })
}

/// Decodes the stored `pages` of memory `m` into `memory`, its whole linear memory
/// (at least as long as the highest page, whose index the parser checked against the
/// memory's size). Pages not stored are left alone. On error, the lowest damaged page is
/// reported, and the memory holds an unspecified mix of decoded pages.
pub fn fill_memory(
    m: usize,
    pages: &[StoredPage<'_>],
    memory: &mut [u8],
) -> Result<(), SnapshotError> {
    if pages.len() < PARALLEL_MIN_PAGES || crate::threads::available() <= 1 {
        return fill_part(m, pages, 0, memory);
    }
    let threads = crate::threads::available();
    // Contiguous runs of pages with the part of the memory they cover: disjoint slices,
    // one per thread.
    let runs: Vec<&[StoredPage<'_>]> = pages.chunks(pages.len().div_ceil(threads)).collect();
    let mut parts = Vec::with_capacity(runs.len());
    let mut rest = memory;
    let mut rest_at = 0usize;
    for (k, run) in runs.iter().enumerate() {
        // A run's part ends where the next run's first page starts.
        let end = runs.get(k + 1).map_or(rest_at + rest.len(), |next| {
            next[0].index as usize * WASM_PAGE
        });
        let (part, tail) = std::mem::take(&mut rest).split_at_mut(end - rest_at);
        parts.push((*run, rest_at, part));
        rest = tail;
        rest_at = end;
    }
    // Helper threads and this one take parts from a queue until it is empty, so a helper
    // that cannot be started only leaves more work here.
    let count = parts.len();
    let queue = Mutex::new(parts.into_iter().enumerate().collect::<Vec<_>>());
    let errors: Mutex<Vec<Option<SnapshotError>>> = Mutex::new((0..count).map(|_| None).collect());
    let work = || {
        while let Some((i, (run, base, part))) = queue.lock().expect("queue").pop() {
            if let Err(e) = fill_part(m, run, base, part) {
                errors.lock().expect("errors")[i] = Some(e);
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..count {
            let _ = std::thread::Builder::new().spawn_scoped(scope, work);
        }
        work();
    });
    let first_error = errors
        .into_inner()
        .expect("errors")
        .into_iter()
        .flatten()
        .next();
    first_error.map_or(Ok(()), Err)
}

/// Decodes `pages` into `part`, the slice of the memory that starts at byte `base`.
fn fill_part(
    m: usize,
    pages: &[StoredPage<'_>],
    base: usize,
    part: &mut [u8],
) -> Result<(), SnapshotError> {
    for stored in pages {
        let start = stored.index as usize * WASM_PAGE - base;
        decode_stored(m, stored, &mut part[start..start + WASM_PAGE])?;
    }
    Ok(())
}
