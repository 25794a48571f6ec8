//! The benchmark suite's quick mode (`python3 bench/run.py --quick`, see bench/README.md):
//! every program of `bench/programs` at a tiny size on every engine — native builds,
//! wasmtime, wasmi, tern fast, tern interp — must print native's checksum, and a 1 MiB
//! checkpoint/restore must work. Uses this build's `tern`.
//!
//! Needs python3, clang (the native C builds) and rustc; wasmtime comes from
//! `TERN_WASMTIME` and wasmi from `TERN_WASMI` (both set by .ci/run), otherwise the
//! runner installs them under `bench/out/tools/` (wasmi's `cargo install` takes minutes
//! the first time). A missing engine fails the test, except tern fast while tern's
//! `run` has no `--engine` flag.

use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn bench_quick_mode_checksums_match_native() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = Command::new("python3");
    command
        .current_dir(root)
        .arg("bench/run.py")
        .arg("--quick")
        .args(["--tern", env!("CARGO_BIN_EXE_tern")])
        .args(["--require", "native,wasmtime,wasmi,tern-fast,tern-interp"])
        .stdin(Stdio::null());
    if let Some(wasmtime) = std::env::var_os("TERN_WASMTIME") {
        command.arg("--wasmtime").arg(wasmtime);
    }
    if let Some(wasmi) = std::env::var_os("TERN_WASMI") {
        command.arg("--wasmi").arg(wasmi);
    }
    let output = command.output().expect("python3 runs bench/run.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "bench/run.py --quick failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("12 passed, 0 failed"),
        "unexpected summary:\n{stdout}\n{stderr}"
    );
}
