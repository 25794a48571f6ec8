//! Running a program on tern-fast and on tern-interp, and restoring a fast-tier snapshot
//! on tern-interp the way `tern restore` does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tern_fast::{FastEngine, FastInstance, FastModule, Outcome, RunError};
use tern_snapshot::{Snapshot, TriggerInfo, Value, trigger_kind};
use tern_wasi::{InputPipe, OutputPipe, WasiCtx, WasiCtxBuilder, WasiState};

/// The repository root.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// One engine for the whole test binary, with a private compiled-module cache.
pub fn engine() -> &'static FastEngine {
    static ENGINE: OnceLock<FastEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let cache = tern_fast::ModuleCache::at(
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("tern-fast-cache"),
        );
        FastEngine::with_cache(Some(cache)).expect("engine")
    })
}

/// A directory under the test target dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tern-fast-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fills a program's preopened directory before it runs.
pub type Seed = fn(&Path);

/// A WASI program and everything it is run with.
#[derive(Clone)]
pub struct Program {
    pub wasm: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub stdin: String,
    /// Seeds the preopened directory (mounted as `guest_dir`), if the program has one.
    pub dir: Option<(&'static str, Seed)>,
}

impl Program {
    pub fn new(rel: &str, args: &[&str]) -> Program {
        Program {
            wasm: repo("tests/guests").join(rel),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            stdin: String::new(),
            dir: None,
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Program {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn stdin(mut self, text: &str) -> Program {
        self.stdin = text.into();
        self
    }

    pub fn dir(mut self, guest: &'static str, seed: Seed) -> Program {
        self.dir = Some((guest, seed));
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.wasm).unwrap_or_else(|e| panic!("{}: {e}", self.wasm.display()))
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Exit(i32),
    Trap,
}

/// Everything observable about a finished run.
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub status: Status,
    pub stdout: String,
    pub stderr: String,
    pub files: BTreeMap<String, Vec<u8>>,
}

/// The host side of one run: its directory and stdio, shared by the phases of a
/// checkpointed run.
pub struct World {
    pub dir: TempDir,
    pub stdin: InputPipe,
    pub stdout: OutputPipe,
    pub stderr: OutputPipe,
}

impl World {
    pub fn new(program: &Program) -> World {
        let dir = TempDir::new("world");
        if let Some((_, seed)) = program.dir {
            seed(dir.path());
        }
        World {
            dir,
            stdin: InputPipe::from_bytes(program.stdin.clone()),
            stdout: OutputPipe::new(),
            stderr: OutputPipe::new(),
        }
    }

    /// A builder with this world's stdio and directory.
    pub fn builder(&self, program: &Program) -> WasiCtxBuilder {
        let mut builder = WasiCtxBuilder::new();
        builder
            .stdin_pipe(self.stdin.clone())
            .stdout_pipe(self.stdout.clone())
            .stderr_pipe(self.stderr.clone());
        if let Some((guest, _)) = program.dir {
            builder.preopened_dir(self.dir.path(), guest);
        }
        builder
    }

    pub fn context(&self, program: &Program) -> Arc<Mutex<WasiCtx>> {
        let mut builder = self.builder(program);
        builder.args(&program.args);
        for (key, value) in &program.env {
            builder.env(key, value);
        }
        Arc::new(Mutex::new(builder.build().expect("context builds")))
    }

    pub fn finish(self, status: Status) -> Run {
        Run {
            status,
            stdout: self.stdout.contents_string(),
            stderr: self.stderr.contents_string(),
            files: tree(self.dir.path()),
        }
    }
}

/// Every file and directory under `root` (directories end with `/`).
pub fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        for entry in std::fs::read_dir(root.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let rel = rel.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                files.insert(format!("{}/", rel.display()), Vec::new());
                pending.push(rel);
            } else {
                files.insert(
                    rel.display().to_string(),
                    std::fs::read(entry.path()).unwrap(),
                );
            }
        }
    }
    files
}

pub fn fast_status(result: Result<Outcome, RunError>) -> Status {
    match result {
        Ok(Outcome::Finished(_)) => Status::Exit(0),
        Err(RunError::Exit(code)) => Status::Exit(code),
        Err(RunError::Trap(_)) => Status::Trap,
        other => panic!("unexpected outcome: {other:?}"),
    }
}

pub fn interp_status(result: Result<tern_interp::Outcome, tern_interp::RunError>) -> Status {
    match result {
        Ok(tern_interp::Outcome::Finished(_)) => Status::Exit(0),
        Err(tern_interp::RunError::Exit(code)) => Status::Exit(code),
        Err(tern_interp::RunError::Trap(_)) => Status::Trap,
        other => panic!("unexpected outcome: {other:?}"),
    }
}

pub fn fast_module(bytes: &[u8]) -> FastModule {
    FastModule::new(engine(), bytes).expect("module compiles on tern-fast")
}

/// Runs `program` to its end on tern-fast.
pub fn run_fast(program: &Program) -> Run {
    let world = World::new(program);
    let module = fast_module(&program.bytes());
    let mut instance = FastInstance::new(&module, world.context(program)).expect("instantiates");
    let status = fast_status(instance.invoke("_start", &[]));
    drop(instance);
    world.finish(status)
}

/// Runs `program` to its end on tern-interp.
pub fn run_interp(program: &Program) -> Run {
    let world = World::new(program);
    let config = tern_interp::Config::default();
    let module = tern_interp::Module::new(&config, &program.bytes()).expect("module compiles");
    let mut store = tern_interp::Store::new(&config);
    let ctx = world.context(program);
    ctx.lock()
        .unwrap()
        .set_interrupt_flag(store.interrupt_handle());
    let mut linker = tern_interp::Linker::new();
    tern_wasi::add_to_linker(&mut linker, ctx);
    let instance = linker
        .instantiate(&mut store, &module)
        .expect("instantiates");
    let status = interp_status(store.invoke(instance, "_start", &[]));
    world.finish(status)
}

/// Writes `snapshot` into `dir`, reads it back (checking it holds what was captured) and
/// rebuilds its WASI state on `builder`'s stdio and preopens, as `tern restore` does.
pub fn through_file(
    snapshot: &Snapshot,
    dir: &Path,
    mut builder: WasiCtxBuilder,
) -> (Snapshot, WasiCtx) {
    let path = dir.join("snapshot.tern");
    tern_snapshot::write_snapshot_file(&path, snapshot).expect("snapshot written");
    let read = tern_snapshot::read_snapshot_file(&path).expect("snapshot reads back");
    assert_eq!(&read, snapshot, "the file holds what was captured");
    let _ = std::fs::remove_file(&path);
    let state =
        serde_json::from_slice::<Option<WasiState>>(read.wasi.as_deref().unwrap_or(b"null"))
            .expect("WASI state decodes");
    let wasi = match state {
        Some(state) => builder.rebuild(&state),
        None => builder.build(),
    }
    .expect("WASI state restores");
    (read, wasi)
}

/// Asks `instance` for a checkpoint from another thread after `delay_ms`; join the
/// returned thread once the run is back.
pub fn request_after(instance: &FastInstance, delay_ms: u64) -> std::thread::JoinHandle<()> {
    let handle = instance.checkpoint_handle();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        handle.request();
    })
}

/// Writes `snapshot` into `dir`, reads it back and resumes it on tern-interp as `tern
/// restore` does (identity check, WASI rebuild, `instantiate_for_restore`, `restore`,
/// `resume`), with `builder` providing stdio and preopens.
pub fn restore_on_interp(
    wasm: &[u8],
    snapshot: &Snapshot,
    dir: &Path,
    mut builder: WasiCtxBuilder,
) -> Result<tern_interp::Outcome, tern_interp::RunError> {
    let config = tern_interp::Config::default();
    let mut store = tern_interp::Store::new(&config);
    builder.interrupt_flag(store.interrupt_handle());
    let (read, wasi) = through_file(snapshot, dir, builder);
    read.module
        .verify(wasm)
        .expect("identity of the original module");
    let module = tern_interp::Module::new(&config, wasm).expect("module compiles");
    let mut linker = tern_interp::Linker::new();
    tern_wasi::add_to_linker(&mut linker, Arc::new(Mutex::new(wasi)));
    linker
        .instantiate_for_restore(&mut store, &module)
        .expect("instantiates for restore");
    store.restore(&read.state).expect("state restores");
    store.resume()
}

/// What came of asking for a checkpoint.
pub enum Checkpoint {
    /// The program ended first.
    Ended,
    /// The capture was refused (a file unlinked while open), as on the interpreter.
    Refused,
    /// Captured, restored on tern-interp and finished there.
    Taken(Run, Box<Snapshot>),
}

/// Runs `program` on tern-fast, asks for a checkpoint once `after_calls` WASI calls have
/// returned, captures, and finishes on tern-interp.
pub fn checkpointed_at_call(program: &Program, after_calls: u64) -> Checkpoint {
    let world = World::new(program);
    let bytes = program.bytes();
    let module = fast_module(&bytes);
    let mut instance = FastInstance::new(&module, world.context(program)).expect("instantiates");
    instance.checkpoint_after_wasi_calls(after_calls);
    let outcome = instance.invoke("_start", &[]);
    finish_checkpointed(program, world, instance, outcome, &bytes)
}

/// The rest of a checkpointed run: capture, restore on tern-interp, finish.
pub fn finish_checkpointed(
    program: &Program,
    world: World,
    mut instance: FastInstance,
    outcome: Result<Outcome, RunError>,
    bytes: &[u8],
) -> Checkpoint {
    match outcome {
        Ok(Outcome::Unwound) => {}
        Ok(Outcome::Finished(_)) | Err(RunError::Exit(_) | RunError::Trap(_)) => {
            return Checkpoint::Ended;
        }
        Err(e) => panic!("{}: {e}", program.wasm.display()),
    }
    let snapshot = match instance.capture(TriggerInfo::now(trigger_kind::MANUAL, "test")) {
        Ok(snapshot) => snapshot,
        // The interpreter refuses the same states (a file unlinked while open).
        Err(e) if e.to_string().contains("unlinked") => {
            eprintln!("{}: {e}", program.wasm.display());
            return Checkpoint::Refused;
        }
        Err(e) => panic!("{}: capture failed: {e}", program.wasm.display()),
    };
    drop(instance);
    let scratch = TempDir::new("snap");
    let status = interp_status(restore_on_interp(
        bytes,
        &snapshot,
        scratch.path(),
        world.builder(program),
    ));
    Checkpoint::Taken(world.finish(status), Box::new(snapshot))
}

/// `run(n)` of a benchmark workload on tern-fast.
pub fn bench_fast(bytes: &[u8], n: i32) -> Value {
    let module = fast_module(bytes);
    let wasi = Arc::new(Mutex::new(WasiCtxBuilder::new().build().unwrap()));
    let mut instance = FastInstance::new(&module, wasi).unwrap();
    match instance.invoke("run", &[Value::I32(n as u32)]) {
        Ok(Outcome::Finished(results)) => results[0],
        other => panic!("run({n}): {other:?}"),
    }
}
