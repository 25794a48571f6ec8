//! Runs `.wast` scripts (the format of the official spec tests) on the interpreter and,
//! with the `fast` feature, on the fast tier ([`fast`]).
//!
//! In checkpoint mode every invocation is paused every `n` instructions; at each pause
//! the store's whole state is captured and written as a real snapshot file (the atomic
//! writer of `tern run`), read back with the reader of `tern restore` and restored into a
//! blank copy of the store, which then carries on. A script passes in checkpoint mode
//! only if every result is what the uninterrupted semantics require.

#[cfg(feature = "fast")]
pub mod fast;
mod files;
mod values;

use files::snapshot_path;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use tern_interp::{
    Config, Extern, FuncType, GlobalType, InstanceId, InstantiateError, Limits, Linker, MemoryType,
    Module, Outcome, RunError, Store, TableType, TrapKind, ValType, Value, WasmFeatures,
};
use tern_snapshot::{ModuleIdentity, Snapshot, SnapshotView, TriggerInfo, trigger_kind};
use values::{arg_value, matches_ret};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke, Wat};

/// How to run a script.
#[derive(Debug, Clone)]
pub struct WastOptions {
    pub features: WasmFeatures,
    /// Pause, snapshot and restore every this many instructions (counted execution).
    pub checkpoint_every: Option<u64>,
    /// Pause, snapshot and restore at every point where an interrupt request is
    /// honoured (backward branches, calls), running uncounted, fused code.
    pub checkpoint_at_polls: bool,
    /// At most this many checkpoints per invocation; the rest runs uninterrupted, so
    /// that deep recursion and long loops stay affordable at small intervals.
    pub max_checkpoints_per_call: u32,
}

impl Default for WastOptions {
    fn default() -> Self {
        WastOptions {
            features: Config::supported_features(),
            checkpoint_every: None,
            checkpoint_at_polls: false,
            max_checkpoints_per_call: 100,
        }
    }
}

/// What happened to one script.
#[derive(Debug, Default, Clone)]
pub struct WastReport {
    pub directives: usize,
    pub passed: usize,
    /// `(line, message)` of every failed directive; lines are 1-based.
    pub failures: Vec<(usize, String)>,
    /// Snapshots taken and restored (checkpoint mode only).
    pub checkpoints: u64,
    /// Invocations that checkpoint mode ran uninterrupted because their state cannot
    /// be one snapshot (fast tier only; see [`fast`]), by reason.
    pub not_checkpointed: std::collections::BTreeMap<String, u64>,
}

/// Runs the script `source`; the error is a script that does not parse.
pub fn run_wast(source: &str, options: &WastOptions) -> Result<WastReport> {
    let buffer = buffer(source)?;
    let wast: Wast<'_> = parser::parse(&buffer).map_err(|e| e.to_string())?;
    let mut runner = Runner::new(options);
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
    Ok(report)
}

/// The tokens of `source`, ready for `wast::parser::parse`.
fn buffer(source: &str) -> Result<ParseBuffer<'_>> {
    // Spec scripts deliberately use bidirectional and invisible characters in names.
    let mut lexer = wast::lexer::Lexer::new(source);
    lexer.allow_confusing_unicode(true);
    ParseBuffer::new_with_lexer(lexer).map_err(|e| e.to_string())
}

struct Runner {
    options: WastOptions,
    config: Config,
    store: Store,
    linker: Linker,
    current: Option<InstanceId>,
    named: HashMap<String, InstanceId>,
    definitions: HashMap<String, Module>,
    checkpoints: u64,
    /// Where this thread's checkpoints go (created on the first one).
    snapshot_path: PathBuf,
}

type Result<T> = std::result::Result<T, String>;

impl Drop for Runner {
    fn drop(&mut self) {
        // Best effort: a leftover file is only a few KiB on a temporary file system.
        let _ = std::fs::remove_file(&self.snapshot_path);
    }
}

impl Runner {
    fn new(options: &WastOptions) -> Self {
        let config = Config::with_features(options.features);
        let mut store = Store::new(&config);
        let linker = spectest(&mut store);
        Runner {
            options: options.clone(),
            config,
            store,
            linker,
            current: None,
            named: HashMap::new(),
            definitions: HashMap::new(),
            checkpoints: 0,
            snapshot_path: snapshot_path(),
        }
    }

    fn compile(&self, wat: &mut QuoteWat<'_>) -> Result<Module> {
        let bytes = wat
            .encode()
            .map_err(|e| format!("text does not parse: {e}"))?;
        Module::new(&self.config, &bytes).map_err(|e| e.to_string())
    }

    fn instance(&self, id: Option<wast::token::Id<'_>>) -> Result<InstanceId> {
        match id {
            Some(id) => self
                .named
                .get(id.name())
                .copied()
                .ok_or(format!("unknown module ${}", id.name())),
            None => self.current.ok_or("no module instantiated yet".into()),
        }
    }

    fn instantiate(
        &mut self,
        module: &Module,
    ) -> std::result::Result<InstanceId, InstantiateError> {
        self.linker.instantiate(&mut self.store, module)
    }

    fn add_instance(&mut self, name: Option<wast::token::Id<'_>>, module: &Module) -> Result<()> {
        let id = self.instantiate(module).map_err(|e| e.to_string())?;
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
                self.linker.define_instance(&self.store, name, id);
                Ok(())
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
                match self.instantiate(&module) {
                    Err(InstantiateError::Link(_)) => Ok(()),
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
                Err(Failure::Trap(kind)) if trap_matches(kind, message) => Ok(()),
                Err(other) => Err(format!("expected trap `{message}`, got: {other}")),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(call) {
                Err(Failure::Trap(TrapKind::StackExhausted)) => Ok(()),
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
                match self.instantiate(&module) {
                    Ok(_) => Ok(Vec::new()),
                    Err(InstantiateError::Trap(trap)) => Err(Failure::Trap(trap.kind)),
                    Err(e) => Err(Failure::Other(e.to_string())),
                }
            }
            WastExecute::Wat(_) => Err(Failure::Other("components are not supported".into())),
            WastExecute::Get { module, global, .. } => {
                let id = self.instance(module).map_err(Failure::Other)?;
                match self.store.export(id, global) {
                    Some(Extern::Global(addr)) => Ok(vec![
                        self.store.global_value(addr).expect("exported global"),
                    ]),
                    _ => Err(Failure::Other(format!("no global export `{global}`"))),
                }
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
        let every = self.options.checkpoint_every;
        let at_polls = self.options.checkpoint_at_polls;
        self.store.set_instruction_budget(every);
        self.store
            .interrupt_handle()
            .store(at_polls, Ordering::Relaxed);
        let mut outcome = self.store.invoke(id, invoke.name, &args);
        let mut taken = 0;
        loop {
            match outcome {
                Ok(Outcome::Finished(values)) => {
                    self.store.set_instruction_budget(None);
                    self.store
                        .interrupt_handle()
                        .store(false, Ordering::Relaxed);
                    return Ok(values);
                }
                Ok(Outcome::Paused(_)) => {
                    self.checkpoint().map_err(Failure::Other)?;
                    taken += 1;
                    let more = taken < self.options.max_checkpoints_per_call;
                    self.store.set_instruction_budget(every.filter(|_| more));
                    self.store
                        .interrupt_handle()
                        .store(at_polls && more, Ordering::Relaxed);
                    outcome = self.store.resume();
                }
                Err(RunError::Trap(trap)) => {
                    self.store.set_instruction_budget(None);
                    self.store
                        .interrupt_handle()
                        .store(false, Ordering::Relaxed);
                    return Err(Failure::Trap(trap.kind));
                }
                Err(other) => return Err(Failure::Other(other.to_string())),
            }
        }
    }

    /// Moves the paused store through a snapshot file (the whole format: sections,
    /// compressed pages, checksum; the atomic write and the reading of `tern run` and
    /// `tern restore`) into a blank copy of itself.
    fn checkpoint(&mut self) -> Result<()> {
        let path = &self.snapshot_path;
        let (state, memories) = self.store.capture_borrowed();
        let snapshot = Snapshot {
            module: ModuleIdentity::of(b""),
            trigger: TriggerInfo::now(trigger_kind::INSTRUCTIONS, ""),
            state,
            wasi: None,
        };
        tern_snapshot::write_snapshot_file_with_memories(path, &snapshot, &memories)
            .map_err(|e| e.to_string())?;
        let bytes = tern_snapshot::read_snapshot_bytes(path).map_err(|e| e.to_string())?;
        let view = SnapshotView::parse(&bytes).map_err(|e| e.to_string())?;
        let mut fresh = self.store.blank_copy();
        fresh
            .restore_with(&view.state, |i, memory| {
                view.fill_memory(i, memory).map_err(|e| e.to_string())
            })
            .map_err(|e| e.to_string())?;
        self.store = fresh;
        self.checkpoints += 1;
        Ok(())
    }
}

enum Failure {
    Trap(TrapKind),
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Trap(kind) => write!(f, "trap: {kind}"),
            Failure::Other(message) => f.write_str(message),
        }
    }
}

/// Whether a trap of `kind` is the one a script's message describes. Scripts word some
/// traps differently from tern (e.g. "undefined element" for an out-of-range indirect
/// call), so the comparison accepts the spec's known synonyms.
fn trap_matches(kind: TrapKind, message: &str) -> bool {
    let ours = kind.to_string();
    message.starts_with(&ours)
        || ours.starts_with(message)
        || matches!(
            (kind, message),
            (TrapKind::UndefinedElement, "out of bounds table access")
                | (TrapKind::TableOutOfBounds, "undefined element")
                | (TrapKind::UninitializedElement, "uninitialized")
        )
}

/// The `spectest` module every spec script may import from.
fn spectest(store: &mut Store) -> Linker {
    let mut linker = Linker::new();
    let print = |params: &[ValType]| FuncType::new(params.iter().copied(), []);
    for (name, params) in [
        ("print", &[][..]),
        ("print_i32", &[ValType::I32]),
        ("print_i64", &[ValType::I64]),
        ("print_f32", &[ValType::F32]),
        ("print_f64", &[ValType::F64]),
        ("print_i32_f32", &[ValType::I32, ValType::F32]),
        ("print_f64_f64", &[ValType::F64, ValType::F64]),
    ] {
        linker.func("spectest", name, print(params), |_, _| Ok(Vec::new()));
    }
    let globals = [
        ("global_i32", Value::I32(666)),
        ("global_i64", Value::I64(666)),
        ("global_f32", Value::F32(666.6f32.to_bits())),
        ("global_f64", Value::F64(666.6f64.to_bits())),
    ];
    for (name, value) in globals {
        let ty = GlobalType {
            content: ValType::of(&value),
            mutable: false,
        };
        linker.define(
            "spectest",
            name,
            Extern::Global(store.new_global(ty, value)),
        );
    }
    let table = TableType {
        element: ValType::FuncRef,
        limits: Limits {
            min: 10,
            max: Some(20),
        },
    };
    linker.define("spectest", "table", Extern::Table(store.new_table(table)));
    let memory = MemoryType {
        limits: Limits {
            min: 1,
            max: Some(2),
        },
    };
    linker.define(
        "spectest",
        "memory",
        Extern::Memory(store.new_memory(memory)),
    );
    linker
}
