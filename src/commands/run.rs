//! `tern run`: instantiate a module and run it — a WASI command's `_start`, or any
//! exported function with `--invoke`.

use super::checkpoint::{CheckpointArgs, Session};
#[cfg(feature = "fast")]
use super::engine::Engine;
use super::engine::{EngineArgs, interp_reason};
use super::interp_run::drive;
use super::values;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use tern_interp::{Config, Linker, Module, Store, Value};
use tern_snapshot::ModuleIdentity;
use tern_wasi::{WasiCtxBuilder, add_to_linker};

/// Run a WebAssembly module: a WASI command, or one exported function.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Call this exported function instead of `_start` and print its results, one per line.
    #[arg(long, value_name = "NAME")]
    pub(super) invoke: Option<String>,
    /// Give the program a host directory, under its own name or as GUEST.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    pub(super) dirs: Vec<String>,
    /// Set an environment variable for the program.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub(super) envs: Vec<String>,
    /// Preopen a listening TCP socket (after the directories, from fd 3 on).
    #[arg(long = "tcplisten", value_name = "ADDR")]
    pub(super) listens: Vec<String>,
    #[command(flatten)]
    pub(super) engine: EngineArgs,
    #[command(flatten)]
    pub(super) checkpoint: CheckpointArgs,
    #[command(flatten)]
    pub(super) trace: super::trace::TraceArgs,
    #[cfg(not(target_os = "wasi"))]
    #[command(flatten)]
    pub(super) migration: super::migrate::ControlArgs,
    /// The module: a binary `.wasm` or a text `.wat` file.
    pub(super) module: PathBuf,
    /// The program's arguments; with `--invoke`, the function's arguments, typed by its
    /// signature.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    pub(super) args: Vec<String>,
}

/// Reads a module file, binary or text, as a binary module.
pub fn read_wasm(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let binary =
        wat::parse_bytes(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(binary.into_owned())
}

/// Reads and compiles a module file, binary or text, for the interpreter.
pub fn load_module(config: &Config, path: &Path) -> anyhow::Result<Module> {
    let binary = read_wasm(path)?;
    Module::new(config, &binary).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The WASI context the command line describes.
pub(super) fn wasi_builder(args: &RunArgs) -> anyhow::Result<WasiCtxBuilder> {
    let mut builder = WasiCtxBuilder::new();
    builder.inherit_stdio();
    if args.invoke.is_none() {
        builder
            .arg(args.module.display().to_string())
            .args(&args.args);
    }
    super::preopen_dirs(&mut builder, &args.dirs);
    for env in &args.envs {
        let (key, value) = env
            .split_once('=')
            .with_context(|| format!("--env {env}: expected KEY=VALUE"))?;
        builder.env(key, value);
    }
    for addr in &args.listens {
        builder
            .tcp_listen(addr.as_str())
            .with_context(|| format!("--tcplisten {addr}"))?;
    }
    Ok(builder)
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let choice = args
        .engine
        .choose(interp_reason(&args.checkpoint, &args.trace))?;
    #[cfg(feature = "fast")]
    if choice.engine == Engine::Fast
        && let Some(code) = super::fast::run(&args, choice.explicit)?
    {
        return Ok(code);
    }
    let _ = choice;
    run_interp(args)
}

/// `tern run` on the interpreter.
fn run_interp(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = Config::default();
    let module = load_module(&config, &args.module)?;
    let mut store = Store::new(&config);
    let mut builder = wasi_builder(&args)?;
    builder.interrupt_flag(store.interrupt_handle());
    let wasi = Arc::new(Mutex::new(
        builder.build().map_err(|e| anyhow::anyhow!("{e}"))?,
    ));
    let mut linker = Linker::new();
    add_to_linker(&mut linker, wasi.clone());
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.module.display()))?;
    let (name, params) = match &args.invoke {
        Some(name) => (name.clone(), invoke_args(&module, name, &args.args)?),
        None => ("_start".to_string(), Vec::new()),
    };
    let default_snapshot = args.module.with_extension("tern");
    let tracer = args.trace.tracer(&module, 0)?;
    let session = Session {
        store,
        instance,
        identity: ModuleIdentity::of(module.bytes()),
        module,
        wasi,
        instructions_before: Some(0),
        print_results: args.invoke.is_some(),
        tracer,
    };
    #[cfg(not(target_os = "wasi"))]
    if args.migration.enabled() {
        if !args.checkpoint.triggers.is_empty() || args.invoke.is_some() {
            bail!("--control/--migrate-on cannot be combined with --checkpoint-on or --invoke");
        }
        let bytes = session.module.bytes().to_vec();
        return super::migrate::drive(session, &args.migration, bytes, |store| {
            store.invoke(instance, &name, &params)
        });
    }
    drive(session, &args.checkpoint, &default_snapshot, |store| {
        store.invoke(instance, &name, &params)
    })
}

/// Parses `--invoke` arguments by the signature of export `name`.
pub(super) fn invoke_args(
    module: &Module,
    name: &str,
    args: &[String],
) -> anyhow::Result<Vec<Value>> {
    let index = module
        .exported_func(name)
        .with_context(|| format!("no exported function named `{name}`"))?;
    let ty = module
        .func_type(index)
        .expect("exported functions have types");
    if args.len() != ty.params.len() {
        bail!("`{name}` has type {ty}: {} arguments given", args.len());
    }
    ty.params
        .iter()
        .zip(args)
        .map(|(ty, text)| values::parse(*ty, text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("argument {e}"))
}
