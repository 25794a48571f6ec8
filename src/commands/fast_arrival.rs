//! `tern serve` receiving a program on the fast tier: the pages of every pre-copy round
//! are written straight into the linear memories of the instance that will run it
//! ([`tern_fast::StagedInstance`], made when the hello arrives), so that once the source
//! has paused only the last dirty pages and the frames, globals, tables and WASI state
//! remain to be restored: no memory is copied then, whatever its size.

use super::fast::Program;
use anyhow::anyhow;
use std::time::Duration;
use tern_fast::{FastInstance, FastModule, StagedInstance};
use tern_migrate::{MigrateError, PageSink};
use tern_snapshot::Snapshot;

/// A staged instance as the target's page sink.
pub(super) struct FastSink(pub(super) StagedInstance);

impl PageSink for FastSink {
    fn memory(&mut self, index: usize, pages: u32) -> Result<&mut [u8], MigrateError> {
        self.0
            .memory_mut(index, pages)
            .map_err(|e| MigrateError::Program(e.to_string()))
    }

    fn pages(&self, index: usize) -> u32 {
        self.0.pages(index)
    }

    fn count(&self) -> usize {
        // Pages for a memory the module does not have are refused by `memory`; the
        // module's memories all exist from the start.
        self.0.memory_count()
    }
}

/// The instance for an arriving program of `module`, made before anything arrives.
pub(super) fn stage(module: &FastModule) -> anyhow::Result<FastSink> {
    StagedInstance::new(module)
        .map(FastSink)
        .map_err(|e| anyhow!("{e}"))
}

/// Completes the restore once the final state arrived; nothing runs yet. Also how long
/// the continuation clones took (compiled or loaded from the clones cache).
pub(super) fn finish(
    module: FastModule,
    sink: FastSink,
    snapshot: &Snapshot,
    wasi: tern_wasi::WasiCtx,
) -> anyhow::Result<(Program, FastInstance, Duration)> {
    let done = sink.0.finish(snapshot, wasi).map_err(|e| anyhow!("{e}"))?;
    let program = Program {
        module,
        wasi: done.wasi,
        call: None,
        print_results: false,
        instructions_before: snapshot.trigger.instructions,
    };
    Ok((program, done.instance, done.clones))
}
