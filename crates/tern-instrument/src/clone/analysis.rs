//! What the clone generator needs to know about the original module: its types, the
//! shapes of its memories, tables and globals, and — for every function a frame is in —
//! its operators and the validator's view (control frames, operand types) at each point
//! where a continuation starts.

use crate::error::Error;
use crate::module::supported_features;
use std::collections::{BTreeSet, HashMap};
use wasmparser::{
    CompositeInnerType, FrameKind, FuncType, GlobalType, MemoryType, Operator, Parser, Payload,
    TableType, TypeRef, ValType, ValidPayload, Validator,
};

/// One enclosing control frame at a continuation point, as the validator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Level {
    pub kind: FrameKind,
    /// Operand-stack height at which the construct starts (below its parameters).
    pub height: usize,
    /// Whether the code at the point is unreachable at this level.
    pub unreachable: bool,
    /// The construct's type (the function's type for the outermost level).
    pub block_type: wasmparser::BlockType,
}

/// The validator's view right before operator `index` of a body.
#[derive(Debug, Clone)]
pub(crate) struct Point {
    /// Every open control frame, outermost (the function body) first.
    pub levels: Vec<Level>,
    /// Types of the whole operand stack, bottom first; `None` for an operand of no
    /// particular type (unreachable code).
    pub stack: Vec<Option<ValType>>,
}

/// One defined function of the original module.
#[derive(Debug)]
pub(crate) struct Body<'a> {
    /// Every local, parameters first.
    pub locals: Vec<ValType>,
    pub ops: Vec<(Operator<'a>, u64)>,
    /// Op index of each operator's byte offset.
    pub index_of: HashMap<u64, usize>,
    /// The validator's view at each requested op index.
    pub points: HashMap<usize, Point>,
}

/// The original module, as far as clones need it.
#[derive(Debug, Default)]
pub(crate) struct Original<'a> {
    /// Function types by type index; `None` for other composite types.
    pub types: Vec<Option<FuncType>>,
    /// Type index of every function, imports first.
    pub func_types: Vec<u32>,
    pub imported_funcs: u32,
    pub memories: Vec<MemoryType>,
    pub tables: Vec<TableType>,
    pub globals: Vec<GlobalType>,
    /// The defined functions that were asked for, by function index.
    pub bodies: HashMap<u32, Body<'a>>,
}

impl<'a> Original<'a> {
    /// Parses and validates `bytes`. For every `(function, pc, after)` in `wanted`, the
    /// body of `function` is kept with the validator's view right before the operator
    /// at `pc` (`after == false`) or right after it (`after == true`).
    pub(crate) fn parse(
        bytes: &'a [u8],
        wanted: &BTreeSet<(u32, u32, bool)>,
    ) -> Result<Original<'a>, Error> {
        let mut this = Original::default();
        let mut validator = Validator::new_with_features(supported_features());
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload?;
            let valid = validator.payload(&payload)?;
            this.read_section(&payload)?;
            if let ValidPayload::Func(to_validate, body) = valid {
                let func = to_validate.index;
                let pcs: Vec<(u32, bool)> = wanted
                    .range((func, 0, false)..=(func, u32::MAX, true))
                    .map(|&(_, pc, after)| (pc, after))
                    .collect();
                if pcs.is_empty() {
                    continue;
                }
                let params = this
                    .func_sig(func)
                    .map(|s| s.params().to_vec())
                    .unwrap_or_default();
                let validator = to_validate.into_validator(Default::default());
                let body = read_body(validator, &body, params, &pcs)?;
                this.bodies.insert(func, body);
            }
        }
        Ok(this)
    }

    fn read_section(&mut self, payload: &Payload<'a>) -> Result<(), Error> {
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader.clone() {
                    for sub in group?.into_types() {
                        self.types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(f.clone()),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports() {
                    match import?.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            self.func_types.push(t);
                            self.imported_funcs += 1;
                        }
                        TypeRef::Memory(m) => self.memories.push(m),
                        TypeRef::Table(t) => self.tables.push(t),
                        TypeRef::Global(g) => self.globals.push(g),
                        TypeRef::Tag(_) => {}
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader.clone() {
                    self.func_types.push(t?);
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader.clone() {
                    self.memories.push(m?);
                }
            }
            Payload::TableSection(reader) => {
                for t in reader.clone() {
                    self.tables.push(t?.ty);
                }
            }
            Payload::GlobalSection(reader) => {
                for g in reader.clone() {
                    self.globals.push(g?.ty);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The signature of function `func`.
    pub(crate) fn func_sig(&self, func: u32) -> Option<&FuncType> {
        let ty = *self.func_types.get(func as usize)?;
        self.signature(ty)
    }

    /// The function type at type index `ty`.
    pub(crate) fn signature(&self, ty: u32) -> Option<&FuncType> {
        self.types.get(ty as usize)?.as_ref()
    }

    /// The operand stack a frame must have right before operator `index` of `body`.
    ///
    /// In reachable code that is the validator's. The one point in unreachable code a
    /// frame can be at is the `end` of a `block`, `if` or the function right after
    /// an unconditional branch: the end is reached by branches to the construct's
    /// label, which leave the values below the construct and its results.
    pub(crate) fn stack_at(&self, body: &Body<'_>, index: usize) -> Result<Vec<ValType>, Error> {
        let offset = body.ops.get(index).map_or(0, |(_, o)| *o);
        let dead = || Error::new(offset, "the frame's pc is in unreachable code");
        let point = body
            .points
            .get(&index)
            .ok_or_else(|| Error::new(offset, "the frame's pc is past the end of its function"))?;
        let Some((inner, outer)) = point.levels.split_last() else {
            return Err(dead());
        };
        if outer.iter().any(|l| l.unreachable) {
            return Err(dead());
        }
        if !inner.unreachable {
            return point.stack.iter().map(|t| t.ok_or_else(dead)).collect();
        }
        let at_end = matches!(body.ops.get(index), Some((Operator::End, _)));
        if !at_end || inner.kind == FrameKind::Loop {
            return Err(dead());
        }
        let below = point.stack.get(..inner.height).ok_or_else(dead)?;
        let mut stack: Vec<ValType> = below
            .iter()
            .map(|t| t.ok_or_else(dead))
            .collect::<Result<_, _>>()?;
        let (_, results) = self
            .block(inner.block_type)
            .ok_or_else(|| Error::new(offset, "unknown block type"))?;
        stack.extend(results);
        Ok(stack)
    }

    /// Parameters and results of a block type.
    pub(crate) fn block(&self, ty: wasmparser::BlockType) -> Option<(Vec<ValType>, Vec<ValType>)> {
        Some(match ty {
            wasmparser::BlockType::Empty => (Vec::new(), Vec::new()),
            wasmparser::BlockType::Type(t) => (Vec::new(), vec![t]),
            wasmparser::BlockType::FuncType(index) => {
                let sig = self.signature(index)?;
                (sig.params().to_vec(), sig.results().to_vec())
            }
        })
    }
}

/// Reads a body's locals and operators, validating it, and records the validator's view
/// at the requested points.
fn read_body<'a>(
    mut validator: wasmparser::FuncValidator<wasmparser::ValidatorResources>,
    body: &wasmparser::FunctionBody<'a>,
    params: Vec<ValType>,
    pcs: &[(u32, bool)],
) -> Result<Body<'a>, Error> {
    let mut locals = params;
    let mut reader = body.get_locals_reader()?;
    for _ in 0..reader.get_count() {
        let offset = reader.original_position();
        let (count, ty) = reader.read()?;
        validator.define_locals(offset, count, ty)?;
        locals.extend(std::iter::repeat_n(ty, count as usize));
    }
    let mut ops = Vec::new();
    let mut reader = body.get_operators_reader()?;
    while !reader.eof() {
        ops.push(reader.read_with_offset()?);
    }
    reader.finish()?;
    let index_of: HashMap<u64, usize> = ops.iter().enumerate().map(|(i, (_, o))| (*o, i)).collect();
    // Op indices whose view is wanted; a pc that is not an instruction boundary is
    // reported by the caller, which finds it missing from `index_of`.
    let mut want: BTreeSet<usize> = BTreeSet::new();
    for &(pc, after) in pcs {
        if let Some(&i) = index_of.get(&u64::from(pc)) {
            want.insert(i + usize::from(after));
        }
    }
    let mut points = HashMap::new();
    for (i, (op, offset)) in ops.iter().enumerate() {
        if want.contains(&i) {
            points.insert(i, view(&validator));
        }
        validator.op(*offset, op)?;
    }
    Ok(Body {
        locals,
        ops,
        index_of,
        points,
    })
}

fn view(validator: &wasmparser::FuncValidator<wasmparser::ValidatorResources>) -> Point {
    let depth = validator.control_stack_height() as usize;
    let levels = (0..depth)
        .rev()
        .filter_map(|d| validator.get_control_frame(d))
        .map(|f| Level {
            kind: f.kind,
            height: f.height,
            unreachable: f.unreachable,
            block_type: f.block_type,
        })
        .collect();
    let height = validator.operand_stack_height() as usize;
    let stack = (0..height)
        .map(|pos| validator.get_operand_type(height - 1 - pos).flatten())
        .collect();
    Point { levels, stack }
}
