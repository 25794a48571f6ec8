//! Files a program holds open across a checkpoint, through the `tern` binary: a file that
//! changed before the restore stops the restore, a file unlinked while open stops the
//! checkpoint, both with one line naming the descriptor and its paths.
//!
//! The guest is `tests/guests/ckpt/holdfile.c`: it asks for its own checkpoint at a fixed
//! point (it creates `checkpoint-now` in `/data` and then blocks reading stdin, which the
//! first run keeps open and empty), so there is no timing in these tests.

use crate::util::{TempDir, stderr, stdout, tern};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const GUEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/guests/ckpt/holdfile.wasm"
);
const CHECKPOINTED: i32 = 75;
/// How long the checkpointed run may take before the test kills it and fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// `tern run` of the guest in `mode` with `/data` at `data`, checkpointing when the guest
/// asks, into `snapshot`. Stdin is an empty pipe held open until tern exits.
fn run_until_checkpoint(data: &Path, mode: &str, snapshot: &Path, extra: &[&str]) -> Output {
    let trigger = format!("file:{}", data.join("checkpoint-now").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("run")
        .arg("--dir")
        .arg(format!("{}::/data", data.display()))
        .args(["--checkpoint-on", &trigger, "--snapshot"])
        .arg(snapshot)
        .args(extra)
        .args([GUEST, mode])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tern starts");
    let stdin = child.stdin.take();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = out.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = err.read_to_end(&mut bytes);
        bytes
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for tern") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tern did not checkpoint within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    drop(stdin);
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn restore(snapshot: &Path) -> Output {
    tern(&[
        "restore",
        &snapshot.display().to_string(),
        "--module",
        GUEST,
    ])
}

/// The only line of `output`'s stderr, which must be an `error:` line.
fn one_error_line(output: &Output) -> String {
    let text = stderr(output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected:\n{text}");
    assert!(lines[0].starts_with("error: "), "{text}");
    lines[0].to_string()
}

#[test]
fn a_file_changed_after_the_checkpoint_stops_the_restore() {
    let dir = TempDir::new("restore-files-changed");
    let data = dir.0.join("data");
    std::fs::create_dir(&data).unwrap();
    let input = data.join("in.txt");
    std::fs::write(&input, "0123456789abcdefghijklmnop").unwrap();
    let snapshot = dir.0.join("read.tern");

    let first = run_until_checkpoint(&data, "read", &snapshot, &[]);
    assert_eq!(
        first.status.code(),
        Some(CHECKPOINTED),
        "{}",
        stderr(&first)
    );
    assert_eq!(stdout(&first), "read 8: 01234567\n");

    // Unchanged, the program reads on where it was (the restore changes nothing on disk).
    let unchanged = restore(&snapshot);
    assert_eq!(unchanged.status.code(), Some(0), "{}", stderr(&unchanged));
    assert_eq!(stdout(&unchanged), "read 8: 89abcdef\n");

    // Truncated: refused before any guest code runs.
    std::fs::write(&input, "0123").unwrap();
    let shrunk = restore(&snapshot);
    assert_eq!(shrunk.status.code(), Some(1));
    assert_eq!(stdout(&shrunk), "");
    let line = one_error_line(&shrunk);
    let expected = format!(
        "fd 4 (/data/in.txt → {}): file changed since the checkpoint: \
         size 4 bytes, snapshot recorded 26",
        input.display()
    );
    assert!(line.ends_with(&expected), "{line}");

    // Replaced by a same-size file renamed over it.
    let new = data.join("in.txt.new");
    std::fs::write(&new, "0123456789ABCDEFGHIJKLMNOP").unwrap();
    std::fs::rename(&new, &input).unwrap();
    let replaced = restore(&snapshot);
    assert_eq!(replaced.status.code(), Some(1));
    assert_eq!(stdout(&replaced), "");
    let line = one_error_line(&replaced);
    assert!(
        line.contains("fd 4 (/data/in.txt → ") && line.contains("different content"),
        "{line}"
    );
}

#[test]
fn a_file_unlinked_while_open_fails_the_checkpoint() {
    let dir = TempDir::new("restore-files-unlinked");
    let data = dir.0.join("data");
    std::fs::create_dir(&data).unwrap();
    let snapshot = dir.0.join("unlink.tern");
    let expected = format!(
        "fd 4 (/data/scratch → {}) was unlinked while open; tern cannot restore it",
        data.join("scratch").display()
    );
    // A failed checkpoint ends the run, also with --leave-running; nothing is written.
    for extra in [&[][..], &["--leave-running"][..]] {
        let output = run_until_checkpoint(&data, "unlink", &snapshot, extra);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{extra:?}: {}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), "read 8: scratch \n");
        let line = one_error_line(&output);
        assert!(line.ends_with(&expected), "{line}");
        assert!(!snapshot.exists(), "{extra:?}: a snapshot was written");
    }

    // Without a checkpoint the program itself is fine with its unlinked file.
    let plain = tern(&[
        "run",
        "--dir",
        &format!("{}::/data", data.display()),
        GUEST,
        "unlink",
    ]);
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    assert_eq!(stdout(&plain), "read 8: scratch \nread 4: data\n");
}
