//! Capture of a store's state in the canonical form of `tern-snapshot`, and restore from
//! it, with every frame checked against the module first.
//!
//! Operand-stack types are not stored anywhere at run time: at capture and at restore
//! the function is validated again up to the frame's pc, and the validator reports the
//! types of the operand stack there. The control stack needs no storing either: the
//! internal pc determines it.

use crate::code::{FuncCode, Instr};
use crate::error::RestoreError;
use crate::module::ModuleInner;
use crate::store::{
    Frame as RtFrame, FuncEntity, GlobalEntity, Slot, Store, from_slot, to_slot, zeroed_pages,
};
use crate::types::ValType;
use std::collections::HashMap;
use tern_snapshot::{ExecState, Frame, InstanceImage, MemoryImage, TableImage, Value, WASM_PAGE};
use wasmparser::{FuncToValidate, FuncValidatorAllocations, FunctionBody, ValidatorResources};

/// Operand-stack types right before the instruction at byte offset `pc`, or why there is
/// no reachable instruction boundary there.
fn operand_types_at(module: &ModuleInner, func: u32, pc: u32) -> Result<Vec<ValType>, String> {
    let code = module.code_of(func).ok_or("not a defined function")?;
    let (resources, features): &(ValidatorResources, _) =
        module.validation.as_ref().ok_or("module has no code")?;
    let to_validate = FuncToValidate {
        resources: resources.clone(),
        index: func,
        ty: module.func_types[func as usize],
        features: *features,
    };
    let mut validator = to_validate.into_validator(FuncValidatorAllocations::default());
    let reader =
        wasmparser::BinaryReader::new(&module.bytes[code.body.clone()], code.body.start as u64);
    let body = FunctionBody::new(reader);
    let mut locals = body.get_locals_reader().map_err(|e| e.to_string())?;
    for _ in 0..locals.get_count() {
        let offset = locals.original_position();
        let (count, ty) = locals.read().map_err(|e| e.to_string())?;
        validator
            .define_locals(offset, count, ty)
            .map_err(|e| e.to_string())?;
    }
    let mut ops = body.get_operators_reader().map_err(|e| e.to_string())?;
    loop {
        if ops.eof() {
            return Err(format!("pc 0x{pc:x} lies outside the function body"));
        }
        let (op, offset) = ops.read_with_offset().map_err(|e| e.to_string())?;
        let offset = offset as u32;
        if offset == pc {
            let total = validator.operand_stack_height() as usize;
            let frame = validator.get_control_frame(0).expect("inside the body");
            // An `end` after unreachable code is reached only by branches, which leave
            // the operands beneath the block plus the block's results.
            let (height, results) = match op {
                wasmparser::Operator::End if frame.unreachable => {
                    (frame.height, block_results(module, frame.block_type))
                }
                _ => (total, Vec::new()),
            };
            let mut types = (total - height..total)
                .rev()
                .map(|depth| match validator.get_operand_type(depth) {
                    Some(Some(ty)) => Ok(ValType::from_wasm(ty)),
                    _ => Err(format!("pc 0x{pc:x} is in unreachable code")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            types.extend(results);
            return Ok(types);
        }
        if offset > pc {
            return Err(format!("pc 0x{pc:x} is not on an instruction boundary"));
        }
        validator
            .op(u64::from(offset), &op)
            .map_err(|e| e.to_string())?;
    }
}

fn block_results(module: &ModuleInner, ty: wasmparser::BlockType) -> Vec<ValType> {
    match ty {
        wasmparser::BlockType::Empty => Vec::new(),
        wasmparser::BlockType::Type(ty) => vec![ValType::from_wasm(ty)],
        wasmparser::BlockType::FuncType(index) => module.types[index as usize].results.clone(),
    }
}

/// Operand types per `(instance, function, pc)`, so that a deep recursion, whose frames
/// mostly wait at the same few pcs, re-validates each function body only once.
#[derive(Default)]
pub(crate) struct OperandTypes(HashMap<(u32, u32, u32), Vec<ValType>>);

impl OperandTypes {
    pub(crate) fn at(
        &mut self,
        module: &ModuleInner,
        instance: u32,
        func: u32,
        pc: u32,
    ) -> Result<Vec<ValType>, String> {
        if let Some(types) = self.0.get(&(instance, func, pc)) {
            return Ok(types.clone());
        }
        let types = operand_types_at(module, func, pc)?;
        self.0.insert((instance, func, pc), types.clone());
        Ok(types)
    }
}

/// Parameter count of the call instruction at `instr`, if it is one.
fn call_params(module: &ModuleInner, instr: Instr) -> Option<usize> {
    match instr {
        Instr::Call(f) => Some(module.func_type(f).params.len()),
        Instr::CallIndirect { ty, .. } => Some(module.types[ty as usize].params.len() + 1),
        _ => None,
    }
}

impl Store {
    /// The store's whole state. While an invocation is paused its frames are included;
    /// otherwise `frames` is empty.
    pub fn capture(&self) -> ExecState {
        let (mut state, memories) = self.capture_borrowed();
        for (image, bytes) in state.memories.iter_mut().zip(memories) {
            image.nonzero_pages = (bytes.chunks(WASM_PAGE).enumerate())
                .filter(|(_, page)| !is_zero(page))
                .map(|(i, page)| (i as u32, page.to_vec()))
                .collect();
        }
        state
    }

    /// The store's whole state without a copy of its memories: the memory images hold
    /// only sizes, and every memory's content is returned borrowed, whole, in store order
    /// (for `tern_snapshot::write_snapshot_file_with_memories`, which compresses it where
    /// it lies).
    pub fn capture_borrowed(&self) -> (ExecState, Vec<&[u8]>) {
        let memories = self
            .memories
            .iter()
            .map(|m| MemoryImage {
                pages: m.pages(),
                nonzero_pages: Vec::new(),
            })
            .collect();
        let tables = self
            .tables
            .iter()
            .map(|t| TableImage {
                elements: t
                    .elems
                    .iter()
                    .map(|&raw| from_slot(raw.into(), t.ty.element))
                    .collect(),
            })
            .collect();
        let globals = self
            .globals
            .iter()
            .map(|g| from_slot(g.value, g.ty.content))
            .collect();
        let instances = self
            .instances
            .iter()
            .map(|inst| InstanceImage {
                dropped_data: flagged(&inst.dropped_data),
                dropped_elems: flagged(&inst.dropped_elems),
            })
            .collect();
        let frames = self.capture_frames();
        let state = ExecState {
            memories,
            tables,
            globals,
            instances,
            frames,
        };
        (state, self.memories.iter().map(|m| &m.bytes[..]).collect())
    }

    fn capture_frames(&self) -> Vec<Frame> {
        let frames = &self.exec.frames;
        let mut out = Vec::with_capacity(frames.len());
        let mut cache = OperandTypes::default();
        for (i, frame) in frames.iter().enumerate() {
            let module = &self.instances[frame.instance as usize].module.0;
            let code = self.code(frame.instance, frame.func);
            let is_top = i + 1 == frames.len();
            // A caller waits on the call just before its saved pc.
            let at = if is_top { frame.pc } else { frame.pc - 1 } as usize;
            let pc = code.offsets[at];
            let mut types = cache
                .at(module, frame.instance, frame.func, pc)
                .unwrap_or_else(|e| panic!("tern-interp bug: paused at an invalid point: {e}"));
            if !is_top {
                let params = call_params(module, code.code[at]).expect("callers wait on calls");
                types.truncate(types.len() - params);
            }
            let fp = frame.fp as usize;
            let locals = code
                .local_types
                .iter()
                .enumerate()
                .map(|(j, ty)| from_slot(self.exec.stack[fp + j], *ty))
                .collect();
            let stack_base = fp + code.locals as usize;
            let stack_end = frames
                .get(i + 1)
                .map_or(self.exec.sp as usize, |callee| callee.fp as usize);
            debug_assert_eq!(
                stack_end - stack_base,
                types.len(),
                "slot count matches types in func {} at pc {pc:#x} (top: {is_top})",
                frame.func
            );
            let stack = types
                .iter()
                .enumerate()
                .map(|(j, ty)| from_slot(self.exec.stack[stack_base + j], *ty))
                .collect();
            out.push(Frame {
                instance: frame.instance,
                func: frame.func,
                pc,
                locals,
                stack,
            });
        }
        out
    }

    /// Replaces the store's state with `state`, which must have been captured from a
    /// store with the same instances (for example the one [`Store::blank_copy`] copied).
    /// Everything is checked before anything changes.
    pub fn restore(&mut self, state: &ExecState) -> Result<(), RestoreError> {
        self.restore_with(state, |i, bytes| {
            for (index, page) in &state.memories[i].nonzero_pages {
                let start = *index as usize * WASM_PAGE;
                let dst = bytes
                    .get_mut(start..start + WASM_PAGE)
                    .filter(|_| page.len() == WASM_PAGE);
                dst.ok_or_else(|| format!("memory {i}: bad page {index}"))?
                    .copy_from_slice(page);
            }
            Ok(())
        })
    }

    /// [`Store::restore`] with memory contents written by `fill(i, memory)` into each
    /// freshly allocated, zeroed memory `i` of `state.memories[i].pages` pages (the images'
    /// own pages are ignored) — e.g. by `tern_snapshot::SnapshotView::fill_memory`, which
    /// decompresses a snapshot's pages straight into place. The cheap checks run first;
    /// an error from `fill` is the restore's error, and leaves the store unchanged.
    pub fn restore_with(
        &mut self,
        state: &ExecState,
        mut fill: impl FnMut(usize, &mut [u8]) -> Result<(), String>,
    ) -> Result<(), RestoreError> {
        self.restore_inner(state, |i, pages| {
            let mut bytes = zeroed_pages(pages)
                .ok_or_else(|| format!("memory {i}: cannot allocate {pages} pages"))?;
            fill(i, &mut bytes)?;
            Ok(bytes)
        })
    }

    /// [`Store::restore`] with each memory's whole content given, already in place
    /// (`memories[i]` must be exactly `state.memories[i].pages` Wasm pages long): no
    /// copy, however large the memories. For live migration, whose target assembles
    /// memories while the source still runs. The images' own pages are ignored; on an
    /// error the store is unchanged (and the given memories are dropped).
    pub fn restore_with_memories(
        &mut self,
        state: &ExecState,
        memories: Vec<Vec<u8>>,
    ) -> Result<(), RestoreError> {
        if memories.len() != state.memories.len() {
            return Err(RestoreError(format!(
                "{} memories given for {} in the state",
                memories.len(),
                state.memories.len()
            )));
        }
        let mut given = memories.into_iter();
        self.restore_inner(state, |i, pages| {
            let bytes = given.next().unwrap_or_default();
            if bytes.len() != pages as usize * WASM_PAGE {
                return Err(format!(
                    "memory {i}: {} bytes given for {pages} pages",
                    bytes.len()
                ));
            }
            Ok(bytes)
        })
    }

    /// The checks and the swap of [`Store::restore_with`]; `memory(i, pages)` makes the
    /// content of memory `i`, last, after everything else was checked.
    fn restore_inner(
        &mut self,
        state: &ExecState,
        mut memory: impl FnMut(usize, u32) -> Result<Vec<u8>, String>,
    ) -> Result<(), RestoreError> {
        let err = |m: String| RestoreError(m);
        if state.memories.len() != self.memories.len()
            || state.tables.len() != self.tables.len()
            || state.globals.len() != self.globals.len()
            || state.instances.len() != self.instances.len()
        {
            return Err(err(
                "the state has a different number of memories, tables, globals or instances".into(),
            ));
        }
        for (i, (image, memory)) in state.memories.iter().zip(&self.memories).enumerate() {
            let limits = memory.ty.limits;
            let pages = u64::from(image.pages);
            if pages < limits.min || pages > limits.max.unwrap_or(65536).min(65536) {
                return Err(err(format!(
                    "memory {i}: {pages} pages is outside its limits"
                )));
            }
        }
        let mut tables = Vec::with_capacity(state.tables.len());
        for (i, (image, table)) in state.tables.iter().zip(&self.tables).enumerate() {
            let len = image.elements.len() as u64;
            if len < table.ty.limits.min || table.ty.limits.max.is_some_and(|max| len > max) {
                return Err(err(format!("table {i}: size {len} is outside its limits")));
            }
            let elems = image
                .elements
                .iter()
                .map(|v| self.check_value(v, table.ty.element).map(|s| s as u64))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(format!("table {i}: {e}")))?;
            tables.push(elems);
        }
        let mut globals = Vec::with_capacity(state.globals.len());
        for (i, (value, global)) in state.globals.iter().zip(&self.globals).enumerate() {
            globals.push(
                self.check_value(value, global.ty.content)
                    .map_err(|e| err(format!("global {i}: {e}")))?,
            );
        }
        let mut dropped = Vec::with_capacity(state.instances.len());
        for (i, (image, inst)) in state.instances.iter().zip(&self.instances).enumerate() {
            let data = unflag(&image.dropped_data, inst.dropped_data.len())
                .ok_or_else(|| err(format!("instance {i}: bad dropped data segment index")))?;
            let elems = unflag(&image.dropped_elems, inst.dropped_elems.len())
                .ok_or_else(|| err(format!("instance {i}: bad dropped element segment index")))?;
            dropped.push((data, elems));
        }
        let (stack, frames, sp) = self.check_frames(&state.frames).map_err(err)?;
        // Last, as the most expensive step: a large memory is written page by page.
        let mut memories = Vec::with_capacity(state.memories.len());
        for (i, image) in state.memories.iter().enumerate() {
            memories.push(memory(i, image.pages).map_err(err)?);
        }

        for (memory, bytes) in self.memories.iter_mut().zip(memories) {
            memory.bytes = bytes;
        }
        for (table, elems) in self.tables.iter_mut().zip(tables) {
            table.elems = elems;
        }
        for (global, value) in self.globals.iter_mut().zip(globals) {
            *global = GlobalEntity {
                ty: global.ty,
                value,
            };
        }
        for (inst, (data, elems)) in self.instances.iter_mut().zip(dropped) {
            inst.dropped_data = data;
            inst.dropped_elems = elems;
        }
        if !frames.is_empty() {
            let bottom = &frames[0];
            let module = &self.instances[bottom.instance as usize].module.0;
            self.exec.results = module.func_type(bottom.func).results.clone();
        }
        self.exec.stack = stack;
        self.exec.frames = frames;
        self.exec.sp = sp;
        Ok(())
    }

    /// Checks that `value` has type `ty` and refers only to things that exist.
    fn check_value(&self, value: &Value, ty: ValType) -> Result<Slot, String> {
        if ValType::of(value) != ty {
            return Err(format!("expected a {ty}, found {value:?}"));
        }
        if let Value::FuncRef(Some(f)) = value
            && *f as usize >= self.funcs.len()
        {
            return Err(format!("reference to function {f}, which does not exist"));
        }
        Ok(to_slot(*value))
    }

    /// Validates frames against their functions and lays them out on a fresh stack.
    fn check_frames(&self, frames: &[Frame]) -> Result<(Vec<Slot>, Vec<RtFrame>, u32), String> {
        let mut stack = vec![0; crate::exec::INITIAL_STACK_SLOTS.min(self.config.max_stack_slots)];
        let mut out = Vec::with_capacity(frames.len());
        if frames.len() > self.config.max_call_depth {
            return Err(format!(
                "{} frames exceed the call depth limit",
                frames.len()
            ));
        }
        let mut sp = 0usize;
        let mut cache = OperandTypes::default();
        let wasm_funcs: HashMap<(u32, u32), usize> = (self.funcs.iter().enumerate())
            .filter_map(|(addr, f)| match f {
                FuncEntity::Wasm {
                    instance, index, ..
                } => Some(((*instance, *index), addr)),
                _ => None,
            })
            .collect();
        for (i, frame) in frames.iter().enumerate() {
            let what = FrameName(i, frame.func);
            let inst = self
                .instances
                .get(frame.instance as usize)
                .ok_or(format!("{what}: no instance {}", frame.instance))?;
            let module = &inst.module.0;
            let code: &FuncCode = module
                .code_of(frame.func)
                .ok_or(format!("{what}: not a defined function"))?;
            let is_top = i + 1 == frames.len();
            let index = code.index_of(frame.pc).ok_or(format!(
                "{what}: pc 0x{:x} is not a reachable instruction boundary",
                frame.pc
            ))?;
            let mut types = cache
                .at(module, frame.instance, frame.func, frame.pc)
                .map_err(|e| format!("{what}: {e}"))?;
            let mut resume_at = index;
            if !is_top {
                let instr = code.code.get(index as usize).copied();
                let params = instr
                    .filter(|_| code.offsets[index as usize] == frame.pc)
                    .and_then(|instr| call_params(module, instr))
                    .ok_or(format!("{what}: a caller's pc must be a call instruction"))?;
                let callee = &frames[i + 1];
                self.check_callee(
                    &wasm_funcs,
                    frame.instance,
                    instr.expect("checked above"),
                    callee,
                )
                .map_err(|e| format!("{what}: {e}"))?;
                types.truncate(types.len() - params);
                resume_at = index + 1;
            }
            if frame.locals.len() != code.local_types.len() {
                return Err(format!(
                    "{what}: {} locals, expected {}",
                    frame.locals.len(),
                    code.local_types.len()
                ));
            }
            if frame.stack.len() != types.len() {
                return Err(format!(
                    "{what}: operand stack holds {} values, the function has {} at pc 0x{:x}",
                    frame.stack.len(),
                    types.len(),
                    frame.pc
                ));
            }
            let fp = sp;
            let need = fp + code.locals as usize + code.max_height as usize;
            if need > self.config.max_stack_slots {
                return Err(format!(
                    "{what}: the stack does not fit the configured limit"
                ));
            }
            if need > stack.len() {
                stack.resize(
                    need.max(stack.len() * 2).min(self.config.max_stack_slots),
                    0,
                );
            }
            let values = frame
                .locals
                .iter()
                .zip(&code.local_types)
                .chain(frame.stack.iter().zip(&types));
            for (value, ty) in values {
                stack[sp] = self
                    .check_value(value, *ty)
                    .map_err(|e| format!("{what}: {e}"))?;
                sp += 1;
            }
            out.push(RtFrame {
                instance: frame.instance,
                func: frame.func,
                pc: resume_at,
                fp: fp as u32,
            });
        }
        Ok((stack, out, sp as u32))
    }

    /// Checks that `callee` is a frame the call instruction `instr` can have created.
    fn check_callee(
        &self,
        wasm_funcs: &HashMap<(u32, u32), usize>,
        instance: u32,
        instr: Instr,
        callee: &Frame,
    ) -> Result<(), String> {
        let inst = &self.instances[instance as usize];
        let Some(&callee_addr) = wasm_funcs.get(&(callee.instance, callee.func)) else {
            return Err("the frame above is not a function of this store".into());
        };
        // After a tail call (`return_call*`) the frame above can be any function with
        // the results the call expects, so that is what is checked: it keeps the
        // resumed code type-correct.
        let callee_results = &self.types[self.funcs[callee_addr].type_id() as usize].results;
        let ok = match instr {
            Instr::Call(f) => {
                let called = self.funcs[inst.funcs[f as usize] as usize].type_id();
                self.types[called as usize].results == *callee_results
            }
            Instr::CallIndirect { ty, .. } => {
                self.types[inst.type_ids[ty as usize] as usize].results == *callee_results
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err("the frame above is not what its call instruction calls".into())
        }
    }
}

/// Names a frame in restore errors; formatted only when an error is reported.
struct FrameName(usize, u32);

impl std::fmt::Display for FrameName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "frame {} (function {})", self.0, self.1)
    }
}

/// Whether `bytes` are all zero, a word at a time (memories are scanned whole).
fn is_zero(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    words.all(|w| u64::from_ne_bytes(w.try_into().expect("8 bytes")) == 0)
        && words.remainder().iter().all(|&b| b == 0)
}

fn flagged(flags: &[bool]) -> Vec<u32> {
    flags
        .iter()
        .enumerate()
        .filter(|(_, f)| **f)
        .map(|(i, _)| i as u32)
        .collect()
}

fn unflag(indices: &[u32], len: usize) -> Option<Vec<bool>> {
    let mut flags = vec![false; len];
    for &i in indices {
        *flags.get_mut(i as usize)? = true;
    }
    Some(flags)
}
