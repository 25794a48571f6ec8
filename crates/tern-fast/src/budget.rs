//! The `instructions:N` trigger on the fast tier, which is *approximate*: the program
//! stops at the first safepoint at or after N instructions, and the snapshot records the
//! exact number it had executed by then.
//!
//! A module compiled for it is instrumented in tern-instrument's counting mode (its
//! `count.rs`): every straight-line run charges its instruction count against a budget
//! global and sets the request word when the budget runs out. This crate appends that
//! global (mutable `i64`, after the module's globals and the call trigger's counter)
//! and exports it as [`BUDGET_EXPORT`]; it starts at `i64::MAX`, so nothing happens
//! until the host sets a budget. Like the call counter it is not part of snapshots: a
//! restored program counts from the budget set after the restore.

use crate::error::Error;
use crate::instance::FastInstance;
use wasm_encoder::{ConstExpr, GlobalType, ValType};

/// Export name of the budget global.
pub(crate) const BUDGET_EXPORT: &str = "tern:budget";

/// What a compiled module triggers by itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CompiledTriggers {
    /// `call:FUNC:N` (`calls.rs`).
    pub call: Option<crate::calls::CallTrigger>,
    /// `instructions:N`: instructions are counted.
    pub count: bool,
}

impl CompiledTriggers {
    /// The globals these triggers append after the module's `globals` ones, in order:
    /// the call counter, then the budget.
    pub fn globals(&self) -> Vec<(GlobalType, ConstExpr)> {
        let budget = GlobalType {
            val_type: ValType::I64,
            mutable: true,
            shared: false,
        };
        let call = self.call.map(|t| t.global());
        let count = self.count.then(|| (budget, ConstExpr::i64_const(i64::MAX)));
        call.into_iter().chain(count).collect()
    }

    /// Index of the budget global in a module that has `globals` of its own.
    pub fn budget_global(&self, globals: u32) -> Option<u32> {
        self.count.then(|| globals + u32::from(self.call.is_some()))
    }
}

impl FastInstance {
    /// Arms the `instructions:N` trigger: a checkpoint is requested once `n` more
    /// instructions have run (`None` disarms it). An error if the module was not
    /// compiled to count instructions ([`crate::FastModule::with_triggers`]).
    pub fn set_instruction_budget(&mut self, n: Option<u64>) -> Result<(), Error> {
        let global = self.budget()?;
        let left = n.map_or(i64::MAX, |n| n.min(i64::MAX as u64) as i64);
        global
            .set(&mut self.store, wasmtime::Val::I64(left))
            .map_err(|e| Error::Capture(format!("setting the instruction budget: {e}")))?;
        self.budget_set = n;
        Ok(())
    }

    /// Instructions executed since the budget was last set (exact at a safepoint);
    /// `None` when no budget is set.
    pub fn counted_instructions(&mut self) -> Option<u64> {
        let set = self.budget_set?;
        let global = self.budget().ok()?;
        let left = global.get(&mut self.store).i64()?;
        Some((set as i64).wrapping_sub(left) as u64)
    }

    fn budget(&mut self) -> Result<wasmtime::Global, Error> {
        self.instance
            .get_global(&mut self.store, BUDGET_EXPORT)
            .ok_or_else(|| {
                Error::Capture("the module was not compiled to count instructions".into())
            })
    }
}
