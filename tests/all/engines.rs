//! `--engine fast|interp`: the WASI guests of `tests/guests/ckpt` (the programs of
//! `checkpoint_wasi.rs`, with its helpers) run on both engines, and checkpoints move
//! between them — fast → interp, interp → fast, fast → fast, and a restored run
//! checkpointed again — always ending with the exit status, stdout, stderr and files of
//! an uninterrupted run on the interpreter.
//!
//! Checkpoints are taken with `--checkpoint-on call:FUNC:N`, which both engines take at
//! the same point (in front of the N-th call of FUNC; the count starts again after a
//! restore). The guests are stripped, so FUNC is an index: a function each program calls
//! often enough (found once with the interpreter; a rebuilt guest may need another).

use crate::checkpoint_wasi::{
    CHECKPOINTED, Outcome, Program, Setup, Tern, guest, no_input, run_with_input, strs, text_input,
};
use crate::util::{TempDir, stderr, stdout, tern, tern_with_env};
use std::path::PathBuf;
use std::process::Stdio;
use tern_snapshot::{Value, read_snapshot_file};

/// One step of a chain: the engine, and where to checkpoint (`None`: run to the end).
type Step = (&'static str, Option<u64>);

/// Runs `steps` in new processes: the first is `tern run`, each next one `tern restore`
/// of the snapshot the previous one wrote, given the stdin the previous ones left unread.
/// A step's N becomes the trigger `trigger(N)`.
fn chain(setup: &Setup<'_>, trigger: &dyn Fn(u64) -> String, steps: &[Step]) -> Outcome {
    let context = format!("{} {steps:?}", setup.program.wasm);
    let mut outcome = Outcome::default();
    let mut input = (setup.program.input)();
    let mut snapshot: Option<String> = None;
    for (i, &(engine, n)) in steps.iter().enumerate() {
        let mut options = vec!["--engine".to_string(), engine.to_string()];
        let path = setup.path(&format!("{i}.tern"));
        if let Some(n) = n {
            options.extend([
                "--checkpoint-on".into(),
                trigger(n),
                "--snapshot".into(),
                path.clone(),
            ]);
        }
        let args = match &snapshot {
            None => setup.run_args(&options),
            Some(from) => setup.restore_args(from, &options),
        };
        let (exit, rest) = run_with_input(&strs(&args), &input);
        input = rest;
        if n.is_some() {
            assert_eq!(
                exit.status.code(),
                Some(CHECKPOINTED),
                "{context}, step {i}: {}",
                exit.stderr
            );
            snapshot = Some(path);
        }
        outcome.add(&exit);
    }
    outcome.files = setup.files("data");
    outcome
}

/// An uninterrupted run on `engine`.
fn uninterrupted(program: &Program, root: PathBuf, engine: &'static str) -> Outcome {
    chain(
        &Setup::new(program, root),
        &|_| String::new(),
        &[(engine, None)],
    )
}

/// The whole check for one program: both engines uninterrupted, then chains across the
/// engines with checkpoints in front of the `n1`-th and `n2`-th call of `func`.
fn across_engines(name: &str, program: Program, func: u32, [n1, n2]: [u64; 2]) {
    let dir = TempDir::new(&format!("engines-{name}"));
    let expected = uninterrupted(&program, dir.0.join("interp"), "interp");
    let fast = uninterrupted(&program, dir.0.join("fast"), "fast");
    fast.assert_same(&expected, &format!("{} on the fast engine", program.wasm));
    let chains: [&[Step]; 4] = [
        &[("fast", Some(n1)), ("interp", None)],
        &[("interp", Some(n1)), ("fast", None)],
        &[("fast", Some(n2)), ("fast", None)],
        &[
            ("fast", Some(n1)),
            ("interp", Some(n2)),
            ("fast", Some(n1)),
            ("fast", None),
        ],
    ];
    for (i, steps) in chains.into_iter().enumerate() {
        let setup = Setup::new(&program, dir.0.join(format!("chain{i}")));
        let outcome = chain(&setup, &|n| format!("call:{func}:{n}"), steps);
        outcome.assert_same(&expected, &format!("{} {steps:?}", program.wasm));
    }
}

/// The zero value of `v`'s type (what the fast tier reports for a dead local).
fn zero_like(v: &Value) -> Value {
    match v {
        Value::I32(_) => Value::I32(0),
        Value::I64(_) => Value::I64(0),
        Value::F32(_) => Value::F32(0),
        Value::F64(_) => Value::F64(0),
        Value::V128(_) => Value::V128(0),
        Value::FuncRef(_) => Value::FuncRef(None),
        Value::ExternRef(_) => Value::ExternRef(None),
    }
}

/// `instructions:N` on the fast engine stops at the first safepoint at or after N
/// instructions and records the exact count: the interpreter stopped after that many
/// instructions holds the very same state. Snapshots then move between the engines as
/// with any other trigger.
#[test]
fn instruction_trigger_on_fast_is_approximate_and_counts_exactly() {
    let program = Program::plain("compute.wasm", &["200", "6"]);
    let dir = TempDir::new("engines-instructions");
    let module = guest("compute.wasm");
    for n in [1u64, 5_000, 250_000] {
        let snap = |name: &str| dir.0.join(format!("{name}-{n}.tern")).display().to_string();
        let (fast, interp) = (snap("fast"), snap("interp"));
        let trigger = format!("instructions:{n}");
        let run = |engine: &str, trigger: &str, path: &str| {
            let out = tern(&[
                "run",
                "--engine",
                engine,
                "--checkpoint-on",
                trigger,
                "--snapshot",
                path,
                &module,
                "200",
                "6",
            ]);
            assert_eq!(out.status.code(), Some(CHECKPOINTED), "{}", stderr(&out));
        };
        run("fast", &trigger, &fast);
        let inspected = stdout(&tern(&["inspect", &fast]));
        let executed: u64 = inspected
            .split_once("trigger: instructions ")
            .and_then(|(_, rest)| rest.split_once(" (")?.1.split_once(' '))
            .and_then(|(count, _)| count.parse().ok())
            .unwrap_or_else(|| panic!("no executed count in:\n{inspected}"));
        assert!(executed >= n, "stopped after {executed} < {n} instructions");
        run("interp", &format!("instructions:{executed}"), &interp);
        let (fast, interp) = (
            read_snapshot_file(fast.as_ref()),
            read_snapshot_file(interp.as_ref()),
        );
        let (fast, interp) = (fast.unwrap(), interp.unwrap());
        assert_eq!(fast.trigger.instructions, interp.trigger.instructions);
        let at = format!("fast stopped at {n} → {executed} instructions");
        let (a, b) = (&fast.state, &interp.state);
        assert!(
            a.memories == b.memories && a.globals == b.globals,
            "{at}: memory/globals"
        );
        assert!(
            a.tables == b.tables && a.instances == b.instances,
            "{at}: tables/segments"
        );
        // The WASI state, but for the monotonic clock (it runs on between the two runs).
        let wasi = |bytes: &Option<Vec<u8>>| {
            let mut state: serde_json::Value =
                serde_json::from_slice(bytes.as_ref().unwrap()).unwrap();
            state.as_object_mut().unwrap().remove("monotonic_ns");
            state
        };
        assert_eq!(wasi(&fast.wasi), wasi(&interp.wasi), "{at}: WASI state");
        assert_eq!(a.frames.len(), b.frames.len(), "{at}: frames");
        for (f, i) in a.frames.iter().zip(&b.frames) {
            assert_eq!((f.func, f.pc, &f.stack), (i.func, i.pc, &i.stack), "{at}");
            // The fast tier reports locals that are dead there as zero.
            let dead_or_same = |(x, y): (&Value, &Value)| x == y || *x == zero_like(y);
            assert!(
                f.locals.iter().zip(&i.locals).all(dead_or_same),
                "{at}: locals"
            );
        }
    }
    let expected = uninterrupted(&program, dir.0.join("plain"), "interp");
    let chains: [&[Step]; 3] = [
        &[("fast", Some(40_000)), ("interp", None)],
        &[
            ("interp", Some(40_000)),
            ("fast", Some(90_000)),
            ("fast", None),
        ],
        &[
            ("fast", Some(70_000)),
            ("fast", Some(1)),
            ("interp", Some(3)),
            ("fast", None),
        ],
    ];
    for (i, steps) in chains.into_iter().enumerate() {
        let setup = Setup::new(&program, dir.0.join(format!("chain{i}")));
        let outcome = chain(&setup, &|n| format!("instructions:{n}"), steps);
        outcome.assert_same(&expected, &format!("instructions {steps:?}"));
    }
}

#[test]
fn compute_program_moves_between_engines() {
    let program = Program::plain("compute.wasm", &["200", "6"]);
    across_engines("compute", program, 8, [40, 100]);
}

#[test]
fn file_io_program_moves_between_engines() {
    let program = Program {
        wasm: "files.wasm",
        args: &[],
        data: true,
        input: no_input,
        step: 0,
    };
    across_engines("files", program, 20, [3, 6]);
}

#[test]
fn stdin_program_moves_between_engines() {
    let program = Program {
        wasm: "stdin.wasm",
        args: &[],
        data: false,
        input: text_input,
        step: 0,
    };
    across_engines("stdin", program, 9, [4, 7]);
}

#[test]
fn clock_program_moves_between_engines() {
    let program = Program::plain("clocks.wasm", &["200"]);
    across_engines("clocks", program, 9, [30, 70]);
}

#[test]
fn sleep_program_moves_between_engines() {
    let program = Program::plain("sleeps.wasm", &["6", "10"]);
    across_engines("sleeps", program, 24, [3, 5]);
}

/// `--leave-running` on the fast engine (capture, snapshot, restore in place): the run
/// ends as an uninterrupted one, and each numbered snapshot restores (on the
/// interpreter) to the rest of the output.
#[test]
fn leave_running_on_the_fast_engine() {
    let program = Program::plain("compute.wasm", &["200", "6"]);
    let dir = TempDir::new("engines-leave-running");
    let expected = uninterrupted(&program, dir.0.join("interp"), "interp");
    let setup = Setup::new(&program, dir.0.join("fast"));
    let snaps = dir.0.join("snapshots");
    std::fs::create_dir(&snaps).unwrap();
    let options = [
        "--engine",
        "fast",
        "--leave-running",
        "--checkpoint-on",
        "call:8:60",
        "--snapshot",
        &snaps.display().to_string(),
    ]
    .map(String::from);
    let (exit, _) = run_with_input(&strs(&setup.run_args(&options)), &[]);
    let mut outcome = Outcome::default();
    outcome.add(&exit);
    outcome.assert_same(&expected, "compute.wasm, fast, --leave-running");
    let mut numbered: Vec<PathBuf> = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    numbered.sort();
    assert!(numbered.len() >= 3, "{numbered:?}");
    assert!(numbered[0].ends_with("snapshot-0001.tern"), "{numbered:?}");
    for snapshot in [&numbered[1], numbered.last().unwrap()] {
        let from = snapshot.display().to_string();
        let args = setup.restore_args(&from, &["--engine".into(), "interp".into()]);
        let (tail, _) = run_with_input(&strs(&args), &[]);
        assert_eq!(tail.status.code(), expected.code, "{from}: {}", tail.stderr);
        assert!(expected.stdout.ends_with(&tail.stdout), "{from}");
    }
}

/// A trigger file on the fast engine stops a program in the middle of a sleep; the
/// interpreter sleeps the rest and finishes it.
#[test]
fn file_trigger_on_fast_interrupts_a_sleep_and_interp_finishes() {
    let dir = TempDir::new("engines-file");
    let module = guest("sleeps.wasm");
    let args = ["3", "300"];
    let trigger = dir.0.join("now").display().to_string();
    let snap = dir.0.join("sleeps.tern").display().to_string();
    let when = format!("file:{trigger}");
    let mut run = vec!["run", "--engine", "fast", "--checkpoint-on", &when];
    run.extend(["--snapshot", &snap, &module]);
    run.extend(args);
    let mut first = Tern::spawn(&run, Stdio::null());
    first.wait_for_line("step 0");
    std::fs::write(&trigger, "").unwrap();
    let first = first.finish();
    assert_eq!(first.status.code(), Some(CHECKPOINTED), "{}", first.stderr);
    assert!(!std::path::Path::new(&trigger).exists(), "trigger removed");
    let restore = ["restore", &snap, "--module", &module, "--engine", "interp"];
    let second = Tern::spawn(&restore, Stdio::null()).finish();
    let mut plain = vec!["run", "--engine", "interp", &module];
    plain.extend(args);
    let reference = Tern::spawn(&plain, Stdio::null()).finish();
    let mut expected = Outcome::default();
    expected.add(&reference);
    let mut outcome = Outcome::default();
    outcome.add(&first);
    outcome.add(&second);
    outcome.assert_same(&expected, "sleeps.wasm, file trigger on fast");
}

fn one_line_error(exit: &std::process::Output, needle: &str) {
    let err = stderr(exit);
    assert_eq!(exit.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn interpreter_only_options_with_engine_fast_are_refused() {
    let dir = TempDir::new("engines-refused");
    let module = guest("compute.wasm");
    let snap = dir.0.join("x.tern").display().to_string();
    let out = tern(&["run", "--engine", "fast", "--trace", &module]);
    one_line_error(&out, "--trace");
    // Without --engine the interpreter takes `--trace`, and `instructions:N` (exact
    // there, approximate on the fast engine).
    let instructions = ["--checkpoint-on", "instructions:1000"];
    let mut args = vec!["run", "--snapshot", &snap];
    args.extend(instructions);
    args.extend([module.as_str(), "200", "6"]);
    let out = tern(&args);
    assert_eq!(out.status.code(), Some(CHECKPOINTED), "{}", stderr(&out));
    let out = tern(&[
        "restore", &snap, "--module", &module, "--engine", "fast", "--trace",
    ]);
    one_line_error(&out, "--trace");
    // The snapshot taken by the interpreter finishes on the fast engine.
    let out = tern(&["restore", &snap, "--module", &module, "--engine", "fast"]);
    let plain = tern(&["run", "--engine", "interp", &module, "200", "6"]);
    assert_eq!(out.status.code(), plain.status.code(), "{}", stderr(&out));
    assert_eq!(stdout(&out), stdout(&plain));
}

const TRAP: &str = r#"(module
  (func $inner (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func $outer (export "go") (result i32) (call $inner (i32.const 0)))
  (func (export "add") (param i32 i64) (result i64)
    (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1))))"#;

#[test]
fn trap_on_fast_exits_134_with_a_named_backtrace() {
    let dir = TempDir::new("engines-trap");
    let module = dir.file("trap.wat", TRAP);
    let out = tern(&["run", "--engine", "fast", "--invoke", "go", &module]);
    assert_eq!(out.status.code(), Some(134));
    let err = stderr(&out);
    assert!(err.starts_with("error: wasm trap: "), "{err}");
    assert!(err.contains("integer divide by zero"), "{err}");
    assert!(err.contains("wasm backtrace:"), "{err}");
    let inner = err.find("func[0] (inner)").expect("inner frame named");
    let outer = err.find("func[1] (outer)").expect("outer frame named");
    assert!(inner < outer, "innermost frame first:\n{err}");
    // The fast engine is the default.
    let default = tern(&["run", "--invoke", "go", &module]);
    assert_eq!(stderr(&default), err);
    let interp = stderr(&tern(&[
        "run", "--engine", "interp", "--invoke", "go", &module,
    ]));
    assert!(interp.contains("func[0] (inner) @ 0x"), "{interp}");
}

#[test]
fn invoke_on_fast_prints_typed_results() {
    let dir = TempDir::new("engines-invoke");
    let module = dir.file("add.wat", TRAP);
    let out = tern(&[
        "run", "--engine", "fast", "--invoke", "add", &module, "-5", "0x10",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "11\n");
}

/// The second restore on the fast engine takes the compiled module and the compiled
/// continuation clones from the cache (neither file is rewritten) and prints nothing
/// more than the first.
#[test]
fn fast_restore_uses_the_compiled_module_cache() {
    let dir = TempDir::new("engines-cache");
    let cache = dir.0.join("cache");
    let cache_env = cache.display().to_string();
    let env = [("TERN_CACHE_DIR", cache_env.as_str())];
    let module = guest("compute.wasm");
    let snap = dir.0.join("c.tern").display().to_string();
    let run = [
        "run",
        "--engine",
        "interp",
        "--checkpoint-on",
        "call:8:40",
        "--snapshot",
        &snap,
        &module,
        "200",
        "6",
    ];
    let out = tern_with_env(&run, &env);
    assert_eq!(out.status.code(), Some(CHECKPOINTED), "{}", stderr(&out));
    let restore = ["restore", &snap, "--module", &module, "--engine", "fast"];
    let first = tern_with_env(&restore, &env);
    let cached = cached_files(&cache);
    assert_eq!(cached.len(), 2, "the module and its clones: {cached:?}");
    assert!(
        cached
            .iter()
            .any(|(path, _)| path.parent().unwrap().ends_with("clones"))
    );
    let second = tern_with_env(&restore, &env);
    assert_eq!(
        cached_files(&cache),
        cached,
        "the cache entry was rewritten"
    );
    assert_eq!(first.status.code(), second.status.code());
    assert_eq!(stdout(&first), stdout(&second));
    assert_eq!(stderr(&first), stderr(&second));
    let plain = tern(&["run", "--engine", "interp", &module, "200", "6"]);
    assert_eq!(
        first.status.code(),
        plain.status.code(),
        "{}",
        stderr(&first)
    );
}

/// A warm `tern restore` on the fast engine does not read the module file (its identity
/// comes from the cache's file memo); what needs the bytes later reads them then and
/// checks them against that identity. Here a capture in the middle of a sleep (the
/// call is issued again after a restore, which the capture checks in the module's
/// code): it works while the module is unchanged, and is a one-line error naming the
/// file once the module was replaced after the restore started — never a snapshot made
/// with another module's code.
#[test]
fn a_module_replaced_while_restored_is_caught_when_its_bytes_are_read() {
    let dir = TempDir::new("engines-lazy");
    let cache = dir.0.join("cache").display().to_string();
    let env = [("TERN_CACHE_DIR", cache.as_str())];
    // A link to the guest: its file is old enough for the memo, and replacing the link
    // replaces the module without waiting for a new file to settle.
    let module = dir.0.join("m.wasm");
    std::os::unix::fs::symlink(guest("sleeps.wasm"), &module).unwrap();
    let module = module.display().to_string();
    let snap = dir.0.join("s.tern").display().to_string();
    let trigger = dir.0.join("now").display().to_string();
    let when = format!("file:{trigger}");
    let checkpoint = ["--checkpoint-on", &when, "--snapshot", &snap];
    // Stopped in a sleep on the fast engine: the cache holds the compiled module, the
    // memo the file's identity.
    let mut run = vec!["run", "--engine", "fast"];
    run.extend(checkpoint);
    run.extend([module.as_str(), "4", "300"]);
    let mut first = Tern::spawn_with_env(&run, Stdio::null(), &env);
    first.wait_for_line("step 0");
    std::fs::write(&trigger, "").unwrap();
    let first = first.finish();
    assert_eq!(first.status.code(), Some(CHECKPOINTED), "{}", first.stderr);
    // Restored, and stopped in a sleep again: the first restore generates the clones
    // (reading the file), the checkpoint reads the code of the top frame's call.
    let again = dir.0.join("again.tern").display().to_string();
    let mut restore = vec!["restore", &snap, "--module", &module, "--engine", "fast"];
    restore.extend(["--checkpoint-on", &when, "--snapshot", &again]);
    let stop_in_a_sleep = |restore: &[&str]| {
        let mut restored = Tern::spawn_with_env(restore, Stdio::null(), &env);
        restored.wait_for_line("step 1");
        restored
    };
    let restored = stop_in_a_sleep(&restore);
    std::fs::write(&trigger, "").unwrap();
    let restored = restored.finish();
    assert_eq!(
        restored.status.code(),
        Some(CHECKPOINTED),
        "{}",
        restored.stderr
    );
    // Everything cached: the restore reads nothing of the module; then it is replaced.
    std::fs::remove_file(&again).unwrap();
    let restored = stop_in_a_sleep(&restore);
    let other = dir.0.join("other.wasm");
    let mut bytes = std::fs::read(guest("sleeps.wasm")).unwrap();
    // A custom section: the same program, other bytes.
    bytes.extend_from_slice(b"\0\x02\x01x");
    std::fs::write(&other, bytes).unwrap();
    let link = dir.0.join("link.wasm");
    std::os::unix::fs::symlink(&other, &link).unwrap();
    std::fs::rename(&link, &module).unwrap();
    std::fs::write(&trigger, "").unwrap();
    let replaced = restored.finish();
    let err = &replaced.stderr;
    assert_ne!(replaced.status.code(), Some(CHECKPOINTED), "{err}");
    assert_ne!(replaced.status.code(), Some(0), "{err}");
    assert!(err.starts_with("error: ") && err.contains(&module), "{err}");
    assert!(err.contains("changed since it was loaded"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        !std::path::Path::new(&again).exists(),
        "no snapshot written"
    );
}

/// Every compiled module in the cache with its inode number (a rewrite, which renames
/// a new file into place, changes it; a hit that refreshes the modification time does
/// not).
fn cached_files(root: &std::path::Path) -> Vec<(PathBuf, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                pending.push(entry.path());
            } else if entry.path().extension().is_some_and(|e| e == "cwasm") {
                found.push((entry.path(), meta.ino()));
            }
        }
    }
    found.sort();
    found
}

/// Checkpoints `f` of `module` (called with `args`) at `trigger` on each engine, and
/// restores each snapshot on each engine; `check` judges every restored run, given a
/// label naming the engines.
fn checkpoint_across_engines(
    dir: &TempDir,
    module: &str,
    args: &[&str],
    trigger: &str,
    check: impl Fn(&std::process::Output, &str),
) {
    for taken_on in ["fast", "interp"] {
        let snap = dir.0.join(format!("{}-{taken_on}.tern", args.join("-")));
        let snap = snap.display().to_string();
        let mut run = vec!["run", "--engine", taken_on, "--checkpoint-on", trigger];
        run.extend(["--snapshot", &snap, "--invoke", "f", module]);
        run.extend(args);
        let out = tern(&run);
        assert_eq!(out.status.code(), Some(CHECKPOINTED), "{}", stderr(&out));
        for restored_on in ["fast", "interp"] {
            let out = tern(&[
                "restore",
                &snap,
                "--module",
                module,
                "--engine",
                restored_on,
            ]);
            check(&out, &format!("{args:?}, {taken_on} → {restored_on}"));
        }
    }
}

/// A restore does not run the start function again (it adds 5 to the global `f`
/// returns at the bottom of its recursion): a snapshot taken by either engine in the
/// middle of `f` restores on both with the result of the uninterrupted run.
#[test]
fn a_module_with_a_start_function_restores_on_both_engines_without_running_it_again() {
    let dir = TempDir::new("engines-start");
    let module = dir.file(
        "start.wat",
        r#"(module
          (global $g (mut i32) (i32.const 0))
          (func $init (global.set $g (i32.add (global.get $g) (i32.const 5))))
          (start $init)
          (func $f (export "f") (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0))
              (then (global.get $g))
              (else (i32.add (i32.const 1)
                             (call $f (i32.sub (local.get 0) (i32.const 1))))))))"#,
    );
    checkpoint_across_engines(&dir, &module, &["100"], "call:f:50", |out, case| {
        assert!(out.status.success(), "{case}: {}", stderr(out));
        assert_eq!(stdout(out), "105\n", "{case}");
    });
}

/// `f` copies a byte from a passive data segment (`kind` 0) or a function from a
/// passive element segment (`kind` 1), drops the segment, recurses (the checkpoint is
/// taken in there), then reads the segment again, which traps: a dropped segment stays
/// dropped across a checkpoint, whichever engine takes or restores it.
#[test]
fn a_dropped_segment_stays_dropped_across_engines() {
    let dir = TempDir::new("engines-drop");
    let module = dir.file(
        "drop.wat",
        r#"(module
          (memory 1)
          (table 2 funcref)
          (data $d "\2a")
          (elem $e func $deep)
          (func $deep (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0))
              (then (i32.const 0))
              (else (call $deep (i32.sub (local.get 0) (i32.const 1))))))
          (func $init (param i32)
            (if (i32.eqz (local.get 0))
              (then (memory.init $d (i32.const 0) (i32.const 0) (i32.const 1)))
              (else (table.init $e (i32.const 0) (i32.const 0) (i32.const 1)))))
          (func (export "f") (param i32 i32) (result i32)
            (call $init (local.get 1))
            (if (i32.eqz (local.get 1)) (then (data.drop $d)) (else (elem.drop $e)))
            (drop (call $deep (local.get 0)))
            (call $init (local.get 1))
            (i32.load8_u (i32.const 0))))"#,
    );
    let traps = |out: &std::process::Output, case: &str| {
        assert_eq!(out.status.code(), Some(134), "{case}: {}", stderr(out));
        assert!(
            stderr(out).contains("out of bounds"),
            "{case}: {}",
            stderr(out)
        );
    };
    for kind in ["0", "1"] {
        let args = ["100", kind];
        let mut plain = vec!["run", "--engine", "interp", "--invoke", "f", &module];
        plain.extend(args);
        traps(&tern(&plain), "uninterrupted");
        checkpoint_across_engines(&dir, &module, &args, "call:deep:50", traps);
    }
}
