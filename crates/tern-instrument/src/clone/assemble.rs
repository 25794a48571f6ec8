//! The clones module: the original types (copied, so type indices in copied code stay
//! valid), then the clones' own; imports of every original function, table, memory and
//! global from the main instance, in original order (so those indices stay valid too);
//! the clone functions, each exported; the funcref slot table.

use super::analysis::Original;
use super::emit::{Params, Start, emit_clone, is_funcref};
use super::exports::{MAIN_MODULE, func_export, global_export, memory_export, table_export};
use super::segments::{FuncImport, FuncImports};
use super::types::{AddedTypes, encode_all};
use super::{CloneInfo, CloneKey, REFS_EXPORT, clone_export};
use crate::abi::ValKind;
use crate::error::Error;
use std::collections::BTreeSet;
use std::collections::HashMap;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    CodeSection, ConstExpr, ElementSection, Elements, EntityType, ExportKind, ExportSection,
    Function, FunctionSection, ImportSection, Instruction, RefType, TableSection, TableType,
    TypeSection,
};
use wasmparser::{Operator, ValType};

/// Builds the clones module for the `clones` (already checked against `orig`), and
/// what the instrumented variant needs to know about each clone.
pub(crate) fn clones_module(
    orig: &Original<'_>,
    clones: &[CloneKey],
    refs: &[u32],
) -> Result<(Vec<u8>, Vec<CloneInfo>), Error> {
    let refs_table = orig.tables.len() as u32;
    let mut added = AddedTypes::new(orig.types.len() as u32);
    let mut bodies = Vec::with_capacity(clones.len());
    let mut clone_types = Vec::with_capacity(clones.len());
    let mut declared = BTreeSet::new();
    let mut infos = Vec::with_capacity(clones.len());
    let mut imports = FuncImports::default();
    // The slot table's functions first, so their indices are known for its segment.
    let ref_funcs: Vec<u32> = refs
        .iter()
        .map(|f| imports.index(FuncImport::Func(*f)))
        .collect();
    let mut copied_from = Vec::with_capacity(clones.len());
    for key in clones {
        let pc = u64::from(key.pc);
        let body = orig
            .bodies
            .get(&key.func)
            .ok_or_else(|| Error::new(pc, "internal error: body missing"))?;
        let at = body.index_of[&pc];
        let index = at + usize::from(key.after_call);
        let point = &body.points[&index];
        let stack = orig.stack_at(body, index)?;
        let results = match (&body.ops[at].0, key.after_call) {
            (Operator::Call { function_index }, true) => orig.func_sig(*function_index),
            (Operator::CallIndirect { type_index, .. }, true) => orig.signature(*type_index),
            _ => None,
        }
        .map(|s| s.results().to_vec())
        .unwrap_or_default();
        let below = stack.len() - results.len();
        let params = Params {
            locals: body.locals.clone(),
            stack: stack[..below].to_vec(),
            refs_table,
        };
        let start = Start {
            index,
            point,
            stack_len: stack.len(),
            callee_results: results.len(),
        };
        let code = emit_clone(orig, body, &start, &params, &mut added, &mut imports)?;
        // The clone's type: slots for funcrefs, then the callee's results as they are.
        let slot = |t: &ValType| if is_funcref(*t) { ValType::I32 } else { *t };
        let mut param_types: Vec<ValType> = params
            .locals
            .iter()
            .chain(&params.stack)
            .map(slot)
            .collect();
        param_types.extend_from_slice(&results);
        let sig = orig
            .func_sig(key.func)
            .ok_or_else(|| Error::new(pc, "internal error: no signature"))?;
        clone_types.push(added.func(&param_types, sig.results()));
        let kinds = |tys: &[ValType]| -> Vec<ValKind> {
            tys.iter().filter_map(|t| ValKind::from_wasm(*t)).collect()
        };
        infos.push(CloneInfo {
            func: key.func,
            entry_pc: body.ops[index].1 as u32,
            locals: kinds(&params.locals),
            stack: kinds(&params.stack),
            callee_results: kinds(&results),
            pcs: HashMap::new(),
        });
        copied_from.push(code.iter().map(|(_, o)| *o).collect::<Vec<_>>());
        let mut function = Function::new_with_locals_types(encode_all(&body.locals, pc)?);
        for (instr, _) in &code {
            if let Instruction::RefFunc(f) = instr {
                declared.insert(*f);
            }
            function.instruction(instr);
        }
        bodies.push(function);
    }

    let helper_types = (added.func(&[ValType::I32; 3], &[]), added.func(&[], &[]));
    let mut module = wasm_encoder::Module::new();
    let mut types = TypeSection::new();
    for ty in &orig.types {
        let ty = ty
            .as_ref()
            .ok_or_else(|| Error::new(0, "non-function types are not supported"))?;
        types
            .ty()
            .function(encode_all(ty.params(), 0)?, encode_all(ty.results(), 0)?);
    }
    for (params, results) in &added.list {
        types
            .ty()
            .function(encode_all(params, 0)?, encode_all(results, 0)?);
    }
    module.section(&types);

    let mut section = ImportSection::new();
    let err = |e: wasm_encoder::reencode::Error| Error::new(0, e.to_string());
    for import in &imports.list {
        let (name, ty) = match *import {
            FuncImport::Func(f) => {
                let ty = orig.func_types.get(f as usize).copied();
                let ty = ty.ok_or_else(|| Error::new(0, format!("unknown function {f}")))?;
                (func_export(f), ty)
            }
            FuncImport::Segment(op) if op.takes_operands() => (op.export_name(), helper_types.0),
            FuncImport::Segment(op) => (op.export_name(), helper_types.1),
        };
        section.import(MAIN_MODULE, &name, EntityType::Function(ty));
    }
    let first = imports.list.len() as u32;
    let imports = &mut section;
    for (i, t) in orig.tables.iter().enumerate() {
        let t = RoundtripReencoder.table_type(*t).map_err(err)?;
        imports.import(MAIN_MODULE, &table_export(i as u32), EntityType::Table(t));
    }
    for (i, m) in orig.memories.iter().enumerate() {
        let m = RoundtripReencoder.memory_type(*m).map_err(err)?;
        imports.import(MAIN_MODULE, &memory_export(i as u32), EntityType::Memory(m));
    }
    for (i, g) in orig.globals.iter().enumerate() {
        let g = RoundtripReencoder.global_type(*g).map_err(err)?;
        imports.import(MAIN_MODULE, &global_export(i as u32), EntityType::Global(g));
    }
    module.section(imports);

    let mut functions = FunctionSection::new();
    for ty in &clone_types {
        functions.function(*ty);
    }
    module.section(&functions);

    let mut tables = TableSection::new();
    let size = 1 + refs.len() as u64;
    tables.table(TableType {
        element_type: RefType::FUNCREF,
        minimum: size,
        maximum: Some(size),
        table64: false,
        shared: false,
    });
    module.section(&tables);

    let mut exports = ExportSection::new();
    for i in 0..clones.len() {
        exports.export(&clone_export(i), ExportKind::Func, first + i as u32);
    }
    exports.export(REFS_EXPORT, ExportKind::Table, refs_table);
    module.section(&exports);

    let mut elements = ElementSection::new();
    if !refs.is_empty() {
        elements.active(
            Some(refs_table),
            &ConstExpr::i32_const(1),
            Elements::Functions(ref_funcs.into()),
        );
    }
    if !declared.is_empty() {
        let declared: Vec<u32> = declared.into_iter().collect();
        elements.declared(Elements::Functions(declared.into()));
    }
    if !elements.is_empty() {
        module.section(&elements);
    }

    let mut code = CodeSection::new();
    for body in &bodies {
        code.function(body);
    }
    module.section(&code);
    let bytes = module.finish();
    // Where each copied operator landed in the clones module.
    let mut clone = 0;
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload? {
            let mut reader = body.get_operators_reader()?;
            let (Some(info), Some(from)) = (infos.get_mut(clone), copied_from.get(clone)) else {
                return Err(Error::new(0, "internal error: clone count"));
            };
            for original in from {
                let (_, offset) = reader.read_with_offset()?;
                if let Some(original) = original {
                    info.pcs.insert(offset as u32, *original as u32);
                }
            }
            clone += 1;
        }
    }
    Ok((bytes, infos))
}
