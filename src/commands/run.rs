//! `tern run`: instantiate a module and run `_start` or an exported function.

use super::values;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tern_interp::{Config, Linker, Module, Outcome, RunError, Store};

/// Run a WebAssembly module.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Call this exported function instead of `_start` and print its results, one per line.
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
    /// The module: a binary `.wasm` or a text `.wat` file.
    module: PathBuf,
    /// Arguments for `--invoke`, typed by the function's signature.
    #[arg(allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Reads and compiles a module file, binary or text.
pub fn load_module(config: &Config, path: &Path) -> anyhow::Result<Module> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let binary = wat::parse_bytes(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Module::new(config, &binary).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = Config::default();
    let module = load_module(&config, &args.module)?;
    let mut store = Store::new(&config);
    let instance = Linker::new()
        .instantiate(&mut store, &module)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.module.display()))?;
    let name = args.invoke.as_deref().unwrap_or("_start");
    let index = module
        .exported_func(name)
        .with_context(|| format!("{}: no exported function named `{name}`", args.module.display()))?;
    let ty = module.func_type(index).expect("exported functions have types");
    if args.args.len() != ty.params.len() {
        bail!("`{name}` takes {} arguments ({}), {} given", ty.params.len(), ty, args.args.len());
    }
    let params = ty
        .params
        .iter()
        .zip(&args.args)
        .map(|(ty, text)| values::parse(*ty, text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("argument {e}"))?;
    match store.invoke(instance, name, &params) {
        Ok(Outcome::Finished(results)) => {
            if args.invoke.is_some() {
                for value in &results {
                    println!("{}", values::format(value));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok(Outcome::Paused(reason)) => bail!("execution paused unexpectedly ({reason:?})"),
        Err(RunError::Exit(code)) => Ok(ExitCode::from(code as u8)),
        Err(e) => Err(e.into()),
    }
}
