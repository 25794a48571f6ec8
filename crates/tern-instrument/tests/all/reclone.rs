//! Restored programs can be checkpointed again: frames resumed through *instrumented*
//! clones (on the instrumented main module) are interrupted after `m` instructions of
//! the resumed run; the frames reported by the clones' and the main module's cold
//! paths, under the frames not resumed yet, must form a canonical state that the
//! interpreter — and clones again — finish exactly like an uninterrupted run.

use crate::clones::{original_length, restore_via_clones};
use crate::harness::{Outcome2, Program, sample, to_original};
use crate::wat_cases::cases;
use std::sync::{Arc, Mutex};
use tern_instrument::clone::{
    CLONE_FRAME, CloneOutcome, CloneRunner, MAIN_MODULE, MainLayout, ResumeCollector, Resumed,
    export_for_clones,
};
use tern_instrument::{ADDED_FUNCS, Continuations, UNWINDING_OFFSET};
use tern_interp::{
    Config, Extern, FuncType, InstanceId, Limits, Linker, MemoryType, Module, Outcome, Store,
    ValType, Value,
};
use tern_snapshot::{ExecState, MemoryImage};

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
            Err(tern_interp::RunError::Trap(trap)) => {
                Ok(CloneOutcome::Returned(vec![])).and(Err(crate::clones::trap_name(&trap)))
            }
            other => Err(format!("{export}: {other:?}")),
        }
    }
}

fn shift_ref(value: Value) -> Value {
    match value {
        Value::FuncRef(Some(f)) => Value::FuncRef(Some(f + ADDED_FUNCS)),
        other => other,
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
    wasmparser::Validator::new_with_features(tern_instrument::supported_features())
        .validate_all(&conts.module)
        .unwrap_or_else(|e| panic!("{}: instrumented clones invalid: {e}", p.name));
    let clone_map = conts.map.as_ref().expect("a clone map");
    let config = Config::default();
    let mut store = Store::new(&config);
    let flags = store.new_memory(MemoryType {
        limits: Limits {
            min: 1,
            max: Some(1),
        },
    });
    let collector = Arc::new(Mutex::new(ResumeCollector::new()));
    let mut tern = Linker::new();
    tern.define("tern", "flags", Extern::Memory(flags));
    for (name, from_clone) in [("frame", false), (CLONE_FRAME, true)] {
        let c = collector.clone();
        tern.func(
            "tern",
            name,
            FuncType::new([ValType::I32; 2], []),
            move |_, args| {
                let (Value::I32(func), Value::I32(site)) = (args[0], args[1]) else {
                    panic!("frame takes two i32");
                };
                let mut c = c.lock().unwrap();
                if from_clone {
                    c.clone_frame(func, site);
                } else {
                    c.frame(func, site);
                }
                Ok(Vec::new())
            },
        );
    }
    for (name, ty) in [
        ("save_i32", ValType::I32),
        ("save_i64", ValType::I64),
        ("save_f32", ValType::F32),
        ("save_f64", ValType::F64),
        ("save_v128", ValType::V128),
        ("save_funcref", ValType::FuncRef),
        ("save_externref", ValType::ExternRef),
    ] {
        let c = collector.clone();
        tern.func("tern", name, FuncType::new([ty], []), move |_, args| {
            c.lock()
                .unwrap()
                .save(to_original(args[0]))
                .map_err(|e| tern_interp::HostError::Trap(e.to_string()))?;
            Ok(Vec::new())
        });
    }
    let mut linker = tern.clone();
    (p.env)(&mut linker);
    let main_bytes = export_for_clones(&p.instrumented.module, MainLayout::Instrumented).unwrap();
    let module = Module::new(&config, &main_bytes).expect("main compiles");
    let main = linker
        .instantiate_for_restore(&mut store, &module)
        .expect("main instantiates");
    let mut main_state = state.clone();
    main_state.frames.clear();
    main_state.memories.insert(
        0,
        MemoryImage {
            pages: 1,
            nonzero_pages: Vec::new(),
        },
    );
    for table in &mut main_state.tables {
        for e in &mut table.elements {
            *e = shift_ref(*e);
        }
    }
    for g in &mut main_state.globals {
        *g = shift_ref(*g);
    }
    store.restore(&main_state).expect("main state restores");
    let mut clone_linker = tern;
    clone_linker.define_instance(&store, MAIN_MODULE, main);
    let clones_module = Module::new(&config, &conts.module).expect("clones compile");
    let clones = clone_linker
        .instantiate(&mut store, &clones_module)
        .expect("clones instantiate");
    store.set_instruction_budget(Some(m));
    let resumed = conts.resume(&mut Runner {
        store: &mut store,
        clones,
        flags,
    });
    let mut after = store.capture();
    after.memories.remove(0);
    after.tables.truncate(main_state.tables.len());
    after.instances.truncate(1);
    for table in &mut after.tables {
        for e in &mut table.elements {
            *e = to_original(*e);
        }
    }
    for g in &mut after.globals {
        *g = to_original(*g);
    }
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
        let config = Config::default();
        let module = Module::new(&config, &p.original).unwrap();
        let mut store = Store::new(&config);
        let mut linker = Linker::new();
        (p.env)(&mut linker);
        let instance = linker.instantiate(&mut store, &module).unwrap();
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
        let len = original_length(&p);
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
    for name in [
        "fib",
        "calls",
        "mandelbrot",
        "matmul",
        "nbody",
        "sha256",
        "sieve",
        "sort",
    ] {
        let arg = if name == "fib" {
            12
        } else if name == "calls" {
            3
        } else {
            2
        };
        let p = crate::real::workload(name, Value::I32(arg));
        let reference = p.reference();
        let len = original_length(&p);
        let states = interp_states(&p, sample(len - 1, 8, 0xa9a1 ^ len));
        let taken = checkpoint_again(&p, &reference, &states, false);
        assert!(taken > 0, "{name}: no checkpoint taken in a clone run");
    }
}
