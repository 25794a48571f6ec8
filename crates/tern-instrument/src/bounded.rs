//! Which calls need instrumentation at all: a module-wide pre-pass over the call graph.
//!
//! Every safepoint must still be reached in bounded time once a checkpoint is requested.
//! Polls at loop headers bound the time spent in loops; what is left are call chains.
//! Two facts about a defined function, computed as least fixpoints (so a function on a
//! call cycle never has either):
//!
//! * **bounded**: it has no loop, no indirect call, and every function it calls (or
//!   tail-calls) is an import or bounded. It returns in time bounded by the size of the
//!   code it can reach, so a call to it never needs a poll in front.
//! * **cannot unwind**: bounded, and every function it calls is defined and cannot
//!   unwind. It has no site at all (no loop, no poll, no call that could unwind), so the
//!   post-call check after a call to it is dropped. Imports can unwind: a blocking host
//!   call gives way to a checkpoint.
//!
//! Post-call checks also poll ([`Options::poll_after_calls`](crate::Options), on by
//! default): after every call that can unwind, the frame reports itself as the top
//! frame if a checkpoint is requested. Then:
//!
//! * a loop polls at its header only if some path from the header back to it passes no
//!   such call (a loop around a recursive call, `fib`, polls once per call after it);
//! * a function polls at entry only if some path from its entry reaches a tail call
//!   that is not bounded (or an indirect one) without passing a poll: tail calls replace
//!   the frame, so a cycle of them grows no stack and would never return to a check.
//!
//! Why a safepoint is still reached in bounded time: a stretch of execution without a
//! poll branches backwards only to loop headers (which poll, or the path back passed a
//! polling call, which has returned and polled), calls bounded functions (which
//! return), descends into unbounded calls (at most as deep as the stack limit lets it:
//! a deeper call traps) or returns to a caller, whose post-call check polls. Tail calls
//! into unbounded code are preceded by a poll on every path. So the work done without
//! a poll is at most the stack limit's depth times the code one frame runs forward.
//!
//! Without polls after calls (continuation clones), every loop polls at its header and
//! a function polls at entry if some path from its entry reaches a call that is not
//! bounded (direct to an unbounded function, or indirect) without passing a loop
//! header: between two calls into unbounded functions along any call chain there is a
//! poll, and a function that does not poll on its way makes only bounded calls and
//! returns (returns do not poll there). A function named in
//! [`Options::entry_poll`](crate::Options) always polls at entry and counts as neither.

use crate::error::Error;
use crate::liveness::{Step, successors};
use wasmparser::{Operator, Parser, Payload, TypeRef};

/// The call-graph facts, by function index of the original module (imports first).
#[derive(Debug, Default)]
pub(crate) struct CallFacts {
    /// Whether a call to the function is bounded (imports: the host returns).
    pub bounded: Vec<bool>,
    /// Whether the function can never report a frame or leave the unwinding word set.
    pub cannot_unwind: Vec<bool>,
    /// Whether post-call checks poll too ([`crate::Options::poll_after_calls`]).
    pub poll_after_calls: bool,
}

/// Per defined function: what the fixpoints need.
struct Scan {
    has_loop: bool,
    indirect: bool,
    /// Direct callees (`call`, `return_call`), function indices.
    callees: Vec<u32>,
}

impl CallFacts {
    /// Scans every body of `module` (not validated here: the pass validates each body
    /// when it rewrites it). `forced` always polls at entry.
    pub(crate) fn of(
        module: &[u8],
        forced: Option<u32>,
        poll_after_calls: bool,
    ) -> Result<CallFacts, Error> {
        let mut imported = 0u32;
        let mut scans = Vec::new();
        for payload in Parser::new(0).parse_all(module) {
            match payload? {
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        if let TypeRef::Func(_) | TypeRef::FuncExact(_) = import?.ty {
                            imported += 1;
                        }
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let mut scan = Scan {
                        has_loop: false,
                        indirect: false,
                        callees: Vec::new(),
                    };
                    let mut reader = body.get_operators_reader()?;
                    while !reader.eof() {
                        match reader.read()? {
                            Operator::Loop { .. } => scan.has_loop = true,
                            Operator::Call { function_index }
                            | Operator::ReturnCall { function_index } => {
                                scan.callees.push(function_index)
                            }
                            Operator::CallIndirect { .. }
                            | Operator::ReturnCallIndirect { .. }
                            | Operator::CallRef { .. }
                            | Operator::ReturnCallRef { .. } => scan.indirect = true,
                            _ => {}
                        }
                    }
                    scans.push(scan);
                }
                _ => {}
            }
        }
        let eligible = |f: usize, scan: &Scan| {
            !scan.has_loop && !scan.indirect && forced != Some(imported + f as u32)
        };
        let bounded = least_fixpoint(imported, &scans, true, eligible);
        let cannot_unwind = least_fixpoint(imported, &scans, false, eligible);
        Ok(CallFacts {
            bounded,
            cannot_unwind,
            poll_after_calls,
        })
    }

    fn get(v: &[bool], func: u32) -> bool {
        v.get(func as usize).copied().unwrap_or(false)
    }

    pub(crate) fn is_bounded(&self, func: u32) -> bool {
        Self::get(&self.bounded, func)
    }

    pub(crate) fn cannot_unwind(&self, func: u32) -> bool {
        Self::get(&self.cannot_unwind, func)
    }
}

/// The least set of functions such that an eligible defined function is in it when each
/// of its callees is (imports count as `imports_in`). Worklist over the reverse call
/// graph: linear in the number of call edges.
fn least_fixpoint(
    imported: u32,
    scans: &[Scan],
    imports_in: bool,
    eligible: impl Fn(usize, &Scan) -> bool,
) -> Vec<bool> {
    let n = scans.len();
    let mut inside = vec![imports_in; imported as usize];
    inside.resize(imported as usize + n, false);
    // Unresolved callee edges per defined function; `usize::MAX` marks ineligible ones.
    let mut pending = vec![0usize; n];
    let mut callers: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut ready = Vec::new();
    for (f, scan) in scans.iter().enumerate() {
        if !eligible(f, scan) {
            pending[f] = usize::MAX;
            continue;
        }
        for &callee in &scan.callees {
            match callee.checked_sub(imported) {
                Some(d) if (d as usize) < n => {
                    pending[f] += 1;
                    callers[d as usize].push(f);
                }
                // An import (or an index the validator will refuse).
                _ if callee < imported && imports_in => {}
                _ => pending[f] = usize::MAX,
            }
            if pending[f] == usize::MAX {
                break;
            }
        }
        if pending[f] == 0 {
            ready.push(f);
        }
    }
    while let Some(f) = ready.pop() {
        inside[imported as usize + f] = true;
        for &caller in &callers[f] {
            if pending[caller] != usize::MAX {
                pending[caller] -= 1;
                if pending[caller] == 0 {
                    ready.push(caller);
                }
            }
        }
    }
    inside
}

/// Whether a function body (one [`Step`] per instruction) can reach, from its entry and
/// without passing a poll, an instruction `i` with `needs_poll[i]` (a call that must be
/// preceded by a poll). `polls[i]`: once instruction `i` is reached, a poll follows
/// before anything else runs (a loop whose header polls, a call whose check polls).
pub(crate) fn needs_entry_poll(steps: &[Step], needs_poll: &[bool], polls: &[bool]) -> bool {
    let n = steps.len();
    let succs = successors(steps);
    // `unpolled[i]`: some path from the entry reaches instruction `i` without a poll.
    let mut unpolled = vec![false; n + 1];
    if n == 0 {
        return false;
    }
    unpolled[0] = true;
    let mut work = vec![0];
    while let Some(i) = work.pop() {
        if i >= n {
            continue;
        }
        if needs_poll[i] {
            return true;
        }
        if polls[i] {
            continue;
        }
        for &s in &succs[i] {
            if !unpolled[s] {
                unpolled[s] = true;
                work.push(s);
            }
        }
    }
    false
}

/// Which loops of a body need their header poll: `result[i]` for a `loop` at `i` is
/// whether some path from its first instruction back to it passes no instruction `j`
/// with `polling_call[j]` (a call whose check polls once it returns). The search stays
/// inside the loop: leaving it and coming back enters it again through its `loop`.
pub(crate) fn loop_header_polls(steps: &[Step], polling_call: &[bool]) -> Vec<bool> {
    let n = steps.len();
    let succs = successors(steps);
    let mut end_of = vec![n; n];
    let mut open = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Open { .. } | Step::If => open.push(i),
            Step::End => {
                if let Some(start) = open.pop() {
                    end_of[start] = i;
                }
            }
            _ => {}
        }
    }
    let mut polls = vec![false; n];
    let mut seen = vec![usize::MAX; n + 1];
    for (l, step) in steps.iter().enumerate() {
        if !matches!(step, Step::Open { is_loop: true }) {
            continue;
        }
        let (first, last) = (l + 1, end_of[l]);
        let mut work = vec![first];
        seen[first] = l;
        'search: while let Some(i) = work.pop() {
            if i > last || i >= n || polling_call[i] {
                continue;
            }
            for &s in &succs[i] {
                if s == first {
                    polls[l] = true;
                    break 'search;
                }
                if s > l && s <= last && seen[s] != l {
                    seen[s] = l;
                    work.push(s);
                }
            }
        }
    }
    polls
}

#[cfg(test)]
mod tests {
    use crate::{Options, SiteKind, instrument_with};

    /// Site kinds of function `func` (original index) after instrumenting `wat`.
    fn sites(wat: &str, options: &Options, func: u32) -> Vec<SiteKind> {
        let out = instrument_with(&wat::parse_str(wat).unwrap(), options).unwrap();
        wasmparser::validate(&out.module).unwrap();
        out.map
            .sites
            .iter()
            .filter(|s| s.func == func)
            .map(|s| s.kind)
            .collect()
    }

    const MODULE: &str = r#"(module
        (import "env" "host" (func $host (param i32) (result i32)))
        (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
        (func $calls_leaf (param i32) (result i32) (call $leaf (local.get 0)))
        (func $calls_host (param i32) (result i32) (call $host (call $leaf (local.get 0))))
        (func $rec (param i32) (result i32)
          (if (result i32) (local.get 0)
            (then (call $rec (i32.sub (local.get 0) (i32.const 1))))
            (else (i32.const 0))))
        (func $looping (param i32) (result i32)
          (loop (local.set 0 (call $calls_host (local.get 0))) (br_if 0 (local.get 0)))
          (call $rec (local.get 0)))
        (func $indirect (param i32) (result i32)
          (call_indirect (param i32) (result i32) (local.get 0) (i32.const 0)))
        (func $tail (param i32) (result i32) (return_call $rec (local.get 0)))
        (func $sometimes (param i32) (result i32)
          (loop
            (if (local.get 0) (then (local.set 0 (call $host (local.get 0)))))
            (br_if 0 (local.get 0)))
          (local.get 0))
        (table 1 funcref) (elem (i32.const 0) $leaf))"#;

    use SiteKind::{AfterCall, Call, Entry, LoopHeader};

    const CHECKS_ONLY: Options = Options {
        entry_poll: None,
        poll_after_calls: false,
        budget_global: None,
    };

    #[test]
    fn only_unbounded_calls_need_polls_and_only_unwinding_callees_checks() {
        let none = CHECKS_ONLY;
        // Bounded and unable to unwind: no site at all, and none after calling it.
        assert_eq!(sites(MODULE, &none, 1), []);
        assert_eq!(sites(MODULE, &none, 2), []);
        // Bounded, but a host call can give way: its check stays, no poll.
        assert_eq!(sites(MODULE, &none, 3), [Call]);
        // On a call cycle: polls at entry.
        assert_eq!(sites(MODULE, &none, 4), [Entry, Call]);
        // The loop header polls before the unbounded call after the loop can be reached.
        assert_eq!(sites(MODULE, &none, 5), [LoopHeader, Call, Call]);
        // An indirect call may reach anything.
        assert_eq!(sites(MODULE, &none, 6), [Entry, Call]);
        assert_eq!(sites(MODULE, &none, 7), [Entry]);
        assert_eq!(sites(MODULE, &none, 8), [LoopHeader, Call]);
    }

    #[test]
    fn polls_after_calls_replace_entry_and_header_polls() {
        let default = Options::default();
        assert_eq!(sites(MODULE, &default, 1), []);
        assert_eq!(sites(MODULE, &default, 2), []);
        assert_eq!(sites(MODULE, &default, 3), [Call, AfterCall]);
        // Recursion returns to a polling check: no entry poll.
        assert_eq!(sites(MODULE, &default, 4), [Call, AfterCall]);
        // Every iteration calls: the check after the call polls for the loop.
        assert_eq!(
            sites(MODULE, &default, 5),
            [Call, AfterCall, Call, AfterCall]
        );
        assert_eq!(sites(MODULE, &default, 6), [Call, AfterCall]);
        // A tail call never returns to a check: the entry polls.
        assert_eq!(sites(MODULE, &default, 7), [Entry]);
        // An iteration may skip the call: the header keeps its poll.
        assert_eq!(sites(MODULE, &default, 8), [LoopHeader, Call, AfterCall]);
    }

    #[test]
    fn a_forced_entry_poll_makes_callers_check() {
        let forced = Options {
            entry_poll: Some(1),
            poll_after_calls: false,
            ..Options::default()
        };
        assert_eq!(sites(MODULE, &forced, 1), [Entry]);
        assert_eq!(sites(MODULE, &forced, 2), [Entry, Call]);
        let forced = Options {
            entry_poll: Some(1),
            ..Options::default()
        };
        assert_eq!(sites(MODULE, &forced, 1), [Entry]);
        assert_eq!(sites(MODULE, &forced, 2), [Call, AfterCall]);
    }
}
