//! Restore on the fast tier: snapshots taken on tern-fast or on tern-interp, written to a
//! file, read back and resumed on tern-fast through continuation clones — also
//! checkpointed again while the clones run and restored once more. Every run must look
//! like an uninterrupted one (stdout, stderr, exit status, files).

use crate::guests::programs;
use crate::support::*;
use std::sync::{Arc, Mutex};
use tern_fast::{FastInstance, Outcome, RunError};
use tern_snapshot::{ModuleIdentity, Snapshot, TriggerInfo, Value, trigger_kind};
use tern_wasi::{WasiCtxBuilder, WasiState};

/// Writes `snapshot` into a file, reads it back and restores it on tern-fast with the
/// WASI state rebuilt on `builder`'s stdio and preopens (as `tern restore` does).
pub fn restore_on_fast(
    bytes: &[u8],
    snapshot: &Snapshot,
    builder: WasiCtxBuilder,
) -> Result<FastInstance, tern_fast::Error> {
    let scratch = TempDir::new("fastsnap");
    let (read, wasi) = through_file(snapshot, scratch.path(), builder);
    FastInstance::restore(&fast_module(bytes), &read, Arc::new(Mutex::new(wasi)))
}

fn capture(instance: &mut FastInstance) -> Option<Snapshot> {
    match instance.capture(TriggerInfo::now(trigger_kind::MANUAL, "test")) {
        Ok(snapshot) => Some(snapshot),
        // The interpreter refuses the same states (a file unlinked while open).
        Err(e) if e.to_string().contains("unlinked") => None,
        Err(e) => panic!("capture failed: {e}"),
    }
}

/// How a run that may be checkpointed again went.
enum Again {
    Ended,
    Refused,
    Finished(Run, usize),
}

/// Runs `program` on tern-fast, checkpoints it after WASI call `k`, and restores it on
/// tern-fast; then, for each `j` of `again`, checkpoints the restored run after `j` more
/// WASI calls and restores that too. Returns the whole run and how many restores it took.
fn fast_chain(program: &Program, bytes: &[u8], k: u64, again: &[u64]) -> Again {
    let world = World::new(program);
    let module = fast_module(bytes);
    let mut instance = FastInstance::new(&module, world.context(program)).expect("instantiates");
    instance.checkpoint_after_wasi_calls(k);
    let mut outcome = instance.invoke("_start", &[]);
    if !matches!(outcome, Ok(Outcome::Unwound)) {
        return Again::Ended;
    }
    let mut restores = 0;
    let mut pending = again.iter();
    while let Ok(Outcome::Unwound) = outcome {
        let Some(snapshot) = capture(&mut instance) else {
            return Again::Refused;
        };
        drop(instance);
        instance = restore_on_fast(bytes, &snapshot, world.builder(program))
            .unwrap_or_else(|e| panic!("{}: restore: {e}", program.wasm.display()));
        restores += 1;
        if let Some(&j) = pending.next() {
            instance.checkpoint_after_wasi_calls(j);
        }
        outcome = instance.resume();
        assert!(instance.restore_timing().is_some(), "a clone ran");
    }
    let status = fast_status(outcome);
    drop(instance);
    Again::Finished(world.finish(status), restores)
}

/// fast → snapshot file → fast, after WASI call k = 1, 2, 3, 5, 8, … of every guest.
#[test]
fn wasi_guests_checkpointed_on_fast_restore_on_fast() {
    for (name, program) in programs() {
        let reference = run_interp(&program);
        let bytes = program.bytes();
        let (mut k, mut next) = (1u64, 2u64);
        let mut taken = 0;
        loop {
            match fast_chain(&program, &bytes, k, &[]) {
                Again::Ended => break,
                Again::Refused => {}
                Again::Finished(run, _) => {
                    assert_eq!(run, reference, "{name}: checkpoint after WASI call {k}");
                    taken += 1;
                }
            }
            (k, next) = (next, k + next);
        }
        eprintln!("{name}: {taken} restores on tern-fast, up to WASI call {k}");
        assert!(taken > 0 || name == "raise", "{name}: nothing restored");
    }
}

/// fast → fast → checkpoint again during the resumed run → fast (→ again): the frames
/// reported by clones carry original pcs and restore like any others.
#[test]
fn restored_runs_checkpointed_again_restore_again() {
    for (name, program) in programs() {
        let reference = run_interp(&program);
        let bytes = program.bytes();
        let mut chained = 0;
        for (k, again) in [
            (1u64, &[1u64][..]),
            (2, &[3, 1]),
            (5, &[2, 2, 2]),
            (13, &[8]),
        ] {
            match fast_chain(&program, &bytes, k, again) {
                Again::Ended | Again::Refused => {}
                Again::Finished(run, restores) => {
                    assert_eq!(
                        run, reference,
                        "{name}: checkpoint after WASI call {k}, then {again:?}"
                    );
                    chained += usize::from(restores > 1);
                }
            }
        }
        eprintln!("{name}: {chained} runs restored on tern-fast more than once");
        assert!(
            chained > 0 || name == "raise",
            "{name}: never restored twice"
        );
    }
}

/// Pauses `program` on tern-interp after exactly `n` instructions and captures it there.
fn interp_snapshot(program: &Program, world: &World, bytes: &[u8], n: u64) -> Option<Snapshot> {
    let config = tern_interp::Config::default();
    let module = tern_interp::Module::new(&config, bytes).expect("module compiles");
    let mut store = tern_interp::Store::new(&config);
    let ctx = world.context(program);
    ctx.lock()
        .unwrap()
        .set_interrupt_flag(store.interrupt_handle());
    let mut linker = tern_interp::Linker::new();
    tern_wasi::add_to_linker(&mut linker, ctx.clone());
    let instance = linker
        .instantiate(&mut store, &module)
        .expect("instantiates");
    store.set_instruction_budget(Some(n));
    match store.invoke(instance, "_start", &[]) {
        Ok(tern_interp::Outcome::Paused(_)) => {}
        _ => return None,
    }
    let wasi = ctx.lock().unwrap().state().ok()?;
    Some(Snapshot {
        module: ModuleIdentity::of(bytes),
        trigger: TriggerInfo::now(trigger_kind::INSTRUCTIONS, n.to_string()),
        state: store.capture(),
        wasi: Some(serde_json::to_vec(&wasi).unwrap()),
    })
}

/// interp → snapshot file → fast, at seeded instruction counts (growing by about ×3 with
/// a pseudo-random offset, until the program ends first).
#[test]
fn wasi_guests_paused_on_interp_restore_on_fast() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for (name, program) in programs() {
        let reference = run_interp(&program);
        let bytes = program.bytes();
        let mut base = 500u64;
        let mut taken = 0;
        loop {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = base + seed % base;
            let world = World::new(&program);
            let Some(snapshot) = interp_snapshot(&program, &world, &bytes, n) else {
                break;
            };
            let mut instance = restore_on_fast(&bytes, &snapshot, world.builder(&program))
                .unwrap_or_else(|e| panic!("{name}: restore after {n} instructions: {e}"));
            let status = fast_status(instance.resume());
            drop(instance);
            assert_eq!(
                world.finish(status),
                reference,
                "{name}: paused on tern-interp after {n} instructions"
            );
            taken += 1;
            base *= 3;
        }
        eprintln!("{name}: {taken} interp snapshots restored on tern-fast");
        assert!(taken > 0, "{name}: nothing restored");
    }
}

/// A sleep interrupted from another thread gives way, is saved on the call and issued
/// again by the restored program on tern-fast.
#[test]
fn a_sleep_gives_way_and_is_issued_again_on_fast() {
    let program = Program::new("ckpt/sleeps.wasm", &["sleeps", "4", "100"]);
    let reference = run_interp(&program);
    let bytes = program.bytes();
    let mut pending = 0;
    for delay_ms in [50u64, 170, 260] {
        let world = World::new(&program);
        let module = fast_module(&bytes);
        let mut instance = FastInstance::new(&module, world.context(&program)).unwrap();
        let waker = request_after(&instance, delay_ms);
        let outcome = instance.invoke("_start", &[]);
        waker.join().unwrap();
        assert!(
            matches!(outcome, Ok(Outcome::Unwound)),
            "after {delay_ms} ms"
        );
        let snapshot = capture(&mut instance).unwrap();
        drop(instance);
        let wasi: WasiState = serde_json::from_slice(snapshot.wasi.as_deref().unwrap()).unwrap();
        pending += usize::from(wasi.pending_poll.is_some());
        let mut restored = restore_on_fast(&bytes, &snapshot, world.builder(&program)).unwrap();
        let status = fast_status(restored.resume());
        drop(restored);
        assert_eq!(world.finish(status), reference, "after {delay_ms} ms");
    }
    assert!(pending > 0, "no checkpoint fell into a sleep");
}

/// A snapshot of the `compute` guest after its second WASI call.
fn compute_snapshot() -> (Program, Vec<u8>, Snapshot) {
    let program = Program::new("ckpt/compute.wasm", &["compute", "200", "6"]);
    let bytes = program.bytes();
    let world = World::new(&program);
    let mut instance = FastInstance::new(&fast_module(&bytes), world.context(&program)).unwrap();
    instance.checkpoint_after_wasi_calls(2);
    assert!(matches!(
        instance.invoke("_start", &[]),
        Ok(Outcome::Unwound)
    ));
    let snapshot = capture(&mut instance).unwrap();
    (program, bytes, snapshot)
}

fn restore_error(bytes: &[u8], snapshot: &Snapshot) -> String {
    let wasi = Arc::new(Mutex::new(WasiCtxBuilder::new().build().unwrap()));
    match FastInstance::restore(&fast_module(bytes), snapshot, wasi) {
        Ok(_) => panic!("a broken snapshot was restored"),
        Err(e) => e.to_string(),
    }
}

/// Forged frames, states that do not fit and snapshots of another module are one-line
/// errors before anything runs.
#[test]
fn forged_snapshots_are_refused() {
    let (_, bytes, snapshot) = compute_snapshot();
    let top = snapshot.state.frames.len() - 1;
    let mut cases: Vec<(&str, Snapshot)> = Vec::new();
    let mut s = snapshot.clone();
    s.state.frames[top].pc += 1;
    cases.push(("pc off an instruction", s));
    let mut s = snapshot.clone();
    s.state.frames[top].pc = u32::MAX;
    cases.push(("pc past the end", s));
    let mut s = snapshot.clone();
    s.state.frames[top].func = 100_000;
    cases.push(("unknown function", s));
    let mut s = snapshot.clone();
    s.state.frames[top].locals.push(Value::I64(1));
    cases.push(("one local too many", s));
    let mut s = snapshot.clone();
    if let Some(v) = s.state.frames[0].locals.first_mut() {
        *v = match *v {
            Value::I32(_) => Value::F64(0),
            _ => Value::I32(0),
        };
        cases.push(("a local of the wrong type", s));
    }
    let mut s = snapshot.clone();
    if top > 0 {
        s.state.frames.swap(0, top);
        cases.push(("frames in the wrong order", s));
    } else {
        // The check after the WASI call polls: one frame, at no call. Below itself it
        // waits on no call.
        s.state.frames.insert(0, s.state.frames[0].clone());
        cases.push(("a frame below that waits on no call", s));
    }
    let mut s = snapshot.clone();
    s.state.frames.clear();
    cases.push(("no frames", s));
    let mut s = snapshot.clone();
    s.state.globals.push(Value::I32(0));
    cases.push(("a global too many", s));
    let mut s = snapshot.clone();
    s.state.memories[0].pages = u32::MAX;
    cases.push(("a memory too large", s));
    let mut s = snapshot.clone();
    s.state.instances[0].dropped_data.push(10_000);
    cases.push(("a data segment the module does not have", s));
    for (what, forged) in cases {
        let message = restore_error(&bytes, &forged);
        assert!(message.starts_with("cannot restore: "), "{what}: {message}");
        assert!(!message.contains('\n'), "{what}: {message}");
        eprintln!("{what}: {message}");
    }
    let other = Program::new("ckpt/files.wasm", &["files"]).bytes();
    let message = restore_error(&other, &snapshot);
    assert_eq!(
        message,
        "cannot restore: the snapshot was taken of a different module"
    );
}

/// A restored instance runs nothing before `resume`, refuses `invoke` until then and
/// cannot be resumed twice.
#[test]
fn a_restored_instance_is_resumed_once() {
    let (program, bytes, snapshot) = compute_snapshot();
    let world = World::new(&program);
    let mut instance = restore_on_fast(&bytes, &snapshot, world.builder(&program)).unwrap();
    assert!(matches!(
        instance.invoke("_start", &[]),
        Err(RunError::Fatal(_))
    ));
    let status = fast_status(instance.resume());
    drop(instance);
    assert_eq!(world.finish(status), run_interp(&program));
}

#[test]
fn a_finished_restore_cannot_be_resumed_twice() {
    let (program, bytes, snapshot) = compute_snapshot();
    let world = World::new(&program);
    let mut instance = restore_on_fast(&bytes, &snapshot, world.builder(&program)).unwrap();
    let _ = instance.resume();
    assert!(matches!(instance.resume(), Err(RunError::Fatal(_))));
}
