//! `FastStore`: instances linked in one store, an invocation checkpointed at every
//! safepoint it reaches, restored into a fresh instance and resumed.

use tern_fast::{FastEngine, FastModule, FastStore, Outcome};
use tern_snapshot::{TriggerInfo, Value, trigger_kind};

/// `a` owns a memory; `b` imports it (and a `spectest` global) and sums 1..=n into it
/// through a helper call in a loop.
const A: &str = r#"(module (memory (export "mem") 1)
  (func (export "peek") (param i32) (result i32) (i32.load (local.get 0))))"#;
const B: &str = r#"(module
  (import "a" "mem" (memory 1))
  (import "spectest" "global_i32" (global $g i32))
  (func $add (param i32) (result i32)
    (i32.store (i32.const 8) (i32.add (i32.load (i32.const 8)) (local.get 0)))
    (i32.load (i32.const 8)))
  (func (export "sum") (param $n i32) (result i32) (local $last i32)
    (loop $l
      (local.set $last (call $add (local.get $n)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.add (local.get $last) (global.get $g))))"#;
const USES_A: &str = r#"(module (import "a" "peek" (func (param i32) (result i32))))"#;

fn store(engine: &FastEngine) -> (FastStore, tern_fast::LinkedId, tern_fast::LinkedId) {
    let module = |wat: &str| FastModule::new(engine, &wat::parse_str(wat).unwrap()).unwrap();
    let mut store = FastStore::new(engine).unwrap();
    store.define_spectest().unwrap();
    let a = store.instantiate(&module(A)).unwrap();
    store.register("a", a).unwrap();
    let b = store.instantiate(&module(B)).unwrap();
    (store, a, b)
}

#[test]
fn an_invocation_checkpointed_at_every_safepoint_gives_the_uninterrupted_results() {
    let engine = FastEngine::counting_safepoints().unwrap();
    let n = Value::I32(6);
    // 1+…+6 = 21 stored at a's byte 8, plus spectest's 666.
    let expected = vec![Value::I32(21 + 666)];
    let (mut plain, a0, b0) = store(&engine);
    assert_eq!(
        plain.invoke(b0, "sum", &[n]).unwrap(),
        Outcome::Finished(expected.clone())
    );
    assert_eq!(
        plain.invoke(a0, "peek", &[Value::I32(8)]).unwrap(),
        Outcome::Finished(vec![Value::I32(21)])
    );
    // sum's entry, 6 loop headers, 6 entries of $add: 13 counted safepoints. A request
    // takes effect at the next poll of tern's own; $add (no loop, no call) has none, so
    // a request at its last entry (k = 13) meets no poll before the end.
    for k in 1..=13 {
        let (mut store, a, b) = store(&engine);
        assert_eq!(store.checkpointable(b).unwrap(), None);
        store.request_after(k);
        let mut outcome = store.invoke(b, "sum", &[n]).unwrap();
        let mut taken = 0;
        while outcome == Outcome::Unwound {
            taken += 1;
            assert!(taken <= 20, "k = {k}: no progress");
            let snapshot = store
                .capture(b, TriggerInfo::now(trigger_kind::MANUAL, "test"))
                .unwrap();
            store.restore(b, &snapshot).unwrap();
            // Again two safepoints into the resumed run (the first is the top clone's
            // entry, where the restored state is unchanged).
            store.request_after(2);
            outcome = store.resume(b).unwrap();
        }
        assert_eq!(taken > 0, k < 13, "k = {k}: checkpointed {taken} times");
        assert_eq!(outcome, Outcome::Finished(expected.clone()), "k = {k}");
        // The restored instance wrote the memory it imports: a's own.
        assert_eq!(
            store.invoke(a, "peek", &[Value::I32(8)]).unwrap(),
            Outcome::Finished(vec![Value::I32(21)]),
            "k = {k}"
        );
    }
}

#[test]
fn instances_whose_state_one_snapshot_cannot_hold_are_not_checkpointable() {
    let engine = FastEngine::counting_safepoints().unwrap();
    let (mut store, a, _) = store(&engine);
    let uses_a = FastModule::new(&engine, &wat::parse_str(USES_A).unwrap()).unwrap();
    let c = store.instantiate(&uses_a).unwrap();
    let why_c = store.checkpointable(c).unwrap().unwrap_or_default();
    assert!(why_c.contains("imports functions"), "{why_c}");
    let why_a = store.checkpointable(a).unwrap().unwrap_or_default();
    assert!(why_a.contains("imports from it"), "{why_a}");
    let snapshot_of_a = tern_snapshot::Snapshot {
        module: *FastModule::new(&engine, &wat::parse_str(A).unwrap())
            .unwrap()
            .identity(),
        trigger: TriggerInfo::now(trigger_kind::MANUAL, "test"),
        state: Default::default(),
        wasi: None,
    };
    assert!(store.restore(a, &snapshot_of_a).is_err());
}
