//! Differential test on `wasm-smith` modules: for every exported function, the
//! interpreter's canonical state after `n` instructions, restored through clones (with
//! the original and the instrumented main module), ends exactly like the uninterrupted
//! run: same results or same trap, same memories, tables and globals.

use crate::clones::{run_via_clones, trap_name};
use crate::harness::{Program, no_env, sample};
use crate::reclone::{Again, resume_with_request};
use arbitrary::Unstructured;
use tern_instrument::clone::MainLayout;
use tern_interp::{Config, ExportKind, Linker, Module, Outcome, RunError, Store, ValType, Value};
use tern_snapshot::ExecState;

/// Instructions an uninterrupted run may take before the case is skipped.
const LIMIT: u64 = 200_000;

fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        max_imports: 0,
        min_funcs: 1,
        max_funcs: 8,
        max_instructions: 200,
        max_nesting_depth: 8,
        max_memories: 2,
        max_memory32_bytes: 4 * 65536,
        max_tables: 2,
        max_table_elements: 64,
        export_everything: true,
        exceptions_enabled: false,
        gc_enabled: false,
        threads_enabled: false,
        relaxed_simd_enabled: false,
        wide_arithmetic_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        compact_imports_enabled: false,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        simd_enabled: true,
        tail_call_enabled: true,
        extended_const_enabled: true,
        multi_value_enabled: true,
        ..wasm_smith::Config::default()
    }
}

fn zero(ty: &ValType) -> Value {
    match ty {
        ValType::I32 => Value::I32(0),
        ValType::I64 => Value::I64(0),
        ValType::F32 => Value::F32(0),
        ValType::F64 => Value::F64(0),
        ValType::V128 => Value::V128(0),
        ValType::FuncRef => Value::FuncRef(None),
        ValType::ExternRef => Value::ExternRef(None),
    }
}

/// How a run ended: finished (results or trap), or paused with this state.
type Ended = Result<Result<Vec<Value>, String>, ExecState>;

/// Runs export `name` from a fresh instance with a budget. `None` if the module does
/// not instantiate or the run does not end within the budget. Also gives the state
/// without frames and the instructions executed.
fn run(p: &Program, budget: u64) -> Option<(Ended, ExecState, u64)> {
    let config = Config::default();
    let module = Module::new(&config, &p.original).ok()?;
    let mut store = Store::new(&config);
    let instance = Linker::new().instantiate(&mut store, &module).ok()?;
    store.set_instruction_budget(Some(budget));
    let ended = match store.invoke(instance, &p.export, &p.args) {
        Ok(Outcome::Finished(r)) => Ok(Ok(r)),
        Err(RunError::Trap(trap)) => Ok(Err(trap_name(&trap))),
        Ok(Outcome::Paused(_)) => Err(store.capture()),
        Err(other) => panic!("{}: {other:?}", p.name),
    };
    let mut state = store.capture();
    state.frames.clear();
    Some((ended, state, store.counted_instructions()))
}

fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Checks one seed; returns how many states were restored.
fn check_seed(seed: u64) -> usize {
    let bytes = random_bytes(seed, 8192);
    let Ok(mut module) = wasm_smith::Module::new(smith_config(), &mut Unstructured::new(&bytes))
    else {
        return 0;
    };
    if module.ensure_termination(2_000).is_err() {
        return 0;
    }
    let wasm = module.to_bytes();
    if std::env::var("DUMP_SEED").is_ok_and(|s| s == seed.to_string()) {
        std::fs::write("/tmp/smith.wasm", &wasm).unwrap();
    }
    if wasmparser::Validator::new_with_features(tern_instrument::supported_features())
        .validate_all(&wasm)
        .is_err()
    {
        return 0;
    }
    let Ok(compiled) = Module::new(&Config::default(), &wasm) else {
        return 0;
    };
    let exports: Vec<(String, Vec<Value>)> = compiled
        .exports()
        .filter(|(_, kind, _)| *kind == ExportKind::Func)
        .filter_map(|(name, _, index)| {
            let ty = compiled.func_type(index)?;
            Some((name.to_string(), ty.params.iter().map(zero).collect()))
        })
        .collect();
    let mut restored = 0;
    for (export, args) in exports {
        let name = format!("smith seed {seed} export {export:?}");
        let p = Program::new(&name, wasm.clone(), &export, args, no_env);
        let Some((Ok(reference), ref_state, len)) = run(&p, LIMIT) else {
            continue;
        };
        for n in sample(len.saturating_sub(1).max(1), 6, seed ^ len) {
            let Some((Err(paused), _, _)) = run(&p, n) else {
                continue;
            };
            for layout in [MainLayout::Original, MainLayout::Instrumented] {
                let what = format!("paused after {n}, {layout:?} main");
                let (results, mut state) = run_via_clones(&p, &paused, layout, &what);
                state.frames.clear();
                assert_eq!(results, reference, "{name}: {what}: results");
                assert_eq!(state, ref_state, "{name}: {what}: state");
            }
            // Checkpointed again inside the clone run, at a few points.
            for m in [1, 4, 16, 64, 256] {
                match resume_with_request(&p, &paused, m) {
                    Again::Finished(results, mut state) => {
                        state.frames.clear();
                        assert_eq!(results, reference, "{name}: request at {m}: results");
                        assert_eq!(*state, ref_state, "{name}: request at {m}: state");
                        break;
                    }
                    Again::Checkpointed(again) => {
                        let what = format!("paused after {n}, checkpoint {m} into clones");
                        let (results, mut state) = interp_finish(&p, &again);
                        state.frames.clear();
                        assert_eq!(results, reference, "{name}: {what}: interpreter");
                        assert_eq!(state, ref_state, "{name}: {what}: interpreter state");
                        let layout = MainLayout::Instrumented;
                        let (results, mut state) = run_via_clones(&p, &again, layout, &what);
                        state.frames.clear();
                        assert_eq!(results, reference, "{name}: {what}: clones");
                        assert_eq!(state, ref_state, "{name}: {what}: clones state");
                    }
                }
            }
            restored += 1;
        }
    }
    restored
}

/// Restores `state` on the interpreter with the original module and runs to the end.
fn interp_finish(p: &Program, state: &ExecState) -> (Result<Vec<Value>, String>, ExecState) {
    let config = Config::default();
    let module = Module::new(&config, &p.original).expect("compiles");
    let mut store = Store::new(&config);
    Linker::new()
        .instantiate_for_restore(&mut store, &module)
        .expect("instantiates");
    store
        .restore(state)
        .unwrap_or_else(|e| panic!("{}: restore: {e:?}\n{:#?}", p.name, state.frames));
    let results = match store.resume() {
        Ok(Outcome::Finished(r)) => Ok(r),
        Err(RunError::Trap(trap)) => Err(trap_name(&trap)),
        other => panic!("{}: {other:?}", p.name),
    };
    (results, store.capture())
}

#[test]
fn smith_modules_restore_through_clones() {
    // `SMITH_SEEDS=a..b` runs another range, e.g. for a longer hunt.
    let range = std::env::var("SMITH_SEEDS").ok().and_then(|r| {
        let (a, b) = r.split_once("..")?;
        Some(a.parse().ok()?..b.parse().ok()?)
    });
    let mut restored = 0;
    for seed in range.unwrap_or(0..250) {
        restored += check_seed(seed);
    }
    eprintln!("{restored} states restored");
    assert!(restored > 0, "no state restored");
}
