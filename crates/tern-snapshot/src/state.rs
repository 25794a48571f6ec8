//! The canonical execution state of DESIGN.md §1, as plain data.
//!
//! Everything here is defined by the WebAssembly spec, never by an engine: an engine
//! produces an [`ExecState`] when it stops and consumes one to resume. Entities are
//! numbered *store-wide* in creation order; for the common case of one module whose
//! imports are all host functions, store-wide numbers equal the module's own indices.

/// A typed WebAssembly value, as it appears in globals, locals, operand stacks and tables.
///
/// Floats are kept as their bit patterns so that NaN payloads survive a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Value {
    /// An `i32`, as its two's-complement bits.
    I32(u32),
    /// An `i64`, as its two's-complement bits.
    I64(u64),
    /// An `f32`, as its IEEE 754 bits.
    F32(u32),
    /// An `f64`, as its IEEE 754 bits.
    F64(u64),
    /// A `v128`, little-endian lane order.
    V128(u128),
    /// A `funcref`: `None` is `ref.null func`, otherwise a store-wide function number.
    FuncRef(Option<u32>),
    /// An `externref`: `None` is `ref.null extern`, otherwise an opaque host value.
    ExternRef(Option<u32>),
}

/// Size of a WebAssembly page in bytes.
pub const WASM_PAGE: usize = 65536;

/// One linear memory: its size and the content of every page that is not all zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryImage {
    /// Current size in 64 KiB pages.
    pub pages: u32,
    /// `(page index, page bytes)` for every page that holds a non-zero byte, ascending by
    /// index; each byte vector is exactly [`WASM_PAGE`] long.
    pub nonzero_pages: Vec<(u32, Vec<u8>)>,
}

/// One table: every element, in order. Its length is the table's current size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableImage {
    /// The elements; each is a [`Value::FuncRef`] or a [`Value::ExternRef`].
    pub elements: Vec<Value>,
}

/// Per-instance state that is not an entity of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceImage {
    /// Indices of the data segments that have been dropped (by `data.drop`, or because
    /// they were active), ascending.
    pub dropped_data: Vec<u32>,
    /// Indices of the element segments that have been dropped, ascending.
    pub dropped_elems: Vec<u32>,
}

/// One activation of a WebAssembly function.
///
/// `pc` is a byte offset into the module (the same offsets `wasmparser` reports). For the
/// topmost frame it is the next instruction to execute. For every frame below, it is the
/// offset of the `call` / `call_indirect` instruction the frame is waiting on: its operand
/// stack holds what lies *below* the call's arguments, and when the callee returns its
/// results are pushed and execution continues after that instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Store-wide instance number the function belongs to.
    pub instance: u32,
    /// Function index inside that instance's module (imports included).
    pub func: u32,
    /// Byte offset in the module, see the type's documentation.
    pub pc: u32,
    /// Every local, parameters first, typed as declared.
    pub locals: Vec<Value>,
    /// The operand stack of this frame, bottom first.
    pub stack: Vec<Value>,
}

/// The whole mutable state of a store plus the suspended call stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecState {
    /// Every memory of the store, in store order.
    pub memories: Vec<MemoryImage>,
    /// Every table of the store, in store order.
    pub tables: Vec<TableImage>,
    /// Every global of the store, in store order (immutable ones included, so a reader
    /// needs no module to show them).
    pub globals: Vec<Value>,
    /// Per-instance segment state, in instantiation order.
    pub instances: Vec<InstanceImage>,
    /// The suspended call stack, bottom first. Empty when nothing is running.
    pub frames: Vec<Frame>,
}
