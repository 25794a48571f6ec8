//! One test per guest program: exact output (the `.stdout` file next to the guest), exit
//! status, files left behind, and the same program under wasmtime when it is installed.

use super::support::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// Checks `actual` against the expected output stored at `rel`. With `TERN_BLESS=1` the
/// file is rewritten instead (review the diff before committing it).
fn assert_output(rel: &str, actual: &str) {
    let path = guest(rel);
    if std::env::var_os("TERN_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

/// Asserts that wasmtime prints what tern prints, apart from tern-only (`~`) lines.
fn assert_same_as_wasmtime(tern_stdout: &str, reference: Option<Reference>, code: i32) {
    if let Some(reference) = reference {
        assert_eq!(
            portable(&reference.stdout),
            portable(tern_stdout),
            "tern and wasmtime differ"
        );
        assert_eq!(reference.code, code, "wasmtime's exit status");
    }
}

#[test]
fn fs_guest_uses_every_file_call() {
    let dir = TempDir::new("fs");
    let run = run(&guest("c/fs.wasm"), |b| {
        b.arg("fs").preopened_dir(dir.path(), "/sandbox");
    });
    assert_eq!(run.status, Status::Exit(0), "stderr: {}", run.stderr);
    assert_output("c/fs.stdout", &run.stdout);
    // Everything but kept.txt was cleaned up by the guest itself.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["kept.txt"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("kept.txt")).unwrap(),
        "kept\n"
    );

    let other = TempDir::new("fs-wasmtime");
    let reference = run_wasmtime(
        &guest("c/fs.wasm"),
        &[],
        &[],
        &[(other.path(), "/sandbox")],
        "",
    );
    assert_same_as_wasmtime(&run.stdout, reference, 0);
}

/// `root/sandbox` (preopened) holds inside.txt and sub/; `root/outside.txt` must stay out
/// of reach.
fn sandbox_tree(tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    std::fs::create_dir_all(dir.join("sandbox/sub")).unwrap();
    std::fs::write(dir.join("sandbox/inside.txt"), "in\n").unwrap();
    std::fs::write(dir.join("outside.txt"), "out\n").unwrap();
    dir
}

fn tree_listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn sandbox_guest_escapes_bad_fds_bad_pointers() {
    let dir = sandbox_tree("sandbox");
    let run = run(&guest("c/sandbox.wasm"), |b| {
        b.args(["sandbox", "faults"])
            .preopened_dir(dir.join("sandbox"), "/sandbox");
    });
    assert_eq!(run.status, Status::Exit(0), "stderr: {}", run.stderr);
    assert_output("c/sandbox.stdout", &run.stdout);
    // Nothing outside was touched, nothing was left behind inside.
    assert_eq!(
        tree_listing(dir.path()),
        [
            "outside.txt",
            "sandbox",
            "sandbox/inside.txt",
            "sandbox/sub"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("outside.txt")).unwrap(),
        "out\n"
    );

    // wasmtime traps on the fault section, so it runs the rest only.
    let other = sandbox_tree("sandbox-wasmtime");
    let reference = run_wasmtime(
        &guest("c/sandbox.wasm"),
        &[],
        &[],
        &[(&other.join("sandbox"), "/sandbox")],
        "",
    );
    let before_faults = run.stdout.split("~fd_write bad iovec").next().unwrap();
    assert_same_as_wasmtime(&format!("{before_faults}done\n"), reference, 0);
}

#[test]
fn stdio_guest_args_env_stdin_clocks_random_sleep() {
    let run = run(&guest("c/stdio.wasm"), |b| {
        b.args(["stdio.wasm", "first", "second arg"])
            .env("GREETING", "hello")
            .stdin_pipe(stdin("some input\nline two\n"));
    });
    assert_eq!(run.status, Status::Exit(7));
    assert_output("c/stdio.stdout", &run.stdout);
    assert_eq!(run.stderr, "to stderr\n");
    let reference = run_wasmtime(
        &guest("c/stdio.wasm"),
        &["first", "second arg"],
        &[("GREETING", "hello")],
        &[],
        "some input\nline two\n",
    );
    assert_same_as_wasmtime(&run.stdout, reference, 7);
}

#[test]
fn rust_std_guest() {
    let dir = TempDir::new("rust");
    let run = run(&guest("rust/std_guest.wasm"), |b| {
        b.args(["std_guest", "a", "b"])
            .env("MODE", "test")
            .preopened_dir(dir.path(), "/data")
            .stdin_pipe(stdin("one two three\n"));
    });
    assert_eq!(run.status, Status::Exit(3), "stderr: {}", run.stderr);
    assert_output("rust/std_guest.stdout", &run.stdout);
    assert_eq!(run.stderr, "bye from stderr\n");
    assert!(tree_listing(dir.path()).is_empty());

    let other = TempDir::new("rust-wasmtime");
    let reference = run_wasmtime(
        &guest("rust/std_guest.wasm"),
        &["a", "b"],
        &[("MODE", "test")],
        &[(other.path(), "/data")],
        "one two three\n",
    );
    assert_same_as_wasmtime(&run.stdout, reference, 3);
}

#[test]
fn proc_raise_traps() {
    let run = run(&guest("c/raise.wasm"), |b| {
        b.arg("raise");
    });
    assert_eq!(run.stdout, "raise 0: 0\nraise 99: 28\nraising SIGABRT\n");
    match run.status {
        Status::Trap(message) => assert!(message.contains("SIGABRT"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// Connects, sends `payload`, half-closes and reads the echo, all with timeouts.
pub fn echo_roundtrip(addr: std::net::SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(payload).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    back
}

#[test]
fn echo_server_on_preopened_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let run = run(&guest("c/echo.wasm"), |b| {
            b.args(["echo", "3"]).preopened_listener(listener);
        });
        done_tx.send(()).ok();
        run
    });
    for i in 0..3usize {
        // Sizes past one socket buffer, so the guest's send loop is exercised too.
        let payload: Vec<u8> = (0..(1000 + i * 150_000)).map(|n| (n % 251) as u8).collect();
        assert_eq!(echo_roundtrip(addr, &payload), payload, "connection {i}");
    }
    done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("echo server exits after three connections");
    let run = server.join().unwrap();
    assert_eq!(run.status, Status::Exit(0), "stdout: {}", run.stdout);
    assert_eq!(
        run.stdout,
        "echo server: 3 connection(s)\n\
         connection 0: 1000 bytes, shutdown 0, close 0\n\
         connection 1: 151000 bytes, shutdown 0, close 0\n\
         connection 2: 301000 bytes, shutdown 0, close 0\n\
         accept on a connection-less fd 1: 57\n"
    );
}
