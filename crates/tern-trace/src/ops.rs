//! What each instruction of a function is, decoded once per function from the original
//! module bytes (the interpreter's internal code is never consulted): its text name, its
//! event kind and the few immediates an event reports.

use crate::options::EventKind;
use std::collections::HashMap;
use tern_interp::{Module, ValType};
use wasmparser::{BinaryReader, FunctionBody, MemArg, Operator};

/// What an event needs to know about one instruction.
#[derive(Debug, Clone, PartialEq)]
pub struct OpInfo {
    /// The text-format name, e.g. `i32.load8_u`.
    pub name: String,
    pub kind: EventKind,
    pub detail: Detail,
}

/// The immediates and operand layout an event reads, by kind of instruction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Detail {
    None,
    /// A direct call (or tail call) of this function.
    Call(u32),
    /// An indirect call (or tail call): the callee is known only after the step.
    CallIndirect,
    /// A branch that is always taken (`br`, `else`).
    Always,
    /// `br_if` or `if`: the condition is the i32 on top of the stack.
    Condition,
    /// `br_table`: the i32 on top of the stack selects the target.
    Select,
    /// A load: the address is the i32 `addr_depth` below the top; the result has type
    /// `ty` and is on top after the step.
    Load {
        offset: u64,
        addr_depth: usize,
        ty: ValType,
    },
    /// A store: the value of type `ty` is on top, the i32 address beneath it.
    Store {
        offset: u64,
        ty: ValType,
    },
    Local(u32),
    Global(u32),
}

/// Every instruction of every function traced so far, by byte offset.
#[derive(Default)]
pub struct Ops(HashMap<(u32, u32), Vec<(u32, OpInfo)>>);

impl Ops {
    /// The instruction at byte offset `pc` of function `func` of the module that
    /// `instance` was created from.
    pub fn at(&mut self, instance: u32, module: &Module, func: u32, pc: u32) -> Option<&OpInfo> {
        let ops = self
            .0
            .entry((instance, func))
            .or_insert_with(|| decode(module, func).unwrap_or_default());
        let i = ops.binary_search_by_key(&pc, |(offset, _)| *offset).ok()?;
        Some(&ops[i].1)
    }
}

/// Decodes the body of `func`; `None` if it is not a defined function. The module was
/// validated when it was compiled, so a decoding error cannot happen and ends the list.
fn decode(module: &Module, func: u32) -> Option<Vec<(u32, OpInfo)>> {
    let range = module.body_range(func)?;
    let reader = BinaryReader::new(&module.bytes()[range.clone()], range.start as u64);
    let body = FunctionBody::new(reader);
    let mut ops = body.get_operators_reader().ok()?;
    let mut out = Vec::new();
    while !ops.eof() {
        let Ok((op, offset)) = ops.read_with_offset() else {
            break;
        };
        out.push((offset as u32, classify(&op)));
    }
    Some(out)
}

fn load(memarg: &MemArg, ty: ValType, addr_depth: usize) -> (EventKind, Detail) {
    let detail = Detail::Load {
        offset: memarg.offset,
        addr_depth,
        ty,
    };
    (EventKind::Load, detail)
}

fn store(memarg: &MemArg, ty: ValType) -> (EventKind, Detail) {
    let detail = Detail::Store {
        offset: memarg.offset,
        ty,
    };
    (EventKind::Store, detail)
}

fn classify(op: &Operator<'_>) -> OpInfo {
    use EventKind as K;
    use Operator as O;
    use ValType::{F32, F64, I32, I64, V128};
    let name = mnemonic(op);
    let (kind, detail) = match op {
        O::Call { function_index } | O::ReturnCall { function_index } => {
            (K::Call, Detail::Call(*function_index))
        }
        O::CallIndirect { .. } | O::ReturnCallIndirect { .. } => (K::Call, Detail::CallIndirect),
        O::Return | O::End => (K::Return, Detail::None),
        O::Br { .. } | O::Else => (K::Branch, Detail::Always),
        O::BrIf { .. } | O::If { .. } => (K::Branch, Detail::Condition),
        O::BrTable { .. } => (K::Branch, Detail::Select),
        O::I32Load { memarg }
        | O::I32Load8S { memarg }
        | O::I32Load8U { memarg }
        | O::I32Load16S { memarg }
        | O::I32Load16U { memarg } => load(memarg, I32, 0),
        O::I64Load { memarg }
        | O::I64Load8S { memarg }
        | O::I64Load8U { memarg }
        | O::I64Load16S { memarg }
        | O::I64Load16U { memarg }
        | O::I64Load32S { memarg }
        | O::I64Load32U { memarg } => load(memarg, I64, 0),
        O::F32Load { memarg } => load(memarg, F32, 0),
        O::F64Load { memarg } => load(memarg, F64, 0),
        O::V128Load { memarg }
        | O::V128Load8x8S { memarg }
        | O::V128Load8x8U { memarg }
        | O::V128Load16x4S { memarg }
        | O::V128Load16x4U { memarg }
        | O::V128Load32x2S { memarg }
        | O::V128Load32x2U { memarg }
        | O::V128Load8Splat { memarg }
        | O::V128Load16Splat { memarg }
        | O::V128Load32Splat { memarg }
        | O::V128Load64Splat { memarg }
        | O::V128Load32Zero { memarg }
        | O::V128Load64Zero { memarg } => load(memarg, V128, 0),
        O::V128Load8Lane { memarg, .. }
        | O::V128Load16Lane { memarg, .. }
        | O::V128Load32Lane { memarg, .. }
        | O::V128Load64Lane { memarg, .. } => load(memarg, V128, 1),
        O::I32Store { memarg } | O::I32Store8 { memarg } | O::I32Store16 { memarg } => {
            store(memarg, I32)
        }
        O::I64Store { memarg }
        | O::I64Store8 { memarg }
        | O::I64Store16 { memarg }
        | O::I64Store32 { memarg } => store(memarg, I64),
        O::F32Store { memarg } => store(memarg, F32),
        O::F64Store { memarg } => store(memarg, F64),
        O::V128Store { memarg }
        | O::V128Store8Lane { memarg, .. }
        | O::V128Store16Lane { memarg, .. }
        | O::V128Store32Lane { memarg, .. }
        | O::V128Store64Lane { memarg, .. } => store(memarg, V128),
        O::LocalGet { local_index } | O::LocalSet { local_index } | O::LocalTee { local_index } => {
            (K::Local, Detail::Local(*local_index))
        }
        O::GlobalGet { global_index } | O::GlobalSet { global_index } => {
            (K::Global, Detail::Global(*global_index))
        }
        O::MemorySize { .. }
        | O::MemoryGrow { .. }
        | O::MemoryFill { .. }
        | O::MemoryCopy { .. }
        | O::MemoryInit { .. }
        | O::DataDrop { .. } => (K::Memory, Detail::None),
        O::TableGet { .. }
        | O::TableSet { .. }
        | O::TableSize { .. }
        | O::TableGrow { .. }
        | O::TableFill { .. }
        | O::TableCopy { .. }
        | O::TableInit { .. }
        | O::ElemDrop { .. } => (K::Table, Detail::None),
        _ => (K::Other, Detail::None),
    };
    OpInfo { name, kind, detail }
}

/// The text-format name of `op`, derived from wasmparser's one operator list: its
/// visitor method name (`visit_i32_load8_u`) with the prefix dropped and, for
/// instructions that belong to a type or an index space, the first `_` written as `.`.
fn mnemonic(op: &Operator<'_>) -> String {
    macro_rules! visit_name {
        ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
            match op {
                $( Operator::$op { .. } => stringify!($visit), )*
                _ => "visit_unknown",
            }
        };
    }
    let visit: &str = wasmparser::for_each_operator!(visit_name);
    let snake = visit.strip_prefix("visit_").unwrap_or(visit);
    const DOTTED: [&str; 17] = [
        "i32", "i64", "f32", "f64", "v128", "i8x16", "i16x8", "i32x4", "i64x2", "f32x4", "f64x2",
        "local", "global", "memory", "table", "ref", "data",
    ];
    match snake.split_once('_') {
        Some((head, rest)) if DOTTED.contains(&head) || head == "elem" => format!("{head}.{rest}"),
        _ if snake == "typed_select" => "select".to_string(),
        _ => snake.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_text_format() {
        let wasm = wat::parse_str(
            "(module (memory 1) (func (param i32) (result i32)
               (i32.load8_u offset=4 (local.get 0))))",
        )
        .unwrap();
        let module = Module::new(&tern_interp::Config::default(), &wasm).unwrap();
        let ops = decode(&module, 0).unwrap();
        let names: Vec<_> = ops.iter().map(|(_, op)| op.name.as_str()).collect();
        assert_eq!(names, ["local.get", "i32.load8_u", "end"]);
        assert!(matches!(
            ops[1].1.detail,
            Detail::Load {
                offset: 4,
                addr_depth: 0,
                ty: ValType::I32
            }
        ));
        assert_eq!(mnemonic(&Operator::BrIf { relative_depth: 0 }), "br_if");
        assert_eq!(
            mnemonic(&Operator::LocalTee { local_index: 1 }),
            "local.tee"
        );
        assert_eq!(mnemonic(&Operator::I64ExtendI32U), "i64.extend_i32_u");
        assert_eq!(mnemonic(&Operator::ElemDrop { elem_index: 0 }), "elem.drop");
        assert_eq!(mnemonic(&Operator::MemoryGrow { mem: 0 }), "memory.grow");
        assert_eq!(mnemonic(&Operator::Select), "select");
        assert_eq!(
            mnemonic(&Operator::CallIndirect {
                type_index: 0,
                table_index: 0
            }),
            "call_indirect"
        );
    }
}
