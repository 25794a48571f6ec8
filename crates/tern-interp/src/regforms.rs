//! Which register form (see `regfold.rs`) each plain operator has: the plain name with
//! `R` in front, and behind it `Imm` (an immediate second operand), `Br` (compare and
//! branch) or `BrImm`.

use crate::code::{Instr, Reg2, Reg3, RegBr, RegBrImm, RegImm, RegMem, RegStore};

/// The register forms of a binary operator.
#[derive(Clone, Copy)]
pub(crate) struct BinaryForms {
    pub reg: fn(Reg3) -> Instr,
    /// With an immediate second operand (integer operators).
    pub imm: Option<fn(RegImm) -> Instr>,
    /// Compare and branch (comparisons).
    pub branch: Option<fn(RegBr) -> Instr>,
    pub branch_imm: Option<fn(RegBrImm) -> Instr>,
    /// The operator with its operands swapped, where there is one.
    pub mirror: Option<Instr>,
}

macro_rules! binary_forms {
    ($op:expr; $(
        $name:ident => $reg:ident $(imm $imm:ident)? $(branch $br:ident $(imm $bri:ident)?)?
        $(mirror $mirror:ident)?;
    )*) => {
        match $op {
            $(Instr::$name => BinaryForms {
                reg: Instr::$reg,
                imm: None $(.or(Some(Instr::$imm as fn(RegImm) -> Instr)))?,
                branch: None $(.or(Some(Instr::$br as fn(RegBr) -> Instr)))?,
                branch_imm: None $($(.or(Some(Instr::$bri as fn(RegBrImm) -> Instr)))?)?,
                mirror: None $(.or(Some(Instr::$mirror)))?,
            },)*
            _ => return None,
        }
    };
}

pub(crate) fn binary(op: Instr) -> Option<BinaryForms> {
    Some(binary_forms! { op;
        I32Eq => RI32Eq imm RI32EqImm branch RI32EqBr imm RI32EqBrImm mirror I32Eq;
        I32Ne => RI32Ne imm RI32NeImm branch RI32NeBr imm RI32NeBrImm mirror I32Ne;
        I32LtS => RI32LtS imm RI32LtSImm branch RI32LtSBr imm RI32LtSBrImm mirror I32GtS;
        I32LtU => RI32LtU imm RI32LtUImm branch RI32LtUBr imm RI32LtUBrImm mirror I32GtU;
        I32GtS => RI32GtS imm RI32GtSImm branch RI32GtSBr imm RI32GtSBrImm mirror I32LtS;
        I32GtU => RI32GtU imm RI32GtUImm branch RI32GtUBr imm RI32GtUBrImm mirror I32LtU;
        I32LeS => RI32LeS imm RI32LeSImm branch RI32LeSBr imm RI32LeSBrImm mirror I32GeS;
        I32LeU => RI32LeU imm RI32LeUImm branch RI32LeUBr imm RI32LeUBrImm mirror I32GeU;
        I32GeS => RI32GeS imm RI32GeSImm branch RI32GeSBr imm RI32GeSBrImm mirror I32LeS;
        I32GeU => RI32GeU imm RI32GeUImm branch RI32GeUBr imm RI32GeUBrImm mirror I32LeU;
        I32Add => RI32Add imm RI32AddImm mirror I32Add;
        I32Sub => RI32Sub imm RI32SubImm;
        I32Mul => RI32Mul imm RI32MulImm mirror I32Mul;
        I32DivS => RI32DivS imm RI32DivSImm;
        I32DivU => RI32DivU imm RI32DivUImm;
        I32RemS => RI32RemS imm RI32RemSImm;
        I32RemU => RI32RemU imm RI32RemUImm;
        I32And => RI32And imm RI32AndImm mirror I32And;
        I32Or => RI32Or imm RI32OrImm mirror I32Or;
        I32Xor => RI32Xor imm RI32XorImm mirror I32Xor;
        I32Shl => RI32Shl imm RI32ShlImm;
        I32ShrS => RI32ShrS imm RI32ShrSImm;
        I32ShrU => RI32ShrU imm RI32ShrUImm;
        I32Rotl => RI32Rotl imm RI32RotlImm;
        I32Rotr => RI32Rotr imm RI32RotrImm;
        I64Eq => RI64Eq imm RI64EqImm branch RI64EqBr imm RI64EqBrImm mirror I64Eq;
        I64Ne => RI64Ne imm RI64NeImm branch RI64NeBr imm RI64NeBrImm mirror I64Ne;
        I64LtS => RI64LtS imm RI64LtSImm branch RI64LtSBr imm RI64LtSBrImm mirror I64GtS;
        I64LtU => RI64LtU imm RI64LtUImm branch RI64LtUBr imm RI64LtUBrImm mirror I64GtU;
        I64GtS => RI64GtS imm RI64GtSImm branch RI64GtSBr imm RI64GtSBrImm mirror I64LtS;
        I64GtU => RI64GtU imm RI64GtUImm branch RI64GtUBr imm RI64GtUBrImm mirror I64LtU;
        I64LeS => RI64LeS imm RI64LeSImm branch RI64LeSBr imm RI64LeSBrImm mirror I64GeS;
        I64LeU => RI64LeU imm RI64LeUImm branch RI64LeUBr imm RI64LeUBrImm mirror I64GeU;
        I64GeS => RI64GeS imm RI64GeSImm branch RI64GeSBr imm RI64GeSBrImm mirror I64LeS;
        I64GeU => RI64GeU imm RI64GeUImm branch RI64GeUBr imm RI64GeUBrImm mirror I64LeU;
        I64Add => RI64Add imm RI64AddImm mirror I64Add;
        I64Sub => RI64Sub imm RI64SubImm;
        I64Mul => RI64Mul imm RI64MulImm mirror I64Mul;
        I64DivS => RI64DivS imm RI64DivSImm;
        I64DivU => RI64DivU imm RI64DivUImm;
        I64RemS => RI64RemS imm RI64RemSImm;
        I64RemU => RI64RemU imm RI64RemUImm;
        I64And => RI64And imm RI64AndImm mirror I64And;
        I64Or => RI64Or imm RI64OrImm mirror I64Or;
        I64Xor => RI64Xor imm RI64XorImm mirror I64Xor;
        I64Shl => RI64Shl imm RI64ShlImm;
        I64ShrS => RI64ShrS imm RI64ShrSImm;
        I64ShrU => RI64ShrU imm RI64ShrUImm;
        I64Rotl => RI64Rotl imm RI64RotlImm;
        I64Rotr => RI64Rotr imm RI64RotrImm;
        F32Eq => RF32Eq imm RF32EqImm branch RF32EqBr imm RF32EqBrImm mirror F32Eq;
        F32Ne => RF32Ne imm RF32NeImm branch RF32NeBr imm RF32NeBrImm mirror F32Ne;
        F32Lt => RF32Lt imm RF32LtImm branch RF32LtBr imm RF32LtBrImm mirror F32Gt;
        F32Gt => RF32Gt imm RF32GtImm branch RF32GtBr imm RF32GtBrImm mirror F32Lt;
        F32Le => RF32Le imm RF32LeImm branch RF32LeBr imm RF32LeBrImm mirror F32Ge;
        F32Ge => RF32Ge imm RF32GeImm branch RF32GeBr imm RF32GeBrImm mirror F32Le;
        F32Add => RF32Add imm RF32AddImm mirror F32Add;
        F32Sub => RF32Sub imm RF32SubImm;
        F32Mul => RF32Mul imm RF32MulImm mirror F32Mul;
        F32Div => RF32Div imm RF32DivImm;
        F32Min => RF32Min;
        F32Max => RF32Max;
        F32Copysign => RF32Copysign;
        F64Eq => RF64Eq imm RF64EqImm branch RF64EqBr imm RF64EqBrImm mirror F64Eq;
        F64Ne => RF64Ne imm RF64NeImm branch RF64NeBr imm RF64NeBrImm mirror F64Ne;
        F64Lt => RF64Lt imm RF64LtImm branch RF64LtBr imm RF64LtBrImm mirror F64Gt;
        F64Gt => RF64Gt imm RF64GtImm branch RF64GtBr imm RF64GtBrImm mirror F64Lt;
        F64Le => RF64Le imm RF64LeImm branch RF64LeBr imm RF64LeBrImm mirror F64Ge;
        F64Ge => RF64Ge imm RF64GeImm branch RF64GeBr imm RF64GeBrImm mirror F64Le;
        F64Add => RF64Add imm RF64AddImm mirror F64Add;
        F64Sub => RF64Sub imm RF64SubImm;
        F64Mul => RF64Mul imm RF64MulImm mirror F64Mul;
        F64Div => RF64Div imm RF64DivImm;
        F64Min => RF64Min;
        F64Max => RF64Max;
        F64Copysign => RF64Copysign;
    })
}

macro_rules! forms {
    ($op:expr; $($name:ident => $reg:ident;)*) => {
        match $op {
            $(Instr::$name => Instr::$reg,)*
            _ => return None,
        }
    };
}

pub(crate) fn unary(op: Instr) -> Option<fn(Reg2) -> Instr> {
    Some(forms! { op;
        I32Eqz => RI32Eqz;
        I32Clz => RI32Clz;
        I32Ctz => RI32Ctz;
        I32Popcnt => RI32Popcnt;
        I64Eqz => RI64Eqz;
        I64Clz => RI64Clz;
        I64Ctz => RI64Ctz;
        I64Popcnt => RI64Popcnt;
        F32Abs => RF32Abs;
        F32Neg => RF32Neg;
        F32Ceil => RF32Ceil;
        F32Floor => RF32Floor;
        F32Trunc => RF32Trunc;
        F32Nearest => RF32Nearest;
        F32Sqrt => RF32Sqrt;
        F64Abs => RF64Abs;
        F64Neg => RF64Neg;
        F64Ceil => RF64Ceil;
        F64Floor => RF64Floor;
        F64Trunc => RF64Trunc;
        F64Nearest => RF64Nearest;
        F64Sqrt => RF64Sqrt;
        I32WrapI64 => RI32WrapI64;
        I32TruncF32S => RI32TruncF32S;
        I32TruncF32U => RI32TruncF32U;
        I32TruncF64S => RI32TruncF64S;
        I32TruncF64U => RI32TruncF64U;
        I64ExtendI32S => RI64ExtendI32S;
        I64ExtendI32U => RI64ExtendI32U;
        I64TruncF32S => RI64TruncF32S;
        I64TruncF32U => RI64TruncF32U;
        I64TruncF64S => RI64TruncF64S;
        I64TruncF64U => RI64TruncF64U;
        F32ConvertI32S => RF32ConvertI32S;
        F32ConvertI32U => RF32ConvertI32U;
        F32ConvertI64S => RF32ConvertI64S;
        F32ConvertI64U => RF32ConvertI64U;
        F32DemoteF64 => RF32DemoteF64;
        F64ConvertI32S => RF64ConvertI32S;
        F64ConvertI32U => RF64ConvertI32U;
        F64ConvertI64S => RF64ConvertI64S;
        F64ConvertI64U => RF64ConvertI64U;
        F64PromoteF32 => RF64PromoteF32;
        I32Extend8S => RI32Extend8S;
        I32Extend16S => RI32Extend16S;
        I64Extend8S => RI64Extend8S;
        I64Extend16S => RI64Extend16S;
        I64Extend32S => RI64Extend32S;
        I32TruncSatF32S => RI32TruncSatF32S;
        I32TruncSatF32U => RI32TruncSatF32U;
        I32TruncSatF64S => RI32TruncSatF64S;
        I32TruncSatF64U => RI32TruncSatF64U;
        I64TruncSatF32S => RI64TruncSatF32S;
        I64TruncSatF32U => RI64TruncSatF32U;
        I64TruncSatF64S => RI64TruncSatF64S;
        I64TruncSatF64U => RI64TruncSatF64U;
    })
}

/// A memory-0 access in register form.
#[derive(Clone, Copy)]
pub(crate) enum MemForm {
    Load(fn(RegMem) -> Instr),
    Store(fn(RegStore) -> Instr),
}

/// The register form of a load or store of memory 0, and its static offset.
pub(crate) fn memory(op: Instr) -> Option<(MemForm, u32)> {
    let offset = match op {
        Instr::I32Load(o) | Instr::I64Load(o) | Instr::F32Load(o) | Instr::F64Load(o) => o,
        Instr::I32Load8S(o) | Instr::I32Load8U(o) | Instr::I32Load16S(o) => o,
        Instr::I32Load16U(o) | Instr::I64Load8S(o) | Instr::I64Load8U(o) => o,
        Instr::I64Load16S(o) | Instr::I64Load16U(o) | Instr::I64Load32S(o) => o,
        Instr::I64Load32U(o) | Instr::I32Store(o) | Instr::I64Store(o) => o,
        Instr::F32Store(o) | Instr::F64Store(o) | Instr::I32Store8(o) => o,
        Instr::I32Store16(o) | Instr::I64Store8(o) | Instr::I64Store16(o) => o,
        Instr::I64Store32(o) => o,
        _ => return None,
    };
    Some((memory_form(op)?, offset))
}

fn memory_form(op: Instr) -> Option<MemForm> {
    use Instr::*;
    Some(match op {
        I32Load(_) => MemForm::Load(RI32Load),
        I64Load(_) => MemForm::Load(RI64Load),
        F32Load(_) => MemForm::Load(RF32Load),
        F64Load(_) => MemForm::Load(RF64Load),
        I32Load8S(_) => MemForm::Load(RI32Load8S),
        I32Load8U(_) => MemForm::Load(RI32Load8U),
        I32Load16S(_) => MemForm::Load(RI32Load16S),
        I32Load16U(_) => MemForm::Load(RI32Load16U),
        I64Load8S(_) => MemForm::Load(RI64Load8S),
        I64Load8U(_) => MemForm::Load(RI64Load8U),
        I64Load16S(_) => MemForm::Load(RI64Load16S),
        I64Load16U(_) => MemForm::Load(RI64Load16U),
        I64Load32S(_) => MemForm::Load(RI64Load32S),
        I64Load32U(_) => MemForm::Load(RI64Load32U),
        I32Store(_) => MemForm::Store(RI32Store),
        I64Store(_) => MemForm::Store(RI64Store),
        F32Store(_) => MemForm::Store(RF32Store),
        F64Store(_) => MemForm::Store(RF64Store),
        I32Store8(_) => MemForm::Store(RI32Store8),
        I32Store16(_) => MemForm::Store(RI32Store16),
        I64Store8(_) => MemForm::Store(RI64Store8),
        I64Store16(_) => MemForm::Store(RI64Store16),
        I64Store32(_) => MemForm::Store(RI64Store32),
        _ => return None,
    })
}
