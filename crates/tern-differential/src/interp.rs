//! The interpreter's side: plain runs, pauses at exact instruction counts written as
//! snapshot bytes, and restores of snapshot bytes from either engine.

use crate::generate::Call;
use crate::observed::{Ending, Observed, TrapClass};
use std::sync::{Arc, Mutex};
use tern_interp::{Config, InstanceId, Linker, Module, Outcome, RunError, Store};
use tern_snapshot::{ModuleIdentity, Snapshot, TriggerInfo, trigger_kind};
use tern_wasi::{WasiCtxBuilder, WasiState};

/// How a run that may pause ended.
pub enum Stopped {
    /// It ended before the pause: nothing to restore.
    Ended(Observed),
    /// Paused: the snapshot, encoded as a snapshot file holds it.
    Paused(Vec<u8>),
}

/// A module compiled once for the runs of a case.
pub struct Interp {
    module: Module,
    identity: ModuleIdentity,
}

impl Interp {
    pub fn new(wasm: &[u8]) -> Result<Interp, String> {
        let module =
            Module::new(&Config::default(), wasm).map_err(|e| format!("interp compile: {e}"))?;
        Ok(Interp {
            module,
            identity: ModuleIdentity::of(wasm),
        })
    }

    /// A fresh store and WASI context with the module instantiated.
    fn instance(&self) -> Result<(Store, InstanceId, Arc<Mutex<tern_wasi::WasiCtx>>), String> {
        let mut store = Store::new(&Config::default());
        let wasi = WasiCtxBuilder::new()
            .interrupt_flag(store.interrupt_handle())
            .build()
            .map_err(|e| format!("WASI context: {e}"))?;
        let wasi = Arc::new(Mutex::new(wasi));
        let mut linker = Linker::new();
        tern_wasi::add_to_linker(&mut linker, wasi.clone());
        let instance = linker
            .instantiate(&mut store, &self.module)
            .map_err(|e| format!("interp instantiate: {e}"))?;
        Ok((store, instance, wasi))
    }

    /// Whether the module instantiates (an active segment may trap).
    pub fn instantiates(&self) -> bool {
        self.instance().is_ok()
    }

    /// Runs `call` to its end; `None` when it takes more than `limit` instructions.
    /// Also gives the instructions it took.
    pub fn run(&self, call: &Call, limit: u64) -> Result<Option<(Observed, u64)>, String> {
        match self.run_until(call, limit)? {
            (Stopped::Ended(observed), n) => Ok(Some((observed, n))),
            (Stopped::Paused(_), _) => Ok(None),
        }
    }

    /// Runs `call` and pauses after exactly `n` instructions, unless it ends first.
    pub fn pause_at(&self, call: &Call, n: u64) -> Result<Stopped, String> {
        self.run_until(call, n).map(|(stopped, _)| stopped)
    }

    fn run_until(&self, call: &Call, n: u64) -> Result<(Stopped, u64), String> {
        let (mut store, instance, wasi) = self.instance()?;
        store.set_instruction_budget(Some(n));
        let result = store.invoke(instance, &call.export, &call.args);
        let counted = store.counted_instructions();
        let ending = match result {
            Ok(Outcome::Paused(_)) => {
                let wasi_state = wasi
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .state()
                    .map_err(|e| format!("interp WASI state: {e}"))?;
                let snapshot = Snapshot {
                    module: self.identity,
                    trigger: TriggerInfo::now(trigger_kind::INSTRUCTIONS, n.to_string()),
                    state: store.capture(),
                    wasi: Some(
                        serde_json::to_vec(&wasi_state)
                            .map_err(|e| format!("interp WASI state: {e}"))?,
                    ),
                };
                let bytes = tern_snapshot::encode_snapshot(&snapshot);
                return Ok((Stopped::Paused(bytes), counted));
            }
            result => ending(result)?,
        };
        Ok((
            Stopped::Ended(Observed::new(ending, store.capture())),
            counted,
        ))
    }

    /// Restores snapshot `bytes` (from either engine) into a fresh store, as `tern
    /// restore` does, and runs it to the end.
    pub fn restore(&self, bytes: &[u8]) -> Result<Observed, String> {
        let snapshot =
            tern_snapshot::decode_snapshot(bytes).map_err(|e| format!("decode snapshot: {e}"))?;
        if snapshot.module != self.identity {
            return Err("the snapshot names another module".into());
        }
        let state: Option<WasiState> =
            serde_json::from_slice(snapshot.wasi.as_deref().unwrap_or(b"null"))
                .map_err(|e| format!("WASI state: {e}"))?;
        let config = Config::default();
        let mut store = Store::new(&config);
        let mut builder = WasiCtxBuilder::new();
        builder.interrupt_flag(store.interrupt_handle());
        let wasi = match state {
            Some(state) => builder.rebuild(&state),
            None => builder.build(),
        }
        .map_err(|e| format!("WASI rebuild: {e}"))?;
        let mut linker = Linker::new();
        tern_wasi::add_to_linker(&mut linker, Arc::new(Mutex::new(wasi)));
        linker
            .instantiate_for_restore(&mut store, &self.module)
            .map_err(|e| format!("interp instantiate for restore: {e}"))?;
        store
            .restore(&snapshot.state)
            .map_err(|e| format!("interp restore: {e}"))?;
        let ending = ending(store.resume())?;
        Ok(Observed::new(ending, store.capture()))
    }
}

fn ending(result: Result<Outcome, RunError>) -> Result<Ending, String> {
    match result {
        Ok(Outcome::Finished(values)) => Ok(Ending::Returned(values)),
        Ok(Outcome::Paused(reason)) => Err(format!("interp paused unexpectedly: {reason:?}")),
        Err(RunError::Trap(trap)) => Ok(Ending::Trapped(TrapClass::of_message(
            &trap.kind.to_string(),
        ))),
        Err(RunError::Exit(code)) => Ok(Ending::Exited(code)),
        Err(RunError::Usage(message)) => Err(format!("interp: {message}")),
    }
}
