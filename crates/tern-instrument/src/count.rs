//! Instruction counting, the fast tier's `instructions:N` trigger: only in modules
//! instrumented with [`Options::budget_global`](crate::Options::budget_global).
//!
//! The function body is cut into *runs*: straight-line stretches that, once entered,
//! execute to their end unless something traps. A run ends at every place control can
//! join or leave (a `loop` header, the `end` of a construct, `else`, after `if`, any
//! branch, `return`, `unreachable`) and after every call, so every safepoint sits on a
//! run boundary. Each run begins with a charge of its instruction count against the
//! budget global, an `i64` the host sets to N; the charge that takes the budget to zero
//! or below sets the request word, and the next safepoint takes the checkpoint.
//!
//! So the program stops at the first safepoint *at or after* N instructions, and the
//! host reads the exact number executed by then from the global: N minus what is left
//! (the charges before a safepoint are exactly the instructions before it). Instructions
//! are counted as the interpreter counts them: every executed operator except `nop`,
//! `block`, `loop` and the `end` of a block (the `end` of the function counts, as the
//! interpreter's return); an `else` counts when the `then` arm runs into it.
//!
//! ```wat
//! (global.set $budget (i64.sub (global.get $budget) (i64.const RUN_LENGTH)))
//! (if (i64.le_s (global.get $budget) (i64.const 0))
//!   (then (i32.atomic.store (i32.const 0) (i32.const 1))))   ;; request (flag memory)
//! ```

use crate::abi;
use crate::rewrite::flag_word;
use wasm_encoder::{BlockType, Instruction};
use wasmparser::Operator;

/// The instruction count of the run that starts in front of each operator (0 where no
/// run starts, or the run counts nothing).
pub(crate) fn run_lengths(ops: &[(Operator<'_>, u64)]) -> Vec<u32> {
    let mut lengths = vec![0u32; ops.len()];
    let mut depth = 0usize;
    let mut start = 0usize;
    for (i, (op, _)) in ops.iter().enumerate() {
        let ends_function = matches!(op, Operator::End) && depth == 0;
        if counted(op) || ends_function {
            lengths[start] += 1;
        }
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => depth += 1,
            Operator::End => depth = depth.saturating_sub(1),
            _ => {}
        }
        if ends_run(op) {
            start = (i + 1).min(ops.len() - 1);
        }
    }
    lengths
}

/// Whether the interpreter counts `op` when it executes (see the module docs; the `end`
/// of the function is told apart by the caller).
fn counted(op: &Operator<'_>) -> bool {
    !matches!(
        op,
        Operator::Nop | Operator::Block { .. } | Operator::Loop { .. } | Operator::End
    )
}

/// Whether a run ends after `op`: control may join or leave there, or a call returns
/// there (a safepoint).
fn ends_run(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Else
            | Operator::End
            | Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. }
            | Operator::Return
            | Operator::Unreachable
            | Operator::Call { .. }
            | Operator::CallIndirect { .. }
            | Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
    )
}

/// The charge of a run of `length` instructions against the budget global.
pub(crate) fn charge(global: u32, length: u32) -> [Instruction<'static>; 12] {
    let request = flag_word(abi::REQUEST_OFFSET, 2);
    [
        Instruction::GlobalGet(global),
        Instruction::I64Const(i64::from(length)),
        Instruction::I64Sub,
        Instruction::GlobalSet(global),
        Instruction::GlobalGet(global),
        Instruction::I64Const(0),
        Instruction::I64LeS,
        Instruction::If(BlockType::Empty),
        Instruction::I32Const(0),
        Instruction::I32Const(1),
        Instruction::I32Store(request),
        Instruction::End,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lengths(wat: &str) -> Vec<u32> {
        let wasm = wat::parse_str(wat).unwrap();
        let mut out = None;
        for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
            if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
                let mut reader = body.get_operators_reader().unwrap();
                let mut ops = Vec::new();
                while !reader.eof() {
                    ops.push(reader.read_with_offset().unwrap());
                }
                out.get_or_insert(run_lengths(&ops));
            }
        }
        out.unwrap()
    }

    #[test]
    fn runs_break_where_control_joins_and_after_calls() {
        let got = lengths(
            r#"(module (func $f (param i32) (result i32)
                 local.get 0          ;; 0: run of local.get, i32.eqz, if
                 i32.eqz
                 if                   ;; 3: run of i32.const, call
                   i32.const 1
                   call $g
                 else                 ;; 5: run of the else alone (the then arm's end)
                   nop                ;; 6: nothing counted in the else arm
                 end
                 loop                 ;; 8: nothing (loop)
                   local.get 0        ;; 9: run of local.get, br_if
                   br_if 0
                 end                  ;; 11: nothing (the loop's end)
                 i32.const 7          ;; 12: run of i32.const and the function's end
               )
               (func $g (param i32)))"#,
        );
        let runs: Vec<(usize, u32)> = got
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (i, *n))
            .collect();
        assert_eq!(runs, [(0, 3), (3, 2), (5, 1), (9, 2), (12, 2)]);
    }
}
