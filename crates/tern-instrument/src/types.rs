//! The module's function types as the pass needs them, plus the types it adds: the
//! signatures of its imports and the `[t*] -> [t*]` block types of its checks.

use crate::abi::ValKind;
use std::collections::HashMap;

/// Parameters and results of one function type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Signature {
    pub params: Vec<wasmparser::ValType>,
    pub results: Vec<wasmparser::ValType>,
}

/// Types of the original module and the ones appended after them.
#[derive(Debug, Default)]
pub(crate) struct TypeTable {
    /// Original types by index; `None` for non-function types (which the pass refuses
    /// to meet in code, see [`TypeTable::signature`]).
    pub original: Vec<Option<Signature>>,
    /// Appended types, `(params, results)`; their index is `original.len() + position`
    /// (types added before the type section is read, the import signatures, get indices
    /// relative to the end of the original types instead).
    pub added: Vec<(Vec<ValKind>, Vec<ValKind>)>,
    /// Position in `added` of each appended type. A type is appended once: a module
    /// with many cold helpers (cc1: 12 271) would otherwise carry one identical type
    /// per helper, and wasmtime registers every type of a module when it loads it.
    positions: HashMap<(Vec<ValKind>, Vec<ValKind>), usize>,
}

impl TypeTable {
    /// The type index of `[params] -> [results]`, appending it if needed. Before the
    /// original types are known (`original` empty) the index is relative to their end.
    pub(crate) fn add(&mut self, params: Vec<ValKind>, results: Vec<ValKind>) -> u32 {
        let key = (params, results);
        let position = match self.positions.get(&key) {
            Some(&position) => position,
            None => {
                self.added.push(key.clone());
                self.positions.insert(key, self.added.len() - 1);
                self.added.len() - 1
            }
        };
        (self.original.len() + position) as u32
    }

    /// The block type `[types] -> [types]`: what a check needs to take the operand stack
    /// in and hand it back unchanged.
    pub(crate) fn passthrough(&mut self, types: &[ValKind]) -> wasm_encoder::BlockType {
        if types.is_empty() {
            return wasm_encoder::BlockType::Empty;
        }
        wasm_encoder::BlockType::FunctionType(self.add(types.to_vec(), types.to_vec()))
    }

    /// The function type at `index`.
    pub(crate) fn signature(&self, index: u32) -> Option<&Signature> {
        self.original.get(index as usize)?.as_ref()
    }

    /// Parameters and results of a block type.
    pub(crate) fn block(
        &self,
        ty: wasmparser::BlockType,
    ) -> Option<(Vec<wasmparser::ValType>, Vec<wasmparser::ValType>)> {
        Some(match ty {
            wasmparser::BlockType::Empty => (Vec::new(), Vec::new()),
            wasmparser::BlockType::Type(t) => (Vec::new(), vec![t]),
            wasmparser::BlockType::FuncType(index) => {
                let sig = self.signature(index)?;
                (sig.params.clone(), sig.results.clone())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_appended_type_is_appended_once_and_keeps_relative_indices() {
        let mut types = TypeTable::default();
        // Before the original types are known: indices relative to their end.
        assert_eq!(types.add(vec![ValKind::I32, ValKind::I32], vec![]), 0);
        assert_eq!(types.add(vec![ValKind::F64], vec![]), 1);
        types.original = vec![None; 5];
        // The same type again, now as an absolute index.
        assert_eq!(types.add(vec![ValKind::I32, ValKind::I32], vec![]), 5);
        assert_eq!(types.add(vec![ValKind::I64], vec![ValKind::I64]), 7);
        assert!(matches!(
            types.passthrough(&[ValKind::I64]),
            wasm_encoder::BlockType::FunctionType(7)
        ));
        assert!(matches!(
            types.passthrough(&[]),
            wasm_encoder::BlockType::Empty
        ));
        assert_eq!(types.added.len(), 3);
    }
}
