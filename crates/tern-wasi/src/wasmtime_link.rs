//! The adapter for a `wasmtime::Linker` (feature `wasmtime`), used by tern's fast tier.
//!
//! Thin on purpose: every function goes through [`WasiCtx::call_func`], exactly as the
//! interpreter's adapter does, so both engines share one implementation and one state.

use crate::ctx::{WasiCtx, WasiExit};
use crate::func::{Func, MODULE, ValKind};
use std::sync::{Arc, Mutex};
use wasmtime::{Caller, Extern, FuncType, Linker, Val, ValType};

fn val_type(kind: ValKind) -> ValType {
    match kind {
        ValKind::I32 => ValType::I32,
        ValKind::I64 => ValType::I64,
    }
}

/// What the embedder does around WASI calls, implemented by the store's data `T`.
pub trait WasmtimeHooks: Sized + 'static {
    /// A blocking call (sleep, read of stdin or a socket, accept) saw the context's
    /// interrupt flag and consumed nothing. `args` are the call's arguments as
    /// [`WasiCtx::call_func`] takes them. On `Ok` the guest gets `0` back and the embedder
    /// is expected to unwind it and issue the same call again later (DESIGN.md §4, "go
    /// forward, never back"); an `Err` ends the call (the default: a trap saying so).
    fn gave_way(caller: &mut Caller<'_, Self>, func: Func, args: &[u64]) -> wasmtime::Result<()> {
        let _ = (caller, args);
        Err(wasmtime::Error::msg(format!(
            "`{}` was interrupted and the embedder cannot unwind",
            func.name()
        )))
    }

    /// Called after every call that returned to the guest (tests use it to stop at a
    /// deterministic point). Does nothing by default.
    fn returned(caller: &mut Caller<'_, Self>, func: Func) {
        let _ = (caller, func);
    }
}

/// Registers every `wasi_snapshot_preview1` function in `linker`, all sharing `ctx`.
///
/// The guest's memory is its export named `memory` (the WASI convention); a module
/// without one can still call the functions that need no memory, and any pointer it
/// passes gives `EFAULT`. `proc_exit` and `proc_raise` end the call with a
/// `wasmtime::Error` holding the [`WasiExit`] (`Exit` or `Trap`): downcast it. Blocking
/// calls that give way go through [`WasmtimeHooks::gave_way`].
///
/// # Errors
///
/// Only if `linker` refuses a definition (e.g. a name is already defined and shadowing is
/// off).
pub fn add_to_wasmtime_linker<T: WasmtimeHooks>(
    linker: &mut Linker<T>,
    ctx: Arc<Mutex<WasiCtx>>,
) -> wasmtime::Result<()> {
    for &func in Func::ALL {
        let ty = FuncType::new(
            linker.engine(),
            func.params().iter().copied().map(val_type),
            func.results().iter().copied().map(val_type),
        );
        let ctx = ctx.clone();
        linker.func_new(
            MODULE,
            func.name(),
            ty,
            move |mut caller, params, results| {
                let args: Vec<u64> = params
                    .iter()
                    .map(|v| match *v {
                        Val::I32(x) => u64::from(x as u32),
                        Val::I64(x) => x as u64,
                        // The linker checked the signature: only i32 and i64 arrive here.
                        _ => 0,
                    })
                    .collect();
                let outcome = {
                    let mut ctx = ctx.lock().unwrap_or_else(|e| e.into_inner());
                    let memory = match caller.get_export("memory") {
                        Some(Extern::Memory(memory)) => Some(memory),
                        _ => None,
                    };
                    let mut no_memory: [u8; 0] = [];
                    let mut bytes: &mut [u8] = match &memory {
                        Some(memory) => memory.data_mut(&mut caller),
                        None => &mut no_memory,
                    };
                    ctx.call_func(&mut bytes, func, &args)
                };
                let errno = match outcome {
                    Ok(errno) => {
                        T::returned(&mut caller, func);
                        errno
                    }
                    Err(WasiExit::Interrupted) => {
                        T::gave_way(&mut caller, func, &args)?;
                        0
                    }
                    Err(exit) => return Err(wasmtime::Error::new(exit)),
                };
                if let Some(slot) = results.first_mut() {
                    *slot = Val::I32(errno as i32);
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}
