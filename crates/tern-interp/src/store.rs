//! The store: every function, table, memory, global and instance, plus the execution
//! state of the program running in it. All of it is plain data addressed by index.

use crate::config::Config;
use crate::error::{HostError, RunError};
use crate::module::{ExportKind, Module};
use crate::types::{FuncType, GlobalType, MemoryType, TableType, ValType};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tern_snapshot::{Value, WASM_PAGE};

/// One value-stack slot. Scalars and references live in the low 64 bits.
pub(crate) type Slot = u128;

/// Signature of a host function: it may read and write the caller's memories.
pub type HostFunc =
    Arc<dyn Fn(&mut HostContext<'_>, &[Value]) -> Result<Vec<Value>, HostError> + Send + Sync>;

/// What a host function can reach of the instance that called it.
pub struct HostContext<'a> {
    pub(crate) memories: &'a mut [MemoryEntity],
    pub(crate) memory_map: &'a [u32],
}

impl HostContext<'_> {
    /// Memory `index` of the calling instance, if it has one.
    pub fn memory(&mut self, index: u32) -> Option<&mut [u8]> {
        let addr = *self.memory_map.get(index as usize)?;
        Some(&mut self.memories[addr as usize].bytes)
    }
}

impl fmt::Debug for HostContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostContext").finish_non_exhaustive()
    }
}

/// A store-wide address of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extern {
    Func(u32),
    Table(u32),
    Memory(u32),
    Global(u32),
}

/// A store-wide instance number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstanceId(pub u32);

#[derive(Clone)]
pub(crate) enum FuncEntity {
    Wasm {
        instance: u32,
        index: u32,
        type_id: u32,
    },
    Host {
        func: HostFunc,
        type_id: u32,
    },
}

impl FuncEntity {
    pub(crate) fn type_id(&self) -> u32 {
        match self {
            FuncEntity::Wasm { type_id, .. } | FuncEntity::Host { type_id, .. } => *type_id,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TableEntity {
    pub ty: TableType,
    /// Raw references: 0 is null, `n + 1` is function address (or host value) `n`.
    pub elems: Vec<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct MemoryEntity {
    pub ty: MemoryType,
    pub bytes: Vec<u8>,
    /// While another thread reads this memory (see [`Store::share_memory_locations`]):
    /// the shared table of locations and this memory's index in it.
    pub shared: Option<(crate::shared::MemoryLocations, usize)>,
}

impl MemoryEntity {
    pub(crate) fn pages(&self) -> u32 {
        (self.bytes.len() / WASM_PAGE) as u32
    }

    /// Grows by `delta` pages; returns the old size, or `None` if the limit or the host
    /// refuses.
    pub(crate) fn grow(&mut self, delta: u32) -> Option<u32> {
        let old = self.pages();
        let new = u64::from(old) + u64::from(delta);
        let max = self.ty.limits.max.unwrap_or(65536).min(65536);
        if new > max {
            return None;
        }
        let extra = delta as usize * WASM_PAGE;
        // A reader on another thread must not look while the allocation moves.
        let shared = self.shared.clone();
        let mut locations = shared.as_ref().map(|(l, i)| (l.write(), *i));
        self.bytes.try_reserve_exact(extra).ok()?;
        // Before `resize` writes the new pages (a moved allocation is fresh memory).
        tern_snapshot::advise_huge_pages(self.bytes.as_ptr(), self.bytes.capacity());
        self.bytes.resize(new as usize * WASM_PAGE, 0);
        if let Some((locations, i)) = &mut locations
            && let Some(entry) = locations.get_mut(*i)
        {
            *entry = crate::shared::RawMemory::of(&self.bytes, entry.generation + 1);
        }
        Some(old)
    }
}

/// `pages` Wasm pages of zeroes, or `None` if the allocation fails. The pages come from
/// a zeroing allocation, so the OS provides them lazily: restoring or creating a large,
/// mostly empty memory touches only the pages that hold data.
pub(crate) fn zeroed_pages(pages: u32) -> Option<Vec<u8>> {
    let len = pages as usize * WASM_PAGE;
    if len == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u8>(len).ok()?;
    // SAFETY: `layout` has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` was allocated by the global allocator with the layout of `len` bytes,
    // all of which are initialized (to zero); length and capacity are both `len`.
    let bytes = unsafe { Vec::from_raw_parts(ptr, len, len) };
    tern_snapshot::advise_huge_pages(bytes.as_ptr(), bytes.capacity());
    Some(bytes)
}

#[derive(Debug, Clone)]
pub(crate) struct GlobalEntity {
    pub ty: GlobalType,
    pub value: Slot,
}

#[derive(Debug, Clone)]
pub(crate) struct InstanceEntity {
    pub module: Module,
    pub funcs: Vec<u32>,
    pub tables: Vec<u32>,
    pub memories: Vec<u32>,
    pub globals: Vec<u32>,
    /// Store-wide canonical id of each of the module's types.
    pub type_ids: Vec<u32>,
    pub dropped_data: Vec<bool>,
    pub dropped_elems: Vec<bool>,
    /// Evaluated items of every element segment (raw references).
    pub elem_items: Vec<Arc<[u64]>>,
}

/// A call frame while execution is suspended, or a caller while a callee runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    pub instance: u32,
    /// Function index in the instance's module.
    pub func: u32,
    /// Internal index of the next instruction of this frame.
    pub pc: u32,
    /// Slot index of the frame's first local.
    pub fp: u32,
}

/// Why execution paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseReason {
    /// The interrupt flag was set.
    Interrupted,
    /// The instruction budget ran out.
    BudgetExhausted,
    /// A blocking host call gave way to an interrupt; it is issued again on resume.
    HostInterrupted,
    /// The watched function is about to be called for the N-th time (see
    /// [`Store::watch_calls`]); the call happens on resume.
    CallReached,
}

/// How a call or resume ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Finished(Vec<Value>),
    Paused(PauseReason),
}

/// The suspended (or not yet started) computation of a store.
#[derive(Debug, Default, Clone)]
pub(crate) struct Execution {
    pub stack: Vec<Slot>,
    /// Bottom first; while paused the last one is the active frame.
    pub frames: Vec<Frame>,
    /// One past the top operand of the active frame.
    pub sp: u32,
    /// Result types of the running invocation.
    pub results: Vec<ValType>,
}

/// Owns all runtime entities. See the crate docs for an example.
pub struct Store {
    pub(crate) config: Config,
    pub(crate) types: Vec<FuncType>,
    pub(crate) type_ids: HashMap<FuncType, u32>,
    pub(crate) funcs: Vec<FuncEntity>,
    pub(crate) tables: Vec<TableEntity>,
    pub(crate) memories: Vec<MemoryEntity>,
    pub(crate) globals: Vec<GlobalEntity>,
    pub(crate) instances: Vec<InstanceEntity>,
    pub(crate) exec: Execution,
    pub(crate) interrupt: Arc<AtomicBool>,
    /// Instructions left before a pause; `None` runs without counting.
    pub(crate) budget: Option<u64>,
    pub(crate) executed: u64,
    /// A function (store address) whose calls are counted, and how many more calls
    /// reach it before execution pauses in front of one.
    pub(crate) call_watch: Option<(u32, u64)>,
    /// Interrupt checks between two pauses with [`PauseReason::Interrupted`] when there
    /// are no threads to set the flag (see [`Store::set_poll_interval`]).
    #[cfg(target_os = "wasi")]
    pub(crate) poll_interval: Option<u64>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("funcs", &self.funcs.len())
            .field("instances", &self.instances.len())
            .field("frames", &self.exec.frames.len())
            .finish_non_exhaustive()
    }
}

impl Store {
    pub fn new(config: &Config) -> Store {
        Store {
            config: config.clone(),
            types: Vec::new(),
            type_ids: HashMap::new(),
            funcs: Vec::new(),
            tables: Vec::new(),
            memories: Vec::new(),
            globals: Vec::new(),
            instances: Vec::new(),
            exec: Execution::default(),
            interrupt: Arc::new(AtomicBool::new(false)),
            budget: None,
            executed: 0,
            call_watch: None,
            #[cfg(target_os = "wasi")]
            poll_interval: None,
        }
    }

    pub(crate) fn intern_type(&mut self, ty: &FuncType) -> u32 {
        if let Some(&id) = self.type_ids.get(ty) {
            return id;
        }
        let id = self.types.len() as u32;
        self.types.push(ty.clone());
        self.type_ids.insert(ty.clone(), id);
        id
    }

    /// A flag that, once set from any thread, pauses execution at the next branch or
    /// call. It is cleared when the pause happens.
    pub fn interrupt_handle(&self) -> Arc<AtomicBool> {
        self.interrupt.clone()
    }

    /// Pause after exactly `budget` more instructions (`None`: never). A budget that
    /// runs out is disarmed.
    pub fn set_instruction_budget(&mut self, budget: Option<u64>) {
        self.budget = budget;
    }

    /// Pause with [`PauseReason::Interrupted`] after every `checks` interrupt checks
    /// (backward branches and calls) of a run, as if the interrupt flag had been set then
    /// (`None`: never). For WASI, which has no threads to set the flag: the embedder
    /// looks at the world at each such pause and resumes.
    #[cfg(target_os = "wasi")]
    pub fn set_poll_interval(&mut self, checks: Option<u64>) {
        self.poll_interval = checks.filter(|&n| n > 0);
    }

    /// Instructions executed so far while a budget was armed.
    /// Pauses in front of the `n`-th call (from now, `n >= 1`) of the function at store
    /// address `func`, by `call`, `call_indirect` or their tail forms; `None` stops
    /// watching. The watch ends when it fires.
    pub fn watch_calls(&mut self, watch: Option<(u32, u64)>) {
        self.call_watch = watch.filter(|&(_, n)| n > 0);
    }

    /// The store address of function `index` of `instance`.
    pub fn func_addr(&self, instance: InstanceId, index: u32) -> Option<u32> {
        self.instances
            .get(instance.0 as usize)?
            .funcs
            .get(index as usize)
            .copied()
    }

    pub fn counted_instructions(&self) -> u64 {
        self.executed
    }

    /// Whether a paused invocation is waiting to be resumed.
    pub fn is_paused(&self) -> bool {
        !self.exec.frames.is_empty()
    }

    /// Creates a host function that is not (yet) imported by anything.
    pub fn new_host_func(&mut self, ty: &FuncType, func: HostFunc) -> u32 {
        let type_id = self.intern_type(ty);
        self.funcs.push(FuncEntity::Host { func, type_id });
        self.funcs.len() as u32 - 1
    }

    /// Creates a global, e.g. for a host module such as the spec tests' `spectest`.
    pub fn new_global(&mut self, ty: GlobalType, value: Value) -> u32 {
        self.globals.push(GlobalEntity {
            ty,
            value: to_slot(value),
        });
        self.globals.len() as u32 - 1
    }

    /// Creates a table filled with nulls.
    pub fn new_table(&mut self, ty: TableType) -> u32 {
        self.tables.push(TableEntity {
            ty,
            elems: vec![0; ty.limits.min as usize],
        });
        self.tables.len() as u32 - 1
    }

    /// Creates a zeroed memory.
    pub fn new_memory(&mut self, ty: MemoryType) -> u32 {
        let bytes = vec![0; ty.limits.min as usize * WASM_PAGE]; // calloc: lazily zeroed
        tern_snapshot::advise_huge_pages(bytes.as_ptr(), bytes.capacity());
        self.memories.push(MemoryEntity {
            ty,
            bytes,
            shared: None,
        });
        self.memories.len() as u32 - 1
    }

    /// The export `name` of `instance`.
    pub fn export(&self, instance: InstanceId, name: &str) -> Option<Extern> {
        let inst = self.instances.get(instance.0 as usize)?;
        let (_, kind, index) = inst.module.exports().find(|(n, _, _)| *n == name)?;
        let index = index as usize;
        Some(match kind {
            ExportKind::Func => Extern::Func(inst.funcs[index]),
            ExportKind::Table => Extern::Table(inst.tables[index]),
            ExportKind::Memory => Extern::Memory(inst.memories[index]),
            ExportKind::Global => Extern::Global(inst.globals[index]),
        })
    }

    /// The function address in element `index` of funcref table `addr`; `None` when the
    /// index is out of range or the element is null.
    pub fn table_func(&self, addr: u32, index: u32) -> Option<u32> {
        let raw = *self.tables.get(addr as usize)?.elems.get(index as usize)?;
        u32::try_from(raw.checked_sub(1)?).ok()
    }

    /// The module `instance` was created from.
    pub fn module(&self, instance: InstanceId) -> Option<&Module> {
        Some(&self.instances.get(instance.0 as usize)?.module)
    }

    /// Current value of global `addr`.
    pub fn global_value(&self, addr: u32) -> Option<Value> {
        let global = self.globals.get(addr as usize)?;
        Some(from_slot(global.value, global.ty.content))
    }

    /// Content of memory `addr`.
    pub fn memory(&self, addr: u32) -> Option<&[u8]> {
        Some(&self.memories.get(addr as usize)?.bytes)
    }

    /// Publishes where every memory of the store lies, for a thread that reads them while
    /// the program keeps running (live migration's pre-copy). From now on `memory.grow`
    /// updates the table under its write lock, so a reader holding the read lock always
    /// sees live allocations. Calling it again returns a fresh table.
    pub fn share_memory_locations(&mut self) -> crate::shared::MemoryLocations {
        let table: Vec<_> = (self.memories.iter())
            .map(|m| crate::shared::RawMemory::of(&m.bytes, 0))
            .collect();
        let locations = crate::shared::MemoryLocations::new(table);
        for (i, memory) in self.memories.iter_mut().enumerate() {
            memory.shared = Some((locations.clone(), i));
        }
        locations
    }

    /// Stops publishing memory locations (see [`Store::share_memory_locations`]).
    pub fn unshare_memory_locations(&mut self) {
        for memory in &mut self.memories {
            memory.shared = None;
        }
    }

    /// Content of memory `addr`, writable.
    pub fn memory_mut(&mut self, addr: u32) -> Option<&mut [u8]> {
        Some(&mut self.memories.get_mut(addr as usize)?.bytes)
    }

    /// Signature of function `addr`.
    pub fn func_type(&self, addr: u32) -> Option<&FuncType> {
        Some(&self.types[self.funcs.get(addr as usize)?.type_id() as usize])
    }

    /// Calls export `name` of `instance`.
    pub fn invoke(
        &mut self,
        instance: InstanceId,
        name: &str,
        args: &[Value],
    ) -> Result<Outcome, RunError> {
        match self.export(instance, name) {
            Some(Extern::Func(addr)) => self.call(addr, args),
            _ => Err(RunError::Usage(format!(
                "no exported function named `{name}`"
            ))),
        }
    }

    /// A store with the same instances, functions and entity shapes as this one but no
    /// state: every memory and table empty, every global zero, nothing running. Restoring
    /// an [`tern_snapshot::ExecState`] captured from this store makes it whole again.
    pub fn blank_copy(&self) -> Store {
        let mut copy = Store::new(&self.config);
        copy.types = self.types.clone();
        copy.type_ids = self.type_ids.clone();
        copy.funcs = self.funcs.clone();
        copy.instances = self.instances.clone();
        for instance in &mut copy.instances {
            instance.dropped_data.fill(false);
            instance.dropped_elems.fill(false);
        }
        copy.tables = self
            .tables
            .iter()
            .map(|t| TableEntity {
                ty: t.ty,
                elems: Vec::new(),
            })
            .collect();
        copy.memories = self
            .memories
            .iter()
            .map(|m| MemoryEntity {
                ty: m.ty,
                bytes: Vec::new(),
                shared: None,
            })
            .collect();
        copy.globals = self
            .globals
            .iter()
            .map(|g| GlobalEntity { ty: g.ty, value: 0 })
            .collect();
        copy
    }
}

/// A value in slot form.
pub(crate) fn to_slot(value: Value) -> Slot {
    match value {
        Value::I32(v) | Value::F32(v) => v.into(),
        Value::I64(v) | Value::F64(v) => v.into(),
        Value::V128(v) => v,
        Value::FuncRef(r) | Value::ExternRef(r) => r.map_or(0, |n| u64::from(n) + 1).into(),
    }
}

/// The value of type `ty` held in `slot`.
pub(crate) fn from_slot(slot: Slot, ty: ValType) -> Value {
    let low = slot as u64;
    let reference = low.checked_sub(1).map(|n| n as u32);
    match ty {
        ValType::I32 => Value::I32(low as u32),
        ValType::I64 => Value::I64(low),
        ValType::F32 => Value::F32(low as u32),
        ValType::F64 => Value::F64(low),
        ValType::V128 => Value::V128(slot),
        ValType::FuncRef => Value::FuncRef(reference),
        ValType::ExternRef => Value::ExternRef(reference),
    }
}
