//! Restored programs can be checkpointed again: frames resumed through *instrumented*
//! clones (on the instrumented main module) are interrupted after `m` instructions of
//! the resumed run; the frames reported by the clones' and the main module's cold
//! paths, under the frames not resumed yet, must form a canonical state that the
//! interpreter — and clones again — finish exactly like an uninterrupted run.

use crate::clones::{instantiate_with_clones, main_part, restore_via_clones};
use crate::harness::{
    Outcome2, Program, WORKLOADS, sample, tern_linker, to_instrumented_state, to_original,
    to_original_state, validate,
};
use crate::wat_cases::cases;
use std::sync::{Arc, Mutex};
use tern_instrument::clone::{
    CLONE_FRAME, CloneOutcome, CloneRunner, MainLayout, ResumeCollector, Resumed, export_for_clones,
};
use tern_instrument::{Continuations, UNWINDING_OFFSET};
use tern_interp::{Config, InstanceId, Outcome, Store, Value};
use tern_snapshot::ExecState;

struct Runner<'s> {
    store: &'s mut Store,
    clones: InstanceId,
    flags: u32,
}

impl CloneRunner for Runner<'_> {
    type Error = String;

    fn call_clone(&mut self, export: &str, args: Vec<Value>) -> Result<CloneOutcome, String> {
        let mut outcome = self.store.invoke(self.clones, export, &args);
        if let Ok(Outcome::Paused(_)) = outcome {
            // The budget ran out: request a checkpoint and let the program reach a
            // safepoint.
            self.store.memory_mut(self.flags).unwrap()[..4].copy_from_slice(&1u32.to_le_bytes());
            outcome = self.store.resume();
        }
        let off = UNWINDING_OFFSET as usize;
        let unwinding = self.store.memory(self.flags).unwrap()[off..off + 4] != [0; 4];
        match outcome {
            Ok(Outcome::Finished(_)) if unwinding => Ok(CloneOutcome::Unwound),
            Ok(Outcome::Finished(r)) => Ok(CloneOutcome::Returned(r)),
            Err(tern_interp::RunError::Trap(trap)) => Err(crate::clones::trap_name(&trap)),
            other => Err(format!("{export}: {other:?}")),
        }
    }
}

/// What a resumed run with a checkpoint request after `m` instructions gives.
pub enum Again {
    /// Results (or the trap, see `trap_name`) and the state without frames.
    Finished(Result<Vec<Value>, String>, Box<ExecState>),
    /// The canonical state of the new checkpoint.
    Checkpointed(Box<ExecState>),
}

pub fn resume_with_request(p: &Program, state: &ExecState, m: u64) -> Again {
    let conts: Continuations =
        tern_instrument::instrumented_continuations(&p.original, &state.frames)
            .unwrap_or_else(|e| panic!("{}: instrumented clones: {e}", p.name));
    validate(&conts.module, &format!("{}: instrumented clones", p.name));
    let clone_map = conts.map.as_ref().expect("a clone map");
    let config = Config::default();
    let mut store = Store::new(&config);
    let collector = Arc::new(Mutex::new(ResumeCollector::new()));
    let (c, sc) = (collector.clone(), collector.clone());
    let (tern, flags) = tern_linker(
        &mut store,
        &["frame", CLONE_FRAME],
        move |name, func, site| {
            let mut c = c.lock().unwrap();
            if name == CLONE_FRAME {
                c.clone_frame(func, site);
            } else {
                c.frame(func, site);
            }
        },
        move |value| sc.lock().unwrap().save(value).map_err(|e| e.to_string()),
    );
    let mut linker = tern.clone();
    (p.env)(&mut linker);
    let main_bytes = export_for_clones(&p.instrumented.module, MainLayout::Instrumented).unwrap();
    let mut main_state = state.clone();
    main_state.frames.clear();
    let main_state = to_instrumented_state(main_state);
    let clones = instantiate_with_clones(
        &mut store,
        linker,
        &main_bytes,
        &main_state,
        tern,
        &conts.module,
    );
    store.set_instruction_budget(Some(m));
    let resumed = conts.resume(&mut Runner {
        store: &mut store,
        clones,
        flags,
    });
    let mut after = to_original_state(main_part(store.capture(), &main_state));
    match resumed {
        Err(trap) => Again::Finished(Err(trap), Box::new(after)),
        Ok(Resumed::Finished(results)) => {
            assert!(
                collector.lock().unwrap().is_empty(),
                "{}: frames reported",
                p.name
            );
            let results = results.into_iter().map(to_original).collect();
            Again::Finished(Ok(results), Box::new(after))
        }
        Ok(Resumed::Unwound { running }) => {
            let collector = std::mem::take(&mut *collector.lock().unwrap());
            let reported = collector
                .finish(&p.instrumented.map, clone_map, 0)
                .unwrap_or_else(|e| panic!("{}: after {m}: {e}", p.name));
            let mut frames = state.frames[..running].to_vec();
            frames.extend(reported);
            after.frames = frames;
            Again::Checkpointed(Box::new(after))
        }
    }
}

/// For each state, requests a checkpoint after `m = 1, 2, 3, …` instructions (densely,
/// or doubling) until the resumed run finishes before the request; checks both endings.
/// Returns the checkpoints taken.
fn checkpoint_again(
    p: &Program,
    reference: &Outcome2,
    states: &[ExecState],
    every_m: bool,
) -> usize {
    let mut taken = 0;
    for state in states {
        let mut m = 1;
        loop {
            match resume_with_request(p, state, m) {
                Again::Finished(results, state) => {
                    let outcome = Outcome2 {
                        results: results.unwrap_or_else(|e| panic!("{}: {e}", p.name)),
                        state: *state,
                    };
                    assert_eq!(
                        &outcome, reference,
                        "{}: finished after request at {m}",
                        p.name
                    );
                    break;
                }
                Again::Checkpointed(again) => {
                    let what = format!("checkpoint {m} instructions into a clone run");
                    let outcome = p.restore_and_finish(&again, m);
                    assert_eq!(outcome, *reference, "{}: {what}, interpreter", p.name);
                    let outcome = restore_via_clones(p, &again, MainLayout::Original, &what);
                    assert_eq!(outcome, *reference, "{}: {what}, clones", p.name);
                    taken += 1;
                }
            }
            m = if every_m { m + 1 + m / 16 } else { m * 2 + 1 };
        }
    }
    taken
}

/// States of interpreter pauses after each of `points` instructions.
fn interp_states(p: &Program, points: impl IntoIterator<Item = u64>) -> Vec<ExecState> {
    let mut states = Vec::new();
    for n in points {
        let (mut store, instance) = p.original_store();
        store.set_instruction_budget(Some(n));
        if let Ok(Outcome::Paused(_)) = store.invoke(instance, &p.export, &p.args) {
            states.push(store.capture());
        }
    }
    states
}

#[test]
fn wat_cases_checkpoint_again() {
    let mut all: Vec<Program> = cases()
        .into_iter()
        .map(|(n, w, e, a, env)| Program::new(n, wat::parse_str(w).unwrap(), e, a, env))
        .collect();
    for (name, wat, arg) in crate::clones::CLONE_CASES {
        let args = vec![Value::I32(*arg as u32)];
        let bytes = wat::parse_str(wat).unwrap();
        all.push(Program::new(name, bytes, "f", args, crate::harness::no_env));
    }
    for p in all {
        let name = p.name.clone();
        let reference = p.reference();
        let len = p.original_length();
        let states = interp_states(&p, (1..len).step_by(9));
        let taken = checkpoint_again(&p, &reference, &states, true);
        assert!(taken > 0, "{name}: no checkpoint taken in a clone run");
        eprintln!(
            "{name}: {} states, {taken} checkpoints in clone runs",
            states.len()
        );
    }
}

#[test]
fn workloads_checkpoint_again() {
    for (name, arg) in WORKLOADS {
        let p = crate::real::workload(name, Value::I32(arg));
        let reference = p.reference();
        let len = p.original_length();
        let states = interp_states(&p, sample(len - 1, 8, 0xa9a1 ^ len));
        let taken = checkpoint_again(&p, &reference, &states, false);
        assert!(taken > 0, "{name}: no checkpoint taken in a clone run");
    }
}
