//! One stored page of the `memory` section: `index encoding length data`, and the codec
//! of its data.
//!
//! Pages are compressed one by one (LZ4 block format) rather than as one stream so that a
//! reader can decode, check and place each page independently (and in parallel), a
//! damaged page is named exactly, and a decompressed page can never exceed 64 KiB whatever
//! the input claims.

use crate::bytes::Writer;
use crate::state::WASM_PAGE;
use lz4_flex::block::{CompressTable, compress_into_with_table, get_maximum_output_size};

/// The page is stored as its 65536 bytes.
pub const PAGE_RAW: u8 = 0;
/// The page is one LZ4 block that decompresses to exactly 65536 bytes.
pub const PAGE_LZ4: u8 = 1;

/// Encodes pages, keeping the compressor's hash table and output buffer from one page to
/// the next (allocating them per page costs more than a small page's compression).
pub struct PageEncoder {
    table: CompressTable,
    scratch: Vec<u8>,
}

impl PageEncoder {
    pub fn new() -> PageEncoder {
        PageEncoder {
            table: CompressTable::large(),
            scratch: vec![0; get_maximum_output_size(WASM_PAGE)],
        }
    }

    /// Appends the `stored_page` record of page `index` (exactly [`WASM_PAGE`] bytes).
    pub fn encode(&mut self, index: u32, page: &[u8], out: &mut Vec<u8>) {
        debug_assert_eq!(page.len(), WASM_PAGE);
        let mut w = Writer(out);
        w.uleb(index.into());
        // Incompressible pages are stored raw: never larger than the page itself.
        match compress_into_with_table(page, &mut self.scratch, &mut self.table) {
            Ok(n) if n < WASM_PAGE => {
                w.u8(PAGE_LZ4);
                w.uleb(n as u64);
                w.bytes(&self.scratch[..n]);
            }
            _ => {
                w.u8(PAGE_RAW);
                w.uleb(WASM_PAGE as u64);
                w.bytes(page);
            }
        }
    }
}

/// Decodes a page's `data` of a known `encoding` into `page` (exactly [`WASM_PAGE`]
/// bytes); the error says what is wrong with the data.
pub fn decode_page(encoding: u8, data: &[u8], page: &mut [u8]) -> Result<(), String> {
    debug_assert_eq!(page.len(), WASM_PAGE);
    match encoding {
        PAGE_RAW if data.len() == WASM_PAGE => {
            page.copy_from_slice(data);
            Ok(())
        }
        PAGE_RAW => Err(format!("raw page of {} bytes, not {WASM_PAGE}", data.len())),
        // The output buffer is exactly one page: the decompressor stops with an error
        // rather than write more, whatever the block claims.
        _ => match lz4_flex::block::decompress_into(data, page) {
            Ok(WASM_PAGE) => Ok(()),
            Ok(k) => Err(format!("decompresses to {k} bytes, not {WASM_PAGE}")),
            Err(e) => Err(format!("LZ4: {e}")),
        },
    }
}

/// Whether `bytes` are all zero, 64 bytes at a time (the OR of a block vectorizes, and a
/// touched page usually has a non-zero byte near its start, so skipping zero pages costs
/// little).
pub fn is_zero(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(64);
    blocks.all(|block| block.iter().fold(0, |acc, &b| acc | b) == 0)
        && blocks.remainder().iter().all(|&b| b == 0)
}
