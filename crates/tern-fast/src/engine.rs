//! [`FastEngine`] and [`FastModule`]: the wasmtime engine and a module ready to run.

use crate::budget::CompiledTriggers;
use crate::cache::ModuleCache;
use crate::calls::CallTrigger;
use crate::error::Error;
use crate::original::Original;
use crate::prepare::Prepared;
use std::sync::Arc;

/// A wasmtime engine (Cranelift) with tern's configuration and an optional
/// compiled-module cache. Cheap to clone.
#[derive(Clone)]
pub struct FastEngine {
    pub(crate) engine: wasmtime::Engine,
    pub(crate) cache: Option<ModuleCache>,
}

impl FastEngine {
    /// An engine with the default cache ([`ModuleCache::from_env`]).
    pub fn new() -> Result<FastEngine, Error> {
        Self::with_cache(ModuleCache::from_env())
    }

    /// An engine with the given cache, or none.
    pub fn with_cache(cache: Option<ModuleCache>) -> Result<FastEngine, Error> {
        Ok(FastEngine {
            engine: wasmtime::Engine::new(&config())?,
            cache,
        })
    }

    /// The underlying wasmtime engine: the same configuration serves as the baseline
    /// ("plain wasmtime") in the overhead figures.
    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.engine
    }

    /// The cache, if any.
    pub fn cache(&self) -> Option<&ModuleCache> {
        self.cache.as_ref()
    }
}

/// tern's wasmtime configuration: Cranelift, the Wasm features tern supports. Everything
/// else stays at wasmtime's defaults (guard pages for bounds checks, signals-based traps).
pub(crate) fn config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config
        .strategy(wasmtime::Strategy::Cranelift)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .wasm_multi_memory(true)
        .wasm_tail_call(true)
        .wasm_simd(true)
        .wasm_reference_types(true)
        .wasm_bulk_memory(true)
        .wasm_multi_value(true);
    // The flag memory is shared and its request word is read with an atomic load, which
    // Cranelift never merges with an earlier load (see `flags.rs`).
    config.wasm_threads(true).shared_memory(true);
    config
}

/// A module instrumented and compiled for the fast tier.
#[derive(Clone)]
pub struct FastModule {
    pub(crate) engine: FastEngine,
    pub(crate) module: wasmtime::Module,
    pub(crate) prepared: Arc<Prepared>,
    cache_hit: bool,
}

impl FastModule {
    /// Instruments and compiles `wasm` (a binary module), going through the engine's
    /// cache when it has one.
    pub fn new(engine: &FastEngine, wasm: &[u8]) -> Result<FastModule, Error> {
        Self::with_triggers(engine, wasm, None, false)
    }

    /// Like [`FastModule::new`], with the trigger `call:FUNC:N`: a checkpoint is
    /// requested in front of every `every`-th call of `func` (an index of the original
    /// module, imports included; it must be a function the module defines). The program
    /// stops at that call's entry poll: the top frame is `func` at its first
    /// instruction. The counter is not part of snapshots (it starts again after a
    /// restore, as on the interpreter). A checkpoint it takes leaves
    /// [`crate::CheckpointHandle::is_requested`] false, which tells it from one the host
    /// asked for.
    pub fn with_call_trigger(
        engine: &FastEngine,
        wasm: &[u8],
        func: u32,
        every: u64,
    ) -> Result<FastModule, Error> {
        Self::with_triggers(engine, wasm, Some((func, every)), false)
    }

    /// Like [`FastModule::new`], optionally with the call trigger of
    /// [`FastModule::with_call_trigger`] (`call` = function and N), and when `count` is
    /// set compiled for the approximate `instructions:N` trigger
    /// ([`crate::FastInstance::set_instruction_budget`]); counting costs run time, so
    /// only modules that need it are compiled so.
    pub fn with_triggers(
        engine: &FastEngine,
        wasm: &[u8],
        call: Option<(u32, u64)>,
        count: bool,
    ) -> Result<FastModule, Error> {
        let identity = tern_snapshot::ModuleIdentity::of(wasm);
        let original = Original::in_memory(Arc::new(wasm.to_vec()), identity);
        Self::load(engine, original, call, count)
    }

    pub(crate) fn load(
        engine: &FastEngine,
        original: Original,
        call: Option<(u32, u64)>,
        count: bool,
    ) -> Result<FastModule, Error> {
        let call = call.map(|(func, every)| CallTrigger { func, every });
        let triggers = CompiledTriggers { call, count };
        let (module, prepared, cache_hit) =
            crate::load::load(engine, Arc::new(original), triggers)?;
        Ok(FastModule {
            engine: engine.clone(),
            module,
            prepared: Arc::new(prepared),
            cache_hit,
        })
    }

    /// Whether the compiled code came from the cache.
    pub fn cache_hit(&self) -> bool {
        self.cache_hit
    }

    /// Identity of the *original* module, as snapshots record it.
    pub fn identity(&self) -> &tern_snapshot::ModuleIdentity {
        self.prepared.identity()
    }

    /// The bytes wasmtime compiled (instrumented, with reach exports). A module loaded
    /// from the cache instruments the original again on the first call.
    pub fn instrumented(&self) -> Result<&[u8], Error> {
        self.prepared.instrumented()
    }
}
