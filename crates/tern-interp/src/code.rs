//! The interpreter's internal code: one [`Instr`] per executed Wasm instruction, with
//! branch targets resolved and immediates decoded. `block`, `loop`, `nop` and the `end`
//! of a block are not emitted: they do nothing at run time.
//!
//! Every value occupies one 16-byte stack slot; scalars live in the low bits. Each
//! function's locals sit at the bottom of its frame, followed by its operand stack.

use crate::simd::{
    BinaryOp, ExtractOp, LoadShape, ReplaceOp, ShiftOp, SplatOp, TernaryOp, TestOp, UnaryOp,
};
use crate::types::ValType;

/// A resolved branch: jump to `to`, keeping the top `keep` slots and discarding the
/// `drop` slots beneath them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    pub to: u32,
    pub drop: u32,
    pub keep: u32,
}

/// Scalar memory loads, for memories other than memory 0 (which has dedicated opcodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoadKind {
    I32,
    I64,
    F32,
    F64,
    I32S8,
    I32U8,
    I32S16,
    I32U16,
    I64S8,
    I64U8,
    I64S16,
    I64U16,
    I64S32,
    I64U32,
}

/// Scalar memory stores, for memories other than memory 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreKind {
    I32,
    I64,
    F32,
    F64,
    I32As8,
    I32As16,
    I64As8,
    I64As16,
    I64As32,
}

/// A 32-bit immediate stored as two halves, so that the register forms below stay
/// 2-byte aligned and fit beside a 2-byte tag in 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Imm32([u16; 2]);

impl Imm32 {
    pub fn new(value: u32) -> Self {
        Imm32([value as u16, (value >> 16) as u16])
    }

    #[inline(always)]
    pub fn get(self) -> u32 {
        u32::from(self.0[0]) | (u32::from(self.0[1]) << 16)
    }
}

// Register forms (see `regfold.rs`). Operands are frame slots (locals first, then the
// operand stack), so a sequence such as `local.get a; local.get b; i32.add; local.set
// x` is one instruction. A slot is named by its distance in bytes below the operand
// stack's end when the form starts (the stack height is static, so locals are at fixed
// distances too): the loop keeps that end in a register. Every form says how far the
// stack's end moves (`sp`, bytes) and how many more plain instructions it covers
// (`skip`, in bytes of code); `at` is where the instruction that may trap is, for the
// backtrace.

/// `tee = op(a, b)` and `dst = op(a, b)`; `tee == dst` unless a `local.tee` was folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reg3 {
    pub dst: u16,
    pub tee: u16,
    pub a: u16,
    pub b: u16,
    pub sp: i16,
    pub skip: u8,
    pub at: u8,
}

/// `dst = op(a, imm)`. The immediate is sign-extended for 64-bit integer operators; for
/// float operators it holds an `f32`'s bits, widened for `f64` operators (so only `f64`
/// constants that an `f32` represents exactly are folded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RegImm {
    pub dst: u16,
    pub tee: u16,
    pub a: u16,
    pub sp: i16,
    pub skip: u8,
    pub at: u8,
    pub imm: Imm32,
}

/// Branch to `to` when `cmp(a, b) != neg`; the branch moves no values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RegBr {
    pub a: u16,
    pub b: u16,
    pub sp: i16,
    pub skip: u8,
    pub neg: bool,
    pub to: Imm32,
}

/// Branch to `to` when `cmp(a, imm) != neg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RegBrImm {
    pub a: u16,
    pub sp: i16,
    pub skip: u8,
    pub neg: bool,
    pub imm: Imm32,
    pub to: Imm32,
}

/// `dst = op(a)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reg2 {
    pub dst: u16,
    pub tee: u16,
    pub a: u16,
    pub sp: i16,
    pub skip: u8,
    pub at: u8,
}

/// `dst = load(addr + offset)` from memory 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RegMem {
    pub dst: u16,
    pub tee: u16,
    pub addr: u16,
    pub sp: i16,
    pub skip: u8,
    pub at: u8,
    pub offset: Imm32,
}

/// `store(addr + offset, val)` to memory 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RegStore {
    pub addr: u16,
    pub val: u16,
    pub sp: i16,
    pub skip: u8,
    pub at: u8,
    pub offset: Imm32,
}

/// One internal instruction. Kept at 16 bytes (checked by a test) so code stays dense.
#[rustfmt::skip]
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Instr {
    // Control.
    Unreachable,
    Br(Target),
    BrIf(Target),
    /// Jump to the target when the popped i32 is zero (the `if` of an `if`/`else`).
    BrIfEqz(u32),
    /// `len` targets (the last is the default) starting at `at` in the function's table.
    BrTable { at: u32, len: u32 },
    Return,
    Call(u32),
    CallIndirect { ty: u32, table: u32 },
    ReturnCall(u32),
    ReturnCallIndirect { ty: u32, table: u32 },

    // Parametric and variables.
    Drop,
    Select,
    /// Local access for scalar and reference locals: only the low 8 bytes of a slot
    /// are copied. v128 locals use the `V128` forms.
    LocalGet(u32),
    LocalSet(u32),
    LocalTee(u32),
    LocalGetV128(u32),
    LocalSetV128(u32),
    LocalTeeV128(u32),
    GlobalGet(u32),
    GlobalSet(u32),

    // Tables and references.
    TableGet(u32),
    TableSet(u32),
    TableSize(u32),
    TableGrow(u32),
    TableFill(u32),
    TableCopy { dst: u32, src: u32 },
    TableInit { table: u32, elem: u32 },
    ElemDrop(u32),
    RefNull,
    RefIsNull,
    RefFunc(u32),

    // Memory 0, the common case, with the static offset as immediate.
    I32Load(u32), I64Load(u32), F32Load(u32), F64Load(u32),
    I32Load8S(u32), I32Load8U(u32), I32Load16S(u32), I32Load16U(u32),
    I64Load8S(u32), I64Load8U(u32), I64Load16S(u32), I64Load16U(u32), I64Load32S(u32), I64Load32U(u32),
    I32Store(u32), I64Store(u32), F32Store(u32), F64Store(u32),
    I32Store8(u32), I32Store16(u32), I64Store8(u32), I64Store16(u32), I64Store32(u32),
    // Any memory.
    Load { kind: LoadKind, mem: u32, offset: u32 },
    Store { kind: StoreKind, mem: u32, offset: u32 },
    MemorySize(u32),
    MemoryGrow(u32),
    MemoryInit { mem: u32, data: u32 },
    DataDrop(u32),
    MemoryCopy { dst: u32, src: u32 },
    MemoryFill(u32),

    // Fused pairs (see `fuse.rs`): each replaces the first instruction of its pair.
    LocalGet2(u32, u32),
    LocalGetI32Const(u32, u32),
    LocalGetI32Add(u32),
    LocalSetGet(u32, u32),
    /// `i32.const` value, then the local it is stored to.
    I32ConstSet(u32, u32),
    /// The local, then the `i64.const` value stored to it.
    I64ConstSet(u32, u64),
    I32AddConst(u32), I32AndConst(u32), I32ShlConst(u32), I32ShrUConst(u32),
    I32AddSet(u32), I32AddTee(u32),
    LocalTeeGet(u32, u32),
    /// `local.get a; local.set x`: the source, then the destination.
    LocalCopy(u32, u32),
    LocalGetF64Add(u32), LocalGetF64Sub(u32), LocalGetF64Mul(u32),
    LocalGetI32Load(u32, u32), LocalGetF64Load(u32, u32),
    I32AddI32Load(u32), I32AddF64Load(u32),
    /// `local.get v; i32.store offset`: the local, then the offset.
    LocalGetI32Store(u32, u32),
    /// `i32.load offset; local.set x`: the offset, then the local.
    I32LoadSet(u32, u32),
    I32RotlConst(u32), I32XorConst(u32),
    I64AddConst(u64), I64AndConst(u64), I64ShlConst(u64), I64ShrUConst(u64),
    // Fused triples: they replace the first of three instructions.
    /// `local.get a; i32.const c; i32.add`.
    LocalI32AddConst(u32, u32),
    /// `local.get a; local.get b; i32.add`.
    LocalsI32Add(u32, u32),
    /// `i32.const c; i32.add; local.set x`.
    I32AddConstSet(u32, u32),
    /// `local.get a; local.get b; op`.
    LocalsI32Sub(u32, u32), LocalsI64Add(u32, u32),
    /// `local.get a; i32.const c; i32.shl`.
    LocalI32ShlConst(u32, u32),
    LocalsF64Add(u32, u32), LocalsF64Sub(u32, u32), LocalsF64Mul(u32, u32),
    // `op; local.set x` and `op; local.tee x`.
    I64AddSet(u32), F64AddSet(u32), F64SubSet(u32), F64MulSet(u32),
    F64AddTee(u32), F64SubTee(u32), F64MulTee(u32),
    // Fused quadruples: `local.get a; i32.const c; i32.add; local.set x` (or `tee`).
    LocalI32AddConstSet(u32, u32, u32),
    LocalI32AddConstTee(u32, u32, u32),
    /// `i32.load offset; local.tee x`: the offset, then the local.
    I32LoadTee(u32, u32),
    /// `local.get a; i32.const c; op`.
    LocalI32RotlConst(u32, u32), LocalI32ShrUConst(u32, u32),
    /// `local.get a; local.get b; op`.
    LocalsI32And(u32, u32), LocalsI32Xor(u32, u32),
    /// `local.get a; i32.const c; i32.rotl; i32.xor`: a rotated local folded into the
    /// value below (hashes and ciphers).
    LocalI32RotlConstXor(u32, u32),
    /// `local.get a; local.set x; local.get b; local.set y` (locals below 65536): a
    /// rotation of variables, as at the end of a hash round.
    LocalCopy2(u16, u16, u16, u16),
    /// `i32.const c; i32.add; local.tee x`.
    I32AddConstTee(u32, u32),
    /// `f64.op; f64.store offset`.
    F64AddStore(u32), F64SubStore(u32), F64MulStore(u32),
    /// `i32.const c; i32.add; f64.load offset`: c, then the offset.
    I32AddConstF64Load(u32, u32),
    /// `i32.const c; i32.store8 offset`: c, then the offset.
    I32ConstStore8(u32, u32),
    /// `local.tee x; i32.add`.
    LocalTeeI32Add(u32),
    /// `local.get a; local.get b; i32.const c; i32.shl`: pushes a and b << c (an
    /// address and a scaled index).
    LocalGetLocalI32ShlConst(u32, u32, u32),
    /// `i32.const c; i32.add; i64.load offset`: c, then the offset.
    I32AddConstI64Load(u32, u32),
    /// `i64.const c; i64.mul`.
    I64MulConst(u64),
    /// `local.get a; i64.xor`.
    LocalGetI64Xor(u32),
    /// `i64.xor; local.tee x`.
    I64XorTee(u32),
    /// `local.get a; local.get v; i32.store offset`: a, v, then the offset.
    LocalsI32Store(u32, u32, u32),
    /// `f64.cmp; br_if` (any branch).
    F64EqBrIf(Target), F64NeBrIf(Target), F64LtBrIf(Target), F64GtBrIf(Target),
    F64LeBrIf(Target), F64GeBrIf(Target),
    // `local.get b; i32.cmp; br_if` and `i32.const c; i32.cmp; br_if` whose branch
    // moves no values: the local (or constant), then the target's code index.
    I32EqLocalBrIf(u32, u32), I32NeLocalBrIf(u32, u32),
    I32LtSLocalBrIf(u32, u32), I32LtULocalBrIf(u32, u32),
    I32GtSLocalBrIf(u32, u32), I32GtULocalBrIf(u32, u32),
    I32LeSLocalBrIf(u32, u32), I32LeULocalBrIf(u32, u32),
    I32GeSLocalBrIf(u32, u32), I32GeULocalBrIf(u32, u32),
    I32EqConstBrIf(u32, u32), I32NeConstBrIf(u32, u32),
    I32LtSConstBrIf(u32, u32), I32LtUConstBrIf(u32, u32),
    I32GtSConstBrIf(u32, u32), I32GtUConstBrIf(u32, u32),
    I32LeSConstBrIf(u32, u32), I32LeUConstBrIf(u32, u32),
    I32GeSConstBrIf(u32, u32), I32GeUConstBrIf(u32, u32),
    I32EqzBrIf(Target), I32EqBrIf(Target), I32NeBrIf(Target),
    I32LtSBrIf(Target), I32LtUBrIf(Target), I32GtSBrIf(Target), I32GtUBrIf(Target),
    I32LeSBrIf(Target), I32LeUBrIf(Target), I32GeSBrIf(Target), I32GeUBrIf(Target),

    // Constants.
    I32Const(u32),
    I64Const(u64),
    F32Const(u32),
    F64Const(u64),
    /// Index into the function's v128 constant pool.
    V128Const(u32),

    // i32.
    I32Eqz, I32Eq, I32Ne, I32LtS, I32LtU, I32GtS, I32GtU, I32LeS, I32LeU, I32GeS, I32GeU,
    I32Clz, I32Ctz, I32Popcnt, I32Add, I32Sub, I32Mul, I32DivS, I32DivU, I32RemS, I32RemU,
    I32And, I32Or, I32Xor, I32Shl, I32ShrS, I32ShrU, I32Rotl, I32Rotr,
    // i64.
    I64Eqz, I64Eq, I64Ne, I64LtS, I64LtU, I64GtS, I64GtU, I64LeS, I64LeU, I64GeS, I64GeU,
    I64Clz, I64Ctz, I64Popcnt, I64Add, I64Sub, I64Mul, I64DivS, I64DivU, I64RemS, I64RemU,
    I64And, I64Or, I64Xor, I64Shl, I64ShrS, I64ShrU, I64Rotl, I64Rotr,
    // f32.
    F32Eq, F32Ne, F32Lt, F32Gt, F32Le, F32Ge,
    F32Abs, F32Neg, F32Ceil, F32Floor, F32Trunc, F32Nearest, F32Sqrt,
    F32Add, F32Sub, F32Mul, F32Div, F32Min, F32Max, F32Copysign,
    // f64.
    F64Eq, F64Ne, F64Lt, F64Gt, F64Le, F64Ge,
    F64Abs, F64Neg, F64Ceil, F64Floor, F64Trunc, F64Nearest, F64Sqrt,
    F64Add, F64Sub, F64Mul, F64Div, F64Min, F64Max, F64Copysign,
    // Conversions.
    I32WrapI64, I32TruncF32S, I32TruncF32U, I32TruncF64S, I32TruncF64U,
    I64ExtendI32S, I64ExtendI32U, I64TruncF32S, I64TruncF32U, I64TruncF64S, I64TruncF64U,
    F32ConvertI32S, F32ConvertI32U, F32ConvertI64S, F32ConvertI64U, F32DemoteF64,
    F64ConvertI32S, F64ConvertI32U, F64ConvertI64S, F64ConvertI64U, F64PromoteF32,
    I32ReinterpretF32, I64ReinterpretF64, F32ReinterpretI32, F64ReinterpretI64,
    I32Extend8S, I32Extend16S, I64Extend8S, I64Extend16S, I64Extend32S,
    I32TruncSatF32S, I32TruncSatF32U, I32TruncSatF64S, I32TruncSatF64U,
    I64TruncSatF32S, I64TruncSatF32U, I64TruncSatF64S, I64TruncSatF64U,

    // SIMD.
    V128Load { shape: LoadShape, mem: u32, offset: u32 },
    V128Store { mem: u32, offset: u32 },
    /// `width` is 8, 16, 32 or 64 bits.
    V128LoadLane { width: u8, lane: u8, mem: u32, offset: u32 },
    V128StoreLane { width: u8, lane: u8, mem: u32, offset: u32 },
    SimdUnary(UnaryOp),
    SimdBinary(BinaryOp),
    SimdTernary(TernaryOp),
    /// Shuffle lanes from the v128 constant pool entry at this index.
    SimdShuffle(u32),
    SimdSplat(SplatOp),
    SimdExtractLane(ExtractOp, u8),
    SimdReplaceLane(ReplaceOp, u8),
    SimdShift(ShiftOp),
    SimdTest(TestOp),

    // Register forms, generated per operator (see `regfold.rs`).
    /// `local.get a; br_if` / `i32.eqz; br_if` / `if`: branch when `(a != 0) != neg`.
    RBrNz(RegBr),
    RI32Eq(Reg3), RI32Ne(Reg3), RI32LtS(Reg3), RI32LtU(Reg3), RI32GtS(Reg3), RI32GtU(Reg3),
    RI32LeS(Reg3), RI32LeU(Reg3), RI32GeS(Reg3), RI32GeU(Reg3), RI32Add(Reg3), RI32Sub(Reg3),
    RI32Mul(Reg3), RI32DivS(Reg3), RI32DivU(Reg3), RI32RemS(Reg3), RI32RemU(Reg3),
    RI32And(Reg3), RI32Or(Reg3), RI32Xor(Reg3), RI32Shl(Reg3), RI32ShrS(Reg3), RI32ShrU(Reg3),
    RI32Rotl(Reg3), RI32Rotr(Reg3), RI64Eq(Reg3), RI64Ne(Reg3), RI64LtS(Reg3), RI64LtU(Reg3),
    RI64GtS(Reg3), RI64GtU(Reg3), RI64LeS(Reg3), RI64LeU(Reg3), RI64GeS(Reg3), RI64GeU(Reg3),
    RI64Add(Reg3), RI64Sub(Reg3), RI64Mul(Reg3), RI64DivS(Reg3), RI64DivU(Reg3),
    RI64RemS(Reg3), RI64RemU(Reg3), RI64And(Reg3), RI64Or(Reg3), RI64Xor(Reg3), RI64Shl(Reg3),
    RI64ShrS(Reg3), RI64ShrU(Reg3), RI64Rotl(Reg3), RI64Rotr(Reg3), RF32Eq(Reg3), RF32Ne(Reg3),
    RF32Lt(Reg3), RF32Gt(Reg3), RF32Le(Reg3), RF32Ge(Reg3), RF32Add(Reg3), RF32Sub(Reg3),
    RF32Mul(Reg3), RF32Div(Reg3), RF32Min(Reg3), RF32Max(Reg3), RF32Copysign(Reg3),
    RF64Eq(Reg3), RF64Ne(Reg3), RF64Lt(Reg3), RF64Gt(Reg3), RF64Le(Reg3), RF64Ge(Reg3),
    RF64Add(Reg3), RF64Sub(Reg3), RF64Mul(Reg3), RF64Div(Reg3), RF64Min(Reg3), RF64Max(Reg3),
    RF64Copysign(Reg3),
    RI32EqImm(RegImm), RI32NeImm(RegImm), RI32LtSImm(RegImm), RI32LtUImm(RegImm),
    RI32GtSImm(RegImm), RI32GtUImm(RegImm), RI32LeSImm(RegImm), RI32LeUImm(RegImm),
    RI32GeSImm(RegImm), RI32GeUImm(RegImm), RI32AddImm(RegImm), RI32SubImm(RegImm),
    RI32MulImm(RegImm), RI32DivSImm(RegImm), RI32DivUImm(RegImm), RI32RemSImm(RegImm),
    RI32RemUImm(RegImm), RI32AndImm(RegImm), RI32OrImm(RegImm), RI32XorImm(RegImm),
    RI32ShlImm(RegImm), RI32ShrSImm(RegImm), RI32ShrUImm(RegImm), RI32RotlImm(RegImm),
    RI32RotrImm(RegImm), RI64EqImm(RegImm), RI64NeImm(RegImm), RI64LtSImm(RegImm),
    RI64LtUImm(RegImm), RI64GtSImm(RegImm), RI64GtUImm(RegImm), RI64LeSImm(RegImm),
    RI64LeUImm(RegImm), RI64GeSImm(RegImm), RI64GeUImm(RegImm), RI64AddImm(RegImm),
    RI64SubImm(RegImm), RI64MulImm(RegImm), RI64DivSImm(RegImm), RI64DivUImm(RegImm),
    RI64RemSImm(RegImm), RI64RemUImm(RegImm), RI64AndImm(RegImm), RI64OrImm(RegImm),
    RI64XorImm(RegImm), RI64ShlImm(RegImm), RI64ShrSImm(RegImm), RI64ShrUImm(RegImm),
    RI64RotlImm(RegImm), RI64RotrImm(RegImm),
    RF32EqImm(RegImm), RF32NeImm(RegImm), RF32LtImm(RegImm), RF32GtImm(RegImm),
    RF32LeImm(RegImm), RF32GeImm(RegImm), RF32AddImm(RegImm), RF32SubImm(RegImm),
    RF32MulImm(RegImm), RF32DivImm(RegImm), RF64EqImm(RegImm), RF64NeImm(RegImm),
    RF64LtImm(RegImm), RF64GtImm(RegImm), RF64LeImm(RegImm), RF64GeImm(RegImm),
    RF64AddImm(RegImm), RF64SubImm(RegImm), RF64MulImm(RegImm), RF64DivImm(RegImm),
    RI32EqBr(RegBr), RI32NeBr(RegBr), RI32LtSBr(RegBr), RI32LtUBr(RegBr), RI32GtSBr(RegBr),
    RI32GtUBr(RegBr), RI32LeSBr(RegBr), RI32LeUBr(RegBr), RI32GeSBr(RegBr), RI32GeUBr(RegBr),
    RI64EqBr(RegBr), RI64NeBr(RegBr), RI64LtSBr(RegBr), RI64LtUBr(RegBr), RI64GtSBr(RegBr),
    RI64GtUBr(RegBr), RI64LeSBr(RegBr), RI64LeUBr(RegBr), RI64GeSBr(RegBr), RI64GeUBr(RegBr),
    RF32EqBr(RegBr), RF32NeBr(RegBr), RF32LtBr(RegBr), RF32GtBr(RegBr), RF32LeBr(RegBr),
    RF32GeBr(RegBr), RF64EqBr(RegBr), RF64NeBr(RegBr), RF64LtBr(RegBr), RF64GtBr(RegBr),
    RF64LeBr(RegBr), RF64GeBr(RegBr),
    RI32EqBrImm(RegBrImm), RI32NeBrImm(RegBrImm), RI32LtSBrImm(RegBrImm),
    RI32LtUBrImm(RegBrImm), RI32GtSBrImm(RegBrImm), RI32GtUBrImm(RegBrImm),
    RI32LeSBrImm(RegBrImm), RI32LeUBrImm(RegBrImm), RI32GeSBrImm(RegBrImm),
    RI32GeUBrImm(RegBrImm), RI64EqBrImm(RegBrImm), RI64NeBrImm(RegBrImm),
    RI64LtSBrImm(RegBrImm), RI64LtUBrImm(RegBrImm), RI64GtSBrImm(RegBrImm),
    RI64GtUBrImm(RegBrImm), RI64LeSBrImm(RegBrImm), RI64LeUBrImm(RegBrImm),
    RI64GeSBrImm(RegBrImm), RI64GeUBrImm(RegBrImm),
    RF32EqBrImm(RegBrImm), RF32NeBrImm(RegBrImm), RF32LtBrImm(RegBrImm), RF32GtBrImm(RegBrImm),
    RF32LeBrImm(RegBrImm), RF32GeBrImm(RegBrImm), RF64EqBrImm(RegBrImm), RF64NeBrImm(RegBrImm),
    RF64LtBrImm(RegBrImm), RF64GtBrImm(RegBrImm), RF64LeBrImm(RegBrImm), RF64GeBrImm(RegBrImm),
    RI32Eqz(Reg2), RI32Clz(Reg2), RI32Ctz(Reg2), RI32Popcnt(Reg2), RI64Eqz(Reg2),
    RI64Clz(Reg2), RI64Ctz(Reg2), RI64Popcnt(Reg2), RF32Abs(Reg2), RF32Neg(Reg2),
    RF32Ceil(Reg2), RF32Floor(Reg2), RF32Trunc(Reg2), RF32Nearest(Reg2), RF32Sqrt(Reg2),
    RF64Abs(Reg2), RF64Neg(Reg2), RF64Ceil(Reg2), RF64Floor(Reg2), RF64Trunc(Reg2),
    RF64Nearest(Reg2), RF64Sqrt(Reg2), RI32WrapI64(Reg2), RI32TruncF32S(Reg2),
    RI32TruncF32U(Reg2), RI32TruncF64S(Reg2), RI32TruncF64U(Reg2), RI64ExtendI32S(Reg2),
    RI64ExtendI32U(Reg2), RI64TruncF32S(Reg2), RI64TruncF32U(Reg2), RI64TruncF64S(Reg2),
    RI64TruncF64U(Reg2), RF32ConvertI32S(Reg2), RF32ConvertI32U(Reg2), RF32ConvertI64S(Reg2),
    RF32ConvertI64U(Reg2), RF32DemoteF64(Reg2), RF64ConvertI32S(Reg2), RF64ConvertI32U(Reg2),
    RF64ConvertI64S(Reg2), RF64ConvertI64U(Reg2), RF64PromoteF32(Reg2), RI32Extend8S(Reg2),
    RI32Extend16S(Reg2), RI64Extend8S(Reg2), RI64Extend16S(Reg2), RI64Extend32S(Reg2),
    RI32TruncSatF32S(Reg2), RI32TruncSatF32U(Reg2), RI32TruncSatF64S(Reg2),
    RI32TruncSatF64U(Reg2), RI64TruncSatF32S(Reg2), RI64TruncSatF32U(Reg2),
    RI64TruncSatF64S(Reg2), RI64TruncSatF64U(Reg2),
    RI32Load(RegMem), RI64Load(RegMem), RF32Load(RegMem), RF64Load(RegMem), RI32Load8S(RegMem),
    RI32Load8U(RegMem), RI32Load16S(RegMem), RI32Load16U(RegMem), RI64Load8S(RegMem),
    RI64Load8U(RegMem), RI64Load16S(RegMem), RI64Load16U(RegMem), RI64Load32S(RegMem),
    RI64Load32U(RegMem),
    RI32Store(RegStore), RI64Store(RegStore), RF32Store(RegStore), RF64Store(RegStore),
    RI32Store8(RegStore), RI32Store16(RegStore), RI64Store8(RegStore), RI64Store16(RegStore),
    RI64Store32(RegStore),
}

/// A translated function body.
#[derive(Debug, Clone, Default)]
pub(crate) struct FuncCode {
    /// One plain instruction per Wasm instruction: what counted execution runs and
    /// what the state code inspects.
    pub code: Vec<Instr>,
    /// The same code with fused and register-form instructions (see `fuse.rs` and
    /// `regfold.rs`) at the start of the sequences they replace; index for index like
    /// `code`. Uncounted execution in the loop runs this.
    pub fast: Vec<Instr>,
    /// Register-form code with a handler per instruction (see `exec/threaded`).
    #[cfg(tern_threaded)]
    pub threaded: crate::exec::threaded::Threaded,
    /// `offsets[i]` is the byte offset in the module of the Wasm instruction that
    /// `code[i]` executes; strictly increasing.
    pub offsets: Vec<u32>,
    pub br_tables: Vec<Target>,
    pub v128_pool: Vec<u128>,
    /// Parameter count, total local count (parameters included) and result count.
    pub params: u32,
    pub locals: u32,
    pub results: u32,
    /// Type of every local, parameters first.
    pub local_types: Vec<ValType>,
    /// `(byte offset, code index)` of reachable instructions that emit no code (`block`,
    /// `loop`, `nop`, a block's `end`): resuming there means resuming at the code index.
    pub elided: Vec<(u32, u32)>,
    /// The most operand-stack slots this function ever uses, on top of its locals.
    pub max_height: u32,
    /// Byte range of the whole body (local declarations included) in the module.
    pub body: std::ops::Range<usize>,
}

impl FuncCode {
    /// The code index at which execution resumes when the next Wasm instruction is the
    /// one at byte offset `pc`; `None` if no reachable instruction starts there.
    pub fn index_of(&self, pc: u32) -> Option<u32> {
        if let Ok(i) = self.offsets.binary_search(&pc) {
            return Some(i as u32);
        }
        let i = self.elided.binary_search_by_key(&pc, |e| e.0).ok()?;
        Some(self.elided[i].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_stay_small() {
        assert!(
            std::mem::size_of::<Instr>() <= 16,
            "{}",
            std::mem::size_of::<Instr>()
        );
    }
}
