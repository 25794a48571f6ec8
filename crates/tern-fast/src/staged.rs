//! Restoring a program whose memories arrive before the rest of its state (live
//! migration's pre-copy): [`StagedInstance`] instantiates the main module first, lets the
//! caller write pages straight into its linear memories as they arrive (growing them as
//! the source's memories grow), and [`StagedInstance::finish`] adds the final state —
//! frames, tables, globals, dropped segments and the WASI context — without copying any
//! memory. What a restore does after the final state arrived is then independent of the
//! size of the memories.
//!
//! The WASI context is known only at the end (it is rebuilt from the final state), but
//! the WASI imports are bound when the linker is made: the instance runs on a shared
//! `Arc<Mutex<WasiCtx>>` holding an empty context until `finish` puts the rebuilt one in
//! its place. The rebuilt context must use [`StagedInstance::interrupt_flag`], the flag
//! the instance's checkpoint handle raises to interrupt a blocking call.

use crate::clones::compile_clones;
use crate::engine::FastModule;
use crate::error::Error;
use crate::handle::CheckpointHandle;
use crate::host::Host;
use crate::instance::FastInstance;
use crate::prepare::reach_name;
use crate::resume::Resume;
use crate::state::clear_instantiated;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tern_snapshot::Snapshot;
use tern_wasi::{WasiCtx, WasiCtxBuilder};
use wasmtime::{Extern, Instance, Linker, Memory, SharedMemory, Store};

/// A main instance whose memories are being filled; nothing of it has run.
pub struct StagedInstance {
    store: Store<Host>,
    linker: Linker<Host>,
    main: Instance,
    module: FastModule,
    flags: SharedMemory,
    handle: CheckpointHandle,
    wasi: Arc<Mutex<WasiCtx>>,
    memories: Vec<Memory>,
}

/// A staged instance with its final state: ready to [`FastInstance::resume`].
pub struct Finished {
    pub instance: FastInstance,
    /// The context the program's WASI calls use (the one given to `finish`).
    pub wasi: Arc<Mutex<WasiCtx>>,
    /// Generating and compiling (or loading from the clones cache) the continuation
    /// clones of the final frames: the part of `finish` that could not be done earlier.
    pub clones: Duration,
}

fn restore_error(message: impl Into<String>) -> Error {
    Error::Restore(message.into())
}

impl StagedInstance {
    /// Instantiates `module` with every memory zero (what instantiation wrote is cleared
    /// again); its start function does not run (`instance::call_start`).
    pub fn new(module: &FastModule) -> Result<StagedInstance, Error> {
        let placeholder = WasiCtxBuilder::new()
            .build()
            .map_err(|e| restore_error(format!("an empty WASI context: {e}")))?;
        let wasi = Arc::new(Mutex::new(placeholder));
        let (mut store, linker, flags, handle) = FastInstance::setup(module, wasi.clone())?;
        let main = linker.instantiate(&mut store, &module.module)?;
        let mut memories = Vec::new();
        for m in 0..module.prepared.facts.memories {
            let name = reach_name("memory", m);
            let Some(Extern::Memory(memory)) = main.get_export(&mut store, &name) else {
                return Err(restore_error(format!("export `{name}` is missing")));
            };
            let data = memory.data_mut(&mut store);
            clear_instantiated(&module.prepared.facts, m, data);
            memories.push(memory);
        }
        Ok(StagedInstance {
            store,
            linker,
            main,
            module: module.clone(),
            flags,
            handle,
            wasi,
            memories,
        })
    }

    /// The flag the final WASI context must be built with
    /// (`WasiCtxBuilder::interrupt_flag`).
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.wasi
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .interrupt_flag()
    }

    /// How many memories the module has.
    pub fn memory_count(&self) -> usize {
        self.memories.len()
    }

    /// The size of memory `m` in Wasm pages (0 for a memory the module does not have).
    pub fn pages(&self, m: usize) -> u32 {
        self.memories
            .get(m)
            .map_or(0, |memory| memory.size(&self.store) as u32)
    }

    /// Memory `m` grown to at least `pages` Wasm pages; its bytes, to write pages into.
    pub fn memory_mut(&mut self, m: usize, pages: u32) -> Result<&mut [u8], Error> {
        let memory = *self.memories.get(m).ok_or_else(|| {
            restore_error(format!(
                "memory {m}: the module has {} memories",
                self.memories.len()
            ))
        })?;
        let current = memory.size(&self.store);
        let wanted = u64::from(pages);
        if wanted > current {
            memory
                .grow(&mut self.store, wanted - current)
                .map_err(|_| restore_error(format!("memory {m}: cannot grow to {wanted} pages")))?;
            let data = memory.data_mut(&mut self.store);
            tern_snapshot::advise_huge_pages(data.as_ptr(), data.len());
        }
        Ok(memory.data_mut(&mut self.store))
    }

    /// Restores the rest of `snapshot` (its memory images sized, their contents written
    /// already; a memory smaller than its image is grown with zeroes) and makes `wasi`
    /// the program's WASI context. Nothing runs yet. Checks as
    /// [`FastInstance::restore`] does.
    pub fn finish(mut self, snapshot: &Snapshot, wasi: WasiCtx) -> Result<Finished, Error> {
        let started = Instant::now();
        if snapshot.module != *self.module.identity() {
            return Err(restore_error(
                "the snapshot was taken of a different module",
            ));
        }
        let state = &snapshot.state;
        if let Some(frame) = state.frames.iter().find(|f| f.instance != 0) {
            return Err(restore_error(format!(
                "a frame of function {} is in instance {}, the module has one",
                frame.func, frame.instance
            )));
        }
        for (m, image) in state.memories.iter().enumerate() {
            if !image.nonzero_pages.is_empty() || self.pages(m) > image.pages {
                return Err(restore_error(format!(
                    "memory {m}: the written memory does not match the sized image"
                )));
            }
        }
        // Frames first: generating the clones validates them against the module.
        let (conts, clones_module) = compile_clones(&self.module, &state.frames)?;
        let clones = started.elapsed();
        for (m, image) in state.memories.iter().enumerate() {
            self.memory_mut(m, image.pages)?;
        }
        let StagedInstance {
            mut store,
            mut linker,
            main,
            module,
            flags,
            handle,
            wasi: shared,
            ..
        } = self;
        crate::restore::link_main(&mut linker, &mut store, main, &clones_module)?;
        let clones_instance = linker.instantiate(&mut store, &clones_module)?;
        *shared.lock().unwrap_or_else(|e| e.into_inner()) = wasi;
        let mut instance = FastInstance::publish(store, main, &module, flags, handle);
        instance.check_counts(state)?;
        instance.write_entities(state)?;
        instance.map_funcrefs(clones_instance, &conts.refs)?;
        instance.resume = Some(Resume::new(
            conts,
            clones_instance,
            state.frames.clone(),
            started,
        ));
        Ok(Finished {
            instance,
            wasi: shared,
            clones,
        })
    }
}
