//! The body of one continuation clone: a prologue that moves the frame's locals into
//! place and pushes its operand stack level by level, the enclosing constructs rebuilt
//! from the start point outwards, and the rest of the original code.
//!
//! Labels. Every enclosing construct of the start point keeps exactly one label that
//! stands for it (a `block` for a `block` or for the arm of an `if`; for a `loop`, the
//! inner `block` that the rest of the body runs in, then the loop itself). A rebuilt
//! `loop` also adds one extra label around both, the exit that falling off the end of
//! the rest branches to. So relative branch depths that leave the copied code are
//! recomputed from absolute label positions: `level_label[j]` is the position of the
//! label that stands for enclosing level `j` (0 = the function).

use super::analysis::{Body, Original, Point};
use super::segments::{FuncImport, FuncImports, SegmentOp};
use super::types::AddedTypes;
use crate::error::Error;
use std::borrow::Cow;
use wasm_encoder::Instruction;
use wasm_encoder::reencode::{Error as ReencodeError, Reencode};
use wasmparser::{FrameKind, Operator, ValType};

/// How a continuation starts.
pub(crate) struct Start<'p> {
    /// Index of the first operator to run.
    pub index: usize,
    /// The validator's view right before it.
    pub point: &'p Point,
    /// Height of the frame's operand stack there, callee results included.
    pub stack_len: usize,
    /// Number of values on top of the operand stack that come from the callee (a frame
    /// waiting on a call resumes after it with the results pushed).
    pub callee_results: usize,
}

/// Clone parameters, in order: the frame's locals, its operand stack, the callee's
/// results. Funcref locals and operands arrive as `i32` slots of the refs table.
pub(crate) struct Params {
    pub locals: Vec<ValType>,
    pub stack: Vec<ValType>,
    /// Index of the funcref table that maps slots to references.
    pub refs_table: u32,
}

impl Params {
    /// Number of clone parameters (the original locals come after them).
    pub(crate) fn count(&self) -> u32 {
        (self.locals.len() + self.stack.len()) as u32
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Block,
    Loop,
    Then,
    Else,
}

/// An enclosing construct of the start point.
#[derive(Debug, Clone, Copy)]
struct Open {
    kind: Kind,
    /// Op index of the `block`, `loop` or `if`.
    at: usize,
    /// Op index of its `else`, if any.
    else_at: Option<usize>,
    /// Op index of its `end`.
    end: usize,
}

/// Emits the clone body; returns the instructions and, for each, the byte offset in the
/// original module of the operator it was copied from (`None` for added code).
pub(crate) fn emit_clone<'a>(
    orig: &Original<'a>,
    body: &Body<'a>,
    start: &Start<'_>,
    params: &Params,
    types: &mut AddedTypes,
    imports: &mut FuncImports,
) -> Result<Vec<(Instruction<'a>, Option<u64>)>, Error> {
    let offset = body.ops.get(start.index).map_or(0, |(_, o)| *o);
    let opens = enclosing(&body.ops, start.index, offset)?;
    let levels = &start.point.levels;
    // Only the innermost level may be unreachable, at an `end` reached by branches
    // (see `Original::stack_at`, which the caller checked).
    let outer_dead = levels.iter().rev().skip(1).any(|l| l.unreachable);
    if levels.len() != opens.len() + 1 || outer_dead {
        return Err(Error::new(offset, "the frame's pc is in unreachable code"));
    }
    for (level, open) in levels[1..].iter().zip(&opens) {
        let same = matches!(
            (level.kind, open.kind),
            (FrameKind::Block, Kind::Block)
                | (FrameKind::Loop, Kind::Loop)
                | (FrameKind::If, Kind::Then)
                | (FrameKind::Else, Kind::Else)
        );
        if !same {
            return Err(Error::new(
                offset,
                "internal error: control structure mismatch",
            ));
        }
    }
    let mut e = Emitter {
        ops: &body.ops,
        imports,
        local_base: params.count() + start.callee_results as u32,
        level_label: vec![0],
        depth: 1,
        out: Vec::new(),
    };
    e.prologue(params);
    let stack_len = start.stack_len;
    let height = |j: usize| levels.get(j).map_or(stack_len, |l| l.height);
    e.push_segment(params, start, 0, height(1))?;
    for (j, open) in opens.iter().enumerate() {
        let level = j + 1;
        let (block_params, results) = block_type(orig, &body.ops[open.at].0, offset)?;
        let results = types.block(&[], &results, offset)?;
        if open.kind == Kind::Loop {
            e.open(Instruction::Block(results));
            e.level_label.push(e.depth);
            e.open(Instruction::Block(types.block(
                &[],
                &block_params,
                offset,
            )?));
        } else {
            e.level_label.push(e.depth);
            e.open(Instruction::Block(results));
        }
        e.push_segment(params, start, height(level), height(level + 1))?;
    }
    // The innermost level runs from the start point; every level then closes its
    // rebuilt construct and continues after it.
    let mut from = start.index;
    for (j, open) in opens.iter().enumerate().rev() {
        let level = j + 1;
        let stop = match open.kind {
            Kind::Then => open.else_at.unwrap_or(open.end),
            _ => open.end,
        };
        e.copy(from, stop, level)?;
        match open.kind {
            Kind::Loop => {
                // Falling off the end of the body leaves the loop; a branch to the loop
                // label lands after this block with the loop's parameters and runs the
                // whole loop again.
                e.out.push((Instruction::Br(1), None));
                e.close();
                e.level_label.pop();
                e.copy(open.at, open.end + 1, level - 1)?;
                e.close();
            }
            _ => {
                e.level_label.pop();
                e.close();
            }
        }
        from = open.end + 1;
    }
    let last = body.ops.len().saturating_sub(1);
    e.copy(from, last, 0)?;
    e.out.push((Instruction::End, None));
    Ok(e.out)
}

struct Emitter<'o, 'a> {
    ops: &'o [(Operator<'a>, u64)],
    imports: &'o mut FuncImports,
    /// The original function's local `i` is the clone's local `local_base + i`.
    local_base: u32,
    level_label: Vec<u32>,
    /// Labels open at the current point, the function's included.
    depth: u32,
    out: Vec<(Instruction<'a>, Option<u64>)>,
}

impl<'a> Emitter<'_, 'a> {
    fn open(&mut self, instr: Instruction<'a>) {
        self.out.push((instr, None));
        self.depth += 1;
    }

    fn close(&mut self) {
        self.out.push((Instruction::End, None));
        self.depth -= 1;
    }

    /// Moves the locals from the parameters into the original local numbering.
    fn prologue(&mut self, params: &Params) {
        for (i, ty) in params.locals.iter().enumerate() {
            self.param(i as u32, *ty, params.refs_table);
            self.out
                .push((Instruction::LocalSet(self.local_base + i as u32), None));
        }
    }

    /// Pushes operand-stack positions `from..to`: frame operands from parameters, the
    /// callee's results (the topmost `callee_results` positions) from theirs.
    fn push_segment(
        &mut self,
        params: &Params,
        start: &Start<'_>,
        from: usize,
        to: usize,
    ) -> Result<(), Error> {
        let nlocals = params.locals.len() as u32;
        for pos in from..to {
            if let Some(ty) = params.stack.get(pos) {
                self.param(nlocals + pos as u32, *ty, params.refs_table);
            } else if pos < params.stack.len() + start.callee_results {
                // Callee results arrive as the engine's own values, never as slots.
                self.out
                    .push((Instruction::LocalGet(nlocals + pos as u32), None));
            } else {
                return Err(Error::new(0, "internal error: operand stack overrun"));
            }
        }
        Ok(())
    }

    /// Pushes parameter `index` of type `ty`, turning a funcref slot into a reference.
    fn param(&mut self, index: u32, ty: ValType, refs_table: u32) {
        self.out.push((Instruction::LocalGet(index), None));
        if is_funcref(ty) {
            self.out.push((Instruction::TableGet(refs_table), None));
        }
    }

    /// Copies operators `from..to`, which lie directly in enclosing level `level`
    /// (balanced: every construct they open they also close).
    fn copy(&mut self, from: usize, to: usize, level: usize) -> Result<(), Error> {
        let mut nested: u32 = 0;
        for (op, offset) in &self.ops[from..to] {
            let offset = *offset;
            let map = |d: u32, nested: u32, depth: u32, labels: &[u32]| -> Result<u32, Error> {
                if d < nested {
                    return Ok(d);
                }
                let target = level
                    .checked_sub((d - nested) as usize)
                    .and_then(|t| labels.get(t))
                    .ok_or_else(|| Error::new(offset, "branch out of the function"))?;
                Ok(depth - 1 - target)
            };
            let instr = match op {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                    nested += 1;
                    self.depth += 1;
                    reencode(self.imports, op, offset)?
                }
                Operator::End => {
                    nested = nested
                        .checked_sub(1)
                        .ok_or_else(|| Error::new(offset, "internal error: unbalanced code"))?;
                    self.depth -= 1;
                    Instruction::End
                }
                Operator::Br { relative_depth } => {
                    Instruction::Br(map(*relative_depth, nested, self.depth, &self.level_label)?)
                }
                Operator::BrIf { relative_depth } => {
                    Instruction::BrIf(map(*relative_depth, nested, self.depth, &self.level_label)?)
                }
                Operator::BrTable { targets } => {
                    let mut mapped = Vec::with_capacity(targets.len() as usize);
                    for t in targets.targets() {
                        mapped.push(map(t?, nested, self.depth, &self.level_label)?);
                    }
                    let default = map(targets.default(), nested, self.depth, &self.level_label)?;
                    Instruction::BrTable(Cow::Owned(mapped), default)
                }
                Operator::LocalGet { local_index } => {
                    Instruction::LocalGet(self.local_base + local_index)
                }
                Operator::LocalSet { local_index } => {
                    Instruction::LocalSet(self.local_base + local_index)
                }
                Operator::LocalTee { local_index } => {
                    Instruction::LocalTee(self.local_base + local_index)
                }
                Operator::MemoryInit { .. }
                | Operator::DataDrop { .. }
                | Operator::TableInit { .. }
                | Operator::ElemDrop { .. } => {
                    let seg = SegmentOp::of(op, 0)
                        .ok_or_else(|| Error::new(offset, "internal error: segment op"))?;
                    Instruction::Call(self.imports.index(FuncImport::Segment(seg)))
                }
                _ => reencode(self.imports, op, offset)?,
            };
            self.out.push((instr, Some(offset)));
        }
        if nested != 0 {
            return Err(Error::new(0, "internal error: unbalanced code"));
        }
        Ok(())
    }
}

/// Copies an operator; function indices become the clones module's imports.
fn reencode<'a>(
    imports: &mut FuncImports,
    op: &Operator<'a>,
    offset: u64,
) -> Result<Instruction<'a>, Error> {
    Remap(imports)
        .instruction(op.clone())
        .map_err(|e| Error::new(offset, format!("cannot re-encode: {e}")))
}

/// Whether `ty` is a function reference (nullable or not, abstract or concrete: the
/// fast tier holds them all as `funcref`).
pub(crate) fn is_funcref(ty: ValType) -> bool {
    crate::abi::ValKind::from_wasm(ty) == Some(crate::abi::ValKind::FuncRef)
}

/// Parameters and results of the construct opened by `op`.
fn block_type(
    orig: &Original<'_>,
    op: &Operator<'_>,
    offset: u64,
) -> Result<(Vec<ValType>, Vec<ValType>), Error> {
    let ty = match op {
        Operator::Block { blockty } | Operator::Loop { blockty } | Operator::If { blockty } => {
            *blockty
        }
        _ => return Err(Error::new(offset, "internal error: not a construct")),
    };
    orig.block(ty)
        .ok_or_else(|| Error::new(offset, "unknown block type"))
}

/// The constructs enclosing operator `index`, outermost first.
fn enclosing(ops: &[(Operator<'_>, u64)], index: usize, offset: u64) -> Result<Vec<Open>, Error> {
    let mut stack: Vec<(usize, Option<usize>)> = Vec::new();
    for (i, (op, _)) in ops.iter().enumerate().take(index) {
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                stack.push((i, None));
            }
            Operator::Else => {
                if let Some(top) = stack.last_mut() {
                    top.1 = Some(i);
                }
            }
            Operator::End => {
                stack.pop();
            }
            _ => {}
        }
    }
    let mut opens = Vec::with_capacity(stack.len());
    for (at, else_seen) in stack {
        let (else_at, end) = matching(ops, at)
            .ok_or_else(|| Error::new(offset, "internal error: unterminated construct"))?;
        let kind = match ops[at].0 {
            Operator::Block { .. } => Kind::Block,
            Operator::Loop { .. } => Kind::Loop,
            _ if else_seen.is_some() => Kind::Else,
            _ => Kind::Then,
        };
        opens.push(Open {
            kind,
            at,
            else_at,
            end,
        });
    }
    Ok(opens)
}

/// The `else` (if any) and `end` of the construct opened at op `at`.
fn matching(ops: &[(Operator<'_>, u64)], at: usize) -> Option<(Option<usize>, usize)> {
    let mut depth = 0usize;
    let mut else_at = None;
    for (i, (op, _)) in ops.iter().enumerate().skip(at + 1) {
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => depth += 1,
            Operator::Else if depth == 0 => else_at = Some(i),
            Operator::End if depth == 0 => return Some((else_at, i)),
            Operator::End => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Renumbers function indices into the clones module's imports; nothing else moves.
struct Remap<'i>(&'i mut FuncImports);

impl Reencode for Remap<'_> {
    type Error = Error;

    fn function_index(&mut self, func: u32) -> Result<u32, ReencodeError<Error>> {
        Ok(self.0.index(FuncImport::Func(func)))
    }
}
