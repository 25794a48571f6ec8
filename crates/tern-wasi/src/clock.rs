//! clock_res_get, clock_time_get.
//!
//! The monotonic clock is the context's own (see `Clock`): it starts at the reading saved
//! in a snapshot, so time never goes backwards across a restore. The CPU-time clocks
//! answer with the same reading: a guest's CPU time cannot be told apart from the host
//! process's, and a program that only measures durations with them (as `clock()` users
//! do) gets the right answer on a single-threaded guest that does not sleep.

use crate::abi::clock;
use crate::ctx::{CallResult, WasiCtx};
use crate::errno::Errno;
use crate::host::nanos;
use crate::memory::Mem;
use std::time::SystemTime;

impl WasiCtx {
    /// The current reading of clock `id` in nanoseconds.
    pub(crate) fn now(&self, id: u32) -> Result<u64, Errno> {
        match id {
            clock::REALTIME => Ok(nanos(Ok(SystemTime::now()))),
            clock::MONOTONIC | clock::PROCESS_CPUTIME | clock::THREAD_CPUTIME => {
                Ok(self.clock.now())
            }
            _ => Err(Errno::INVAL),
        }
    }

    pub(crate) fn clock_res_get(&mut self, m: &mut Mem<'_>, id: u32, out: u32) -> CallResult {
        m.check(out, 8)?;
        self.now(id)?;
        // Both host clocks count in nanoseconds.
        m.write_u64(out, 1)?;
        Ok(())
    }

    pub(crate) fn clock_time_get(
        &mut self,
        m: &mut Mem<'_>,
        id: u32,
        _precision: u64,
        out: u32,
    ) -> CallResult {
        m.check(out, 8)?;
        let now = self.now(id)?;
        m.write_u64(out, now)?;
        Ok(())
    }
}
