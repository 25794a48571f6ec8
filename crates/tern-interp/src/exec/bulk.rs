//! Out-of-line instructions: tables, bulk memory, and memory access to memories other
//! than memory 0. All bounds are checked here with safe indexing.

use crate::code::{LoadKind, StoreKind};
use crate::error::TrapKind;
use crate::store::{Slot, Store};

type Result<T> = std::result::Result<T, TrapKind>;

/// `start..start + len` if it lies within `0..size`.
fn range(start: u32, len: u32, size: usize, trap: TrapKind) -> Result<std::ops::Range<usize>> {
    let end = u64::from(start) + u64::from(len);
    if end > size as u64 {
        Err(trap)
    } else {
        Ok(start as usize..end as usize)
    }
}

/// `memory.copy` / `table.copy`: `n` items from `s` in entity `src` to `d` in entity
/// `dst` (possibly the same one, then overlapping ranges copy as if through a buffer),
/// after checking both ranges.
fn copy_items<E, T: Copy>(
    entities: &mut [E],
    items: impl Fn(&mut E) -> &mut Vec<T>,
    [dst, src]: [usize; 2],
    [d, s, n]: [u32; 3],
    trap: TrapKind,
) -> Result<()> {
    let src_range = range(s, n, items(&mut entities[src]).len(), trap)?;
    let dst_range = range(d, n, items(&mut entities[dst]).len(), trap)?;
    if dst == src {
        items(&mut entities[dst]).copy_within(src_range, dst_range.start);
    } else {
        let [to, from] = entities
            .get_disjoint_mut([dst, src])
            .expect("two distinct entities");
        items(to)[dst_range].copy_from_slice(&items(from)[src_range]);
    }
    Ok(())
}

impl Store {
    fn table_addr(&self, instance: u32, table: u32) -> usize {
        self.instances[instance as usize].tables[table as usize] as usize
    }

    fn memory_addr(&self, instance: u32, mem: u32) -> usize {
        self.instances[instance as usize].memories[mem as usize] as usize
    }

    pub(crate) fn table_get(&self, instance: u32, table: u32, index: u32) -> Result<u64> {
        let elems = &self.tables[self.table_addr(instance, table)].elems;
        elems
            .get(index as usize)
            .copied()
            .ok_or(TrapKind::TableOutOfBounds)
    }

    pub(crate) fn table_set(
        &mut self,
        instance: u32,
        table: u32,
        index: u32,
        value: u64,
    ) -> Result<()> {
        let addr = self.table_addr(instance, table);
        let slot = self.tables[addr]
            .elems
            .get_mut(index as usize)
            .ok_or(TrapKind::TableOutOfBounds)?;
        *slot = value;
        Ok(())
    }

    pub(crate) fn table_size(&self, instance: u32, table: u32) -> u32 {
        self.tables[self.table_addr(instance, table)].elems.len() as u32
    }

    /// Returns the old size, or -1 (as u32) if the table cannot grow.
    pub(crate) fn table_grow(&mut self, instance: u32, table: u32, n: u32, init: u64) -> u32 {
        let addr = self.table_addr(instance, table);
        let t = &mut self.tables[addr];
        let old = t.elems.len() as u64;
        let max =
            t.ty.limits
                .max
                .unwrap_or(u64::from(u32::MAX))
                .min(u64::from(u32::MAX));
        let new = old + u64::from(n);
        if new > max || t.elems.try_reserve(n as usize).is_err() {
            return u32::MAX;
        }
        t.elems.resize(new as usize, init);
        old as u32
    }

    pub(crate) fn table_fill(
        &mut self,
        instance: u32,
        table: u32,
        i: u32,
        value: u64,
        n: u32,
    ) -> Result<()> {
        let addr = self.table_addr(instance, table);
        let elems = &mut self.tables[addr].elems;
        let r = range(i, n, elems.len(), TrapKind::TableOutOfBounds)?;
        elems[r].fill(value);
        Ok(())
    }

    pub(crate) fn table_copy(
        &mut self,
        instance: u32,
        dst: u32,
        src: u32,
        d: u32,
        s: u32,
        n: u32,
    ) -> Result<()> {
        let (dst, src) = (
            self.table_addr(instance, dst),
            self.table_addr(instance, src),
        );
        copy_items(
            &mut self.tables,
            |t| &mut t.elems,
            [dst, src],
            [d, s, n],
            TrapKind::TableOutOfBounds,
        )
    }

    pub(crate) fn table_init(
        &mut self,
        instance: u32,
        table: u32,
        elem: u32,
        d: u32,
        s: u32,
        n: u32,
    ) -> Result<()> {
        let inst = &self.instances[instance as usize];
        let items = if inst.dropped_elems[elem as usize] {
            &[][..]
        } else {
            &inst.elem_items[elem as usize][..]
        };
        let src_range = range(s, n, items.len(), TrapKind::TableOutOfBounds)?;
        let items: Vec<u64> = items[src_range].to_vec();
        let addr = self.table_addr(instance, table);
        let elems = &mut self.tables[addr].elems;
        let dst_range = range(d, n, elems.len(), TrapKind::TableOutOfBounds)?;
        elems[dst_range].copy_from_slice(&items);
        Ok(())
    }

    pub(crate) fn memory_pages(&self, instance: u32, mem: u32) -> u32 {
        self.memories[self.memory_addr(instance, mem)].pages()
    }

    /// Returns the old size in pages, or -1 (as u32) if the memory cannot grow.
    pub(crate) fn memory_grow(&mut self, instance: u32, mem: u32, delta: u32) -> u32 {
        let addr = self.memory_addr(instance, mem);
        self.memories[addr].grow(delta).unwrap_or(u32::MAX)
    }

    pub(crate) fn memory_init(
        &mut self,
        instance: u32,
        mem: u32,
        data: u32,
        d: u32,
        s: u32,
        n: u32,
    ) -> Result<()> {
        let inst = &self.instances[instance as usize];
        let module = inst.module.clone();
        let bytes = if inst.dropped_data[data as usize] {
            &[][..]
        } else {
            &module.0.datas[data as usize].bytes[..]
        };
        let src_range = range(s, n, bytes.len(), TrapKind::MemoryOutOfBounds)?;
        let addr = self.memory_addr(instance, mem);
        let memory = &mut self.memories[addr].bytes;
        let dst_range = range(d, n, memory.len(), TrapKind::MemoryOutOfBounds)?;
        memory[dst_range].copy_from_slice(&bytes[src_range]);
        Ok(())
    }

    pub(crate) fn memory_copy(
        &mut self,
        instance: u32,
        dst: u32,
        src: u32,
        d: u32,
        s: u32,
        n: u32,
    ) -> Result<()> {
        let (dst, src) = (
            self.memory_addr(instance, dst),
            self.memory_addr(instance, src),
        );
        copy_items(
            &mut self.memories,
            |m| &mut m.bytes,
            [dst, src],
            [d, s, n],
            TrapKind::MemoryOutOfBounds,
        )
    }

    pub(crate) fn memory_fill(
        &mut self,
        instance: u32,
        mem: u32,
        d: u32,
        value: u8,
        n: u32,
    ) -> Result<()> {
        let addr = self.memory_addr(instance, mem);
        let memory = &mut self.memories[addr].bytes;
        let r = range(d, n, memory.len(), TrapKind::MemoryOutOfBounds)?;
        memory[r].fill(value);
        Ok(())
    }

    /// Reads `width` (≤ 16) bytes little-endian from `addr + offset` of memory `mem`.
    pub(crate) fn read_bytes(
        &self,
        instance: u32,
        mem: u32,
        addr: u32,
        offset: u32,
        width: u32,
    ) -> Result<u128> {
        let memory = &self.memories[self.memory_addr(instance, mem)].bytes;
        let start = u64::from(addr) + u64::from(offset);
        let end = start + u64::from(width);
        if end > memory.len() as u64 {
            return Err(TrapKind::MemoryOutOfBounds);
        }
        let mut buf = [0u8; 16];
        buf[..width as usize].copy_from_slice(&memory[start as usize..end as usize]);
        Ok(u128::from_le_bytes(buf))
    }

    /// Writes the low `width` bytes of `value` little-endian at `addr + offset`.
    pub(crate) fn write_bytes(
        &mut self,
        instance: u32,
        mem: u32,
        addr: u32,
        offset: u32,
        width: u32,
        value: u128,
    ) -> Result<()> {
        let index = self.memory_addr(instance, mem);
        let memory = &mut self.memories[index].bytes;
        let start = u64::from(addr) + u64::from(offset);
        let end = start + u64::from(width);
        if end > memory.len() as u64 {
            return Err(TrapKind::MemoryOutOfBounds);
        }
        memory[start as usize..end as usize]
            .copy_from_slice(&value.to_le_bytes()[..width as usize]);
        Ok(())
    }

    pub(crate) fn load_any(
        &self,
        instance: u32,
        kind: LoadKind,
        mem: u32,
        addr: u32,
        offset: u32,
    ) -> Result<Slot> {
        let width = match kind {
            LoadKind::I32S8 | LoadKind::I32U8 | LoadKind::I64S8 | LoadKind::I64U8 => 1,
            LoadKind::I32S16 | LoadKind::I32U16 | LoadKind::I64S16 | LoadKind::I64U16 => 2,
            LoadKind::I32 | LoadKind::F32 | LoadKind::I64S32 | LoadKind::I64U32 => 4,
            LoadKind::I64 | LoadKind::F64 => 8,
        };
        let raw = self.read_bytes(instance, mem, addr, offset, width)? as u64;
        let value: u64 = match kind {
            LoadKind::I32S8 => raw as i8 as i32 as u32 as u64,
            LoadKind::I32S16 => raw as i16 as i32 as u32 as u64,
            LoadKind::I64S8 => raw as i8 as i64 as u64,
            LoadKind::I64S16 => raw as i16 as i64 as u64,
            LoadKind::I64S32 => raw as i32 as i64 as u64,
            _ => raw,
        };
        Ok(Slot::from(value))
    }

    pub(crate) fn store_any(
        &mut self,
        instance: u32,
        kind: StoreKind,
        mem: u32,
        addr: u32,
        offset: u32,
        value: Slot,
    ) -> Result<()> {
        let width = match kind {
            StoreKind::I32As8 | StoreKind::I64As8 => 1,
            StoreKind::I32As16 | StoreKind::I64As16 => 2,
            StoreKind::I32 | StoreKind::F32 | StoreKind::I64As32 => 4,
            StoreKind::I64 | StoreKind::F64 => 8,
        };
        self.write_bytes(instance, mem, addr, offset, width, value)
    }
}
