//! Wasm 2.0 binary-format rules that `wasmparser` relaxes because later proposals made
//! the relaxed encodings legal. tern enforces them when those proposals are off, so a
//! module that is malformed for the features it is checked against is refused.

use crate::error::CompileError;
use wasmparser::{MemorySectionReader, WasmFeatures};

/// Without memory64, memory limits are `u32` LEB128s of at most five bytes.
pub(crate) fn check_memory_limits(
    bytes: &[u8],
    features: WasmFeatures,
    reader: MemorySectionReader<'_>,
) -> Result<(), CompileError> {
    if features.contains(WasmFeatures::MEMORY64) {
        return Ok(());
    }
    for item in reader.into_iter_with_offsets() {
        let (offset, ty) = item?;
        let mut pos = offset as usize + 1; // past the flags byte
        pos = skip_u32_leb(bytes, pos)?;
        if ty.maximum.is_some() {
            skip_u32_leb(bytes, pos)?;
        }
    }
    Ok(())
}

fn skip_u32_leb(bytes: &[u8], start: usize) -> Result<usize, CompileError> {
    for (i, byte) in bytes.iter().enumerate().skip(start).take(5) {
        if byte & 0x80 == 0 {
            return Ok(i + 1);
        }
    }
    Err(CompileError {
        offset: start,
        message: "integer representation too long".into(),
    })
}

/// Without multi-memory, the memory operand of `memory.size` and `memory.grow` (the
/// opcode is at `offset`) is a single reserved zero byte, not a LEB128 index.
pub(crate) fn check_reserved_zero(
    bytes: &[u8],
    features: WasmFeatures,
    offset: usize,
) -> Result<(), String> {
    if features.contains(WasmFeatures::MULTI_MEMORY) || bytes.get(offset + 1) == Some(&0) {
        Ok(())
    } else {
        Err("zero byte expected".into())
    }
}
