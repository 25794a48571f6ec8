//! Segment instructions in clones. `memory.init`, `data.drop`, `table.init` and
//! `elem.drop` name data and element segments of the main module, which another module
//! cannot reach. So [`export_for_clones`](super::export_for_clones) adds to the main
//! module one tiny exported function per distinct segment instruction its code contains
//! (`tern:memory.init:3:0` runs `memory.init 3 (memory 0)` on its three operands), and a
//! clone calls that helper where the original code has the instruction: same operands,
//! same effect on the main instance's segments, same traps.

use crate::error::Error;
use std::collections::BTreeSet;
use wasm_encoder::Instruction;
use wasmparser::{Operator, Parser, Payload};

/// A segment instruction; memory and table indices in the original module's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum SegmentOp {
    MemoryInit { data: u32, memory: u32 },
    DataDrop { data: u32 },
    TableInit { elem: u32, table: u32 },
    ElemDrop { elem: u32 },
}

impl SegmentOp {
    /// The segment instruction `op` is, if any; `memory_shift` is subtracted from its
    /// memory index (1 in an instrumented module).
    pub(crate) fn of(op: &Operator<'_>, memory_shift: u32) -> Option<SegmentOp> {
        Some(match *op {
            Operator::MemoryInit { data_index, mem } => SegmentOp::MemoryInit {
                data: data_index,
                memory: mem.checked_sub(memory_shift)?,
            },
            Operator::DataDrop { data_index } => SegmentOp::DataDrop { data: data_index },
            Operator::TableInit { elem_index, table } => SegmentOp::TableInit {
                elem: elem_index,
                table,
            },
            Operator::ElemDrop { elem_index } => SegmentOp::ElemDrop { elem: elem_index },
            _ => return None,
        })
    }

    /// Name of the main module's export of the helper.
    pub(crate) fn export_name(self) -> String {
        match self {
            SegmentOp::MemoryInit { data, memory } => format!("tern:memory.init:{data}:{memory}"),
            SegmentOp::DataDrop { data } => format!("tern:data.drop:{data}"),
            SegmentOp::TableInit { elem, table } => format!("tern:table.init:{elem}:{table}"),
            SegmentOp::ElemDrop { elem } => format!("tern:elem.drop:{elem}"),
        }
    }

    /// Whether the helper takes the instruction's three `i32` operands (else nothing).
    pub(crate) fn takes_operands(self) -> bool {
        matches!(
            self,
            SegmentOp::MemoryInit { .. } | SegmentOp::TableInit { .. }
        )
    }

    /// The helper's body: operands, the instruction, `end`.
    pub(crate) fn helper(self, memory_shift: u32) -> wasm_encoder::Function {
        let mut f = wasm_encoder::Function::new([]);
        if self.takes_operands() {
            for i in 0..3 {
                f.instruction(&Instruction::LocalGet(i));
            }
        }
        f.instruction(&match self {
            SegmentOp::MemoryInit { data, memory } => Instruction::MemoryInit {
                mem: memory + memory_shift,
                data_index: data,
            },
            SegmentOp::DataDrop { data } => Instruction::DataDrop(data),
            SegmentOp::TableInit { elem, table } => Instruction::TableInit {
                elem_index: elem,
                table,
            },
            SegmentOp::ElemDrop { elem } => Instruction::ElemDrop(elem),
        });
        f.instruction(&Instruction::End);
        f
    }
}

/// Every segment instruction in the code of `module`, and the number of types it has.
pub(crate) fn scan(module: &[u8], memory_shift: u32) -> Result<(BTreeSet<SegmentOp>, u32), Error> {
    let mut found = BTreeSet::new();
    let mut types = 0;
    for payload in Parser::new(0).parse_all(module) {
        match payload? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    types += group?.types().len() as u32;
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut reader = body.get_operators_reader()?;
                while !reader.eof() {
                    if let Some(op) = SegmentOp::of(&reader.read()?, memory_shift) {
                        found.insert(op);
                    }
                }
            }
            _ => {}
        }
    }
    Ok((found, types))
}

/// A function the clones module imports from the main instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum FuncImport {
    /// Original function `f` (export [`func_export`](super::func_export)).
    Func(u32),
    /// The helper for a segment instruction.
    Segment(SegmentOp),
}

/// The clones module's function imports, numbered in order of first use: only what the
/// clones call or reference is imported, so a restore of a program with thousands of
/// functions links a handful.
#[derive(Debug, Default)]
pub(crate) struct FuncImports {
    pub list: Vec<FuncImport>,
    index: std::collections::HashMap<FuncImport, u32>,
}

impl FuncImports {
    /// The clones module's function index of `import`.
    pub(crate) fn index(&mut self, import: FuncImport) -> u32 {
        let next = self.list.len() as u32;
        *self.index.entry(import).or_insert_with(|| {
            self.list.push(import);
            next
        })
    }
}
