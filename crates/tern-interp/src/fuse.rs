//! Fused instruction pairs: fewer dispatches without giving up any pause point.
//!
//! A fused instruction *replaces the first* instruction of a common pair and does the
//! work of both; the second instruction stays where it was. So every internal pc still
//! corresponds to one Wasm instruction:
//! - control that enters at the second instruction (a branch target, a restored pc)
//!   runs it on its own, which is correct whatever the first one became;
//! - when instructions are counted (an instruction budget is armed), the loop runs the
//!   plain code (`FuncCode::code`) instead, so a pause can still happen between them.
//!
//! Fusions never span a call, and a fused compare-and-branch pauses (on a backward
//! branch with an interrupt pending) exactly where the plain `br_if` would: with the
//! condition on the stack, in front of the `br_if`.

use crate::code::Instr;

/// Rewrites `code` in place; `code` must be complete (branch targets patched).
/// Returns how many plain instructions each position's instruction does (1 where
/// nothing was fused).
pub(crate) fn fuse(code: &mut [Instr]) -> Vec<u8> {
    let mut covered = vec![1; code.len()];
    for i in 0..code.len().saturating_sub(1) {
        // Later instructions are matched as their originals: `code[i + 1]` may have been
        // replaced already, but a replaced instruction starts with the same work.
        let next = |k: usize| code.get(i + k).map(|&instr| original(instr));
        let (second, third, fourth) = (original(code[i + 1]), next(2), next(3));
        let fused = (third.zip(fourth))
            .and_then(|(third, fourth)| fuse_quad(code[i], second, third, fourth))
            .map(|f| (f, 4))
            .or_else(|| third.and_then(|third| fuse_triple(code[i], second, third).map(|f| (f, 3))))
            .or_else(|| fuse_pair(code[i], second).map(|f| (f, 2)));
        if let Some((fused, n)) = fused {
            code[i] = fused;
            covered[i] = n;
        }
    }
    covered
}

fn fuse_quad(first: Instr, second: Instr, third: Instr, fourth: Instr) -> Option<Instr> {
    use Instr::*;
    Some(match (original(first), second, third, fourth) {
        (LocalGet(a), I32Const(c), I32Add, LocalSet(x)) => LocalI32AddConstSet(a, c, x),
        (LocalGet(a), I32Const(c), I32Add, LocalTee(x)) => LocalI32AddConstTee(a, c, x),
        (LocalGet(a), I32Const(c), I32Rotl, I32Xor) => LocalI32RotlConstXor(a, c),
        (LocalGet(a), LocalGet(b), I32Const(c), I32Shl) => LocalGetLocalI32ShlConst(a, b, c),
        (LocalGet(a), LocalSet(x), LocalGet(b), LocalSet(y)) => {
            let narrow = |i: u32| u16::try_from(i).ok();
            LocalCopy2(narrow(a)?, narrow(x)?, narrow(b)?, narrow(y)?)
        }
        _ => return None,
    })
}

/// `br_if` to `t` moving no values: its target alone fits beside a local or constant.
fn plain_jump(t: crate::code::Target) -> Option<u32> {
    (t.drop == 0).then_some(t.to)
}

/// The plain instruction whose work a (possibly fused) instruction starts with.
fn original(instr: Instr) -> Instr {
    use Instr::*;
    match instr {
        LocalGet2(a, _)
        | LocalGetI32Const(a, _)
        | LocalGetI32Add(a)
        | LocalGetF64Add(a)
        | LocalGetF64Sub(a)
        | LocalGetF64Mul(a)
        | LocalGetI32Load(a, _)
        | LocalGetF64Load(a, _)
        | LocalCopy(a, _)
        | LocalI32AddConst(a, _)
        | LocalsI32Add(a, _)
        | LocalI32AddConstSet(a, _, _)
        | LocalI32AddConstTee(a, _, _)
        | I32EqLocalBrIf(a, _)
        | I32NeLocalBrIf(a, _)
        | I32LtSLocalBrIf(a, _)
        | I32LtULocalBrIf(a, _)
        | I32GtSLocalBrIf(a, _)
        | I32GtULocalBrIf(a, _)
        | I32LeSLocalBrIf(a, _)
        | I32LeULocalBrIf(a, _)
        | I32GeSLocalBrIf(a, _)
        | I32GeULocalBrIf(a, _)
        | LocalsI32Sub(a, _)
        | LocalGetI32Store(a, _)
        | LocalI32ShlConst(a, _)
        | LocalsI64Add(a, _)
        | LocalsF64Add(a, _)
        | LocalsF64Sub(a, _)
        | LocalsF64Mul(a, _)
        | LocalI32RotlConst(a, _)
        | LocalI32ShrUConst(a, _)
        | LocalsI32And(a, _)
        | LocalsI32Xor(a, _)
        | LocalI32RotlConstXor(a, _) => LocalGet(a),
        LocalCopy2(a, ..) => LocalGet(u32::from(a)),
        LocalGetLocalI32ShlConst(a, ..) | LocalGetI64Xor(a) | LocalsI32Store(a, ..) => LocalGet(a),
        I32AddConstI64Load(c, _) => I32Const(c),
        I64MulConst(c) => I64Const(c),
        I64XorTee(_) => I64Xor,
        I32AddConstTee(c, _) | I32AddConstF64Load(c, _) | I32ConstStore8(c, _) => I32Const(c),
        F64AddStore(_) => F64Add,
        F64SubStore(_) => F64Sub,
        F64MulStore(_) => F64Mul,
        LocalTeeI32Add(x) => LocalTee(x),
        F64EqBrIf(_) => F64Eq,
        F64NeBrIf(_) => F64Ne,
        F64LtBrIf(_) => F64Lt,
        F64GtBrIf(_) => F64Gt,
        F64LeBrIf(_) => F64Le,
        F64GeBrIf(_) => F64Ge,
        I64AddSet(_) => I64Add,
        F64AddSet(_) | F64AddTee(_) => F64Add,
        F64SubSet(_) | F64SubTee(_) => F64Sub,
        F64MulSet(_) | F64MulTee(_) => F64Mul,
        LocalSetGet(x, _) => LocalSet(x),
        LocalTeeGet(x, _) => LocalTee(x),
        I32AddI32Load(_) | I32AddF64Load(_) => I32Add,
        I32LoadSet(o, _) | I32LoadTee(o, _) => I32Load(o),
        I32EqConstBrIf(c, _)
        | I32NeConstBrIf(c, _)
        | I32LtSConstBrIf(c, _)
        | I32LtUConstBrIf(c, _)
        | I32GtSConstBrIf(c, _)
        | I32GtUConstBrIf(c, _)
        | I32LeSConstBrIf(c, _)
        | I32LeUConstBrIf(c, _)
        | I32GeSConstBrIf(c, _)
        | I32GeUConstBrIf(c, _) => I32Const(c),
        I32RotlConst(c) | I32XorConst(c) => I32Const(c),
        I64AddConst(c) | I64AndConst(c) | I64ShlConst(c) | I64ShrUConst(c) => I64Const(c),
        I32AddConstSet(c, _) => I32Const(c),
        I32ConstSet(c, _) | I32AddConst(c) | I32AndConst(c) | I32ShlConst(c) | I32ShrUConst(c) => {
            I32Const(c)
        }
        I64ConstSet(_, c) => I64Const(c),
        I32AddSet(_) | I32AddTee(_) => I32Add,
        I32EqzBrIf(_) => I32Eqz,
        I32EqBrIf(_) => I32Eq,
        I32NeBrIf(_) => I32Ne,
        I32LtSBrIf(_) => I32LtS,
        I32LtUBrIf(_) => I32LtU,
        I32GtSBrIf(_) => I32GtS,
        I32GtUBrIf(_) => I32GtU,
        I32LeSBrIf(_) => I32LeS,
        I32LeUBrIf(_) => I32LeU,
        I32GeSBrIf(_) => I32GeS,
        I32GeUBrIf(_) => I32GeU,
        other => other,
    }
}

fn fuse_triple(first: Instr, second: Instr, third: Instr) -> Option<Instr> {
    use Instr::*;
    Some(match (original(first), second, third) {
        (LocalGet(a), I32Const(c), I32Add) => LocalI32AddConst(a, c),
        (LocalGet(a), LocalGet(b), I32Add) => LocalsI32Add(a, b),
        (LocalGet(a), LocalGet(b), I32Sub) => LocalsI32Sub(a, b),
        (LocalGet(b), cmp, BrIf(t)) => return cmp_local_br_if(cmp, b, plain_jump(t)?),
        (I32Const(c), cmp, BrIf(t)) => return cmp_const_br_if(cmp, c, plain_jump(t)?),
        (LocalGet(a), I32Const(c), I32Shl) => LocalI32ShlConst(a, c),
        (LocalGet(a), LocalGet(b), I64Add) => LocalsI64Add(a, b),
        (LocalGet(a), LocalGet(b), F64Add) => LocalsF64Add(a, b),
        (LocalGet(a), LocalGet(b), F64Sub) => LocalsF64Sub(a, b),
        (LocalGet(a), LocalGet(b), F64Mul) => LocalsF64Mul(a, b),
        (I32Const(c), I32Add, LocalSet(x)) => I32AddConstSet(c, x),
        (I32Const(c), I32Add, LocalTee(x)) => I32AddConstTee(c, x),
        (I32Const(c), I32Add, F64Load(o)) => I32AddConstF64Load(c, o),
        (I32Const(c), I32Add, I64Load(o)) => I32AddConstI64Load(c, o),
        (LocalGet(a), LocalGet(v), I32Store(o)) => LocalsI32Store(a, v, o),
        (LocalGet(a), I32Const(c), I32Rotl) => LocalI32RotlConst(a, c),
        (LocalGet(a), I32Const(c), I32ShrU) => LocalI32ShrUConst(a, c),
        (LocalGet(a), LocalGet(b), I32And) => LocalsI32And(a, b),
        (LocalGet(a), LocalGet(b), I32Xor) => LocalsI32Xor(a, b),
        _ => return None,
    })
}

fn cmp_local_br_if(cmp: Instr, b: u32, to: u32) -> Option<Instr> {
    use Instr::*;
    Some(match cmp {
        I32Eq => I32EqLocalBrIf(b, to),
        I32Ne => I32NeLocalBrIf(b, to),
        I32LtS => I32LtSLocalBrIf(b, to),
        I32LtU => I32LtULocalBrIf(b, to),
        I32GtS => I32GtSLocalBrIf(b, to),
        I32GtU => I32GtULocalBrIf(b, to),
        I32LeS => I32LeSLocalBrIf(b, to),
        I32LeU => I32LeULocalBrIf(b, to),
        I32GeS => I32GeSLocalBrIf(b, to),
        I32GeU => I32GeULocalBrIf(b, to),
        _ => return None,
    })
}

fn cmp_const_br_if(cmp: Instr, c: u32, to: u32) -> Option<Instr> {
    use Instr::*;
    Some(match cmp {
        I32Eq => I32EqConstBrIf(c, to),
        I32Ne => I32NeConstBrIf(c, to),
        I32LtS => I32LtSConstBrIf(c, to),
        I32LtU => I32LtUConstBrIf(c, to),
        I32GtS => I32GtSConstBrIf(c, to),
        I32GtU => I32GtUConstBrIf(c, to),
        I32LeS => I32LeSConstBrIf(c, to),
        I32LeU => I32LeUConstBrIf(c, to),
        I32GeS => I32GeSConstBrIf(c, to),
        I32GeU => I32GeUConstBrIf(c, to),
        _ => return None,
    })
}

fn fuse_pair(first: Instr, second: Instr) -> Option<Instr> {
    use Instr::*;
    Some(match (original(first), second) {
        (LocalGet(a), LocalGet(b)) => LocalGet2(a, b),
        (LocalGet(a), I32Const(c)) => LocalGetI32Const(a, c),
        (LocalGet(a), I32Add) => LocalGetI32Add(a),
        (LocalGet(a), F64Add) => LocalGetF64Add(a),
        (LocalGet(a), F64Sub) => LocalGetF64Sub(a),
        (LocalGet(a), F64Mul) => LocalGetF64Mul(a),
        (LocalGet(a), I32Load(o)) => LocalGetI32Load(a, o),
        (LocalGet(a), F64Load(o)) => LocalGetF64Load(a, o),
        (LocalGet(a), LocalSet(x)) => LocalCopy(a, x),
        (LocalSet(x), LocalGet(y)) => LocalSetGet(x, y),
        (LocalTee(x), LocalGet(y)) => LocalTeeGet(x, y),
        (I32Add, I32Load(o)) => I32AddI32Load(o),
        (LocalGet(v), I32Store(o)) => LocalGetI32Store(v, o),
        (I32Load(o), LocalSet(x)) => I32LoadSet(o, x),
        (I32Load(o), LocalTee(x)) => I32LoadTee(o, x),
        (I32Const(c), I32Rotl) => I32RotlConst(c),
        (I32Const(c), I32Xor) => I32XorConst(c),
        (I32Add, F64Load(o)) => I32AddF64Load(o),
        (I64Const(c), I64Add) => I64AddConst(c),
        (I64Const(c), I64And) => I64AndConst(c),
        (I64Const(c), I64Shl) => I64ShlConst(c),
        (I64Const(c), I64ShrU) => I64ShrUConst(c),
        (I32Const(c), LocalSet(x)) => I32ConstSet(c, x),
        (I64Const(c), LocalSet(x)) => I64ConstSet(x, c),
        (I32Const(c), I32Add) => I32AddConst(c),
        (I32Const(c), I32And) => I32AndConst(c),
        (I32Const(c), I32Shl) => I32ShlConst(c),
        (I32Const(c), I32ShrU) => I32ShrUConst(c),
        (I32Add, LocalSet(x)) => I32AddSet(x),
        (I32Add, LocalTee(x)) => I32AddTee(x),
        (I64Add, LocalSet(x)) => I64AddSet(x),
        (F64Add, LocalSet(x)) => F64AddSet(x),
        (F64Sub, LocalSet(x)) => F64SubSet(x),
        (F64Mul, LocalSet(x)) => F64MulSet(x),
        (F64Add, LocalTee(x)) => F64AddTee(x),
        (F64Sub, LocalTee(x)) => F64SubTee(x),
        (F64Mul, LocalTee(x)) => F64MulTee(x),
        (I32Eqz, BrIf(t)) => I32EqzBrIf(t),
        (I32Eq, BrIf(t)) => I32EqBrIf(t),
        (I32Ne, BrIf(t)) => I32NeBrIf(t),
        (I32LtS, BrIf(t)) => I32LtSBrIf(t),
        (I32LtU, BrIf(t)) => I32LtUBrIf(t),
        (I32GtS, BrIf(t)) => I32GtSBrIf(t),
        (I32GtU, BrIf(t)) => I32GtUBrIf(t),
        (I32LeS, BrIf(t)) => I32LeSBrIf(t),
        (I32LeU, BrIf(t)) => I32LeUBrIf(t),
        (I32GeS, BrIf(t)) => I32GeSBrIf(t),
        (I32GeU, BrIf(t)) => I32GeUBrIf(t),
        (F64Add, F64Store(o)) => F64AddStore(o),
        (F64Sub, F64Store(o)) => F64SubStore(o),
        (F64Mul, F64Store(o)) => F64MulStore(o),
        (I32Const(c), I32Store8(o)) => I32ConstStore8(c, o),
        (LocalTee(x), I32Add) => LocalTeeI32Add(x),
        (I64Const(c), I64Mul) => I64MulConst(c),
        (LocalGet(a), I64Xor) => LocalGetI64Xor(a),
        (I64Xor, LocalTee(x)) => I64XorTee(x),
        (F64Eq, BrIf(t)) => F64EqBrIf(t),
        (F64Ne, BrIf(t)) => F64NeBrIf(t),
        (F64Lt, BrIf(t)) => F64LtBrIf(t),
        (F64Gt, BrIf(t)) => F64GtBrIf(t),
        (F64Le, BrIf(t)) => F64LeBrIf(t),
        (F64Ge, BrIf(t)) => F64GeBrIf(t),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Target;

    /// `plain` fused, after checking that every position still starts with the work of
    /// its own plain instruction.
    fn fused_keeping_originals(plain: &[Instr]) -> Vec<Instr> {
        let mut code = plain.to_vec();
        fuse(&mut code);
        for (fused, plain) in code.iter().zip(plain) {
            assert_eq!(original(*fused), *plain);
        }
        code
    }

    #[test]
    fn every_position_keeps_its_own_first_instruction() {
        let t = Target {
            to: 0,
            drop: 0,
            keep: 0,
        };
        let plain = vec![
            Instr::LocalGet(0),
            Instr::LocalGet(1),
            Instr::I32Add,
            Instr::LocalTee(2),
            Instr::I32Const(10),
            Instr::I32LtU,
            Instr::BrIf(t),
        ];
        let code = fused_keeping_originals(&plain);
        assert_eq!(
            code[0],
            Instr::LocalsI32Add(0, 1),
            "a triple wins over a pair"
        );
        assert_eq!(code[1], Instr::LocalGetI32Add(1));
        assert_eq!(code[2], Instr::I32AddTee(2));
        assert_eq!(code[5], Instr::I32LtUBrIf(t));
        assert_eq!(code[6], Instr::BrIf(t), "the second of a pair stays");
    }

    #[test]
    fn newer_pairs_and_triples_keep_first_instructions() {
        use Instr::*;
        let plain = vec![
            LocalGet(0),
            I32Const(4),
            I32Add, // LocalI32AddConst
            I32Const(1),
            I32Add,
            LocalSet(1), // I32AddConstSet
            LocalGet(2),
            F64Mul, // LocalGetF64Mul
            LocalGet(3),
            F64Load(8), // LocalGetF64Load
            LocalGet(4),
            LocalSet(5), // LocalCopy
            LocalTee(6),
            LocalGet(7), // LocalTeeGet
            I32Add,
            I32Load(0), // I32AddI32Load
            I64Const(3),
            I64ShrU, // I64ShrUConst
        ];
        let code = fused_keeping_originals(&plain);
        for expected in [
            LocalI32AddConst(0, 4),
            I32AddConstSet(1, 1),
            LocalGetF64Mul(2),
            LocalGetF64Load(3, 8),
            LocalCopy(4, 5),
            LocalTeeGet(6, 7),
            I32AddI32Load(0),
            I64ShrUConst(3),
        ] {
            assert!(code.contains(&expected), "{expected:?} in {code:?}");
        }
    }

    #[test]
    fn quadruples_and_compare_branches_keep_first_instructions() {
        use Instr::*;
        let jump = |drop| Target {
            to: 0,
            drop,
            keep: 0,
        };
        let plain = vec![
            LocalGet(0),
            I32Const(1),
            I32Add,
            LocalSet(0), // LocalI32AddConstSet
            LocalGet(1),
            LocalGet(2),
            I32LtS,
            BrIf(jump(0)), // I32LtSLocalBrIf
            I32Const(9),
            I32Ne,
            BrIf(jump(0)), // I32NeConstBrIf
            I32Const(9),
            I32Ne,
            BrIf(jump(1)), // moves values: only the pair fuses
        ];
        let code = fused_keeping_originals(&plain);
        assert_eq!(code[0], LocalI32AddConstSet(0, 1, 0));
        assert_eq!(code[5], I32LtSLocalBrIf(2, 0));
        assert_eq!(code[8], I32NeConstBrIf(9, 0));
        assert_eq!(
            code[11],
            I32Const(9),
            "no fusion may drop a branch's moved values"
        );
        assert_eq!(code[12], I32NeBrIf(jump(1)));
    }

    #[test]
    fn hash_round_and_float_branch_fusions_keep_first_instructions() {
        use Instr::*;
        let t = Target {
            to: 0,
            drop: 0,
            keep: 0,
        };
        let plain = vec![
            LocalGet(0),
            I32Const(30),
            I32Rotl,
            I32Xor, // LocalI32RotlConstXor
            LocalGet(1),
            I32Const(7),
            I32Rotl,
            I32Add, // LocalI32RotlConst (no xor after it)
            LocalGet(2),
            LocalSet(3),
            LocalGet(4),
            LocalSet(5), // LocalCopy2
            LocalGet(6),
            LocalGet(7),
            I32Xor, // LocalsI32Xor
            I32Const(5),
            I32Add,
            LocalTee(8), // I32AddConstTee
            F64Le,
            BrIf(t), // F64LeBrIf
            LocalGet(70_000),
            LocalSet(1),
            LocalGet(2),
            LocalSet(3), // a local too wide for LocalCopy2: the pair only
        ];
        let code = fused_keeping_originals(&plain);
        assert_eq!(code[0], LocalI32RotlConstXor(0, 30));
        assert_eq!(code[4], LocalI32RotlConst(1, 7));
        assert_eq!(code[8], LocalCopy2(2, 3, 4, 5));
        assert_eq!(code[12], LocalsI32Xor(6, 7));
        assert_eq!(code[15], I32AddConstTee(5, 8));
        assert_eq!(code[18], F64LeBrIf(t));
        assert_eq!(code[20], LocalCopy(70_000, 1));
    }

    #[test]
    fn float_stores_loads_and_byte_stores_keep_first_instructions() {
        use Instr::*;
        let plain = vec![
            F64Add,
            F64Store(8), // F64AddStore
            I32Const(16),
            I32Add,
            F64Load(8), // I32AddConstF64Load
            I32Const(1),
            I32Store8(3), // I32ConstStore8
            LocalTee(2),
            I32Add, // LocalTeeI32Add
            F64Mul,
            F64Store(0), // F64MulStore
        ];
        let code = fused_keeping_originals(&plain);
        assert_eq!(code[0], F64AddStore(8));
        assert_eq!(code[2], I32AddConstF64Load(16, 8));
        assert_eq!(code[5], I32ConstStore8(1, 3));
        assert_eq!(code[7], LocalTeeI32Add(2));
        assert_eq!(code[9], F64MulStore(0));
    }

    #[test]
    fn scaled_indexes_i64_hashing_and_local_stores_keep_first_instructions() {
        use Instr::*;
        let plain = vec![
            LocalGet(0),
            LocalGet(1),
            I32Const(2),
            I32Shl, // LocalGetLocalI32ShlConst
            I32Const(8),
            I32Add,
            I64Load(4), // I32AddConstI64Load
            I64Const(31),
            I64Mul, // I64MulConst
            LocalGet(2),
            I64Xor, // LocalGetI64Xor
            I64Xor,
            LocalTee(3), // I64XorTee
            LocalGet(4),
            LocalGet(5),
            I32Store(12), // LocalsI32Store
        ];
        let code = fused_keeping_originals(&plain);
        assert_eq!(code[0], LocalGetLocalI32ShlConst(0, 1, 2));
        assert_eq!(code[4], I32AddConstI64Load(8, 4));
        assert_eq!(code[7], I64MulConst(31));
        assert_eq!(code[9], LocalGetI64Xor(2));
        assert_eq!(code[11], I64XorTee(3));
        assert_eq!(code[13], LocalsI32Store(4, 5, 12));
    }
}
