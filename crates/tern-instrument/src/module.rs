//! The module-level pass: validate, instrument every body, then re-encode the module with
//! the pass's imports in front and every index shifted accordingly.

use crate::abi::{self, ValKind};
use crate::bounded::CallFacts;
use crate::cold::ColdHelpers;
use crate::error::Error;
use crate::map::InstrumentMap;
use crate::rewrite::{ModuleFacts, rewrite_body};
use crate::shift::{shift_func, shift_memory};
use crate::types::{Signature, TypeTable};
use wasm_encoder::reencode::{Error as ReencodeError, Reencode, utils};
use wasm_encoder::{EntityType, MemoryType, SectionId};
use wasmparser::{CompositeInnerType, Parser, Payload, TypeRef, ValidPayload, Validator};

/// The features a module may use: everything tern's interpreter supports (WebAssembly
/// 2.0, tail calls, extended constant expressions, multiple memories).
pub fn supported_features() -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures as F;
    F::WASM2 | F::TAIL_CALL | F::EXTENDED_CONST | F::MULTI_MEMORY
}

/// An instrumented module and the side table that interprets what its cold path reports.
#[derive(Debug, Clone)]
pub struct Instrumented {
    /// The rewritten module (binary).
    pub module: Vec<u8>,
    /// How to read the frames it reports.
    pub map: InstrumentMap,
}

/// Choices of the pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// A function (original index) that polls at entry even where the pass would leave
    /// the poll out (a host that stops programs at a function's entry, such as
    /// tern-fast's `call:FUNC:N` trigger, needs it there).
    pub entry_poll: Option<u32>,
    /// Count instructions against this global (`count.rs`): a mutable `i64` the host
    /// appends after the module's globals, so its index is the number of globals the
    /// module has, imports included. The pass only emits the code that uses it.
    pub budget_global: Option<u32>,
    /// Whether post-call checks also poll (default): they read both flag words at once
    /// and, on a request with nothing unwinding, report the frame as the top frame
    /// after the call ([`SiteKind::AfterCall`](crate::SiteKind)). Loops whose every
    /// iteration passes such a check then need no header poll, and only tail calls
    /// need an entry poll. Continuation clones turn it off: their sites must sit at
    /// copied instructions, and the instruction after a call may be added code there.
    pub poll_after_calls: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            entry_poll: None,
            poll_after_calls: true,
            budget_global: None,
        }
    }
}

/// Instruments `module_bytes`, see the crate documentation.
pub fn instrument(module_bytes: &[u8]) -> Result<Instrumented, Error> {
    instrument_with(module_bytes, &Options::default())
}

/// [`instrument`] with [`Options`].
pub fn instrument_with(module_bytes: &[u8], options: &Options) -> Result<Instrumented, Error> {
    let calls = CallFacts::of(module_bytes, options.entry_poll, options.poll_after_calls)?;
    let mut types = TypeTable::default();
    let mut map = InstrumentMap::default();
    let frame_type = types_for_imports(&mut types);
    let mut func_types: Vec<u32> = Vec::new();
    let mut bodies = Vec::new();
    let mut cold = ColdHelpers::default();
    let mut validator = Validator::new_with_features(supported_features());
    for payload in Parser::new(0).parse_all(module_bytes) {
        let payload = payload?;
        let valid = validator.payload(&payload)?;
        match &payload {
            Payload::TypeSection(reader) => {
                for group in reader.clone() {
                    for sub in group?.into_types() {
                        types.original.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(Signature {
                                params: f.params().to_vec(),
                                results: f.results().to_vec(),
                            }),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports() {
                    if let TypeRef::Func(t) | TypeRef::FuncExact(t) = import?.ty {
                        func_types.push(t);
                        map.imported_funcs += 1;
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader.clone() {
                    func_types.push(t?);
                }
            }
            _ => {}
        }
        if let ValidPayload::Func(to_validate, body) = valid {
            let func = to_validate.index;
            let validator = to_validate.into_validator(Default::default());
            // Every function index is known once bodies arrive: the helpers come after.
            let first_helper = abi::ADDED_FUNCS + func_types.len() as u32;
            let mut facts = ModuleFacts {
                types: &mut types,
                func_types: &func_types,
                map: &mut map,
                cold: &mut cold,
                first_helper,
                calls: &calls,
                entry_poll: options.entry_poll,
                budget_global: options.budget_global,
            };
            bodies.push(rewrite_body(&mut facts, validator, &body, func)?);
        }
    }
    // The pass's types were reserved before the original ones were known; now that they
    // are, the appended types get their final indices.
    let mut emitter = Emitter {
        types: &types,
        frame_type: frame_type + types.original.len() as u32,
        bodies,
        helpers: cold.bodies(),
        wrote_types: false,
        wrote_imports: false,
    };
    let mut module = wasm_encoder::Module::new();
    emitter.parse_core_module(&mut module, Parser::new(0), module_bytes)?;
    Ok(Instrumented {
        module: module.finish(),
        map,
    })
}

/// Reserves the import signatures; returns the (relative) index of the first one: the
/// `frame` type, followed by one `save_*` type per [`ValKind::ALL`] entry.
fn types_for_imports(types: &mut TypeTable) -> u32 {
    let first = types.add(vec![ValKind::I32, ValKind::I32], Vec::new());
    for kind in ValKind::ALL {
        types.add(vec![kind], Vec::new());
    }
    first
}

/// Re-encodes the module around the instrumented bodies.
struct Emitter<'t> {
    types: &'t TypeTable,
    /// Absolute index of the `frame` import type.
    frame_type: u32,
    bodies: Vec<wasm_encoder::Function>,
    /// Type index and body of every cold-path helper (`cold.rs`), appended after the
    /// module's own functions.
    helpers: Vec<(u32, wasm_encoder::Function)>,
    wrote_types: bool,
    wrote_imports: bool,
}

impl Emitter<'_> {
    /// Appends the pass's types. Type indices of the original module do not move: the new
    /// types come last. `TypeTable::added` indices were counted from zero before the
    /// original types were known, so they are relative to the end of the original ones.
    fn added_types(&self, section: &mut wasm_encoder::TypeSection) {
        for (params, results) in &self.types.added {
            section.ty().function(
                params.iter().map(|k| k.to_encoder()),
                results.iter().map(|k| k.to_encoder()),
            );
        }
    }

    fn added_imports(&self, section: &mut wasm_encoder::ImportSection) {
        section.import(
            abi::MODULE,
            abi::FRAME,
            EntityType::Function(self.frame_type),
        );
        for (i, kind) in ValKind::ALL.iter().enumerate() {
            let ty = self.frame_type + 1 + i as u32;
            section.import(abi::MODULE, kind.save_import(), EntityType::Function(ty));
        }
        section.import(
            abi::MODULE,
            abi::FLAGS_MEMORY,
            EntityType::Memory(MemoryType {
                minimum: 1,
                maximum: Some(1),
                memory64: false,
                shared: false,
                page_size_log2: None,
            }),
        );
    }
}

impl Reencode for Emitter<'_> {
    type Error = Error;

    fn function_index(&mut self, func: u32) -> Result<u32, ReencodeError<Error>> {
        shift_func(func)
    }

    fn memory_index(&mut self, memory: u32) -> Result<u32, ReencodeError<Error>> {
        shift_memory(memory)
    }

    fn parse_type_section(
        &mut self,
        types: &mut wasm_encoder::TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), ReencodeError<Error>> {
        utils::parse_type_section(self, types, section)?;
        self.added_types(types);
        self.wrote_types = true;
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut wasm_encoder::ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), ReencodeError<Error>> {
        self.added_imports(imports);
        self.wrote_imports = true;
        utils::parse_import_section(self, imports, section)
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), ReencodeError<Error>> {
        // A module without a type or import section still needs the pass's ones, in
        // front of whatever section comes next.
        if !self.wrote_types && before != Some(SectionId::Type) {
            let mut types = wasm_encoder::TypeSection::new();
            self.added_types(&mut types);
            module.section(&types);
            self.wrote_types = true;
        }
        if !self.wrote_imports && !matches!(before, Some(SectionId::Type | SectionId::Import)) {
            let mut imports = wasm_encoder::ImportSection::new();
            self.added_imports(&mut imports);
            module.section(&imports);
            self.wrote_imports = true;
        }
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        _section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), ReencodeError<Error>> {
        for body in &self.bodies {
            code.function(body);
        }
        for (_, body) in &self.helpers {
            code.function(body);
        }
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut wasm_encoder::FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), ReencodeError<Error>> {
        utils::parse_function_section(self, functions, section)?;
        for (ty, _) in &self.helpers {
            functions.function(*ty);
        }
        Ok(())
    }

    fn parse_custom_section(
        &mut self,
        module: &mut wasm_encoder::Module,
        section: wasmparser::CustomSectionReader<'_>,
    ) -> Result<(), ReencodeError<Error>> {
        // DWARF describes the original code bytes, which no longer exist.
        if section.name().starts_with(".debug_") {
            return Ok(());
        }
        utils::parse_custom_section(self, module, section)
    }
}
