//! Capture: after the stack has unwound, the canonical state of the *original* module —
//! memories, tables, globals, segments, frames — plus the WASI state, as a [`Snapshot`].
//!
//! Everything is read through the reach exports (see `prepare.rs`), so indices are the
//! original module's: the flag memory and the added imports never show.
//!
//! Dropped segments are not observable on wasmtime: the capture takes what
//! instantiation drops (active data segments, active and declared element segments) from
//! the facts, and the passive segments the program has dropped from the globals that
//! record every drop (`drops.rs`).

use crate::drops::dropped_export;
use crate::error::Error;
use crate::host::{GaveWay, func_index, table_func};
use crate::instance::FastInstance;
use crate::prepare::reach_name;
use std::path::Path;
use tern_instrument::clone::FUNCS_TABLE;
use tern_snapshot::{
    ExecState, Frame, InstanceImage, MemoryImage, Snapshot, TableImage, TriggerInfo, Value,
    WASM_PAGE,
};
use wasmtime::{Extern, Func, Ref, Val};

impl FastInstance {
    /// The snapshot of a program that has unwound ([`crate::Outcome::Unwound`]).
    pub fn capture(&mut self, trigger: TriggerInfo) -> Result<Snapshot, Error> {
        self.capture_with(trigger, true)
    }

    /// The memories (with their pages), tables and globals as they are now, without
    /// frames: the state of an instance that is not running (e.g. after an invocation
    /// finished), for comparing engines.
    pub fn entity_state(&mut self) -> Result<ExecState, Error> {
        self.entities(true)
    }

    /// Every memory, table and global, and the instance image; no frames.
    fn entities(&mut self, pages: bool) -> Result<ExecState, Error> {
        let prepared = self.module.prepared.clone();
        let facts = &prepared.facts;
        let (memories, tables, globals) = (facts.memories, facts.tables, facts.globals);
        let instance = InstanceImage {
            dropped_data: self.dropped("data", &facts.data_active),
            dropped_elems: self.dropped("elem", &facts.elem_dropped),
        };
        Ok(ExecState {
            memories: (0..memories)
                .map(|m| self.memory(m, pages))
                .collect::<Result<_, _>>()?,
            tables: (0..tables)
                .map(|t| self.table(t))
                .collect::<Result<_, _>>()?,
            globals: (0..globals)
                .map(|g| self.global(g))
                .collect::<Result<_, _>>()?,
            instances: vec![instance],
            frames: Vec::new(),
        })
    }

    /// The segments of `kind` (`data` or `elem`) that are dropped: those instantiation
    /// drops (`at_instantiation`) and the passive ones whose recording global is set.
    fn dropped(&mut self, kind: &str, at_instantiation: &[bool]) -> Vec<u32> {
        (0u32..)
            .zip(at_instantiation)
            .filter(|&(segment, &dropped)| {
                dropped || {
                    let name = dropped_export(kind, segment);
                    let global = self.instance.get_global(&mut self.store, &name);
                    global.is_some_and(|g| g.get(&mut self.store).i32() != Some(0))
                }
            })
            .map(|(segment, _)| segment)
            .collect()
    }

    /// [`capture`](Self::capture); without `pages` the memory images are sized only.
    pub(crate) fn capture_with(
        &mut self,
        trigger: TriggerInfo,
        pages: bool,
    ) -> Result<Snapshot, Error> {
        if !self.is_unwound() {
            return Err(Error::Capture(
                "the program has not unwound for a checkpoint".into(),
            ));
        }
        // The WASI state first: a file that cannot be reopened fails the checkpoint
        // before any work is done.
        let wasi_state = self
            .store
            .data()
            .wasi
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .state()
            .map_err(|e| Error::Capture(e.to_string()))?;
        let wasi = serde_json::to_vec(&wasi_state).map_err(|e| Error::Capture(e.to_string()))?;
        let frames = self.frames()?;
        let state = ExecState {
            frames,
            ..self.entities(pages)?
        };
        self.checkpoint_handle().shared.clear();
        Ok(Snapshot {
            module: *self.module.prepared.identity(),
            trigger,
            state,
            wasi: Some(wasi),
        })
    }

    /// [`capture`](Self::capture), then the snapshot file `path` (written atomically by
    /// tern-snapshot).
    pub fn capture_to_file(
        &mut self,
        trigger: TriggerInfo,
        path: &Path,
    ) -> Result<Snapshot, Error> {
        let snapshot = self.capture(trigger)?;
        tern_snapshot::write_snapshot_file(path, &snapshot)
            .map_err(|e| Error::Capture(format!("writing {}: {e}", path.display())))?;
        Ok(snapshot)
    }

    fn frames(&mut self) -> Result<Vec<Frame>, Error> {
        let host = self.store.data_mut();
        let gave_way = host.gave_way.take();
        let args = gave_way.as_ref().map(wasi_args);
        let map = self.module.prepared.map()?;
        let frames = match (host.resuming.take(), &self.resume) {
            // A restored program unwound while its clones ran.
            (Some(mut collector), Some(resume)) => {
                if let Some(args) = args {
                    collector.reissue(args);
                }
                resume.frames(collector, map)?
            }
            _ => {
                let mut collector = std::mem::take(&mut host.collector);
                if let Some(args) = args {
                    collector.reissue(args);
                }
                collector
                    .finish(map, 0)
                    .map_err(|e| Error::Capture(e.to_string()))?
            }
        };
        if let (Some(gave_way), Some(top)) = (&gave_way, frames.last()) {
            self.check_reissue(gave_way, top)?;
        }
        Ok(frames)
    }

    /// A re-issued call must be a direct `call` of the WASI import that gave way (not a
    /// `call_indirect` or a tail call, whose frames the host cannot rebuild).
    fn check_reissue(&self, gave_way: &GaveWay, top: &Frame) -> Result<(), Error> {
        let prepared = &self.module.prepared;
        let facts = &prepared.facts;
        // With the cache warm this may be the first read of the module file.
        let code = prepared
            .original
            .bytes()
            .map_err(|e| Error::Capture(e.to_string()))?;
        let code = code.get(top.pc as usize..).unwrap_or_default();
        let callee = match code.split_first() {
            Some((0x10, rest)) => read_leb_u32(rest),
            _ => None,
        };
        let is_that_import = callee
            .and_then(|f| facts.func_imports.get(f as usize))
            .is_some_and(|(module, name)| {
                module == tern_wasi::MODULE && name == gave_way.func.name()
            });
        if is_that_import {
            Ok(())
        } else {
            Err(Error::Capture(format!(
                "`{}` gave way to the checkpoint but was not called directly by function {} \
                 (pc 0x{:x}); it cannot be issued again",
                gave_way.func.name(),
                top.func,
                top.pc
            )))
        }
    }

    fn export(&mut self, kind: &str, index: u32) -> Result<Extern, Error> {
        let name = reach_name(kind, index);
        self.instance
            .get_export(&mut self.store, &name)
            .ok_or_else(|| Error::Capture(format!("export `{name}` is missing")))
    }

    pub(crate) fn memory(&mut self, index: u32, pages: bool) -> Result<MemoryImage, Error> {
        let Extern::Memory(memory) = self.export("memory", index)? else {
            return Err(Error::Capture(format!("memory {index} is not a memory")));
        };
        if !pages {
            return Ok(MemoryImage {
                pages: (memory.data_size(&self.store) / WASM_PAGE) as u32,
                nonzero_pages: Vec::new(),
            });
        }
        Ok(memory_image(memory.data(&self.store)))
    }

    fn table(&mut self, index: u32) -> Result<TableImage, Error> {
        let Extern::Table(table) = self.export("table", index)? else {
            return Err(Error::Capture(format!("table {index} is not a table")));
        };
        let size = table.size(&self.store);
        let mut elements = Vec::with_capacity(size.min(1 << 20) as usize);
        for i in 0..size {
            let element = table
                .get(&mut self.store, i)
                .ok_or_else(|| Error::Capture(format!("table {index}: element {i} is missing")))?;
            elements.push(match element {
                Ref::Func(f) => Value::FuncRef(self.func_value(f)?),
                Ref::Extern(None) => Value::ExternRef(None),
                _ => {
                    return Err(Error::Capture(format!(
                        "table {index}: element {i} is a host reference"
                    )));
                }
            });
        }
        Ok(TableImage { elements })
    }

    fn global(&mut self, index: u32) -> Result<Value, Error> {
        let Extern::Global(global) = self.export("global", index)? else {
            return Err(Error::Capture(format!("global {index} is not a global")));
        };
        let value = global.get(&mut self.store);
        self.value_of(value)
            .map_err(|e| Error::Capture(format!("global {index}: {e}")))
    }

    /// A wasmtime value as a canonical one (funcrefs by original function index).
    pub(crate) fn value_of(&mut self, value: Val) -> Result<Value, Error> {
        Ok(match value {
            Val::I32(x) => Value::I32(x as u32),
            Val::I64(x) => Value::I64(x as u64),
            Val::F32(bits) => Value::F32(bits),
            Val::F64(bits) => Value::F64(bits),
            Val::V128(x) => Value::V128(x.as_u128()),
            Val::FuncRef(f) => Value::FuncRef(self.func_value(f)?),
            Val::ExternRef(None) => Value::ExternRef(None),
            _ => {
                return Err(Error::Capture(
                    "a host or GC reference has no canonical form".into(),
                ));
            }
        })
    }

    fn func_value(&mut self, func: Option<Func>) -> Result<Option<u32>, Error> {
        let Some(func) = func else {
            return Ok(None);
        };
        if self.store.data().func_index.is_none() {
            let prepared = self.module.prepared.clone();
            let extra = std::mem::take(&mut self.store.data_mut().func_index_extra);
            let store = &mut self.store;
            let funcs = self.instance.get_table(&mut *store, FUNCS_TABLE);
            let index = func_index(&prepared, &extra, |f| {
                let func = table_func(&mut *store, funcs, f)?;
                Some(func.to_raw(&mut *store).addr())
            });
            self.store.data_mut().func_index = Some(index);
        }
        let raw = func.to_raw(&mut self.store).addr();
        self.store
            .data()
            .func_index
            .as_ref()
            .and_then(|index| index.get(&raw).copied())
            .map(Some)
            .ok_or_else(|| Error::Capture("a funcref is not a function of the module".into()))
    }
}

/// The arguments of a WASI call, typed by its signature.
fn wasi_args(gave_way: &GaveWay) -> Vec<Value> {
    gave_way
        .func
        .params()
        .iter()
        .zip(&gave_way.args)
        .map(|(kind, &arg)| match kind {
            tern_wasi::ValKind::I32 => Value::I32(arg as u32),
            tern_wasi::ValKind::I64 => Value::I64(arg),
        })
        .collect()
}

fn read_leb_u32(bytes: &[u8]) -> Option<u32> {
    let mut result: u64 = 0;
    for (i, &byte) in bytes.iter().take(5).enumerate() {
        result |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(result).ok();
        }
    }
    None
}

/// Page-granular image of a memory: its size and every page holding a non-zero byte.
fn memory_image(bytes: &[u8]) -> MemoryImage {
    let nonzero_pages = (0u32..)
        .zip(bytes.chunks(WASM_PAGE))
        .filter(|(_, page)| page.iter().any(|&b| b != 0))
        .map(|(i, page)| (i, page.to_vec()))
        .collect();
    MemoryImage {
        pages: (bytes.len() / WASM_PAGE) as u32,
        nonzero_pages,
    }
}
