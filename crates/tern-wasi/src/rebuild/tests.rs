//! State round trips: capture, serialize, rebuild, carry on.

use crate::abi::{clock, oflags, rights, whence};
use crate::testutil::{Guest, TempDir};
use crate::{DescriptorKind, InputPipe, SetupError, WasiCtx, WasiCtxBuilder, WasiExit, WasiState};
#[cfg(not(target_os = "wasi"))]
use std::io::{Read, Write};
#[cfg(not(target_os = "wasi"))]
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const RW: u64 = rights::FILE;
const DIR: u64 = rights::DIR | rights::FILE;

fn ctx_with(dir: &TempDir) -> WasiCtx {
    WasiCtxBuilder::new()
        .args(["prog", "arg"])
        .env("K", "V")
        .preopened_dir(dir.path(), "/data")
        .build()
        .unwrap()
}

fn through_json(state: &WasiState) -> WasiState {
    serde_json::from_str(&serde_json::to_string(state).unwrap()).unwrap()
}

#[test]
fn files_and_dirs_come_back_with_offsets() {
    let dir = TempDir::new("roundtrip");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let mut g = Guest::new(ctx_with(&dir));
    let file = g
        .open(3, "sub/a.txt", oflags::CREAT | oflags::TRUNC, RW)
        .unwrap();
    assert_eq!(g.write(file, b"hello world"), Ok(11));
    assert_eq!(g.seek(file, 4, whence::SET), Ok(4));
    let sub = g.open(3, "sub", oflags::DIRECTORY, DIR).unwrap();
    let inner = g
        .open(sub, "./a.txt", 0, rights::FD_READ | rights::FD_SEEK)
        .unwrap();
    assert_eq!(g.read(inner, 2), Ok(b"he".to_vec()));

    let state = through_json(&g.ctx.state().unwrap());
    assert_eq!(
        state,
        g.ctx.state().unwrap().clone_with_clock(state.monotonic_ns)
    );
    let DescriptorKind::File(f) = &state.fds[&file].kind else {
        panic!()
    };
    assert_eq!((f.location.path.as_str(), f.offset), ("sub/a.txt", 4));
    let DescriptorKind::File(f) = &state.fds[&inner].kind else {
        panic!()
    };
    assert_eq!((f.location.path.as_str(), f.offset), ("sub/a.txt", 2));
    drop(g);

    let mut g = Guest::new(WasiCtx::rebuild(&state, &[(dir.path(), "/data")]).unwrap());
    assert_eq!(g.ctx.state().unwrap().fds, state.fds);
    assert_eq!(
        (g.ctx.args.clone(), g.ctx.env.clone()),
        (state.args.clone(), state.env.clone())
    );
    assert_eq!(g.read(file, 100), Ok(b"o world".to_vec()));
    assert_eq!(g.read(inner, 3), Ok(b"llo".to_vec()));
    // The rebuilt directory descriptor still resolves paths.
    assert!(g.open(sub, "a.txt", 0, rights::FD_READ).is_ok());
    // Reopening never truncated or recreated anything.
    assert_eq!(
        std::fs::read(dir.path().join("sub/a.txt")).unwrap(),
        b"hello world"
    );
}

#[test]
fn preopens_can_move_to_another_host_dir() {
    let (old, new) = (TempDir::new("old"), TempDir::new("new"));
    std::fs::write(old.path().join("f"), "0123456789").unwrap();
    let mut g = Guest::new(ctx_with(&old));
    let fd = g.open(3, "f", 0, RW).unwrap();
    assert_eq!(g.read(fd, 3), Ok(b"012".to_vec()));
    let state = through_json(&g.ctx.state().unwrap());
    drop(g);
    // "Migrate": the data arrives in a different host directory.
    std::fs::copy(old.path().join("f"), new.path().join("f")).unwrap();
    std::fs::remove_file(old.path().join("f")).unwrap();
    let mut g = Guest::new(WasiCtx::rebuild(&state, &[(new.path(), "/data")]).unwrap());
    assert_eq!(g.read(fd, 3), Ok(b"345".to_vec()));
    assert_eq!(
        g.ctx.state().unwrap().preopens[0].host_path,
        new.path().display().to_string()
    );
}

#[test]
fn a_missing_file_is_an_error_naming_its_guest_path() {
    let dir = TempDir::new("missing");
    std::fs::create_dir(dir.path().join("x")).unwrap();
    let mut g = Guest::new(ctx_with(&dir));
    let fd = g.open(3, "x/y.txt", oflags::CREAT, RW).unwrap();
    let state = g.ctx.state().unwrap();
    drop(g);
    std::fs::remove_file(dir.path().join("x/y.txt")).unwrap();
    let err = WasiCtx::rebuild(&state, &[(dir.path(), "/data")]).unwrap_err();
    match &err {
        SetupError::Reopen {
            fd: bad,
            guest_path,
            ..
        } => {
            assert_eq!((*bad, guest_path.as_str()), (fd, "/data/x/y.txt"));
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains("/data/x/y.txt"), "{err}");

    let gone = TempDir::new("gone");
    let path = gone.path().to_path_buf();
    drop(gone);
    let err = WasiCtx::rebuild(&state, &[(path.as_path(), "/data")]).unwrap_err();
    assert!(matches!(err, SetupError::Preopen { .. }), "{err}");
}

#[test]
fn renames_are_followed_by_open_descriptors() {
    let dir = TempDir::new("rename");
    let mut g = Guest::new(ctx_with(&dir));
    std::fs::create_dir(dir.path().join("d")).unwrap();
    let fd = g.open(3, "d/old.txt", oflags::CREAT, RW).unwrap();
    assert_eq!(g.write(fd, b"data"), Ok(4));
    assert_eq!(g.rename(3, "d", "e"), 0);
    let state = g.ctx.state().unwrap();
    let DescriptorKind::File(f) = &state.fds[&fd].kind else {
        panic!()
    };
    assert_eq!(f.location.path, "e/old.txt");
    drop(g);
    let mut g = Guest::new(WasiCtx::rebuild(&state, &[(dir.path(), "/data")]).unwrap());
    assert_eq!(g.seek(fd, 0, whence::SET), Ok(0));
    assert_eq!(g.read(fd, 10), Ok(b"data".to_vec()));
}

#[test]
fn monotonic_clock_continues_from_the_saved_reading() {
    let dir = TempDir::new("clock");
    let mut g = Guest::new(ctx_with(&dir));
    let before = g.clock(clock::MONOTONIC);
    let mut state = g.ctx.state().unwrap();
    assert!(state.monotonic_ns >= before);
    // As if the program had been running for a day on the old host.
    state.monotonic_ns += 86_400 * 1_000_000_000;
    let mut g = Guest::new(WasiCtx::rebuild(&state, &[(dir.path(), "/data")]).unwrap());
    let after = g.clock(clock::MONOTONIC);
    assert!(
        after >= state.monotonic_ns,
        "{after} < {}",
        state.monotonic_ns
    );
    assert!(after - state.monotonic_ns < 1_000_000_000);
}

#[test]
fn an_interrupted_sleep_resumes_with_its_deadline() {
    let dir = TempDir::new("sleep");
    let mut g = Guest::new(ctx_with(&dir));
    let flag = g.ctx.interrupt_flag();
    flag.store(true, Ordering::Relaxed);
    assert_eq!(g.sleep(400_000_000), Err(WasiExit::Interrupted));
    flag.store(false, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(200));
    let state = through_json(&g.ctx.state().unwrap());
    let pending = state.pending_poll.clone().expect("deadline recorded");
    assert_eq!(pending.deadlines.len(), 1);
    drop(g);

    let mut g = Guest::new(WasiCtx::rebuild(&state, &[(dir.path(), "/data")]).unwrap());
    let start = Instant::now();
    assert_eq!(g.sleep(400_000_000), Ok(0));
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_millis(390),
        "waited {waited:?} for the remaining ~200 ms"
    );
    assert!(g.ctx.state().unwrap().pending_poll.is_none());
    // A different sleep is a new call with a deadline of its own.
    let start = Instant::now();
    assert_eq!(g.sleep(30_000_000), Ok(0));
    assert!(start.elapsed() >= Duration::from_millis(30));
}

#[test]
fn interrupted_stdin_read_takes_nothing() {
    let input = InputPipe::new();
    let mut g = Guest::new(
        WasiCtxBuilder::new()
            .stdin_pipe(input.clone())
            .build()
            .unwrap(),
    );
    g.ctx.interrupt_flag().store(true, Ordering::Relaxed);
    g.set_iovec(10);
    assert_eq!(
        g.call("fd_read", &[0, 16, 1, 0]).map(|_| ()),
        Err(WasiExit::Interrupted)
    );
    // Data that is there is read even with the flag set: no wait, no reason to stop.
    input.push(b"abc");
    assert_eq!(g.read(0, 10), Ok(b"abc".to_vec()));
    input.close();
    assert_eq!(g.read(0, 10), Ok(Vec::new()));
}

// Binding sockets is not possible inside a WASI host.
#[cfg(not(target_os = "wasi"))]
#[test]
fn listeners_rebind_and_connections_come_back_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let out = crate::OutputPipe::new();
    let mut g = Guest::new(
        WasiCtxBuilder::new()
            .preopened_listener(listener)
            .stdout_pipe(out)
            .build()
            .unwrap(),
    );
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(b"ping").unwrap();
    assert_eq!(g.errno("sock_accept", &[3, 0, 0]), 0);
    let conn = u32::from_le_bytes(g.mem[0..4].try_into().unwrap());
    assert_eq!(g.read(conn, 4), Ok(b"ping".to_vec()));
    let state = through_json(&g.ctx.state().unwrap());
    let DescriptorKind::Socket(s) = &state.fds[&conn].kind else {
        panic!()
    };
    assert!(s.connected);
    assert_eq!(s.peer_addr, Some(client.local_addr().unwrap().to_string()));
    drop(g);
    // The old connection is gone for the client too.
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(client.read(&mut [0; 8]).unwrap(), 0);

    let mut g = Guest::new(WasiCtx::rebuild(&state, &[] as &[(&str, &str)]).unwrap());
    let DescriptorKind::Socket(s) = &g.ctx.state().unwrap().fds[&conn].kind else {
        panic!()
    };
    assert!(!s.connected);
    assert_eq!(g.read(conn, 4), Ok(Vec::new()), "end of stream");
    assert_eq!(g.write(conn, b"x"), Err(crate::Errno::PIPE.0.into()));
    // The listener is bound to the same address again and serves new clients.
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(b"again").unwrap();
    assert_eq!(g.errno("sock_accept", &[3, 0, 0]), 0);
    let conn2 = u32::from_le_bytes(g.mem[0..4].try_into().unwrap());
    assert_ne!(conn2, conn);
    assert_eq!(g.read(conn2, 5), Ok(b"again".to_vec()));
}

impl WasiState {
    /// The same state with another clock reading (two captures differ only there).
    fn clone_with_clock(&self, monotonic_ns: u64) -> WasiState {
        WasiState {
            monotonic_ns,
            ..self.clone()
        }
    }
}

#[cfg(not(target_os = "wasi"))]
#[test]
fn directories_come_before_listeners() {
    let dir = TempDir::new("order");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ctx = WasiCtxBuilder::new()
        .preopened_listener(listener)
        .preopened_dir(dir.path(), "/data")
        .build()
        .unwrap();
    let state = ctx.state().unwrap();
    assert!(matches!(state.fds[&3].kind, DescriptorKind::Dir(_)));
    assert!(matches!(state.fds[&4].kind, DescriptorKind::Socket(_)));
    let mut g = Guest::new(ctx);
    // wasi-libc stops its preopen scan at the listener: EBADF, not an error that aborts.
    assert_eq!(g.errno("fd_prestat_get", &[3, 0]), 0);
    assert_eq!(
        g.errno("fd_prestat_get", &[4, 0]),
        u32::from(crate::Errno::BADF.0)
    );
}
