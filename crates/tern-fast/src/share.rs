//! Sharing a running program's memories with another thread (live migration's pre-copy
//! reads them in place while the program runs), capturing without memory pages (they
//! travel apart), and restoring from whole memory buffers (as a migration delivers them).
//!
//! # Why reading the memories from another thread is sound
//!
//! A published location `(ptr, len)` stays readable for as long as the reader holds the
//! read lock of [`MemoryLocations::with`]:
//! - **The base never moves.** wasmtime relocates a memory only when its maximum size
//!   exceeds the engine's reservation (`wasmtime_environ::Memory::memory_may_move`).
//!   tern's engine keeps wasmtime's default reservation, 4 GiB on 64-bit hosts, which
//!   holds every 32-bit memory at its largest; [`FastInstance::share_memory_locations`]
//!   refuses anything else (a 64-bit memory, a 32-bit host).
//! - **The published length only lags.** `memory.grow` only makes more bytes accessible
//!   behind the old end; it is therefore not blocked. The store's thread publishes the
//!   new length after every WASI call and when asked to
//!   ([`FastInstance::refresh_memory_locations`]), taking the write lock only when
//!   something changed. A memory never shrinks.
//! - **Nothing is unmapped while published.** Dropping a [`FastInstance`] closes its
//!   locations first (the write lock waits for a reader to finish), so the store and
//!   its memories go only after.

use crate::engine::FastModule;
use crate::error::Error;
use crate::instance::FastInstance;
use crate::prepare::reach_name;
use std::sync::{Arc, Mutex, RwLock};
use tern_snapshot::{MemoryImage, Snapshot, TriggerInfo, WASM_PAGE};
use tern_wasi::WasiCtx;
use wasmtime::{AsContext, Extern, Memory};

/// Where one memory is now. `generation` changes when the memory was replaced (never on
/// this engine, see the module docs); a longer `len` with the same `ptr` and
/// `generation` means it grew in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLocation {
    pub ptr: usize,
    pub len: usize,
    pub generation: u64,
}

/// The published locations of one instance's memories, shared with reader threads.
/// Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct MemoryLocations {
    inner: Arc<RwLock<Published>>,
}

#[derive(Debug, Default)]
struct Published {
    closed: bool,
    regions: Vec<MemoryLocation>,
}

impl MemoryLocations {
    /// Calls `f` with where every memory is (nothing once the instance is gone). The
    /// bytes `[ptr, ptr + len)` of each stay mapped while `f` runs; the program may
    /// write them meanwhile.
    pub fn with<R>(&self, f: impl FnOnce(&[MemoryLocation]) -> R) -> R {
        let guard = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if guard.closed {
            return f(&[]);
        }
        f(&guard.regions)
    }

    /// Withdraws the locations (waits for a reader inside [`with`](Self::with)).
    pub fn close(&self) {
        self.inner.write().unwrap_or_else(|e| e.into_inner()).closed = true;
    }

    fn set(&self, now: &[MemoryLocation]) {
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if !guard.closed {
            guard.regions = now.to_vec();
        }
    }
}

/// What the store's data keeps while the locations are shared.
pub(crate) struct Sharing {
    locations: MemoryLocations,
    memories: Vec<Memory>,
    /// What is published (the store's thread's copy, compared without locking).
    current: Vec<MemoryLocation>,
}

impl Sharing {
    /// Publishes where the memories are now, if that changed (called on the store's
    /// thread: after every WASI call, so it must cost nothing when nothing changed).
    pub(crate) fn refresh(&mut self, store: impl AsContext) {
        let store = store.as_context();
        let mut changed = false;
        for (memory, now) in self.memories.iter().zip(&mut self.current) {
            let (ptr, len) = (memory.data_ptr(&store) as usize, memory.data_size(&store));
            if ptr != now.ptr {
                now.generation += 1;
            }
            if (ptr, len) != (now.ptr, now.len) {
                (now.ptr, now.len) = (ptr, len);
                changed = true;
            }
        }
        if changed {
            self.locations.set(&self.current);
        }
    }

    pub(crate) fn close(&self) {
        self.locations.close();
    }
}

impl FastInstance {
    /// Publishes this instance's memories for reading from other threads, kept current
    /// from now on (see the module docs). Refused for memories that wasmtime could move.
    pub fn share_memory_locations(&mut self) -> Result<MemoryLocations, Error> {
        if let Some(sharing) = &self.store.data().sharing {
            return Ok(sharing.locations.clone());
        }
        let count = self.module.prepared.facts.memories;
        let mut memories = Vec::with_capacity(count as usize);
        for m in 0..count {
            let name = reach_name("memory", m);
            let Some(Extern::Memory(memory)) = self.instance.get_export(&mut self.store, &name)
            else {
                return Err(Error::Capture(format!("export `{name}` is missing")));
            };
            if memory.ty(&self.store).is_64() || cfg!(not(target_pointer_width = "64")) {
                return Err(Error::Unsupported {
                    offset: 0,
                    message: format!(
                        "memory {m} may move when it grows (a 64-bit memory or host address \
                         space below 64 bits): it cannot be read while the program runs"
                    ),
                });
            }
            memories.push(memory);
        }
        let current = memories
            .iter()
            .map(|m| MemoryLocation {
                ptr: m.data_ptr(&self.store) as usize,
                len: m.data_size(&self.store),
                generation: 0,
            })
            .collect::<Vec<_>>();
        let sharing = Sharing {
            locations: MemoryLocations::default(),
            memories,
            current,
        };
        sharing.locations.set(&sharing.current);
        let locations = sharing.locations.clone();
        self.store.data_mut().sharing = Some(sharing);
        Ok(locations)
    }

    /// Publishes the current lengths now (e.g. after the program unwound, before the
    /// last pages are read).
    pub fn refresh_memory_locations(&mut self) {
        if let Some(mut sharing) = self.store.data_mut().sharing.take() {
            sharing.refresh(&self.store);
            self.store.data_mut().sharing = Some(sharing);
        }
    }

    /// [`capture`](Self::capture) with every memory image sized but without pages:
    /// the caller sends the memories' contents separately.
    pub fn capture_sized(&mut self, trigger: TriggerInfo) -> Result<Snapshot, Error> {
        self.capture_with(trigger, false)
    }

    /// Every memory's image (size and non-zero pages), as a capture takes them.
    pub fn memory_images(&mut self) -> Result<Vec<MemoryImage>, Error> {
        (0..self.module.prepared.facts.memories)
            .map(|m| self.memory(m, true))
            .collect()
    }

    /// [`restore`](Self::restore) of a snapshot whose memory images are sized but hold
    /// no pages, with the memories' contents given whole (one buffer per memory, exactly
    /// as long as its image says).
    pub fn restore_with_memories(
        module: &FastModule,
        snapshot: &Snapshot,
        memories: &[Vec<u8>],
        wasi: Arc<Mutex<WasiCtx>>,
    ) -> Result<FastInstance, Error> {
        let images = &snapshot.state.memories;
        if memories.len() != images.len() {
            return Err(Error::Restore(format!(
                "{} memory buffers for {} memories",
                memories.len(),
                images.len()
            )));
        }
        for (i, (bytes, image)) in memories.iter().zip(images).enumerate() {
            if bytes.len() != image.pages as usize * WASM_PAGE || !image.nonzero_pages.is_empty() {
                return Err(Error::Restore(format!(
                    "memory {i}: the buffer does not match the sized image"
                )));
            }
        }
        if snapshot.module != *module.identity() {
            return Err(Error::Restore(
                "the snapshot was taken of a different module".into(),
            ));
        }
        // Each memory is zero at the right size when the filler runs: copy only what is
        // not zero, so untouched pages stay uncommitted.
        Self::restore_with(module, &snapshot.state, wasi, |m, data| {
            for (to, from) in data.chunks_mut(CHUNK).zip(memories[m].chunks(CHUNK)) {
                if from.iter().any(|&b| b != 0) {
                    to.copy_from_slice(from);
                }
            }
            Ok::<(), Error>(())
        })
    }
}

/// Copy granularity of [`FastInstance::restore_with_memories`].
const CHUNK: usize = 4096;
