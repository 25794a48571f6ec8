//! Restore on the fast tier (DESIGN.md §4, "Restore"): the main module — the cached,
//! compiled instrumented module that `invoke` runs — is instantiated, the snapshot's
//! memories, tables, globals and dropped segments are written into it, and the frames
//! become continuation clones (`tern_instrument::instrumented_continuations`), compiled
//! as a small second module linked to the main instance's exports. The clones are
//! instrumented too, so the restored program can be checkpointed again;
//! [`FastInstance::resume`] runs them.

use crate::engine::FastModule;
use crate::error::Error;
use crate::host::{Host, table_func};
use crate::instance::FastInstance;
use crate::resume::Resume;
use crate::state::{MemoryFill, copy_images};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tern_instrument::clone::{FUNCS_TABLE, MAIN_MODULE, REFS_EXPORT, func_of_export};
use tern_snapshot::{ExecState, Snapshot};
use tern_wasi::WasiCtx;
use wasmtime::{Extern, Linker, Ref, Store};

/// Defines in `linker`, under [`MAIN_MODULE`], what the clones module imports from
/// `main`: its functions `tern:fN`, read from the main module's function table
/// (`export_for_clones` exports that table rather than every function), and its
/// memories, tables, globals and segment helpers, which are exports.
pub(crate) fn link_main(
    linker: &mut Linker<Host>,
    store: &mut Store<Host>,
    main: wasmtime::Instance,
    clones: &wasmtime::Module,
) -> Result<(), Error> {
    let funcs = main.get_table(&mut *store, FUNCS_TABLE);
    for import in clones.imports() {
        if import.module() != MAIN_MODULE {
            continue;
        }
        let name = import.name();
        let export = match func_of_export(name) {
            Some(f) => table_func(&mut *store, funcs, f).map(Extern::Func),
            None => main.get_export(&mut *store, name),
        };
        let export = export.ok_or_else(|| {
            Error::Restore(format!(
                "internal error: the main module has no export `{name}`"
            ))
        })?;
        linker.define(&*store, MAIN_MODULE, name, export)?;
    }
    Ok(())
}

impl FastInstance {
    /// Restores `snapshot` (taken on either engine) of `module`'s original program, with
    /// `wasi` rebuilt from the snapshot's WASI state (`WasiCtxBuilder::rebuild`).
    /// Nothing of the program runs yet: call [`FastInstance::resume`].
    ///
    /// Fails with a one-line error, before anything runs, when the snapshot is of
    /// another module or does not fit it (counts, sizes, types) or when a frame is not
    /// one the module can have (unknown function, pc off an instruction boundary, wrong
    /// types of locals or operand stack, a frame below the top not waiting on a call).
    pub fn restore(
        module: &FastModule,
        snapshot: &Snapshot,
        wasi: Arc<Mutex<WasiCtx>>,
    ) -> Result<FastInstance, Error> {
        if snapshot.module != *module.identity() {
            return Err(Error::Restore(
                "the snapshot was taken of a different module".into(),
            ));
        }
        Self::restore_state(module, &snapshot.state, wasi)
    }

    /// [`FastInstance::restore`] from the canonical state alone (the caller has checked
    /// the module identity).
    pub fn restore_state(
        module: &FastModule,
        state: &ExecState,
        wasi: Arc<Mutex<WasiCtx>>,
    ) -> Result<FastInstance, Error> {
        Self::restore_filled(module, state, wasi, &mut copy_images(&state.memories))
    }

    /// [`FastInstance::restore_state`] where the memory images are sized but hold no
    /// pages: `fill(m, memory)` writes the pages of memory `m` straight into the
    /// instance's linear memory (all of it, the pages not stored already zero), e.g.
    /// `tern_snapshot::SnapshotFile::fill_memory` decompressing while it reads the file.
    /// Memories are filled in order, after everything else was checked; an error of
    /// `fill` is returned as it is.
    pub fn restore_with<E: std::fmt::Display>(
        module: &FastModule,
        state: &ExecState,
        wasi: Arc<Mutex<WasiCtx>>,
        mut fill: impl FnMut(usize, &mut [u8]) -> Result<(), E>,
    ) -> Result<FastInstance, Error> {
        Self::restore_filled(module, state, wasi, &mut |m, memory| {
            fill(m, memory).map_err(|e| Error::Memory(e.to_string()))
        })
    }

    fn restore_filled(
        module: &FastModule,
        state: &ExecState,
        wasi: Arc<Mutex<WasiCtx>>,
        fill: &mut MemoryFill<'_>,
    ) -> Result<FastInstance, Error> {
        let started = Instant::now();
        if let Some(frame) = state.frames.iter().find(|f| f.instance != 0) {
            return Err(Error::Restore(format!(
                "a frame of function {} is in instance {}, the module has one",
                frame.func, frame.instance
            )));
        }
        // Frames first: generating the clones validates them against the module.
        let (conts, clones_module) = crate::clones::compile_clones(module, &state.frames)?;
        let (mut store, mut linker, flags, handle) = Self::setup(module, wasi)?;
        let main = linker.instantiate(&mut store, &module.module)?;
        link_main(&mut linker, &mut store, main, &clones_module)?;
        let clones = linker.instantiate(&mut store, &clones_module)?;
        let mut instance = Self::publish(store, main, module, flags, handle);
        instance.write_state(state, fill)?;
        instance.map_funcrefs(clones, &conts.refs)?;
        instance.resume = Some(Resume::new(conts, clones, state.frames.clone(), started));
        Ok(instance)
    }

    /// Prepares the funcref → original index table of a restored program, which is
    /// built only when first needed (a capture, a funcref result; `host.rs`): from the
    /// main instance's function exports — thousands of lookups in a large program, which
    /// most restores never need — then the references of the clones instance found
    /// here: its slot table and its re-exports of the functions it imports (wasmtime
    /// represents an imported function by a reference of the clones instance, in its
    /// table and for a `ref.func` in a clone).
    pub(crate) fn map_funcrefs(
        &mut self,
        clones: wasmtime::Instance,
        refs: &[u32],
    ) -> Result<(), Error> {
        let store = &mut self.store;
        let mut extra = Vec::new();
        if !refs.is_empty() {
            let table = clones
                .get_table(&mut *store, REFS_EXPORT)
                .ok_or_else(|| Error::Restore("the clones module has no slot table".into()))?;
            for (slot, &f) in (1u64..).zip(refs) {
                if let Some(Ref::Func(Some(func))) = table.get(&mut *store, slot) {
                    extra.push((func.to_raw(&mut *store).addr(), f));
                }
            }
        }
        // A `ref.func` in a clone gives the clones instance's own reference to an
        // imported main function: the clones module re-exports those as `tern:fN`.
        let reexports: Vec<(u32, wasmtime::Func)> = clones
            .exports(&mut *store)
            .filter_map(|export| {
                let f = func_of_export(export.name())?;
                Some((f, export.into_func()?))
            })
            .collect();
        for (f, func) in reexports {
            extra.push((func.to_raw(&mut *store).addr(), f));
        }
        let host = store.data_mut();
        host.main = Some(self.instance);
        host.func_index = None;
        host.func_index_extra = extra;
        Ok(())
    }
}
