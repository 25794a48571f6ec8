//! Every WASI guest of `tests/guests` runs on tern-fast exactly as on tern-interp:
//! stdout, stderr, exit status and the files left behind.

use crate::support::*;
use std::path::Path;

pub fn seed_ckpt_data(data: &Path) {
    std::fs::create_dir_all(data.join("dir")).unwrap();
    for name in ["a", "b", "c", "d", "e"] {
        std::fs::write(data.join("dir").join(name), name.repeat(3)).unwrap();
    }
    std::fs::write(data.join("in.txt"), text_input()).unwrap();
}

pub fn text_input() -> String {
    (0..300)
        .map(|i| format!("line {i}: {}\n", "abcdefghij".repeat(i % 7)))
        .collect()
}

fn seed_sandbox(root: &Path) {
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("inside.txt"), "in\n").unwrap();
}

fn nothing(_: &Path) {}

/// The guests, each with what it is run with.
pub fn programs() -> Vec<(&'static str, Program)> {
    vec![
        (
            "fs",
            Program::new("c/fs.wasm", &["fs"]).dir("/sandbox", nothing),
        ),
        (
            "sandbox",
            Program::new("c/sandbox.wasm", &["sandbox", "faults"]).dir("/sandbox", seed_sandbox),
        ),
        (
            "stdio",
            Program::new("c/stdio.wasm", &["stdio.wasm", "first", "second arg"])
                .env("GREETING", "hello")
                .stdin("some input\nline two\n"),
        ),
        (
            "rust",
            Program::new("rust/std_guest.wasm", &["std_guest", "a", "b"])
                .env("MODE", "test")
                .dir("/data", nothing)
                .stdin("one two three\n"),
        ),
        ("raise", Program::new("c/raise.wasm", &["raise"])),
        (
            "compute",
            Program::new("ckpt/compute.wasm", &["compute", "200", "6"]),
        ),
        (
            "files",
            Program::new("ckpt/files.wasm", &["files"]).dir("/data", seed_ckpt_data),
        ),
        (
            "stdin",
            Program::new("ckpt/stdin.wasm", &["stdin"]).stdin(&text_input()),
        ),
        (
            "clocks",
            Program::new("ckpt/clocks.wasm", &["clocks", "200"]),
        ),
        (
            "sleeps",
            Program::new("ckpt/sleeps.wasm", &["sleeps", "6", "10"]),
        ),
    ]
}

#[test]
fn every_guest_runs_as_on_the_interpreter() {
    for (name, program) in programs() {
        let fast = run_fast(&program);
        let interp = run_interp(&program);
        assert_eq!(fast, interp, "{name}: tern-fast and tern-interp differ");
        eprintln!(
            "{name}: {:?}, {} bytes of stdout",
            fast.status,
            fast.stdout.len()
        );
    }
}

#[test]
fn expected_outputs() {
    let stdio = run_fast(&programs().remove(2).1);
    assert_eq!(stdio.status, Status::Exit(7));
    let expected = std::fs::read_to_string(repo("tests/guests/c/stdio.stdout")).unwrap();
    assert_eq!(stdio.stdout, expected);
    assert_eq!(stdio.stderr, "to stderr\n");
}
