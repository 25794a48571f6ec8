//! The [`Facts`] of a module as part of its prepared cache entry (`load.rs`), so that a
//! warm load does not walk the original module's sections again: for cc1 (24 MB) that
//! walk took some 3.5 ms of a 7.5 ms load, its import, element and data sections.
//!
//! Format (integers u32 LE): memories, tables, globals; the data segments' and element
//! segments' flags (a count, then a byte each); the function imports (a count, then
//! module and name, each a length and UTF-8); the escaping functions (a count, then
//! each, ascending); the `memory` export (a byte, then the index if it is 1); whether
//! there is a start function (a byte). Decoding checks every length against what is
//! left, so a damaged payload is a miss, never a panic or a huge allocation.

use crate::prepare::Facts;
use std::sync::Arc;

/// Appends the encoding of `facts` (all but the original's bytes) to `out`.
pub(crate) fn encode(facts: &Facts, out: &mut Vec<u8>) {
    let mut put = |v: u32| out.extend_from_slice(&v.to_le_bytes());
    put(facts.memories);
    put(facts.tables);
    put(facts.globals);
    for flags in [&facts.data_active, &facts.elem_dropped] {
        out.extend_from_slice(&(flags.len() as u32).to_le_bytes());
        out.extend(flags.iter().map(|&f| u8::from(f)));
    }
    out.extend_from_slice(&(facts.func_imports.len() as u32).to_le_bytes());
    for (module, name) in &facts.func_imports {
        for s in [module, name] {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out.extend_from_slice(&(facts.escaping.len() as u32).to_le_bytes());
    for &f in &facts.escaping {
        out.extend_from_slice(&f.to_le_bytes());
    }
    match facts.memory_export {
        Some(m) => {
            out.push(1);
            out.extend_from_slice(&m.to_le_bytes());
        }
        None => out.push(0),
    }
    out.push(u8::from(facts.has_start));
}

/// The facts encoded in `bytes` (all of them), with `original` as the module's bytes;
/// `None` if `bytes` is not exactly one encoding.
pub(crate) fn decode(bytes: &[u8], original: Arc<Vec<u8>>) -> Option<Facts> {
    let mut r = Reader(bytes);
    let mut facts = Facts {
        memories: r.u32()?,
        tables: r.u32()?,
        globals: r.u32()?,
        data_active: r.flags()?,
        elem_dropped: r.flags()?,
        original,
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
    facts.has_start = r.flag()?;
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

    /// A count of items of at least `min_size` bytes each, checked against what is left.
    fn count(&mut self, min_size: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.checked_mul(min_size)? <= self.0.len()).then_some(n)
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
            memories: 1,
            tables: 2,
            globals: 3,
            data_active: vec![true, false],
            elem_dropped: vec![false, true, true],
            func_imports: vec![("wasi_snapshot_preview1".into(), "fd_write".into())],
            escaping: [7, 3, 900].into_iter().collect(),
            original: Arc::new(b"\0asm".to_vec()),
            memory_export: Some(0),
            has_start: true,
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
        let back = decode(&encoded(&facts), facts.original.clone()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{facts:?}"));
        let plain = Facts::default();
        let back = decode(&encoded(&plain), plain.original.clone()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{plain:?}"));
    }

    #[test]
    fn damaged_payloads_are_refused() {
        let bytes = encoded(&sample());
        let original = Arc::new(Vec::new());
        for len in 0..bytes.len() {
            assert!(
                decode(&bytes[..len], original.clone()).is_none(),
                "cut at {len}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, original.clone()).is_none());
        // A count far beyond the payload allocates nothing.
        let mut huge = bytes[..12].to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge, original.clone()).is_none());
        // A flag byte other than 0 or 1.
        let mut bad = bytes;
        *bad.last_mut().unwrap() = 2;
        assert!(decode(&bad, original).is_none());
    }
}
