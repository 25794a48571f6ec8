//! Hand-written modules, each exercising one shape the pass must handle; every
//! instruction of their runs is tried as a checkpoint point.

use crate::harness::{Env, Program, no_env};
use tern_interp::Value;

pub const LOOP_SUM: &str = r#"(module (func (export "f") (param i32) (result i32) (local i32)
             (loop (local.set 1 (i32.add (local.get 1) (local.get 0)))
                   (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
             (local.get 1)))"#;

pub const LOOP_PARAMS: &str = r#"(module
             (type $pair (func (param i32 i64) (result i32 i64)))
             (func $swapadd (param i32 i64) (result i64 i32)
               (i64.add (local.get 1) (i64.extend_i32_u (local.get 0))) (local.get 0))
             (func (export "f") (param i32) (result i32 i64) (local i32 i64)
               (i32.const 0) (i64.const 1)
               (loop $l (type $pair)
                 (call $swapadd)
                 (block (param i64 i32) (result i32 i64)
                   (local.set 1)
                   (i64.const 2) (i64.mul)
                   (local.set 2)
                   (i32.add (local.get 1) (i32.const 3))
                   (local.get 2)
                   (br_if 0 (i32.eqz (local.get 0))))
                 (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                 (br_if $l (i32.ne (local.get 0) (i32.const 0))))))"#;

pub const BENEATH: &str = r#"(module
             (func $id (param i64) (result i64) (local.get 0))
             (func (export "f") (param i32) (result i64) (local i64)
               (i64.const 100)
               (f32.const 1.5)
               (block (result i64)
                 (i64.const 7)
                 (if (result i64) (local.get 0)
                   (then
                     (i64.const 1)
                     (loop (param i64) (result i64)
                       (call $id)
                       (i64.const 3) (i64.add)
                       (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))
                       (br_if 0)))
                   (else (i64.const 5)))
                 (i64.add))
               (i64.add (i64.trunc_f32_s (f32.const 2.5)))
               (local.set 1)
               (drop)
               (i64.add (local.get 1))))"#;

pub const BR_TABLE: &str = r#"(module
             (func $g (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
             (func (export "f") (param i32) (result i32) (local i32)
               (loop $top
                 (block $c (block $b (block $a
                   (br_table $a $b $c (i32.rem_u (local.get 0) (i32.const 3))))
                   (local.set 1 (i32.add (local.get 1) (call $g (local.get 0))))
                   (br $c))
                   (local.set 1 (i32.sub (local.get 1) (i32.const 1))))
                 (br_if $top (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
               (local.get 1)))"#;

pub const CALL_INDIRECT: &str = r#"(module
             (type $un (func (param i32) (result i32)))
             (table $t 4 funcref)
             (elem (table $t) (i32.const 0) func $inc $dbl $rec)
             (global $last (mut funcref) (ref.null func))
             (func $inc (type $un) (i32.add (local.get 0) (i32.const 1)))
             (func $dbl (type $un) (i32.shl (local.get 0) (i32.const 1)))
             (func $rec (type $un)
               (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
                 (then (local.get 0))
                 (else (i32.add (local.get 0)
                   (call_indirect $t (type $un)
                     (i32.sub (local.get 0) (i32.const 2)) (i32.const 2))))))
             (func (export "f") (param i32) (result i32) (local i32)
               (loop
                 (ref.func $dbl)
                 (local.set 1 (call_indirect $t (type $un)
                   (local.get 1) (i32.rem_u (local.get 0) (i32.const 3))))
                 (global.set $last)
                 (table.set $t (i32.const 3) (global.get $last))
                 (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
               (local.get 1)))"#;

pub const FIB: &str = r#"(module
             (func $fib (param i32) (result i64)
               (if (result i64) (i32.lt_u (local.get 0) (i32.const 2))
                 (then (i64.extend_i32_u (local.get 0)))
                 (else (i64.add
                   (call $fib (i32.sub (local.get 0) (i32.const 1)))
                   (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
             (func (export "f") (param i32) (result i64) (call $fib (local.get 0))))"#;

pub const SIMD: &str = r#"(module
             (func $splat (param i32) (result v128) (i32x4.splat (local.get 0)))
             (func (export "f") (param i32) (result v128) (local v128)
               (v128.const i32x4 1 2 3 4)
               (loop (param v128) (result v128)
                 (call $splat (local.get 0))
                 (i32x4.add)
                 (local.set 1 (v128.xor (local.get 1) (v128.const i64x2 -1 7)))
                 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))
                 (br_if 0))
               (v128.xor (local.get 1))))"#;

pub const MULTI_MEMORY: &str = r#"(module
             (memory $a 1)
             (memory $b 2)
             (export "a" (memory $a))
             (export "b" (memory $b))
             (data (memory $b) (i32.const 65540) "\05\00\00\00")
             (func $bump (param i32)
               (i32.store $b (i32.const 65540)
                 (i32.add (i32.load $b (i32.const 65540)) (local.get 0))))
             (func (export "f") (param i32) (result i32)
               (loop
                 (call $bump (local.get 0))
                 (i32.store8 $a (local.get 0) (local.get 0))
                 (memory.copy $b $a (i32.const 16) (i32.const 0) (i32.const 8))
                 (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
               (i32.add (i32.load $b (i32.const 65540)) (memory.size $b))))"#;

pub const HOST: &str = r#"(module
         (import "env" "mix" (func $mix (param i64) (result i64)))
         (global $acc (mut i64) (i64.const 1))
         (func (export "f") (param i32) (result i64)
           (loop
             (global.set $acc (call $mix (global.get $acc)))
             (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
           (global.get $acc)))"#;

pub const TAIL: &str = r#"(module
             (func $count (param i32 i64) (result i64)
               (if (result i64) (i32.eqz (local.get 0))
                 (then (local.get 1))
                 (else (return_call $count (i32.sub (local.get 0) (i32.const 1))
                                           (i64.add (local.get 1) (i64.const 3))))))
             (func (export "f") (param i32) (result i64)
               (i64.add (i64.const 1000) (call $count (local.get 0) (i64.const 0)))))"#;

pub const TAIL_OTHER: &str = r#"(module
             (type $t (func (param i32) (result i32)))
             (table 1 funcref) (elem (i32.const 0) $leaf)
             (func $leaf (param i32) (result i32) (local i32)
               (loop (local.set 1 (i32.add (local.get 1) (local.get 0)))
                     (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
               (local.get 1))
             (func $hop (param i32) (result i32)
               (if (result i32) (i32.and (local.get 0) (i32.const 1))
                 (then (return_call $leaf (local.get 0)))
                 (else (return_call_indirect (type $t) (local.get 0) (i32.const 0)))))
             (func (export "f") (param i32) (result i32)
               (i32.add (call $hop (local.get 0)) (call $hop (i32.add (local.get 0) (i32.const 1))))))"#;

/// Every case: name, WAT, export, arguments, host imports.
pub fn cases() -> Vec<(&'static str, &'static str, &'static str, Vec<Value>, Env)> {
    vec![
        ("loop_sum", LOOP_SUM, "f", vec![Value::I32(10)], no_env),
        ("loop_params", LOOP_PARAMS, "f", vec![Value::I32(6)], no_env),
        ("beneath", BENEATH, "f", vec![Value::I32(4)], no_env),
        ("br_table", BR_TABLE, "f", vec![Value::I32(9)], no_env),
        (
            "call_indirect",
            CALL_INDIRECT,
            "f",
            vec![Value::I32(7)],
            no_env,
        ),
        ("fib", FIB, "f", vec![Value::I32(7)], no_env),
        ("simd", SIMD, "f", vec![Value::I32(5)], no_env),
        (
            "multi_memory",
            MULTI_MEMORY,
            "f",
            vec![Value::I32(6)],
            no_env,
        ),
        ("host", HOST, "f", vec![Value::I32(8)], host_env),
        ("tail", TAIL, "f", vec![Value::I32(6)], no_env),
        ("tail_other", TAIL_OTHER, "f", vec![Value::I32(5)], no_env),
    ]
}

fn every_point(name: &str, wat: &str, export: &str, args: Vec<Value>) {
    let p = Program::new(name, wat::parse_str(wat).unwrap(), export, args, no_env);
    let len = p.instrumented_length();
    let (sites, deepest) = p.check(1..len);
    assert!(!sites.is_empty(), "{name}: no checkpoint taken");
    eprintln!(
        "{name}: {len} points, {} top sites, deepest {deepest}",
        sites.len()
    );
}

#[test]
fn loop_sum() {
    every_point("loop_sum", LOOP_SUM, "f", vec![Value::I32(10)]);
}

#[test]
fn loop_params_and_multi_value() {
    // The loop carries two values as parameters; a multi-value block returns a pair.
    every_point("loop_params", LOOP_PARAMS, "f", vec![Value::I32(6)]);
}

#[test]
fn values_beneath_blocks() {
    // Operands of enclosing blocks lie below nested blocks, loops and `if`s that
    // contain safepoints and calls: the cold path reads them from scratch locals.
    every_point("beneath", BENEATH, "f", vec![Value::I32(4)]);
}

#[test]
fn br_table_dispatch() {
    every_point("br_table", BR_TABLE, "f", vec![Value::I32(9)]);
}

#[test]
fn call_indirect_and_funcrefs() {
    // A funcref lies on the operand stack below a call; the table holds funcrefs.
    every_point("call_indirect", CALL_INDIRECT, "f", vec![Value::I32(7)]);
}

#[test]
fn nested_recursive_calls() {
    every_point("fib", FIB, "f", vec![Value::I32(7)]);
}

#[test]
fn simd_on_the_stack() {
    every_point("simd", SIMD, "f", vec![Value::I32(5)]);
}

#[test]
fn multi_memory() {
    every_point("multi_memory", MULTI_MEMORY, "f", vec![Value::I32(6)]);
}

/// The host import of [`HOST`].
pub fn host_env(linker: &mut tern_interp::Linker) {
    use tern_interp::{FuncType, ValType};
    linker.func(
        "env",
        "mix",
        FuncType::new([ValType::I64], [ValType::I64]),
        |_, args| {
            let Value::I64(x) = args[0] else {
                unreachable!()
            };
            Ok(vec![Value::I64(x.rotate_left(5) ^ 0x9e37)])
        },
    );
}

#[test]
fn host_imports_and_globals() {
    let wat = HOST;
    let p = Program::new(
        "host",
        wat::parse_str(wat).unwrap(),
        "f",
        vec![Value::I32(8)],
        host_env,
    );
    let len = p.instrumented_length();
    let (sites, _) = p.check(1..len);
    assert!(!sites.is_empty());
}

#[test]
fn tail_calls_leave_no_frame() {
    // `return_call` replaces the frame: no check follows it, and after a checkpoint
    // inside the callee the caller's caller waits on its own call.
    every_point("tail", TAIL, "f", vec![Value::I32(6)]);
}

#[test]
fn dead_locals_are_reported_as_zero() {
    // Local 1 is written after the loop before being read: dead at the loop header.
    // Local 2 is read after the loop: live.
    // The recursive tail call (never made) keeps the entry poll: it is reachable from
    // the entry without a poll in between, and returns to no check.
    let wat = r#"(module (func (export "f") (param i32) (result i32) (local i32 i32)
        (if (i32.eqz (local.get 0)) (then (return_call 0 (i32.const 1))))
        (local.set 2 (i32.const 9))
        (loop (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
        (local.set 1 (i32.const 4))
        (i32.add (local.get 1) (local.get 2))))"#;
    let out = tern_instrument::instrument(&wat::parse_str(wat).unwrap()).unwrap();
    let header = out
        .map
        .sites
        .iter()
        .find(|s| s.kind == tern_instrument::SiteKind::LoopHeader)
        .unwrap();
    assert_eq!(header.live, vec![true, false, true]);
    let entry = &out.map.sites[0];
    assert_eq!(entry.kind, tern_instrument::SiteKind::Entry);
    assert_eq!(entry.live, vec![true, false, false]);
}

#[test]
fn malformed_modules_are_errors_with_offsets() {
    let err = tern_instrument::instrument(b"\0asm\x01\0\0\0\x01\x05").unwrap_err();
    assert!(err.offset > 0, "{err}");
    let invalid = wat::parse_str("(module (func (result i32) (i64.const 1)))").unwrap();
    let err = tern_instrument::instrument(&invalid).unwrap_err();
    assert!(err.to_string().contains("type mismatch"), "{err}");
}

#[test]
fn tail_call_to_another_function() {
    // After `return_call $leaf` the frame below waits on `call $hop` while the frame
    // above it runs `$leaf`.
    every_point("tail_other", TAIL_OTHER, "f", vec![Value::I32(5)]);
}

#[test]
fn more_values_than_a_helper_may_take() {
    // 8,200 i64 locals: more than the frame buffer holds (65,520 bytes), so a cold path
    // saves them inline; an operand lies beneath the loop, spilled.
    let wat = format!(
        r#"(module
          (func (export "f") (param $n i32) (result i64) (local {locals})
            (i64.const 7)
            (loop $l
              (local.set 8200 (i64.add (local.get 8200) (i64.extend_i32_u (local.get $n))))
              (local.set 3 (i64.add (local.get 3) (i64.const 1)))
              (local.set $n (i32.sub (local.get $n) (i32.const 1)))
              (br_if $l (local.get $n)))
            (i64.add (i64.add (local.get 8200) (local.get 3)))))"#,
        locals = "i64 ".repeat(8200)
    );
    every_point("many_locals", &wat, "f", vec![Value::I32(3)]);
}
