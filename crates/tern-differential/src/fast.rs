//! The fast tier's side: plain runs, checkpoints at deterministic safepoints written as
//! snapshot bytes, and restores of snapshot bytes from either engine.

use crate::generate::Call;
use crate::observed::{Ending, Observed, TrapClass};
use std::sync::{Arc, Mutex};
use tern_fast::{FastEngine, FastInstance, FastModule, Outcome, RunError};
use tern_snapshot::{ExecState, TriggerInfo, trigger_kind};
use tern_wasi::{WasiCtx, WasiCtxBuilder, WasiState};

/// Where a fast-tier run is asked to stop: at the first safepoint after the k-th call
/// of the module's one import (`FastInstance::checkpoint_after_wasi_calls`), or never
/// (a module built with a `call:` trigger stops by itself).
#[derive(Debug, Clone, Copy)]
pub enum Hook {
    None,
    AfterImportCalls(u64),
}

/// How a fast-tier run ended.
pub enum Stopped {
    Ended(Observed),
    /// Checkpointed: the snapshot, encoded as a snapshot file holds it.
    Unwound(Vec<u8>),
}

/// The fast tier with one engine (no on-disk cache: fuzz modules are seen once).
pub struct Fast {
    engine: FastEngine,
}

impl Fast {
    pub fn new() -> Result<Fast, String> {
        let engine = FastEngine::with_cache(None).map_err(|e| format!("fast engine: {e}"))?;
        Ok(Fast { engine })
    }

    pub fn module(&self, wasm: &[u8]) -> Result<FastModule, String> {
        FastModule::new(&self.engine, wasm).map_err(|e| format!("fast compile: {e}"))
    }

    /// The module with the trigger `call:func:every`.
    pub fn module_with_call_trigger(
        &self,
        wasm: &[u8],
        func: u32,
        every: u64,
    ) -> Result<FastModule, String> {
        FastModule::with_call_trigger(&self.engine, wasm, func, every)
            .map_err(|e| format!("fast compile with call:{func}:{every}: {e}"))
    }
}

fn wasi() -> Result<Arc<Mutex<WasiCtx>>, String> {
    let ctx = WasiCtxBuilder::new()
        .build()
        .map_err(|e| format!("WASI context: {e}"))?;
    Ok(Arc::new(Mutex::new(ctx)))
}

/// Whether `module` instantiates (an active segment may trap).
pub fn instantiates(module: &FastModule) -> bool {
    wasi().is_ok_and(|w| FastInstance::new(module, w).is_ok())
}

/// Runs `call` on a fresh instance of `module`.
pub fn run(module: &FastModule, call: &Call, hook: Hook) -> Result<Stopped, String> {
    let mut instance =
        FastInstance::new(module, wasi()?).map_err(|e| format!("fast instantiate: {e}"))?;
    arm(&mut instance, hook);
    let result = instance.invoke(&call.export, &call.args);
    finish(instance, result, "invoke")
}

/// Restores snapshot `bytes` (from either engine) on `module` as `tern restore --engine
/// fast` does, and resumes it (it may be checkpointed again through `hook` or the
/// module's `call:` trigger).
pub fn restore(module: &FastModule, bytes: &[u8], hook: Hook) -> Result<Stopped, String> {
    let snapshot =
        tern_snapshot::decode_snapshot(bytes).map_err(|e| format!("decode snapshot: {e}"))?;
    let state: Option<WasiState> =
        serde_json::from_slice(snapshot.wasi.as_deref().unwrap_or(b"null"))
            .map_err(|e| format!("WASI state: {e}"))?;
    let mut builder = WasiCtxBuilder::new();
    let wasi = match state {
        Some(state) => builder.rebuild(&state),
        None => builder.build(),
    }
    .map_err(|e| format!("WASI rebuild: {e}"))?;
    let mut instance = FastInstance::restore(module, &snapshot, Arc::new(Mutex::new(wasi)))
        .map_err(|e| format!("fast restore: {e}"))?;
    arm(&mut instance, hook);
    let result = instance.resume();
    finish(instance, result, "resume")
}

fn arm(instance: &mut FastInstance, hook: Hook) {
    if let Hook::AfterImportCalls(k) = hook {
        instance.checkpoint_after_wasi_calls(k);
    }
}

fn finish(
    mut instance: FastInstance,
    result: Result<Outcome, RunError>,
    what: &str,
) -> Result<Stopped, String> {
    let ending = match result {
        Ok(Outcome::Unwound) => {
            let trigger = TriggerInfo::now(trigger_kind::MANUAL, "differential");
            let snapshot = instance
                .capture(trigger)
                .map_err(|e| format!("fast capture: {e}"))?;
            return Ok(Stopped::Unwound(tern_snapshot::encode_snapshot(&snapshot)));
        }
        Ok(Outcome::Finished(values)) => Ending::Returned(values),
        Err(RunError::Trap(message)) => Ending::Trapped(TrapClass::of_message(&message)),
        Err(RunError::Exit(code)) => Ending::Exited(code),
        Err(RunError::Fatal(e)) => return Err(format!("fast {what}: {e}")),
    };
    let state = state_now(&mut instance)?;
    Ok(Stopped::Ended(Observed::new(ending, state)))
}

/// The memories, tables and globals of an instance whose run has ended.
fn state_now(instance: &mut FastInstance) -> Result<ExecState, String> {
    instance
        .entity_state()
        .map_err(|e| format!("fast: reading the final state: {e}"))
}
