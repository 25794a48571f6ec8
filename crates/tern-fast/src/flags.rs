//! Making the safepoint polls visible to an optimizing compiler.
//!
//! tern-instrument polls with a plain `i32.load` of byte 0 of the flag memory. In plain
//! Wasm nothing else can change that word while the function runs, and Cranelift uses
//! that: its alias analysis replaces a load by an earlier load of the same address when
//! no store to linear memory and no call lies in between. In a loop that neither stores
//! nor calls (the inner loop of `mandelbrot`), every loop-header poll then reuses the
//! value read at function entry and a request is never seen.
//!
//! So on wasmtime the flag memory is imported as `shared` and the request poll becomes an
//! atomic load, which Cranelift treats as a fence and always performs (on x86-64 and
//! AArch64 it is still one ordinary load instruction). Post-call checks (`offset=4`) stay
//! plain loads: they follow a call, which already forces a reload.
//!
//! ```wat
//! ;; before                                 ;; after
//! (import "tern" "flags" (memory 1 1))      (import "tern" "flags" (memory 1 1 shared))
//! i32.const 0  i32.load                     i32.const 0  i32.atomic.load
//! i32.const 0  i32.load offset=4            i32.const 0  i32.load offset=4
//! ```
//!
//! Only memory 0 is the flag memory in an instrumented module (every original memory
//! index is one higher), so the rewrite cannot touch the program's own loads.

use std::convert::Infallible;
use tern_instrument::clone::{MAIN_MODULE, func_of_export};
use tern_instrument::{FLAGS_MEMORY, MODULE, REQUEST_OFFSET};
use wasm_encoder::reencode::{Error, Reencode, utils};
use wasm_encoder::{EntityType, ImportSection, Instruction, MemArg};
use wasmparser::{ImportSectionReader, Operator, TypeRef};

/// The reencoder that rewrites request polls into atomic loads.
pub(crate) struct AtomicPolls;

impl Reencode for AtomicPolls {
    type Error = Infallible;

    fn instruction<'a>(
        &mut self,
        arg: Operator<'a>,
    ) -> Result<Instruction<'a>, Error<Self::Error>> {
        match arg {
            Operator::I32Load { memarg }
                if memarg.target == wasmparser::MemArgTarget::Memory(0)
                    && memarg.offset == REQUEST_OFFSET =>
            {
                Ok(Instruction::I32AtomicLoad(MemArg {
                    offset: memarg.offset,
                    align: 2,
                    target: wasm_encoder::MemArgTarget::Memory(0),
                    ordering: None,
                }))
            }
            other => utils::instruction(self, other),
        }
    }
}

/// A whole instrumented clones module with the flag memory made shared and the request
/// polls atomic. `memory` is the original index of the main module's memory exported as
/// `memory`: the clones module exports it under that name too, because a WASI function
/// finds the guest's memory among the exports of the instance that calls it, which is
/// the clones instance when a clone calls it.
///
/// Every function it imports from the main instance (`tern:main` `tern:fN`) is exported
/// again under the same name: wasmtime gives an instance its own reference for each
/// imported function, so a `ref.func` in a clone yields a reference that is not the main
/// instance's; the restore maps these exports back to `N` too.
pub(crate) fn clones_for_wasmtime(
    module: &[u8],
    memory: Option<u32>,
) -> Result<Vec<u8>, Error<Infallible>> {
    let mut out = wasm_encoder::Module::new();
    WholeModule {
        memory,
        main_funcs: Vec::new(),
    }
    .parse_core_module(&mut out, wasmparser::Parser::new(0), module)?;
    Ok(out.finish())
}

/// [`AtomicPolls`] for every section, imports included, plus the `memory` export and
/// the re-exports of the main instance's functions.
struct WholeModule {
    memory: Option<u32>,
    /// `(function index here, import name)` of every function imported from the main
    /// instance.
    main_funcs: Vec<(u32, String)>,
}

impl Reencode for WholeModule {
    type Error = Infallible;

    fn instruction<'a>(
        &mut self,
        arg: Operator<'a>,
    ) -> Result<Instruction<'a>, Error<Self::Error>> {
        AtomicPolls.instruction(arg)
    }

    fn parse_import_section(
        &mut self,
        imports: &mut ImportSection,
        section: ImportSectionReader<'_>,
    ) -> Result<(), Error<Self::Error>> {
        let mut func = 0;
        for import in section.clone().into_imports() {
            let import = import?;
            if let TypeRef::Func(_) = import.ty {
                if import.module == MAIN_MODULE && func_of_export(import.name).is_some() {
                    self.main_funcs.push((func, import.name.to_string()));
                }
                func += 1;
            }
        }
        *imports = shared_flags_imports(section)?;
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut wasm_encoder::ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> Result<(), Error<Self::Error>> {
        utils::parse_export_section(self, exports, section)?;
        if let Some(m) = self.memory {
            // Memory 0 of an instrumented module is the flag memory.
            exports.export("memory", wasm_encoder::ExportKind::Memory, m + 1);
        }
        for (func, name) in &self.main_funcs {
            exports.export(name, wasm_encoder::ExportKind::Func, *func);
        }
        Ok(())
    }
}

/// The import section with the flag memory made shared.
pub(crate) fn shared_flags_imports(
    reader: ImportSectionReader<'_>,
) -> Result<ImportSection, Error<Infallible>> {
    let mut out = ImportSection::new();
    let mut reencoder = AtomicPolls;
    for import in reader.into_imports() {
        let import = import?;
        let ty = match import.ty {
            TypeRef::Memory(ty) if import.module == MODULE && import.name == FLAGS_MEMORY => {
                let mut ty = reencoder.memory_type(ty)?;
                ty.shared = true;
                EntityType::Memory(ty)
            }
            other => reencoder.entity_type(other)?,
        };
        out.import(import.module, import.name, ty);
    }
    Ok(out)
}
