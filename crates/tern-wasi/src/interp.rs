//! The adapter for tern's interpreter (feature `interp`).

use crate::ctx::{WasiCtx, WasiExit};
use crate::func::{Func, MODULE, ValKind};
use std::sync::{Arc, Mutex};
use tern_interp::{FuncType, HostError, Linker, ValType, Value};

fn val_type(kind: ValKind) -> ValType {
    match kind {
        ValKind::I32 => ValType::I32,
        ValKind::I64 => ValType::I64,
    }
}

/// Registers every `wasi_snapshot_preview1` function in `linker`, all sharing `ctx`.
///
/// The context is locked for the length of each call (a blocking call holds it while it
/// waits, and gives way when the interrupt flag is set). A module without a memory can
/// still call the functions that need none; any pointer it passes gives `EFAULT`.
/// To let a pause request reach blocked calls too, share the store's flag:
/// `ctx.lock().unwrap().set_interrupt_flag(store.interrupt_handle())`.
pub fn add_to_linker(linker: &mut Linker, ctx: Arc<Mutex<WasiCtx>>) {
    for &func in Func::ALL {
        let ty = FuncType::new(
            func.params().iter().copied().map(val_type),
            func.results().iter().copied().map(val_type),
        );
        let ctx = ctx.clone();
        linker.func(MODULE, func.name(), ty, move |cx, args| {
            let args: Vec<u64> = args
                .iter()
                .map(|v| match *v {
                    Value::I32(x) => u64::from(x),
                    Value::I64(x) => x,
                    // The linker checked the signature: only i32 and i64 arrive here.
                    _ => 0,
                })
                .collect();
            let mut ctx = ctx.lock().unwrap_or_else(|e| e.into_inner());
            let mut no_memory: [u8; 0] = [];
            let memory: &mut [u8] = match cx.memory(0) {
                Some(memory) => memory,
                None => &mut no_memory,
            };
            let mut memory = memory;
            match ctx.call_func(&mut memory, func, &args) {
                Ok(_) if func.results().is_empty() => Ok(Vec::new()),
                Ok(errno) => Ok(vec![Value::I32(errno)]),
                Err(WasiExit::Exit(code)) => Err(HostError::Exit(code)),
                Err(WasiExit::Trap(message)) => Err(HostError::Trap(message)),
                Err(WasiExit::Interrupted) => Err(HostError::Interrupted),
            }
        });
    }
}
