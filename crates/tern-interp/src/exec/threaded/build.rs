//! Threaded code of one function: its register-form code with the instructions each
//! form covers left out, and the maps between threaded and plain indices.

use super::Op;
use super::handlers::handler_of;
use crate::code::{Instr, Target};

#[derive(Debug, Clone, Default)]
pub(crate) struct Threaded {
    pub ops: Vec<Op>,
    /// The plain index of each threaded instruction.
    pub orig: Vec<u32>,
    /// The threaded index of each plain index that starts a threaded instruction, and
    /// `u32::MAX` for those inside a form; one more entry for the end.
    pub comp: Vec<u32>,
    /// False when the function contains instructions that would fall back on every
    /// execution (SIMD, memories other than 0, frames too large for register forms):
    /// such a function runs in the loop.
    pub ok: bool,
}

/// Builds the threaded code from the plain code and its register-form copy (`reg`,
/// index for index; see `regfold::fold_all`).
pub(crate) fn build(code: &[Instr], reg: &[Instr], br_tables: &[Target]) -> Threaded {
    // A form may not swallow an instruction that a branch jumps to.
    let mut targeted = vec![false; code.len() + 1];
    let plain_targets = code.iter().filter_map(target_of);
    for to in plain_targets.chain(br_tables.iter().map(|t| t.to)) {
        targeted[to as usize] = true;
    }
    let mut orig = Vec::with_capacity(code.len());
    let mut comp = vec![u32::MAX; code.len() + 1];
    let mut picked = Vec::with_capacity(code.len());
    let mut i = 0;
    while i < code.len() {
        let (mut instr, mut n) = (reg[i], covered(&reg[i]));
        if n > 1 && (i + 1..i + n).any(|j| targeted[j]) {
            (instr, n) = (code[i], 1);
        }
        comp[i] = orig.len() as u32;
        orig.push(i as u32);
        picked.push(instr);
        i += n;
    }
    comp[code.len()] = orig.len() as u32;
    let ok = picked.iter().all(|i| !runs_in_loop(i));
    let ops = picked
        .iter()
        .enumerate()
        .map(|(k, &instr)| {
            let to = match instr {
                Instr::Call(_) => orig.get(k + 1).copied().unwrap_or(code.len() as u32),
                _ => target_of(&instr).map_or(0, |t| comp[t as usize]),
            };
            let run = handler_of(&instr);
            Op {
                run,
                instr: super::handlers::negate_offsets(instr),
                to,
            }
        })
        .collect();
    Threaded {
        ops,
        orig,
        comp,
        ok,
    }
}

/// How many plain instructions `instr` does.
fn covered(instr: &Instr) -> usize {
    let skip = match instr {
        Instr::RBrNz(r) => Some(r.skip),
        _ => super::handlers::form_skip(instr),
    };
    1 + skip.map_or(0, |s| usize::from(s) / std::mem::size_of::<Instr>())
}

/// The plain index a branch jumps to.
fn target_of(instr: &Instr) -> Option<u32> {
    match instr {
        Instr::Br(t) | Instr::BrIf(t) => Some(t.to),
        Instr::BrIfEqz(to) => Some(*to),
        Instr::RBrNz(r) => Some(r.to.get()),
        _ => super::handlers::form_target(instr),
    }
}

/// Instructions that a program may execute often and that threaded code leaves to
/// the loop. An operator with a register form is left plain when the function's frame
/// is too large for register forms, or when its form would cover a branch target.
fn runs_in_loop(instr: &Instr) -> bool {
    use Instr::*;
    matches!(
        instr,
        V128Const(_)
            | V128Load { .. }
            | V128Store { .. }
            | V128LoadLane { .. }
            | V128StoreLane { .. }
            | SimdUnary(_)
            | SimdBinary(_)
            | SimdTernary(_)
            | SimdShuffle(_)
            | SimdSplat(_)
            | SimdExtractLane(..)
            | SimdReplaceLane(..)
            | SimdShift(_)
            | SimdTest(_)
            | LocalGetV128(_)
            | LocalSetV128(_)
            | LocalTeeV128(_)
            | Load { .. }
            | Store { .. }
    ) || crate::regforms::binary(*instr).is_some()
        || crate::regforms::unary(*instr).is_some()
        || crate::regforms::memory(*instr).is_some()
}
