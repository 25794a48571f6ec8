//! Checkpoints taken on tern-fast, resumed on tern-interp: the whole run must look like
//! an uninterrupted one (stdout, stderr, exit status, files).

use crate::guests::programs;
use crate::support::*;
use tern_fast::FastInstance;

/// The k-th WASI call for k = 1, 2, 3, 5, 8, … until the program ends before it.
#[test]
fn wasi_guests_checkpointed_after_many_calls_finish_on_the_interpreter() {
    for (name, program) in programs() {
        let reference = run_interp(&program);
        let (mut k, mut next) = (1u64, 2u64);
        let (mut taken, mut refused) = (0, 0);
        loop {
            match checkpointed_at_call(&program, k) {
                Checkpoint::Ended => break,
                Checkpoint::Refused => refused += 1,
                Checkpoint::Taken(run, snapshot) => {
                    assert_eq!(run, reference, "{name}: checkpoint after WASI call {k}");
                    assert!(!snapshot.state.frames.is_empty());
                    taken += 1;
                }
            }
            (k, next) = (next, k + next);
        }
        eprintln!("{name}: {taken} checkpoints ({refused} refused), up to WASI call {k}");
        assert!(taken > 0 || name == "raise", "{name}: no checkpoint taken");
    }
}

/// The guest program called `name`.
fn guest(name: &str) -> Program {
    programs()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no guest `{name}`"))
        .1
}

/// Runs `program` on tern-fast with a checkpoint requested from another thread after
/// `delay_ms`, and finishes the checkpoint (if one was taken) on the interpreter.
fn requested_after(program: &Program, bytes: &[u8], delay_ms: u64) -> Checkpoint {
    let world = World::new(program);
    let module = fast_module(bytes);
    let mut instance = FastInstance::new(&module, world.context(program)).unwrap();
    let waker = request_after(&instance, delay_ms);
    let outcome = instance.invoke("_start", &[]);
    waker.join().unwrap();
    finish_checkpointed(program, world, instance, outcome, bytes)
}

/// A request from another thread while the program sleeps: `poll_oneoff` gives way,
/// its frame is saved on the call with the call's arguments, and the interpreter issues
/// the call again (sleeping only what remained).
#[test]
fn a_sleep_gives_way_and_is_issued_again() {
    // Sleeps of 100 ms: a blocking call looks at the interrupt flag every 10 ms.
    let program = Program::new("ckpt/sleeps.wasm", &["sleeps", "4", "100"]);
    let reference = run_interp(&program);
    let bytes = program.bytes();
    let mut pending = 0;
    for delay_ms in [50u64, 170, 260] {
        let Checkpoint::Taken(run, snapshot) = requested_after(&program, &bytes, delay_ms) else {
            panic!("after {delay_ms} ms: no checkpoint");
        };
        assert_eq!(run, reference, "checkpoint after {delay_ms} ms");
        let wasi: tern_wasi::WasiState =
            serde_json::from_slice(snapshot.wasi.as_deref().unwrap()).unwrap();
        pending += usize::from(wasi.pending_poll.is_some());
    }
    assert!(pending > 0, "no checkpoint fell into a sleep");
}

/// Requests from another thread at several moments of a compute-bound program.
#[test]
fn compute_checkpointed_from_another_thread() {
    let program = guest("compute");
    let program = Program {
        args: vec!["compute".into(), "2000".into(), "20".into()],
        ..program
    };
    let reference = run_interp(&program);
    let bytes = program.bytes();
    let mut taken = 0;
    for delay_ms in [0u64, 1, 3, 7, 15] {
        if let Checkpoint::Taken(run, _) = requested_after(&program, &bytes, delay_ms) {
            assert_eq!(run, reference, "checkpoint after {delay_ms} ms");
            taken += 1;
        }
    }
    assert!(taken > 0);
}

/// A handle that outlives its instance is harmless.
#[test]
fn handle_outliving_its_instance() {
    let program = guest("clocks");
    let world = World::new(&program);
    let module = fast_module(&program.bytes());
    let instance = FastInstance::new(&module, world.context(&program)).unwrap();
    let handle = instance.checkpoint_handle();
    drop(instance);
    handle.request();
    assert!(handle.is_requested());
}
