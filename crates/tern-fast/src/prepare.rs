//! From the original module to what wasmtime compiles: the instrumented module (by
//! `tern-instrument`) plus *reach exports*, and the facts about the original module that a
//! capture and a restore need (kept in the prepared cache entry, so that a warm restore
//! does not read the original at all, `original.rs`).
//!
//! wasmtime shows an embedder only what a module exports, but a snapshot needs every
//! memory, table and global, and a way to tell which function a `funcref` is. So after
//! instrumenting, this pass appends exports (besides making the request polls atomic,
//! see `flags.rs`, it changes nothing else):
//!
//! ```wat
//! ;; before (instrumented)                 ;; after
//! (export "memory" (memory 1))             (export "memory" (memory 1))
//!                                          (export "tern:memory:0" (memory 1))
//!                                          (export "tern:global:0" (global 0))
//!                                          (export "tern:table:0" (table 0))
//! ```
//!
//! Names carry the *original* index (memory `m` is `m + 1` in the instrumented module).
//! Functions need no reach exports of their own: `export_for_clones` (applied first)
//! exports one table holding every function at its original index (`tern:funcs`), which
//! is what a capture maps a `funcref` back through (`host.rs`); an export per function
//! made wasmtime decode tens of thousands of export names for a large program on every
//! load. Exporting a memory, table or global does not change how the module's own code
//! reaches it.

use crate::budget::{BUDGET_EXPORT, CompiledTriggers};
use crate::cache::ModuleCache;
use crate::calls::COUNTDOWN_EXPORT;
use crate::data_init::initialized_ranges;
use crate::drops::DropGlobals;
use crate::entries::Kind;
use crate::error::Error;
use crate::flags::{AtomicPolls, shared_flags_imports};
use crate::original::Original;
use crate::table_init::instantiated_tables;
use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::{Arc, OnceLock};
use tern_instrument::InstrumentMap;
use tern_instrument::clone::{MainLayout, export_for_clones};
use tern_snapshot::ModuleIdentity;
use wasm_encoder::reencode::Reencode;
use wasm_encoder::{ExportKind, ExportSection, RawSection};
use wasmparser::{
    DataKind, ElementItems, ElementKind, ExternalKind, Operator, Parser, Payload, TypeRef,
};

/// Export name of original memory `m`, table `t`, global `g`, function `f`.
pub(crate) fn reach_name(kind: &str, index: u32) -> String {
    format!("tern:{kind}:{index}")
}

/// A module ready for wasmtime, with what a capture and a restore need to know about the
/// original.
///
/// Loaded from the prepared-module cache (`load.rs`), it holds neither the instrumented
/// module (its compiled code came from the cache) nor the decoded map (a restore does
/// not need it, a capture does), and maybe not even the original's bytes
/// (`original.rs`): the map is made on first use from the cached encoding, the module
/// by instrumenting again (the same pass, so the same bytes and the same map as the
/// compiled code's).
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The instrumented module with its reach exports: what wasmtime compiles.
    module: OnceLock<Vec<u8>>,
    map: OnceLock<InstrumentMap>,
    /// Where the cache keeps the map (`InstrumentMap::encode`), read on first use.
    cached_map: Option<(ModuleCache, [u8; 32])>,
    triggers: CompiledTriggers,
    /// The original module: its identity (what a snapshot records) and its bytes, read
    /// on first need.
    pub original: Arc<Original>,
    pub facts: Facts,
}

impl Prepared {
    /// What a cache hit knows: the original module, its facts (from the entry) and the
    /// key of the cache's map entry of its instrumented form.
    pub fn from_cache(
        original: Arc<Original>,
        facts: Facts,
        triggers: CompiledTriggers,
        cached_map: (ModuleCache, [u8; 32]),
    ) -> Prepared {
        Prepared {
            module: OnceLock::new(),
            map: OnceLock::new(),
            cached_map: Some(cached_map),
            triggers,
            original,
            facts,
        }
    }

    /// Identity of the original module (what a snapshot records).
    pub fn identity(&self) -> &ModuleIdentity {
        self.original.identity()
    }

    /// The instrumented module with its reach exports (instrumented again if this came
    /// from the cache).
    pub fn instrumented(&self) -> Result<&[u8], Error> {
        if let Some(module) = self.module.get() {
            return Ok(module);
        }
        let (again, _) = instrument(self.original.bytes()?, &self.facts, self.triggers)?;
        Ok(self.module.get_or_init(|| again))
    }

    /// The instrumentation map: read from the cache's map entry on first use; should
    /// that fail (the entry is missing or damaged), from instrumenting again — the same
    /// pass gives the map of the compiled code — and the entry is written again.
    pub fn map(&self) -> Result<&InstrumentMap, Error> {
        if let Some(map) = self.map.get() {
            return Ok(map);
        }
        let cached = self
            .cached_map
            .as_ref()
            .and_then(|(cache, key)| InstrumentMap::decode(&cache.read_entry(Kind::Map, key)?));
        let decoded = match cached {
            Some(map) => map,
            None => {
                let (_, map) = instrument(self.original.bytes()?, &self.facts, self.triggers)?;
                if let Some((cache, key)) = &self.cached_map {
                    // A cache that cannot be written only costs time.
                    let _ = cache.write_entry(Kind::Map, key, &map.encode());
                }
                map
            }
        };
        Ok(self.map.get_or_init(|| decoded))
    }
}

/// What instantiation leaves in each table (`table_init.rs`): per table, the function or
/// null at each element, or `None` when the module alone does not tell.
pub(crate) type InstantiatedTables = Vec<Option<Vec<Option<u32>>>>;

/// Facts about the original module, in its own numbering: everything a load, a capture
/// and a restore need to know of it besides its code (so a warm restore does not read
/// it; the prepared entry holds them, `facts_entry.rs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Facts {
    pub memories: u32,
    pub tables: u32,
    pub globals: u32,
    /// Per data segment: whether it is active (dropped once instantiation is done).
    pub data_active: Vec<bool>,
    /// Per element segment: whether it is active or declared (dropped at instantiation).
    pub elem_dropped: Vec<bool>,
    /// `(module, name)` of every function import, by function index.
    pub func_imports: Vec<(String, String)>,
    /// Functions that can be `funcref` values (see the module docs).
    pub escaping: BTreeSet<u32>,
    /// The memory exported as `memory` (where WASI functions find the guest's memory).
    pub memory_export: Option<u32>,
    /// What instantiation writes into each table (a restore writes only the snapshot's
    /// elements that differ).
    pub instantiated_tables: InstantiatedTables,
    /// Per memory, the byte ranges instantiation writes into it (`data_init.rs`; a
    /// restore clears them), `None` when a segment's offset is not a constant.
    pub initialized: Vec<Option<Vec<Range<u64>>>>,
}

/// Instruments `original` (its bytes read, and checked against its identity, if they are
/// not in memory yet) and adds the reach exports (and what `triggers` need).
pub(crate) fn prepare(
    original: Arc<Original>,
    triggers: CompiledTriggers,
) -> Result<Prepared, Error> {
    let bytes = original.bytes()?;
    let facts = facts(bytes)?;
    let (module, map) = instrument(bytes, &facts, triggers)?;
    Ok(Prepared {
        module: OnceLock::from(module),
        map: OnceLock::from(map),
        cached_map: None,
        triggers,
        original,
        facts,
    })
}

/// The instrumented module with its reach exports, and its map: `original` (whose facts
/// are `facts`) through the pass, then the rewrites of this crate.
fn instrument(
    original: &[u8],
    facts: &Facts,
    triggers: CompiledTriggers,
) -> Result<(Vec<u8>, InstrumentMap), Error> {
    if let Some(t) = triggers.call
        && (t.every == 0
            || t.func < facts.func_imports.len() as u32
            || out_of_range(t.func, original)?)
    {
        return Err(unsupported(
            0,
            format!(
                "call trigger on function {} every {} calls: it must be a function the \
                 module defines, and N > 0",
                t.func, t.every
            ),
        ));
    }
    // The call trigger stops the program at the counted function's entry poll, which the
    // pass would otherwise leave out of a function that only makes bounded calls.
    let options = tern_instrument::Options {
        entry_poll: triggers.call.map(|t| t.func),
        budget_global: triggers.budget_global(facts.globals),
        ..tern_instrument::Options::default()
    };
    let out = tern_instrument::instrument_with(original, &options)?;
    // Every function, memory, table and global exported under its original index too, so
    // a restore can link continuation clones to this very compiled module.
    let for_clones = export_for_clones(&out.module, MainLayout::Instrumented)?;
    let module = rewrite_for_wasmtime(&for_clones, facts, triggers)?;
    Ok((module, out.map))
}

/// Whether `func` is not a function index of `original` at all.
fn out_of_range(func: u32, original: &[u8]) -> Result<bool, Error> {
    let mut count = 0u32;
    for payload in Parser::new(0).parse_all(original) {
        match payload? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    count += u32::from(matches!(
                        import?.ty,
                        TypeRef::Func(_) | TypeRef::FuncExact(_)
                    ));
                }
            }
            Payload::FunctionSection(reader) => count += reader.count(),
            _ => {}
        }
    }
    Ok(func >= count)
}

fn unsupported(offset: usize, message: impl Into<String>) -> Error {
    Error::Unsupported {
        offset: offset as u64,
        message: message.into(),
    }
}

/// The facts of `original`, found by walking its sections (a warm load takes them from
/// the prepared cache entry instead, `facts_entry.rs`).
pub(crate) fn facts(original: &[u8]) -> Result<Facts, Error> {
    let mut facts = Facts::default();
    for payload in sections_but_code(original) {
        match payload? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    match import.ty {
                        TypeRef::Func(_) | TypeRef::FuncExact(_) => facts
                            .func_imports
                            .push((import.module.to_string(), import.name.to_string())),
                        // Imported memories, tables and globals come first in their index
                        // spaces; a capture reads and a restore writes them like the
                        // module's own (the embedder links them, see `linked.rs`).
                        TypeRef::Memory(_) => facts.memories += 1,
                        TypeRef::Table(_) => facts.tables += 1,
                        TypeRef::Global(_) => facts.globals += 1,
                        TypeRef::Tag(_) => {
                            return Err(unsupported(
                                0,
                                format!(
                                    "import `{}`.`{}` is a tag: exceptions are not supported",
                                    import.module, import.name
                                ),
                            ));
                        }
                    }
                }
            }
            Payload::MemorySection(reader) => facts.memories += reader.count(),
            Payload::TableSection(reader) => facts.tables += reader.count(),
            Payload::GlobalSection(reader) => {
                facts.globals += reader.count();
                for global in reader {
                    collect_ref_funcs(&global?.init_expr, &mut facts.escaping)?;
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.kind == ExternalKind::Func {
                        facts.escaping.insert(export.index);
                    }
                    if export.kind == ExternalKind::Memory && export.name == "memory" {
                        facts.memory_export = Some(export.index);
                    }
                }
            }
            Payload::ElementSection(reader) => {
                for elem in reader {
                    let elem = elem?;
                    facts
                        .elem_dropped
                        .push(!matches!(elem.kind, ElementKind::Passive));
                    match elem.items {
                        ElementItems::Functions(funcs) => {
                            for f in funcs {
                                facts.escaping.insert(f?);
                            }
                        }
                        ElementItems::Expressions(_, exprs) => {
                            for expr in exprs {
                                collect_ref_funcs(&expr?, &mut facts.escaping)?;
                            }
                        }
                    }
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let active = matches!(data?.kind, DataKind::Active { .. });
                    facts.data_active.push(active);
                }
            }
            _ => {}
        }
    }
    facts.instantiated_tables = instantiated_tables(original);
    facts.initialized = initialized_ranges(original, facts.memories);
    Ok(facts)
}

/// The payloads of `wasm` as `Parser::parse_all` gives them, but without stepping
/// through the code section (a warm load needs nothing from it, and a large program
/// has tens of thousands of bodies): `CodeSectionStart` is followed by the payload
/// after the section.
pub(crate) fn sections_but_code(
    wasm: &[u8],
) -> impl Iterator<Item = wasmparser::Result<Payload<'_>>> {
    let mut parser = Parser::new(0);
    let mut rest = wasm;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let (consumed, payload) = match parser.parse(rest, true) {
            Ok(wasmparser::Chunk::Parsed { consumed, payload }) => (consumed, payload),
            // With `eof` set the parser never asks for more data.
            Ok(wasmparser::Chunk::NeedMoreData(_)) => return None,
            Err(e) => {
                done = true;
                return Some(Err(e));
            }
        };
        rest = &rest[consumed..];
        match &payload {
            Payload::CodeSectionStart { size, .. } => {
                parser.skip_section();
                // The parser checked that the section fits.
                rest = rest.get(*size as usize..).unwrap_or_default();
            }
            Payload::End(_) => done = true,
            _ => {}
        }
        Some(Ok(payload))
    })
}

fn collect_ref_funcs(
    expr: &wasmparser::ConstExpr<'_>,
    out: &mut BTreeSet<u32>,
) -> Result<(), Error> {
    let mut ops = expr.get_operators_reader();
    while !ops.eof() {
        if let Operator::RefFunc { function_index } = ops.read()? {
            out.insert(function_index);
        }
    }
    Ok(())
}

/// Section ids that come after the export section in a module.
fn after_exports(id: u8) -> bool {
    // start, element, code, data, data count
    matches!(id, 8..=12)
}

fn reencode_error(e: wasm_encoder::reencode::Error<std::convert::Infallible>) -> Error {
    Error::Unsupported {
        offset: 0,
        message: format!("re-encoding the instrumented module: {e}"),
    }
}

/// Copies every section of `module` unchanged, except: the export section gets the reach
/// exports appended (or is created in its place), the import and code sections make the
/// request polls atomic (`flags.rs`), the global section gets the globals of `triggers`
/// (`budget.rs`) and those recording dropped segments (`drops.rs`), the code records
/// every drop, with a call trigger the counted function gets its countdown
/// (`calls.rs`), and the start section is left out: its function is exported as
/// [`START_EXPORT`] and called by the embedder (`instance.rs`), so that instantiating a
/// restored program does not run it again.
fn rewrite_for_wasmtime(
    module: &[u8],
    facts: &Facts,
    triggers: CompiledTriggers,
) -> Result<Vec<u8>, Error> {
    let mut added = Added {
        triggers,
        drops: DropGlobals::new(
            &facts.data_active,
            &facts.elem_dropped,
            facts.globals + triggers.globals().len() as u32,
        ),
        start: None,
    };
    for payload in sections_but_code(module) {
        if let Payload::StartSection { func, .. } = payload? {
            added.start = Some(func);
        }
    }
    let mut out = wasm_encoder::Module::new();
    let mut placed = false;
    let mut had_globals = false;
    let mut code: Option<(wasm_encoder::CodeSection, u32)> = None;
    let mut entry = 0u32;
    let imported = facts.func_imports.len() as u32;
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload?;
        match &payload {
            Payload::ImportSection(reader) => {
                out.section(&shared_flags_imports(reader.clone()).map_err(reencode_error)?);
                continue;
            }
            Payload::GlobalSection(reader) => {
                let mut globals = wasm_encoder::GlobalSection::new();
                AtomicPolls
                    .parse_global_section(&mut globals, reader.clone())
                    .map_err(reencode_error)?;
                added.append_globals(&mut globals);
                out.section(&globals);
                had_globals = true;
                continue;
            }
            Payload::CodeSectionStart { count, .. } => {
                code = Some((wasm_encoder::CodeSection::new(), *count));
            }
            Payload::CodeSectionEntry(body) => {
                if let Some((section, left)) = code.as_mut() {
                    let f = match triggers.call {
                        Some(t) if t.func == imported + entry => {
                            t.counted_body(&mut AtomicPolls, body, facts.globals, &added.drops)
                        }
                        _ => copy_body(body, &added.drops),
                    };
                    section.function(&f.map_err(reencode_error)?);
                    entry += 1;
                    *left -= 1;
                    if *left == 0 {
                        out.section(&*section);
                        code = None;
                    }
                }
                continue;
            }
            _ => {}
        }
        if let Payload::ExportSection(reader) = &payload {
            let mut exports = ExportSection::new();
            for export in reader.clone() {
                let export = export?;
                exports.export(export.name, export_kind(export.kind), export.index);
            }
            added.place_exports(&mut out, exports, facts, had_globals);
            placed = true;
            continue;
        }
        let Some((id, range)) = payload.as_section() else {
            continue;
        };
        if !placed && after_exports(id) {
            added.place_exports(&mut out, ExportSection::new(), facts, had_globals);
            placed = true;
        }
        if id == 10 {
            // The code section: written entry by entry above (an empty one right here).
            if let Some((section, 0)) = &code {
                out.section(section);
                code = None;
            }
            continue;
        }
        if id == START_SECTION {
            continue;
        }
        let data = module
            .get(range.start as usize..range.end as usize)
            .ok_or_else(|| unsupported(range.start as usize, "section out of bounds"))?;
        out.section(&RawSection { id, data });
    }
    if !placed {
        added.place_exports(&mut out, ExportSection::new(), facts, had_globals);
    }
    Ok(out.finish())
}

/// Export name of the start function, which the fast tier calls itself.
pub(crate) const START_EXPORT: &str = "tern:start";

const START_SECTION: u8 = 8;

/// A function body with atomic polls and its drops recorded.
fn copy_body(
    body: &wasmparser::FunctionBody<'_>,
    drops: &DropGlobals,
) -> Result<wasm_encoder::Function, wasm_encoder::reencode::Error<std::convert::Infallible>> {
    let mut f =
        wasm_encoder::reencode::utils::new_function_with_parsed_locals(&mut AtomicPolls, body)?;
    drops.copy_body(&mut AtomicPolls, body, &mut f)?;
    Ok(f)
}

/// What [`rewrite_for_wasmtime`] adds besides the reach exports.
struct Added {
    triggers: CompiledTriggers,
    drops: DropGlobals,
    /// The start function (its index in the instrumented module).
    start: Option<u32>,
}

impl Added {
    /// Appends the globals of the triggers, then those recording drops.
    fn append_globals(&self, globals: &mut wasm_encoder::GlobalSection) {
        for (ty, init) in self
            .triggers
            .globals()
            .into_iter()
            .chain(self.drops.globals())
        {
            globals.global(ty, &init);
        }
    }

    /// Writes the export section with the reach exports and those of the added
    /// globals and the start function, preceded by a global section for the added
    /// globals if the module has no global section (one that has got them there, and
    /// it comes before the exports).
    fn place_exports(
        &self,
        out: &mut wasm_encoder::Module,
        mut exports: ExportSection,
        facts: &Facts,
        had_globals: bool,
    ) {
        if !had_globals && (self.triggers != CompiledTriggers::default() || !self.drops.is_empty())
        {
            let mut globals = wasm_encoder::GlobalSection::new();
            self.append_globals(&mut globals);
            out.section(&globals);
        }
        if let Some(budget) = self.triggers.budget_global(facts.globals) {
            exports.export(BUDGET_EXPORT, ExportKind::Global, budget);
        }
        if self.triggers.call.is_some() {
            // The first of the triggers' globals (`CompiledTriggers::globals`).
            exports.export(COUNTDOWN_EXPORT, ExportKind::Global, facts.globals);
        }
        self.drops.export(&mut exports);
        if let Some(start) = self.start {
            exports.export(START_EXPORT, ExportKind::Func, start);
        }
        append_reach(&mut exports, facts);
        out.section(&exports);
    }
}

fn append_reach(exports: &mut ExportSection, facts: &Facts) {
    for m in 0..facts.memories {
        exports.export(&reach_name("memory", m), ExportKind::Memory, m + 1);
    }
    for t in 0..facts.tables {
        exports.export(&reach_name("table", t), ExportKind::Table, t);
    }
    for g in 0..facts.globals {
        exports.export(&reach_name("global", g), ExportKind::Global, g);
    }
}

fn export_kind(kind: ExternalKind) -> ExportKind {
    match kind {
        ExternalKind::Func | ExternalKind::FuncExact => ExportKind::Func,
        ExternalKind::Table => ExportKind::Table,
        ExternalKind::Memory => ExportKind::Memory,
        ExternalKind::Global => ExportKind::Global,
        ExternalKind::Tag => ExportKind::Tag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(wasm: &[u8]) -> Prepared {
        let original = Original::in_memory(Arc::new(wasm.to_vec()), ModuleIdentity::of(wasm));
        prepare(Arc::new(original), CompiledTriggers::default()).unwrap()
    }

    #[test]
    fn reach_exports_are_added_and_valid() {
        let wasm = wat::parse_str(
            r#"(module
                 (memory 1) (global (mut i32) (i32.const 0)) (table 2 funcref)
                 (func $a) (func $b (export "b"))
                 (elem (i32.const 0) func $a)
                 (data (i32.const 0) "x") (data "y"))"#,
        )
        .unwrap();
        let prepared = prepared(&wasm);
        wasmparser::validate(prepared.instrumented().unwrap()).unwrap();
        assert_eq!(prepared.facts.data_active, [true, false]);
        assert_eq!(prepared.facts.elem_dropped, [true]);
        assert_eq!(
            prepared.facts.escaping.iter().copied().collect::<Vec<_>>(),
            [0, 1]
        );
        let reach = ["tern:memory:", "tern:table:", "tern:global:"];
        let names: Vec<String> = Parser::new(0)
            .parse_all(prepared.instrumented().unwrap())
            .filter_map(|p| match p.unwrap() {
                Payload::ExportSection(r) => Some(
                    r.into_iter()
                        .map(|e| e.unwrap().name.to_string())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .filter(|n: &String| !n.starts_with("tern:") || reach.iter().any(|r| n.starts_with(r)))
            .collect();
        assert_eq!(
            names,
            ["b", "tern:memory:0", "tern:table:0", "tern:global:0",]
        );
    }

    #[test]
    fn imported_entities_come_first_in_the_counts() {
        let wasm = wat::parse_str(
            r#"(module (import "env" "m" (memory 1)) (import "env" "g" (global i32))
                 (import "env" "t" (table 1 funcref)) (memory 1) (global i32 (i32.const 0)))"#,
        )
        .unwrap();
        let prepared = prepared(&wasm);
        wasmparser::validate(prepared.instrumented().unwrap()).unwrap();
        let facts = &prepared.facts;
        assert_eq!((facts.memories, facts.tables, facts.globals), (2, 1, 2));
    }
}
