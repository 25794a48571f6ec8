//! Types the clones module adds after the original module's (which it copies, so every
//! original type index stays valid in copied code).

use crate::abi::ValKind;
use crate::error::Error;
use std::collections::HashMap;
use wasm_encoder::BlockType;
use wasmparser::ValType;

/// Function types appended after the original ones, deduplicated.
#[derive(Debug, Default)]
pub(crate) struct AddedTypes {
    /// Number of original types: the first added type's index.
    pub base: u32,
    pub list: Vec<(Vec<ValType>, Vec<ValType>)>,
    index: HashMap<(Vec<ValType>, Vec<ValType>), u32>,
}

impl AddedTypes {
    pub(crate) fn new(base: u32) -> Self {
        AddedTypes {
            base,
            ..Default::default()
        }
    }

    /// The type index of `[params] -> [results]`.
    pub(crate) fn func(&mut self, params: &[ValType], results: &[ValType]) -> u32 {
        let key = (params.to_vec(), results.to_vec());
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.base + self.list.len() as u32;
        self.list.push(key.clone());
        self.index.insert(key, i);
        i
    }

    /// The block type of `[params] -> [results]`.
    pub(crate) fn block(
        &mut self,
        params: &[ValType],
        results: &[ValType],
        offset: u64,
    ) -> Result<BlockType, Error> {
        Ok(match (params, results) {
            ([], []) => BlockType::Empty,
            ([], [one]) => BlockType::Result(encode(*one, offset)?),
            _ => BlockType::FunctionType(self.func(params, results)),
        })
    }
}

/// A value type for `wasm-encoder`.
pub(crate) fn encode(ty: ValType, offset: u64) -> Result<wasm_encoder::ValType, Error> {
    ValKind::from_wasm(ty)
        .map(ValKind::to_encoder)
        .ok_or_else(|| Error::new(offset, format!("values of type {ty} are not supported")))
}

/// Several value types for `wasm-encoder`.
pub(crate) fn encode_all(
    tys: &[ValType],
    offset: u64,
) -> Result<Vec<wasm_encoder::ValType>, Error> {
    tys.iter().map(|t| encode(*t, offset)).collect()
}
