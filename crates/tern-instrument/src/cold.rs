//! Cold-path helpers: the reporting half of every cold path, out of line.
//!
//! A cold path hands the host the frame's values one `save_*` call at a time. Written
//! inline, every value saved after the first call has to survive that call, so the
//! register allocator keeps the function's values in callee-saved registers or stack
//! slots *across the whole hot loop* that contains the poll (seen in `matmul`: the inner
//! loop stored and reloaded four values per iteration). So the cold path instead pushes
//! every value once and makes **one** call to a helper, which opens the frame and saves
//! the values; nothing is live after that call but constants. Helpers are shared by
//! every site with the same value types, and appended after all functions of the module,
//! so no original function index moves.
//!
//! A helper's parameters, in order: the visible operand stack (bottom first, as the
//! `if` of the check holds it), the spilled operands (bottom first), every local (first
//! first; dead ones passed as zero), the original function index and the site id. Its
//! body is the old inline sequence: `tern.frame(func, site)`, the `save_*`s in reverse
//! canonical order, and — for a poll — the store that starts the unwinding.

use crate::abi::{self, ValKind};
use crate::types::TypeTable;
use std::collections::HashMap;
use wasm_encoder::{Function, Instruction, MemArg};

/// The most parameters a helper may take: engines refuse functions with more than 1000
/// (wasmtime among them). A cold path with more values (a function with hundreds of
/// locals) saves them inline instead, as helpers do.
pub(crate) const MAX_HELPER_PARAMS: usize = 1000;

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
        let mut params = key.visible.clone();
        params.extend(&key.spilled);
        params.extend(&key.locals);
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

fn body(key: &ColdKey) -> Function {
    let (nv, ns, nl) = (key.visible.len(), key.spilled.len(), key.locals.len());
    let func = (nv + ns + nl) as u32;
    let mut f = Function::new([]);
    f.instruction(&Instruction::LocalGet(func));
    f.instruction(&Instruction::LocalGet(func + 1));
    f.instruction(&Instruction::Call(abi::FRAME_FUNC));
    // Reverse canonical order: the operand stack top first (visible part, then the
    // spilled part below it), then the locals last first.
    for (first, kinds) in [
        (0, &key.visible),
        (nv, &key.spilled),
        (nv + ns, &key.locals),
    ] {
        for (i, kind) in kinds.iter().enumerate().rev() {
            f.instruction(&Instruction::LocalGet((first + i) as u32));
            f.instruction(&Instruction::Call(abi::save_func(*kind)));
        }
    }
    if key.starts_unwinding {
        for instruction in start_unwinding() {
            f.instruction(&instruction);
        }
    }
    f.instruction(&Instruction::End);
    f
}
