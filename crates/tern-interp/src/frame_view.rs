//! A view of the innermost paused frame, for tools that single-step a program (tracing).
//!
//! Nothing here runs inside the interpreter loop: a tracer arms an instruction budget of
//! one, and between two steps reads the paused state through these accessors. Only the
//! top frame is converted, so a step costs the same at any call depth.

use crate::state::OperandTypes;
use crate::store::{InstanceId, Store, from_slot};
use tern_snapshot::Value;

/// The innermost frame of a paused invocation, in canonical form.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameView {
    pub instance: InstanceId,
    /// Function index in the instance's module.
    pub func: u32,
    /// Byte offset in the module of the next instruction to execute.
    pub pc: u32,
    /// Every local, parameters first (left empty unless asked for).
    pub locals: Vec<Value>,
    /// The operand stack, bottom first (left empty unless asked for).
    pub stack: Vec<Value>,
}

/// Operand-stack types already computed, kept by the caller between steps: typing the
/// stack at a pc validates the function up to it, which is done once per pc.
#[derive(Default)]
pub struct FrameTypes(OperandTypes);

impl Store {
    /// The instruction budget still armed (see [`Store::set_instruction_budget`]).
    pub fn instruction_budget(&self) -> Option<u64> {
        self.budget
    }

    /// Frames of the paused invocation (0 when nothing is paused).
    pub fn call_depth(&self) -> usize {
        self.exec.frames.len()
    }

    /// The innermost frame of the paused invocation, with its locals when `locals` is
    /// set and its operand stack when `stack` is; `None` when nothing is paused.
    pub fn top_frame(
        &self,
        types: &mut FrameTypes,
        locals: bool,
        stack: bool,
    ) -> Option<FrameView> {
        let frame = self.exec.frames.last()?;
        let module = &self.instances[frame.instance as usize].module.0;
        let code = self.code(frame.instance, frame.func);
        let pc = code.offsets[frame.pc as usize];
        let mut view = FrameView {
            instance: InstanceId(frame.instance),
            func: frame.func,
            pc,
            locals: Vec::new(),
            stack: Vec::new(),
        };
        let fp = frame.fp as usize;
        if locals {
            view.locals = (code.local_types.iter().enumerate())
                .map(|(j, ty)| from_slot(self.exec.stack[fp + j], *ty))
                .collect();
        }
        if stack {
            let stack_types = types
                .0
                .at(module, frame.instance, frame.func, pc)
                .unwrap_or_else(|e| panic!("tern-interp bug: paused at an invalid point: {e}"));
            let base = fp + code.locals as usize;
            view.stack = (stack_types.iter().enumerate())
                .map(|(j, ty)| from_slot(self.exec.stack[base + j], *ty))
                .collect();
        }
        Some(view)
    }

    /// The current value of every global of `instance`, in index order.
    pub fn instance_globals(&self, instance: InstanceId) -> Vec<Value> {
        let Some(inst) = self.instances.get(instance.0 as usize) else {
            return Vec::new();
        };
        (inst.globals.iter())
            .map(|&addr| {
                let g = &self.globals[addr as usize];
                from_slot(g.value, g.ty.content)
            })
            .collect()
    }

    /// The operand `depth` places below the top of the paused frame's stack (0: the
    /// top), read as type `ty`, which the caller knows from the instruction (e.g. the
    /// address under a store's value); `None` when nothing is paused or the frame's
    /// stack is not that deep.
    pub fn operand(&self, depth: usize, ty: crate::ValType) -> Option<Value> {
        let frame = self.exec.frames.last()?;
        let code = self.code(frame.instance, frame.func);
        let base = frame.fp as usize + code.locals as usize;
        let at = (self.exec.sp as usize).checked_sub(depth + 1)?;
        (at >= base).then(|| from_slot(self.exec.stack[at], ty))
    }

    /// The bytes of memory `index` of `instance`.
    pub fn instance_memory(&self, instance: InstanceId, index: u32) -> Option<&[u8]> {
        let inst = self.instances.get(instance.0 as usize)?;
        let addr = *inst.memories.get(index as usize)?;
        self.memory(addr)
    }
}

impl crate::Module {
    /// Byte range in the module of the body (local declarations included) of defined
    /// function `func`; `None` for an import or a function that does not exist.
    pub fn body_range(&self, func: u32) -> Option<std::ops::Range<usize>> {
        Some(self.0.code_of(func)?.body.clone())
    }
}
