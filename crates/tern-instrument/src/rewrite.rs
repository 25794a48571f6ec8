//! Instrumentation of one function body: safepoint polls, post-call checks, the cold
//! path, and the spills that make values of enclosing blocks reachable from it.
//!
//! Values of an enclosing block that lie below a nested block's parameters cannot be
//! popped from inside the nested block, yet they belong to the frame's operand stack.
//! So when a block, loop or `if` is entered with such values beneath it, they are
//! copied into scratch locals first ("spilled": `local.set` then `local.get`, which an
//! SSA compiler such as Cranelift turns into nothing, the local being the same value).
//! They cannot change while the nested block runs, so the cold path reads them from
//! there. A scratch local belongs to an (operand-stack position, type) pair.

use crate::abi::{self, ValKind};
use crate::bounded::{CallFacts, loop_header_polls, needs_entry_poll};
use crate::cold::{
    ColdHelpers, ColdKey, MAX_HELPER_PARAMS, frame_slots, slot_store, start_unwinding,
};
use crate::count;
use crate::error::Error;
use crate::liveness::{Liveness, Step};
use crate::map::{FuncInfo, InstrumentMap, Site, SiteKind};
use crate::shift::Shift;
use crate::types::TypeTable;
use std::collections::HashMap;
use wasm_encoder::reencode::Reencode;
use wasm_encoder::{BlockType, Instruction, MemArg};
use wasmparser::{FuncValidator, FunctionBody, Operator, ValidatorResources};

/// What the function rewriter needs to know about the module.
pub(crate) struct ModuleFacts<'m> {
    pub types: &'m mut TypeTable,
    /// Type index of every function, original numbering, imports first.
    pub func_types: &'m [u32],
    pub map: &'m mut InstrumentMap,
    /// The module's cold-path helpers, appended after every function.
    pub cold: &'m mut ColdHelpers,
    /// Index (in the instrumented module) of the first cold-path helper.
    pub first_helper: u32,
    /// Which calls are bounded or cannot unwind (`bounded.rs`).
    pub calls: &'m CallFacts,
    /// A function that polls at entry whatever the analysis says.
    pub entry_poll: Option<u32>,
    /// The instruction budget global, when instructions are counted (`count.rs`).
    pub budget_global: Option<u32>,
}

/// Instruments the body of function `func` (original index), validating it on the way.
pub(crate) fn rewrite_body<'a>(
    facts: &mut ModuleFacts<'_>,
    mut validator: FuncValidator<ValidatorResources>,
    body: &FunctionBody<'a>,
    func: u32,
) -> Result<wasm_encoder::Function, Error> {
    let start = body.range().start;
    let sig = func_sig(facts, func, start)?;
    let results = kinds(&sig.1, start)?;
    let mut locals = kinds(&sig.0, start)?;
    let mut groups = Vec::new();
    let mut reader = body.get_locals_reader()?;
    for _ in 0..reader.get_count() {
        let offset = reader.original_position();
        let (count, ty) = reader.read()?;
        validator.define_locals(offset, count, ty)?;
        let kind = kind(ty, offset)?;
        locals.extend(std::iter::repeat_n(kind, count as usize));
        groups.push((count, kind.to_encoder()));
    }
    let mut ops = Vec::new();
    let mut reader = body.get_operators_reader()?;
    while !reader.eof() {
        ops.push(reader.read_with_offset()?);
    }
    reader.finish()?;
    let steps: Vec<Step> = ops.iter().map(|(op, _)| Step::of(op)).collect();
    let liveness = Liveness::compute(&steps, locals.len() as u32);
    let after_calls = facts.calls.poll_after_calls;
    // Calls whose post-call check polls once they return.
    let polling_call: Vec<bool> = ops
        .iter()
        .map(|(op, _)| {
            after_calls
                && matches!(op, Operator::Call { .. } | Operator::CallIndirect { .. })
                && !cannot_unwind(facts, op)
        })
        .collect();
    // Calls that must be preceded by a poll on every path (`bounded.rs`).
    let needs_poll: Vec<bool> = ops
        .iter()
        .map(|(op, _)| match op {
            Operator::ReturnCall { function_index } => !facts.calls.is_bounded(*function_index),
            Operator::Call { function_index } => {
                !after_calls && !facts.calls.is_bounded(*function_index)
            }
            Operator::ReturnCallIndirect { .. } => true,
            Operator::CallIndirect { .. } => !after_calls,
            _ => false,
        })
        .collect();
    let header_polls = if after_calls {
        loop_header_polls(&steps, &polling_call)
    } else {
        steps
            .iter()
            .map(|s| matches!(s, Step::Open { is_loop: true }))
            .collect()
    };
    let polls: Vec<bool> = header_polls
        .iter()
        .zip(&polling_call)
        .map(|(h, c)| *h || *c)
        .collect();
    let entry_poll =
        facts.entry_poll == Some(func) || needs_entry_poll(&steps, &needs_poll, &polls);
    let run_lengths = facts.budget_global.map(|_| count::run_lengths(&ops));

    let first_site = facts.map.sites.len() as u32;
    let mut w = Writer {
        facts,
        func,
        locals: &locals,
        results: &results,
        scratch: HashMap::new(),
        scratch_kinds: Vec::new(),
        out: Vec::with_capacity(ops.len() * 2),
    };
    // Whether each open construct was entered in unreachable code; nothing in there
    // can run, so nothing in there is instrumented.
    let mut dead = vec![false];
    for (i, (op, offset)) in ops.iter().enumerate() {
        let Some(frame) = validator.get_control_frame(0) else {
            return Err(Error::new(
                *offset,
                "operators after the end of the function",
            ));
        };
        let (base, frame_unreachable) = (frame.height, frame.unreachable);
        let reachable = !frame_unreachable && !dead.last().copied().unwrap_or(true);
        let height = validator.operand_stack_height() as usize;
        if i == 0 && entry_poll {
            w.poll(
                SiteKind::Entry,
                *offset,
                &[],
                0,
                liveness.live_at(0, w.nlocals()),
            )?;
        }
        if let (Some(global), Some(lengths)) = (w.facts.budget_global, &run_lengths)
            && reachable
            && lengths[i] > 0
        {
            w.out.extend(count::charge(global, lengths[i]));
        }
        match op {
            Operator::Block { blockty } | Operator::Loop { blockty } | Operator::If { blockty } => {
                let mut stack = Vec::new();
                if reachable {
                    let (params, _) = w
                        .facts
                        .types
                        .block(*blockty)
                        .ok_or_else(|| Error::new(*offset, "unknown block type"))?;
                    let cond = usize::from(matches!(op, Operator::If { .. }));
                    stack = stack_types(&validator, height, *offset)?;
                    let below = height
                        .checked_sub(params.len() + cond)
                        .ok_or_else(|| Error::new(*offset, "operand stack underflow"))?;
                    if below > base {
                        w.spill(&stack, base)?;
                    }
                }
                w.emit(op, *offset)?;
                dead.push(!reachable);
                if reachable
                    && header_polls[i]
                    && let Operator::Loop { blockty } = op
                {
                    let params = w.facts.types.block(*blockty).map_or(0, |b| b.0.len());
                    let pc = ops.get(i + 1).map_or(*offset, |(_, o)| *o);
                    let live = liveness.live_at(i + 1, w.nlocals());
                    w.poll(SiteKind::LoopHeader, pc, &stack, height - params, live)?;
                }
            }
            Operator::End => {
                w.emit(op, *offset)?;
                dead.pop();
            }
            // A callee that cannot unwind needs no check after it (`bounded.rs`).
            Operator::Call { .. } | Operator::CallIndirect { .. }
                if reachable && !cannot_unwind(w.facts, op) =>
            {
                let (params, callee_results) = match op {
                    Operator::Call { function_index } => {
                        let sig = func_sig(w.facts, *function_index, *offset)?;
                        (sig.0.len(), sig.1)
                    }
                    Operator::CallIndirect { type_index, .. } => {
                        let sig = w.facts.types.signature(*type_index);
                        let sig = sig.ok_or_else(|| Error::new(*offset, "unknown type"))?;
                        (sig.params.len() + 1, sig.results.clone())
                    }
                    _ => unreachable!("matched above"),
                };
                let stack = stack_types(&validator, height, *offset)?;
                let below = height
                    .checked_sub(params)
                    .filter(|b| *b >= base)
                    .ok_or_else(|| Error::new(*offset, "operand stack underflow"))?;
                w.emit(op, *offset)?;
                let live = liveness.live_at(i + 1, w.nlocals());
                let callee_results = kinds(&callee_results, *offset)?;
                let call = Call {
                    pc: *offset,
                    next_pc: ops.get(i + 1).map_or(*offset, |(_, o)| *o),
                    below: &stack[..below],
                    base,
                    results: &callee_results,
                };
                w.post_call(&call, live)?;
            }
            Operator::CallRef { .. }
            | Operator::Try { .. }
            | Operator::TryTable { .. }
            | Operator::Throw { .. }
            | Operator::ThrowRef
            | Operator::Rethrow { .. } => {
                return Err(Error::new(
                    *offset,
                    "typed function references and exceptions are not supported",
                ));
            }
            _ => w.emit(op, *offset)?,
        }
        validator.op(*offset, op)?;
    }
    if validator.get_control_frame(0).is_some() {
        return Err(Error::new(body.range().end, "function body not terminated"));
    }

    let mut all_groups = groups;
    all_groups.extend(w.scratch_kinds.iter().map(|k| (1, k.to_encoder())));
    let mut function = wasm_encoder::Function::new(all_groups);
    for instr in &w.out {
        function.instruction(instr);
    }
    facts.map.funcs.push(FuncInfo {
        original_index: func,
        locals,
        sites: first_site..facts.map.sites.len() as u32,
    });
    Ok(function)
}

/// Emits the instrumented code of one function.
struct Writer<'w, 'm, 'a> {
    facts: &'w mut ModuleFacts<'m>,
    func: u32,
    locals: &'w [ValKind],
    results: &'w [ValKind],
    /// Scratch local of each (operand-stack position, type) that has one.
    scratch: HashMap<(usize, ValKind), u32>,
    scratch_kinds: Vec<ValKind>,
    out: Vec<Instruction<'a>>,
}

impl<'a> Writer<'_, '_, 'a> {
    fn nlocals(&self) -> u32 {
        self.locals.len() as u32
    }

    /// Copies an original instruction, with function and memory indices shifted.
    fn emit(&mut self, op: &Operator<'a>, offset: u64) -> Result<(), Error> {
        let instr = Shift
            .instruction(op.clone())
            .map_err(|e| Error::new(offset, format!("cannot re-encode: {e}")))?;
        self.out.push(instr);
        Ok(())
    }

    fn scratch_local(&mut self, position: usize, kind: ValKind) -> u32 {
        let next = self.nlocals() + self.scratch_kinds.len() as u32;
        *self.scratch.entry((position, kind)).or_insert_with(|| {
            self.scratch_kinds.push(kind);
            next
        })
    }

    /// Stores the current frame's visible operands (positions `base..`) in their scratch
    /// locals and pushes them back.
    fn spill(&mut self, stack: &[ValKind], base: usize) -> Result<(), Error> {
        for pos in (base..stack.len()).rev() {
            let local = self.scratch_local(pos, stack[pos]);
            self.out.push(Instruction::LocalSet(local));
        }
        for (pos, kind) in stack.iter().enumerate().skip(base) {
            let local = self.scratch_local(pos, *kind);
            self.out.push(Instruction::LocalGet(local));
        }
        Ok(())
    }

    fn new_site(&mut self, kind: SiteKind, pc: u64, stack: &[ValKind], live: Vec<bool>) -> u32 {
        let id = self.facts.map.sites.len() as u32;
        self.facts.map.sites.push(Site {
            kind,
            func: self.func,
            pc: pc as u32,
            stack: stack.to_vec(),
            live,
        });
        id
    }

    /// A safepoint poll for a top frame at `pc` whose operand stack is `stack`, of which
    /// positions `visible_from..` are on the Wasm stack and the rest in scratch locals.
    fn poll(
        &mut self,
        kind: SiteKind,
        pc: u64,
        stack: &[ValKind],
        visible_from: usize,
        live: Vec<bool>,
    ) -> Result<(), Error> {
        let site = self.new_site(kind, pc, stack, live.clone());
        let visible = &stack[visible_from..];
        let bt = self.facts.types.passthrough(visible);
        self.check(abi::REQUEST_OFFSET, bt);
        self.cold_path(&ColdSite {
            site,
            drop_results: 0,
            stack,
            visible_from,
            live: &live,
            starts_unwinding: true,
            pc,
        })?;
        self.out.push(Instruction::End);
        Ok(())
    }

    /// The check after a call. Without polls after calls it loads the unwinding word and
    /// reports the frame as waiting on the call. With them it loads both flag words as
    /// one `i64` (non-zero if either is set), then tells them apart on the cold path:
    /// unwinding reports the frame as waiting on the call, a request reports it as the
    /// top frame after the call (the results on its stack) and starts the unwinding.
    fn post_call(&mut self, c: &Call<'_>, live: Vec<bool>) -> Result<(), Error> {
        let site = self.new_site(SiteKind::Call, c.pc, c.below, live.clone());
        let mut visible = c.below[c.base..].to_vec();
        visible.extend_from_slice(c.results);
        let bt = self.facts.types.passthrough(&visible);
        let waiting = ColdSite {
            site,
            drop_results: c.results.len(),
            stack: c.below,
            visible_from: c.base,
            live: &live,
            starts_unwinding: false,
            pc: c.pc,
        };
        if !self.facts.calls.poll_after_calls {
            self.check(abi::UNWINDING_OFFSET, bt);
            self.cold_path(&waiting)?;
            self.out.push(Instruction::End);
            return Ok(());
        }
        let mut after = c.below.to_vec();
        after.extend_from_slice(c.results);
        let top = self.new_site(SiteKind::AfterCall, c.next_pc, &after, live.clone());
        self.out.push(Instruction::I32Const(0));
        self.out
            .push(Instruction::I64Load(flag_word(abi::REQUEST_OFFSET, 3)));
        self.out.push(Instruction::I64Const(0));
        self.out.push(Instruction::I64Ne);
        self.out.push(Instruction::If(bt));
        self.check(abi::UNWINDING_OFFSET, bt);
        self.cold_path(&waiting)?;
        self.out.push(Instruction::Else);
        self.cold_path(&ColdSite {
            site: top,
            drop_results: 0,
            stack: &after,
            visible_from: c.base,
            live: &live,
            starts_unwinding: true,
            pc: c.next_pc,
        })?;
        self.out.push(Instruction::End);
        self.out.push(Instruction::End);
        Ok(())
    }

    /// `if` on the flag word at `offset`; the `if` takes the visible stack as parameters.
    fn check(&mut self, offset: u64, bt: BlockType) {
        self.out.push(Instruction::I32Const(0));
        self.out.push(Instruction::I32Load(flag_word(offset, 2)));
        self.out.push(Instruction::If(bt));
    }

    /// Reports the frame and returns dummy results: stores the frame's numeric values in
    /// the frame buffer, pushes its references, and calls the cold helper for its types
    /// (`cold.rs`), which hands every value to the host in reverse canonical order; dead
    /// locals are stored (or pushed) as zero.
    fn cold_path(&mut self, c: &ColdSite<'_>) -> Result<(), Error> {
        let (stack, visible_from) = (c.stack, c.visible_from);
        let stored: Vec<ValKind> = stack[..visible_from]
            .iter()
            .chain(self.locals)
            .copied()
            .collect();
        let slots = match frame_slots(&stored) {
            Some(slots)
                if stack.len() - visible_from
                    + slots.iter().filter(|s| s.is_none()).count()
                    + 2
                    <= MAX_HELPER_PARAMS =>
            {
                slots
            }
            _ => return self.inline_cold_path(c),
        };
        for _ in 0..c.drop_results {
            self.out.push(Instruction::Drop);
        }
        // The visible operands are on the Wasm stack already, bottom first; the stores
        // below leave them there. Then the spilled operands and the locals.
        let mut args = Vec::new();
        for (i, kind) in stored.iter().enumerate() {
            let value = if i < visible_from {
                Instruction::LocalGet(self.spilled(i, *kind, c.pc)?)
            } else if c.live[i - visible_from] {
                Instruction::LocalGet((i - visible_from) as u32)
            } else {
                zero(*kind)
            };
            match slots[i].and_then(|at| slot_store(*kind, at)) {
                Some(store) => {
                    self.out.push(Instruction::I32Const(0));
                    self.out.push(value);
                    self.out.push(store);
                }
                None => args.push(value),
            }
        }
        self.out.extend(args);
        self.out.push(Instruction::I32Const(self.func as i32));
        self.out.push(Instruction::I32Const(c.site as i32));
        let key = ColdKey {
            visible: stack[visible_from..].to_vec(),
            spilled: stack[..visible_from].to_vec(),
            locals: self.locals.to_vec(),
            starts_unwinding: c.starts_unwinding,
        };
        let helper = self.facts.cold.helper(key, self.facts.types);
        self.out
            .push(Instruction::Call(self.facts.first_helper + helper));
        self.return_dummy_results();
        Ok(())
    }

    /// [`Self::cold_path`] without a helper, for frames with more values than a helper
    /// may take: the helper's body written in place, saving each value from where it is.
    fn inline_cold_path(&mut self, c: &ColdSite<'_>) -> Result<(), Error> {
        let (stack, visible_from) = (c.stack, c.visible_from);
        self.out.push(Instruction::I32Const(self.func as i32));
        self.out.push(Instruction::I32Const(c.site as i32));
        self.out.push(Instruction::Call(abi::FRAME_FUNC));
        for _ in 0..c.drop_results {
            self.out.push(Instruction::Drop);
        }
        // Reverse canonical order: the visible operands (on the Wasm stack, top first),
        // the spilled ones, then the locals last first.
        for kind in stack[visible_from..].iter().rev() {
            self.out.push(Instruction::Call(abi::save_func(*kind)));
        }
        for (pos, kind) in stack.iter().enumerate().take(visible_from).rev() {
            let local = self.spilled(pos, *kind, c.pc)?;
            self.out.push(Instruction::LocalGet(local));
            self.out.push(Instruction::Call(abi::save_func(*kind)));
        }
        for (index, kind) in self.locals.iter().enumerate().rev() {
            self.out.push(if c.live[index] {
                Instruction::LocalGet(index as u32)
            } else {
                zero(*kind)
            });
            self.out.push(Instruction::Call(abi::save_func(*kind)));
        }
        if c.starts_unwinding {
            self.out.extend(start_unwinding());
        }
        self.return_dummy_results();
        Ok(())
    }

    /// The scratch local operand `pos` (of `kind`) was spilled to on block entry.
    fn spilled(&self, pos: usize, kind: ValKind, pc: u64) -> Result<u32, Error> {
        self.scratch
            .get(&(pos, kind))
            .copied()
            .ok_or_else(|| Error::new(pc, "internal error: an operand was not spilled"))
    }

    /// Ends a cold path: the function's results as zeros (the caller unwinds too).
    fn return_dummy_results(&mut self) {
        for kind in self.results {
            self.out.push(zero(*kind));
        }
        self.out.push(Instruction::Return);
    }
}

/// The flag memory's word at `offset`, `2^align` bytes.
pub(crate) fn flag_word(offset: u64, align: u32) -> MemArg {
    MemArg {
        offset,
        align,
        target: wasm_encoder::MemArgTarget::Memory(0),
        ordering: None,
    }
}

/// A call that gets a post-call check.
struct Call<'c> {
    /// Offsets of the call and of the instruction after it.
    pc: u64,
    next_pc: u64,
    /// The operand stack below the call's arguments; positions `base..` are on the Wasm
    /// stack (the rest was spilled), the call's `results` come on top.
    below: &'c [ValKind],
    base: usize,
    results: &'c [ValKind],
}

/// One cold path: the frame it reports and how the path starts and ends.
struct ColdSite<'s> {
    site: u32,
    /// Results of the call just made, above the frame's operands: dropped first.
    drop_results: usize,
    /// The frame's operand stack; positions `visible_from..` are on the Wasm stack, the
    /// ones below were spilled to scratch locals.
    stack: &'s [ValKind],
    visible_from: usize,
    live: &'s [bool],
    /// A safepoint poll sets the unwinding word; a post-call check finds it set.
    starts_unwinding: bool,
    pc: u64,
}

/// Whether `op` is a direct call of a function that can never unwind.
fn cannot_unwind(facts: &ModuleFacts<'_>, op: &Operator<'_>) -> bool {
    matches!(op, Operator::Call { function_index } if facts.calls.cannot_unwind(*function_index))
}

/// The constant instruction pushing the zero value of `kind`.
fn zero(kind: ValKind) -> Instruction<'static> {
    match kind {
        ValKind::I32 => Instruction::I32Const(0),
        ValKind::I64 => Instruction::I64Const(0),
        ValKind::F32 => Instruction::F32Const(0.0f32.into()),
        ValKind::F64 => Instruction::F64Const(0.0f64.into()),
        ValKind::V128 => Instruction::V128Const(0),
        ValKind::FuncRef => Instruction::RefNull(wasm_encoder::HeapType::FUNC),
        ValKind::ExternRef => Instruction::RefNull(wasm_encoder::HeapType::EXTERN),
    }
}

type Sig = (Vec<wasmparser::ValType>, Vec<wasmparser::ValType>);

fn func_sig(facts: &ModuleFacts<'_>, func: u32, offset: u64) -> Result<Sig, Error> {
    let sig = facts
        .func_types
        .get(func as usize)
        .and_then(|t| facts.types.signature(*t))
        .ok_or_else(|| Error::new(offset, format!("function {func} has no function type")))?;
    Ok((sig.params.clone(), sig.results.clone()))
}

fn kind(ty: wasmparser::ValType, offset: u64) -> Result<ValKind, Error> {
    ValKind::from_wasm(ty)
        .ok_or_else(|| Error::new(offset, format!("values of type {ty} are not supported")))
}

fn kinds(tys: &[wasmparser::ValType], offset: u64) -> Result<Vec<ValKind>, Error> {
    tys.iter().map(|t| kind(*t, offset)).collect()
}

/// Types of the whole operand stack (all open constructs), bottom first.
fn stack_types(
    validator: &FuncValidator<ValidatorResources>,
    height: usize,
    offset: u64,
) -> Result<Vec<ValKind>, Error> {
    (0..height)
        .map(|pos| match validator.get_operand_type(height - 1 - pos) {
            Some(Some(ty)) => kind(ty, offset),
            _ => Err(Error::new(
                offset,
                "operand of unknown type in reachable code",
            )),
        })
        .collect()
}
