//! The `memory` section: every non-zero page of every memory, each compressed on its own.
//!
//! Pages are compressed one by one (LZ4 block format) rather than as one stream so that a
//! reader can decode, check and place each page independently, a damaged page is named
//! exactly, and a decompressed page can never exceed 64 KiB whatever the input claims.

use crate::bytes::{Reader, Writer};
use crate::error::SnapshotError;
use crate::state::{MemoryImage, WASM_PAGE};

/// The page is stored as its 65536 bytes.
const PAGE_RAW: u8 = 0;
/// The page is one LZ4 block that decompresses to exactly 65536 bytes.
const PAGE_LZ4: u8 = 1;

/// Appends the section payload for `memories`.
///
/// # Panics
///
/// If a page is not exactly [`WASM_PAGE`] bytes long (a broken [`MemoryImage`] invariant:
/// writing it would produce a snapshot no reader accepts, so the bug is reported where it is).
pub fn encode_memories(memories: &[MemoryImage], out: &mut Vec<u8>) {
    let mut scratch = vec![0u8; lz4_flex::block::get_maximum_output_size(WASM_PAGE)];
    let mut w = Writer(out);
    w.uleb(memories.len() as u64);
    for (m, memory) in memories.iter().enumerate() {
        w.uleb(memory.nonzero_pages.len() as u64);
        for (index, page) in &memory.nonzero_pages {
            assert_eq!(
                page.len(),
                WASM_PAGE,
                "memory {m} page {index} is not one Wasm page long"
            );
            w.uleb((*index).into());
            // Incompressible pages are stored raw: never larger than the page itself.
            match lz4_flex::block::compress_into(page, &mut scratch) {
                Ok(n) if n < WASM_PAGE => {
                    w.u8(PAGE_LZ4);
                    w.uleb(n as u64);
                    w.bytes(&scratch[..n]);
                }
                _ => {
                    w.u8(PAGE_RAW);
                    w.uleb(WASM_PAGE as u64);
                    w.bytes(page);
                }
            }
        }
    }
}

/// Reads the section payload into `memories`, whose sizes come from the `state` section
/// (already decoded, with no pages of their own).
pub fn decode_memories(
    mut r: Reader<'_>,
    memories: &mut [MemoryImage],
) -> Result<(), SnapshotError> {
    let at = r.offset();
    let count = r.count(1, || "memory".into())?;
    if count != memories.len() {
        return Err(r.error_at(
            at,
            format!(
                "{count} memories here but {} in the state section",
                memories.len()
            ),
        ));
    }
    for (m, memory) in memories.iter_mut().enumerate() {
        // Each page takes at least an index, an encoding and a length byte.
        let n = r.count(3, || format!("memory {m} page"))?;
        let mut pages: Vec<(u32, Vec<u8>)> = Vec::with_capacity(n);
        for _ in 0..n {
            let at = r.offset();
            let index = r.u32()?;
            if index >= memory.pages || pages.last().is_some_and(|(prev, _)| *prev >= index) {
                return Err(r.error_at(
                    at,
                    format!(
                        "memory {m}: page index {index} out of order or beyond its {} pages",
                        memory.pages
                    ),
                ));
            }
            let encoding_at = r.offset();
            let encoding = r.u8()?;
            let len = r.count(1, || format!("memory {m} page {index} data length"))?;
            let data_at = r.offset();
            let data = r.take(len)?;
            let bad = |message: String| SnapshotError::BadCompression {
                memory: m as u32,
                page: index,
                offset: data_at,
                message,
            };
            let page = match encoding {
                PAGE_RAW if len == WASM_PAGE => data.to_vec(),
                PAGE_RAW => return Err(bad(format!("raw page of {len} bytes, not {WASM_PAGE}"))),
                PAGE_LZ4 => {
                    // The output buffer is exactly one page: the decompressor stops with
                    // an error rather than write more, whatever the block claims.
                    let mut page = vec![0u8; WASM_PAGE];
                    match lz4_flex::block::decompress_into(data, &mut page) {
                        Ok(WASM_PAGE) => page,
                        Ok(k) => {
                            return Err(bad(format!("decompresses to {k} bytes, not {WASM_PAGE}")));
                        }
                        Err(e) => return Err(bad(format!("LZ4: {e}"))),
                    }
                }
                other => {
                    return Err(r.error_at(
                        encoding_at,
                        format!("memory {m} page {index}: unknown page encoding {other}"),
                    ));
                }
            };
            pages.push((index, page));
        }
        memory.nonzero_pages = pages;
    }
    r.finish()
}
