//! Pausing the interpreter from outside, and at exact instruction counts.

use std::time::Duration;
use tern_interp::{Config, Linker, Module, Outcome, PauseReason, Store, Value};

const SPIN: &str = r#"(module (func (export "spin") (param i64) (result i64) (local i64)
  (loop (local.set 1 (i64.add (local.get 1) (i64.const 1)))
        (br_if 0 (i64.ne (local.get 1) (local.get 0))))
  (local.get 1)))"#;

fn instance(wat: &str) -> (Store, tern_interp::InstanceId) {
    let config = Config::default();
    let module = Module::new(&config, &wat::parse_str(wat).unwrap()).unwrap();
    let mut store = Store::new(&config);
    let instance = Linker::new().instantiate(&mut store, &module).unwrap();
    (store, instance)
}

#[test]
fn interrupt_flag_from_another_thread_pauses_and_state_moves_to_a_fresh_store() {
    let (mut store, instance) = instance(SPIN);
    let flag = store.interrupt_handle();
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let n = 1u64 << 40; // far more than runs in 20 ms
    let outcome = store.invoke(instance, "spin", &[Value::I64(n)]).unwrap();
    setter.join().unwrap();
    assert_eq!(outcome, Outcome::Paused(PauseReason::Interrupted));
    let state = store.capture();
    let counter = match state.frames[0].locals[1] {
        Value::I64(c) => c,
        ref other => panic!("counter local is {other:?}"),
    };
    assert!(counter > 0 && counter < n);
    // Shorten the run by rewriting the target in the captured state, then finish it
    // in a fresh store: the loop carries on from where it was.
    let mut state = tern_snapshot::decode_state(&tern_snapshot::encode_state(&state)).unwrap();
    state.frames[0].locals[0] = Value::I64(counter + 1000);
    let mut fresh = store.blank_copy();
    fresh.restore(&state).unwrap();
    assert_eq!(
        fresh.resume(),
        Ok(Outcome::Finished(vec![Value::I64(counter + 1000)]))
    );
}

#[test]
fn instruction_budget_stops_at_exact_counts() {
    let (mut store, instance) = instance(SPIN);
    store.set_instruction_budget(Some(1));
    let outcome = store.invoke(instance, "spin", &[Value::I64(3)]).unwrap();
    assert_eq!(outcome, Outcome::Paused(PauseReason::BudgetExhausted));
    let mut pcs = vec![store.capture().frames[0].pc];
    loop {
        store.set_instruction_budget(Some(1));
        match store.resume().unwrap() {
            Outcome::Paused(_) => pcs.push(store.capture().frames[0].pc),
            Outcome::Finished(values) => {
                assert_eq!(values, vec![Value::I64(3)]);
                break;
            }
        }
    }
    // One pause per executed instruction, each at a distinct boundary within a loop
    // iteration, and the same boundaries in every iteration.
    assert!(pcs.len() > 9, "{pcs:?}");
    let per_iteration = pcs.iter().skip(1).position(|&pc| pc == pcs[0]).unwrap() + 1;
    assert_eq!(pcs[0..per_iteration], pcs[per_iteration..2 * per_iteration]);
}

#[test]
fn forged_states_are_refused_without_changing_the_store() {
    let (mut store, instance) = instance(SPIN);
    store.set_instruction_budget(Some(5));
    store.invoke(instance, "spin", &[Value::I64(10)]).unwrap();
    let good = store.capture();
    let mut fresh = store.blank_copy();

    let mut bad = good.clone();
    bad.frames[0].pc += 1; // inside an instruction
    assert!(fresh.restore(&bad).unwrap_err().to_string().contains("pc"));
    let mut bad = good.clone();
    bad.frames[0].locals[0] = Value::I32(1); // wrong type
    assert!(fresh.restore(&bad).is_err());
    let mut bad = good.clone();
    bad.frames[0].stack.push(Value::I64(1)); // impossible stack shape
    assert!(fresh.restore(&bad).is_err());
    let mut bad = good.clone();
    bad.frames[0].func = 7; // no such function
    assert!(fresh.restore(&bad).is_err());

    fresh.restore(&good).unwrap();
    assert_eq!(fresh.resume(), Ok(Outcome::Finished(vec![Value::I64(10)])));
}
