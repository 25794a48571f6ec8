//! Function references created by a restored program's continuation clones (found by
//! the differential fuzzer, `crates/tern-differential`).

use crate::support::engine;
use std::sync::{Arc, Mutex};
use tern_fast::{FastInstance, FastModule, Outcome};
use tern_snapshot::{TriggerInfo, Value, trigger_kind};
use tern_wasi::WasiCtxBuilder;

/// `ref.func $g` runs inside the clone of `$f` (function 0, checkpointed at its entry):
/// the clones module imports `$g`, and wasmtime gives the clones instance a reference of
/// its own for it. The checkpoint taken after that (`call:1:1`, at `$g`'s entry) must
/// still see global 0 as function 1.
#[test]
fn funcref_made_by_a_clone_is_captured() {
    let wasm = wat::parse_str(
        r#"(module
          (global (mut funcref) (ref.null func))
          (func $f (export "f") (result i32)
            (global.set 0 (ref.func $g))
            (call $g))
          (func $g (export "g") (result i32) (i32.const 1)))"#,
    )
    .unwrap();
    let wasi = || Arc::new(Mutex::new(WasiCtxBuilder::new().build().unwrap()));
    let trigger = || TriggerInfo::now(trigger_kind::MANUAL, "test");
    let at_f = FastModule::with_call_trigger(engine(), &wasm, 0, 1).unwrap();
    let mut instance = FastInstance::new(&at_f, wasi()).unwrap();
    assert_eq!(instance.invoke("f", &[]).unwrap(), Outcome::Unwound);
    let first = instance.capture(trigger()).unwrap();
    assert_eq!(first.state.globals, [Value::FuncRef(None)]);

    let at_g = FastModule::with_call_trigger(engine(), &wasm, 1, 1).unwrap();
    let mut restored = FastInstance::restore(&at_g, &first, wasi()).unwrap();
    assert_eq!(restored.resume().unwrap(), Outcome::Unwound);
    let second = restored
        .capture(trigger())
        .unwrap_or_else(|e| panic!("capture after the clone's ref.func: {e}"));
    assert_eq!(second.state.globals, [Value::FuncRef(Some(1))]);
}
