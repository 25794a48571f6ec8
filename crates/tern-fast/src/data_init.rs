//! Where instantiation wrote a memory: the byte ranges of the module's active data
//! segments. A restore clears exactly these before writing the snapshot's pages, so
//! every page the snapshot does not store reads as zero without touching (and so
//! committing) the rest of a large memory.

use crate::prepare::sections_but_code;
use std::ops::Range;
use wasmparser::{DataKind, Operator, Payload};

/// The ranges active data segments of `wasm` write into memory `memory`, or `None` when
/// a segment's offset is not a constant (then the caller must look at every page).
/// Ranges may overlap and are not clamped to the memory.
pub(crate) fn initialized_ranges(wasm: &[u8], memory: u32) -> Option<Vec<Range<u64>>> {
    let mut ranges = Vec::new();
    // Not through the code section: a large program has tens of thousands of bodies.
    for payload in sections_but_code(wasm) {
        let Payload::DataSection(reader) = payload.ok()? else {
            continue;
        };
        for data in reader {
            let data = data.ok()?;
            let DataKind::Active {
                memory_index,
                offset_expr,
            } = data.kind
            else {
                continue;
            };
            if memory_index != memory {
                continue;
            }
            let mut ops = offset_expr.get_operators_reader();
            let start = match ops.read().ok()? {
                Operator::I32Const { value } => u64::from(value as u32),
                Operator::I64Const { value } => value as u64,
                _ => return None,
            };
            if !matches!(ops.read().ok()?, Operator::End) {
                return None;
            }
            ranges.push(start..start.checked_add(data.data.len() as u64)?);
        }
    }
    Some(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_offsets_give_ranges_per_memory() {
        let wasm = wat::parse_str(
            r#"(module (memory 2) (memory 1)
                 (data (i32.const 16) "abcd")
                 (data (i32.const 70000) "z")
                 (data (memory 1) (i32.const 100) "xy")
                 (data (memory 1) (i32.const 8) "w")
                 (data "passive"))"#,
        )
        .unwrap();
        assert_eq!(
            initialized_ranges(&wasm, 0),
            Some(vec![16..20, 70000..70001])
        );
        assert_eq!(initialized_ranges(&wasm, 1), Some(vec![100..102, 8..9]));
    }

    #[test]
    fn a_computed_offset_gives_none() {
        let wasm = wat::parse_str(
            r#"(module (global $g i32 (i32.const 8)) (memory 1)
                 (data (global.get $g) "abcd"))"#,
        )
        .unwrap();
        assert_eq!(initialized_ranges(&wasm, 0), None);
    }
}
