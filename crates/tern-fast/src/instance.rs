//! [`FastInstance`]: one instantiated program on the fast tier, run and checkpointed.

use crate::calls::COUNTDOWN_EXPORT;
use crate::engine::FastModule;
use crate::error::Error;
use crate::handle::CheckpointHandle;
use crate::host::{Host, define_abi};
use crate::prepare::START_EXPORT;
use crate::resume::Resume;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tern_instrument::{FLAGS_MEMORY, MODULE, REQUEST_OFFSET, UNWINDING_OFFSET};
use tern_snapshot::Value;
use tern_wasi::{WasiCtx, WasiExit, add_to_wasmtime_linker};
use wasmtime::{Instance, Linker, MemoryType, SharedMemory, Store, Val};

/// How an invocation ended, other than by an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The function returned these results.
    Finished(Vec<Value>),
    /// A checkpoint was requested and the stack has unwound into the host: call
    /// [`FastInstance::capture`]. The program cannot continue in this instance (restore
    /// it, on either engine).
    Unwound,
}

/// How an invocation ended when it did not return.
#[derive(Debug)]
pub enum RunError {
    /// `proc_exit` with this status.
    Exit(i32),
    /// A trap, with its message.
    Trap(String),
    /// Something else went wrong (a bad call, a broken frame report).
    Fatal(Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Exit(code) => write!(f, "program exited with status {code}"),
            RunError::Trap(message) => write!(f, "trap: {message}"),
            RunError::Fatal(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RunError {}

/// An instantiated program.
pub struct FastInstance {
    pub(crate) store: Store<Host>,
    pub(crate) instance: Instance,
    pub(crate) module: FastModule,
    flags: SharedMemory,
    handle: CheckpointHandle,
    pub(crate) unwound: bool,
    /// A restored program's continuation clones, until they have all returned.
    pub(crate) resume: Option<Resume>,
    pub(crate) timing: Option<crate::resume::RestoreTiming>,
    /// The last instruction budget set (`budget.rs`).
    pub(crate) budget_set: Option<u64>,
}

impl FastInstance {
    /// Instantiates `module` with WASI from `wasi` and runs its start function, during
    /// which no checkpoint is taken (as on the interpreter): the request word is
    /// published to the handle only afterwards.
    pub fn new(module: &FastModule, wasi: Arc<Mutex<WasiCtx>>) -> Result<FastInstance, Error> {
        let (mut store, linker, flags, handle) = Self::setup(module, wasi)?;
        let instance = linker.instantiate(&mut store, &module.module)?;
        call_start(&mut store, &instance)?;
        Ok(Self::publish(store, instance, module, flags, handle))
    }

    /// The store and linker of a new instance of `module`: tern's ABI, WASI, the flag
    /// memory.
    pub(crate) fn setup(
        module: &FastModule,
        wasi: Arc<Mutex<WasiCtx>>,
    ) -> Result<(Store<Host>, Linker<Host>, SharedMemory, CheckpointHandle), Error> {
        let engine = &module.engine.engine;
        let interrupt = wasi
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .interrupt_flag();
        let handle = CheckpointHandle::new(interrupt);
        let host = Host::new(wasi.clone(), module.prepared.clone(), handle.clone());
        let mut store = Store::new(engine, host);
        let flags = SharedMemory::new(engine, MemoryType::shared(1, 1))?;
        store.data_mut().flags = Some(flags.clone());
        let mut linker = Linker::new(engine);
        define_abi(&mut linker)?;
        add_to_wasmtime_linker(&mut linker, wasi)?;
        linker.define(&store, MODULE, FLAGS_MEMORY, flags.clone())?;
        Ok((store, linker, flags, handle))
    }

    /// The instance, with the request word published to its handle.
    pub(crate) fn publish(
        store: Store<Host>,
        instance: Instance,
        module: &FastModule,
        flags: SharedMemory,
        handle: CheckpointHandle,
    ) -> FastInstance {
        let word = word_ptr(&flags, REQUEST_OFFSET);
        // SAFETY: a shared memory never moves, and `flags` (a reference to it) lives
        // until `Drop`, which unpublishes first. Its base is page-aligned, so the word is
        // 4-aligned.
        unsafe { handle.shared.publish(word) };
        FastInstance {
            store,
            instance,
            module: module.clone(),
            flags,
            handle,
            unwound: false,
            resume: None,
            timing: None,
            budget_set: None,
        }
    }

    /// A handle that requests a checkpoint from any thread.
    pub fn checkpoint_handle(&self) -> CheckpointHandle {
        self.handle.clone()
    }

    /// Test hook: request a checkpoint once `n` more WASI calls have returned, so the
    /// program stops at the first safepoint after that call — a deterministic point.
    pub fn checkpoint_after_wasi_calls(&mut self, n: u64) {
        self.store.data_mut().after_calls = (n > 0).then_some(n);
    }

    /// Calls the exported function `name` (`_start` for a WASI command).
    pub fn invoke(&mut self, name: &str, args: &[Value]) -> Result<Outcome, RunError> {
        if self.unwound {
            return Err(RunError::Fatal(Error::Capture(
                "the program has unwound for a checkpoint; restore it to continue".into(),
            )));
        }
        if self.resume.is_some() {
            return Err(RunError::Fatal(Error::Restore(
                "a restored program must be resumed before anything else is called".into(),
            )));
        }
        let fatal = |message: String| RunError::Fatal(Error::Unsupported { offset: 0, message });
        let func = self
            .instance
            .get_func(&mut self.store, name)
            .ok_or_else(|| fatal(format!("no exported function named `{name}`")))?;
        let params = args
            .iter()
            .map(to_val)
            .collect::<Result<Vec<_>, _>>()
            .map_err(fatal)?;
        let ty = func.ty(&self.store);
        let mut results = vec![Val::I32(0); ty.results().len()];
        self.write_word(UNWINDING_OFFSET, 0);
        self.handle.shared.sync_word();
        let result = func.call(&mut self.store, &params, &mut results);
        if let Err(e) = result {
            return Err(run_error(e, &self.module.module));
        }
        if self.read_word(UNWINDING_OFFSET) != 0 {
            self.unwound = true;
            return Ok(Outcome::Unwound);
        }
        let values = results
            .into_iter()
            .map(|v| self.value_of(v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(RunError::Fatal)?;
        Ok(Outcome::Finished(values))
    }

    pub(crate) fn read_word(&self, offset: u64) -> u32 {
        flag_word(&self.flags, offset).load(Ordering::SeqCst)
    }

    pub(crate) fn write_word(&mut self, offset: u64, value: u32) {
        flag_word(&self.flags, offset).store(value, Ordering::SeqCst);
    }

    /// Whether the last invocation unwound for a checkpoint.
    pub fn is_unwound(&self) -> bool {
        self.unwound
    }
}

impl Drop for FastInstance {
    fn drop(&mut self) {
        // Before the store (and its memories) go: see `share.rs`.
        if let Some(sharing) = &self.store.data().sharing {
            sharing.close();
        }
        self.handle.shared.unpublish();
    }
}

/// Runs the start function of a freshly instantiated main module. The fast tier calls
/// it itself, after instantiation (`prepare.rs` leaves the start section out), because
/// instantiating a restored program must not run it again. No checkpoint is taken inside
/// it, as on the interpreter: the request word is not yet published to the handle, and
/// the `call:` trigger's count is suspended meanwhile.
pub(crate) fn call_start(store: &mut Store<Host>, instance: &Instance) -> wasmtime::Result<()> {
    let Some(start) = instance.get_func(&mut *store, START_EXPORT) else {
        return Ok(());
    };
    let countdown = instance.get_global(&mut *store, COUNTDOWN_EXPORT);
    let left = countdown.map(|global| global.get(&mut *store));
    if let Some(global) = countdown {
        global.set(&mut *store, Val::I64(i64::MAX))?;
    }
    start.call(&mut *store, &[], &mut [])?;
    if let (Some(global), Some(left)) = (countdown, left) {
        global.set(&mut *store, left)?;
    }
    Ok(())
}

/// Address of the flag word at byte `offset` (0 or 4) of the one-page flag memory.
fn word_ptr(flags: &SharedMemory, offset: u64) -> *mut u32 {
    let data = flags.data();
    debug_assert!(data.len() >= offset as usize + 4);
    data[offset as usize..].as_ptr().cast::<u32>().cast_mut()
}

/// The flag word at byte `offset` (0 or 4), as an atomic.
pub(crate) fn flag_word(flags: &SharedMemory, offset: u64) -> &AtomicU32 {
    // SAFETY: the memory is one page (64 KiB), so `offset + 4` lies inside it; its base
    // is page-aligned and `offset` a multiple of 4, so the word is aligned; shared
    // memory is `UnsafeCell` bytes that wasm code only reaches with atomic or plain
    // aligned accesses, and the reference cannot outlive `flags`, which keeps the
    // memory alive.
    unsafe { AtomicU32::from_ptr(word_ptr(flags, offset)) }
}

pub(crate) fn to_val(value: &Value) -> Result<Val, String> {
    Ok(match *value {
        Value::I32(x) => Val::I32(x as i32),
        Value::I64(x) => Val::I64(x as i64),
        Value::F32(bits) => Val::F32(bits),
        Value::F64(bits) => Val::F64(bits),
        Value::V128(x) => Val::V128(x.into()),
        Value::FuncRef(None) => Val::FuncRef(None),
        Value::ExternRef(None) => Val::ExternRef(None),
        other => return Err(format!("cannot pass {other:?} as an argument")),
    })
}

/// Sorts a wasmtime error into exit, trap or fatal. A trap's message is its kind
/// followed by the Wasm backtrace (see [`backtrace`]); `main` is the instrumented main
/// module, whose frames are reported under their original function indices.
pub(crate) fn run_error(e: wasmtime::Error, main: &wasmtime::Module) -> RunError {
    if let Some(exit) = e.downcast_ref::<WasiExit>() {
        return match exit {
            WasiExit::Exit(code) => RunError::Exit(*code),
            WasiExit::Trap(message) => RunError::Trap(message.clone() + &backtrace(&e, main)),
            WasiExit::Interrupted => RunError::Trap("blocking call interrupted".into()),
        };
    }
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        return RunError::Trap(trap.to_string() + &backtrace(&e, main));
    }
    RunError::Fatal(Error::Wasmtime(e))
}

/// The Wasm backtrace of a trap, innermost first, in the interpreter's format
/// (`\nwasm backtrace:\n    0: func[3] (name)`), or nothing when wasmtime recorded none.
/// Frames of the main module show the *original* function index and the name-section
/// name; the byte offset is left out, as wasmtime knows only the offset in the
/// instrumented module. Frames of a restored program's continuation clones show as
/// `func[?] (continuation clone)`.
fn backtrace(e: &wasmtime::Error, main: &wasmtime::Module) -> String {
    let Some(trace) = e.downcast_ref::<wasmtime::WasmBacktrace>() else {
        return String::new();
    };
    if trace.frames().is_empty() {
        return String::new();
    }
    let mut text = String::from("\nwasm backtrace:");
    for (i, frame) in trace.frames().iter().enumerate() {
        let line = if wasmtime::Module::same(frame.module(), main) {
            let func = frame
                .func_index()
                .wrapping_sub(tern_instrument::ADDED_FUNCS);
            let name = frame
                .func_name()
                .map_or(String::new(), |n| format!(" ({n})"));
            format!("func[{func}]{name}")
        } else {
            "func[?] (continuation clone)".to_string()
        };
        text += &format!("\n  {i:>3}: {line}");
    }
    text
}
