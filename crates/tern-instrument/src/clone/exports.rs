//! The exports a main module needs so that a clones module can import its functions,
//! memories, tables and globals: every entity of the *original* module's index spaces,
//! named by its original index (`tern:f3` is original function 3, whatever its index in
//! the instrumented module).

use super::segments::SegmentOp;
use crate::abi::ADDED_FUNCS;
use crate::error::Error;
use wasm_encoder::reencode::{Error as ReencodeError, Reencode, RoundtripReencoder, utils};
use wasm_encoder::{ExportKind, SectionId};
use wasmparser::{Parser, Payload, TypeRef};

/// Import module name under which a clones module imports the main instance's exports.
pub const MAIN_MODULE: &str = "tern:main";

/// Which module [`export_for_clones`] is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MainLayout {
    /// The module as the user gave it.
    Original,
    /// The output of [`instrument`](crate::instrument): its first
    /// [`ADDED_FUNCS`] functions and its memory 0 are the pass's, not the program's.
    Instrumented,
}

/// Export name of original function `index`.
pub fn func_export(index: u32) -> String {
    format!("tern:f{index}")
}

/// Export name of original memory `index`.
pub fn memory_export(index: u32) -> String {
    format!("tern:m{index}")
}

/// Export name of original table `index`.
pub fn table_export(index: u32) -> String {
    format!("tern:t{index}")
}

/// Export name of original global `index`.
pub fn global_export(index: u32) -> String {
    format!("tern:g{index}")
}

/// Adds to `module` an export of every function, memory, table and global, named by its
/// index in the original module ([`func_export`] …), plus, after every function, one
/// small exported helper per distinct segment instruction (`memory.init`, `data.drop`,
/// `table.init`, `elem.drop`) of its code, which clones call in its place. Existing code
/// is untouched, so this costs nothing at run time; existing exports keep their names.
/// A module that already has an export named `tern:…` is refused.
pub fn export_for_clones(module: &[u8], layout: MainLayout) -> Result<Vec<u8>, Error> {
    let mut counts = [0u32; 4];
    for payload in Parser::new(0).parse_all(module) {
        match payload? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    match import?.ty {
                        TypeRef::Func(_) | TypeRef::FuncExact(_) => counts[0] += 1,
                        TypeRef::Memory(_) => counts[1] += 1,
                        TypeRef::Table(_) => counts[2] += 1,
                        TypeRef::Global(_) => counts[3] += 1,
                        TypeRef::Tag(_) => {}
                    }
                }
            }
            Payload::FunctionSection(r) => counts[0] += r.count(),
            Payload::MemorySection(r) => counts[1] += r.count(),
            Payload::TableSection(r) => counts[2] += r.count(),
            Payload::GlobalSection(r) => counts[3] += r.count(),
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.name.starts_with("tern:") {
                        return Err(Error::new(
                            0,
                            format!("export `{}` is reserved", export.name),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    let (func_shift, memory_shift) = match layout {
        MainLayout::Original => (0, 0),
        MainLayout::Instrumented => (ADDED_FUNCS, 1),
    };
    let mut exports = Vec::new();
    let kinds = [
        (
            ExportKind::Func,
            func_shift,
            func_export as fn(u32) -> String,
        ),
        (ExportKind::Memory, memory_shift, memory_export),
        (ExportKind::Table, 0, table_export),
        (ExportKind::Global, 0, global_export),
    ];
    for ((kind, shift, name), count) in kinds.into_iter().zip(counts) {
        let original = count
            .checked_sub(shift)
            .ok_or_else(|| Error::new(0, "the module is not instrumented"))?;
        exports.extend((0..original).map(|i| (name(i), kind, i + shift)));
    }
    let (helpers, type_base) = super::segments::scan(module, memory_shift)?;
    let helpers: Vec<SegmentOp> = helpers.into_iter().collect();
    for (i, op) in helpers.iter().enumerate() {
        exports.push((op.export_name(), ExportKind::Func, counts[0] + i as u32));
    }
    let mut adder = Adder {
        exports,
        written: false,
        helpers,
        type_base,
        memory_shift,
    };
    let mut out = wasm_encoder::Module::new();
    adder.parse_core_module(&mut out, Parser::new(0), module)?;
    Ok(out.finish())
}

struct Adder {
    exports: Vec<(String, ExportKind, u32)>,
    written: bool,
    /// Segment-instruction helpers appended after every function (see `segments`).
    helpers: Vec<SegmentOp>,
    /// Number of types in the module: the helpers' two types come after them.
    type_base: u32,
    memory_shift: u32,
}

impl Adder {
    fn append(&mut self, section: &mut wasm_encoder::ExportSection) {
        for (name, kind, index) in &self.exports {
            section.export(name, *kind, *index);
        }
        self.written = true;
    }
}

impl Reencode for Adder {
    type Error = Error;

    // A module whose code has segment instructions has types, functions and code, so the
    // helpers are appended to existing sections.
    fn parse_type_section(
        &mut self,
        types: &mut wasm_encoder::TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), ReencodeError<Error>> {
        utils::parse_type_section(self, types, section)?;
        if !self.helpers.is_empty() {
            types.ty().function([wasm_encoder::ValType::I32; 3], []);
            types.ty().function([], []);
        }
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut wasm_encoder::FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), ReencodeError<Error>> {
        utils::parse_function_section(self, functions, section)?;
        for op in &self.helpers {
            let ty = self.type_base + u32::from(!op.takes_operands());
            functions.function(ty);
        }
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), ReencodeError<Error>> {
        utils::parse_code_section(self, code, section)?;
        for op in &self.helpers {
            code.function(&op.helper(self.memory_shift));
        }
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut wasm_encoder::ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> Result<(), ReencodeError<Error>> {
        utils::parse_export_section(&mut RoundtripReencoder, exports, section)
            .map_err(|e| ReencodeError::UserError(Error::new(0, e.to_string())))?;
        self.append(exports);
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), ReencodeError<Error>> {
        // A module without an export section gets one where it belongs: in front of the
        // first section that must follow it.
        let later = matches!(
            before,
            None | Some(
                SectionId::Start
                    | SectionId::Element
                    | SectionId::DataCount
                    | SectionId::Code
                    | SectionId::Data
            )
        );
        if !self.written && later {
            let mut section = wasm_encoder::ExportSection::new();
            self.append(&mut section);
            module.section(&section);
        }
        Ok(())
    }
}
