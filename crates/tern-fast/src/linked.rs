//! [`FastStore`]: several instances in one wasmtime store, linked to each other by
//! name — what a `.wast` script (the spec suite) needs — with checkpoints of single
//! invocations at a chosen safepoint.
//!
//! wasmtime links only instances of one `Store`, so every instance of a script lives in
//! one store with one flag memory and one [`Host`]: the store is a [`FastInstance`]
//! whose "current" instance is switched to the one being invoked (its module's map and
//! facts go into the host), so `invoke`, `capture`, the restore's state writing and
//! `resume` are exactly those of a single program.
//!
//! A snapshot holds one module's state, so an invocation is checkpointed only if no
//! other instance's code can be on its stack and a restore into a fresh instance of its
//! module changes nothing another instance sees: see [`FastStore::checkpointable`].
//!
//! Safepoints are counted with wasmtime's epoch checks (at function entries and loop
//! headers, like tern's polls) on an engine made by [`FastEngine::counting_safepoints`]:
//! the epoch never advances, the store's deadline is left at "now" while a countdown
//! runs, so the deadline callback sees every check and sets the request word at the
//! n-th; the program unwinds at the poll that follows.

use crate::clones::compile_clones;
use crate::engine::{FastEngine, FastModule, config};
use crate::error::Error;
use crate::host::Host;
use crate::instance::{FastInstance, Outcome, RunError, call_start, flag_word, run_error};
use crate::resume::Resume;
use crate::state::copy_images;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tern_instrument::{FrameCollector, REQUEST_OFFSET, UNWINDING_OFFSET};
use tern_snapshot::{Snapshot, TriggerInfo, Value};
use wasmparser::{Parser, Payload, TypeRef};
use wasmtime::{
    ExternRef, Func, FuncType, Global, GlobalType, Linker, Memory, MemoryType, Mutability, Ref,
    RefType, Table, TableType, UpdateDeadline, Val, ValType,
};

/// A deadline no run reaches (the epoch never advances).
const FAR: u64 = 1 << 62;

/// Locals of a function whose frames can still become continuation clones.
const MAX_CLONE_LOCALS: u64 = 900;

/// Instances, memories and tables a store may hold: every restore adds a main and a
/// clones instance, and a script checkpoints thousands of invocations.
const STORE_LIMIT: usize = 1 << 16;

/// The host module of the spec suite.
pub const SPECTEST: &str = "spectest";

impl FastEngine {
    /// An engine whose code counts safepoints ([`FastStore::request_after`]): wasmtime's
    /// epoch checks are compiled in. No compiled-module cache (its code differs from
    /// the default engine's).
    pub fn counting_safepoints() -> Result<FastEngine, Error> {
        let mut config = config();
        config.epoch_interruption(true);
        Ok(FastEngine {
            engine: wasmtime::Engine::new(&config)?,
            cache: None,
        })
    }
}

/// An instance of a [`FastStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkedId(usize);

struct Linked {
    instance: wasmtime::Instance,
    module: FastModule,
    /// Why invocations of this instance cannot be checkpointed, if they cannot.
    not_checkpointable: Option<String>,
}

/// Instances of several modules in one store, linked by name.
pub struct FastStore {
    inner: FastInstance,
    engine: FastEngine,
    linker: Linker<Host>,
    instances: Vec<Linked>,
    /// Registered names → instance.
    registered: HashMap<String, LinkedId>,
    /// Module names whose functions are the host's.
    host_modules: BTreeSet<String>,
    /// Safepoints left until the request is set; 0: none pending.
    countdown: Arc<AtomicU64>,
}

impl FastStore {
    /// An empty store on `engine` (for [`FastStore::request_after`], one made by
    /// [`FastEngine::counting_safepoints`]).
    pub fn new(engine: &FastEngine) -> Result<FastStore, Error> {
        // The store needs a current instance: that of an empty module.
        let empty = FastModule::new(engine, b"\0asm\x01\0\0\0")?;
        let wasi = tern_wasi::WasiCtxBuilder::new()
            .build()
            .map_err(|e| Error::Unsupported {
                offset: 0,
                message: format!("WASI context: {e}"),
            })?;
        let wasi = Arc::new(std::sync::Mutex::new(wasi));
        let (mut store, mut linker, flags, handle) = FastInstance::setup(&empty, wasi)?;
        linker.allow_shadowing(true);
        let countdown = Arc::new(AtomicU64::new(0));
        let left = countdown.clone();
        // A zero-sized limiter: leaking its box allocates nothing.
        store.limiter(|_| Box::leak(Box::new(ManyInstances)));
        store.set_epoch_deadline(FAR);
        store.epoch_deadline_callback(move |ctx| {
            match left.load(Ordering::Relaxed) {
                0 => return Ok(UpdateDeadline::Continue(FAR)),
                1 => {
                    left.store(0, Ordering::Relaxed);
                    if let Some(flags) = &ctx.data().flags {
                        flag_word(flags, REQUEST_OFFSET).store(1, Ordering::SeqCst);
                    }
                    return Ok(UpdateDeadline::Continue(FAR));
                }
                n => left.store(n - 1, Ordering::Relaxed),
            }
            // Deadline "now": the next check calls back again.
            Ok(UpdateDeadline::Continue(0))
        });
        let instance = linker.instantiate(&mut store, &empty.module)?;
        let inner = FastInstance::publish(store, instance, &empty, flags, handle);
        Ok(FastStore {
            inner,
            engine: engine.clone(),
            linker,
            instances: Vec::new(),
            registered: HashMap::new(),
            host_modules: BTreeSet::new(),
            countdown,
        })
    }

    /// Defines the spec suite's `spectest` module: `print*` functions that do nothing,
    /// `global_i32`/`_i64`/`_f32`/`_f64` (666, 666.6), `table` (10..20 funcrefs),
    /// `memory` (1..2 pages).
    pub fn define_spectest(&mut self) -> Result<(), Error> {
        let store = &mut self.inner.store;
        let engine = self.engine.engine.clone();
        for (name, params) in [
            ("print", &[][..]),
            ("print_i32", &[ValType::I32]),
            ("print_i64", &[ValType::I64]),
            ("print_f32", &[ValType::F32]),
            ("print_f64", &[ValType::F64]),
            ("print_i32_f32", &[ValType::I32, ValType::F32]),
            ("print_f64_f64", &[ValType::F64, ValType::F64]),
        ] {
            let ty = FuncType::new(&engine, params.iter().cloned(), []);
            let func = Func::new(&mut *store, ty, |_, _, _| Ok(()));
            self.linker.define(&mut *store, SPECTEST, name, func)?;
        }
        let globals = [
            ("global_i32", Val::I32(666)),
            ("global_i64", Val::I64(666)),
            ("global_f32", Val::F32(666.6f32.to_bits())),
            ("global_f64", Val::F64(666.6f64.to_bits())),
        ];
        for (name, value) in globals {
            let ty = GlobalType::new(value.ty(&*store)?, Mutability::Const);
            let global = Global::new(&mut *store, ty, value)?;
            self.linker.define(&mut *store, SPECTEST, name, global)?;
        }
        let table = Table::new(
            &mut *store,
            TableType::new(RefType::FUNCREF, 10, Some(20)),
            Ref::Func(None),
        )?;
        self.linker.define(&mut *store, SPECTEST, "table", table)?;
        let memory = Memory::new(&mut *store, MemoryType::new(1, Some(2)))?;
        self.linker
            .define(&mut *store, SPECTEST, "memory", memory)?;
        self.host_modules.insert(SPECTEST.to_string());
        Ok(())
    }

    /// Instantiates `module` (compiled on this store's engine), its imports resolved
    /// from `spectest` and the registered instances. A trap of its start function or
    /// segment initialisation is a [`RunError::Trap`]; a link error is `Fatal`.
    pub fn instantiate(&mut self, module: &FastModule) -> Result<LinkedId, RunError> {
        let not_checkpointable = self.why_not_checkpointable(module);
        let mut importers = Vec::new();
        for import in module.module.imports() {
            if let Some(&from) = self.registered.get(import.module()) {
                importers.push(from);
            }
        }
        // An instance another one links to cannot be swapped for a restored copy — even
        // if that one's start function traps: it may have written to its tables first.
        for from in importers {
            self.instances[from.0]
                .not_checkpointable
                .get_or_insert_with(|| "another instance imports from it".into());
        }
        self.inner.write_word(UNWINDING_OFFSET, 0);
        let store = &mut self.inner.store;
        let instance = self
            .linker
            .instantiate(&mut *store, &module.module)
            .map_err(|e| run_error(e, &module.module))?;
        call_start(&mut *store, &instance).map_err(|e| run_error(e, &module.module))?;
        self.instances.push(Linked {
            instance,
            module: module.clone(),
            not_checkpointable,
        });
        Ok(LinkedId(self.instances.len() - 1))
    }

    /// Why an instance of `module` cannot be checkpointed alone: it imports functions
    /// of other instances (their frames could be on its stack), or a table (which may
    /// hold other instances' functions), or it uses `externref` (host references have
    /// no canonical form).
    fn why_not_checkpointable(&self, module: &FastModule) -> Option<String> {
        let original = match module.prepared.original.bytes() {
            Ok(bytes) => bytes,
            Err(e) => return Some(format!("its module cannot be read: {e}")),
        };
        for payload in Parser::new(0).parse_all(original) {
            match payload {
                Ok(Payload::ImportSection(reader)) => {
                    for import in reader.into_imports().flatten() {
                        match import.ty {
                            TypeRef::Func(_) | TypeRef::FuncExact(_)
                                if !self.host_modules.contains(import.module) =>
                            {
                                return Some("it imports functions of other instances".into());
                            }
                            TypeRef::Table(_) => {
                                return Some("it imports a table".into());
                            }
                            TypeRef::Global(g) if g.content_type.is_reference_type() => {
                                return Some("it imports a reference-typed global".into());
                            }
                            _ => {}
                        }
                    }
                }
                Ok(Payload::TypeSection(reader)) => {
                    for ty in reader.into_iter_err_on_gc_types().flatten() {
                        if ty.params().iter().chain(ty.results()).any(is_externref) {
                            return Some("it uses externref".into());
                        }
                    }
                }
                Ok(Payload::TableSection(reader)) => {
                    for table in reader.into_iter().flatten() {
                        if table.ty.element_type.is_extern_ref() {
                            return Some("it uses externref".into());
                        }
                    }
                }
                Ok(Payload::GlobalSection(reader)) => {
                    for global in reader.into_iter().flatten() {
                        if is_externref(&global.ty.content_type) {
                            return Some("it uses externref".into());
                        }
                    }
                }
                Ok(Payload::CodeSectionEntry(body)) => {
                    let locals = body.get_locals_reader().ok()?;
                    let declared: u64 = locals
                        .into_iter()
                        .flatten()
                        .map(|(n, _)| u64::from(n))
                        .sum();
                    // A continuation clone takes a frame's locals and operand stack as
                    // parameters, of which a function may have at most 1000.
                    if declared > MAX_CLONE_LOCALS {
                        return Some(format!(
                            "a function has more than {MAX_CLONE_LOCALS} locals (a continuation \
                             clone takes them as parameters, at most 1000)"
                        ));
                    }
                }
                Err(e) => return Some(format!("it does not parse: {e}")),
                _ => {}
            }
        }
        None
    }

    /// Makes `name` the module name of `id`'s exports for later instantiations.
    pub fn register(&mut self, name: &str, id: LinkedId) -> Result<(), Error> {
        let instance = self.linked(id)?.instance;
        self.linker
            .instance(&mut self.inner.store, name, instance)?;
        self.registered.insert(name.to_string(), id);
        Ok(())
    }

    /// Why invocations of `id` are not checkpointed (run uninterrupted), or `None`.
    pub fn checkpointable(&self, id: LinkedId) -> Result<Option<&str>, Error> {
        Ok(self.linked(id)?.not_checkpointable.as_deref())
    }

    /// Requests a checkpoint at the `n`-th safepoint check from now (function entry or
    /// loop header; the program stops at the poll right after it); 0 cancels.
    pub fn request_after(&mut self, n: u64) {
        self.countdown.store(n, Ordering::Relaxed);
        self.inner.write_word(REQUEST_OFFSET, 0);
        self.inner
            .store
            .set_epoch_deadline(if n == 0 { FAR } else { 0 });
    }

    fn linked(&self, id: LinkedId) -> Result<&Linked, Error> {
        self.instances
            .get(id.0)
            .ok_or_else(|| Error::Restore(format!("no instance {}", id.0)))
    }

    /// Makes `id` the instance that runs, captures and restores.
    fn select(&mut self, id: LinkedId) -> Result<(), Error> {
        let linked = self.linked(id)?;
        let (instance, module) = (linked.instance, linked.module.clone());
        let inner = &mut self.inner;
        inner.instance = instance;
        inner.store.data_mut().prepared = module.prepared.clone();
        inner.module = module;
        inner.unwound = false;
        inner.resume = None;
        let host = inner.store.data_mut();
        host.func_index = None;
        host.main = None;
        host.func_index_extra.clear();
        host.collector = FrameCollector::new();
        host.resuming = None;
        host.gave_way = None;
        Ok(())
    }

    /// Calls `id`'s exported function `name`. Non-null `externref` arguments are host
    /// references carrying the number.
    pub fn invoke(
        &mut self,
        id: LinkedId,
        name: &str,
        args: &[Value],
    ) -> Result<Outcome, RunError> {
        self.select(id).map_err(RunError::Fatal)?;
        let fatal = |message: String| RunError::Fatal(Error::Unsupported { offset: 0, message });
        let inner = &mut self.inner;
        let func = inner
            .instance
            .get_func(&mut inner.store, name)
            .ok_or_else(|| fatal(format!("no exported function named `{name}`")))?;
        let mut params = Vec::with_capacity(args.len());
        for arg in args {
            params.push(match *arg {
                Value::ExternRef(Some(n)) => {
                    let r = ExternRef::new(&mut inner.store, n)
                        .map_err(|e| fatal(format!("externref argument: {e}")))?;
                    Val::ExternRef(Some(r))
                }
                ref other => crate::instance::to_val(other).map_err(fatal)?,
            });
        }
        let mut results = vec![Val::I32(0); func.ty(&inner.store).results().len()];
        inner.write_word(UNWINDING_OFFSET, 0);
        let result = func.call(&mut inner.store, &params, &mut results);
        let outcome = match result {
            Err(e) => Err(run_error(e, &inner.module.module)),
            Ok(()) if inner.read_word(UNWINDING_OFFSET) != 0 => {
                inner.unwound = true;
                Ok(Outcome::Unwound)
            }
            Ok(()) => results
                .into_iter()
                .map(|v| self.value(v))
                .collect::<Result<Vec<_>, _>>()
                .map(Outcome::Finished)
                .map_err(RunError::Fatal),
        };
        if !matches!(outcome, Ok(Outcome::Unwound)) {
            self.request_after(0);
        }
        outcome
    }

    /// A result as a canonical value; a non-null `externref` is the number it carries.
    fn value(&mut self, value: Val) -> Result<Value, Error> {
        match value {
            Val::ExternRef(Some(r)) => {
                let n = r
                    .data(&self.inner.store)
                    .ok()
                    .flatten()
                    .and_then(|d| d.downcast_ref::<u32>().copied());
                n.map(|n| Value::ExternRef(Some(n)))
                    .ok_or_else(|| Error::Capture("an externref of unknown origin".into()))
            }
            other => self.inner.value_of(other),
        }
    }

    /// The value of `id`'s exported global `name`.
    pub fn global(&mut self, id: LinkedId, name: &str) -> Result<Value, Error> {
        self.select(id)?;
        let inner = &mut self.inner;
        let global = inner
            .instance
            .get_global(&mut inner.store, name)
            .ok_or_else(|| Error::Capture(format!("no exported global named `{name}`")))?;
        let value = global.get(&mut inner.store);
        self.value(value)
    }

    /// The snapshot of `id` after an invocation unwound ([`Outcome::Unwound`]).
    pub fn capture(&mut self, id: LinkedId, trigger: TriggerInfo) -> Result<Snapshot, Error> {
        if self.inner.instance != self.linked(id)?.instance {
            return Err(Error::Capture(format!("instance {} has not unwound", id.0)));
        }
        self.request_after(0);
        self.inner.capture(trigger)
    }

    /// Replaces `id` by a new instance of its module holding `snapshot` (taken of that
    /// module), its frames ready to [`resume`](FastStore::resume); registered names
    /// follow. The restored instance imports what the old one imported.
    pub fn restore(&mut self, id: LinkedId, snapshot: &Snapshot) -> Result<(), Error> {
        let module = self.linked(id)?.module.clone();
        if let Some(why) = &self.linked(id)?.not_checkpointable {
            return Err(Error::Restore(format!("instance {} cannot: {why}", id.0)));
        }
        if snapshot.module != *module.identity() {
            return Err(Error::Restore(
                "the snapshot was taken of a different module".into(),
            ));
        }
        let started = Instant::now();
        let state = &snapshot.state;
        let (conts, clones_module) = compile_clones(&module, &state.frames)?;
        let store = &mut self.inner.store;
        let main = self.linker.instantiate(&mut *store, &module.module)?;
        crate::restore::link_main(&mut self.linker, store, main, &clones_module)?;
        let clones = self.linker.instantiate(&mut *store, &clones_module)?;
        self.instances[id.0].instance = main;
        let names: Vec<String> = self
            .registered
            .iter()
            .filter(|(_, i)| **i == id)
            .map(|(name, _)| name.clone())
            .collect();
        for name in names {
            self.linker.instance(&mut *store, &name, main)?;
        }
        self.select(id)?;
        self.inner
            .write_state(state, &mut copy_images(&state.memories))?;
        self.inner.map_funcrefs(clones, &conts.refs)?;
        self.inner.resume = Some(Resume::new(conts, clones, state.frames.clone(), started));
        Ok(())
    }

    /// Runs a restored instance's frames ([`FastStore::restore`]) to the end of the
    /// checkpointed invocation, or until it unwinds again.
    pub fn resume(&mut self, id: LinkedId) -> Result<Outcome, RunError> {
        if self.inner.instance != self.linked(id).map_err(RunError::Fatal)?.instance {
            return Err(RunError::Fatal(Error::Restore(format!(
                "instance {} was not restored last",
                id.0
            ))));
        }
        let outcome = self.inner.resume();
        if !matches!(outcome, Ok(Outcome::Unwound)) {
            self.request_after(0);
        }
        outcome
    }
}

fn is_externref(ty: &wasmparser::ValType) -> bool {
    matches!(ty, wasmparser::ValType::Ref(r) if r.is_extern_ref())
}

/// wasmtime's default store limits (10 000 instances, memories, tables) raised to
/// [`STORE_LIMIT`]; memory and table growth as without a limiter.
struct ManyInstances;

impl wasmtime::ResourceLimiter for ManyInstances {
    fn memory_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }

    fn instances(&self) -> usize {
        STORE_LIMIT
    }

    fn tables(&self) -> usize {
        STORE_LIMIT
    }

    fn memories(&self) -> usize {
        STORE_LIMIT
    }
}
