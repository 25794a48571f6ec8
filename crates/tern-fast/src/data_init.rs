//! Where instantiation wrote a memory: the byte ranges of the module's active data
//! segments. A restore clears exactly these before writing the snapshot's pages, so
//! every page the snapshot does not store reads as zero without touching (and so
//! committing) the rest of a large memory. Found once, when the module is prepared,
//! and kept in its facts (`Facts::initialized`, stored in the prepared cache entry), so
//! a warm restore does not read the module for them.

use crate::prepare::sections_but_code;
use crate::table_init::constant;
use std::ops::Range;
use wasmparser::{DataKind, Payload};

/// Per memory of `wasm` (`memories` of them, imports first): the ranges its active data
/// segments write into it, or `None` when a segment's offset is not a constant (then
/// the caller must look at every page); all `None` when the sections do not parse.
/// Ranges may overlap and are not clamped to the memory.
pub(crate) fn initialized_ranges(wasm: &[u8], memories: u32) -> Vec<Option<Vec<Range<u64>>>> {
    let unknown = || vec![None; memories as usize];
    let mut ranges = vec![Some(Vec::new()); memories as usize];
    // Not through the code section: a large program has tens of thousands of bodies.
    for payload in sections_but_code(wasm) {
        let Ok(payload) = payload else {
            return unknown();
        };
        let Payload::DataSection(reader) = payload else {
            continue;
        };
        for data in reader {
            let Ok(data) = data else {
                return unknown();
            };
            let DataKind::Active {
                memory_index,
                offset_expr,
            } = data.kind
            else {
                continue;
            };
            // A segment of a memory the module does not have: instantiation fails.
            let Some(slot) = ranges.get_mut(memory_index as usize) else {
                continue;
            };
            let len = data.data.len() as u64;
            let range =
                constant(&offset_expr).and_then(|start| Some(start..start.checked_add(len)?));
            match (slot.as_mut(), range) {
                (Some(list), Some(range)) => list.push(range),
                _ => *slot = None,
            }
        }
    }
    ranges
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
            initialized_ranges(&wasm, 2),
            [Some(vec![16..20, 70000..70001]), Some(vec![100..102, 8..9])]
        );
    }

    #[test]
    fn a_computed_offset_gives_none_for_its_memory() {
        let wasm = wat::parse_str(
            r#"(module (global $g i32 (i32.const 8)) (memory 1) (memory 1)
                 (data (global.get $g) "abcd") (data (memory 1) (i32.const 4) "x")
                 (data (memory 0) (i32.const 0) "y") (data (memory 1) (i32.const 9) "z"))"#,
        )
        .unwrap();
        assert_eq!(
            initialized_ranges(&wasm, 2),
            [None, Some(vec![4..5, 9..10])]
        );
    }
}
