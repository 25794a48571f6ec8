//! The `call:FUNC:N` trigger: a checkpoint in front of every N-th call of a function.
//!
//! A host-side counter cannot see direct calls, so the function itself counts: the module
//! gets one more (mutable, not part of any snapshot) `i64` global, and the
//! function's body starts with a countdown that sets the request word when it reaches
//! zero. The entry poll that tern-instrument put right after it then takes the checkpoint:
//! the top frame is the function at its first instruction, its caller waits on the call.
//!
//! ```wat
//! (global $countdown (mut i64) (i64.const N))        ;; appended
//! (func $f …
//!   (global.set $countdown (i64.sub (global.get $countdown) (i64.const 1)))
//!   (if (i64.eqz (global.get $countdown))
//!     (then (global.set $countdown (i64.const N))
//!           (i32.atomic.store (i32.const 0) (i32.const 1))))   ;; request (flag memory)
//!   …entry poll, body as instrumented…)
//! ```

use crate::drops::DropGlobals;
use std::convert::Infallible;
use tern_instrument::REQUEST_OFFSET;
use wasm_encoder::reencode::{Error, Reencode, utils};
use wasm_encoder::{BlockType, ConstExpr, Function, GlobalType, Instruction, MemArg, ValType};

/// Export name of the countdown global: the embedder suspends the count while the start
/// function runs (`instance::call_start`), as the interpreter does.
pub(crate) const COUNTDOWN_EXPORT: &str = "tern:call-countdown";

/// Which function to count (index in the *original* module) and every how many calls to
/// stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallTrigger {
    pub func: u32,
    pub every: u64,
}

impl CallTrigger {
    /// The counter global, appended after `globals` existing ones.
    pub fn global(&self) -> (GlobalType, ConstExpr) {
        let ty = GlobalType {
            val_type: ValType::I64,
            mutable: true,
            shared: false,
        };
        (ty, ConstExpr::i64_const(self.every as i64))
    }

    /// Re-encodes `body` with the countdown in front; `counter` is the global's index.
    /// The body's own instructions are copied by `drops` (`drops.rs`).
    pub fn counted_body(
        &self,
        reencoder: &mut impl Reencode<Error = Infallible>,
        body: &wasmparser::FunctionBody<'_>,
        counter: u32,
        drops: &DropGlobals,
    ) -> Result<Function, Error<Infallible>> {
        let mut f = utils::new_function_with_parsed_locals(reencoder, body)?;
        let every = self.every as i64;
        let request = MemArg {
            offset: REQUEST_OFFSET,
            align: 2,
            target: wasm_encoder::MemArgTarget::Memory(0),
            ordering: None,
        };
        for instruction in [
            Instruction::GlobalGet(counter),
            Instruction::I64Const(1),
            Instruction::I64Sub,
            Instruction::GlobalSet(counter),
            Instruction::GlobalGet(counter),
            Instruction::I64Eqz,
            Instruction::If(BlockType::Empty),
            Instruction::I64Const(every),
            Instruction::GlobalSet(counter),
            Instruction::I32Const(0),
            Instruction::I32Const(1),
            Instruction::I32AtomicStore(request),
            Instruction::End,
        ] {
            f.instruction(&instruction);
        }
        drops.copy_body(reencoder, body, &mut f)?;
        Ok(f)
    }
}
