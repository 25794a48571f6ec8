//! The stepping driver: runs a program one instruction at a time through the
//! interpreter's instruction budget and writes one JSON line per selected instruction.
//!
//! The interpreter loop knows nothing of tracing. Each step arms a budget of one
//! instruction, so the store pauses right after it; between steps the tracer reads the
//! paused top frame and decodes the instruction at its pc from the original module.

use crate::json::{Line, value};
use crate::ops::{Detail, OpInfo, Ops};
use crate::options::{Resource, TraceOptions};
use std::collections::VecDeque;
use std::io::Write;
use tern_interp::{FrameTypes, Outcome, PauseReason, RunError, Store, ValType};
use tern_snapshot::TraceTail;

/// How many of the last events a tracer keeps for a snapshot (see [`Tracer::tail`]).
pub const TAIL_LEN: usize = 64;

/// Traces a program run by one store.
pub struct Tracer {
    options: TraceOptions,
    out: Box<dyn Write>,
    ops: Ops,
    types: FrameTypes,
    /// Instructions executed since the program started (continued across restores).
    next: u64,
    written: u64,
    tail: VecDeque<String>,
    /// The limit was reached: the program runs on untraced, still counted.
    detached: bool,
}

/// What an event needs from before its instruction runs.
struct Pending {
    line: Line,
    info: OpInfo,
    depth: usize,
}

impl Tracer {
    /// A tracer writing to `out`; the first instruction it sees is number `first` (0 for
    /// a program that starts, the count recorded in a snapshot for a restored one).
    pub fn new(options: TraceOptions, out: Box<dyn Write>, first: u64) -> Tracer {
        Tracer {
            options,
            out,
            ops: Ops::default(),
            types: FrameTypes::default(),
            next: first,
            written: 0,
            tail: VecDeque::with_capacity(TAIL_LEN),
            detached: false,
        }
    }

    /// The last (up to [`TAIL_LEN`]) events and the next instruction number, for a
    /// snapshot's `trace` section. After `--trace-limit` the events are the last ones
    /// written and the number still counts every instruction since.
    pub fn tail(&self) -> TraceTail {
        TraceTail {
            next: self.next,
            events: self.tail.iter().cloned().collect(),
        }
    }

    /// Runs like `start` (a call or a resume of `store`) would, tracing every
    /// instruction. The store's instruction budget, if armed, is honoured exactly: the
    /// run pauses with [`PauseReason::BudgetExhausted`] after that many instructions.
    /// Other pauses (interrupts, watched calls) are returned as they happen, in front of
    /// an instruction that has not run yet.
    pub fn run(
        &mut self,
        store: &mut Store,
        start: impl FnOnce(&mut Store) -> Result<Outcome, RunError>,
    ) -> Result<Outcome, RunError> {
        let mut budget = store.instruction_budget();
        if self.detached {
            return self.run_counted(store, budget, Some(start));
        }
        // A budget of zero pauses in front of the first instruction, so that its state
        // can be read before it runs.
        store.set_instruction_budget(Some(0));
        let mut outcome = start(store);
        let result = loop {
            if outcome != Ok(Outcome::Paused(PauseReason::BudgetExhausted)) {
                break outcome;
            }
            if budget == Some(0) {
                store.set_instruction_budget(None);
                break outcome;
            }
            if self
                .options
                .limit
                .is_some_and(|limit| self.written >= limit)
            {
                self.detached = true;
                break self.run_counted(store, budget, None::<fn(&mut Store) -> _>);
            }
            let pending = self.before(store);
            store.set_instruction_budget(Some(1));
            outcome = store.resume();
            let executed = match &outcome {
                Ok(Outcome::Paused(reason)) => *reason == PauseReason::BudgetExhausted,
                Ok(Outcome::Finished(_)) | Err(RunError::Trap(_) | RunError::Exit(_)) => true,
                Err(_) => false,
            };
            if !executed {
                // Paused in front of the instruction: it runs (and is traced) on resume.
                break outcome;
            }
            if let Some(pending) = pending {
                self.after(store, pending, &outcome);
            }
            self.next += 1;
            budget = budget.map(|b| b - 1);
        };
        let _ = self.out.flush();
        result
    }

    /// Runs untraced once the limit is reached, in slices of the instruction budget, so
    /// that the instruction number stays exact for a later snapshot and a restored
    /// trace. `start` begins the run (`None`: resume the paused store); the caller's
    /// `budget` is honoured exactly as in [`Tracer::run`].
    fn run_counted(
        &mut self,
        store: &mut Store,
        mut budget: Option<u64>,
        mut start: Option<impl FnOnce(&mut Store) -> Result<Outcome, RunError>>,
    ) -> Result<Outcome, RunError> {
        const SLICE: u64 = 1 << 24;
        loop {
            let slice = budget.map_or(SLICE, |b| b.min(SLICE));
            store.set_instruction_budget(Some(slice));
            let outcome = match start.take() {
                Some(start) => start(store),
                None => store.resume(),
            };
            let executed = slice - store.instruction_budget().unwrap_or(0);
            self.next += executed;
            budget = budget.map(|b| b - executed);
            let sliced = outcome == Ok(Outcome::Paused(PauseReason::BudgetExhausted));
            if !sliced || budget == Some(0) {
                store.set_instruction_budget(budget.filter(|&b| b > 0));
                return outcome;
            }
        }
    }

    /// The event of the instruction about to run, if it is selected.
    fn before(&mut self, store: &Store) -> Option<Pending> {
        let resources = self.options.resources;
        let frame = store.top_frame(&mut self.types, false, false)?;
        if !self.options.traces_func(frame.func) {
            return None;
        }
        let module = store.module(frame.instance)?;
        let info = self
            .ops
            .at(frame.instance.0, module, frame.func, frame.pc)?
            .clone();
        if !self.options.events.contains(info.kind) {
            return None;
        }
        let mut line = Line::new(self.next, info.kind.name());
        line.str("op", &info.name);
        if resources.contains(Resource::Pc) {
            line.num("func", frame.func.into());
            if let Some(name) = module.func_name(frame.func) {
                line.str("name", name);
            }
            line.num("pc", frame.pc.into());
        }
        match info.detail {
            Detail::Call(callee) => {
                line.num("callee", callee.into());
                if let Some(name) = module.func_name(callee) {
                    line.str("callee_name", name);
                }
            }
            Detail::Condition => {
                let taken = store.operand(0, ValType::I32) != Some(tern_interp::Value::I32(0));
                line.bool("taken", taken);
            }
            Detail::Select => {
                if let Some(tern_interp::Value::I32(i)) = store.operand(0, ValType::I32) {
                    line.num("index", i.into());
                }
            }
            Detail::Store { offset, ty } if resources.contains(Resource::Memory) => {
                if let Some(tern_interp::Value::I32(base)) = store.operand(1, ValType::I32) {
                    line.num("addr", u64::from(base) + offset);
                }
                if let Some(v) = store.operand(0, ty) {
                    line.raw("value", &value(&v));
                }
            }
            Detail::Load {
                offset, addr_depth, ..
            } if resources.contains(Resource::Memory) => {
                if let Some(tern_interp::Value::I32(base)) = store.operand(addr_depth, ValType::I32)
                {
                    line.num("addr", u64::from(base) + offset);
                }
            }
            Detail::Local(i) => line.num("local", i.into()),
            Detail::Global(i) => line.num("global", i.into()),
            _ => {}
        }
        let (locals, stack) = (
            resources.contains(Resource::Locals),
            resources.contains(Resource::Stack),
        );
        if locals || stack {
            let view = store.top_frame(&mut self.types, locals, stack)?;
            if stack {
                line.values("stack", &view.stack);
            }
            if locals {
                line.values("locals", &view.locals);
            }
        }
        Some(Pending {
            line,
            info,
            depth: store.call_depth(),
        })
    }

    /// Completes and writes the event once its instruction ran.
    fn after(&mut self, store: &Store, mut pending: Pending, outcome: &Result<Outcome, RunError>) {
        let line = &mut pending.line;
        let paused = matches!(outcome, Ok(Outcome::Paused(_)));
        match pending.info.detail {
            Detail::Load { ty, .. }
                if paused && self.options.resources.contains(Resource::Memory) =>
            {
                if let Some(v) = store.operand(0, ty) {
                    line.raw("value", &value(&v));
                }
            }
            Detail::CallIndirect if paused => {
                // A Wasm callee is the new top frame (one deeper, or in place of the
                // caller for a tail call); a host callee leaves no frame to name.
                let tail = pending.info.name.starts_with("return_");
                let depth = store.call_depth();
                if depth == pending.depth + usize::from(!tail)
                    && let Some(frame) = store.top_frame(&mut self.types, false, false)
                {
                    line.num("callee", frame.func.into());
                    if let Some(name) = store
                        .module(frame.instance)
                        .and_then(|m| m.func_name(frame.func))
                    {
                        line.str("callee_name", name);
                    }
                }
            }
            _ => {}
        }
        if paused
            && self.options.resources.contains(Resource::Globals)
            && let Some(frame) = store.top_frame(&mut self.types, false, false)
        {
            line.values("globals", &store.instance_globals(frame.instance));
        }
        match outcome {
            Err(RunError::Trap(trap)) => line.str("trap", &trap.kind.to_string()),
            Err(RunError::Exit(code)) => line.raw("exit", &code.to_string()),
            _ => {}
        }
        let text = pending.line.finish();
        let _ = writeln!(self.out, "{text}");
        if self.tail.len() == TAIL_LEN {
            self.tail.pop_front();
        }
        self.tail.push_back(text);
        self.written += 1;
    }
}
