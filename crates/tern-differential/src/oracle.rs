//! The oracle: for every exported function of a case, the interpreter's plain run is the
//! reference; the fast tier's plain run and every checkpointed-and-restored run must end
//! the same way with the same memories, tables and globals.

use crate::fast::{self, Fast, Hook, Stopped as FastStopped};
use crate::generate::{Call, Case};
use crate::interp::{Interp, Stopped as InterpStopped};
use crate::observed::Observed;
use std::sync::OnceLock;
use tern_fast::FastModule;

/// Instructions the reference run may take; longer calls are skipped.
const LIMIT: u64 = 1_000_000;
/// Interpreter pause points per call.
const PAUSES: usize = 2;
/// Checkpoint → restore hops in one fast-tier chain before it is finished without one.
const HOPS: usize = 3;

/// What a checked case did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Calls compared (0 when the input gave no usable module).
    pub calls: usize,
    /// Snapshots taken (on either engine) and restored.
    pub checkpoints: usize,
}

fn fast() -> Result<&'static Fast, String> {
    static FAST: OnceLock<Result<Fast, String>> = OnceLock::new();
    FAST.get_or_init(Fast::new).as_ref().map_err(Clone::clone)
}

/// Checks `case`; the error is the first disagreement, one line.
pub fn check_case(case: &Case) -> Result<Summary, String> {
    let mut checker = Checker::new(case)?;
    let Some(checker) = checker.as_mut() else {
        return Ok(Summary::default());
    };
    for call in &case.calls {
        checker
            .call(call)
            .map_err(|e| format!("export {:?} args {:?}: {e}", call.export, call.args))?;
    }
    Ok(checker.summary)
}

struct Checker {
    choices: crate::choose::Choices,
    interp: Interp,
    plain: FastModule,
    /// The module with a `call:` trigger on one of its functions, and what it is.
    triggered: Option<(FastModule, String)>,
    summary: Summary,
}

impl Checker {
    /// `None` when neither engine instantiates the module (an active segment traps).
    fn new(case: &Case) -> Result<Option<Checker>, String> {
        let mut choices = case.choices.clone();
        let interp = Interp::new(&case.wasm)?;
        let fast = fast()?;
        let plain = fast.module(&case.wasm)?;
        match (interp.instantiates(), fast::instantiates(&plain)) {
            (true, true) => {}
            (false, false) => return Ok(None),
            (i, f) => return Err(format!("instantiates: interp {i}, fast {f}")),
        }
        let triggered = if case.defined.is_empty() {
            None
        } else {
            let span = u64::from(case.defined.end - case.defined.start);
            let func = case.defined.start + (choices.up_to(span) - 1) as u32;
            let every = choices.up_to(4);
            let module = fast.module_with_call_trigger(&case.wasm, func, every)?;
            Some((module, format!("call:{func}:{every}")))
        };
        Ok(Some(Checker {
            choices,
            interp,
            plain,
            triggered,
            summary: Summary::default(),
        }))
    }

    fn call(&mut self, call: &Call) -> Result<(), String> {
        let Some((reference, length)) = self.interp.run(call, LIMIT)? else {
            return Ok(());
        };
        if reference.exhausted_stack() {
            return Ok(());
        }
        self.summary.calls += 1;
        match fast::run(&self.plain, call, Hook::None).map_err(|e| format!("fast plain: {e}"))? {
            FastStopped::Ended(run) => compare(&reference, &run, "fast plain")?,
            FastStopped::Unwound(_) => return Err("fast plain: unwound unasked".into()),
        }
        // (a) The interpreter paused at exact instruction counts, restored on both.
        for _ in 0..PAUSES.min(length.saturating_sub(1) as usize) {
            let n = self.choices.up_to(length - 1);
            self.interp_paused(call, &reference, n)?;
        }
        // (b) The fast tier checkpointed at safepoints, restored on both, again and again.
        let k = self.choices.up_to(8);
        let plain = self.plain.clone();
        let label = format!("fast after import call {k}");
        self.fast_chain(call, &reference, &plain, Hook::AfterImportCalls(k), &label)?;
        if let Some((module, label)) = self.triggered.clone() {
            self.fast_chain(call, &reference, &module, Hook::None, &label)?;
        }
        Ok(())
    }

    fn interp_paused(&mut self, call: &Call, reference: &Observed, n: u64) -> Result<(), String> {
        let bytes = match self.interp.pause_at(call, n)? {
            InterpStopped::Paused(bytes) => bytes,
            InterpStopped::Ended(_) => {
                return Err(format!(
                    "interp ended before instruction {n} of a longer run"
                ));
            }
        };
        self.summary.checkpoints += 1;
        let label = format!("interp paused at {n}");
        let run = self
            .interp
            .restore(&bytes)
            .map_err(|e| format!("{label} → interp: {e}"))?;
        compare(reference, &run, &format!("{label} → interp"))?;
        // On the fast tier, sometimes checkpointed again while the clones run.
        let hook = match self.choices.next() % 2 {
            0 => Hook::None,
            _ => Hook::AfterImportCalls(self.choices.up_to(4)),
        };
        let label = format!("{label} → fast ({hook:?})");
        match fast::restore(&self.plain, &bytes, hook).map_err(|e| format!("{label}: {e}"))? {
            FastStopped::Ended(run) => compare(reference, &run, &label),
            FastStopped::Unwound(again) => {
                self.summary.checkpoints += 1;
                let run = self
                    .interp
                    .restore(&again)
                    .map_err(|e| format!("{label}: {e}"))?;
                compare(reference, &run, &format!("{label} → checkpoint → interp"))
            }
        }
    }

    /// Runs `call` on `module` with `hook`; every snapshot it takes is restored on the
    /// interpreter (and finished there) and on `module` with the same hook (which may
    /// checkpoint again), up to [`HOPS`] times, the last restore on the plain module.
    fn fast_chain(
        &mut self,
        call: &Call,
        reference: &Observed,
        module: &FastModule,
        hook: Hook,
        label: &str,
    ) -> Result<(), String> {
        let mut label = label.to_string();
        let mut stopped = fast::run(module, call, hook).map_err(|e| format!("{label}: {e}"))?;
        for hop in 1..=HOPS {
            let bytes = match stopped {
                FastStopped::Ended(run) => return compare(reference, &run, &label),
                FastStopped::Unwound(bytes) => bytes,
            };
            self.summary.checkpoints += 1;
            label = format!("{label}, checkpoint {hop}");
            let run = self
                .interp
                .restore(&bytes)
                .map_err(|e| format!("{label} → interp: {e}"))?;
            compare(reference, &run, &format!("{label} → interp"))?;
            let (module, hook) = if hop == HOPS {
                (&self.plain, Hook::None)
            } else {
                (module, hook)
            };
            label = format!("{label} → fast");
            stopped = fast::restore(module, &bytes, hook).map_err(|e| format!("{label}: {e}"))?;
        }
        match stopped {
            FastStopped::Ended(run) => compare(reference, &run, &label),
            FastStopped::Unwound(_) => Err(format!("{label}: unwound unasked")),
        }
    }
}

/// `Ok` when `run` agrees with the reference (or hit a stack limit, which differs
/// between engines and between a run and its continuation clones).
fn compare(reference: &Observed, run: &Observed, label: &str) -> Result<(), String> {
    if run.exhausted_stack() {
        return Ok(());
    }
    match reference.difference(run) {
        None => Ok(()),
        Some(d) => Err(format!("{label}: {d} (reference vs this run)")),
    }
}
