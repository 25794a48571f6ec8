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
    /// interpreter). Without this option, `--trace` (only the interpreter has it) and
    /// `--checkpoint-on instructions:N` (exact on the interpreter, approximate on the
    /// fast engine) select the interpreter.
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

/// Why a run would rather be on the interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpReason {
    /// An option only the interpreter has (`--trace`), as the user wrote it.
    Requires(String),
    /// An option the interpreter honours exactly and the fast tier approximately
    /// (`--checkpoint-on instructions:N`): the interpreter, unless `--engine fast`.
    Prefers(String),
}

/// The first option given that needs or prefers the interpreter.
pub fn interp_reason(checkpoint: &CheckpointArgs, trace: &TraceArgs) -> Option<InterpReason> {
    if trace.trace {
        return Some(InterpReason::Requires("--trace".into()));
    }
    checkpoint
        .triggers
        .iter()
        .find(|t| t.starts_with("instructions:") || *t == "instructions")
        .map(|t| InterpReason::Prefers(format!("--checkpoint-on {t}")))
}

impl EngineArgs {
    /// The engine for a run with the options behind `reason` (see [`interp_reason`]).
    pub fn choose(&self, reason: Option<InterpReason>) -> anyhow::Result<Choice> {
        let explicit = self.engine.is_some();
        let engine = match (self.engine, reason) {
            (Some(Engine::Fast), Some(InterpReason::Requires(option))) => {
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
