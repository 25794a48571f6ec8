//! Checkpoint with `tern run`, continue with `tern restore` in a new process: the
//! output, files and exit status must be those of an uninterrupted run.

use crate::util::{TempDir, stderr, stdout, tern};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PRIMES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/primes.wasm");
const GUEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/guests/c/checkpoint.wasm"
);
const CHECKPOINTED: i32 = 75;

#[test]
fn checkpoint_restore_and_checkpoint_again_give_the_uninterrupted_output() {
    let dir = TempDir::new("ckpt-primes");
    let straight = stdout(&tern(&["run", PRIMES, "20000"]));
    for (first, second) in [
        (1_000u64, 3_000_000u64),
        (3_000_000, 1),
        (4_444_444, 777_777),
    ] {
        let snap = dir.0.join(format!("p{first}.tern")).display().to_string();
        let trigger = format!("instructions:{first}");
        let out = tern(&[
            "run",
            "--checkpoint-on",
            &trigger,
            "--snapshot",
            &snap,
            PRIMES,
            "20000",
        ]);
        assert_eq!(out.status.code(), Some(CHECKPOINTED), "{}", stderr(&out));
        let mut seen = stdout(&out);
        // The restored run is checkpointed once more, then finished.
        let trigger = format!("instructions:{second}");
        let out = tern(&[
            "restore",
            &snap,
            "--module",
            PRIMES,
            "--checkpoint-on",
            &trigger,
        ]);
        assert_eq!(out.status.code(), Some(CHECKPOINTED), "{}", stderr(&out));
        seen += &stdout(&out);
        let out = tern(&["restore", &snap, "--module", PRIMES]);
        assert!(out.status.success(), "{}", stderr(&out));
        seen += &stdout(&out);
        assert_eq!(seen, straight, "checkpoint after {first}, then {second}");
    }
}

fn data_dir(root: &Path) -> String {
    let data = root.join("data");
    std::fs::create_dir_all(data.join("dir")).unwrap();
    for name in ["a", "b", "c"] {
        std::fs::write(data.join("dir").join(name), name).unwrap();
    }
    data.display().to_string()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs the sleeping guest and drops a trigger file while it sleeps.
fn checkpoint_while_sleeping(dir: &TempDir, data: &str, snap: &str) -> String {
    let trigger = dir.0.join("checkpoint-now");
    let child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args([
            "run",
            "--dir",
            &format!("{data}::/data"),
            "--snapshot",
            snap,
        ])
        .args([
            "--checkpoint-on",
            &format!("file:{}", trigger.display()),
            GUEST,
            "3000",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&trigger, "").unwrap();
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the sleep was interrupted"
    );
    assert_eq!(out.status.code(), Some(CHECKPOINTED), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_sleeping_program_moves_to_another_directory_tree() {
    let dir = TempDir::new("ckpt-guest");
    let data = data_dir(&dir.0);
    let snap = dir.0.join("guest.tern").display().to_string();
    let before = checkpoint_while_sleeping(&dir, &data, &snap);
    assert!(before.ends_with("sleeping 3000 ms\n"), "{before}");

    // Continue from a copy of the files elsewhere, as on another machine.
    let moved = dir.0.join("elsewhere");
    copy_tree(Path::new(&data), &moved);
    let map = format!("{}::/data", moved.display());
    let out = tern(&["restore", &snap, "--module", GUEST, "--dir", &map]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = stdout(&out);
    assert!(
        after.starts_with("slept enough: 1\nwrite after: 6\noffset: 13\n"),
        "{after}"
    );
    assert!(
        after.contains("second entry: b\nthird entry: c\nfourth entry: (end)\n"),
        "{after}"
    );
    let log = std::fs::read_to_string(moved.join("log.txt")).unwrap();
    assert_eq!(log, "before\nafter\n");
}

#[test]
fn restore_refuses_bad_snapshots_with_one_clear_line() {
    let dir = TempDir::new("ckpt-errors");
    let data = data_dir(&dir.0);
    let snap = dir.0.join("guest.tern").display().to_string();
    checkpoint_while_sleeping(&dir, &data, &snap);
    let map = format!("{data}::/data");

    let check = |args: &[&str], expect: &str| {
        let out = tern(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(expect), "expected `{expect}` in: {err}");
    };
    check(
        &["restore", &snap, "--module", PRIMES, "--dir", &map],
        "does not belong",
    );

    let bytes = std::fs::read(&snap).unwrap();
    let cut = dir.file("cut.tern", &bytes[..bytes.len() / 2]);
    check(
        &["restore", &cut, "--module", GUEST, "--dir", &map],
        "cut.tern",
    );
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 3] ^= 0x10;
    let flipped = dir.file("flipped.tern", &flipped);
    check(
        &["restore", &flipped, "--module", GUEST, "--dir", &map],
        "flipped.tern",
    );
    let other = dir.file("other.tern", b"not a snapshot at all");
    check(
        &["restore", &other, "--module", GUEST],
        "not a tern snapshot",
    );

    std::fs::remove_file(Path::new(&data).join("log.txt")).unwrap();
    check(
        &["restore", &snap, "--module", GUEST, "--dir", &map],
        "/data/log.txt",
    );
}

#[test]
fn call_trigger_pauses_in_front_of_the_nth_call_and_can_repeat() {
    let dir = TempDir::new("ckpt-call");
    let module = dir.file(
        "fib.wat",
        r#"(module (func $fib (export "fib") (param i64) (result i64)
             (if (result i64) (i64.lt_u (local.get 0) (i64.const 2))
               (then (local.get 0))
               (else (i64.add (call $fib (i64.sub (local.get 0) (i64.const 1)))
                              (call $fib (i64.sub (local.get 0) (i64.const 2))))))))"#,
    );
    let snap = dir.0.join("fib.tern").display().to_string();
    // The interpreter pauses in front of the call (the fast engine at the callee's entry).
    let out = tern(&[
        "run",
        "--engine",
        "interp",
        "--checkpoint-on",
        "call:fib:1000",
        "--snapshot",
        &snap,
        "--invoke",
        "fib",
        &module,
        "20",
    ]);
    assert_eq!(out.status.code(), Some(CHECKPOINTED), "{}", stderr(&out));
    let inspect = stdout(&tern(&["inspect", &snap]));
    assert!(inspect.contains("trigger: call"), "{inspect}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&tern(&["inspect", "--json", &snap]))).unwrap();
    assert_eq!(json["trigger"]["kind"], "call");
    // Paused in front of the 1000th call: the innermost frame waits at a `call`
    // with its argument on the stack.
    let frames = json["frames"].as_array().unwrap();
    assert!(frames.len() > 1 && frames.len() <= 21, "{}", frames.len());
    assert_eq!(
        frames[0]["stack"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .split(' ')
            .next(),
        Some("i64")
    );
    let sizes = &json["sizes"];
    let parts = [
        "header", "module", "trigger", "state", "memory", "wasi", "unknown", "end",
    ];
    let sum: u64 = parts.iter().map(|p| sizes[p].as_u64().unwrap()).sum();
    assert_eq!(sum, sizes["total"].as_u64().unwrap());
    // By index, every 5000th call, from the restored run: several more snapshots.
    let snaps = TempDir::new("ckpt-call-dir");
    let snap_dir = snaps.0.display().to_string();
    let out = tern(&[
        "restore",
        &snap,
        "--module",
        &module,
        "--checkpoint-on",
        "call:0:5000",
        "--leave-running",
        "--snapshot",
        &snap_dir,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "6765\n");
    let written = std::fs::read_dir(&snaps.0).unwrap().count();
    assert_eq!(written, (21891 - 1000) / 5000, "fib(20) makes 21891 calls");
}

#[test]
fn instruction_counts_continue_across_a_restore() {
    let dir = TempDir::new("ckpt-count");
    let first = dir.0.join("first.tern").display().to_string();
    let second = dir.0.join("second.tern").display().to_string();
    let counted = |snap: &str| {
        let json: serde_json::Value =
            serde_json::from_str(&stdout(&tern(&["inspect", "--json", snap]))).unwrap();
        json["trigger"]["instructions"].as_u64()
    };
    let out = tern(&[
        "run",
        "--checkpoint-on",
        "instructions:1000",
        "--snapshot",
        &first,
        PRIMES,
        "20000",
    ]);
    assert_eq!(out.status.code(), Some(CHECKPOINTED), "{}", stderr(&out));
    assert_eq!(counted(&first), Some(1000));
    // On a restored run N counts the instructions of that run; the snapshot records the
    // total since the program started.
    let out = tern(&[
        "restore",
        &first,
        "--module",
        PRIMES,
        "--checkpoint-on",
        "instructions:2500",
        "--snapshot",
        &second,
    ]);
    assert_eq!(out.status.code(), Some(CHECKPOINTED), "{}", stderr(&out));
    assert_eq!(counted(&second), Some(3500));
    let out = tern(&[
        "restore",
        &second,
        "--module",
        PRIMES,
        "--checkpoint-on",
        "instructions:500",
        "--snapshot",
        &first,
    ]);
    assert_eq!(out.status.code(), Some(CHECKPOINTED), "{}", stderr(&out));
    assert_eq!(counted(&first), Some(4000));
}
