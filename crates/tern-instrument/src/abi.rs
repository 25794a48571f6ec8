//! The contract between an instrumented module and its host: the imports the pass adds,
//! their order, and the layout of the flag memory. `docs/fast-tier.md` describes the same
//! contract for people; this file is the one place code takes it from.

use tern_snapshot::Value;

/// Import module name of everything the pass adds.
pub const MODULE: &str = "tern";

/// Name of the imported one-page flag memory. It is always memory 0 of the instrumented
/// module, so every original memory index is one higher there.
pub const FLAGS_MEMORY: &str = "flags";

/// Byte offset (in the flag memory) of the `i32` the host sets to non-zero to request a
/// checkpoint. Safepoint polls load it.
pub const REQUEST_OFFSET: u64 = 0;

/// Byte offset of the `i32` that is non-zero while the stack unwinds. The cold path of the
/// safepoint that takes the checkpoint sets it to 1; post-call checks load it. The host
/// clears both words before it runs the module again.
pub const UNWINDING_OFFSET: u64 = 4;

/// Byte offset where the pass's *frame buffer* starts: from here to the end of the flag
/// memory's one page, a cold path stores the numeric values of the frame it reports and
/// its helper loads them back to save them (`cold.rs`). Only the pass's own code uses it;
/// the host never reads it and need not clear it.
pub(crate) const FRAME_BUFFER_OFFSET: u64 = 16;

/// Size of the flag memory in bytes (one Wasm page).
pub(crate) const FLAGS_BYTES: u64 = 65536;

/// Name of the import that opens a frame: `(param $func i32 $site i32)`, where `$func` is
/// the function's index in the *original* module and `$site` a site id of the
/// [`InstrumentMap`](crate::InstrumentMap).
pub const FRAME: &str = "frame";

/// The kinds of value a frame can hold, each with its own `save_*` import taking one
/// value of that type and returning nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValKind {
    I32,
    I64,
    F32,
    F64,
    V128,
    FuncRef,
    ExternRef,
}

impl ValKind {
    /// Every kind, in the order of their imports.
    pub const ALL: [ValKind; 7] = [
        ValKind::I32,
        ValKind::I64,
        ValKind::F32,
        ValKind::F64,
        ValKind::V128,
        ValKind::FuncRef,
        ValKind::ExternRef,
    ];

    /// Name of the `save_*` import for this kind.
    pub fn save_import(self) -> &'static str {
        match self {
            ValKind::I32 => "save_i32",
            ValKind::I64 => "save_i64",
            ValKind::F32 => "save_f32",
            ValKind::F64 => "save_f64",
            ValKind::V128 => "save_v128",
            ValKind::FuncRef => "save_funcref",
            ValKind::ExternRef => "save_externref",
        }
    }

    /// The zero value of this kind: what a dead local is reported as.
    pub fn zero(self) -> Value {
        match self {
            ValKind::I32 => Value::I32(0),
            ValKind::I64 => Value::I64(0),
            ValKind::F32 => Value::F32(0),
            ValKind::F64 => Value::F64(0),
            ValKind::V128 => Value::V128(0),
            ValKind::FuncRef => Value::FuncRef(None),
            ValKind::ExternRef => Value::ExternRef(None),
        }
    }

    /// The kind of `value`.
    pub fn of(value: &Value) -> ValKind {
        match value {
            Value::I32(_) => ValKind::I32,
            Value::I64(_) => ValKind::I64,
            Value::F32(_) => ValKind::F32,
            Value::F64(_) => ValKind::F64,
            Value::V128(_) => ValKind::V128,
            Value::FuncRef(_) => ValKind::FuncRef,
            Value::ExternRef(_) => ValKind::ExternRef,
        }
    }

    /// The kind of a parsed value type, or `None` for types the fast tier does not
    /// support (typed function references, GC references).
    pub(crate) fn from_wasm(ty: wasmparser::ValType) -> Option<ValKind> {
        use wasmparser::{AbstractHeapType as A, HeapType as H, ValType as V};
        Some(match ty {
            V::I32 => ValKind::I32,
            V::I64 => ValKind::I64,
            V::F32 => ValKind::F32,
            V::F64 => ValKind::F64,
            V::V128 => ValKind::V128,
            // `ref.func` pushes a non-nullable reference to its concrete function type:
            // still a function reference, held and reported as a funcref.
            V::Ref(r) => match r.heap_type() {
                H::Concrete(_) | H::Abstract { ty: A::Func, .. } => ValKind::FuncRef,
                H::Abstract { ty: A::Extern, .. } => ValKind::ExternRef,
                _ => return None,
            },
        })
    }

    /// Bytes a value of this kind takes in linear memory; `None` for references, which
    /// cannot be stored there.
    pub(crate) fn byte_size(self) -> Option<u64> {
        match self {
            ValKind::I32 | ValKind::F32 => Some(4),
            ValKind::I64 | ValKind::F64 => Some(8),
            ValKind::V128 => Some(16),
            ValKind::FuncRef | ValKind::ExternRef => None,
        }
    }

    pub(crate) fn to_encoder(self) -> wasm_encoder::ValType {
        match self {
            ValKind::I32 => wasm_encoder::ValType::I32,
            ValKind::I64 => wasm_encoder::ValType::I64,
            ValKind::F32 => wasm_encoder::ValType::F32,
            ValKind::F64 => wasm_encoder::ValType::F64,
            ValKind::V128 => wasm_encoder::ValType::V128,
            ValKind::FuncRef => wasm_encoder::ValType::FUNCREF,
            ValKind::ExternRef => wasm_encoder::ValType::EXTERNREF,
        }
    }
}

/// Number of function imports the pass adds in front of the module's own imports: every
/// original function index `f` is `f + ADDED_FUNCS` in the instrumented module.
pub const ADDED_FUNCS: u32 = 1 + ValKind::ALL.len() as u32;

/// Index (in the instrumented module) of the `frame` import.
pub(crate) const FRAME_FUNC: u32 = 0;

/// Index (in the instrumented module) of the `save_*` import for `kind`.
pub(crate) fn save_func(kind: ValKind) -> u32 {
    // The enum is declared in import order, so its discriminant is the position.
    1 + kind as u32
}
