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
mod script;
mod values;

use files::snapshot_path;
use script::{Failure, Instantiated, ScriptEngine, run_script};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use tern_interp::{
    Config, Extern, FuncType, GlobalType, InstanceId, InstantiateError, Limits, Linker, MemoryType,
    Module, Outcome, RunError, Store, TableType, TrapKind, ValType, Value, WasmFeatures,
};
use tern_snapshot::{ModuleIdentity, Snapshot, SnapshotView, TriggerInfo, trigger_kind};
use wast::QuoteWat;
use wast::parser::ParseBuffer;

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
    let (mut report, runner) = run_script(source, Runner::new(options))?;
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
            checkpoints: 0,
            snapshot_path: snapshot_path(),
        }
    }

    /// Runs an export, pausing and moving the store through a snapshot file as the
    /// options ask.
    fn run(
        &mut self,
        id: InstanceId,
        name: &str,
        args: &[Value],
    ) -> std::result::Result<Vec<Value>, Failure<TrapKind>> {
        let every = self.options.checkpoint_every;
        let at_polls = self.options.checkpoint_at_polls;
        self.store.set_instruction_budget(every);
        self.store
            .interrupt_handle()
            .store(at_polls, Ordering::Relaxed);
        let mut outcome = self.store.invoke(id, name, args);
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

impl ScriptEngine for Runner {
    type Module = Module;
    type Instance = InstanceId;
    type Trap = TrapKind;

    fn compile(&self, wat: &mut QuoteWat<'_>) -> Result<Module> {
        let bytes = wat
            .encode()
            .map_err(|e| format!("text does not parse: {e}"))?;
        Module::new(&self.config, &bytes).map_err(|e| e.to_string())
    }

    fn instantiate(&mut self, module: &Module) -> Instantiated<InstanceId, TrapKind> {
        match self.linker.instantiate(&mut self.store, module) {
            Ok(id) => Instantiated::Instance(id),
            Err(e @ InstantiateError::Link(_)) => Instantiated::Unlinkable(e.to_string()),
            Err(InstantiateError::Trap(trap)) => Instantiated::Failed(Failure::Trap(trap.kind)),
        }
    }

    fn register(&mut self, name: &str, id: InstanceId) -> Result<()> {
        self.linker.define_instance(&self.store, name, id);
        Ok(())
    }

    fn invoke(
        &mut self,
        id: InstanceId,
        name: &str,
        args: &[Value],
    ) -> std::result::Result<Vec<Value>, Failure<TrapKind>> {
        self.run(id, name, args)
    }

    fn global(&mut self, id: InstanceId, name: &str) -> Result<Value> {
        match self.store.export(id, name) {
            Some(Extern::Global(addr)) => {
                Ok(self.store.global_value(addr).expect("exported global"))
            }
            _ => Err(format!("no global export `{name}`")),
        }
    }

    fn trap_matches(kind: &TrapKind, message: &str) -> bool {
        trap_matches(*kind, message)
    }

    fn is_exhaustion(kind: &TrapKind) -> bool {
        *kind == TrapKind::StackExhausted
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
