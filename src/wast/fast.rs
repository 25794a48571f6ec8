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
use super::values::{arg_value, matches_ret};
use super::{Result, WastReport, buffer};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use tern_fast::{FastEngine, FastModule, FastStore, LinkedId, Outcome, RunError};
use tern_interp::{Config, Value, WasmFeatures};
use tern_snapshot::{TriggerInfo, trigger_kind};
use wast::parser;
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke, Wat};

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
    let buffer = buffer(source)?;
    let wast: Wast<'_> = parser::parse(&buffer).map_err(|e| e.to_string())?;
    let mut runner = FastRunner::new(options)?;
    let mut report = WastReport::default();
    for directive in wast.directives {
        let (line, _) = directive.span().linecol_in(source);
        report.directives += 1;
        match runner.directive(directive) {
            Ok(()) => report.passed += 1,
            Err(message) => report.failures.push((line + 1, message)),
        }
    }
    report.checkpoints = runner.checkpoints;
    report.not_checkpointed = std::mem::take(&mut runner.not_checkpointed);
    Ok(report)
}

struct FastRunner {
    options: FastWastOptions,
    config: Config,
    engine: &'static FastEngine,
    store: FastStore,
    current: Option<LinkedId>,
    named: HashMap<String, LinkedId>,
    definitions: HashMap<String, FastModule>,
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

enum Failure {
    /// A trap, with wasmtime's message (`wasm trap: …` and a backtrace).
    Trap(String),
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Trap(message) => write!(f, "trap: {}", trap_kind(message)),
            Failure::Other(message) => f.write_str(message),
        }
    }
}

impl From<RunError> for Failure {
    fn from(e: RunError) -> Failure {
        match e {
            RunError::Trap(message) => Failure::Trap(message),
            other => Failure::Other(other.to_string()),
        }
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
            current: None,
            named: HashMap::new(),
            definitions: HashMap::new(),
            checkpoints: 0,
            not_checkpointed: Default::default(),
            invocations: 0,
            snapshot_path: snapshot_path(),
        })
    }

    fn compile(&self, wat: &mut QuoteWat<'_>) -> Result<FastModule> {
        let bytes = wat
            .encode()
            .map_err(|e| format!("text does not parse: {e}"))?;
        tern_interp::Module::new(&self.config, &bytes).map_err(|e| e.to_string())?;
        FastModule::new(self.engine, &bytes).map_err(|e| e.to_string())
    }

    fn instance(&self, id: Option<wast::token::Id<'_>>) -> Result<LinkedId> {
        match id {
            Some(name) => self
                .named
                .get(name.name())
                .copied()
                .ok_or_else(|| format!("unknown module ${}", name.name())),
            None => self
                .current
                .ok_or_else(|| "no module instantiated yet".into()),
        }
    }

    fn add_instance(
        &mut self,
        name: Option<wast::token::Id<'_>>,
        module: &FastModule,
    ) -> Result<()> {
        let id = self.store.instantiate(module).map_err(|e| e.to_string())?;
        if let Some(name) = name {
            self.named.insert(name.name().to_string(), id);
        }
        self.current = Some(id);
        Ok(())
    }

    fn directive(&mut self, directive: WastDirective<'_>) -> Result<()> {
        match directive {
            WastDirective::Module(mut wat) => {
                let module = self.compile(&mut wat)?;
                self.add_instance(wat.name(), &module)
            }
            WastDirective::ModuleDefinition(mut wat) => {
                let module = self.compile(&mut wat)?;
                if let Some(name) = wat.name() {
                    self.definitions.insert(name.name().to_string(), module);
                }
                Ok(())
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let name = module.ok_or("module instance without a definition name")?;
                let def = self
                    .definitions
                    .get(name.name())
                    .cloned()
                    .ok_or("unknown definition")?;
                self.add_instance(instance, &def)
            }
            WastDirective::Register { name, module, .. } => {
                let id = self.instance(module)?;
                self.store.register(name, id).map_err(|e| e.to_string())
            }
            WastDirective::Invoke(invoke) => {
                self.invoke(invoke).map(drop).map_err(|e| e.to_string())
            }
            WastDirective::AssertMalformed { mut module, .. }
            | WastDirective::AssertInvalid { mut module, .. } => match self.compile(&mut module) {
                Ok(_) => Err("module was accepted".into()),
                Err(_) => Ok(()),
            },
            WastDirective::AssertUnlinkable { module, .. } => {
                let module = self.compile(&mut QuoteWat::Wat(module))?;
                match self.store.instantiate(&module) {
                    Err(RunError::Fatal(_)) => Ok(()),
                    Err(other) => Err(format!("expected a link error, got: {other}")),
                    Ok(_) => Err("module linked".into()),
                }
            }
            WastDirective::AssertReturn { exec, results, .. } => {
                let actual = self.execute(exec).map_err(|e| e.to_string())?;
                if actual.len() != results.len() {
                    return Err(format!(
                        "expected {} results, got {actual:?}",
                        results.len()
                    ));
                }
                for (value, expected) in actual.iter().zip(&results) {
                    if !matches_ret(value, expected) {
                        return Err(format!("expected {expected:?}, got {value:?}"));
                    }
                }
                Ok(())
            }
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec) {
                Ok(values) => Err(format!("expected trap `{message}`, got {values:?}")),
                Err(Failure::Trap(trap)) if trap_matches(&trap, message) => Ok(()),
                Err(other) => Err(format!("expected trap `{message}`, got: {other}")),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(call) {
                Err(Failure::Trap(trap)) if trap_kind(&trap) == "call stack exhausted" => Ok(()),
                Ok(values) => Err(format!("expected `{message}`, got {values:?}")),
                Err(other) => Err(format!("expected `{message}`, got: {other}")),
            },
            other => Err(format!("unsupported directive {other:?}")),
        }
    }

    fn execute(&mut self, exec: WastExecute<'_>) -> std::result::Result<Vec<Value>, Failure> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(invoke),
            WastExecute::Wat(Wat::Module(module)) => {
                let module = self
                    .compile(&mut QuoteWat::Wat(Wat::Module(module)))
                    .map_err(Failure::Other)?;
                self.store.instantiate(&module)?;
                Ok(Vec::new())
            }
            WastExecute::Wat(_) => Err(Failure::Other("components are not supported".into())),
            WastExecute::Get { module, global, .. } => {
                let id = self.instance(module).map_err(Failure::Other)?;
                let value = self
                    .store
                    .global(id, global)
                    .map_err(|e| Failure::Other(e.to_string()))?;
                Ok(vec![value])
            }
        }
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

    fn invoke(&mut self, invoke: WastInvoke<'_>) -> std::result::Result<Vec<Value>, Failure> {
        let id = self.instance(invoke.module).map_err(Failure::Other)?;
        let args = invoke
            .args
            .iter()
            .map(arg_value)
            .collect::<Result<Vec<_>>>()
            .map_err(Failure::Other)?;
        let first = self.first_checkpoint(id, &args);
        self.store.request_after(first.unwrap_or(0));
        let mut outcome = self.store.invoke(id, invoke.name, &args);
        let mut taken = 0;
        loop {
            match outcome? {
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
