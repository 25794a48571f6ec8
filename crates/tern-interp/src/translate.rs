//! Translation of one validated function body into internal code ([`FuncCode`]).
//!
//! The validator runs in lock-step with translation: it checks each operator and tells
//! us the operand-stack height, which — because every value takes one slot — is exactly
//! what branch `drop`/`keep` counts need. Code after an unconditional transfer is not
//! emitted, so internal code never contains unreachable instructions.

use crate::code::{FuncCode, Instr, LoadKind, StoreKind, Target};
use crate::error::CompileError;
use crate::module::ModuleInner;
use crate::simd::{self, SimdOp};
use crate::strict;
use crate::types::ValType;
use wasmparser::{
    BlockType, FuncValidator, FunctionBody, Operator, ValidatorResources, WasmFeatures,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Func,
    Block,
    Loop,
    If,
    Else,
}

/// A place in the code that must learn a block's end once it is known.
#[derive(Debug, Clone, Copy)]
enum Patch {
    Code(usize),
    Table(usize),
}

#[derive(Debug)]
struct Ctrl {
    kind: Kind,
    /// Operand height below the block's parameters.
    height: u32,
    params: u32,
    results: u32,
    /// Code index of a loop's first instruction.
    start: u32,
    /// Forward branches to the block's end.
    patches: Vec<Patch>,
    /// The `BrIfEqz` of an `if`, until its `else` or `end` is seen.
    if_jump: Option<usize>,
    entry_reachable: bool,
    reachable: bool,
    targeted: bool,
}

impl Ctrl {
    fn label_arity(&self) -> u32 {
        if self.kind == Kind::Loop {
            self.params
        } else {
            self.results
        }
    }
}

struct Translator<'m> {
    module: &'m ModuleInner,
    out: FuncCode,
    ctrl: Vec<Ctrl>,
    /// Operand-stack height before the operator being translated.
    height: u32,
    /// `heights[i]`: the operand-stack height before `out.code[i]` runs.
    heights: Vec<u32>,
}

pub(crate) fn translate_function(
    module: &ModuleInner,
    validator: &mut FuncValidator<ValidatorResources>,
    body: &FunctionBody<'_>,
) -> Result<FuncCode, CompileError> {
    let func_index = module.imported_funcs + module.code.len() as u32;
    let ty = module.func_type(func_index);
    let mut local_types = ty.params.clone();
    let mut locals_reader = body.get_locals_reader()?;
    for _ in 0..locals_reader.get_count() {
        let offset = locals_reader.original_position();
        let (count, ty) = locals_reader.read()?;
        validator.define_locals(offset, count, ty)?;
        local_types.extend(std::iter::repeat_n(ValType::from_wasm(ty), count as usize));
    }
    let mut reader = body.get_operators_reader()?;
    let mut t = Translator {
        module,
        out: FuncCode {
            params: ty.params.len() as u32,
            locals: local_types.len() as u32,
            results: ty.results.len() as u32,
            local_types,
            body: body.range().start as usize..body.range().end as usize,
            ..FuncCode::default()
        },
        ctrl: vec![Ctrl {
            kind: Kind::Func,
            height: 0,
            params: 0,
            results: ty.results.len() as u32,
            start: 0,
            patches: Vec::new(),
            if_jump: None,
            entry_reachable: true,
            reachable: true,
            targeted: false,
        }],
        height: 0,
        heights: Vec::new(),
    };
    while !reader.eof() {
        let (op, offset) = reader.read_with_offset()?;
        let height = validator.operand_stack_height();
        validator.op(offset, &op)?;
        t.out.max_height = t.out.max_height.max(validator.operand_stack_height());
        t.height = height;
        t.operator(op, offset as u32, height)
            .map_err(|message| CompileError {
                offset: offset as usize,
                message,
            })?;
    }
    reader.finish()?;
    let mut fast = t.out.code.clone();
    let fused = crate::fuse::fuse(&mut fast);
    crate::regfold::fold(&t.out.code, &t.heights, t.out.locals, &fused, &mut fast);
    #[cfg(tern_threaded)]
    {
        let mut reg = t.out.code.clone();
        crate::regfold::fold_all(&t.out.code, &t.heights, t.out.locals, &mut reg);
        t.out.threaded = crate::exec::threaded::build(&t.out.code, &reg, &t.out.br_tables);
    }
    t.out.fast = fast;
    Ok(t.out)
}

impl Translator<'_> {
    fn top(&mut self) -> &mut Ctrl {
        self.ctrl
            .last_mut()
            .expect("the function frame is never popped early")
    }

    fn emit(&mut self, instr: Instr, offset: u32) {
        self.out.code.push(instr);
        self.out.offsets.push(offset);
        self.heights.push(self.height);
    }

    fn here(&self) -> u32 {
        self.out.code.len() as u32
    }

    fn block_arity(&self, ty: BlockType) -> (u32, u32) {
        match ty {
            BlockType::Empty => (0, 0),
            BlockType::Type(_) => (0, 1),
            BlockType::FuncType(t) => {
                let ty = &self.module.types[t as usize];
                (ty.params.len() as u32, ty.results.len() as u32)
            }
        }
    }

    fn push_ctrl(&mut self, kind: Kind, ty: BlockType, height: u32) {
        let (params, results) = self.block_arity(ty);
        let reachable = self.top().reachable;
        self.ctrl.push(Ctrl {
            kind,
            height: height - params,
            params,
            results,
            start: self.here(),
            patches: Vec::new(),
            if_jump: None,
            entry_reachable: reachable,
            reachable,
            targeted: false,
        });
    }

    /// The branch to label `depth` from operand height `height`; registers the patch
    /// location `patch` for forward branches.
    fn target(&mut self, depth: u32, height: u32, patch: Patch) -> Target {
        let index = self.ctrl.len() - 1 - depth as usize;
        let label = &mut self.ctrl[index];
        label.targeted = true;
        let keep = label.label_arity();
        let drop = height - label.height - keep;
        let to = if label.kind == Kind::Loop {
            label.start
        } else {
            label.patches.push(patch);
            u32::MAX
        };
        Target { to, drop, keep }
    }

    fn patch_to_here(&mut self, patches: &[Patch]) {
        let here = self.here();
        for patch in patches {
            match *patch {
                Patch::Code(at) => match &mut self.out.code[at] {
                    Instr::Br(t) | Instr::BrIf(t) => t.to = here,
                    Instr::BrIfEqz(to) => *to = here,
                    other => unreachable!("patching {other:?}"),
                },
                Patch::Table(at) => self.out.br_tables[at].to = here,
            }
        }
    }

    fn end_block(&mut self, offset: u32) {
        let frame = self.ctrl.pop().expect("validated nesting");
        if frame.kind == Kind::Func {
            if frame.reachable || frame.targeted {
                self.patch_to_here(&frame.patches);
                self.emit(Instr::Return, offset);
            }
            return;
        }
        if let Some(jump) = frame.if_jump {
            self.patch_to_here(&[Patch::Code(jump)]);
        }
        self.patch_to_here(&frame.patches);
        let falls_through = frame.reachable || frame.targeted || frame.if_jump.is_some();
        self.top().reachable = frame.entry_reachable && falls_through;
    }

    fn is_v128_local(&self, index: u32) -> bool {
        self.out.local_types.get(index as usize) == Some(&ValType::V128)
    }

    fn mem(&self, memarg: &wasmparser::MemArg) -> (u32, u32) {
        // Only 32-bit memories are supported, so validation bounds the offset.
        let wasmparser::MemArgTarget::Memory(mem) = memarg.target else {
            unreachable!("validation refuses GC array accesses")
        };
        (mem, memarg.offset as u32)
    }

    fn operator(&mut self, op: Operator<'_>, offset: u32, height: u32) -> Result<(), String> {
        // In dead code only the block structure matters.
        if !self.top().reachable {
            match op {
                Operator::Block { blockty }
                | Operator::Loop { blockty }
                | Operator::If { blockty } => {
                    let (params, _) = self.block_arity(blockty);
                    self.push_ctrl(Kind::Block, blockty, height.max(params));
                }
                Operator::Else => {
                    let frame = self.top();
                    if frame.entry_reachable {
                        let jump = frame.if_jump.take();
                        frame.kind = Kind::Else;
                        frame.reachable = true;
                        if let Some(jump) = jump {
                            self.patch_to_here(&[Patch::Code(jump)]);
                        }
                    }
                }
                Operator::End => self.end_block(offset),
                _ => {}
            }
            return Ok(());
        }
        macro_rules! simple {
            ($($name:ident)*) => {
                match op {
                    $(Operator::$name => { self.emit(Instr::$name, offset); return Ok(()); })*
                    _ => {}
                }
            };
        }
        macro_rules! memory0 {
            ($($name:ident => $kind:ident)*) => {
                match op {
                    $(Operator::$name { memarg } => {
                        let (mem, offset_imm) = self.mem(&memarg);
                        let instr = if mem == 0 { Instr::$name(offset_imm) } else { Self::$kind(stringify!($name), mem, offset_imm) };
                        self.emit(instr, offset);
                        return Ok(());
                    })*
                    _ => {}
                }
            };
        }
        simple! {
            I32Eqz I32Eq I32Ne I32LtS I32LtU I32GtS I32GtU I32LeS I32LeU I32GeS I32GeU
            I32Clz I32Ctz I32Popcnt I32Add I32Sub I32Mul I32DivS I32DivU I32RemS I32RemU
            I32And I32Or I32Xor I32Shl I32ShrS I32ShrU I32Rotl I32Rotr
            I64Eqz I64Eq I64Ne I64LtS I64LtU I64GtS I64GtU I64LeS I64LeU I64GeS I64GeU
            I64Clz I64Ctz I64Popcnt I64Add I64Sub I64Mul I64DivS I64DivU I64RemS I64RemU
            I64And I64Or I64Xor I64Shl I64ShrS I64ShrU I64Rotl I64Rotr
            F32Eq F32Ne F32Lt F32Gt F32Le F32Ge
            F32Abs F32Neg F32Ceil F32Floor F32Trunc F32Nearest F32Sqrt
            F32Add F32Sub F32Mul F32Div F32Min F32Max F32Copysign
            F64Eq F64Ne F64Lt F64Gt F64Le F64Ge
            F64Abs F64Neg F64Ceil F64Floor F64Trunc F64Nearest F64Sqrt
            F64Add F64Sub F64Mul F64Div F64Min F64Max F64Copysign
            I32WrapI64 I32TruncF32S I32TruncF32U I32TruncF64S I32TruncF64U
            I64ExtendI32S I64ExtendI32U I64TruncF32S I64TruncF32U I64TruncF64S I64TruncF64U
            F32ConvertI32S F32ConvertI32U F32ConvertI64S F32ConvertI64U F32DemoteF64
            F64ConvertI32S F64ConvertI32U F64ConvertI64S F64ConvertI64U F64PromoteF32
            I32ReinterpretF32 I64ReinterpretF64 F32ReinterpretI32 F64ReinterpretI64
            I32Extend8S I32Extend16S I64Extend8S I64Extend16S I64Extend32S
            I32TruncSatF32S I32TruncSatF32U I32TruncSatF64S I32TruncSatF64U
            I64TruncSatF32S I64TruncSatF32U I64TruncSatF64S I64TruncSatF64U
            Drop Select RefIsNull
        }
        memory0! {
            I32Load => load I64Load => load F32Load => load F64Load => load
            I32Load8S => load I32Load8U => load I32Load16S => load I32Load16U => load
            I64Load8S => load I64Load8U => load I64Load16S => load I64Load16U => load
            I64Load32S => load I64Load32U => load
            I32Store => store I64Store => store F32Store => store F64Store => store
            I32Store8 => store I32Store16 => store I64Store8 => store I64Store16 => store
            I64Store32 => store
        }
        let instr = match op {
            Operator::Unreachable => {
                self.top().reachable = false;
                Instr::Unreachable
            }
            Operator::Nop => {
                self.elide(offset);
                return Ok(());
            }
            Operator::Block { blockty } => {
                self.elide(offset);
                self.push_ctrl(Kind::Block, blockty, height);
                return Ok(());
            }
            Operator::Loop { blockty } => {
                self.elide(offset);
                self.push_ctrl(Kind::Loop, blockty, height);
                return Ok(());
            }
            Operator::If { blockty } => {
                let jump = self.out.code.len();
                self.emit(Instr::BrIfEqz(u32::MAX), offset);
                self.push_ctrl(Kind::If, blockty, height - 1);
                self.top().if_jump = Some(jump);
                return Ok(());
            }
            Operator::Else => {
                let at = self.out.code.len();
                self.emit(
                    Instr::Br(Target {
                        to: u32::MAX,
                        drop: 0,
                        keep: 0,
                    }),
                    offset,
                );
                let frame = self.top();
                // The then-branch falls through to the end, so the end is reached.
                frame.patches.push(Patch::Code(at));
                frame.targeted = true;
                frame.kind = Kind::Else;
                frame.reachable = frame.entry_reachable;
                let jump = frame.if_jump.take().expect("else follows if");
                self.patch_to_here(&[Patch::Code(jump)]);
                return Ok(());
            }
            Operator::End => {
                let is_func = self.ctrl.len() == 1;
                if !is_func {
                    self.elide(offset);
                }
                self.end_block(offset);
                return Ok(());
            }
            Operator::Br { relative_depth } => {
                self.top().reachable = false;
                if relative_depth as usize == self.ctrl.len() - 1 {
                    Instr::Return
                } else {
                    let at = self.out.code.len();
                    Instr::Br(self.target(relative_depth, height, Patch::Code(at)))
                }
            }
            Operator::BrIf { relative_depth } => {
                let at = self.out.code.len();
                Instr::BrIf(self.target(relative_depth, height - 1, Patch::Code(at)))
            }
            Operator::BrTable { targets } => {
                let at = self.out.br_tables.len() as u32;
                let depths: Vec<u32> = targets
                    .targets()
                    .chain(std::iter::once(Ok(targets.default())))
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.message().to_string())?;
                for depth in &depths {
                    let slot = self.out.br_tables.len();
                    let target = self.target(*depth, height - 1, Patch::Table(slot));
                    self.out.br_tables.push(target);
                }
                self.top().reachable = false;
                Instr::BrTable {
                    at,
                    len: depths.len() as u32,
                }
            }
            Operator::Return => {
                self.top().reachable = false;
                Instr::Return
            }
            Operator::Call { function_index } => Instr::Call(function_index),
            Operator::CallIndirect {
                type_index,
                table_index,
            } => Instr::CallIndirect {
                ty: type_index,
                table: table_index,
            },
            Operator::ReturnCall { function_index } => {
                self.top().reachable = false;
                Instr::ReturnCall(function_index)
            }
            Operator::ReturnCallIndirect {
                type_index,
                table_index,
            } => {
                self.top().reachable = false;
                Instr::ReturnCallIndirect {
                    ty: type_index,
                    table: table_index,
                }
            }
            Operator::TypedSelect { .. } => Instr::Select,
            Operator::LocalGet { local_index } if self.is_v128_local(local_index) => {
                Instr::LocalGetV128(local_index)
            }
            Operator::LocalSet { local_index } if self.is_v128_local(local_index) => {
                Instr::LocalSetV128(local_index)
            }
            Operator::LocalTee { local_index } if self.is_v128_local(local_index) => {
                Instr::LocalTeeV128(local_index)
            }
            Operator::LocalGet { local_index } => Instr::LocalGet(local_index),
            Operator::LocalSet { local_index } => Instr::LocalSet(local_index),
            Operator::LocalTee { local_index } => Instr::LocalTee(local_index),
            Operator::GlobalGet { global_index } => Instr::GlobalGet(global_index),
            Operator::GlobalSet { global_index } => Instr::GlobalSet(global_index),
            Operator::TableGet { table } => Instr::TableGet(table),
            Operator::TableSet { table } => Instr::TableSet(table),
            Operator::TableSize { table } => Instr::TableSize(table),
            Operator::TableGrow { table } => Instr::TableGrow(table),
            Operator::TableFill { table } => Instr::TableFill(table),
            Operator::TableCopy {
                dst_table,
                src_table,
            } => Instr::TableCopy {
                dst: dst_table,
                src: src_table,
            },
            Operator::TableInit { elem_index, table } => Instr::TableInit {
                table,
                elem: elem_index,
            },
            Operator::ElemDrop { elem_index } => Instr::ElemDrop(elem_index),
            Operator::RefNull { .. } => Instr::RefNull,
            Operator::RefFunc { function_index } => Instr::RefFunc(function_index),
            Operator::MemorySize { mem } => {
                self.check_reserved_zero(offset)?;
                Instr::MemorySize(mem)
            }
            Operator::MemoryGrow { mem } => {
                self.check_reserved_zero(offset)?;
                Instr::MemoryGrow(mem)
            }
            Operator::MemoryInit { data_index, mem } => Instr::MemoryInit {
                mem,
                data: data_index,
            },
            Operator::DataDrop { data_index } => Instr::DataDrop(data_index),
            Operator::MemoryCopy { dst_mem, src_mem } => Instr::MemoryCopy {
                dst: dst_mem,
                src: src_mem,
            },
            Operator::MemoryFill { mem } => Instr::MemoryFill(mem),
            Operator::I32Const { value } => Instr::I32Const(value as u32),
            Operator::I64Const { value } => Instr::I64Const(value as u64),
            Operator::F32Const { value } => Instr::F32Const(value.bits()),
            Operator::F64Const { value } => Instr::F64Const(value.bits()),
            Operator::V128Const { value } => {
                Instr::V128Const(self.pool(u128::from_le_bytes(*value.bytes())))
            }
            Operator::I8x16Shuffle { lanes } => {
                Instr::SimdShuffle(self.pool(u128::from_le_bytes(lanes)))
            }
            Operator::V128Store { memarg } => {
                let (mem, offset) = self.mem(&memarg);
                Instr::V128Store { mem, offset }
            }
            Operator::V128Load8Lane { memarg, lane } => self.lane(Lane::Load, 8, &memarg, lane),
            Operator::V128Load16Lane { memarg, lane } => self.lane(Lane::Load, 16, &memarg, lane),
            Operator::V128Load32Lane { memarg, lane } => self.lane(Lane::Load, 32, &memarg, lane),
            Operator::V128Load64Lane { memarg, lane } => self.lane(Lane::Load, 64, &memarg, lane),
            Operator::V128Store8Lane { memarg, lane } => self.lane(Lane::Store, 8, &memarg, lane),
            Operator::V128Store16Lane { memarg, lane } => self.lane(Lane::Store, 16, &memarg, lane),
            Operator::V128Store32Lane { memarg, lane } => self.lane(Lane::Store, 32, &memarg, lane),
            Operator::V128Store64Lane { memarg, lane } => self.lane(Lane::Store, 64, &memarg, lane),
            ref other => {
                if let Some((shape, memarg)) = simd::load_shape(other) {
                    let (mem, offset) = self.mem(&memarg);
                    Instr::V128Load { shape, mem, offset }
                } else {
                    match simd::classify(other) {
                        Some(SimdOp::Unary(op)) => Instr::SimdUnary(op),
                        Some(SimdOp::Binary(op)) => Instr::SimdBinary(op),
                        Some(SimdOp::Ternary(op)) => Instr::SimdTernary(op),
                        Some(SimdOp::Shuffle(lanes)) => {
                            Instr::SimdShuffle(self.pool(u128::from_le_bytes(lanes)))
                        }
                        Some(SimdOp::Splat(op)) => Instr::SimdSplat(op),
                        Some(SimdOp::ExtractLane(op, lane)) => Instr::SimdExtractLane(op, lane),
                        Some(SimdOp::ReplaceLane(op, lane)) => Instr::SimdReplaceLane(op, lane),
                        Some(SimdOp::Shift(op)) => Instr::SimdShift(op),
                        Some(SimdOp::Test(op)) => Instr::SimdTest(op),
                        None => return Err(format!("unsupported instruction {other:?}")),
                    }
                }
            }
        };
        self.emit(instr, offset);
        Ok(())
    }

    fn check_reserved_zero(&self, offset: u32) -> Result<(), String> {
        let features = self
            .module
            .validation
            .as_ref()
            .map_or(WasmFeatures::empty(), |v| v.1);
        strict::check_reserved_zero(&self.module.bytes, features, offset as usize)
    }

    /// Records that a reachable instruction at `offset` emits no code.
    fn elide(&mut self, offset: u32) {
        let here = self.here();
        self.out.elided.push((offset, here));
    }

    fn pool(&mut self, value: u128) -> u32 {
        self.out.v128_pool.push(value);
        self.out.v128_pool.len() as u32 - 1
    }

    fn lane(&self, dir: Lane, width: u8, memarg: &wasmparser::MemArg, lane: u8) -> Instr {
        let (mem, offset) = self.mem(memarg);
        match dir {
            Lane::Load => Instr::V128LoadLane {
                width,
                lane,
                mem,
                offset,
            },
            Lane::Store => Instr::V128StoreLane {
                width,
                lane,
                mem,
                offset,
            },
        }
    }

    fn load(name: &str, mem: u32, offset: u32) -> Instr {
        let kind = match name {
            "I32Load" => LoadKind::I32,
            "I64Load" => LoadKind::I64,
            "F32Load" => LoadKind::F32,
            "F64Load" => LoadKind::F64,
            "I32Load8S" => LoadKind::I32S8,
            "I32Load8U" => LoadKind::I32U8,
            "I32Load16S" => LoadKind::I32S16,
            "I32Load16U" => LoadKind::I32U16,
            "I64Load8S" => LoadKind::I64S8,
            "I64Load8U" => LoadKind::I64U8,
            "I64Load16S" => LoadKind::I64S16,
            "I64Load16U" => LoadKind::I64U16,
            "I64Load32S" => LoadKind::I64S32,
            _ => LoadKind::I64U32,
        };
        Instr::Load { kind, mem, offset }
    }

    fn store(name: &str, mem: u32, offset: u32) -> Instr {
        let kind = match name {
            "I32Store" => StoreKind::I32,
            "I64Store" => StoreKind::I64,
            "F32Store" => StoreKind::F32,
            "F64Store" => StoreKind::F64,
            "I32Store8" => StoreKind::I32As8,
            "I32Store16" => StoreKind::I32As16,
            "I64Store8" => StoreKind::I64As8,
            "I64Store16" => StoreKind::I64As16,
            _ => StoreKind::I64As32,
        };
        Instr::Store { kind, mem, offset }
    }
}

enum Lane {
    Load,
    Store,
}
