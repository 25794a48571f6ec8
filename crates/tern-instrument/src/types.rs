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
    passthrough: HashMap<Vec<ValKind>, u32>,
}

impl TypeTable {
    /// The type index of `[params] -> [results]`, appending it if needed.
    pub(crate) fn add(&mut self, params: Vec<ValKind>, results: Vec<ValKind>) -> u32 {
        let index = (self.original.len() + self.added.len()) as u32;
        self.added.push((params, results));
        index
    }

    /// The block type `[types] -> [types]`: what a check needs to take the operand stack
    /// in and hand it back unchanged.
    pub(crate) fn passthrough(&mut self, types: &[ValKind]) -> wasm_encoder::BlockType {
        if types.is_empty() {
            return wasm_encoder::BlockType::Empty;
        }
        if let Some(&index) = self.passthrough.get(types) {
            return wasm_encoder::BlockType::FunctionType(index);
        }
        let index = self.add(types.to_vec(), types.to_vec());
        self.passthrough.insert(types.to_vec(), index);
        wasm_encoder::BlockType::FunctionType(index)
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
