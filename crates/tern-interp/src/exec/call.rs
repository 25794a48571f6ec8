//! Calls from Wasm into host functions.

use crate::error::{BacktraceFrame, HostError, RunError, Trap, TrapKind};
use crate::store::{FuncEntity, HostContext, Store, from_slot, to_slot};

/// How a host call ended.
pub(crate) enum HostCallResult {
    /// Arguments replaced by results; the new stack pointer (slot index).
    Done(usize),
    /// The call gave way to a pause; the stack is unchanged.
    Interrupted,
    Failed(PendingError),
}

/// A failure that still needs the Wasm backtrace attached.
pub(crate) enum PendingError {
    Trap(Trap),
    Exit(i32),
}

impl PendingError {
    pub(crate) fn with_backtrace(self, backtrace: Vec<BacktraceFrame>) -> RunError {
        match self {
            PendingError::Trap(trap) => RunError::Trap(Trap { backtrace, ..trap }),
            PendingError::Exit(code) => RunError::Exit(code),
        }
    }

    pub(crate) fn into_run_error(self) -> RunError {
        self.with_backtrace(Vec::new())
    }
}

pub(crate) fn host_error(error: HostError) -> PendingError {
    match error {
        HostError::Trap(message) => PendingError::Trap(Trap {
            message: Some(message),
            ..Trap::new(TrapKind::Host)
        }),
        HostError::Exit(code) => PendingError::Exit(code),
        // A host function called directly (not from Wasm) has no call to re-issue.
        HostError::Interrupted => PendingError::Trap(Trap {
            message: Some("interrupted outside of a Wasm call".into()),
            ..Trap::new(TrapKind::Host)
        }),
    }
}

impl Store {
    /// Calls host function `addr` with the arguments on top of the stack, which ends at
    /// slot `sp`; the active frame is the last of `exec.frames`.
    pub(crate) fn call_host(&mut self, addr: u32, sp: usize) -> HostCallResult {
        let FuncEntity::Host { func, type_id } = &self.funcs[addr as usize] else {
            unreachable!("call_host on a Wasm function");
        };
        let (func, ty) = (func.clone(), &self.types[*type_id as usize]);
        let params = ty.params.len();
        let args_at = sp - params;
        let args: Vec<_> = ty
            .params
            .iter()
            .enumerate()
            .map(|(i, t)| from_slot(self.exec.stack[args_at + i], *t))
            .collect();
        let results_types = ty.results.clone();
        let caller = self
            .exec
            .frames
            .last()
            .expect("host called from a frame")
            .instance;
        let mut ctx = HostContext {
            memories: &mut self.memories,
            memory_map: &self.instances[caller as usize].memories,
        };
        match func(&mut ctx, &args) {
            Ok(results) => {
                let types: Vec<_> = results.iter().map(crate::ValType::of).collect();
                if types != results_types {
                    return HostCallResult::Failed(PendingError::Trap(Trap {
                        message: Some(format!(
                            "host function returned {types:?}, expected {results_types:?}"
                        )),
                        ..Trap::new(TrapKind::Host)
                    }));
                }
                for (i, value) in results.into_iter().enumerate() {
                    self.exec.stack[args_at + i] = to_slot(value);
                }
                HostCallResult::Done(args_at + results_types.len())
            }
            Err(HostError::Interrupted) => HostCallResult::Interrupted,
            Err(e) => HostCallResult::Failed(host_error(e)),
        }
    }
}
