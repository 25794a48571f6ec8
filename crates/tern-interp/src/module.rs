//! Decoding, validation and translation of a module, done once; the result is shared by
//! every instance.

use crate::code::FuncCode;
use crate::config::Config;
use crate::error::CompileError;
use crate::strict;
use crate::translate::translate_function;
use crate::types::{ExternType, FuncType, GlobalType, Limits, MemoryType, TableType, ValType};
use std::collections::HashMap;
use std::sync::Arc;
use wasmparser::{
    CompositeInnerType, ElementItems, ElementKind, ExternalKind, FuncValidatorAllocations,
    KnownCustom, Name, Operator, Parser, Payload, TypeRef, ValidPayload, Validator,
};

/// A validated, translated module. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Module(pub(crate) Arc<ModuleInner>);

/// A constant expression, decoded (initializers of globals, offsets, element items).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ConstOp {
    I32(u32),
    I64(u64),
    F32(u32),
    F64(u64),
    V128(u128),
    GlobalGet(u32),
    RefNull(ValType),
    RefFunc(u32),
    I32Add,
    I32Sub,
    I32Mul,
    I64Add,
    I64Sub,
    I64Mul,
}

pub(crate) type ConstExpr = Vec<ConstOp>;

#[derive(Debug, Clone)]
pub(crate) enum SegmentMode {
    Passive,
    Active { index: u32, offset: ConstExpr },
    Declared,
}

#[derive(Debug, Clone)]
pub(crate) struct ElemSegment {
    pub mode: SegmentMode,
    pub items: Vec<ConstExpr>,
}

#[derive(Debug, Clone)]
pub(crate) struct DataSegment {
    pub mode: SegmentMode,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub(crate) struct Import {
    pub module: String,
    pub name: String,
    pub ty: ExternType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Func,
    Table,
    Memory,
    Global,
}

#[derive(Default)]
pub(crate) struct ModuleInner {
    pub types: Vec<FuncType>,
    pub imports: Vec<Import>,
    /// Type index of every function, imported ones first.
    pub func_types: Vec<u32>,
    pub imported_funcs: u32,
    /// Every table / memory / global, imported ones first.
    pub tables: Vec<TableType>,
    pub memories: Vec<MemoryType>,
    pub globals: Vec<GlobalType>,
    pub imported_tables: u32,
    pub imported_memories: u32,
    pub imported_globals: u32,
    /// Initializers of the defined tables (`None`: all null) and globals.
    pub table_inits: Vec<Option<ConstExpr>>,
    pub global_inits: Vec<ConstExpr>,
    pub exports: Vec<(String, ExportKind, u32)>,
    pub start: Option<u32>,
    pub elems: Vec<ElemSegment>,
    pub datas: Vec<DataSegment>,
    /// Translated bodies of the defined functions.
    pub code: Vec<FuncCode>,
    pub func_names: HashMap<u32, String>,
    pub bytes: Arc<[u8]>,
    /// What it takes to validate a body again, to recover operand types at a pc.
    pub validation: Option<(wasmparser::ValidatorResources, wasmparser::WasmFeatures)>,
}

impl Module {
    /// Decodes, validates and translates `bytes` (binary format).
    pub fn new(config: &Config, bytes: &[u8]) -> Result<Module, CompileError> {
        let features = config.features & Config::supported_features();
        let mut validator = Validator::new_with_features(features);
        let mut m = ModuleInner {
            bytes: bytes.into(),
            ..ModuleInner::default()
        };
        let mut allocs = FuncValidatorAllocations::default();
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload?;
            let valid = validator.payload(&payload)?;
            if let Payload::MemorySection(reader) = &payload {
                strict::check_memory_limits(bytes, features, reader.clone())?;
            }
            read_payload(&mut m, payload)?;
            if let ValidPayload::Func(to_validate, body) = valid {
                if m.validation.is_none() {
                    m.validation = Some((to_validate.resources.clone(), to_validate.features));
                }
                let mut func_validator = to_validate.into_validator(allocs);
                let code = translate_function(&m, &mut func_validator, &body)?;
                m.code.push(code);
                allocs = func_validator.into_allocations();
            }
        }
        Ok(Module(Arc::new(m)))
    }

    /// Function name from the name section.
    pub fn func_name(&self, index: u32) -> Option<&str> {
        self.0.func_names.get(&index).map(String::as_str)
    }

    /// The index of the function named `name` in the name section, or exported as `name`.
    pub fn func_by_name(&self, name: &str) -> Option<u32> {
        let named = self.0.func_names.iter().find(|(_, n)| n.as_str() == name);
        named
            .map(|(&index, _)| index)
            .or_else(|| self.exported_func(name))
    }

    /// The module's exports, in declaration order.
    pub fn exports(&self) -> impl Iterator<Item = (&str, ExportKind, u32)> {
        self.0
            .exports
            .iter()
            .map(|(name, kind, index)| (name.as_str(), *kind, *index))
    }

    /// The module's imports: module name, item name and type.
    pub fn imports(&self) -> impl Iterator<Item = (&str, &str, &ExternType)> {
        self.0
            .imports
            .iter()
            .map(|i| (i.module.as_str(), i.name.as_str(), &i.ty))
    }

    /// The type of function `index` (imports included).
    pub fn func_type(&self, index: u32) -> Option<&FuncType> {
        let ty = *self.0.func_types.get(index as usize)?;
        self.0.types.get(ty as usize)
    }

    /// Index of the function exported as `name`.
    pub fn exported_func(&self, name: &str) -> Option<u32> {
        self.exports()
            .find(|(n, kind, _)| *n == name && *kind == ExportKind::Func)
            .map(|e| e.2)
    }

    /// The original bytes the module was built from.
    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }
}

impl std::fmt::Debug for ModuleInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleInner")
            .field("funcs", &self.func_types.len())
            .finish_non_exhaustive()
    }
}

impl ModuleInner {
    pub(crate) fn func_type(&self, func: u32) -> &FuncType {
        &self.types[self.func_types[func as usize] as usize]
    }

    /// Translated code of a function that the module defines (not an import).
    pub(crate) fn code_of(&self, func: u32) -> Option<&FuncCode> {
        self.code
            .get(func.checked_sub(self.imported_funcs)? as usize)
    }
}

fn limits(initial: u64, maximum: Option<u64>) -> Limits {
    Limits {
        min: initial,
        max: maximum,
    }
}

fn table_type(ty: &wasmparser::TableType) -> TableType {
    TableType {
        element: ValType::from_wasm(wasmparser::ValType::Ref(ty.element_type)),
        limits: limits(ty.initial, ty.maximum),
    }
}

fn memory_type(ty: &wasmparser::MemoryType) -> MemoryType {
    MemoryType {
        limits: limits(ty.initial, ty.maximum),
    }
}

fn global_type(ty: &wasmparser::GlobalType) -> GlobalType {
    GlobalType {
        content: ValType::from_wasm(ty.content_type),
        mutable: ty.mutable,
    }
}

fn read_payload(m: &mut ModuleInner, payload: Payload<'_>) -> Result<(), CompileError> {
    match payload {
        Payload::TypeSection(reader) => {
            for group in reader {
                for sub in group?.into_types() {
                    let CompositeInnerType::Func(ft) = &sub.composite_type.inner else {
                        unreachable!("validation admits only function types");
                    };
                    m.types.push(FuncType::from_wasm(ft));
                }
            }
        }
        Payload::ImportSection(reader) => {
            for import in reader.into_imports() {
                let import = import?;
                let ty = match import.ty {
                    TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                        m.func_types.push(t);
                        m.imported_funcs += 1;
                        ExternType::Func(m.types[t as usize].clone())
                    }
                    TypeRef::Table(t) => {
                        m.tables.push(table_type(&t));
                        m.imported_tables += 1;
                        ExternType::Table(table_type(&t))
                    }
                    TypeRef::Memory(t) => {
                        m.memories.push(memory_type(&t));
                        m.imported_memories += 1;
                        ExternType::Memory(memory_type(&t))
                    }
                    TypeRef::Global(t) => {
                        m.globals.push(global_type(&t));
                        m.imported_globals += 1;
                        ExternType::Global(global_type(&t))
                    }
                    TypeRef::Tag(_) => unreachable!("validation refuses tags"),
                };
                m.imports.push(Import {
                    module: import.module.to_string(),
                    name: import.name.to_string(),
                    ty,
                });
            }
        }
        Payload::FunctionSection(reader) => {
            for ty in reader {
                m.func_types.push(ty?);
            }
        }
        Payload::TableSection(reader) => {
            for table in reader {
                let table = table?;
                m.tables.push(table_type(&table.ty));
                m.table_inits.push(match table.init {
                    wasmparser::TableInit::RefNull => None,
                    wasmparser::TableInit::Expr(e) => Some(const_expr(&e)?),
                });
            }
        }
        Payload::MemorySection(reader) => {
            for memory in reader {
                m.memories.push(memory_type(&memory?));
            }
        }
        Payload::GlobalSection(reader) => {
            for global in reader {
                let global = global?;
                m.globals.push(global_type(&global.ty));
                m.global_inits.push(const_expr(&global.init_expr)?);
            }
        }
        Payload::ExportSection(reader) => {
            for export in reader {
                let export = export?;
                let kind = match export.kind {
                    ExternalKind::Func | ExternalKind::FuncExact => ExportKind::Func,
                    ExternalKind::Table => ExportKind::Table,
                    ExternalKind::Memory => ExportKind::Memory,
                    ExternalKind::Global => ExportKind::Global,
                    ExternalKind::Tag => unreachable!("validation refuses tags"),
                };
                m.exports
                    .push((export.name.to_string(), kind, export.index));
            }
        }
        Payload::StartSection { func, .. } => m.start = Some(func),
        Payload::ElementSection(reader) => {
            for elem in reader {
                let elem = elem?;
                let mode = match elem.kind {
                    ElementKind::Passive => SegmentMode::Passive,
                    ElementKind::Declared => SegmentMode::Declared,
                    ElementKind::Active {
                        table_index,
                        offset_expr,
                    } => SegmentMode::Active {
                        index: table_index.unwrap_or(0),
                        offset: const_expr(&offset_expr)?,
                    },
                };
                let items = match elem.items {
                    ElementItems::Functions(funcs) => funcs
                        .into_iter()
                        .map(|f| Ok(vec![ConstOp::RefFunc(f?)]))
                        .collect::<Result<_, CompileError>>()?,
                    ElementItems::Expressions(_, exprs) => exprs
                        .into_iter()
                        .map(|e| const_expr(&e?))
                        .collect::<Result<_, CompileError>>()?,
                };
                m.elems.push(ElemSegment { mode, items });
            }
        }
        Payload::DataSection(reader) => {
            for data in reader {
                let data = data?;
                let mode = match data.kind {
                    wasmparser::DataKind::Passive => SegmentMode::Passive,
                    wasmparser::DataKind::Active {
                        memory_index,
                        offset_expr,
                    } => SegmentMode::Active {
                        index: memory_index,
                        offset: const_expr(&offset_expr)?,
                    },
                };
                m.datas.push(DataSegment {
                    mode,
                    bytes: data.data.to_vec(),
                });
            }
        }
        Payload::CustomSection(reader) => {
            // A broken name section must not make a valid module unusable: names are
            // only for humans, so read what can be read and ignore the rest.
            if let KnownCustom::Name(names) = reader.as_known() {
                for name in names.into_iter().flatten() {
                    if let Name::Function(map) = name {
                        for naming in map.into_iter().flatten() {
                            m.func_names.insert(naming.index, naming.name.to_string());
                        }
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn const_expr(expr: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr, CompileError> {
    let mut ops = Vec::new();
    let mut reader = expr.get_operators_reader();
    while !reader.eof() {
        ops.push(match reader.read()? {
            Operator::I32Const { value } => ConstOp::I32(value as u32),
            Operator::I64Const { value } => ConstOp::I64(value as u64),
            Operator::F32Const { value } => ConstOp::F32(value.bits()),
            Operator::F64Const { value } => ConstOp::F64(value.bits()),
            Operator::V128Const { value } => ConstOp::V128(u128::from_le_bytes(*value.bytes())),
            Operator::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            Operator::RefNull { hty } => {
                let ty = wasmparser::RefType::new(true, hty).expect("validated heap type");
                ConstOp::RefNull(ValType::from_wasm(wasmparser::ValType::Ref(ty)))
            }
            Operator::RefFunc { function_index } => ConstOp::RefFunc(function_index),
            Operator::I32Add => ConstOp::I32Add,
            Operator::I32Sub => ConstOp::I32Sub,
            Operator::I32Mul => ConstOp::I32Mul,
            Operator::I64Add => ConstOp::I64Add,
            Operator::I64Sub => ConstOp::I64Sub,
            Operator::I64Mul => ConstOp::I64Mul,
            Operator::End => continue,
            other => {
                return Err(CompileError {
                    offset: reader.original_position() as usize,
                    message: format!("unsupported constant instruction {other:?}"),
                });
            }
        });
    }
    Ok(ops)
}
