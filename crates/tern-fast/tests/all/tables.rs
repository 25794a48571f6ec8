//! A restore writes only the table elements that differ from what instantiation put
//! there (`src/table_init.rs`): elements the program changed, nulled or grew must still
//! come back, on a table filled by several segments, one of them of expressions.

use crate::support::engine;
use std::sync::{Arc, Mutex};
use tern_fast::{FastInstance, FastModule, Outcome};
use tern_snapshot::{TriggerInfo, Value, trigger_kind};
use tern_wasi::WasiCtxBuilder;

/// `run` changes the table, calls `$probe` (function 0, where the call trigger stops
/// it), then reads every element back into one number.
const MODULE: &str = r#"(module
  (type $v (func (result i32)))
  (table $t 5 funcref)
  (table $u 2 funcref)
  (elem (table $t) (i32.const 0) func $one $two $three)
  (elem (table $t) (i32.const 3) funcref (ref.func $two) (ref.null func))
  (elem (table $u) (i32.const 1) func $three)
  (func $probe)
  (func $one (result i32) (i32.const 1))
  (func $two (result i32) (i32.const 2))
  (func $three (result i32) (i32.const 3))
  (func $at (param i32) (result i32)
    (if (result i32) (ref.is_null (table.get $t (local.get 0)))
      (then (i32.const 0))
      (else (call_indirect $t (type $v) (local.get 0)))))
  (func (export "run") (result i32)
    (table.set $t (i32.const 0) (ref.null func))
    (table.set $t (i32.const 1) (ref.func $three))
    (table.set $t (i32.const 4) (ref.func $one))
    (drop (table.grow $t (ref.func $two) (i32.const 2)))
    (table.set $u (i32.const 0) (ref.func $one))
    (call $probe)
    ;; digits, most significant first: elements 0..=6 of $t, then 0 and 1 of $u
    (i32.add
      (i32.add
        (i32.add (i32.mul (call $at (i32.const 0)) (i32.const 100000000))
                 (i32.mul (call $at (i32.const 1)) (i32.const 10000000)))
        (i32.add (i32.mul (call $at (i32.const 2)) (i32.const 1000000))
                 (i32.mul (call $at (i32.const 3)) (i32.const 100000))))
      (i32.add
        (i32.add (i32.mul (call $at (i32.const 4)) (i32.const 10000))
                 (i32.mul (call $at (i32.const 5)) (i32.const 1000)))
        (i32.add (i32.mul (call $at (i32.const 6)) (i32.const 100))
                 (i32.add
                   (i32.mul (call_indirect $u (type $v) (i32.const 0)) (i32.const 10))
                   (call_indirect $u (type $v) (i32.const 1)))))))
)"#;

#[test]
fn changed_nulled_and_grown_elements_are_restored() {
    let wasm = wat::parse_str(MODULE).unwrap();
    let wasi = || Arc::new(Mutex::new(WasiCtxBuilder::new().build().unwrap()));
    let expected = Value::I32(33_212_213);
    let plain = FastModule::new(engine(), &wasm).unwrap();
    let mut uninterrupted = FastInstance::new(&plain, wasi()).unwrap();
    assert_eq!(
        uninterrupted.invoke("run", &[]).unwrap(),
        Outcome::Finished(vec![expected])
    );
    let at_probe = FastModule::with_call_trigger(engine(), &wasm, 0, 1).unwrap();
    let mut instance = FastInstance::new(&at_probe, wasi()).unwrap();
    assert_eq!(instance.invoke("run", &[]).unwrap(), Outcome::Unwound);
    let snapshot = instance
        .capture(TriggerInfo::now(trigger_kind::MANUAL, "test"))
        .unwrap();
    let t: Vec<Option<u32>> = snapshot.state.tables[0]
        .elements
        .iter()
        .map(|e| match e {
            Value::FuncRef(f) => *f,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        t,
        [None, Some(3), Some(3), Some(2), Some(1), Some(2), Some(2)]
    );
    let mut restored = FastInstance::restore(&plain, &snapshot, wasi()).unwrap();
    assert_eq!(
        restored.resume().unwrap(),
        Outcome::Finished(vec![expected])
    );
}
