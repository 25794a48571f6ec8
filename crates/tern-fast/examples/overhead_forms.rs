//! Experiment: does the way a safepoint poll reaches the flag word change the cost of
//! being checkpointable? Runs one program of `bench/programs` as the original module and
//! as tern-instrument's output rewritten for wasmtime with the flag memory in several
//! forms (request polls always atomic loads). The cold paths are never taken: the tern
//! imports trap if called.
//!
//! `cargo run --release -p tern-fast --example overhead_forms REPEATS PROGRAM VARIANT...`
//!
//! VARIANT is `plain` (the original module) or a form: `shared` (imported shared flag
//! memory: what tern-fast runs), `imported` (imported, not shared), `def32` (a defined
//! 1-page memory, its base loaded from the instance once), `def64` (a defined 64-bit
//! memory without maximum, whose base wasmtime loads again at every poll instead of
//! keeping it in a register); `+h` after a form adds a `metadata.code.branch_hint`
//! section marking every poll's and check's `if` unlikely, so Cranelift lays the cold
//! paths out at the end of the function. Variants run interleaved, REPEATS times each;
//! the lines show medians and the ratio to the first variant.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tern_wasi::{OutputPipe, OutputSink, WasiCtxBuilder, WasmtimeHooks, add_to_wasmtime_linker};
use wasm_encoder::reencode::{Error as ReError, Reencode, utils};
use wasm_encoder::{EntityType, Instruction, MemArg, MemoryType};
use wasmparser::{Operator, TypeRef};

#[path = "common/programs.rs"]
mod programs;
use programs::PROGRAMS;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Plain;
impl WasmtimeHooks for Plain {}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Form {
    Shared,
    Imported,
    Def32,
    Def64,
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repeats: usize = args.first().ok_or("usage")?.parse()?;
    let name = args.get(1).ok_or("usage")?.clone();
    let variants = &args[2..];
    let n = PROGRAMS
        .iter()
        .find(|(p, _)| *p == name)
        .ok_or("program")?
        .1;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/programs");
    let sums: BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(root.join("checksums.json"))?)?;
    let want = sums.get(&format!("{name}:{n}")).ok_or("checksum")?.clone();
    let original = std::fs::read(root.join(format!("{name}.wasm")))?;

    let mut config = wasmtime::Config::new();
    config
        .strategy(wasmtime::Strategy::Cranelift)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .wasm_multi_memory(true)
        .wasm_tail_call(true)
        .wasm_simd(true)
        .wasm_reference_types(true)
        .wasm_bulk_memory(true)
        .wasm_multi_value(true)
        .wasm_memory64(true)
        .wasm_branch_hinting(true);
    config.wasm_threads(true).shared_memory(true);
    let engine = wasmtime::Engine::new(&config)?;

    let mut modules = Vec::new();
    for v in variants {
        let bytes = if v == "plain" {
            original.clone()
        } else {
            let (form, hints) = match v.strip_suffix("+h") {
                Some(f) => (f, true),
                None => (v.as_str(), false),
            };
            let form = match form {
                "shared" => Form::Shared,
                "imported" => Form::Imported,
                "def32" => Form::Def32,
                "def64" => Form::Def64,
                other => return Err(format!("unknown form {other}").into()),
            };
            let out = tern_instrument::instrument(&original)?;
            let module = rewrite(&out.module, form, hints)?;
            if let Ok(dir) = std::env::var("FORMS_DUMP") {
                std::fs::write(format!("{dir}/{name}.{v}.wasm"), &module)?;
                let m = wasmtime::Module::new(&engine, &module)?;
                std::fs::write(format!("{dir}/{name}.{v}.cwasm"), m.serialize()?)?;
            }
            module
        };
        let form = if v == "plain" { None } else { Some(v.clone()) };
        modules.push((v.clone(), form, wasmtime::Module::new(&engine, &bytes)?));
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); modules.len()];
    for rep in 0..repeats {
        for k in 0..modules.len() {
            let which = (rep + k) % modules.len();
            let (_, form, module) = &modules[which];
            let (t, out) = run(&engine, module, form.is_some(), &name, n)?;
            let got = out
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("checksum "))
                .ok_or("no checksum")?;
            if got.trim() != want {
                return Err(format!("{}: checksum {got}", modules[which].0).into());
            }
            times[which].push(t);
        }
    }
    let medians: Vec<f64> = times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2].as_secs_f64()
        })
        .collect();
    for ((v, _, _), m) in modules.iter().zip(&medians) {
        println!("{name} {v:>24} {m:.3} s  {:.3}", m / medians[0]);
    }
    Ok(())
}

fn run(
    engine: &wasmtime::Engine,
    module: &wasmtime::Module,
    tern: bool,
    name: &str,
    n: u64,
) -> Res<(Duration, String)> {
    let pipe = OutputPipe::new();
    let ctx = WasiCtxBuilder::new()
        .args([name.to_string(), n.to_string()])
        .stdout(OutputSink::Pipe(pipe.clone()))
        .build()?;
    let mut linker = wasmtime::Linker::new(engine);
    add_to_wasmtime_linker(&mut linker, Arc::new(Mutex::new(ctx)))?;
    let mut store = wasmtime::Store::new(engine, Plain);
    if tern {
        for import in module.imports() {
            if import.module() != "tern" {
                continue;
            }
            match import.ty() {
                wasmtime::ExternType::Func(ty) => {
                    linker.func_new("tern", import.name(), ty, |_, _, _| {
                        Err(wasmtime::Error::msg("cold path taken"))
                    })?;
                }
                wasmtime::ExternType::Memory(ty) => {
                    if ty.is_shared() {
                        let m = wasmtime::SharedMemory::new(engine, ty)?;
                        linker.define(&store, "tern", "flags", m)?;
                    } else {
                        let m = wasmtime::Memory::new(&mut store, ty)?;
                        linker.define(&store, "tern", "flags", m)?;
                    }
                }
                _ => return Err("unexpected tern import".into()),
            }
        }
    }
    let instance = linker.instantiate(&mut store, module)?;
    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
    let started = Instant::now();
    let result = start.call(&mut store, ());
    let elapsed = started.elapsed();
    if let Err(e) = result {
        match e.downcast_ref::<tern_wasi::WasiExit>() {
            Some(tern_wasi::WasiExit::Exit(0)) => {}
            _ => return Err(format!("run failed: {e}").into()),
        }
    }
    Ok((elapsed, pipe.contents_string()))
}

/// The instrumented module with the flag memory in `form` and atomic request polls.
fn rewrite(module: &[u8], form: Form, hints: bool) -> Res<Vec<u8>> {
    let mut out = wasm_encoder::Module::new();
    let mut r = Forms {
        form,
        saw_memories: false,
        next_func: 0,
        hints: Vec::new(),
    };
    r.parse_core_module(&mut out, wasmparser::Parser::new(0), module)
        .map_err(|e| format!("{e:?}"))?;
    if !r.saw_memories {
        return Err("module without a memory section".into());
    }
    if hints {
        let mut section = wasm_encoder::BranchHints::new();
        for (func, offsets) in &r.hints {
            section.function_hints(
                *func,
                offsets.iter().map(|o| wasm_encoder::BranchHint {
                    branch_func_offset: *o,
                    branch_hint_value: 0,
                }),
            );
        }
        out.section(&section);
    }
    Ok(out.finish())
}

struct Forms {
    form: Form,
    saw_memories: bool,
    next_func: u32,
    /// Offsets of the `if`s of polls and checks, per function.
    hints: Vec<(u32, Vec<u32>)>,
}

fn flag_type(form: Form) -> MemoryType {
    MemoryType {
        minimum: 1,
        maximum: match form {
            Form::Def64 => None,
            _ => Some(1),
        },
        memory64: form == Form::Def64,
        shared: form == Form::Shared,
        page_size_log2: None,
    }
}

fn is_flag(memarg: &wasmparser::MemArg) -> bool {
    memarg.target == wasmparser::MemArgTarget::Memory(0)
}

impl Reencode for Forms {
    type Error = std::convert::Infallible;

    fn parse_import_section(
        &mut self,
        imports: &mut wasm_encoder::ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), ReError<Self::Error>> {
        for import in section.into_imports() {
            let import = import?;
            if let TypeRef::Func(_) = import.ty {
                self.next_func += 1;
            }
            let ty = match import.ty {
                TypeRef::Memory(_) if import.module == "tern" => match self.form {
                    Form::Shared | Form::Imported => EntityType::Memory(flag_type(self.form)),
                    Form::Def32 | Form::Def64 => continue,
                },
                other => self.entity_type(other)?,
            };
            imports.import(import.module, import.name, ty);
        }
        Ok(())
    }

    fn parse_memory_section(
        &mut self,
        memories: &mut wasm_encoder::MemorySection,
        section: wasmparser::MemorySectionReader<'_>,
    ) -> Result<(), ReError<Self::Error>> {
        self.saw_memories = true;
        if matches!(self.form, Form::Def32 | Form::Def64) {
            memories.memory(flag_type(self.form));
        }
        utils::parse_memory_section(self, memories, section)
    }

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        func: wasmparser::FunctionBody<'_>,
    ) -> Result<(), ReError<Self::Error>> {
        let mut f = self.new_function_with_parsed_locals(&func)?;
        let mut reader = func.get_operators_reader()?;
        let mut ops: Vec<Instruction<'_>> = Vec::new();
        while !reader.eof() {
            let op = reader.read()?;
            // Where the address constant of a flag-memory access sits, counted back (the
            // pass stores a single `local.get` or constant).
            let back = match &op {
                Operator::I32Load { memarg }
                | Operator::I64Load { memarg }
                | Operator::F32Load { memarg }
                | Operator::F64Load { memarg }
                | Operator::V128Load { memarg }
                | Operator::I32AtomicLoad { memarg }
                    if is_flag(memarg) =>
                {
                    Some(1)
                }
                Operator::I32Store { memarg }
                | Operator::I64Store { memarg }
                | Operator::F32Store { memarg }
                | Operator::F64Store { memarg }
                | Operator::V128Store { memarg }
                    if is_flag(memarg) =>
                {
                    Some(2)
                }
                _ => None,
            };
            let instr = match op {
                Operator::I32Load { memarg } if is_flag(&memarg) && memarg.offset == 0 => {
                    Instruction::I32AtomicLoad(MemArg {
                        offset: 0,
                        align: 2,
                        target: wasm_encoder::MemArgTarget::Memory(0),
                        ordering: None,
                    })
                }
                other => self.instruction(other)?,
            };
            if let (Some(back), Form::Def64) = (back, self.form) {
                let at = ops.len() - back;
                assert!(matches!(ops[at], Instruction::I32Const(0)));
                ops[at] = Instruction::I64Const(0);
            }
            ops.push(instr);
        }
        let mut offsets = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let flag_load = |j: usize| {
                matches!(
                    ops.get(j),
                    Some(
                        Instruction::I32AtomicLoad(m)
                            | Instruction::I32Load(m)
                            | Instruction::I64Load(m)
                    ) if m.target == wasm_encoder::MemArgTarget::Memory(0)
                )
            };
            let hinted = matches!(op, Instruction::If(_))
                && i >= 3
                && (flag_load(i - 1)
                    || (matches!(ops[i - 1], Instruction::I64Ne) && flag_load(i - 3)));
            if hinted {
                offsets.push(f.byte_len() as u32);
            }
            f.instruction(op);
        }
        code.function(&f);
        if !offsets.is_empty() {
            self.hints.push((self.next_func, offsets));
        }
        self.next_func += 1;
        Ok(())
    }
}
