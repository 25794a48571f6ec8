//! Runs `.wast` scripts on the fast tier (tern-fast on wasmtime), uninterrupted or in
//! checkpoint mode.
//!
//! Every instance of a script lives in one [`FastStore`] (wasmtime links only instances
//! of one store). Modules are validated by the interpreter's validator with the script's
//! features first (the fast tier's engine enables every feature tern supports, so a
//! module a script expects to be invalid under Wasm 2.0 would otherwise compile), then
//! instrumented and compiled by tern-fast.
//!
//! In checkpoint mode an invocation stops at its `spacing`-th safepoint (function entry
//! or loop header, counted by [`FastStore::request_after`]); the instance unwinds, is
//! captured into a real snapshot file (tern-snapshot's atomic writer), read back,
//! restored into a fresh instance through continuation clones and resumed, which stops
//! again `spacing` safepoints later, up to `max_per_call` times; the results must be
//! what the uninterrupted semantics require. An invocation whose state one snapshot
//! cannot hold (see [`FastStore::checkpointable`]: the instance imports other
//! instances' functions or a table, uses `externref`, has a start function, or is
//! imported from) runs uninterrupted and is counted in
//! [`WastReport::not_checkpointed`] by reason.

use super::files::snapshot_path;
use super::script::{Failure, Instantiated, ScriptEngine, run_script};
use super::{Result, WastReport};
use std::path::PathBuf;
use std::sync::OnceLock;
use tern_fast::{FastEngine, FastModule, FastStore, LinkedId, Outcome, RunError};
use tern_interp::{Config, Value, WasmFeatures};
use tern_snapshot::{TriggerInfo, trigger_kind};
use wast::QuoteWat;

/// How to run a script on the fast tier.
#[derive(Debug, Clone)]
pub struct FastWastOptions {
    /// Features the interpreter's validator checks modules against.
    pub features: WasmFeatures,
    /// Checkpoint invocations every this many safepoints (1: at the function's entry).
    pub checkpoint_every: Option<u64>,
    /// At most this many checkpoints per invocation; the rest runs uninterrupted.
    pub max_checkpoints_per_call: u32,
    /// Checkpoint only every this many-th invocation of a script (1: all), so that a
    /// restore, which compiles a clones module, stays affordable for the whole suite.
    pub sample_every: u64,
}

impl Default for FastWastOptions {
    fn default() -> Self {
        FastWastOptions {
            features: Config::supported_features(),
            checkpoint_every: None,
            max_checkpoints_per_call: 4,
            sample_every: 1,
        }
    }
}

/// The process's engine: one for every script and thread (compiled code is per engine).
fn engine() -> Result<&'static FastEngine> {
    static ENGINE: OnceLock<std::result::Result<FastEngine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| FastEngine::counting_safepoints().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs the script `source` on the fast tier; the error is a script that does not parse
/// or an engine that cannot be made.
pub fn run_wast_fast(source: &str, options: &FastWastOptions) -> Result<WastReport> {
    let (mut report, mut runner) = run_script(source, FastRunner::new(options)?)?;
    report.checkpoints = runner.checkpoints;
    report.not_checkpointed = std::mem::take(&mut runner.not_checkpointed);
    Ok(report)
}

struct FastRunner {
    options: FastWastOptions,
    config: Config,
    engine: &'static FastEngine,
    store: FastStore,
    checkpoints: u64,
    not_checkpointed: std::collections::BTreeMap<String, u64>,
    /// Checkpointable invocations so far (for `sample_every`).
    invocations: u64,
    snapshot_path: PathBuf,
}

impl Drop for FastRunner {
    fn drop(&mut self) {
        // Best effort: a leftover file is only a few KiB on a temporary file system.
        let _ = std::fs::remove_file(&self.snapshot_path);
    }
}

/// A trap with wasmtime's message (`wasm trap: …` and a backtrace); shown as its kind.
struct WasmtimeTrap(String);

impl std::fmt::Display for WasmtimeTrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(trap_kind(&self.0))
    }
}

fn failure(e: RunError) -> Failure<WasmtimeTrap> {
    match e {
        RunError::Trap(message) => Failure::Trap(WasmtimeTrap(message)),
        other => Failure::Other(other.to_string()),
    }
}

/// The kind of a trap: the first line of wasmtime's message without `wasm trap: `.
fn trap_kind(message: &str) -> &str {
    let first = message.lines().next().unwrap_or_default();
    first.strip_prefix("wasm trap: ").unwrap_or(first)
}

/// Whether a trap is the one a script's message describes (wasmtime words some traps
/// differently: "wasm `unreachable` instruction executed", "undefined element: out of
/// bounds table access").
fn trap_matches(message: &str, expected: &str) -> bool {
    let ours = trap_kind(message);
    ours.contains(expected)
        || expected.starts_with(ours)
        || (expected == "unreachable" && ours.contains("`unreachable`"))
        || (expected == "uninitialized" && ours.contains("uninitialized element"))
        || (expected == "out of bounds table access" && ours.contains("undefined element"))
}

impl FastRunner {
    fn new(options: &FastWastOptions) -> Result<Self> {
        let engine = engine()?;
        let mut store = FastStore::new(engine).map_err(|e| e.to_string())?;
        store.define_spectest().map_err(|e| e.to_string())?;
        Ok(FastRunner {
            options: options.clone(),
            config: Config::with_features(options.features),
            engine,
            store,
            checkpoints: 0,
            not_checkpointed: Default::default(),
            invocations: 0,
            snapshot_path: snapshot_path(),
        })
    }

    /// Safepoints until the first checkpoint of an invocation of `id` with `args`, or
    /// `None` (uninterrupted mode, or counted as not checkpointable).
    fn first_checkpoint(&mut self, id: LinkedId, args: &[Value]) -> Option<u64> {
        let every = self.options.checkpoint_every?;
        let why = match self.store.checkpointable(id) {
            Ok(None) if args.iter().any(|a| matches!(a, Value::ExternRef(Some(_)))) => {
                Some("an argument is a non-null externref".to_string())
            }
            Ok(None) => None,
            Ok(Some(why)) => Some(why.to_string()),
            Err(e) => Some(e.to_string()),
        };
        match why {
            None => {
                // Sampled among the checkpointable invocations.
                self.invocations += 1;
                (self.invocations - 1)
                    .is_multiple_of(self.options.sample_every.max(1))
                    .then_some(every)
            }
            Some(why) => {
                *self.not_checkpointed.entry(why).or_default() += 1;
                None
            }
        }
    }

    /// Runs an export, checkpointing it as the options ask.
    fn run(
        &mut self,
        id: LinkedId,
        name: &str,
        args: &[Value],
    ) -> std::result::Result<Vec<Value>, Failure<WasmtimeTrap>> {
        let first = self.first_checkpoint(id, args);
        self.store.request_after(first.unwrap_or(0));
        let mut outcome = self.store.invoke(id, name, args);
        let mut taken = 0;
        loop {
            match outcome.map_err(failure)? {
                Outcome::Finished(values) => return Ok(values),
                Outcome::Unwound => {
                    self.checkpoint(id).map_err(Failure::Other)?;
                    taken += 1;
                    // A resumed run's first safepoint is the top clone's entry, where
                    // the state is the one just restored: count one more.
                    let next = first
                        .filter(|_| taken < self.options.max_checkpoints_per_call)
                        .map_or(0, |every| every + 1);
                    self.store.request_after(next);
                    outcome = self.store.resume(id);
                }
            }
        }
    }

    /// Moves the unwound instance `id` through a snapshot file into a fresh instance.
    fn checkpoint(&mut self, id: LinkedId) -> Result<()> {
        let path = &self.snapshot_path;
        let trigger = TriggerInfo::now(trigger_kind::MANUAL, "spec suite");
        let snapshot = self.store.capture(id, trigger).map_err(|e| e.to_string())?;
        tern_snapshot::write_snapshot_file(path, &snapshot).map_err(|e| e.to_string())?;
        let read = tern_snapshot::read_snapshot_file(path).map_err(|e| e.to_string())?;
        self.store.restore(id, &read).map_err(|e| e.to_string())?;
        self.checkpoints += 1;
        Ok(())
    }
}

impl ScriptEngine for FastRunner {
    type Module = FastModule;
    type Instance = LinkedId;
    type Trap = WasmtimeTrap;

    fn compile(&self, wat: &mut QuoteWat<'_>) -> Result<FastModule> {
        let bytes = wat
            .encode()
            .map_err(|e| format!("text does not parse: {e}"))?;
        tern_interp::Module::new(&self.config, &bytes).map_err(|e| e.to_string())?;
        FastModule::new(self.engine, &bytes).map_err(|e| e.to_string())
    }

    fn instantiate(&mut self, module: &FastModule) -> Instantiated<LinkedId, WasmtimeTrap> {
        match self.store.instantiate(module) {
            Ok(id) => Instantiated::Instance(id),
            // wasmtime refused to link (or instantiate) it.
            Err(e @ RunError::Fatal(_)) => Instantiated::Unlinkable(e.to_string()),
            Err(e) => Instantiated::Failed(failure(e)),
        }
    }

    fn register(&mut self, name: &str, id: LinkedId) -> Result<()> {
        self.store.register(name, id).map_err(|e| e.to_string())
    }

    fn invoke(
        &mut self,
        id: LinkedId,
        name: &str,
        args: &[Value],
    ) -> std::result::Result<Vec<Value>, Failure<WasmtimeTrap>> {
        self.run(id, name, args)
    }

    fn global(&mut self, id: LinkedId, name: &str) -> Result<Value> {
        self.store.global(id, name).map_err(|e| e.to_string())
    }

    fn trap_matches(trap: &WasmtimeTrap, message: &str) -> bool {
        trap_matches(&trap.0, message)
    }

    fn is_exhaustion(trap: &WasmtimeTrap) -> bool {
        trap_kind(&trap.0) == "call stack exhausted"
    }
}
