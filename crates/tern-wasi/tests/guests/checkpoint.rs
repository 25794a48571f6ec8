//! Blocking calls give way to the interrupt flag; the paused program is captured (Wasm
//! state from tern-interp, WASI state through JSON), rebuilt in a fresh store and context,
//! and finishes as if nothing had happened.

use super::programs::echo_roundtrip;
use super::support::*;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use tern_interp::{Linker, Outcome, PauseReason};
use tern_wasi::{DescriptorKind, InputPipe, OutputPipe, WasiCtxBuilder, WasiState, add_to_linker};

/// Sets `flag` after `delay`, from another thread.
fn interrupt_after(flag: Arc<AtomicBool>, delay: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        flag.store(true, Ordering::Relaxed);
    })
}

#[test]
fn sleep_checkpoint_rebuild_resume() {
    let dir = TempDir::new("checkpoint");
    std::fs::create_dir(dir.join("dir")).unwrap();
    for name in ["a", "b", "c"] {
        std::fs::write(dir.join("dir").join(name), name).unwrap();
    }
    let (config, module) = module(&guest("c/checkpoint.wasm"));

    // Phase 1: run until the sleep is interrupted.
    let out1 = OutputPipe::new();
    let ctx1 = WasiCtxBuilder::new()
        .args(["checkpoint", "1000"])
        .preopened_dir(dir.path(), "/data")
        .stdout_pipe(out1.clone())
        .build()
        .unwrap();
    let ctx1 = Arc::new(Mutex::new(ctx1));
    let (mut store1, instance) = instantiate(&config, &module, &ctx1);
    let started = Instant::now();
    let waker = interrupt_after(store1.interrupt_handle(), Duration::from_millis(300));
    let outcome = store1.invoke(instance, "_start", &[]).unwrap();
    waker.join().unwrap();
    assert_eq!(outcome, Outcome::Paused(PauseReason::HostInterrupted));
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "paused promptly"
    );
    assert_eq!(
        out1.contents_string(),
        "write before: 7\nfirst entry: a\nsleeping 1000 ms\n"
    );

    // Capture: the Wasm state stays in memory, the WASI state goes through JSON.
    let exec = store1.capture();
    let json = serde_json::to_string(&ctx1.lock().unwrap().state().unwrap()).unwrap();
    drop((store1, ctx1));
    let state: WasiState = serde_json::from_str(&json).unwrap();
    assert!(
        state.pending_poll.is_some(),
        "the sleep's deadline is saved"
    );
    let offsets: Vec<u64> = state
        .fds
        .values()
        .filter_map(|d| match &d.kind {
            DescriptorKind::File(f) => Some(f.offset),
            _ => None,
        })
        .collect();
    assert_eq!(offsets, [7]);
    assert!(state.monotonic_ns >= 300_000_000);

    // Phase 2: a fresh context and store; only the rest of the sleep is waited for.
    let out2 = OutputPipe::new();
    let ctx2 = WasiCtxBuilder::new()
        .preopened_dir(dir.path(), "/data")
        .stdout_pipe(out2.clone())
        .stdin_pipe(InputPipe::from_bytes("resumed\n"))
        .rebuild(&state)
        .unwrap();
    assert_eq!(ctx2.state().unwrap().fds, state.fds);
    let ctx2 = Arc::new(Mutex::new(ctx2));
    let mut store2 = tern_interp::Store::new(&config);
    ctx2.lock()
        .unwrap()
        .set_interrupt_flag(store2.interrupt_handle());
    let mut linker = Linker::new();
    add_to_linker(&mut linker, ctx2.clone());
    linker
        .instantiate_for_restore(&mut store2, &module)
        .unwrap();
    store2.restore(&exec).unwrap();
    let resumed = Instant::now();
    let status = status(store2.resume());
    let rest = resumed.elapsed();
    assert_eq!(status, Status::Exit(0));
    assert!(
        rest < Duration::from_millis(950),
        "re-issued sleep waits only for what remained, took {rest:?}"
    );
    assert_eq!(
        out2.contents_string(),
        "slept enough: 1\nwrite after: 6\noffset: 13\nlog: before\nafter\n\
         second entry: b\nthird entry: c\nfourth entry: (end)\nstdin: resumed\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("log.txt")).unwrap(),
        "before\nafter\n"
    );
}

#[test]
fn stdin_read_gives_way_and_loses_nothing() {
    let input = InputPipe::new();
    let out = OutputPipe::new();
    let ctx = WasiCtxBuilder::new()
        .args(["stdio.wasm", "x"])
        .env("GREETING", "hi")
        .stdin_pipe(input.clone())
        .stdout_pipe(out.clone())
        .build()
        .unwrap();
    let ctx = Arc::new(Mutex::new(ctx));
    let (config, module) = module(&guest("c/stdio.wasm"));
    let (mut store, instance) = instantiate(&config, &module, &ctx);
    input.push(b"first ");
    let waker = interrupt_after(store.interrupt_handle(), Duration::from_millis(100));
    let outcome = store.invoke(instance, "_start", &[]).unwrap();
    waker.join().unwrap();
    assert_eq!(outcome, Outcome::Paused(PauseReason::HostInterrupted));
    // Paused in the second read, which has taken nothing.
    input.push(b"second\n");
    input.close();
    assert_eq!(status(store.resume()), Status::Exit(7));
    let stdout = out.contents_string();
    assert!(
        stdout.contains("stdin 13 bytes: FIRST SECOND\n"),
        "{stdout}"
    );
}

#[test]
fn accept_gives_way_then_serves() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let out = OutputPipe::new();
    let ctx = WasiCtxBuilder::new()
        .args(["echo", "1"])
        .preopened_listener(listener)
        .stdout_pipe(out.clone())
        .build()
        .unwrap();
    let ctx = Arc::new(Mutex::new(ctx));
    let (config, module) = module(&guest("c/echo.wasm"));
    let (mut store, instance) = instantiate(&config, &module, &ctx);
    let waker = interrupt_after(store.interrupt_handle(), Duration::from_millis(100));
    let outcome = store.invoke(instance, "_start", &[]).unwrap();
    waker.join().unwrap();
    assert_eq!(outcome, Outcome::Paused(PauseReason::HostInterrupted));

    let (tx, rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let result = status(store.resume());
        tx.send(()).ok();
        result
    });
    assert_eq!(echo_roundtrip(addr, b"after the pause"), b"after the pause");
    rx.recv_timeout(Duration::from_secs(30))
        .expect("server exits");
    assert_eq!(server.join().unwrap(), Status::Exit(0));
    assert!(out.contents_string().contains("connection 0: 15 bytes"));
}
