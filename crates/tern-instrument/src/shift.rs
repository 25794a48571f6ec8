//! Index renumbering: the pass puts its imports in front of everything else, so every
//! function index of the original module moves up by [`abi::ADDED_FUNCS`] and every
//! memory index by one (the flag memory is memory 0).

use crate::abi;
use crate::error::Error;
use wasm_encoder::reencode::{Error as ReencodeError, Reencode};

/// A [`Reencode`] that only renumbers functions and memories.
pub(crate) struct Shift;

impl Reencode for Shift {
    type Error = Error;

    fn function_index(&mut self, func: u32) -> Result<u32, ReencodeError<Error>> {
        shift_func(func)
    }

    fn memory_index(&mut self, memory: u32) -> Result<u32, ReencodeError<Error>> {
        shift_memory(memory)
    }
}

pub(crate) fn shift_func(func: u32) -> Result<u32, ReencodeError<Error>> {
    func.checked_add(abi::ADDED_FUNCS)
        .ok_or_else(|| ReencodeError::UserError(Error::new(0, "function index overflow")))
}

pub(crate) fn shift_memory(memory: u32) -> Result<u32, ReencodeError<Error>> {
    memory
        .checked_add(1)
        .ok_or_else(|| ReencodeError::UserError(Error::new(0, "memory index overflow")))
}
