//! The side table of an instrumented module: for every function its original index, and
//! for every site (safepoint poll or post-call check) what the host needs to turn the
//! values it is handed into a canonical [`tern_snapshot::Frame`].

use crate::abi::ValKind;

/// What kind of point a site is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteKind {
    /// A safepoint poll at function entry: the frame is the top frame, `pc` is the first
    /// instruction of the body.
    Entry,
    /// A safepoint poll at a loop header: the frame is the top frame, `pc` is the first
    /// instruction inside the loop (the loop's parameters are on the operand stack).
    LoopHeader,
    /// A post-call check: the frame waits on the call at `pc`, its operand stack holds
    /// what lies below the call's arguments.
    Call,
    /// A post-call check that found a checkpoint requested and nothing unwinding (it
    /// polls too): the frame is the top frame, `pc` is the instruction after the call,
    /// the call's results are on top of the operand stack.
    AfterCall,
}

/// One site: a point where the cold path can report a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub kind: SiteKind,
    /// Index of the function in the *original* module (imports included).
    pub func: u32,
    /// Byte offset in the original module, following the pc convention of
    /// [`tern_snapshot::Frame`].
    pub pc: u32,
    /// Types of the operand stack of the frame, bottom first (all of it, including
    /// values of enclosing blocks).
    pub stack: Vec<ValKind>,
    /// Which locals are live here; dead ones are reported as zero.
    pub live: Vec<bool>,
}

/// Per-function facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncInfo {
    /// Index of the function in the original module (imports included).
    pub original_index: u32,
    /// Types of every local, parameters first, as declared in the original module (the
    /// instrumented function may have more: scratch locals of the pass come after these).
    pub locals: Vec<ValKind>,
    /// Site ids of this function, ascending.
    pub sites: std::ops::Range<u32>,
}

/// The side table: sites are numbered module-wide, in function order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstrumentMap {
    /// Number of function imports of the original module.
    pub imported_funcs: u32,
    /// One entry per *defined* function of the original module, in order.
    pub funcs: Vec<FuncInfo>,
    /// Every site; a site id is an index into this vector.
    pub sites: Vec<Site>,
}

impl InstrumentMap {
    /// The site with id `site`.
    pub fn site(&self, site: u32) -> Option<&Site> {
        self.sites.get(site as usize)
    }

    /// Facts about function `func` (original index), if it is a defined function.
    pub fn func(&self, func: u32) -> Option<&FuncInfo> {
        let defined = func.checked_sub(self.imported_funcs)?;
        self.funcs.get(defined as usize)
    }

    /// The original index of instrumented function index `func`, or `None` for the
    /// imports the pass added.
    pub fn original_func(func: u32) -> Option<u32> {
        func.checked_sub(crate::abi::ADDED_FUNCS)
    }

    /// The instrumented index of original function index `func`.
    pub fn instrumented_func(func: u32) -> u32 {
        func + crate::abi::ADDED_FUNCS
    }
}

/// Version of [`InstrumentMap::encode`]'s format; [`InstrumentMap::decode`] refuses any
/// other.
const ENCODING_VERSION: u32 = 1;

impl InstrumentMap {
    /// The map as bytes, for a cache of instrumented modules: little-endian `u32`s,
    /// value kinds as one byte each, liveness as bits. [`InstrumentMap::decode`] reads it
    /// back.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put(&mut out, ENCODING_VERSION);
        put(&mut out, self.imported_funcs);
        put(&mut out, self.funcs.len() as u32);
        for func in &self.funcs {
            put(&mut out, func.original_index);
            put(&mut out, func.sites.start);
            put(&mut out, func.sites.end);
            put_kinds(&mut out, &func.locals);
        }
        put(&mut out, self.sites.len() as u32);
        for site in &self.sites {
            out.push(match site.kind {
                SiteKind::Entry => 0,
                SiteKind::LoopHeader => 1,
                SiteKind::Call => 2,
                SiteKind::AfterCall => 3,
            });
            put(&mut out, site.func);
            put(&mut out, site.pc);
            put_kinds(&mut out, &site.stack);
            put(&mut out, site.live.len() as u32);
            for chunk in site.live.chunks(8) {
                out.push(
                    chunk
                        .iter()
                        .enumerate()
                        .fold(0u8, |b, (i, &l)| b | (u8::from(l) << i)),
                );
            }
        }
        out
    }

    /// Reads a map written by [`InstrumentMap::encode`]; `None` if `bytes` are not one
    /// (another format version, truncated, trailing bytes, an unknown kind, a site range
    /// out of bounds). Never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Option<InstrumentMap> {
        let mut r = Reader::new(bytes);
        if r.u32()? != ENCODING_VERSION {
            return None;
        }
        let imported_funcs = r.u32()?;
        let count = r.count(16)?;
        let mut funcs = Vec::with_capacity(count);
        for _ in 0..count {
            let original_index = r.u32()?;
            let sites = r.u32()?..r.u32()?;
            let locals = r.kinds()?;
            funcs.push(FuncInfo {
                original_index,
                locals,
                sites,
            });
        }
        let count = r.count(17)?;
        let mut sites = Vec::with_capacity(count);
        for _ in 0..count {
            let kind = match r.take(1)?[0] {
                0 => SiteKind::Entry,
                1 => SiteKind::LoopHeader,
                2 => SiteKind::Call,
                3 => SiteKind::AfterCall,
                _ => return None,
            };
            let func = r.u32()?;
            let pc = r.u32()?;
            let stack = r.kinds()?;
            let n = r.u32()? as usize;
            let bits = r.take(n.div_ceil(8))?;
            let live = (0..n).map(|i| bits[i / 8] >> (i % 8) & 1 == 1).collect();
            sites.push(Site {
                kind,
                func,
                pc,
                stack,
                live,
            });
        }
        let in_bounds = funcs
            .iter()
            .all(|f| f.sites.start <= f.sites.end && f.sites.end as usize <= sites.len());
        (r.is_done() && in_bounds).then_some(InstrumentMap {
            imported_funcs,
            funcs,
            sites,
        })
    }
}

/// Appends `v` as 4 little-endian bytes.
pub(crate) fn put(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a count and one byte per kind.
pub(crate) fn put_kinds(out: &mut Vec<u8>, kinds: &[ValKind]) {
    put(out, kinds.len() as u32);
    out.extend(
        kinds
            .iter()
            .map(|k| ValKind::ALL.iter().position(|a| a == k).unwrap_or(0) as u8),
    );
}

/// A bounds-checked cursor over encoded bytes: every read is `None` past the end.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    /// A count of items each at least `min` bytes long, refused if the bytes left cannot
    /// hold them (so a damaged count never allocates gigabytes).
    pub fn count(&mut self, min: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.checked_mul(min)? <= self.bytes.len() - self.at).then_some(n)
    }

    /// What [`put_kinds`] wrote.
    pub fn kinds(&mut self) -> Option<Vec<ValKind>> {
        let n = self.count(1)?;
        self.take(n)?
            .iter()
            .map(|&b| ValKind::ALL.get(usize::from(b)).copied())
            .collect()
    }

    /// Whether every byte was read.
    pub fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> InstrumentMap {
        let wasm = wat::parse_str(
            r#"(module
                 (import "env" "h" (func $h (param i64)))
                 (func (export "f") (param i32 f64) (result i32) (local v128 funcref i64)
                   (loop (call $h (i64.const 1)) (br_if 0 (local.get 0)))
                   (i32.const 7)))"#,
        )
        .unwrap();
        crate::instrument(&wasm).unwrap().map
    }

    #[test]
    fn a_map_survives_encoding() {
        let map = sample();
        assert!(!map.sites.is_empty());
        assert_eq!(InstrumentMap::decode(&map.encode()), Some(map));
        let many_live = InstrumentMap {
            imported_funcs: 3,
            funcs: vec![FuncInfo {
                original_index: 3,
                locals: ValKind::ALL.to_vec(),
                sites: 0..1,
            }],
            sites: vec![Site {
                kind: SiteKind::Call,
                func: 3,
                pc: 0x1234,
                stack: vec![ValKind::V128, ValKind::ExternRef],
                live: (0..19).map(|i| i % 3 == 0).collect(),
            }],
        };
        assert_eq!(InstrumentMap::decode(&many_live.encode()), Some(many_live));
    }

    #[test]
    fn damaged_encodings_are_refused() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert_eq!(InstrumentMap::decode(&bytes[..len]), None, "cut at {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(InstrumentMap::decode(&longer), None);
        // Every single-byte change either is refused or decodes without panicking.
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 0xff;
            let _ = InstrumentMap::decode(&changed);
        }
        let mut version = bytes;
        version[0] = 2;
        assert_eq!(InstrumentMap::decode(&version), None);
    }
}
