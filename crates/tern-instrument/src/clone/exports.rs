//! The exports a main module needs so that a clones module can import its functions,
//! memories, tables and globals: every memory, table and global of the *original*
//! module's index spaces, named by its original index (`tern:m0` is original memory 0,
//! whatever its index in the instrumented module), and one table, [`FUNCS_TABLE`],
//! holding every original function at its original index.
//!
//! Functions are not exported one by one: an engine that loads a compiled module decodes
//! its export names into a map, and one export per function made that most of the load
//! time of a large program (wasmtime: 22.7 of 24 ms for GCC's cc1, 32 000 functions).
//! A clones module still imports the functions it calls as `tern:fN` ([`func_export`]);
//! whoever links it defines those names with the functions it reads from the table.

use super::segments::SegmentOp;
use crate::abi::ADDED_FUNCS;
use crate::error::Error;
use wasm_encoder::reencode::{Error as ReencodeError, Reencode, RoundtripReencoder, utils};
use wasm_encoder::{
    ConstExpr, ElementSection, Elements, ExportKind, RefType, SectionId, TableType,
};
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

/// Export name of the table that holds original function `i` at index `i`.
pub const FUNCS_TABLE: &str = "tern:funcs";

/// Import name under which a clones module imports original function `index` (defined
/// by the linker from [`FUNCS_TABLE`]).
pub fn func_export(index: u32) -> String {
    format!("tern:f{index}")
}

/// The original function index named by a [`func_export`] name.
pub fn func_of_export(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("tern:f")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
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

/// Adds to `module` an export of every memory, table and global, named by its index in
/// the original module ([`memory_export`] …), a table of every function exported as
/// [`FUNCS_TABLE`] (appended after the module's tables, filled by an active element
/// segment appended after its segments), plus, after every function, one
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
    let funcs = counts[0]
        .checked_sub(func_shift)
        .ok_or_else(|| Error::new(0, "the module is not instrumented"))?;
    let kinds = [
        (
            ExportKind::Memory,
            memory_shift,
            memory_export as fn(u32) -> String,
        ),
        (ExportKind::Table, 0, table_export),
        (ExportKind::Global, 0, global_export),
    ];
    for ((kind, shift, name), count) in kinds.into_iter().zip(counts.into_iter().skip(1)) {
        let original = count
            .checked_sub(shift)
            .ok_or_else(|| Error::new(0, "the module is not instrumented"))?;
        exports.extend((0..original).map(|i| (name(i), kind, i + shift)));
    }
    let funcs_table = counts[2];
    exports.push((FUNCS_TABLE.to_string(), ExportKind::Table, funcs_table));
    let (helpers, type_base) = super::segments::scan(module, memory_shift)?;
    let helpers: Vec<SegmentOp> = helpers.into_iter().collect();
    for (i, op) in helpers.iter().enumerate() {
        exports.push((op.export_name(), ExportKind::Func, counts[0] + i as u32));
    }
    let mut adder = Adder {
        exports,
        written: false,
        funcs: FuncsTable {
            index: funcs_table,
            first: func_shift,
            count: funcs,
            wrote_table: false,
            wrote_segment: false,
        },
        helpers,
        type_base,
        memory_shift,
    };
    let mut out = wasm_encoder::Module::new();
    adder.parse_core_module(&mut out, Parser::new(0), module)?;
    Ok(out.finish())
}

/// The table of every original function: where it goes, what it holds, and which of its
/// two parts (the table, the element segment that fills it) are written.
struct FuncsTable {
    index: u32,
    /// Index of original function 0 in the module, and the number of original functions.
    first: u32,
    count: u32,
    wrote_table: bool,
    wrote_segment: bool,
}

impl FuncsTable {
    fn append_table(&mut self, section: &mut wasm_encoder::TableSection) {
        let size = u64::from(self.count);
        section.table(TableType {
            element_type: RefType::FUNCREF,
            minimum: size,
            maximum: Some(size),
            table64: false,
            shared: false,
        });
        self.wrote_table = true;
    }

    fn append_segment(&mut self, section: &mut ElementSection) {
        let funcs: Vec<u32> = (self.first..self.first + self.count).collect();
        section.active(
            Some(self.index),
            &ConstExpr::i32_const(0),
            Elements::Functions(funcs.into()),
        );
        self.wrote_segment = true;
    }
}

struct Adder {
    exports: Vec<(String, ExportKind, u32)>,
    written: bool,
    funcs: FuncsTable,
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

    fn parse_table_section(
        &mut self,
        tables: &mut wasm_encoder::TableSection,
        section: wasmparser::TableSectionReader<'_>,
    ) -> Result<(), ReencodeError<Error>> {
        utils::parse_table_section(self, tables, section)?;
        self.funcs.append_table(tables);
        Ok(())
    }

    fn parse_element_section(
        &mut self,
        elements: &mut ElementSection,
        section: wasmparser::ElementSectionReader<'_>,
    ) -> Result<(), ReencodeError<Error>> {
        utils::parse_element_section(self, elements, section)?;
        self.funcs.append_segment(elements);
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
        // Sections the module lacks are added where they belong: in front of the first
        // section that must follow them (order: table, memory, tag, global, export,
        // start, element, data count, code, data).
        let after_table = !matches!(
            before,
            Some(
                SectionId::Custom
                    | SectionId::Type
                    | SectionId::Import
                    | SectionId::Function
                    | SectionId::Table
            )
        );
        if !self.funcs.wrote_table && after_table {
            let mut section = wasm_encoder::TableSection::new();
            self.funcs.append_table(&mut section);
            module.section(&section);
        }
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
        let after_elements = matches!(
            before,
            None | Some(SectionId::DataCount | SectionId::Code | SectionId::Data)
        );
        if !self.funcs.wrote_segment && after_elements {
            let mut section = ElementSection::new();
            self.funcs.append_segment(&mut section);
            module.section(&section);
        }
        Ok(())
    }
}
