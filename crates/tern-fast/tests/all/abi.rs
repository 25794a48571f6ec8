//! The host ABI on wasmtime with hand-written modules: funcrefs on the operand stack, in
//! locals, tables and globals map back to original function indices; memories and
//! globals are read through the reach exports; a capture restores on the interpreter.

use crate::support::*;
use std::sync::{Arc, Mutex};
use tern_fast::{FastInstance, Outcome};
use tern_snapshot::{TriggerInfo, Value, trigger_kind};
use tern_wasi::WasiCtxBuilder;

const FUNCREFS: &str = r#"
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
  (type $t (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (memory $second 2)
  (table $tab 4 funcref)
  (elem (i32.const 0) $inc $dbl)
  (elem declare func $sq)
  (global $g (mut funcref) (ref.func $dbl))
  (global $count (mut i32) (i32.const 0))
  (global $wide (mut i64) (i64.const 0x1234_5678_9abc))
  (data $d "passive")
  (func $inc (type $t) (i32.add (local.get 0) (i32.const 1)))
  (func $dbl (type $t) (i32.mul (local.get 0) (i32.const 2)))
  (func $sq (type $t) (i32.mul (local.get 0) (local.get 0)))
  ;; A WASI call (the test hook counts them) in a loop, so a poll follows each one.
  (func $work (param $x i32) (result i32) (local $i i32)
    (loop $l
      (drop (call $yield))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 2))))
    (i32.add (local.get $x) (global.get $count)))
  (func (export "run") (param $n i32) (result i32) (local $acc i32) (local $f funcref)
    (local.set $f (ref.func $sq))
    (loop $l
      ;; [i32 funcref] stay on the operand stack across the call to $work.
      (i32.const 2)
      (table.get $tab (i32.and (local.get $n) (i32.const 1)))
      (local.set $acc (call $work (local.get $acc)))
      (table.set $tab)
      (global.set $g (local.get $f))
      (local.set $f (table.get $tab (i32.and (local.get $n) (i32.const 1))))
      (table.set $tab (i32.const 3) (global.get $g))
      (local.set $acc (call_indirect (type $t) (local.get $acc) (i32.const 2)))
      (local.set $acc (i32.and (call_indirect (type $t) (local.get $acc) (i32.const 3)) (i32.const 0xffff)))
      (global.set $count (i32.add (global.get $count) (i32.const 1)))
      (global.set $wide (i64.add (global.get $wide) (i64.extend_i32_u (local.get $acc))))
      (i32.store (i32.mul (local.get $n) (i32.const 4)) (local.get $acc))
      (i32.store $second (i32.const 70000) (local.get $n))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.add (local.get $acc) (i32.wrap_i64 (global.get $wide)))))
"#;

fn wasi() -> Arc<Mutex<tern_wasi::WasiCtx>> {
    Arc::new(Mutex::new(WasiCtxBuilder::new().build().unwrap()))
}

fn interp_result(wasm: &[u8], n: u32) -> Vec<Value> {
    let config = tern_interp::Config::default();
    let module = tern_interp::Module::new(&config, wasm).unwrap();
    let mut store = tern_interp::Store::new(&config);
    let mut linker = tern_interp::Linker::new();
    tern_wasi::add_to_linker(&mut linker, wasi());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    match store.invoke(instance, "run", &[Value::I32(n)]) {
        Ok(tern_interp::Outcome::Finished(results)) => results,
        other => panic!("{other:?}"),
    }
}

#[test]
fn funcrefs_tables_globals_and_memories_at_every_wasi_call() {
    let wasm = wat::parse_str(FUNCREFS).unwrap();
    let n = 9;
    let expected = interp_result(&wasm, n);
    let module = fast_module(&wasm);
    let mut plain = FastInstance::new(&module, wasi()).unwrap();
    assert_eq!(
        plain.invoke("run", &[Value::I32(n)]).unwrap(),
        Outcome::Finished(expected.clone())
    );
    let mut saw_funcref_on_stack = false;
    let last = 2 * u64::from(n);
    for k in 1..=last {
        let mut instance = FastInstance::new(&module, wasi()).unwrap();
        instance.checkpoint_after_wasi_calls(k);
        let outcome = instance.invoke("run", &[Value::I32(n)]).unwrap();
        // The check after each WASI call polls, the last one included.
        assert_eq!(outcome, Outcome::Unwound, "k = {k}");
        let snapshot = instance
            .capture(TriggerInfo::now(trigger_kind::MANUAL, ""))
            .unwrap();
        let state = &snapshot.state;
        assert_eq!(
            state.memories.len(),
            2,
            "the flag memory is not part of the state"
        );
        assert_eq!(state.memories[1].pages, 2);
        assert_eq!(
            state.tables[0].elements[0],
            Value::FuncRef(Some(1)),
            "$inc is function 1"
        );
        assert_eq!(state.instances[0].dropped_data, Vec::<u32>::new());
        assert_eq!(state.instances[0].dropped_elems, [0, 1]);
        // The check after the yield polls: `$work` is the top frame after its call, `run`
        // waits on `$work` ($inc, $dbl and $sq are bounded: no entry polls).
        assert_eq!(state.frames.len(), 2, "k = {k}");
        saw_funcref_on_stack |= state.frames[0]
            .stack
            .iter()
            .any(|v| matches!(v, Value::FuncRef(Some(_))));
        let scratch = TempDir::new("abi");
        let resumed = restore_on_interp(&wasm, &snapshot, scratch.path(), WasiCtxBuilder::new());
        assert_eq!(
            resumed,
            Ok(tern_interp::Outcome::Finished(expected.clone())),
            "k = {k}"
        );
    }
    assert!(saw_funcref_on_stack);
}

#[test]
fn request_before_the_run_stops_at_the_first_poll() {
    let wasm = wat::parse_str(FUNCREFS).unwrap();
    let expected = interp_result(&wasm, 5);
    let module = fast_module(&wasm);
    let mut instance = FastInstance::new(&module, wasi()).unwrap();
    instance.checkpoint_handle().request();
    assert_eq!(
        instance.invoke("run", &[Value::I32(5)]).unwrap(),
        Outcome::Unwound
    );
    let snapshot = instance
        .capture(TriggerInfo::now(trigger_kind::MANUAL, ""))
        .unwrap();
    // Neither function polls at entry (no tail calls) nor at its loop header (every
    // iteration makes a call whose check polls): the first poll follows the first
    // WASI call, in `$work` called by `run`.
    assert_eq!(snapshot.state.frames.len(), 2);
    assert_eq!(snapshot.state.frames[0].locals[0], Value::I32(5));
    // Nothing more runs in an unwound instance.
    assert!(instance.invoke("run", &[Value::I32(5)]).is_err());
    let scratch = TempDir::new("abi");
    let resumed = restore_on_interp(&wasm, &snapshot, scratch.path(), WasiCtxBuilder::new());
    assert_eq!(resumed, Ok(tern_interp::Outcome::Finished(expected)));
}

#[test]
fn compiled_modules_come_from_the_cache_the_second_time() {
    let wasm = wat::parse_str(r#"(module (func (export "f") (result i32) (i32.const 7)) (global i32 (i32.const 0x7e57ca5e)))"#).unwrap();
    let dir = TempDir::new("cache");
    let engine =
        tern_fast::FastEngine::with_cache(Some(tern_fast::ModuleCache::at(dir.path()))).unwrap();
    let first = tern_fast::FastModule::new(&engine, &wasm).unwrap();
    assert!(!first.cache_hit());
    let second = tern_fast::FastModule::new(&engine, &wasm).unwrap();
    assert!(second.cache_hit());
    let mut instance = FastInstance::new(&second, wasi()).unwrap();
    assert_eq!(
        instance.invoke("f", &[]).unwrap(),
        Outcome::Finished(vec![Value::I32(7)])
    );
    // A corrupted entry is not used: the module is compiled again.
    let cache_dir = engine.cache().unwrap().dir().to_path_buf();
    for entry in std::fs::read_dir(&cache_dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let mut bytes = std::fs::read(&path).unwrap();
        // The trailer: tern's magic and the entry's key after wasmtime's bytes.
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
    }
    assert!(
        !tern_fast::FastModule::new(&engine, &wasm)
            .unwrap()
            .cache_hit()
    );
}

#[test]
fn call_trigger_stops_in_front_of_every_nth_call() {
    let wasm = wat::parse_str(FUNCREFS).unwrap();
    let n = 6;
    let expected = interp_result(&wasm, n);
    // Function 4 is $work (after the import and $inc, $dbl, $sq); run calls it n times.
    for every in 1..=u64::from(n) {
        let module = tern_fast::FastModule::with_call_trigger(engine(), &wasm, 4, every).unwrap();
        let mut instance = FastInstance::new(&module, wasi()).unwrap();
        let handle = instance.checkpoint_handle();
        let outcome = instance.invoke("run", &[Value::I32(n)]).unwrap();
        assert_eq!(outcome, Outcome::Unwound, "every {every}");
        assert!(!handle.is_requested(), "the module asked, not the host");
        let snapshot = instance
            .capture(TriggerInfo::now(trigger_kind::CALL, ""))
            .unwrap();
        let frames = &snapshot.state.frames;
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].func, 4, "stopped at the entry of $work");
        // The countdown is not part of the state: the original module's globals only.
        assert_eq!(snapshot.state.globals.len(), 3);
        let scratch = TempDir::new("calls");
        let resumed = restore_on_interp(&wasm, &snapshot, scratch.path(), WasiCtxBuilder::new());
        assert_eq!(
            resumed,
            Ok(tern_interp::Outcome::Finished(expected.clone()))
        );
    }
    // Only functions the module defines can be counted.
    assert!(tern_fast::FastModule::with_call_trigger(engine(), &wasm, 0, 1).is_err());
    assert!(tern_fast::FastModule::with_call_trigger(engine(), &wasm, 99, 1).is_err());
    assert!(tern_fast::FastModule::with_call_trigger(engine(), &wasm, 4, 0).is_err());
}

#[test]
fn call_trigger_in_a_module_without_globals() {
    let wasm = wat::parse_str(
        r#"(module
             (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 3)))
             (func (export "run") (param $n i32) (result i32) (local $acc i32)
               (loop $l
                 (local.set $acc (call $leaf (local.get $acc)))
                 (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
               (local.get $acc)))"#,
    )
    .unwrap();
    let module = tern_fast::FastModule::with_call_trigger(engine(), &wasm, 0, 4).unwrap();
    let mut instance = FastInstance::new(&module, wasi()).unwrap();
    assert_eq!(
        instance.invoke("run", &[Value::I32(10)]).unwrap(),
        Outcome::Unwound
    );
    let snapshot = instance
        .capture(TriggerInfo::now(trigger_kind::CALL, ""))
        .unwrap();
    assert_eq!(
        snapshot.state.frames[1].locals,
        [Value::I32(9)],
        "the 4th call gets 9"
    );
    assert!(snapshot.state.globals.is_empty());
    let scratch = TempDir::new("calls");
    let resumed = restore_on_interp(&wasm, &snapshot, scratch.path(), WasiCtxBuilder::new());
    assert_eq!(
        resumed,
        Ok(tern_interp::Outcome::Finished(vec![Value::I32(30)]))
    );
}
