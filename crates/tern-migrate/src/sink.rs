//! Where a target writes the pages it receives. The interpreter target assembles them in
//! plain buffers ([`Buffers`]); the fast target writes them straight into the linear
//! memories of the instance that will run the program, so that nothing is copied after
//! the source has paused.

use crate::MigrateError;
use tern_snapshot::WASM_PAGE;

/// The memories pages are written into, as the source's memories grow.
pub trait PageSink {
    /// Memory `index` grown (zero-filled) to at least `pages` Wasm pages; its bytes, as
    /// long as it now is. Memories are never shrunk. An error is the target's (it cannot
    /// grow, it has no such memory) and refuses the migration.
    fn memory(&mut self, index: usize, pages: u32) -> Result<&mut [u8], MigrateError>;

    /// How many Wasm pages memory `index` has now; 0 for one no page was sent for.
    fn pages(&self, index: usize) -> u32;

    /// How many memories pages were sent for (the highest index plus one).
    fn count(&self) -> usize;
}

/// Memories assembled in buffers, one per memory.
#[derive(Debug, Default)]
pub struct Buffers(pub Vec<Vec<u8>>);

impl PageSink for Buffers {
    fn memory(&mut self, index: usize, pages: u32) -> Result<&mut [u8], MigrateError> {
        if self.0.len() <= index {
            self.0.resize_with(index + 1, Vec::new);
        }
        let bytes = &mut self.0[index];
        let len = pages as usize * WASM_PAGE;
        if bytes.len() < len {
            // A fresh allocation is lazily zeroed: only the pages written get committed.
            let mut fresh = vec![0u8; len];
            fresh[..bytes.len()].copy_from_slice(bytes);
            *bytes = fresh;
        }
        Ok(bytes)
    }

    fn pages(&self, index: usize) -> u32 {
        self.0
            .get(index)
            .map_or(0, |b| (b.len() / WASM_PAGE) as u32)
    }

    fn count(&self) -> usize {
        self.0.len()
    }
}
