//! `tern run` and `tern wast` as a user sees them.

use crate::util::{TempDir, stderr, stdout, tern};

const ADD: &str = r#"(module
  (func (export "add") (param i32 i64) (result i64)
    (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1)))
  (func (export "pair") (result f32 i32) (f32.const 1.5) (i32.const -7)))"#;

#[test]
fn invoke_prints_typed_results_one_per_line() {
    let dir = TempDir::new("invoke");
    let module = dir.file("add.wat", ADD);
    let out = tern(&["run", "--invoke", "add", &module, "-5", "0x10"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "11\n");
    let out = tern(&["run", "--invoke", "pair", &module]);
    assert_eq!(stdout(&out), "1.5\n-7\n");
}

#[test]
fn wrong_arguments_are_a_clear_error() {
    let dir = TempDir::new("badargs");
    let module = dir.file("add.wat", ADD);
    let out = tern(&["run", "--invoke", "add", &module, "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("2 arguments") || stderr(&out).contains("1 arguments given"));
    let out = tern(&["run", "--invoke", "add", &module, "x", "1"]);
    assert!(
        stderr(&out).contains("`x` is not a valid i32"),
        "{}",
        stderr(&out)
    );
    let out = tern(&["run", "--invoke", "nope", &module]);
    assert!(stderr(&out).contains("no exported function named `nope`"));
    // A control endpoint reachable from other hosts would let them move the program.
    let out = tern(&["run", "--control", "0.0.0.0:7070", &module]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a loopback address"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn trap_prints_kind_and_named_backtrace() {
    let dir = TempDir::new("trap");
    let module = dir.file(
        "trap.wat",
        r#"(module
          (func $inner (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
          (func $outer (export "go") (result i32) (call $inner (i32.const 0))))"#,
    );
    let out = tern(&["run", "--invoke", "go", &module]);
    assert_eq!(out.status.code(), Some(134));
    let err = stderr(&out);
    assert!(err.contains("integer divide by zero"), "{err}");
    let inner = err.find("(inner)").expect("inner frame named");
    let outer = err.find("(outer)").expect("outer frame named");
    assert!(inner < outer, "innermost frame first:\n{err}");
}

#[test]
fn deep_recursion_traps_instead_of_overflowing_the_host_stack() {
    let dir = TempDir::new("recursion");
    let module = dir.file(
        "rec.wat",
        r#"(module (func $f (export "f") (param i64) (result i64)
              (i64.add (i64.const 1) (call $f (local.get 0)))))"#,
    );
    let out = tern(&["run", "--invoke", "f", &module, "0"]);
    assert_eq!(out.status.code(), Some(134));
    assert!(
        stderr(&out).contains("call stack exhausted"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn wast_reports_per_file_counts() {
    let dir = TempDir::new("wast");
    let good = dir.file(
        "good.wast",
        r#"(module (func (export "f") (result i32) (i32.const 7)))
           (assert_return (invoke "f") (i32.const 7))
           (assert_trap (module (func $s unreachable) (start $s)) "unreachable")"#,
    );
    let bad = dir.file(
        "bad.wast",
        r#"(module (func (export "f") (result i32) (i32.const 7)))
           (assert_return (invoke "f") (i32.const 8))"#,
    );
    let out = tern(&["wast", &good]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("good.wast: 3 passed, 0 failed"),
        "{}",
        stdout(&out)
    );
    let out = tern(&["wast", &good, &bad, "--checkpoint-every", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("bad.wast: 1 passed, 1 failed"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("bad.wast:2: expected"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn wasi_command_gets_args_env_dirs_and_exit_code() {
    let dir = TempDir::new("wasi");
    let module = dir.file(
        "exit.wat",
        r#"(module
          (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 1)
          (data (i32.const 16) "hello from wasi\n")
          (func (export "_start")
            (i32.store (i32.const 0) (i32.const 16))
            (i32.store (i32.const 4) (i32.const 16))
            (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
            (call $exit (i32.const 3))))"#,
    );
    let out = tern(&["run", &module]);
    assert_eq!(stdout(&out), "hello from wasi\n");
    assert_eq!(out.status.code(), Some(3));

    let guest = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guests/c/stdio.wasm");
    let out = tern(&["run", "--env", "GREETING=hi", guest, "one"]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "the guest ends with exit(7): {}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("argv[1] = one"), "{}", stdout(&out));
    assert!(stdout(&out).contains("GREETING=hi"), "{}", stdout(&out));
}
