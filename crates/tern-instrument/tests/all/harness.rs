//! Runs a program three ways and compares: the original module straight through; the
//! instrumented module straight through; the instrumented module with the checkpoint
//! request set at some instruction, unwound, and the collected frames restored on the
//! original module and run to the end.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tern_instrument::{ADDED_FUNCS, FrameCollector, Instrumented, UNWINDING_OFFSET};
use tern_interp::{
    Config, Extern, FuncType, Limits, Linker, MemoryType, Module, Outcome, Store, ValType, Value,
};
use tern_snapshot::{ExecState, MemoryImage};

/// Adds the program's own host imports (if any) to a linker.
pub type Env = fn(&mut Linker);

pub fn no_env(_: &mut Linker) {}

pub struct Program {
    pub name: String,
    pub original: Vec<u8>,
    pub instrumented: Instrumented,
    pub export: String,
    pub args: Vec<Value>,
    pub env: Env,
}

/// What a finished run leaves behind.
#[derive(Debug, PartialEq)]
pub struct Outcome2 {
    pub results: Vec<Value>,
    /// Memories, tables, globals, segments: the canonical state with no frames.
    pub state: ExecState,
}

impl Program {
    pub fn new(name: &str, original: Vec<u8>, export: &str, args: Vec<Value>, env: Env) -> Self {
        let instrumented = tern_instrument::instrument(&original)
            .unwrap_or_else(|e| panic!("{name}: instrument: {e}"));
        validate(
            &instrumented.module,
            &format!("{name}: instrumented module"),
        );
        Program {
            name: name.into(),
            original,
            instrumented,
            export: export.into(),
            args,
            env,
        }
    }

    /// The uninterrupted run of the original module.
    pub fn reference(&self) -> Outcome2 {
        let (mut store, instance) = self.original_store();
        let results = match store.invoke(instance, &self.export, &self.args) {
            Ok(Outcome::Finished(r)) => r,
            other => panic!("{}: reference run: {other:?}", self.name),
        };
        Outcome2 {
            results,
            state: store.capture(),
        }
    }

    pub fn instrumented_store(
        &self,
    ) -> (
        Store,
        tern_interp::InstanceId,
        u32,
        Arc<Mutex<FrameCollector>>,
    ) {
        let config = Config::default();
        let module =
            Module::new(&config, &self.instrumented.module).expect("instrumented compiles");
        let mut store = Store::new(&config);
        let collector = Arc::new(Mutex::new(FrameCollector::new()));
        let (c, s) = (collector.clone(), collector.clone());
        let (mut linker, flags) = tern_linker(
            &mut store,
            &["frame"],
            move |_, func, site| c.lock().unwrap().frame(func, site),
            move |value| s.lock().unwrap().save(value).map_err(|e| e.to_string()),
        );
        (self.env)(&mut linker);
        let instance = linker
            .instantiate(&mut store, &module)
            .expect("instantiates");
        (store, instance, flags, collector)
    }

    /// The instrumented module straight through, flag never set.
    pub fn instrumented_plain(&self) -> Outcome2 {
        let (mut store, instance, _, collector) = self.instrumented_store();
        let results = match store.invoke(instance, &self.export, &self.args) {
            Ok(Outcome::Finished(r)) => r,
            other => panic!("{}: instrumented run: {other:?}", self.name),
        };
        assert!(collector.lock().unwrap().is_empty(), "no frame reported");
        Outcome2 {
            results,
            state: to_original_state(store.capture()),
        }
    }

    /// A store with the original module instantiated, nothing run yet.
    pub fn original_store(&self) -> (Store, tern_interp::InstanceId) {
        let config = Config::default();
        let module = Module::new(&config, &self.original).expect("original compiles");
        let mut store = Store::new(&config);
        let mut linker = Linker::new();
        (self.env)(&mut linker);
        let instance = linker
            .instantiate(&mut store, &module)
            .expect("instantiates");
        (store, instance)
    }

    /// Instructions of an uninterrupted interpreter run of the original module.
    pub fn original_length(&self) -> u64 {
        let (mut store, instance) = self.original_store();
        store.set_instruction_budget(Some(u64::MAX));
        match store.invoke(instance, &self.export, &self.args) {
            Ok(Outcome::Finished(_)) => store.counted_instructions(),
            other => panic!("{}: {other:?}", self.name),
        }
    }

    /// Instructions the instrumented module executes in a whole run.
    pub fn instrumented_length(&self) -> u64 {
        let (mut store, instance, _, _) = self.instrumented_store();
        store.set_instruction_budget(Some(u64::MAX));
        match store.invoke(instance, &self.export, &self.args) {
            Ok(Outcome::Finished(_)) => store.counted_instructions(),
            other => panic!("{}: {other:?}", self.name),
        }
    }

    /// Requests a checkpoint after `n` instrumented instructions and unwinds. Returns
    /// the canonical state (original numbering) with the collected frames, or the
    /// finished outcome if the program ended before reaching a safepoint.
    pub fn capture_at(&self, n: u64) -> Result<ExecState, Box<Outcome2>> {
        let (mut store, instance, flags, collector) = self.instrumented_store();
        store.set_instruction_budget(Some(n));
        match store.invoke(instance, &self.export, &self.args) {
            Ok(Outcome::Paused(_)) => {}
            other => panic!(
                "{}: expected a pause after {n} instructions: {other:?}",
                self.name
            ),
        }
        store.memory_mut(flags).unwrap()[..4].copy_from_slice(&1u32.to_le_bytes());
        let results = match store.resume() {
            Ok(Outcome::Finished(r)) => r,
            other => panic!("{}: unwinding run: {other:?}", self.name),
        };
        let off = UNWINDING_OFFSET as usize;
        let unwinding = store.memory(flags).unwrap()[off..off + 4] != [0; 4];
        let collector = std::mem::take(&mut *collector.lock().unwrap());
        if !unwinding {
            assert!(collector.is_empty());
            let state = to_original_state(store.capture());
            return Err(Box::new(Outcome2 { results, state }));
        }
        let frames = collector
            .finish(&self.instrumented.map, 0)
            .unwrap_or_else(|e| panic!("{}: at {n}: {e}", self.name));
        let mut state = to_original_state(store.capture());
        state.frames = frames;
        Ok(state)
    }

    /// Requests a checkpoint after `n` instrumented instructions, unwinds, restores the
    /// frames on the original module, runs to the end. Returns the outcome and the site
    /// of the top frame (`None` if the program ended before reaching a safepoint).
    pub fn checkpoint_at(&self, n: u64) -> (Outcome2, Option<(u32, usize)>) {
        let state = match self.capture_at(n) {
            Ok(state) => state,
            Err(finished) => return (*finished, None),
        };
        let top = state.frames.last().expect("a frame");
        let top_site = self
            .instrumented
            .map
            .sites
            .iter()
            .position(|s| {
                s.func == top.func && s.pc == top.pc && s.kind != tern_instrument::SiteKind::Call
            })
            .expect("top site") as u32;
        let depth = state.frames.len();
        (self.restore_and_finish(&state, n), Some((top_site, depth)))
    }

    pub fn restore_and_finish(&self, state: &ExecState, n: u64) -> Outcome2 {
        let config = Config::default();
        let module = Module::new(&config, &self.original).expect("original compiles");
        let mut store = Store::new(&config);
        let mut linker = Linker::new();
        (self.env)(&mut linker);
        linker
            .instantiate_for_restore(&mut store, &module)
            .expect("instantiates");
        store.restore(state).unwrap_or_else(|e| {
            panic!("{}: restore at {n}: {e:?}\n{:#?}", self.name, state.frames)
        });
        let results = match store.resume() {
            Ok(Outcome::Finished(r)) => r,
            other => panic!("{}: restored run at {n}: {other:?}", self.name),
        };
        Outcome2 {
            results,
            state: store.capture(),
        }
    }

    /// Checks the plain instrumented run and checkpoints at each of `points`; returns
    /// the set of top sites that were taken and the deepest stack seen.
    pub fn check(&self, points: impl IntoIterator<Item = u64>) -> (BTreeSet<u32>, usize) {
        let reference = self.reference();
        assert_eq!(
            self.instrumented_plain(),
            reference,
            "{}: plain run",
            self.name
        );
        let mut sites = BTreeSet::new();
        let mut deepest = 0;
        for n in points {
            let (outcome, top) = self.checkpoint_at(n);
            assert_eq!(
                outcome, reference,
                "{}: checkpoint after {n} instructions",
                self.name
            );
            if let Some((site, depth)) = top {
                sites.insert(site);
                deepest = deepest.max(depth);
            }
        }
        (sites, deepest)
    }
}

/// A value from the instrumented store in the original module's numbering: the store
/// numbers functions like the module (host functions are instantiated per import), and
/// the pass's imports come first.
pub fn to_original(value: Value) -> Value {
    match value {
        Value::FuncRef(Some(f)) => Value::FuncRef(Some(f - ADDED_FUNCS)),
        other => other,
    }
}

/// The inverse of [`to_original`].
pub fn to_instrumented(value: Value) -> Value {
    match value {
        Value::FuncRef(Some(f)) => Value::FuncRef(Some(f + ADDED_FUNCS)),
        other => other,
    }
}

/// Applies `map` to every value of `state` that may be a function reference.
fn map_refs(state: &mut ExecState, map: fn(Value) -> Value) {
    for table in &mut state.tables {
        for e in &mut table.elements {
            *e = map(*e);
        }
    }
    for g in &mut state.globals {
        *g = map(*g);
    }
}

/// The instrumented store's state as the original store's: without the flag memory
/// (store memory 0) and with function references renumbered.
pub fn to_original_state(mut state: ExecState) -> ExecState {
    state.memories.remove(0);
    map_refs(&mut state, to_original);
    state
}

/// The inverse of [`to_original_state`]: an original state (without frames) as the
/// instrumented store's, with a zeroed flag memory in front.
pub fn to_instrumented_state(mut state: ExecState) -> ExecState {
    state.memories.insert(
        0,
        MemoryImage {
            pages: 1,
            nonzero_pages: Vec::new(),
        },
    );
    map_refs(&mut state, to_instrumented);
    state
}

/// Panics unless `module` is valid under the pass's features.
pub fn validate(module: &[u8], what: &str) {
    wasmparser::Validator::new_with_features(tern_instrument::supported_features())
        .validate_all(module)
        .unwrap_or_else(|e| panic!("{what} invalid: {e}"));
}

/// A linker with the pass's imports for a store: the flag memory (created here, so it is
/// store memory 0 and the program's memories keep their store numbers shifted by exactly
/// one; its number is returned), the frame-reporting functions `frames` (each calls
/// `frame(name, func, site)`) and the `save_*` functions (each calls `save` with the
/// value in the original numbering; an error is a trap).
pub fn tern_linker(
    store: &mut Store,
    frames: &[&'static str],
    frame: impl Fn(&str, u32, u32) + Clone + Send + Sync + 'static,
    save: impl Fn(Value) -> Result<(), String> + Clone + Send + Sync + 'static,
) -> (Linker, u32) {
    let flags = store.new_memory(MemoryType {
        limits: Limits {
            min: 1,
            max: Some(1),
        },
    });
    let mut linker = Linker::new();
    linker.define("tern", "flags", Extern::Memory(flags));
    for &name in frames {
        let frame = frame.clone();
        linker.func(
            "tern",
            name,
            FuncType::new([ValType::I32; 2], []),
            move |_, args| {
                let (Value::I32(func), Value::I32(site)) = (args[0], args[1]) else {
                    panic!("{name} takes two i32");
                };
                frame(name, func, site);
                Ok(Vec::new())
            },
        );
    }
    let saves = [
        ("save_i32", ValType::I32),
        ("save_i64", ValType::I64),
        ("save_f32", ValType::F32),
        ("save_f64", ValType::F64),
        ("save_v128", ValType::V128),
        ("save_funcref", ValType::FuncRef),
        ("save_externref", ValType::ExternRef),
    ];
    for (name, ty) in saves {
        let save = save.clone();
        linker.func("tern", name, FuncType::new([ty], []), move |_, args| {
            save(to_original(args[0])).map_err(tern_interp::HostError::Trap)?;
            Ok(Vec::new())
        });
    }
    (linker, flags)
}

/// The benchmark workloads (see `real`) and the argument their sampled tests run with.
pub const WORKLOADS: [(&str, u32); 8] = [
    ("fib", 12),
    ("calls", 3),
    ("mandelbrot", 2),
    ("matmul", 2),
    ("nbody", 2),
    ("sha256", 2),
    ("sieve", 2),
    ("sort", 2),
];

/// A seeded sample of `count` points in `1..len` (xorshift; no dependency needed).
pub fn sample(len: u64, count: usize, seed: u64) -> Vec<u64> {
    let mut x = seed | 1;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // A pause needs an instruction left to run: points in 1..len.
            1 + x % (len.max(2) - 1)
        })
        .collect()
}
