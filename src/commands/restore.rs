//! `tern restore`: continue a program from a snapshot file.

use super::checkpoint::{CheckpointArgs, Session};
#[cfg(feature = "fast")]
use super::engine::Engine;
use super::engine::{EngineArgs, interp_reason};
use super::interp_run::drive;
use super::run::load_module;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use tern_interp::{Config, InstanceId, Linker, Module, Store};
use tern_snapshot::{SnapshotError, SnapshotFile};
use tern_wasi::{WasiCtx, WasiCtxBuilder, WasiState, add_to_linker};

/// Continue a checkpointed program from its snapshot.
#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The snapshot file.
    #[arg(value_name = "SNAPSHOT")]
    pub(super) from: PathBuf,
    /// The module the snapshot was taken of (checked against the identity it records).
    #[arg(long, value_name = "PATH")]
    pub(super) module: PathBuf,
    /// Map a preopened directory to another host directory: HOST::GUEST. Preopens not
    /// mapped are opened at the host path they had when the snapshot was taken.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    pub(super) dirs: Vec<String>,
    #[command(flatten)]
    pub(super) engine: EngineArgs,
    #[command(flatten)]
    pub(super) checkpoint: CheckpointArgs,
    #[command(flatten)]
    pub(super) trace: super::trace::TraceArgs,
}

pub fn run(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let choice = args
        .engine
        .choose(interp_reason(&args.checkpoint, &args.trace))?;
    #[cfg(feature = "fast")]
    if choice.engine == Engine::Fast
        && let Some(code) = super::fast::restore(&args, choice.explicit)?
    {
        return Ok(code);
    }
    let _ = choice;
    restore_interp(args)
}

/// `tern restore` on the interpreter.
fn restore_interp(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let shown = args.from.display();
    // Everything is decoded and checked here except the memory section, which is read
    // in chunks and decompressed straight into the restored memories below; the
    // checksum is known only after that.
    let mut snapshot = SnapshotFile::open(&args.from).map_err(|e| match e {
        SnapshotError::Io { .. } => anyhow::anyhow!("{e}"),
        e => anyhow::anyhow!("{shown}: {e}"),
    })?;
    // A failure before the memories are read is reported only if the file is sound:
    // damage to the file comes first, as when the whole file was checked up front.
    let file_first = |snapshot: &SnapshotFile, e: anyhow::Error| match snapshot.check() {
        Err(file) => anyhow::anyhow!("{shown}: {file}"),
        Ok(()) => e,
    };
    let (store, instance, module, wasi) =
        prepare(&args, &snapshot).map_err(|e| file_first(&snapshot, e))?;
    let mut store = store;
    let mut filled = false;
    let state = std::mem::take(&mut snapshot.state);
    let restored = store.restore_with(&state, |i, memory| {
        filled = true;
        snapshot.fill_memory(i, memory).map_err(|e| e.to_string())
    });
    if let Err(e) = restored {
        let e = anyhow::anyhow!("{shown}: {e}");
        // `fill_memory`'s own errors already are the file's.
        return Err(if filled { e } else { file_first(&snapshot, e) });
    }
    let identity = snapshot.module;
    let instructions_before = snapshot.trigger.instructions;
    // The program runs only once the whole file is known to be intact; otherwise the
    // restored memories are dropped with the store.
    snapshot
        .finish()
        .map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;

    let tracer = args
        .trace
        .restore_tracer(&module, &args.from, instructions_before)?;
    let session = Session {
        store,
        instance,
        module,
        identity,
        wasi,
        instructions_before,
        print_results: true,
        tracer,
    };
    drive(session, &args.checkpoint, &args.from, |store| {
        store.resume()
    })
}

/// The module, checked against the snapshot, instantiated for the restore with the WASI
/// state rebuilt: everything but the Wasm state itself.
fn prepare(
    args: &RestoreArgs,
    snapshot: &SnapshotFile,
) -> anyhow::Result<(Store, InstanceId, Module, Arc<Mutex<WasiCtx>>)> {
    let shown = args.from.display();
    let config = Config::default();
    let module = load_module(&config, &args.module)?;
    snapshot.module.verify(module.bytes()).map_err(|e| {
        anyhow::anyhow!("{shown} does not belong to {}: {e}", args.module.display())
    })?;

    let mut store = Store::new(&config);
    let wasi = rebuild_wasi(
        args,
        snapshot.wasi.as_deref(),
        Some(store.interrupt_handle()),
    )?;
    let wasi = Arc::new(Mutex::new(wasi));

    let mut linker = Linker::new();
    add_to_linker(&mut linker, wasi.clone());
    let instance = linker
        .instantiate_for_restore(&mut store, &module)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.module.display()))?;
    Ok((store, instance, module, wasi))
}

/// The WASI context of a restore: stdio inherited, `--dir` mappings, and the snapshot's
/// WASI state (`wasi`, JSON; none in snapshots of programs without WASI) rebuilt —
/// files reopened and checked, sockets bound again. Shared by both engines.
pub(super) fn rebuild_wasi(
    args: &RestoreArgs,
    wasi: Option<&[u8]>,
    interrupt: Option<Arc<AtomicBool>>,
) -> anyhow::Result<WasiCtx> {
    let shown = args.from.display();
    let mut builder = WasiCtxBuilder::new();
    builder.inherit_stdio();
    if let Some(flag) = interrupt {
        builder.interrupt_flag(flag);
    }
    super::preopen_dirs(&mut builder, &args.dirs);
    let wasi_bytes = wasi.unwrap_or(b"null");
    match serde_json::from_slice::<Option<WasiState>>(wasi_bytes)
        .with_context(|| format!("{shown}: the WASI state does not decode"))?
    {
        Some(state) => builder.rebuild(&state),
        None => builder.build(),
    }
    .map_err(|e| anyhow::anyhow!("{shown}: cannot restore the WASI state: {e}"))
}
