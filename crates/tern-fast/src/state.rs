//! Writing a snapshot's memories, tables, globals and dropped segments into a freshly
//! instantiated main instance, through the reach exports (original indices). Every
//! count, size and type is checked; a mismatch is an [`Error::Restore`], never a panic.

use crate::drops::dropped_export;
use crate::error::Error;
use crate::host::main_func;
use crate::instance::FastInstance;
use crate::prepare::{Facts, reach_name};
use tern_snapshot::{ExecState, MemoryImage, TableImage, Value, WASM_PAGE};
use wasmtime::{Extern, Func, Mutability, Ref, Val};

/// Writes the pages of memory `m` into its whole linear memory, where every page the
/// snapshot does not store already reads as zero.
pub(crate) type MemoryFill<'a> = dyn FnMut(usize, &mut [u8]) -> Result<(), Error> + 'a;

/// A [`MemoryFill`] from images that hold their pages (a decoded [`tern_snapshot::Snapshot`]).
pub(crate) fn copy_images(
    images: &[MemoryImage],
) -> impl FnMut(usize, &mut [u8]) -> Result<(), Error> {
    move |m, data| {
        let image = &images[m];
        for (page, content) in &image.nonzero_pages {
            let at = *page as usize * WASM_PAGE;
            let target = data.get_mut(at..at + WASM_PAGE).ok_or_else(|| {
                restore_error(format!(
                    "memory {m}: page {page} is beyond its {} pages",
                    image.pages
                ))
            })?;
            if content.len() != WASM_PAGE {
                return Err(restore_error(format!(
                    "memory {m}: page {page} has {} bytes",
                    content.len()
                )));
            }
            target.copy_from_slice(content);
        }
        Ok(())
    }
}

/// Zeroes what instantiation wrote into memory `index` of the module of `facts` (`data`,
/// the memory's bytes), so that every page reads as zero.
pub(crate) fn clear_instantiated(facts: &Facts, index: u32, data: &mut [u8]) {
    match facts
        .initialized
        .get(index as usize)
        .and_then(Option::as_ref)
    {
        Some(ranges) => {
            for range in ranges {
                let end = (range.end as usize).min(data.len());
                let start = (range.start as usize).min(end);
                data[start..end].fill(0);
            }
        }
        // Reading an untouched page does not commit it.
        None => {
            for page in data.chunks_mut(WASM_PAGE) {
                if page.iter().any(|&b| b != 0) {
                    page.fill(0);
                }
            }
        }
    }
}

fn restore_error(message: impl Into<String>) -> Error {
    Error::Restore(message.into())
}

impl FastInstance {
    /// Writes the entity state of `state` (not its frames) into the main instance.
    /// `fill` writes each memory's pages (see [`MemoryFill`]).
    pub(crate) fn write_state(
        &mut self,
        state: &ExecState,
        fill: &mut MemoryFill<'_>,
    ) -> Result<(), Error> {
        self.check_counts(state)?;
        for (m, image) in (0u32..).zip(&state.memories) {
            self.write_memory(m, image.pages, fill)?;
        }
        self.write_entities(state)
    }

    /// Checks that `state` has as many memories, tables, globals and instances as the
    /// module.
    pub(crate) fn check_counts(&self, state: &ExecState) -> Result<(), Error> {
        let facts = &self.module.prepared.facts;
        let counts = [
            ("memories", state.memories.len(), facts.memories),
            ("tables", state.tables.len(), facts.tables),
            ("globals", state.globals.len(), facts.globals),
        ];
        for (what, got, want) in counts {
            if got != want as usize {
                return Err(restore_error(format!(
                    "the snapshot has {got} {what}, the module {want}"
                )));
            }
        }
        if state.instances.len() > 1 {
            return Err(restore_error("the snapshot holds several instances"));
        }
        Ok(())
    }

    /// Writes the tables, globals and dropped segments of `state` (its counts checked).
    pub(crate) fn write_entities(&mut self, state: &ExecState) -> Result<(), Error> {
        let prepared = self.module.prepared.clone();
        let facts = &prepared.facts;
        for (t, image) in (0u32..).zip(&state.tables) {
            let before = facts
                .instantiated_tables
                .get(t as usize)
                .and_then(Option::as_deref);
            self.write_table(t, image, before)?;
        }
        for (g, value) in (0u32..).zip(&state.globals) {
            self.write_global(g, value)?;
        }
        if let Some(image) = state.instances.first() {
            self.drop_segments("data", &image.dropped_data, facts.data_active.len())?;
            self.drop_segments("elem", &image.dropped_elems, facts.elem_dropped.len())?;
        }
        Ok(())
    }

    fn reach(&mut self, kind: &str, index: u32) -> Result<Extern, Error> {
        let name = reach_name(kind, index);
        self.instance
            .get_export(&mut self.store, &name)
            .ok_or_else(|| restore_error(format!("export `{name}` is missing")))
    }

    /// The main instance's function of original index `f`.
    pub(crate) fn main_func(&mut self, f: u32) -> Result<Func, Error> {
        main_func(&mut self.store, self.instance, f)
            .ok_or_else(|| restore_error(format!("funcref to unknown function {f}")))
    }

    /// A canonical value as a wasmtime value of the main instance.
    pub(crate) fn wasm_value(&mut self, value: &Value) -> Result<Val, Error> {
        match *value {
            Value::FuncRef(Some(f)) => Ok(Val::FuncRef(Some(self.main_func(f)?))),
            ref other => crate::instance::to_val(other).map_err(restore_error),
        }
    }

    /// Grows memory `index` to the snapshot's `pages`, clears what instantiation wrote
    /// into it, and lets `fill` write the snapshot's pages.
    fn write_memory(
        &mut self,
        index: u32,
        pages: u32,
        fill: &mut MemoryFill<'_>,
    ) -> Result<(), Error> {
        let Extern::Memory(memory) = self.reach("memory", index)? else {
            return Err(restore_error(format!("memory {index} is not a memory")));
        };
        let current = memory.size(&self.store);
        let wanted = u64::from(pages);
        if wanted < current {
            return Err(restore_error(format!(
                "memory {index}: {wanted} pages in the snapshot, below the module's minimum {current}"
            )));
        }
        memory
            .grow(&mut self.store, wanted - current)
            .map_err(|_| {
                restore_error(format!(
                    "memory {index}: cannot grow to the snapshot's {wanted} pages"
                ))
            })?;
        let prepared = self.module.prepared.clone();
        let data = memory.data_mut(&mut self.store);
        clear_instantiated(&prepared.facts, index, data);
        tern_snapshot::advise_huge_pages(data.as_ptr(), data.len());
        fill(index as usize, data)
    }

    /// Writes table `index` from `image`. `before`, when known, is what instantiation
    /// put there (`table_init.rs`; null past its end): elements equal to it are left
    /// alone.
    fn write_table(
        &mut self,
        index: u32,
        image: &TableImage,
        before: Option<&[Option<u32>]>,
    ) -> Result<(), Error> {
        let Extern::Table(table) = self.reach("table", index)? else {
            return Err(restore_error(format!("table {index} is not a table")));
        };
        let current = table.size(&self.store);
        let wanted = image.elements.len() as u64;
        if wanted < current {
            return Err(restore_error(format!(
                "table {index}: {wanted} elements in the snapshot, below the module's minimum {current}"
            )));
        }
        let null = match image.elements.first() {
            Some(Value::ExternRef(_)) => Ref::Extern(None),
            _ => Ref::Func(None),
        };
        if wanted > current {
            table
                .grow(&mut self.store, wanted - current, null)
                .map_err(|e| restore_error(format!("table {index}: cannot grow: {e}")))?;
        }
        for (i, element) in (0u64..).zip(&image.elements) {
            if let (Some(before), Value::FuncRef(f)) = (before, element)
                && before.get(i as usize).copied().flatten() == *f
            {
                continue;
            }
            let element = match *element {
                Value::FuncRef(None) => Ref::Func(None),
                Value::FuncRef(Some(f)) => Ref::Func(Some(self.main_func(f)?)),
                Value::ExternRef(None) => Ref::Extern(None),
                ref other => {
                    return Err(restore_error(format!(
                        "table {index}: element {i} is {other:?}"
                    )));
                }
            };
            table
                .set(&mut self.store, i, element)
                .map_err(|e| restore_error(format!("table {index}: element {i}: {e}")))?;
        }
        Ok(())
    }

    fn write_global(&mut self, index: u32, value: &Value) -> Result<(), Error> {
        let Extern::Global(global) = self.reach("global", index)? else {
            return Err(restore_error(format!("global {index} is not a global")));
        };
        if global.ty(&self.store).mutability() == Mutability::Const {
            // Its value is the module's own; a snapshot cannot change it.
            let current = global.get(&mut self.store);
            let current = self.value_of(current)?;
            if current != *value {
                return Err(restore_error(format!(
                    "immutable global {index} is {current:?} in the module, {value:?} in the snapshot"
                )));
            }
            return Ok(());
        }
        let val = self.wasm_value(value)?;
        global
            .set(&mut self.store, val)
            .map_err(|e| restore_error(format!("global {index}: {e}")))
    }

    /// Replays `data.drop` / `elem.drop` for segments the snapshot has dropped through
    /// the helpers `export_for_clones` added, which record the drop too (`drops.rs`).
    /// Active segments are dropped by instantiation already. A passive segment without
    /// a helper is never dropped by the module's code, and no code can read it either
    /// when it has no `*.init` helper; its drop is only recorded, so the next snapshot
    /// says it again. A segment beyond the module's `count` of `kind` is refused.
    fn drop_segments(&mut self, kind: &str, dropped: &[u32], count: usize) -> Result<(), Error> {
        for &segment in dropped {
            if segment as usize >= count {
                return Err(restore_error(format!(
                    "the snapshot drops {kind} segment {segment}, the module has {count}"
                )));
            }
            let name = format!("tern:{kind}.drop:{segment}");
            if let Some(helper) = self.instance.get_func(&mut self.store, &name) {
                helper
                    .call(&mut self.store, &[], &mut [])
                    .map_err(|e| restore_error(format!("{name}: {e}")))?;
            } else if let Some(global) = self
                .instance
                .get_global(&mut self.store, &dropped_export(kind, segment))
            {
                global
                    .set(&mut self.store, Val::I32(1))
                    .map_err(|e| restore_error(format!("{name}: {e}")))?;
            }
        }
        Ok(())
    }
}
