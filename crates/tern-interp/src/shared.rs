//! Memory locations published to another thread (live migration's pre-copy).
//!
//! The migration thread reads a running program's memories in place while the program
//! keeps writing them; dirty-page tracking (in `tern-migrate`) re-sends what changed, so
//! a torn read is harmless. What must never happen is a read of an allocation that
//! `memory.grow` has just moved or freed: [`MemoryLocations`] is a read-write lock over
//! the memories' addresses, which `grow` takes for writing while it reallocates.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Where one memory lies: its first byte's address and its length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawMemory {
    pub ptr: usize,
    pub len: usize,
    /// Incremented each time the memory grows (and perhaps moves).
    pub generation: u64,
}

impl RawMemory {
    pub(crate) fn of(bytes: &[u8], generation: u64) -> RawMemory {
        RawMemory {
            ptr: bytes.as_ptr() as usize,
            len: bytes.len(),
            generation,
        }
    }
}

/// The published locations of a store's memories (see
/// `Store::share_memory_locations`). While a reader holds [`MemoryLocations::read`],
/// every `[ptr, ptr + len)` it lists is allocated and stays so.
#[derive(Debug, Clone)]
pub struct MemoryLocations(Arc<RwLock<Vec<RawMemory>>>);

impl MemoryLocations {
    pub(crate) fn new(table: Vec<RawMemory>) -> MemoryLocations {
        MemoryLocations(Arc::new(RwLock::new(table)))
    }

    /// The current locations; memories do not move or shrink while the guard lives.
    pub fn read(&self) -> RwLockReadGuard<'_, Vec<RawMemory>> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Withdraws every location (the memories are about to be dropped): once this
    /// returns, no reader holds a guard, and later readers see an empty table.
    pub fn close(&self) {
        self.write().clear();
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Vec<RawMemory>> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}
