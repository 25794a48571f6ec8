//! Restores through continuation clones: the frames of a checkpoint — taken through the
//! instrumentation's cold path, or by the interpreter itself at any instruction — are
//! resumed by a clones module instantiated next to the main module (original or
//! instrumented) on tern's interpreter, and must end exactly like an uninterrupted run.

use crate::harness::{
    Outcome2, Program, WORKLOADS, sample, tern_linker, to_instrumented_state, to_original,
    to_original_state, validate,
};
use crate::real::workload;
use crate::wat_cases::cases;
use tern_instrument::Continuations;
use tern_instrument::clone::{
    CloneOutcome, CloneRunner, FUNCS_TABLE, MAIN_MODULE, MainLayout, Resumed, export_for_clones,
    func_of_export,
};
use tern_interp::{Config, Extern, InstanceId, Linker, Module, Outcome, Store, Value};
use tern_snapshot::{ExecState, TableImage};

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
    validate(&conts.module, &format!("{}: {what}: clones module", p.name));
    let config = Config::default();
    let mut store = Store::new(&config);
    let mut main_state = state.clone();
    main_state.frames.clear();
    let instrumented = layout == MainLayout::Instrumented;
    let (mut linker, main_bytes) = if instrumented {
        // The flag memory is store memory 0, as in the harness; nothing sets it.
        let (linker, _) = tern_linker(&mut store, &["frame"], |_, _, _| {}, |_| Ok(()));
        main_state = to_instrumented_state(main_state);
        (linker, export_for_clones(&p.instrumented.module, layout))
    } else {
        (Linker::new(), export_for_clones(&p.original, layout))
    };
    (p.env)(&mut linker);
    let main_bytes = main_bytes.expect("exports for clones");
    let clones = instantiate_with_clones(
        &mut store,
        linker,
        &main_bytes,
        &main_state,
        Linker::new(),
        &conts.module,
    );
    let resumed = conts.resume(&mut Interp {
        store: &mut store,
        clones,
    });
    let mut results = match resumed {
        Ok(Resumed::Finished(results)) => Ok(results),
        Ok(Resumed::Unwound { .. }) => panic!("{}: {what}: unwound without a request", p.name),
        Err(e) => Err(e),
    };
    let mut after = main_part(store.capture(), &main_state);
    if instrumented {
        after = to_original_state(after);
        if let Ok(results) = &mut results {
            for r in results {
                *r = to_original(*r);
            }
        }
    }
    (results, after)
}

/// Instantiates the main module `main_bytes` with `linker` in `store` for a restore,
/// restores `main_state` (no frames) in it, and instantiates the clones module next to
/// it, importing the main instance's exports (and whatever else `clone_linker` defines).
/// Returns the clones instance.
pub fn instantiate_with_clones(
    store: &mut Store,
    linker: Linker,
    main_bytes: &[u8],
    main_state: &ExecState,
    mut clone_linker: Linker,
    clones_bytes: &[u8],
) -> InstanceId {
    let config = Config::default();
    let module = Module::new(&config, main_bytes).expect("main compiles");
    let main = linker
        .instantiate_for_restore(store, &module)
        .expect("main instantiates");
    let mut main_state = main_state.clone();
    main_state.tables.push(funcs_table_image(main_bytes));
    store.restore(&main_state).expect("main state restores");
    clone_linker.define_instance(store, MAIN_MODULE, main);
    let clones_module = Module::new(&config, clones_bytes).expect("clones compile");
    // The main module exports one table of its functions, not the functions.
    let Some(Extern::Table(funcs)) = store.export(main, FUNCS_TABLE) else {
        panic!("the main module does not export {FUNCS_TABLE}")
    };
    for (module, name, _) in clones_module.imports() {
        if let (MAIN_MODULE, Some(f)) = (module, func_of_export(name)) {
            let addr = store
                .table_func(funcs, f)
                .expect("original function in the table");
            clone_linker.define(MAIN_MODULE, name, Extern::Func(addr));
        }
    }
    clone_linker
        .instantiate(store, &clones_module)
        .expect("clones instantiate")
}

/// The image of the function table `export_for_clones` appends (its last table, filled by
/// its last element segment): a state of the program has no such table.
fn funcs_table_image(main_bytes: &[u8]) -> TableImage {
    let mut elements = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(main_bytes) {
        if let wasmparser::Payload::ElementSection(reader) = payload.expect("main parses") {
            let last = reader
                .into_iter()
                .last()
                .expect("a segment")
                .expect("parses");
            let wasmparser::ElementItems::Functions(funcs) = last.items else {
                panic!("the function table's segment lists functions")
            };
            elements = funcs
                .into_iter()
                .map(|f| Value::FuncRef(Some(f.expect("parses"))))
                .collect();
        }
    }
    TableImage { elements }
}

/// The state of a store after a run through clones, without what the clones instance
/// added: the main instance's part, in the numbering of `main_state`.
pub fn main_part(mut after: ExecState, main_state: &ExecState) -> ExecState {
    after.tables.truncate(main_state.tables.len());
    after.instances.truncate(1);
    after
}

/// Restores `state` through clones on both main modules; each run must end like
/// `reference`. `what` says where the state comes from.
fn restore_both_ways(p: &Program, reference: &Outcome2, state: &ExecState, what: &str) {
    for layout in [MainLayout::Original, MainLayout::Instrumented] {
        let what = format!("{what}, {layout:?} main");
        let outcome = restore_via_clones(p, state, layout, &what);
        assert_eq!(&outcome, reference, "{}: {what}", p.name);
    }
}

/// Checkpoints through the cold path after each of `points` instrumented instructions
/// and restores through clones on both main modules. Returns how many restores ran.
fn fast_to_fast(p: &Program, reference: &Outcome2, points: impl IntoIterator<Item = u64>) -> usize {
    let mut restored = 0;
    for n in points {
        let Ok(state) = p.capture_at(n) else { continue };
        restore_both_ways(
            p,
            reference,
            &state,
            &format!("cold-path checkpoint after {n}"),
        );
        restored += 1;
    }
    restored
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
        let (mut store, instance) = p.original_store();
        store.set_instruction_budget(Some(n));
        match store.invoke(instance, &p.export, &p.args) {
            Ok(Outcome::Paused(_)) => {}
            Ok(Outcome::Finished(_)) => continue,
            other => panic!("{}: {other:?}", p.name),
        }
        let state = store.capture();
        restore_both_ways(
            p,
            reference,
            &state,
            &format!("interpreter paused after {n}"),
        );
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
        let interp = interp_to_fast(&p, &reference, 1..p.original_length());
        assert!(fast > 0 && interp > 0, "{name}: nothing restored");
        eprintln!("{name}: {fast} cold-path checkpoints, {interp} interpreter pauses restored");
    }
}

fn sampled(name: &str, arg: u32, count: usize) {
    let p = workload(name, Value::I32(arg));
    let reference = p.reference();
    let len = p.instrumented_length();
    let fast = fast_to_fast(&p, &reference, sample(len - 1, count, 0xc10e ^ len));
    let len = p.original_length();
    let interp = interp_to_fast(&p, &reference, sample(len - 1, count, 0x1e7 ^ len));
    assert!(fast > 0 && interp > 0, "{name}: nothing restored");
}

#[test]
fn workloads_sampled() {
    for (name, arg) in WORKLOADS {
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
        let interp = interp_to_fast(&p, &reference, 1..p.original_length());
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
            validate(&out, &format!("{wat} {layout:?}"));
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
        for n in (1..p.original_length()).step_by(7) {
            let (mut store, instance) = p.original_store();
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
                            validate(&c.module, &format!("{name}: accepted forged frames"));
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
