//! The fast engine (`crates/tern-fast`: the instrumented module on wasmtime) behind
//! `tern run` and `tern restore` (`--engine fast`, the default).
//!
//! Same triggers, snapshot files, exit statuses and messages as the interpreter's path
//! in `interp_run.rs` (both run through `drive.rs`), except:
//! - `--checkpoint-on instructions:N` and `--trace` are the interpreter's alone (the
//!   engine choice in `engine.rs` sends them there);
//! - `--leave-running` is capture → snapshot file → restore of that state into a new
//!   instance (the stack has unwound into the host), with the live WASI context, so open
//!   files, sockets and stdin stay as they are; the `call:FUNC:N` count starts again
//!   after every checkpoint;
//! - a module the fast tier does not take (it refuses to instrument it) runs on the
//!   interpreter unless `--engine fast` was given, so malformed modules get the
//!   interpreter's errors;
//! - `tern restore` does not read the module file when the cache's file memo knows its
//!   identity (`identified`): with the cache warm nothing needs its bytes, and what
//!   does later reads them then, checked against that identity.

use super::checkpoint::{CheckpointArgs, Trigger, parse_trigger};
use super::drive::{CheckpointEngine, Failure, Fired, Requester, Step};
use super::restore::RestoreArgs;
use super::run::RunArgs;
use anyhow::{Context, anyhow};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use tern_fast::{
    CheckpointHandle, FastEngine, FastInstance, FastModule, ModuleCache, Outcome, RunError,
};
use tern_snapshot::{
    ModuleIdentity, Snapshot, SnapshotError, SnapshotFile, TriggerInfo, Value, trigger_kind,
};
use tern_wasi::WasiCtx;

/// `tern run` on the fast engine; `None` when the fast tier does not take the module and
/// the engine was not chosen explicitly (the caller then runs the interpreter).
pub fn run(args: &RunArgs, explicit: bool) -> anyhow::Result<Option<ExitCode>> {
    let (wasm, identity) = read_identified(&args.module)?;
    let wasm = Arc::new(wasm);
    let source = Some(wasm.clone());
    let Some((module, call)) = load(source, identity, &args.checkpoint, &args.module, explicit)?
    else {
        return Ok(None);
    };
    let (name, params) = match &args.invoke {
        Some(name) => {
            // The signature types the arguments (the interpreter's module knows it).
            let config = tern_interp::Config::default();
            let typed = super::run::load_module(&config, &args.module)?;
            let params = super::run::invoke_args(&typed, name, &args.args)?;
            (name.clone(), params)
        }
        None => ("_start".to_string(), Vec::new()),
    };
    let wasi = super::run::wasi_builder(args)?
        .build()
        .map_err(|e| anyhow!("{e}"))?;
    let wasi = Arc::new(Mutex::new(wasi));
    let instance = FastInstance::new(&module, wasi.clone())
        .map_err(|e| anyhow!("{}: {e}", args.module.display()))?;
    let program = Program {
        call,
        module,
        wasi,
        print_results: args.invoke.is_some(),
        instructions_before: Some(0),
    };
    #[cfg(not(target_os = "wasi"))]
    if args.migration.enabled() {
        if !args.checkpoint.triggers.is_empty() || args.invoke.is_some() {
            anyhow::bail!(
                "--control/--migrate-on cannot be combined with --checkpoint-on or --invoke"
            );
        }
        let start = Start::Invoke(name, params);
        let wasm = Arc::unwrap_or_clone(wasm);
        let code = super::migrate_fast::drive(&program, instance, start, &args.migration, wasm)?;
        return Ok(Some(ExitCode::from(code)));
    }
    let default_snapshot = args.module.with_extension("tern");
    drive(
        &program,
        instance,
        Start::Invoke(name, params),
        &args.checkpoint,
        &default_snapshot,
    )
    .map(Some)
}

/// `tern restore` on the fast engine; `None` as for [`run`].
pub fn restore(args: &RestoreArgs, explicit: bool) -> anyhow::Result<Option<ExitCode>> {
    let shown = args.from.display();
    // As on the interpreter (`restore.rs`): everything but the memory pages is decoded
    // here; the pages are decompressed straight into the instance's memories while the
    // file is read, and the program runs only once the whole file's checksum is right.
    let mut snapshot = SnapshotFile::open(&args.from).map_err(|e| match e {
        SnapshotError::Io { .. } => anyhow!("{e}"),
        e => anyhow!("{shown}: {e}"),
    })?;
    // Damage to the file is reported before any other failure.
    let file_first = |snapshot: &SnapshotFile, e: anyhow::Error| match snapshot.check() {
        Err(file) => anyhow!("{shown}: {file}"),
        Ok(()) => e,
    };
    // Not read at all when the file memo knows the module: with the cache warm, the
    // restore needs none of its bytes (`FastModule::from_file`).
    let (wasm, identity) = identified(&args.module)?;
    if identity != snapshot.module {
        let e = SnapshotError::ModuleMismatch {
            expected: snapshot.module,
            found: identity,
        };
        return Err(file_first(
            &snapshot,
            anyhow!("{shown} does not belong to {}: {e}", args.module.display()),
        ));
    }
    let Some((module, call)) = load(wasm, identity, &args.checkpoint, &args.module, explicit)?
    else {
        return Ok(None);
    };
    let wasi = super::restore::rebuild_wasi(args, snapshot.wasi.as_deref(), None)
        .map_err(|e| file_first(&snapshot, e))?;
    let wasi = Arc::new(Mutex::new(wasi));
    let state = std::mem::take(&mut snapshot.state);
    let mut filled = false;
    let restored = FastInstance::restore_with(&module, &state, wasi.clone(), |m, memory| {
        filled = true;
        snapshot.fill_memory(m, memory)
    });
    let instance = restored.map_err(|e| {
        let e = anyhow!("{shown}: {e}");
        // `fill_memory`'s own errors already are the file's.
        if filled { e } else { file_first(&snapshot, e) }
    })?;
    let instructions_before = snapshot.trigger.instructions;
    snapshot.finish().map_err(|e| anyhow!("{shown}: {e}"))?;
    let program = Program {
        call,
        module,
        wasi,
        print_results: true,
        instructions_before,
    };
    drive(
        &program,
        instance,
        Start::Resume,
        &args.checkpoint,
        &args.from,
    )
    .map(Some)
}

/// The module file's bytes (a text module translated) and their identity: from the
/// compiled-module cache's memo of the file's hash when the file is unchanged
/// (`ModuleCache::read_module`), so a module of tens of MB is not hashed on every run
/// and restore.
fn read_identified(path: &Path) -> anyhow::Result<(Vec<u8>, ModuleIdentity)> {
    if let Some(cache) = ModuleCache::from_env()
        && let Ok((bytes, identity)) = cache.read_module(path)
        && bytes.starts_with(b"\0asm")
    {
        return Ok((bytes, identity));
    }
    let wasm = super::run::read_wasm(path)?;
    let identity = ModuleIdentity::of(&wasm);
    Ok((wasm, identity))
}

/// The module file's identity, and its bytes unless the compiled-module cache's memo
/// knows the identity of the file as it is (`ModuleCache::identify_module`): then the
/// bytes are read only if the fast tier needs them, and checked then
/// (`FastModule::from_file`). Otherwise as [`read_identified`].
fn identified(path: &Path) -> anyhow::Result<(Option<Arc<Vec<u8>>>, ModuleIdentity)> {
    if let Some(cache) = ModuleCache::from_env()
        && let Some(identity) = cache.identify_module(path)
    {
        return Ok((None, identity));
    }
    let (wasm, identity) = read_identified(path)?;
    Ok((Some(Arc::new(wasm)), identity))
}

/// Instruments and compiles the module of `identity` (or takes it from the
/// compiled-module cache) for the triggers of `args` that are compiled in, with the
/// `call:` trigger resolved: `wasm` when given, else the binary module in the file at
/// `path`, read on first need; `None` when the fast tier refuses the module and the
/// interpreter may take over.
fn load(
    wasm: Option<Arc<Vec<u8>>>,
    identity: ModuleIdentity,
    args: &CheckpointArgs,
    path: &Path,
    explicit: bool,
) -> anyhow::Result<Option<(FastModule, Option<CallTrigger>)>> {
    let engine = FastEngine::new().map_err(|e| anyhow!("the fast engine: {e}"))?;
    let call = call_trigger(args, path)?;
    let count = args
        .parsed_triggers()?
        .iter()
        .any(|t| matches!(t, Trigger::Instructions(_)));
    let module = match wasm {
        Some(wasm) => FastModule::with_identity(&engine, wasm, identity, call, count),
        None => FastModule::from_file(&engine, path, identity, call, count),
    };
    match module {
        Ok(module) => Ok(Some((module, call))),
        // The message names the file.
        Err(e @ tern_fast::Error::Module(_)) => Err(anyhow!("{e}")),
        Err(tern_fast::Error::Instrument(_) | tern_fast::Error::Unsupported { .. })
            if !explicit =>
        {
            Ok(None)
        }
        Err(e) => Err(anyhow!("{}: {e}", path.display())),
    }
}

/// `--checkpoint-on call:FUNC:N` as (original function index, N); FUNC is an index, a
/// name-section name or an export name, as on the interpreter.
fn call_trigger(args: &CheckpointArgs, path: &Path) -> anyhow::Result<Option<CallTrigger>> {
    let mut call = None;
    for text in &args.triggers {
        if let Trigger::Call(func, n) = parse_trigger(text)? {
            let index = match func.parse() {
                Ok(index) => index,
                Err(_) => {
                    let config = tern_interp::Config::default();
                    let module = super::run::load_module(&config, path)?;
                    module
                        .func_by_name(&func)
                        .with_context(|| format!("--checkpoint-on call: no function `{func}`"))?
                }
            };
            call = Some((index, n));
        }
    }
    Ok(call)
}

/// `--checkpoint-on call:FUNC:N` as (original function index, N).
type CallTrigger = (u32, u64);

/// The program being run, with what a checkpoint and a `--leave-running` restore need.
pub(super) struct Program {
    pub(super) module: FastModule,
    /// The live WASI context: kept across `--leave-running` restores.
    pub(super) wasi: Arc<Mutex<WasiCtx>>,
    pub(super) call: Option<CallTrigger>,
    pub(super) print_results: bool,
    /// Instructions the program had executed before this run: 0 for `tern run`, the
    /// snapshot's count for `tern restore` (`None` when it has none, as on the
    /// interpreter).
    pub(super) instructions_before: Option<u64>,
}

pub(super) enum Start {
    Invoke(String, Vec<Value>),
    Resume,
}

/// A program on the fast tier. Checkpoint requests go through the handle of the current
/// instance, which a `--leave-running` restore replaces.
struct FastRun<'a> {
    program: &'a Program,
    instance: FastInstance,
    current: Arc<Mutex<CheckpointHandle>>,
    /// The snapshot just written, which `--leave-running` restores.
    last: Option<Snapshot>,
    /// `instructions:N`: N.
    instructions: Option<u64>,
    /// Instructions executed before the current instance's budget was set.
    instructions_before: Option<u64>,
}

impl FastRun<'_> {
    fn step(outcome: Result<Outcome, RunError>) -> Result<Step, Failure> {
        match outcome {
            Ok(Outcome::Finished(results)) => Ok(Step::Finished(results)),
            Ok(Outcome::Unwound) => Ok(Step::Stopped),
            Err(RunError::Exit(code)) => Err(Failure::Exit(code as u8)),
            Err(RunError::Trap(message)) => Err(Failure::Trap(message)),
            Err(RunError::Fatal(e)) => Err(Failure::Fatal(anyhow!("{e}"))),
        }
    }
}

impl CheckpointEngine for FastRun<'_> {
    fn requester(&self) -> Requester {
        let current = self.current.clone();
        Arc::new(move || current.lock().unwrap_or_else(|e| e.into_inner()).request())
    }

    fn arm(&mut self, trigger: &Trigger, _: &Fired) -> anyhow::Result<bool> {
        match trigger {
            // Approximate: counted in the module (`load`), the stop at the next safepoint.
            Trigger::Instructions(n) => {
                self.instructions = Some(*n);
                self.instance
                    .set_instruction_budget(Some(*n))
                    .map_err(|e| anyhow!("--checkpoint-on instructions:{n}: {e}"))?;
                Ok(true)
            }
            // Compiled into the module (`load`).
            Trigger::Call(..) => Ok(true),
            _ => Ok(false),
        }
    }

    fn resume(&mut self) -> Result<Step, Failure> {
        Self::step(self.instance.resume())
    }

    /// A checkpoint nobody asked for through the handle was taken by a trigger compiled
    /// into the module: the instruction budget if it ran out, else the `call:` trigger.
    fn trigger(&mut self, fired: &Fired) -> TriggerInfo {
        let requested = self.instance.checkpoint_handle().is_requested();
        let counted = self.instance.counted_instructions();
        let budget_out = matches!((self.instructions, counted), (Some(n), Some(c)) if c >= n);
        let mut info = match (self.program.call, self.instructions) {
            (_, Some(n)) if !requested && budget_out => {
                TriggerInfo::now(trigger_kind::INSTRUCTIONS, n.to_string())
            }
            (Some((func, n)), _) if !requested => {
                TriggerInfo::now(trigger_kind::CALL, format!("function {func}, call {n}"))
            }
            _ => fired.take(),
        };
        // As on the interpreter: with an instruction trigger the snapshot records the
        // program's total, here exact at the safepoint it stopped at.
        if self.instructions.is_some() {
            info.instructions = self
                .instructions_before
                .zip(counted)
                .map(|(before, counted)| before + counted);
        }
        info
    }

    fn write_snapshot(&mut self, trigger: TriggerInfo, path: &Path) -> anyhow::Result<()> {
        let snapshot = self.instance.capture(trigger).map_err(|e| anyhow!("{e}"))?;
        tern_snapshot::write_snapshot_file(path, &snapshot)
            .with_context(|| format!("writing snapshot {}", path.display()))?;
        self.last = Some(snapshot);
        Ok(())
    }

    /// The unwound instance cannot continue: the state just captured goes into a new
    /// one, with the same (live) WASI context.
    fn leave_running(&mut self) -> anyhow::Result<()> {
        let snapshot = self.last.take().context("--leave-running: no snapshot")?;
        let program = self.program;
        self.instance = FastInstance::restore(&program.module, &snapshot, program.wasi.clone())
            .map_err(|e| anyhow!("--leave-running: {e}"))?;
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = self.instance.checkpoint_handle();
        if let Some(n) = self.instructions {
            self.instructions_before = snapshot.trigger.instructions;
            self.instance
                .set_instruction_budget(Some(n))
                .map_err(|e| anyhow!("--leave-running: {e}"))?;
        }
        Ok(())
    }

    fn prints_results(&self) -> bool {
        self.program.print_results
    }
}

/// Runs the program to its end, checkpointing whenever a trigger fires.
fn drive(
    program: &Program,
    instance: FastInstance,
    start: Start,
    args: &CheckpointArgs,
    default_snapshot: &Path,
) -> anyhow::Result<ExitCode> {
    let mut run = FastRun {
        program,
        current: Arc::new(Mutex::new(instance.checkpoint_handle())),
        instance,
        last: None,
        instructions: None,
        instructions_before: program.instructions_before,
    };
    super::drive::drive(&mut run, args, default_snapshot, |run| {
        let outcome = match start {
            Start::Invoke(name, params) => run.instance.invoke(&name, &params),
            Start::Resume => run.instance.resume(),
        };
        FastRun::step(outcome)
    })
}
