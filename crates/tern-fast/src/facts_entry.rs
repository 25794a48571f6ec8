//! The [`Facts`] of a module as part of its prepared cache entry (`load.rs`), so that a
//! warm load and restore do not walk — nor even read — the original module: for cc1
//! (24 MB) the walk of its import, element and data sections took some 3.5 ms of a
//! 7.5 ms load, and reading the file into fresh memory 23–35 ms of a fresh `tern
//! restore` (`original.rs`).
//!
//! Format (integers u32 LE unless said): the format's version (a byte, [`VERSION`]);
//! memories, tables, globals; the data segments' and element segments' flags (a count,
//! then a byte each); the function imports (a count, then module and name, each a
//! length and UTF-8); the escaping functions (a count, then each, ascending); the
//! `memory` export (a byte, then the index if it is 1); then two lists of optional
//! lists (a count, then per entry a byte — 0 absent, 1 present, then a count of items):
//! the instantiated tables (per table, if predicted, its elements, each a function
//! index or `u32::MAX` for null) and the initialized ranges (per memory, if known, its
//! ranges, each start and end as u64 LE). Decoding
//! checks every length against what is left, so a damaged payload is a miss, never a
//! panic or a huge allocation; so is an entry of another version (entries are keyed by
//! the pass identity as well, which any change of this crate changes).

use crate::prepare::Facts;

/// The version of the format; version 1 had no version byte and ended with the start
/// flag.
const VERSION: u8 = 2;

/// A null table element.
const NULL: u32 = u32::MAX;

/// Appends the encoding of `facts` to `out`.
pub(crate) fn encode(facts: &Facts, out: &mut Vec<u8>) {
    let put = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
    let count = |out: &mut Vec<u8>, n: usize| out.extend_from_slice(&(n as u32).to_le_bytes());
    out.push(VERSION);
    put(out, facts.memories);
    put(out, facts.tables);
    put(out, facts.globals);
    for flags in [&facts.data_active, &facts.elem_dropped] {
        count(out, flags.len());
        out.extend(flags.iter().map(|&f| u8::from(f)));
    }
    count(out, facts.func_imports.len());
    for (module, name) in &facts.func_imports {
        for s in [module, name] {
            count(out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
    }
    count(out, facts.escaping.len());
    for &f in &facts.escaping {
        put(out, f);
    }
    match facts.memory_export {
        Some(m) => {
            out.push(1);
            put(out, m);
        }
        None => out.push(0),
    }
    optional_lists(out, &facts.instantiated_tables, |out, element| {
        put(out, element.unwrap_or(NULL));
    });
    optional_lists(out, &facts.initialized, |out, range| {
        out.extend_from_slice(&range.start.to_le_bytes());
        out.extend_from_slice(&range.end.to_le_bytes());
    });
}

/// Appends `lists`: a count, then per entry a flag and, if present, a count and its
/// items, each written by `item`.
fn optional_lists<T>(out: &mut Vec<u8>, lists: &[Option<Vec<T>>], item: impl Fn(&mut Vec<u8>, &T)) {
    out.extend_from_slice(&(lists.len() as u32).to_le_bytes());
    for list in lists {
        out.push(u8::from(list.is_some()));
        if let Some(items) = list {
            out.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for x in items {
                item(out, x);
            }
        }
    }
}

/// The facts encoded in `bytes` (all of them); `None` if `bytes` is not exactly one
/// encoding of this version.
pub(crate) fn decode(bytes: &[u8]) -> Option<Facts> {
    let mut r = Reader(bytes);
    if r.byte()? != VERSION {
        return None;
    }
    let mut facts = Facts {
        memories: r.u32()?,
        tables: r.u32()?,
        globals: r.u32()?,
        data_active: r.flags()?,
        elem_dropped: r.flags()?,
        ..Facts::default()
    };
    for _ in 0..r.count(8)? {
        facts.func_imports.push((r.string()?, r.string()?));
    }
    for _ in 0..r.count(4)? {
        facts.escaping.insert(r.u32()?);
    }
    facts.memory_export = match r.byte()? {
        0 => None,
        1 => Some(r.u32()?),
        _ => return None,
    };
    facts.instantiated_tables = r.optional_lists(4, |r| {
        let f = r.u32()?;
        Some((f != NULL).then_some(f))
    })?;
    facts.initialized = r.optional_lists(16, |r| Some(r.u64()?..r.u64()?))?;
    r.0.is_empty().then_some(facts)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn flag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// A count of items of at least `min_size` bytes each, checked against what is left.
    fn count(&mut self, min_size: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.checked_mul(min_size)? <= self.0.len()).then_some(n)
    }

    /// What [`optional_lists`] wrote, each item (of at least `item_size` bytes) read by
    /// `item`.
    fn optional_lists<T>(
        &mut self,
        item_size: usize,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<Option<Vec<T>>>> {
        (0..self.count(1)?)
            .map(|_| match self.flag()? {
                false => Some(None),
                true => {
                    let n = self.count(item_size)?;
                    (0..n)
                        .map(|_| item(self))
                        .collect::<Option<Vec<_>>>()
                        .map(Some)
                }
            })
            .collect()
    }

    fn flags(&mut self) -> Option<Vec<bool>> {
        let n = self.count(1)?;
        (0..n).map(|_| self.flag()).collect()
    }

    fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Facts {
        Facts {
            memories: 2,
            tables: 2,
            globals: 3,
            data_active: vec![true, false],
            elem_dropped: vec![false, true, true],
            func_imports: vec![("wasi_snapshot_preview1".into(), "fd_write".into())],
            escaping: [7, 3, 900].into_iter().collect(),
            memory_export: Some(0),
            instantiated_tables: vec![Some(vec![None, Some(7), Some(0)]), None],
            initialized: vec![Some(vec![16..20, 1024..(1 << 40)]), None],
        }
    }

    fn encoded(facts: &Facts) -> Vec<u8> {
        let mut out = Vec::new();
        encode(facts, &mut out);
        out
    }

    #[test]
    fn facts_round_trip() {
        let facts = sample();
        assert_eq!(decode(&encoded(&facts)), Some(facts));
        let plain = Facts::default();
        assert_eq!(decode(&encoded(&plain)), Some(plain));
        let empty = Facts {
            instantiated_tables: vec![Some(Vec::new())],
            initialized: vec![Some(Vec::new())],
            ..Facts::default()
        };
        assert_eq!(decode(&encoded(&empty)), Some(empty));
    }

    #[test]
    fn the_facts_of_a_module_round_trip() {
        let wasm = wat::parse_str(
            r#"(module (memory 1) (table 4 funcref) (func $f)
                 (elem (i32.const 1) func $f) (data (i32.const 8) "ab") (data "p")
                 (data (i32.const 32) "c"))"#,
        )
        .unwrap();
        let facts = crate::prepare::facts(&wasm).unwrap();
        assert_eq!(facts.instantiated_tables, [Some(vec![None, Some(0)])]);
        assert_eq!(facts.initialized, [Some(vec![8..10, 32..33])]);
        assert_eq!(decode(&encoded(&facts)), Some(facts));
    }

    #[test]
    fn damaged_payloads_are_refused() {
        let bytes = encoded(&sample());
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_none(), "cut at {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
        // A count far beyond the payload allocates nothing.
        let mut huge = bytes[..13].to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_none());
        // Another version: the old format (no version byte) or a later one.
        assert!(decode(&bytes[1..]).is_none());
        let mut later = bytes.clone();
        later[0] = VERSION + 1;
        assert!(decode(&later).is_none());
        // A flag byte other than 0 or 1: the `memory` export's (then its index), a
        // table's, a memory's.
        let tables = bytes.len() - table_and_ranges_len();
        let memory_export = tables - 1 - 4;
        let table_flag = tables + 4;
        let last_memory_flag = bytes.len() - 1;
        for at in [memory_export, table_flag, last_memory_flag] {
            let mut bad = bytes.clone();
            assert!(bad[at] <= 1, "byte {at} is a flag");
            bad[at] = 2;
            assert!(decode(&bad).is_none(), "flag at {at}");
        }
        // A count of elements or ranges beyond what is left.
        for at in [table_flag + 1, bytes.len() - 1 - 2 * 16 - 4] {
            let mut bad = bytes.clone();
            bad[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
            assert!(decode(&bad).is_none(), "count at {at}");
        }
    }

    /// The bytes of `sample`'s instantiated tables and initialized ranges.
    fn table_and_ranges_len() -> usize {
        let tables = 4 + (1 + 4 + 3 * 4) + 1;
        let ranges = 4 + (1 + 4 + 2 * 16) + 1;
        tables + ranges
    }
}
