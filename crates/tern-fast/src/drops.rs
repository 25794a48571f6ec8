//! Recording `data.drop` and `elem.drop`, so a snapshot knows exactly which segments
//! are dropped.
//!
//! wasmtime does not show an embedder whether a segment has been dropped, and a dropped
//! segment behaves differently: `memory.init` / `table.init` of any non-zero length from
//! it traps. Instantiation drops the active (and declared) segments, which the facts
//! tell; a *passive* segment is dropped only by the program's code. So every passive
//! segment gets a mutable `i32` global, exported as [`dropped_export`], and every drop of
//! it sets that global to 1:
//!
//! ```wat
//! ;; before                    ;; after
//!                              (global $dropped_data_3 (mut i32) (i32.const 0))
//!                              (export "tern:dropped:data:3" (global $dropped_data_3))
//! data.drop 3                  data.drop 3
//!                              i32.const 1
//!                              global.set $dropped_data_3
//! ```
//!
//! A capture reads the globals; a restore replays the drops through the segment helpers
//! continuation clones call (`tern-instrument`'s `clone/segments.rs`), whose own
//! `data.drop` is rewritten like the program's, and sets the global itself where the
//! module has no helper. The globals come after the module's own and those of the
//! compiled triggers (`budget.rs`), so no original index moves; a drop costs one more
//! `global.set`, and code without drops is unchanged.

use std::convert::Infallible;
use wasm_encoder::reencode::{Error, Reencode};
use wasm_encoder::{ConstExpr, ExportKind, ExportSection, Function, GlobalType, Instruction};
use wasmparser::{FunctionBody, Operator};

/// Export name of the global that is 1 once passive segment `segment` of `kind`
/// (`data` or `elem`) has been dropped.
pub(crate) fn dropped_export(kind: &str, segment: u32) -> String {
    format!("tern:dropped:{kind}:{segment}")
}

/// The recording globals of one module: for each data and element segment, the index
/// of its global if it is passive.
#[derive(Debug, Default)]
pub(crate) struct DropGlobals {
    data: Vec<Option<u32>>,
    elem: Vec<Option<u32>>,
    count: u32,
}

impl DropGlobals {
    /// The globals for a module whose segments are dropped at instantiation as
    /// `data_dropped` / `elem_dropped` say (the others are passive), numbered from
    /// `first`.
    pub fn new(data_dropped: &[bool], elem_dropped: &[bool], first: u32) -> DropGlobals {
        let mut next = first;
        let mut number = |dropped: &[bool]| -> Vec<Option<u32>> {
            dropped
                .iter()
                .map(|&at_instantiation| {
                    (!at_instantiation).then(|| {
                        next += 1;
                        next - 1
                    })
                })
                .collect()
        };
        let data = number(data_dropped);
        let elem = number(elem_dropped);
        DropGlobals {
            data,
            elem,
            count: next - first,
        }
    }

    /// Whether there is any passive segment.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The globals to append, in index order.
    pub fn globals(&self) -> impl Iterator<Item = (GlobalType, ConstExpr)> {
        let ty = GlobalType {
            val_type: wasm_encoder::ValType::I32,
            mutable: true,
            shared: false,
        };
        (0..self.count).map(move |_| (ty, ConstExpr::i32_const(0)))
    }

    /// Exports every global under its [`dropped_export`] name.
    pub fn export(&self, exports: &mut ExportSection) {
        for (kind, globals) in [("data", &self.data), ("elem", &self.elem)] {
            for (segment, global) in globals.iter().enumerate() {
                if let Some(global) = global {
                    exports.export(
                        &dropped_export(kind, segment as u32),
                        ExportKind::Global,
                        *global,
                    );
                }
            }
        }
    }

    /// The global a drop of `op` sets, if `op` drops a passive segment.
    fn global_of(&self, op: &Operator<'_>) -> Option<u32> {
        let (globals, segment) = match *op {
            Operator::DataDrop { data_index } => (&self.data, data_index),
            Operator::ElemDrop { elem_index } => (&self.elem, elem_index),
            _ => return None,
        };
        globals.get(segment as usize).copied().flatten()
    }

    /// Re-encodes the instructions of `body` into `f`, each drop of a passive segment
    /// followed by the setting of its global.
    pub fn copy_body(
        &self,
        reencoder: &mut impl Reencode<Error = Infallible>,
        body: &FunctionBody<'_>,
        f: &mut Function,
    ) -> Result<(), Error<Infallible>> {
        let mut reader = body.get_operators_reader()?;
        while !reader.eof() {
            let op = reader.read()?;
            let global = self.global_of(&op);
            f.instruction(&reencoder.instruction(op)?);
            if let Some(global) = global {
                f.instruction(&Instruction::I32Const(1));
                f.instruction(&Instruction::GlobalSet(global));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passive_segments_get_globals_numbered_after_the_first() {
        let drops = DropGlobals::new(&[true, false, false], &[false, true], 7);
        assert_eq!(drops.data, [None, Some(7), Some(8)]);
        assert_eq!(drops.elem, [Some(9), None]);
        assert_eq!(drops.globals().count(), 3);
        let none = DropGlobals::new(&[true], &[true, true], 0);
        assert!(none.is_empty());
        let drop_data = |data_index| Operator::DataDrop { data_index };
        assert_eq!(drops.global_of(&drop_data(2)), Some(8));
        assert_eq!(drops.global_of(&drop_data(0)), None);
        assert_eq!(drops.global_of(&drop_data(9)), None);
        assert_eq!(
            drops.global_of(&Operator::ElemDrop { elem_index: 0 }),
            Some(9)
        );
    }
}
