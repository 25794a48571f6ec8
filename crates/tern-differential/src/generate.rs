//! From arbitrary bytes to a test case: a `wasm-smith` module restricted to what tern
//! supports, bounded so that every run ends, and the exported functions to call with
//! their arguments.

use crate::choose::Choices;
use arbitrary::Unstructured;
use tern_snapshot::Value;
use wasmparser::{Parser, Payload, TypeRef, ValType, Validator};

/// Fuel `ensure_termination` gives each module: every loop iteration and function entry
/// costs one, and running out traps (`unreachable`). Keeps each run short.
const FUEL: u32 = 1_000;

/// The only host function a generated module may import: it has no effect, and on the
/// fast tier its calls are the deterministic checkpoint points of
/// `FastInstance::checkpoint_after_wasi_calls` (the next poll after the k-th call).
const IMPORTS_WAT: &str = r#"(module
  (import "wasi_snapshot_preview1" "sched_yield" (func (result i32))))"#;

/// One generated module and the calls to make on it.
#[derive(Debug, Clone)]
pub struct Case {
    /// The module (binary).
    pub wasm: Vec<u8>,
    /// Every exported function the module defines, with arguments.
    pub calls: Vec<Call>,
    /// The functions the module defines (their indices, imports excluded from the count
    /// but included in the numbering): candidates for the `call:` trigger.
    pub defined: std::ops::Range<u32>,
    /// Pseudo-random choices (checkpoint points) derived from the input bytes.
    pub(crate) choices: Choices,
}

/// One exported function and its arguments.
#[derive(Debug, Clone)]
pub struct Call {
    pub export: String,
    pub args: Vec<Value>,
}

/// The `wasm-smith` configuration: the Wasm features tern supports (multi-value, bulk
/// memory, reference types, SIMD, tail calls, multiple memories and tables, extended
/// constant expressions), small modules, no threads, GC, exceptions, memory64.
pub fn smith_config() -> wasm_smith::Config {
    let imports = wat_imports();
    wasm_smith::Config {
        available_imports: Some(imports),
        min_imports: 1,
        max_imports: 1,
        min_funcs: 1,
        max_funcs: 8,
        max_instructions: 150,
        max_nesting_depth: 6,
        max_memories: 2,
        max_memory32_bytes: 4 * 65536,
        // Without a maximum, `memory.grow` of a large delta succeeds lazily on wasmtime
        // and allocates on the interpreter: not a difference worth reporting.
        memory_max_size_required: true,
        max_tables: 2,
        max_table_elements: 64,
        table_max_size_required: true,
        max_data_segments: 8,
        max_element_segments: 8,
        export_everything: true,
        allow_start_export: true,
        // NaN bit patterns are nondeterministic in Wasm and differ between engines.
        canonicalize_nans: true,
        exceptions_enabled: false,
        gc_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        relaxed_simd_enabled: false,
        wide_arithmetic_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        custom_descriptors_enabled: false,
        compact_imports_enabled: false,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        simd_enabled: true,
        tail_call_enabled: true,
        extended_const_enabled: true,
        multi_value_enabled: true,
        ..wasm_smith::Config::default()
    }
}

fn wat_imports() -> Vec<u8> {
    // A fixed, valid text: parsing cannot fail.
    wat::parse_str(IMPORTS_WAT).unwrap_or_default()
}

/// The case for `data`, or `None` when the bytes give no usable module (too short, or
/// a module tern's validator refuses, which would be a generator configuration problem
/// rather than an engine disagreement).
pub fn case(data: &[u8]) -> Option<Case> {
    let mut u = Unstructured::new(data);
    let mut module = wasm_smith::Module::new(smith_config(), &mut u).ok()?;
    module.ensure_termination(FUEL).ok()?;
    of_module(module.to_bytes(), data)
}

/// The case for a given module (a regression test's WAT), with choices from `data`;
/// `None` if tern's validator refuses it.
pub fn of_module(wasm: Vec<u8>, data: &[u8]) -> Option<Case> {
    Validator::new_with_features(tern_instrument::supported_features())
        .validate_all(&wasm)
        .ok()?;
    let mut choices = Choices::new(data);
    let (calls, defined) = exported_calls(&wasm, &mut choices)?;
    Some(Case {
        wasm,
        calls,
        defined,
        choices,
    })
}

/// Every exported function the module defines, with generated arguments, and the range
/// of defined function indices.
fn exported_calls(wasm: &[u8], choices: &mut Choices) -> Option<(Vec<Call>, std::ops::Range<u32>)> {
    let mut types: Vec<Vec<ValType>> = Vec::new();
    let mut funcs: Vec<u32> = Vec::new();
    let mut imported = 0u32;
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.ok()? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty.ok()?.params().to_vec());
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(ty) = import.ok()?.ty {
                        funcs.push(ty);
                        imported += 1;
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    funcs.push(ty.ok()?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.ok()?;
                    if export.kind == wasmparser::ExternalKind::Func && export.index >= imported {
                        exports.push((export.name.to_string(), export.index));
                    }
                }
            }
            _ => {}
        }
    }
    let calls = exports
        .into_iter()
        .map(|(export, func)| {
            let params = types.get(*funcs.get(func as usize)? as usize)?;
            let args = params.iter().map(|ty| choices.value(*ty)).collect();
            Some(Call { export, args })
        })
        .collect::<Option<Vec<_>>>()?;
    Some((calls, imported..funcs.len() as u32))
}
