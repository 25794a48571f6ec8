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
            Err(tern_interp::RunError::Trap(trap)) => Err(trap_name(&trap)),
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

/// How a trap is compared across engines and modules: its kind only.
pub fn trap_name(trap: &tern_interp::Trap) -> String {
    format!("trap: {:?}", trap.kind)
}

/// Resumes `state` (original numbering, frames included) through clones, with the main
/// module in `layout`, and runs to the end.
pub fn restore_via_clones(
    p: &Program,
    state: &ExecState,
    layout: MainLayout,
    what: &str,
) -> Outcome2 {
    let (results, state) = run_via_clones(p, state, layout, what);
    let results = results.unwrap_or_else(|e| panic!("{}: {what}: {e}", p.name));
    Outcome2 { results, state }
}

/// [`restore_via_clones`], which may end in a trap (see [`trap_name`]).
pub fn run_via_clones(
    p: &Program,
    state: &ExecState,
    layout: MainLayout,
    what: &str,
) -> (Result<Vec<Value>, String>, ExecState) {
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
    let resumed = conts.resume(&mut Interp {
        store: &mut store,
        clones,
    });
    let mut results = match resumed {
        Ok(Resumed::Finished(results)) => Ok(results),
        Ok(Resumed::Unwound { .. }) => panic!("{}: {what}: unwound without a request", p.name),
        Err(e) => Err(e),
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
        if let Ok(results) = &mut results {
            for r in results {
                *r = to_original(*r);
            }
        }
    }
    (results, after)
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
pub fn original_length(p: &Program) -> u64 {
    let (mut store, instance) = original_store(p);
    store.set_instruction_budget(Some(u64::MAX));
    match store.invoke(instance, &p.export, &p.args) {
        Ok(Outcome::Finished(_)) => store.counted_instructions(),
        other => panic!("{}: {other:?}", p.name),
    }
}

pub fn original_store(p: &Program) -> (Store, InstanceId) {
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
        sampled(name, arg, 40);
    }
}

/// Shapes that matter to clones in particular: `else` arms and `if`s without one,
/// loops inside loops with parameters and branches to outer loops, `br_table` to
/// targets at several depths, block parameters, dead code after the pc, `return` and
/// tail calls from deep inside, multi-value `call_indirect` with a funcref beneath,
/// segment instructions (through the main module's helpers).
pub const CLONE_CASES: &[(&str, &str, i32)] = &[
    (
        "else_arms",
        r#"(module
             (func $g (param i32) (result i32) (i32.add (local.get 0) (i32.const 7)))
             (func (export "f") (param i32) (result i32) (local i32)
               (loop $l
                 (if (i32.and (local.get 0) (i32.const 1))
                   (then (local.set 1 (i32.add (local.get 1) (call $g (local.get 0)))))
                   (else
                     (i32.const 3)
                     (loop (param i32) (result i32)
                       (i32.add (call $g (local.get 1)))
                       (local.tee 1)
                       (br_if 0 (i32.and (i32.const 0) (local.get 1))))
                     (local.set 1)))
                 (if (i32.gt_u (local.get 1) (i32.const 1000))
                   (then (local.set 1 (i32.shr_u (local.get 1) (i32.const 2)))))
                 (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
               (local.get 1)))"#,
        9,
    ),
    (
        "nested_loops",
        r#"(module
             (type $two (func (param i32 i64) (result i64)))
             (func $h (param i64) (result i64) (i64.mul (local.get 0) (i64.const 3)))
             (func (export "f") (param i32) (result i64) (local i32 i64)
               (i64.const 5)
               (local.get 0) (i64.const 1)
               (loop $outer (type $two)
                 (local.set 1 (i32.const 3))
                 (loop $inner (param i64) (result i64)
                   (call $h)
                   (local.set 1 (i32.sub (local.get 1) (i32.const 1)))
                   (if (param i64) (result i64) (local.get 1)
                     (then (i64.add (i64.const 1)) (br $inner))
                     (else)))
                 (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                 (i64.rem_u (i64.const 1000003))
                 (br_if $outer (local.get 0))
                 (local.set 2)
                 (i64.extend_i32_u)
                 (i64.add (local.get 2)))
               (i64.add)))"#,
        4,
    ),
    (
        "br_table_depths",
        r#"(module
             (func $k (param i32) (result i32) (i32.xor (local.get 0) (i32.const 5)))
             (func (export "f") (param i32) (result i32) (local i32)
               (block $done (result i32)
                 (loop $a
                   (i32.const 1000)
                   (block $x (param i32) (result i32)
                     (loop $b (param i32) (result i32)
                       (block $y (param i32) (result i32)
                         (local.set 1 (i32.add (local.get 1) (call $k (local.get 0))))
                         (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                         (i32.add (local.get 1))
                         (local.get 1)
                         (br_table $y $x $done 2
                           (select (i32.const 2) (i32.rem_u (local.get 0) (i32.const 2))
                                   (i32.eqz (local.get 0)))))
                       (drop (i32.const 1))
                       (br_if $b (i32.and (local.get 0) (i32.const 4))))
                     (i32.const 0) (drop))
                   (drop)
                   (br_if $a (local.get 0)))
                 (local.get 1))))"#,
        13,
    ),
    (
        "block_params_and_dead_code",
        r#"(module
             (func $m (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1)))
             (func (export "f") (param i32) (result i32) (local i32)
               (loop
                 (i32.const 40)
                 (local.get 0)
                 (block (param i32 i32) (result i32)
                   (call $m)
                   (i32.const 2)
                   (block (param i32 i32) (result i32)
                     (i32.mul)
                     (br 1)
                     (call $m (i32.const 1) (i32.const 2))
                     (unreachable))
                   (drop)
                   (i32.const 9))
                 (local.set 1 (i32.add (local.get 1)))
                 (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
               (local.get 1)))"#,
        6,
    ),
    (
        "segment_instructions",
        r#"(module
             (memory 1)
             (table 4 funcref)
             (elem (i32.const 0) $a $b $a $b)
             (data $d "\01\02\03\04\05\06\07\08")
             (elem $e func $b $a)
             (func $a (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
             (func $b (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
             (func (export "f") (param i32) (result i32) (local i32)
               (loop
                 (memory.init $d (i32.mul (local.get 0) (i32.const 4)) (i32.const 0) (i32.const 8))
                 (table.init $e (i32.and (local.get 0) (i32.const 2)) (i32.const 0) (i32.const 2))
                 (local.set 1 (i32.add (local.get 1)
                   (call_indirect (param i32) (result i32)
                     (i32.load (local.get 0)) (i32.and (local.get 0) (i32.const 3)))))
                 (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
               (data.drop $d)
               (elem.drop $e)
               (local.get 1)))"#,
        7,
    ),
    (
        "return_and_tail_calls_deep",
        r#"(module
             (type $pair (func (param i32) (result i32 i64)))
             (table 2 funcref) (elem (i32.const 0) $p $q)
             (func $p (type $pair) (local.get 0) (i64.extend_i32_u (local.get 0)))
             (func $q (type $pair)
               (loop (local.set 0 (i32.add (local.get 0) (i32.const 1)))
                     (br_if 0 (i32.and (local.get 0) (i32.const 3))))
               (return_call_indirect (type $pair) (local.get 0) (i32.const 0)))
             (func $r (param i32) (result i32 i64) (local i64)
               (ref.func $q)
               (block (result i32 i64)
                 (loop $l
                   (call_indirect (type $pair)
                     (local.get 0) (i32.and (local.get 0) (i32.const 1)))
                   (local.set 1)
                   (if (i32.gt_u (local.tee 0) (i32.const 20))
                     (then (return (local.get 0) (local.get 1))))
                   (local.set 0 (i32.add (local.get 0) (i32.const 3)))
                   (br $l))
                 (unreachable))
               (return_call $p (i32.const 1))
               (drop) (drop) (drop))
             (func (export "f") (param i32) (result i32)
               (call $r (local.get 0))
               (i32.wrap_i64)
               (i32.add)))"#,
        2,
    ),
];

#[test]
fn clone_shapes_at_every_point() {
    for (name, wat, arg) in CLONE_CASES {
        let bytes = wat::parse_str(wat).unwrap_or_else(|e| panic!("{name}: {e}"));
        let p = Program::new(
            name,
            bytes,
            "f",
            vec![Value::I32(*arg as u32)],
            crate::harness::no_env,
        );
        let reference = p.reference();
        let fast = fast_to_fast(&p, &reference, 1..p.instrumented_length());
        let interp = interp_to_fast(&p, &reference, 1..original_length(&p));
        assert!(fast > 0 && interp > 0, "{name}: nothing restored");
        eprintln!("{name}: {fast} cold-path checkpoints, {interp} interpreter pauses restored");
    }
}

#[test]
fn forged_frames_are_errors() {
    use tern_snapshot::Frame;
    let wasm = wat::parse_str(
        r#"(module
             (func $g (param i32) (result i32) (local.get 0))
             (func (export "f") (param i32) (result i32)
               (block (br 0) (drop (call $g (i32.const 1))))
               (call $g (local.get 0))))"#,
    )
    .unwrap();
    // Offsets of the operators of function 1, from the binary.
    let mut offsets = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
            let mut reader = body.get_operators_reader().unwrap();
            let mut ops = Vec::new();
            while !reader.eof() {
                ops.push(reader.read_with_offset().unwrap());
            }
            offsets.push(ops.iter().map(|(_, o)| *o as u32).collect::<Vec<_>>());
        }
    }
    let f = &offsets[1];
    // block, br 0, i32.const 1, call $g, drop, end, local.get 0, call $g, end
    let frame = |func: u32, pc: u32, locals: Vec<Value>, stack: Vec<Value>| Frame {
        instance: 0,
        func,
        pc,
        locals,
        stack,
    };
    let top = frame(0, offsets[0][0], vec![Value::I32(1)], vec![]);
    let good = [frame(1, f[7], vec![Value::I32(1)], vec![]), top.clone()];
    tern_instrument::continuations(&wasm, &good).expect("a good stack");
    let cases: Vec<(&str, Vec<Frame>)> = vec![
        ("no frames", vec![]),
        ("unknown function", vec![frame(9, f[0], vec![], vec![])]),
        (
            "not a boundary",
            vec![frame(1, f[0] + 1, vec![Value::I32(1)], vec![])],
        ),
        (
            "dead code",
            vec![frame(1, f[2], vec![Value::I32(1)], vec![])],
        ),
        (
            "wrong local type",
            vec![frame(1, f[0], vec![Value::I64(1)], vec![])],
        ),
        (
            "missing operand",
            vec![frame(1, f[7], vec![Value::I32(1)], vec![])],
        ),
        (
            "below the top, not at a call",
            vec![frame(1, f[6], vec![Value::I32(1)], vec![]), top.clone()],
        ),
        (
            "funcref to no function",
            vec![frame(1, f[0], vec![Value::I32(1)], vec![]), {
                let mut t = top.clone();
                t.locals = vec![Value::FuncRef(Some(99))];
                t
            }],
        ),
        (
            "past the end",
            vec![frame(1, f[8] + 1, vec![Value::I32(1)], vec![])],
        ),
    ];
    for (what, frames) in cases {
        let err = tern_instrument::continuations(&wasm, &frames);
        assert!(err.is_err(), "{what}: accepted");
    }
}

#[test]
fn exports_for_clones_in_any_module_shape() {
    let shapes = [
        "(module)",
        "(module (memory 1) (global (mut i32) (i32.const 0)))",
        "(module (func $s) (start $s) (table 1 funcref) (elem (i32.const 0) $s))",
        "(module (func (export \"x\")) (data \"a\"))",
    ];
    for wat in shapes {
        let wasm = wat::parse_str(wat).unwrap();
        for (module, layout) in [
            (wasm.clone(), MainLayout::Original),
            (
                tern_instrument::instrument(&wasm).unwrap().module,
                MainLayout::Instrumented,
            ),
        ] {
            let out = export_for_clones(&module, layout).unwrap_or_else(|e| panic!("{wat}: {e}"));
            wasmparser::Validator::new_with_features(tern_instrument::supported_features())
                .validate_all(&out)
                .unwrap_or_else(|e| panic!("{wat} {layout:?}: {e}"));
        }
    }
    let taken = wat::parse_str("(module (func (export \"tern:f0\")))").unwrap();
    assert!(export_for_clones(&taken, MainLayout::Original).is_err());
    let plain = wat::parse_str("(module)").unwrap();
    assert!(export_for_clones(&plain, MainLayout::Instrumented).is_err());
}

/// Frames of real pauses, mutated every way a forged snapshot could: never a panic, and
/// whatever is accepted gives a valid clones module.
#[test]
fn mutated_frames_never_panic() {
    let mut accepted = 0;
    let mut refused = 0;
    for (name, wat, arg) in CLONE_CASES {
        let p = Program::new(
            name,
            wat::parse_str(wat).unwrap(),
            "f",
            vec![Value::I32(*arg as u32)],
            crate::harness::no_env,
        );
        for n in (1..original_length(&p)).step_by(7) {
            let (mut store, instance) = original_store(&p);
            store.set_instruction_budget(Some(n));
            let Ok(Outcome::Paused(_)) = store.invoke(instance, &p.export, &p.args) else {
                continue;
            };
            let frames = store.capture().frames;
            for i in 0..frames.len() {
                for mutation in 0..9 {
                    let mut forged = frames.clone();
                    let f = &mut forged[i];
                    match mutation {
                        0 => f.pc += 1,
                        1 => f.pc = f.pc.wrapping_sub(2),
                        2 => f.func += 1,
                        3 => f.func = f.func.wrapping_sub(1),
                        4 => drop(f.locals.pop()),
                        5 => f.stack.push(Value::I32(3)),
                        6 => drop(f.stack.pop()),
                        7 => f.locals.iter_mut().for_each(|v| *v = Value::F64(0)),
                        _ => f
                            .stack
                            .iter_mut()
                            .for_each(|v| *v = Value::FuncRef(Some(1 << 30))),
                    }
                    match tern_instrument::instrumented_continuations(&p.original, &forged) {
                        Ok(c) => {
                            wasmparser::Validator::new_with_features(
                                tern_instrument::supported_features(),
                            )
                            .validate_all(&c.module)
                            .unwrap_or_else(|e| panic!("{name}: accepted forged frames: {e}"));
                            accepted += 1;
                        }
                        Err(_) => refused += 1,
                    }
                }
            }
        }
    }
    eprintln!("{accepted} forged stacks accepted (still well-typed), {refused} refused");
    assert!(refused > 0);
}
