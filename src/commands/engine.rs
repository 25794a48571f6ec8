//! `--engine fast|interp`, shared by `tern run` and `tern restore`: which engine runs the
//! program, and when options only the interpreter has decide it.

use super::checkpoint::CheckpointArgs;
use super::trace::TraceArgs;

/// An engine of tern.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The fast tier: the module instrumented and compiled by wasmtime (Cranelift).
    Fast,
    /// The interpreter: slower, but it traces and stops after exact instruction counts.
    Interp,
}

/// Which engine runs the program.
#[derive(clap::Args, Debug, Default)]
pub struct EngineArgs {
    /// Engine: `fast` (the default; compiled with wasmtime) or `interp` (the
    /// interpreter). Without this option, options only the interpreter has (`--trace`,
    /// `--checkpoint-on instructions:N`) select the interpreter.
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub engine: Option<Engine>,
}

/// The engine chosen for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub engine: Engine,
    /// `--engine` was given: no fallback to the interpreter.
    pub explicit: bool,
}

/// A command line tern refuses as a whole (exit status 2, like a clap usage error).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The first option given that only the interpreter supports, as the user wrote it.
pub fn interp_only_option(checkpoint: &CheckpointArgs, trace: &TraceArgs) -> Option<String> {
    if trace.trace {
        return Some("--trace".into());
    }
    checkpoint
        .triggers
        .iter()
        .find(|t| t.starts_with("instructions:") || *t == "instructions")
        .map(|t| format!("--checkpoint-on {t}"))
}

impl EngineArgs {
    /// The engine for a run that uses `interp_only` (see [`interp_only_option`]).
    pub fn choose(&self, interp_only: Option<String>) -> anyhow::Result<Choice> {
        let explicit = self.engine.is_some();
        let engine = match (self.engine, interp_only) {
            (Some(Engine::Fast), Some(option)) => {
                return Err(UsageError(format!(
                    "{option} is not supported by the fast engine: use --engine interp \
                     (or leave out --engine)"
                ))
                .into());
            }
            (Some(engine), _) => engine,
            (None, Some(_)) => Engine::Interp,
            (None, None) if cfg!(feature = "fast") => Engine::Fast,
            (None, None) => Engine::Interp,
        };
        if engine == Engine::Fast && !cfg!(feature = "fast") {
            return Err(UsageError(
                "--engine fast: this tern was built without the fast engine (cargo feature \
                 `fast`); use --engine interp"
                    .into(),
            )
            .into());
        }
        Ok(Choice { engine, explicit })
    }
}
