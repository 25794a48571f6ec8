//! Cold-path helpers: the reporting half of every cold path, out of line.
//!
//! A cold path hands the host the frame's values one `save_*` call at a time. Written
//! inline, every value saved after the first call has to survive that call, so the
//! register allocator keeps the function's values in callee-saved registers or stack
//! slots *across the whole hot loop* that contains the poll (seen in `matmul`: the inner
//! loop stored and reloaded four values per iteration). So the cold path instead makes
//! **one** call to a helper, which opens the frame and saves the values; nothing is live
//! after that call but constants. Helpers are shared by every site with the same value
//! types, and appended after all functions of the module, so no original function index
//! moves.
//!
//! The frame's numeric values do not travel as the helper's arguments but through the
//! *frame buffer* of the flag memory (bytes [`FRAME_BUFFER_OFFSET`] to the end of its
//! page): the cold path stores each one at a slot fixed by the types alone
//! ([`frame_slots`]) and the helper loads it from there. A call with dozens of arguments
//! in a cold block made Cranelift's register allocator spill the values of the hot loop
//! around it (`bfs`: its BFS loop loaded and stored its edge pointer through a stack slot
//! every iteration, 1.3–1.4× the original's time); plain stores of the same values cost
//! the loop nothing. Reference-typed values cannot be stored in memory, so they (and the
//! visible operand stack, already on the Wasm stack) stay arguments.
//!
//! A helper's parameters, in order: the visible operand stack (bottom first, as the
//! `if` of the check holds it), the reference-typed spilled operands and locals (in
//! canonical order), the original function index and the site id. Its body is the old
//! inline sequence: `tern.frame(func, site)`, the `save_*`s in reverse canonical order
//! (each numeric value loaded from its slot), and — for a poll — the store that starts
//! the unwinding. Dead locals are stored (or passed) as zero by the site.

use crate::abi::{self, ValKind};
use crate::types::TypeTable;
use std::collections::HashMap;
use wasm_encoder::{Function, Instruction, MemArg};

/// The most parameters a helper may take: engines refuse functions with more than 1000
/// (wasmtime among them). A cold path with more (or a frame whose numeric values do not
/// fit the frame buffer) saves its values inline instead, as helpers do.
pub(crate) const MAX_HELPER_PARAMS: usize = 1000;

/// Where each value of `kinds` lives while a cold path hands it to its helper: the byte
/// offset of its slot in the frame buffer (naturally aligned, in order), or `None` for a
/// reference, which is passed as an argument. `None` overall if the slots do not fit.
pub(crate) fn frame_slots(kinds: &[ValKind]) -> Option<Vec<Option<u64>>> {
    let mut next = abi::FRAME_BUFFER_OFFSET;
    let mut slots = Vec::with_capacity(kinds.len());
    for kind in kinds {
        let Some(size) = kind.byte_size() else {
            slots.push(None);
            continue;
        };
        let at = next.next_multiple_of(size);
        next = at + size;
        if next > abi::FLAGS_BYTES {
            return None;
        }
        slots.push(Some(at));
    }
    Some(slots)
}

/// The frame-buffer memory argument of a slot at `offset` for a value of `size` bytes.
fn slot_memarg(offset: u64, size: u64) -> MemArg {
    MemArg {
        offset,
        align: size.trailing_zeros(),
        target: wasm_encoder::MemArgTarget::Memory(0),
        ordering: None,
    }
}

/// The store of a numeric value of `kind` (address and value on the stack) into the slot
/// at `offset`.
pub(crate) fn slot_store(kind: ValKind, offset: u64) -> Option<Instruction<'static>> {
    let m = slot_memarg(offset, kind.byte_size()?);
    Some(match kind {
        ValKind::I32 => Instruction::I32Store(m),
        ValKind::I64 => Instruction::I64Store(m),
        ValKind::F32 => Instruction::F32Store(m),
        ValKind::F64 => Instruction::F64Store(m),
        ValKind::V128 => Instruction::V128Store(m),
        ValKind::FuncRef | ValKind::ExternRef => return None,
    })
}

/// The load of a numeric value of `kind` from the slot at `offset`.
fn slot_load(kind: ValKind, offset: u64) -> Option<Instruction<'static>> {
    let m = slot_memarg(offset, kind.byte_size()?);
    Some(match kind {
        ValKind::I32 => Instruction::I32Load(m),
        ValKind::I64 => Instruction::I64Load(m),
        ValKind::F32 => Instruction::F32Load(m),
        ValKind::F64 => Instruction::F64Load(m),
        ValKind::V128 => Instruction::V128Load(m),
        ValKind::FuncRef | ValKind::ExternRef => return None,
    })
}

/// The store that sets the unwinding word (a safepoint poll's cold path ends with it).
pub(crate) fn start_unwinding() -> [Instruction<'static>; 3] {
    [
        Instruction::I32Const(0),
        Instruction::I32Const(1),
        Instruction::I32Store(MemArg {
            offset: abi::UNWINDING_OFFSET,
            align: 2,
            target: wasm_encoder::MemArgTarget::Memory(0),
            ordering: None,
        }),
    ]
}

/// The value types a helper takes and whether it starts the unwinding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ColdKey {
    pub visible: Vec<ValKind>,
    pub spilled: Vec<ValKind>,
    pub locals: Vec<ValKind>,
    /// A safepoint poll sets the unwinding word; a post-call check finds it set.
    pub starts_unwinding: bool,
}

/// The helpers of one module, in the order they are appended.
#[derive(Debug, Default)]
pub(crate) struct ColdHelpers {
    keys: Vec<(ColdKey, u32)>,
    by_key: HashMap<ColdKey, u32>,
}

impl ColdHelpers {
    /// The position (0 for the first appended function) of the helper for `key`, adding
    /// it and its type if needed.
    pub(crate) fn helper(&mut self, key: ColdKey, types: &mut TypeTable) -> u32 {
        if let Some(&k) = self.by_key.get(&key) {
            return k;
        }
        let stored: Vec<ValKind> = key.spilled.iter().chain(&key.locals).copied().collect();
        let slots = frame_slots(&stored).unwrap_or_default();
        let mut params = key.visible.clone();
        params.extend(
            stored
                .iter()
                .zip(&slots)
                .filter(|(_, slot)| slot.is_none())
                .map(|(kind, _)| *kind),
        );
        params.extend([ValKind::I32, ValKind::I32]);
        let ty = types.add(params, Vec::new());
        let k = self.keys.len() as u32;
        self.keys.push((key.clone(), ty));
        self.by_key.insert(key, k);
        k
    }

    /// Type index and body of every helper, in order.
    pub(crate) fn bodies(&self) -> Vec<(u32, Function)> {
        self.keys.iter().map(|(key, ty)| (*ty, body(key))).collect()
    }
}

/// The helper for `key`. Its caller checked that [`frame_slots`] fits.
fn body(key: &ColdKey) -> Function {
    let nv = key.visible.len() as u32;
    let stored: Vec<ValKind> = key.spilled.iter().chain(&key.locals).copied().collect();
    let slots = frame_slots(&stored).unwrap_or_default();
    // Parameter of each reference-typed stored value, in order after the visible ones.
    let mut ref_params = Vec::with_capacity(stored.len());
    let mut next = nv;
    for slot in &slots {
        ref_params.push(next);
        if slot.is_none() {
            next += 1;
        }
    }
    let func = next;
    let mut f = Function::new([]);
    f.instruction(&Instruction::LocalGet(func));
    f.instruction(&Instruction::LocalGet(func + 1));
    f.instruction(&Instruction::Call(abi::FRAME_FUNC));
    // Reverse canonical order: the operand stack top first (visible part, then the
    // spilled part below it), then the locals last first.
    for (i, kind) in key.visible.iter().enumerate().rev() {
        f.instruction(&Instruction::LocalGet(i as u32));
        f.instruction(&Instruction::Call(abi::save_func(*kind)));
    }
    let ns = key.spilled.len();
    for i in (0..ns).rev().chain((ns..stored.len()).rev()) {
        let kind = &stored[i];
        match slots
            .get(i)
            .copied()
            .flatten()
            .and_then(|at| slot_load(*kind, at))
        {
            Some(load) => {
                f.instruction(&Instruction::I32Const(0));
                f.instruction(&load);
            }
            None => {
                f.instruction(&Instruction::LocalGet(ref_params[i]));
            }
        }
        f.instruction(&Instruction::Call(abi::save_func(*kind)));
    }
    if key.starts_unwinding {
        for instruction in start_unwinding() {
            f.instruction(&instruction);
        }
    }
    f.instruction(&Instruction::End);
    f
}

#[cfg(test)]
mod tests {
    use super::frame_slots;
    use crate::abi::ValKind::{F64, FuncRef, I32, I64, V128};

    #[test]
    fn slots_are_aligned_in_order_and_references_have_none() {
        let slots = frame_slots(&[I32, I64, FuncRef, I32, V128, F64]).unwrap();
        assert_eq!(
            slots,
            [Some(16), Some(24), None, Some(32), Some(48), Some(64)]
        );
    }

    #[test]
    fn a_frame_larger_than_the_buffer_has_no_slots() {
        // 65,520 bytes of buffer: 4,095 v128 fit, one more does not.
        assert!(frame_slots(&[V128; 4095]).is_some());
        assert!(frame_slots(&[V128; 4096]).is_none());
        assert!(frame_slots(&[FuncRef; 5000]).is_some());
    }
}
