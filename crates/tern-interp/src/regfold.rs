//! Register forms: a stack-machine sequence done by one instruction on frame slots.
//!
//! Every operand-stack height is known statically, so the value at height `h` lives in
//! frame slot `locals + h`, and a local is slot `x`. An operator whose operands were
//! just pushed by `local.get` or a constant can therefore read them where they are,
//! and one whose result is stored by `local.set`/`local.tee` (or consumed by `br_if`)
//! can write (or test) it directly:
//!
//! ```text
//! local.get 2; i32.const 1; i32.add; local.set 2  =>  RI32AddImm { dst: 2, a: 2, imm: 1 }
//! local.get 0; local.get 1; i32.lt_s; br_if 0     =>  RI32LtSBr { a: 0, b: 1, to }
//! ```
//!
//! Like the fused pairs of `fuse.rs`, a register form *replaces the first* instruction
//! of its sequence in the uncounted code and leaves the others in place, so control
//! entering in the middle runs plain instructions, and counted execution (which runs
//! the plain code) can still pause between any two. A form leaves exactly the operand
//! stack the sequence would: it sets the stack's end (`sp`) and writes results that
//! stay on the stack to their slots.

use crate::code::{Imm32, Instr, Reg2, Reg3, RegBr, RegBrImm, RegImm, RegMem, RegStore};
use crate::regforms::{self, MemForm};

/// Bytes per value-stack slot and per instruction.
const SLOT: u64 = std::mem::size_of::<crate::store::Slot>() as u64;
const INSTR: u64 = std::mem::size_of::<Instr>() as u64;

/// Where an operand of a folded operator comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operand {
    Slot(u16),
    /// An integer constant that fits in 32 bits (sign-extended for i64), or a float
    /// constant as an `f32`'s bits (see [`narrow_f64`]); the consumer's type says which.
    Imm(u32),
}

/// What consumes the result of a folded operator, if it is folded too.
#[derive(Debug, Clone, Copy)]
enum Sink {
    Stack,
    Set(u16),
    Tee(u16),
    /// A branch to `to` that moves no values, taken when the value `!= neg`.
    Branch {
        to: u32,
        neg: bool,
    },
}

/// Puts register forms into `fast` (the fused copy of `code`) wherever one covers more
/// plain instructions than the fused instruction already there (`fused[i]` of them).
/// `heights[i]` is the operand-stack height before `code[i]`; `locals` is the
/// function's local count.
pub(crate) fn fold(code: &[Instr], heights: &[u32], locals: u32, fused: &[u8], fast: &mut [Instr]) {
    fold_with(code, heights, locals, fused, fast, false)
}

/// Like [`fold`], but every operator with a register form gets one, even when its
/// operands are already on the stack: threaded code (`exec/threaded`) has handlers for
/// register forms only.
#[cfg(tern_threaded)]
pub(crate) fn fold_all(code: &[Instr], heights: &[u32], locals: u32, fast: &mut [Instr]) {
    fold_with(code, heights, locals, &vec![0; code.len()], fast, true)
}

fn fold_with(
    code: &[Instr],
    heights: &[u32],
    locals: u32,
    fused: &[u8],
    fast: &mut [Instr],
    single: bool,
) {
    let max_height = heights.iter().copied().max().unwrap_or(0);
    // Distances are 16-bit byte counts; larger frames keep the plain and fused code.
    if (u64::from(locals) + u64::from(max_height) + 2) * SLOT > u64::from(u16::MAX) {
        return;
    }
    let folder = Folder {
        code,
        locals,
        single,
    };
    for (at, &height) in heights.iter().enumerate() {
        let Some((instr, covered)) = folder.fold_at(at, height) else {
            continue;
        };
        // A fused instruction does its fixed work with fewer operands to decode; prefer
        // it when the register form does no more.
        if covered > usize::from(fused[at]) {
            fast[at] = instr;
        }
    }
}

struct Folder<'c> {
    code: &'c [Instr],
    locals: u32,
    single: bool,
}

impl Folder<'_> {
    /// Frame slot of operand-stack height `h`.
    fn stack(&self, h: u32) -> u16 {
        (self.locals + h) as u16
    }

    /// The register form starting at `start` (where the stack height is `height`) and
    /// how many plain instructions it covers; `None` unless it covers two or more.
    fn fold_at(&self, start: usize, height: u32) -> Option<(Instr, usize)> {
        let code = self.code;
        // Forms name slots by their distance in bytes below the stack's end at `start`,
        // and count skipped instructions in bytes too: the loop adds them to pointers.
        let top = self.locals + height;
        let rel = |slot: u16| ((top - u32::from(slot)) as u64 * SLOT) as u16;
        let moved = |end: u16| ((i64::from(end) - i64::from(top)) * SLOT as i64) as i16;
        let mut pushed = Vec::with_capacity(2);
        let mut at = start;
        while pushed.len() < 2 {
            let operand = match code.get(at) {
                Some(&Instr::LocalGet(x)) => Operand::Slot(x as u16),
                Some(&Instr::I32Const(c)) => Operand::Imm(c),
                Some(&Instr::I64Const(c)) if c as i64 == i64::from(c as i32) => {
                    Operand::Imm(c as u32)
                }
                Some(&Instr::F32Const(bits)) if !f32::from_bits(bits).is_nan() => {
                    Operand::Imm(bits)
                }
                Some(&Instr::F64Const(bits)) => match narrow_f64(bits) {
                    Some(bits) => Operand::Imm(bits),
                    None => break,
                },
                _ => break,
            };
            pushed.push(operand);
            at += 1;
        }
        let consumer = *code.get(at)?;
        let n = pushed.len() as u32;
        // The consumer's inputs: values already on the stack, then the pushed ones.
        let inputs = |count: u32| -> Option<Vec<Operand>> {
            let below = count.checked_sub(n)?;
            let first = height.checked_sub(below)?;
            let mut all: Vec<_> = (0..below)
                .map(|i| Operand::Slot(self.stack(first + i)))
                .collect();
            all.extend_from_slice(&pushed);
            Some(all)
        };
        let form = |instr: Instr, end: usize| {
            (end > start || self.single).then_some((instr, end - start + 1))
        };
        let skip = |end: usize| ((end - start) as u64 * INSTR) as u8;
        let trap_at = ((at - start) as u64 * INSTR) as u8;

        if let Some(mut forms) = regforms::binary(consumer) {
            let operands = inputs(2)?;
            let (mut a, mut b) = (operands[0], operands[1]);
            if let Operand::Imm(_) = a {
                // A constant first operand: only if the operator can swap its operands.
                let mirrored = regforms::binary(forms.mirror?)?;
                (a, b, forms) = (b, a, mirrored);
            }
            let Operand::Slot(a) = a else { return None };
            let result = height + n - 2;
            let (sink, end) = self.sink(at, forms.branch.is_some());
            let (dst, tee, sp) = self.destinations(sink, result);
            let instr = match (sink, b) {
                (Sink::Branch { to, neg }, Operand::Slot(b)) => forms.branch?(RegBr {
                    a: rel(a),
                    b: rel(b),
                    sp: moved(sp),
                    skip: skip(end),
                    neg,
                    to: Imm32::new(to),
                }),
                (Sink::Branch { to, neg }, Operand::Imm(imm)) => forms.branch_imm?(RegBrImm {
                    a: rel(a),
                    sp: moved(sp),
                    skip: skip(end),
                    neg,
                    imm: Imm32::new(imm),
                    to: Imm32::new(to),
                }),
                (_, Operand::Slot(b)) => (forms.reg)(Reg3 {
                    dst: rel(dst),
                    tee: rel(tee),
                    a: rel(a),
                    b: rel(b),
                    sp: moved(sp),
                    skip: skip(end),
                    at: trap_at,
                }),
                (_, Operand::Imm(imm)) => forms.imm?(RegImm {
                    dst: rel(dst),
                    tee: rel(tee),
                    a: rel(a),
                    sp: moved(sp),
                    skip: skip(end),
                    at: trap_at,
                    imm: Imm32::new(imm),
                }),
            };
            return form(instr, end);
        }

        if let Some((memory, offset)) = regforms::memory(consumer) {
            let offset = Imm32::new(offset);
            return match memory {
                MemForm::Load(load) => {
                    let [Operand::Slot(addr)] = inputs(1)?[..] else {
                        return None;
                    };
                    let (sink, end) = self.sink(at, false);
                    let (dst, tee, sp) = self.destinations(sink, height + n - 1);
                    let instr = load(RegMem {
                        dst: rel(dst),
                        tee: rel(tee),
                        addr: rel(addr),
                        sp: moved(sp),
                        skip: skip(end),
                        at: trap_at,
                        offset,
                    });
                    form(instr, end)
                }
                MemForm::Store(store) => {
                    let [Operand::Slot(addr), Operand::Slot(val)] = inputs(2)?[..] else {
                        return None;
                    };
                    let instr = store(RegStore {
                        addr: rel(addr),
                        val: rel(val),
                        sp: moved(self.stack(height + n - 2)),
                        skip: skip(at),
                        at: trap_at,
                        offset,
                    });
                    form(instr, at)
                }
            };
        }

        let [Operand::Slot(a)] = inputs(1)?[..] else {
            return None;
        };
        let result = height + n - 1;
        // `i32.eqz; br_if` branches on the value being zero.
        if consumer == Instr::I32Eqz
            && let (Sink::Branch { to, neg }, end) = self.sink(at, true)
        {
            let sp = self.stack(result);
            return form(branch_nonzero(rel(a), moved(sp), skip(end), !neg, to), end);
        }
        if let Some((to, neg)) = branch(consumer) {
            let sp = self.stack(result);
            return form(branch_nonzero(rel(a), moved(sp), skip(at), neg, to), at);
        }
        let unary = regforms::unary(consumer)?;
        let (sink, end) = self.sink(at, false);
        let (dst, tee, sp) = self.destinations(sink, result);
        let instr = unary(Reg2 {
            dst: rel(dst),
            tee: rel(tee),
            a: rel(a),
            sp: moved(sp),
            skip: skip(end),
            at: trap_at,
        });
        form(instr, end)
    }

    /// What follows the operator at `at`, and the last instruction folded with it.
    fn sink(&self, at: usize, branches: bool) -> (Sink, usize) {
        let next = at + 1;
        match self.code.get(next) {
            Some(&Instr::LocalSet(x)) => (Sink::Set(x as u16), next),
            Some(&Instr::LocalTee(x)) => (Sink::Tee(x as u16), next),
            // `i32.eqz; br_if`: branch when the result is zero.
            Some(&Instr::I32Eqz) if branches => match self.code.get(next + 1) {
                Some(&instr) if let Some((to, neg)) = branch(instr) => {
                    (Sink::Branch { to, neg: !neg }, next + 1)
                }
                _ => (Sink::Stack, at),
            },
            Some(&instr) if branches => match branch(instr) {
                Some((to, neg)) => (Sink::Branch { to, neg }, next),
                None => (Sink::Stack, at),
            },
            _ => (Sink::Stack, at),
        }
    }

    /// `(dst, tee, sp)` for a result that the plain code would leave at height
    /// `result`.
    fn destinations(&self, sink: Sink, result: u32) -> (u16, u16, u16) {
        let slot = self.stack(result);
        match sink {
            Sink::Stack => (slot, slot, slot + 1),
            Sink::Set(x) => (x, x, slot),
            Sink::Tee(x) => (slot, x, slot + 1),
            // Nothing is written; the condition is consumed.
            Sink::Branch { .. } => (slot, slot, slot),
        }
    }
}

/// A branch that moves no values: `br_if` (taken on non-zero) or an `if`'s jump
/// (taken on zero, so `neg`).
fn branch(instr: Instr) -> Option<(u32, bool)> {
    match instr {
        Instr::BrIf(t) if t.drop == 0 => Some((t.to, false)),
        Instr::BrIfEqz(to) => Some((to, true)),
        _ => None,
    }
}

/// The bits of the `f32` that equals the `f64` with bits `bits`, if there is one. NaNs
/// are left out: a mirrored operator must not change which NaN it returns, and with a
/// number as the constant operand the NaN operand is the one returned either way.
fn narrow_f64(bits: u64) -> Option<u32> {
    let value = f64::from_bits(bits);
    let narrow = value as f32;
    (!value.is_nan() && f64::from(narrow).to_bits() == bits).then_some(narrow.to_bits())
}

fn branch_nonzero(a: u16, sp: i16, skip: u8, neg: bool, to: u32) -> Instr {
    Instr::RBrNz(RegBr {
        a,
        b: a,
        sp,
        skip,
        neg,
        to: Imm32::new(to),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Target;
    use Instr::*;

    /// Folds `plain` (starting at stack height 0, with `locals` locals) and returns the
    /// uncounted code; every position's height is derived from the stack effects of
    /// the few instructions used here.
    fn folded(plain: &[Instr], locals: u32) -> Vec<Instr> {
        let mut heights = Vec::new();
        let mut h = 0u32;
        for instr in plain {
            heights.push(h);
            h = match instr {
                LocalGet(_) | I32Const(_) | I64Const(_) | F64Const(_) => h + 1,
                LocalTee(_) | I32Load(_) | I32Eqz | I64ExtendI32U => h,
                LocalSet(_) | BrIf(_) | BrIfEqz(_) | I32Add | I32Sub | I32LtS | F64Add | F64Mul
                | F64Le => h - 1,
                I32Store(_) => h - 2,
                _ => h,
            };
        }
        let mut fast = plain.to_vec();
        fold(plain, &heights, locals, &vec![1; plain.len()], &mut fast);
        fast
    }

    fn jump(to: u32) -> Target {
        Target {
            to,
            drop: 0,
            keep: 0,
        }
    }

    #[test]
    fn an_add_of_two_locals_into_a_third_is_one_instruction() {
        let code = folded(&[LocalGet(0), LocalGet(1), I32Add, LocalSet(2), Return], 3);
        // Slots by distance in bytes below the stack's end (slot 3, with no operands).
        let expected = RI32Add(Reg3 {
            dst: 16,
            tee: 16,
            a: 48,
            b: 32,
            sp: 0,
            skip: 48,
            at: 32,
        });
        assert_eq!(code[0], expected);
        // The other positions keep a form of their own instruction.
        assert_eq!(code[3], LocalSet(2));
    }

    #[test]
    fn a_constant_first_operand_swaps_a_comparison() {
        // `5 < x` is `x > 5`; the branch takes the comparison's place on the stack.
        let code = folded(
            &[I32Const(5), LocalGet(0), I32LtS, BrIf(jump(0)), Return],
            1,
        );
        let expected = RI32GtSBrImm(RegBrImm {
            a: 16,
            sp: 0,
            skip: 48,
            neg: false,
            imm: Imm32::new(5),
            to: Imm32::new(0),
        });
        assert_eq!(code[0], expected);
    }

    #[test]
    fn a_subtraction_from_a_constant_is_not_folded_from_the_constant() {
        let code = folded(&[I32Const(5), LocalGet(0), I32Sub, Return], 1);
        assert_eq!(code[0], I32Const(5));
        // From the `local.get` on, the constant is an operand on the stack.
        assert!(matches!(code[1], RI32Sub(Reg3 { a: 16, b: 32, .. })));
    }

    #[test]
    fn a_tee_writes_the_local_and_keeps_the_value_on_the_stack() {
        let code = folded(&[LocalGet(0), I32Load(8), LocalTee(1), Drop, Return], 2);
        let expected = RI32Load(RegMem {
            dst: 0,
            tee: 16,
            addr: 32,
            sp: 16,
            skip: 32,
            at: 16,
            offset: Imm32::new(8),
        });
        assert_eq!(code[0], expected);
    }

    #[test]
    fn an_if_on_a_zero_test_branches_on_non_zero() {
        let code = folded(&[LocalGet(0), I32Eqz, BrIfEqz(9), Return], 1);
        assert!(matches!(
            code[0],
            RBrNz(RegBr {
                a: 16,
                neg: false,
                skip: 32,
                sp: 0,
                ..
            })
        ));
        assert!(matches!(
            code[1],
            RBrNz(RegBr {
                a: 16,
                neg: false,
                skip: 16,
                sp: -16,
                ..
            })
        ));
    }

    #[test]
    fn a_zero_test_of_a_comparison_negates_its_branch() {
        let code = folded(
            &[
                LocalGet(0),
                LocalGet(1),
                I32LtS,
                I32Eqz,
                BrIf(jump(0)),
                Return,
            ],
            2,
        );
        let expected = RI32LtSBr(RegBr {
            a: 32,
            b: 16,
            sp: 0,
            skip: 64,
            neg: true,
            to: Imm32::new(0),
        });
        assert_eq!(code[0], expected);
    }

    #[test]
    fn a_float_constant_that_an_f32_holds_is_an_immediate() {
        let four = 4.0f64.to_bits();
        let code = folded(
            &[
                LocalGet(0),
                F64Const(four),
                F64Le,
                I32Eqz,
                BrIf(jump(0)),
                Return,
            ],
            1,
        );
        let expected = RF64LeBrImm(RegBrImm {
            a: 16,
            sp: 0,
            skip: 64,
            neg: true,
            imm: Imm32::new(4.0f32.to_bits()),
            to: Imm32::new(0),
        });
        assert_eq!(code[0], expected);
        // `2 * x` is `x * 2`.
        let two = 2.0f64.to_bits();
        let code = folded(
            &[F64Const(two), LocalGet(0), F64Mul, LocalSet(1), Return],
            2,
        );
        assert!(matches!(
            code[0],
            RF64MulImm(RegImm { dst: 16, a: 32, imm, .. }) if imm == Imm32::new(2.0f32.to_bits())
        ));
    }

    #[test]
    fn float_constants_beyond_f32_nans_and_moving_branches_are_left_alone() {
        for constant in [0.1f64.to_bits(), f64::NAN.to_bits(), 1e300f64.to_bits()] {
            let code = folded(&[LocalGet(0), F64Const(constant), F64Add, Return], 1);
            assert_eq!(code[0], LocalGet(0));
            assert_eq!(code[1], F64Const(constant));
        }
        let moving = Target {
            to: 0,
            drop: 1,
            keep: 1,
        };
        let plain = [
            LocalGet(0),
            F64Const(0.1f64.to_bits()),
            F64Add,
            LocalGet(1),
            BrIf(moving),
            Return,
        ];
        let code = folded(&plain, 2);
        assert_eq!(code[0], LocalGet(0));
        assert_eq!(code[1], F64Const(0.1f64.to_bits()));
        assert_eq!(code[3], LocalGet(1));
    }

    /// Runs `f` once uncounted (register forms) and once counted one instruction at a
    /// time (plain code) on each argument; both must agree bit for bit.
    fn assert_forms_agree_with_plain_code(wat: &str, args: &[u64]) {
        use crate::{Config, Linker, Module, Outcome, Store, Value};
        let config = Config::default();
        let module = Module::new(&config, &wat::parse_str(wat).unwrap()).unwrap();
        for &arg in args {
            let run = |budget: Option<u64>| {
                let mut store = Store::new(&config);
                let instance = Linker::new().instantiate(&mut store, &module).unwrap();
                store.set_instruction_budget(budget);
                let mut outcome = store.invoke(instance, "f", &[Value::F64(arg)]).unwrap();
                while let Outcome::Paused(_) = outcome {
                    store.set_instruction_budget(budget);
                    outcome = store.resume().unwrap();
                }
                outcome
            };
            assert_eq!(run(None), run(Some(1)), "argument bits {arg:#x}");
        }
    }

    #[test]
    fn float_immediates_and_negated_branches_compute_what_the_plain_code_does() {
        // Doubles x (plus 0.5) until it is no longer below 1000 (or 3 steps ran out),
        // with comparisons against constants on both sides and `i32.eqz; br_if` exits,
        // forward and backward.
        let wat = r#"(module (func (export "f") (param f64) (result f64 i32) (local i32)
            (block (loop
              (br_if 1 (i32.eqz (f64.gt (f64.const 1000) (local.get 0))))
              (local.set 0 (f64.add (f64.mul (f64.const 2) (local.get 0)) (f64.const 0.5)))
              (local.set 1 (i32.add (local.get 1) (i32.const 1)))
              (br_if 1 (i32.eqz (i32.lt_s (local.get 1) (i32.const 3))))
              (br_if 0 (i32.eqz (f64.ge (local.get 0) (f64.const -0.0))))))
            (f64.sub (local.get 0) (f64.const 1.5)) (local.get 1)))"#;
        let args = [
            1.0f64,
            -0.0,
            0.0,
            -3.0,
            999.75,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut bits: Vec<u64> = args.iter().map(|a| a.to_bits()).collect();
        bits.extend([
            f64::NAN.to_bits(),
            0x7ff0_0000_0000_0001,
            0xfff8_0000_0000_1234,
        ]);
        assert_forms_agree_with_plain_code(wat, &bits);
    }

    #[test]
    fn frames_beyond_16_bit_distances_keep_the_plain_code() {
        let plain = [LocalGet(0), LocalGet(1), I32Add, LocalSet(2), Return];
        assert_eq!(folded(&plain, 5_000), plain.to_vec());
    }
}
