//! Restores through continuation clones: the frames of a checkpoint — taken through the
//! instrumentation's cold path, or by the interpreter itself at any instruction — are
//! resumed by a clones module instantiated next to the main module (original or
//! instrumented) on tern's interpreter, and must end exactly like an uninterrupted run.

use crate::harness::{Outcome2, Program, sample, to_original};
use crate::real::workload;
use crate::wat_cases::cases;
use tern_instrument::clone::{
    CloneOutcome, CloneRunner, MAIN_MODULE, MainLayout, Resumed, export_for_clones,
};
use tern_instrument::{ADDED_FUNCS, Continuations};
use tern_interp::{
    Config, Extern, FuncType, InstanceId, Limits, Linker, MemoryType, Module, Outcome, Store,
    ValType, Value,
};
use tern_snapshot::{ExecState, MemoryImage};

/// The interpreter as the engine that runs clones.
struct Interp<'s> {
    store: &'s mut Store,
    clones: InstanceId,
}

impl CloneRunner for Interp<'_> {
    type Error = String;

    fn call_clone(&mut self, export: &str, args: Vec<Value>) -> Result<CloneOutcome, String> {
        match self.store.invoke(self.clones, export, &args) {
            Ok(Outcome::Finished(results)) => Ok(CloneOutcome::Returned(results)),
            other => Err(format!("{export}: {other:?}")),
        }
    }
}

fn shift_ref(value: Value, by: u32) -> Value {
    match value {
        Value::FuncRef(Some(f)) => Value::FuncRef(Some(f + by)),
        other => other,
    }
}

/// Resumes `state` (original numbering, frames included) through clones, with the main
/// module in `layout`, and runs to the end.
fn restore_via_clones(p: &Program, state: &ExecState, layout: MainLayout, what: &str) -> Outcome2 {
    let conts: Continuations = tern_instrument::continuations(&p.original, &state.frames)
        .unwrap_or_else(|e| panic!("{}: {what}: clones: {e}\n{:#?}", p.name, state.frames));
    wasmparser::Validator::new_with_features(tern_instrument::supported_features())
        .validate_all(&conts.module)
        .unwrap_or_else(|e| panic!("{}: {what}: clones module invalid: {e}", p.name));
    let config = Config::default();
    let mut store = Store::new(&config);
    let mut linker = Linker::new();
    let mut main_state = state.clone();
    main_state.frames.clear();
    let instrumented = layout == MainLayout::Instrumented;
    let main_bytes = if instrumented {
        // The flag memory is store memory 0, as in the harness; nothing sets it.
        let flags = store.new_memory(MemoryType {
            limits: Limits {
                min: 1,
                max: Some(1),
            },
        });
        linker.define("tern", "flags", Extern::Memory(flags));
        linker.func(
            "tern",
            "frame",
            FuncType::new([ValType::I32; 2], []),
            |_, _| Ok(Vec::new()),
        );
        for (name, ty) in [
            ("save_i32", ValType::I32),
            ("save_i64", ValType::I64),
            ("save_f32", ValType::F32),
            ("save_f64", ValType::F64),
            ("save_v128", ValType::V128),
            ("save_funcref", ValType::FuncRef),
            ("save_externref", ValType::ExternRef),
        ] {
            linker.func("tern", name, FuncType::new([ty], []), |_, _| Ok(Vec::new()));
        }
        main_state.memories.insert(0, MemoryImage::default());
        main_state.memories[0].pages = 1;
        for table in &mut main_state.tables {
            for e in &mut table.elements {
                *e = shift_ref(*e, ADDED_FUNCS);
            }
        }
        for g in &mut main_state.globals {
            *g = shift_ref(*g, ADDED_FUNCS);
        }
        export_for_clones(&p.instrumented.module, layout)
    } else {
        export_for_clones(&p.original, layout)
    }
    .expect("exports for clones");
    (p.env)(&mut linker);
    let module = Module::new(&config, &main_bytes).expect("main compiles");
    let main = linker
        .instantiate_for_restore(&mut store, &module)
        .expect("main instantiates");
    store.restore(&main_state).expect("main state restores");
    let mut clone_linker = Linker::new();
    clone_linker.define_instance(&store, MAIN_MODULE, main);
    let clones_module = Module::new(&config, &conts.module).expect("clones compile");
    let clones = clone_linker
        .instantiate(&mut store, &clones_module)
        .expect("clones instantiate");
    let resumed = conts
        .resume(&mut Interp {
            store: &mut store,
            clones,
        })
        .unwrap_or_else(|e| panic!("{}: {what}: {e}", p.name));
    let Resumed::Finished(mut results) = resumed else {
        panic!("{}: {what}: unwound without a request", p.name)
    };
    let mut after = store.capture();
    after.tables.truncate(main_state.tables.len());
    after.instances.truncate(1);
    if instrumented {
        after.memories.remove(0);
        for table in &mut after.tables {
            for e in &mut table.elements {
                *e = to_original(*e);
            }
        }
        for g in &mut after.globals {
            *g = to_original(*g);
        }
        for r in &mut results {
            *r = to_original(*r);
        }
    }
    Outcome2 {
        results,
        state: after,
    }
}

/// Checkpoints through the cold path after each of `points` instrumented instructions
/// and restores through clones on both main modules. Returns how many restores ran.
fn fast_to_fast(p: &Program, reference: &Outcome2, points: impl IntoIterator<Item = u64>) -> usize {
    let mut restored = 0;
    for n in points {
        let Ok(state) = p.capture_at(n) else { continue };
        for layout in [MainLayout::Original, MainLayout::Instrumented] {
            let what = format!("cold-path checkpoint after {n}, {layout:?} main");
            let outcome = restore_via_clones(p, &state, layout, &what);
            assert_eq!(&outcome, reference, "{}: {what}", p.name);
        }
        restored += 1;
    }
    restored
}

/// Instructions of an uninterrupted interpreter run of the original module.
fn original_length(p: &Program) -> u64 {
    let (mut store, instance) = original_store(p);
    store.set_instruction_budget(Some(u64::MAX));
    match store.invoke(instance, &p.export, &p.args) {
        Ok(Outcome::Finished(_)) => store.counted_instructions(),
        other => panic!("{}: {other:?}", p.name),
    }
}

fn original_store(p: &Program) -> (Store, InstanceId) {
    let config = Config::default();
    let module = Module::new(&config, &p.original).expect("original compiles");
    let mut store = Store::new(&config);
    let mut linker = Linker::new();
    (p.env)(&mut linker);
    let instance = linker
        .instantiate(&mut store, &module)
        .expect("instantiates");
    (store, instance)
}

/// Pauses the interpreter after each of `points` instructions of the original module,
/// captures its canonical state and restores it through clones on both main modules.
fn interp_to_fast(
    p: &Program,
    reference: &Outcome2,
    points: impl IntoIterator<Item = u64>,
) -> usize {
    let mut restored = 0;
    for n in points {
        let (mut store, instance) = original_store(p);
        store.set_instruction_budget(Some(n));
        match store.invoke(instance, &p.export, &p.args) {
            Ok(Outcome::Paused(_)) => {}
            Ok(Outcome::Finished(_)) => continue,
            other => panic!("{}: {other:?}", p.name),
        }
        let state = store.capture();
        for layout in [MainLayout::Original, MainLayout::Instrumented] {
            let what = format!("interpreter paused after {n}, {layout:?} main");
            let outcome = restore_via_clones(p, &state, layout, &what);
            assert_eq!(&outcome, reference, "{}: {what}", p.name);
        }
        restored += 1;
    }
    restored
}

#[test]
fn wat_cases_at_every_point() {
    for (name, wat, export, args, env) in cases() {
        let p = Program::new(name, wat::parse_str(wat).unwrap(), export, args, env);
        let reference = p.reference();
        let fast = fast_to_fast(&p, &reference, 1..p.instrumented_length());
        let interp = interp_to_fast(&p, &reference, 1..original_length(&p));
        assert!(fast > 0 && interp > 0, "{name}: nothing restored");
        eprintln!("{name}: {fast} cold-path checkpoints, {interp} interpreter pauses restored");
    }
}

fn sampled(name: &str, arg: i32, count: usize) {
    let p = workload(name, Value::I32(arg as u32));
    let reference = p.reference();
    let len = p.instrumented_length();
    let fast = fast_to_fast(&p, &reference, sample(len - 1, count, 0xc10e ^ len));
    let len = original_length(&p);
    let interp = interp_to_fast(&p, &reference, sample(len - 1, count, 0x1e7 ^ len));
    assert!(fast > 0 && interp > 0, "{name}: nothing restored");
}

#[test]
fn workloads_sampled() {
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
        sampled(name, arg, 12);
    }
}
