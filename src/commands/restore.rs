//! `tern restore`: continue a program from a snapshot file.

use super::checkpoint::{CheckpointArgs, Session, drive};
use super::run::load_module;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use tern_interp::{Config, Linker, Store};
use tern_snapshot::SnapshotView;
use tern_wasi::{WasiCtxBuilder, WasiState, add_to_linker};

/// Continue a checkpointed program from its snapshot.
#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The snapshot file.
    #[arg(value_name = "SNAPSHOT")]
    from: PathBuf,
    /// The module the snapshot was taken of (checked against the identity it records).
    #[arg(long, value_name = "PATH")]
    module: PathBuf,
    /// Map a preopened directory to another host directory: HOST::GUEST. Preopens not
    /// mapped are opened at the host path they had when the snapshot was taken.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    #[command(flatten)]
    checkpoint: CheckpointArgs,
}

pub fn run(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let shown = args.from.display();
    let bytes =
        tern_snapshot::read_snapshot_bytes(&args.from).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Everything is decoded and checked here except the pages, which are decompressed
    // straight into the restored memories below.
    let snapshot = SnapshotView::parse(&bytes).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    let config = Config::default();
    let module = load_module(&config, &args.module)?;
    snapshot.module.verify(module.bytes()).map_err(|e| {
        anyhow::anyhow!("{shown} does not belong to {}: {e}", args.module.display())
    })?;

    let mut store = Store::new(&config);
    let mut builder = WasiCtxBuilder::new();
    builder
        .inherit_stdio()
        .interrupt_flag(store.interrupt_handle());
    super::preopen_dirs(&mut builder, &args.dirs);
    let wasi_bytes = snapshot.wasi.unwrap_or(b"null");
    let wasi = match serde_json::from_slice::<Option<WasiState>>(wasi_bytes)
        .with_context(|| format!("{shown}: the WASI state does not decode"))?
    {
        Some(state) => builder.rebuild(&state),
        None => builder.build(),
    }
    .map_err(|e| anyhow::anyhow!("{shown}: cannot restore the WASI state: {e}"))?;
    let wasi = Arc::new(Mutex::new(wasi));

    let mut linker = Linker::new();
    add_to_linker(&mut linker, wasi.clone());
    let instance = linker
        .instantiate_for_restore(&mut store, &module)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.module.display()))?;
    store
        .restore_with(&snapshot.state, |i, memory| {
            snapshot.fill_memory(i, memory).map_err(|e| e.to_string())
        })
        .map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;

    let session = Session {
        store,
        instance,
        module,
        identity: snapshot.module,
        wasi,
        instructions_before: snapshot.trigger.instructions,
        print_results: true,
    };
    // The file's bytes are not needed any more: give their memory back before the
    // program runs on.
    drop(snapshot);
    drop(bytes);
    drive(session, &args.checkpoint, &args.from, |store| {
        store.resume()
    })
}
