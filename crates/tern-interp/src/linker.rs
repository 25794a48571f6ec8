//! Import resolution and instantiation.

use crate::error::{InstantiateError, Trap, TrapKind};
use crate::module::{ConstExpr, ConstOp, Module, SegmentMode};
use crate::store::{
    Extern, FuncEntity, GlobalEntity, HostFunc, InstanceEntity, InstanceId, MemoryEntity, Slot,
    Store, TableEntity, to_slot,
};
use crate::types::{ExternType, FuncType, GlobalType, Limits, MemoryType, TableType};
use std::collections::HashMap;
use std::sync::Arc;
use tern_snapshot::Value;

#[derive(Clone)]
enum Definition {
    Extern(Extern),
    /// Instantiated afresh for every importing instance, so that a single-module store
    /// numbers its functions exactly like the module does.
    Host(FuncType, HostFunc),
}

/// Names that imports resolve to.
#[derive(Clone, Default)]
pub struct Linker {
    defs: HashMap<(String, String), Definition>,
}

impl std::fmt::Debug for Linker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker")
            .field("definitions", &self.defs.len())
            .finish()
    }
}

impl Linker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `ext` importable as `module`.`name`.
    pub fn define(&mut self, module: &str, name: &str, ext: Extern) {
        self.defs
            .insert((module.into(), name.into()), Definition::Extern(ext));
    }

    /// Makes a host function importable as `module`.`name`.
    pub fn func(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        func: impl Fn(&mut crate::HostContext<'_>, &[Value]) -> Result<Vec<Value>, crate::HostError>
        + Send
        + Sync
        + 'static,
    ) {
        self.defs.insert(
            (module.into(), name.into()),
            Definition::Host(ty, Arc::new(func)),
        );
    }

    /// Makes every export of `instance` importable under `module`.
    pub fn define_instance(&mut self, store: &Store, module: &str, instance: InstanceId) {
        let Some(m) = store.module(instance) else {
            return;
        };
        for (name, _, _) in m.exports() {
            if let Some(ext) = store.export(instance, name) {
                self.define(module, name, ext);
            }
        }
    }

    /// Instantiates `module`: resolves imports, initializes segments, runs the start
    /// function.
    pub fn instantiate(
        &self,
        store: &mut Store,
        module: &Module,
    ) -> Result<InstanceId, InstantiateError> {
        let id = self.allocate(store, module)?;
        initialize(store, id).map_err(InstantiateError::Trap)?;
        Ok(id)
    }

    /// Creates the instance's entities without initializing segments or running the
    /// start function: the shape a snapshot is restored into.
    pub fn instantiate_for_restore(
        &self,
        store: &mut Store,
        module: &Module,
    ) -> Result<InstanceId, InstantiateError> {
        self.allocate(store, module)
    }

    fn resolve(
        &self,
        store: &mut Store,
        module: &str,
        name: &str,
        want: &ExternType,
    ) -> Result<Extern, String> {
        let def = self
            .defs
            .get(&(module.to_string(), name.to_string()))
            .ok_or_else(|| format!("unknown import `{module}`.`{name}`"))?;
        let ext = match def {
            Definition::Host(ty, func) => {
                if !matches!(want, ExternType::Func(w) if w == ty) {
                    return Err(format!("incompatible import type for `{module}`.`{name}`"));
                }
                return Ok(Extern::Func(store.new_host_func(ty, func.clone())));
            }
            Definition::Extern(ext) => *ext,
        };
        let ok = match (want, ext) {
            (ExternType::Func(w), Extern::Func(addr)) => store.func_type(addr) == Some(w),
            (ExternType::Table(w), Extern::Table(addr)) => {
                let t = &store.tables[addr as usize];
                let actual = Limits {
                    min: t.elems.len() as u64,
                    max: t.ty.limits.max,
                };
                t.ty.element == w.element && actual.matches(&w.limits)
            }
            (ExternType::Memory(w), Extern::Memory(addr)) => {
                let m = &store.memories[addr as usize];
                let actual = Limits {
                    min: u64::from(m.pages()),
                    max: m.ty.limits.max,
                };
                actual.matches(&w.limits)
            }
            (ExternType::Global(w), Extern::Global(addr)) => store.globals[addr as usize].ty == *w,
            _ => false,
        };
        if ok {
            Ok(ext)
        } else {
            Err(format!(
                "incompatible import type for `{module}`.`{name}` (a {})",
                want.kind()
            ))
        }
    }

    fn allocate(&self, store: &mut Store, module: &Module) -> Result<InstanceId, InstantiateError> {
        let m = &module.0;
        let id = store.instances.len() as u32;
        let mut inst = InstanceEntity {
            module: module.clone(),
            funcs: Vec::new(),
            tables: Vec::new(),
            memories: Vec::new(),
            globals: Vec::new(),
            type_ids: m.types.iter().map(|t| store.intern_type(t)).collect(),
            dropped_data: vec![false; m.datas.len()],
            dropped_elems: vec![false; m.elems.len()],
            elem_items: Vec::new(),
        };
        for import in &m.imports {
            let ext = self
                .resolve(store, &import.module, &import.name, &import.ty)
                .map_err(InstantiateError::Link)?;
            match ext {
                Extern::Func(a) => inst.funcs.push(a),
                Extern::Table(a) => inst.tables.push(a),
                Extern::Memory(a) => inst.memories.push(a),
                Extern::Global(a) => inst.globals.push(a),
            }
        }
        for index in m.imported_funcs..m.func_types.len() as u32 {
            let type_id = inst.type_ids[m.func_types[index as usize] as usize];
            store.funcs.push(FuncEntity::Wasm {
                instance: id,
                index,
                type_id,
            });
            inst.funcs.push(store.funcs.len() as u32 - 1);
        }
        for ty in &m.memories[m.imported_memories as usize..] {
            inst.memories
                .push(store.new_memory(MemoryType { limits: ty.limits }));
        }
        // Globals and table initializers may refer to imported and earlier globals and
        // to functions, so they are evaluated as they are created.
        for (i, init) in m.global_inits.iter().enumerate() {
            let ty: GlobalType = m.globals[m.imported_globals as usize + i];
            let value = eval_const(store, &inst, init);
            store.globals.push(GlobalEntity { ty, value });
            inst.globals.push(store.globals.len() as u32 - 1);
        }
        for (i, init) in m.table_inits.iter().enumerate() {
            let ty: TableType = m.tables[m.imported_tables as usize + i];
            let fill = init
                .as_ref()
                .map_or(0, |e| eval_const(store, &inst, e) as u64);
            store.tables.push(TableEntity {
                ty,
                elems: vec![fill; ty.limits.min as usize],
            });
            inst.tables.push(store.tables.len() as u32 - 1);
        }
        inst.elem_items = m
            .elems
            .iter()
            .map(|seg| {
                seg.items
                    .iter()
                    .map(|e| eval_const(store, &inst, e) as u64)
                    .collect()
            })
            .collect();
        store.instances.push(inst);
        Ok(InstanceId(id))
    }
}

/// Evaluates a validated constant expression in the context of a (partial) instance.
pub(crate) fn eval_const(store: &Store, inst: &InstanceEntity, expr: &ConstExpr) -> Slot {
    let mut stack: Vec<Slot> = Vec::with_capacity(4);
    for op in expr {
        let value = match *op {
            ConstOp::I32(v) => to_slot(Value::I32(v)),
            ConstOp::I64(v) => to_slot(Value::I64(v)),
            ConstOp::F32(v) => to_slot(Value::F32(v)),
            ConstOp::F64(v) => to_slot(Value::F64(v)),
            ConstOp::V128(v) => v,
            ConstOp::GlobalGet(g) => store.globals[inst.globals[g as usize] as usize].value,
            ConstOp::RefNull(_) => 0,
            ConstOp::RefFunc(f) => u128::from(inst.funcs[f as usize]) + 1,
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let (b, a) = (
                    stack.pop().unwrap_or(0) as u32,
                    stack.pop().unwrap_or(0) as u32,
                );
                u128::from(match op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                })
            }
            ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                let (b, a) = (
                    stack.pop().unwrap_or(0) as u64,
                    stack.pop().unwrap_or(0) as u64,
                );
                u128::from(match op {
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                })
            }
        };
        stack.push(value);
    }
    stack.pop().unwrap_or(0)
}

/// Applies active segments in order and runs the start function.
fn initialize(store: &mut Store, id: InstanceId) -> Result<(), Trap> {
    let inst = &store.instances[id.0 as usize];
    let module = inst.module.clone();
    let m = &module.0;
    for (i, seg) in m.elems.iter().enumerate() {
        match &seg.mode {
            SegmentMode::Active { index, offset } => {
                let inst = &store.instances[id.0 as usize];
                let offset = eval_const(store, inst, offset) as u32;
                let table = inst.tables[*index as usize];
                let items = inst.elem_items[i].clone();
                let elems = &mut store.tables[table as usize].elems;
                let range = offset as usize..offset as usize + items.len();
                let dst = elems
                    .get_mut(range)
                    .ok_or(Trap::new(TrapKind::TableOutOfBounds))?;
                dst.copy_from_slice(&items);
                store.instances[id.0 as usize].dropped_elems[i] = true;
            }
            SegmentMode::Declared => store.instances[id.0 as usize].dropped_elems[i] = true,
            SegmentMode::Passive => {}
        }
    }
    for (i, seg) in m.datas.iter().enumerate() {
        if let SegmentMode::Active { index, offset } = &seg.mode {
            let inst = &store.instances[id.0 as usize];
            let offset = eval_const(store, inst, offset) as u32 as usize;
            let memory: &mut MemoryEntity =
                &mut store.memories[inst.memories[*index as usize] as usize];
            let dst = memory
                .bytes
                .get_mut(offset..offset + seg.bytes.len())
                .ok_or(Trap::new(TrapKind::MemoryOutOfBounds))?;
            dst.copy_from_slice(&seg.bytes);
            store.instances[id.0 as usize].dropped_data[i] = true;
        }
    }
    if let Some(start) = m.start {
        let addr = store.instances[id.0 as usize].funcs[start as usize];
        // Start functions run to completion: a pause request waits until they are done.
        let budget = store.budget.take();
        let result = store.call(addr, &[]);
        store.budget = budget;
        match result {
            Ok(_) => {}
            Err(crate::RunError::Trap(trap)) => return Err(trap),
            Err(other) => {
                return Err(Trap {
                    message: Some(other.to_string()),
                    ..Trap::new(TrapKind::Host)
                });
            }
        }
    }
    Ok(())
}
