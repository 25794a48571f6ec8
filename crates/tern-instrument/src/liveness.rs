//! Which locals are live where: a backward data-flow analysis over one function body.
//!
//! A local is live at a point if some path from there reads it before writing it. The
//! cold path reports a dead local as zero instead of reading it, so saving a frame never
//! extends a local's live range (a register allocator would otherwise have to keep the
//! value alive up to every safepoint of the function). The analysis is conservative: a
//! local it calls dead is never read again before being overwritten, on every path, so
//! the zero can never be observed after a restore.

use wasmparser::Operator;

/// What one instruction does to locals and to control flow.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Reads a local (`local.get`).
    Use(u32),
    /// Writes a local without reading it (`local.set`, `local.tee`).
    Def(u32),
    /// Opens a `block` (`is_loop: false`) or `loop`.
    Open {
        is_loop: bool,
    },
    /// Opens an `if`.
    If,
    Else,
    End,
    /// Branches to these relative depths; `falls_through` for conditional branches.
    Branch {
        depths: Vec<u32>,
        falls_through: bool,
    },
    /// Leaves the function (`return`, `unreachable`, tail calls).
    Exit,
    /// Anything else: falls through, touches no local.
    Plain,
}

impl Step {
    pub(crate) fn of(op: &Operator<'_>) -> Step {
        match op {
            Operator::LocalGet { local_index } => Step::Use(*local_index),
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                Step::Def(*local_index)
            }
            Operator::Block { .. } => Step::Open { is_loop: false },
            Operator::Loop { .. } => Step::Open { is_loop: true },
            Operator::If { .. } => Step::If,
            Operator::Else => Step::Else,
            Operator::End => Step::End,
            Operator::Br { relative_depth } => Step::Branch {
                depths: vec![*relative_depth],
                falls_through: false,
            },
            Operator::BrIf { relative_depth }
            | Operator::BrOnNull { relative_depth }
            | Operator::BrOnNonNull { relative_depth } => Step::Branch {
                depths: vec![*relative_depth],
                falls_through: true,
            },
            Operator::BrTable { targets } => {
                let mut depths: Vec<u32> = targets.targets().filter_map(Result::ok).collect();
                depths.push(targets.default());
                Step::Branch {
                    depths,
                    falls_through: false,
                }
            }
            Operator::Return
            | Operator::Unreachable
            | Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::ReturnCallRef { .. } => Step::Exit,
            _ => Step::Plain,
        }
    }
}

/// Live-local sets at every instruction of a function (before the instruction runs).
pub(crate) struct Liveness {
    words: usize,
    /// Row `i` is the live-in set of instruction `i`; row `steps.len()` is the function
    /// exit (empty).
    bits: Vec<u64>,
}

impl Liveness {
    /// Analyzes a validated body given as one [`Step`] per instruction.
    pub(crate) fn compute(steps: &[Step], locals: u32) -> Liveness {
        let n = steps.len();
        let words = (locals as usize).div_ceil(64).max(1);
        let succs = successors(steps);
        let mut bits = vec![0u64; (n + 1) * words];
        let mut scratch = vec![0u64; words];
        // Reverse order makes straight-line code converge in one sweep; each extra sweep
        // carries liveness one loop back edge further.
        let mut changed = true;
        while changed {
            changed = false;
            for i in (0..n).rev() {
                scratch.fill(0);
                for &s in &succs[i] {
                    let row = &bits[s * words..(s + 1) * words];
                    for (acc, w) in scratch.iter_mut().zip(row) {
                        *acc |= w;
                    }
                }
                match steps[i] {
                    Step::Use(l) if l < locals => scratch[l as usize / 64] |= 1 << (l % 64),
                    Step::Def(l) if l < locals => scratch[l as usize / 64] &= !(1 << (l % 64)),
                    _ => {}
                }
                let row = &mut bits[i * words..(i + 1) * words];
                if row != scratch.as_slice() {
                    row.copy_from_slice(&scratch);
                    changed = true;
                }
            }
        }
        Liveness { words, bits }
    }

    /// Whether local `local` is live right before instruction `at`.
    pub(crate) fn is_live(&self, at: usize, local: u32) -> bool {
        let row = &self.bits[at * self.words..(at + 1) * self.words];
        row.get(local as usize / 64)
            .is_some_and(|w| w & (1 << (local % 64)) != 0)
    }

    /// The live flags of `locals` locals right before instruction `at`.
    pub(crate) fn live_at(&self, at: usize, locals: u32) -> Vec<bool> {
        (0..locals).map(|l| self.is_live(at, l)).collect()
    }
}

/// Successor instruction indices of every instruction; `steps.len()` is the exit.
pub(crate) fn successors(steps: &[Step]) -> Vec<Vec<usize>> {
    let n = steps.len();
    // Matching `else` and `end` of every opened construct; the function body itself is
    // the construct opened "at" index `n` and closed by the last `end`.
    let mut else_of = vec![None; n + 1];
    let mut end_of = vec![n; n + 1];
    let mut open = vec![n];
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Open { .. } | Step::If => open.push(i),
            Step::Else => {
                if let Some(&start) = open.last() {
                    else_of[start] = Some(i);
                }
            }
            Step::End => {
                if let Some(start) = open.pop() {
                    end_of[start] = i;
                }
            }
            _ => {}
        }
    }
    // Where a branch to the construct opened at `start` goes: the loop's first
    // instruction, or the construct's `end` (which falls through to what follows).
    let target = |start: usize| -> usize {
        if start == n {
            n
        } else if matches!(steps[start], Step::Open { is_loop: true }) {
            start + 1
        } else {
            end_of[start]
        }
    };
    let mut succs = Vec::with_capacity(n);
    let mut open = vec![n];
    for (i, step) in steps.iter().enumerate() {
        let next = (i + 1).min(n);
        let s = match step {
            Step::Open { .. } => {
                open.push(i);
                vec![next]
            }
            Step::If => {
                open.push(i);
                let other = else_of[i].map_or(end_of[i], |e| e + 1);
                vec![next, other]
            }
            Step::Else => {
                // Reached only by falling off the end of the `then` arm.
                let start = open.last().copied().unwrap_or(n);
                vec![end_of[start]]
            }
            Step::End => {
                open.pop();
                vec![next]
            }
            Step::Branch {
                depths,
                falls_through,
            } => {
                let mut s: Vec<usize> = depths
                    .iter()
                    .map(|&d| {
                        let at = open.len().checked_sub(1 + d as usize);
                        at.map_or(n, |at| target(open[at]))
                    })
                    .collect();
                if *falls_through {
                    s.push(next);
                }
                s
            }
            Step::Exit => Vec::new(),
            Step::Use(_) | Step::Def(_) | Step::Plain => vec![next],
        };
        succs.push(s);
    }
    succs
}
