//! What a run leaves behind — how it ended, memories, tables, globals — and the
//! comparison of two runs.

use tern_snapshot::{ExecState, MemoryImage, TableImage, Value, WASM_PAGE};

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Returned(Vec<Value>),
    Trapped(TrapClass),
    Exited(i32),
}

/// A trap kind, named the same for both engines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrapClass {
    Unreachable,
    MemoryOutOfBounds,
    /// Out of bounds table access, by `call_indirect` or a table instruction (the
    /// interpreter says "undefined element" for the first, wasmtime for both).
    TableOutOfBounds,
    UninitializedElement,
    IndirectCallTypeMismatch,
    IntegerDivideByZero,
    IntegerOverflow,
    InvalidConversionToInteger,
    /// The engines' stack limits differ, so this is never compared.
    StackExhausted,
    NullReference,
    Other(String),
}

impl TrapClass {
    /// The class of a trap message (first line), from either engine.
    pub fn of_message(message: &str) -> TrapClass {
        let line = message.lines().next().unwrap_or_default();
        let has = |s: &str| line.contains(s);
        if has("unreachable") {
            TrapClass::Unreachable
        } else if has("out of bounds memory") {
            TrapClass::MemoryOutOfBounds
        } else if has("out of bounds table") || has("undefined element") {
            TrapClass::TableOutOfBounds
        } else if has("uninitialized element") {
            TrapClass::UninitializedElement
        } else if has("indirect call type mismatch") {
            TrapClass::IndirectCallTypeMismatch
        } else if has("divide by zero") {
            TrapClass::IntegerDivideByZero
        } else if has("integer overflow") {
            TrapClass::IntegerOverflow
        } else if has("invalid conversion to integer") {
            TrapClass::InvalidConversionToInteger
        } else if has("call stack exhausted") || has("stack overflow") {
            TrapClass::StackExhausted
        } else if has("null reference") {
            TrapClass::NullReference
        } else {
            TrapClass::Other(line.to_string())
        }
    }
}

/// Everything compared after a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub ending: Ending,
    pub memories: Vec<MemoryImage>,
    pub tables: Vec<TableImage>,
    pub globals: Vec<Value>,
}

impl Observed {
    /// `ending` with the memories, tables and globals of `state` (frames and segment
    /// state are not compared: the fast tier cannot observe dropped segments).
    pub fn new(ending: Ending, state: ExecState) -> Observed {
        Observed {
            ending,
            memories: state.memories,
            tables: state.tables,
            globals: state.globals,
        }
    }

    /// Whether the run hit a stack limit, which differs between engines.
    pub fn exhausted_stack(&self) -> bool {
        self.ending == Ending::Trapped(TrapClass::StackExhausted)
    }

    /// The first difference from `other`, as one line, or `None`.
    pub fn difference(&self, other: &Observed) -> Option<String> {
        let same_ending = match (&self.ending, &other.ending) {
            (Ending::Returned(a), Ending::Returned(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
            }
            (a, b) => a == b,
        };
        if !same_ending {
            return Some(format!("ending {:?} vs {:?}", self.ending, other.ending));
        }
        if self.globals.len() != other.globals.len() {
            return Some(format!(
                "{} globals vs {}",
                self.globals.len(),
                other.globals.len()
            ));
        }
        for (i, (a, b)) in self.globals.iter().zip(&other.globals).enumerate() {
            if !same_value(a, b) {
                return Some(format!("global {i}: {a:?} vs {b:?}"));
            }
        }
        if self.memories.len() != other.memories.len() {
            return Some(format!(
                "{} memories vs {}",
                self.memories.len(),
                other.memories.len()
            ));
        }
        for (i, (a, b)) in self.memories.iter().zip(&other.memories).enumerate() {
            if let Some(d) = memory_difference(a, b) {
                return Some(format!("memory {i}: {d}"));
            }
        }
        if self.tables.len() != other.tables.len() {
            return Some(format!(
                "{} tables vs {}",
                self.tables.len(),
                other.tables.len()
            ));
        }
        for (i, (a, b)) in self.tables.iter().zip(&other.tables).enumerate() {
            if a.elements.len() != b.elements.len() {
                return Some(format!(
                    "table {i}: {} elements vs {}",
                    a.elements.len(),
                    b.elements.len()
                ));
            }
            let mut pairs = a.elements.iter().zip(&b.elements).enumerate();
            if let Some((e, (x, y))) = pairs.find(|(_, (x, y))| x != y) {
                return Some(format!("table {i} element {e}: {x:?} vs {y:?}"));
            }
        }
        None
    }
}

/// Equal, or two NaNs of the same width: Wasm leaves the sign and payload of a NaN that
/// an operation produces nondeterministic (seed 704: `f64x2.promote_low_f32x4` of a
/// NaN lane, positive canonical on the interpreter, sign and payload kept on wasmtime),
/// and `wasm-smith`'s `canonicalize_nans` does not cover every such operation.
fn same_value(a: &Value, b: &Value) -> bool {
    match (*a, *b) {
        (Value::F32(x), Value::F32(y)) => {
            x == y || (f32::from_bits(x).is_nan() && f32::from_bits(y).is_nan())
        }
        (Value::F64(x), Value::F64(y)) => {
            x == y || (f64::from_bits(x).is_nan() && f64::from_bits(y).is_nan())
        }
        _ => a == b,
    }
}

fn memory_difference(a: &MemoryImage, b: &MemoryImage) -> Option<String> {
    if a.pages != b.pages {
        return Some(format!("{} pages vs {}", a.pages, b.pages));
    }
    let zero = vec![0u8; WASM_PAGE];
    let page = |image: &MemoryImage, p: u32| {
        image
            .nonzero_pages
            .iter()
            .find(|(i, _)| *i == p)
            .map_or(zero.clone(), |(_, bytes)| bytes.clone())
    };
    for p in 0..a.pages {
        let (x, y) = (page(a, p), page(b, p));
        if let Some(at) = x.iter().zip(&y).position(|(u, v)| u != v) {
            let offset = p as usize * WASM_PAGE + at;
            return Some(format!(
                "byte 0x{offset:x}: 0x{:02x} vs 0x{:02x}",
                x[at], y[at]
            ));
        }
    }
    None
}
