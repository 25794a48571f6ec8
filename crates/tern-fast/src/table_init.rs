//! What instantiation leaves in each table: the functions the module's active element
//! segments put there. A restore writes only the snapshot's elements that differ from
//! it — for a large program thousands of `table.set`s (each with a name lookup for the
//! function) become none when the program never changed its table. Found once, when
//! the module is prepared, and kept in its facts (`Facts::instantiated_tables`, stored
//! in the prepared cache entry), so a warm restore does not read the module for them.

use crate::prepare::{InstantiatedTables, sections_but_code};
use wasmparser::{ElementItems, ElementKind, Operator, Payload, TableInit, TypeRef};

/// Tables larger than this are not predicted (a restore writes them whole).
const MAX_PREDICTED: u64 = 1 << 24;

/// Per table of `wasm` (imports first): the function (original index) or null at each
/// element right after instantiation — elements past the end are null — or `None` when
/// that cannot be known from the module alone: an imported table, a table with an
/// initializer expression or not of `funcref`s, a segment with a non-constant offset or
/// an element expression other than `ref.func` / `ref.null`.
pub(crate) fn instantiated_tables(wasm: &[u8]) -> InstantiatedTables {
    let mut tables = Vec::new();
    for payload in sections_but_code(wasm) {
        let Ok(payload) = payload else {
            // Not predicted at all: the caller writes every element.
            return Vec::new();
        };
        match payload {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports().flatten() {
                    if matches!(import.ty, TypeRef::Table(_)) {
                        tables.push(None);
                    }
                }
            }
            Payload::TableSection(reader) => {
                for table in reader.into_iter().flatten() {
                    let known = matches!(table.init, TableInit::RefNull)
                        && table.ty.element_type.is_func_ref();
                    tables.push(known.then(Vec::new));
                }
            }
            Payload::ElementSection(reader) => {
                for elem in reader {
                    let Ok(elem) = elem else {
                        return Vec::new();
                    };
                    let ElementKind::Active {
                        table_index,
                        offset_expr,
                    } = elem.kind
                    else {
                        continue;
                    };
                    let index = table_index.unwrap_or(0) as usize;
                    let Some(slot) = tables.get_mut(index) else {
                        return Vec::new();
                    };
                    let written = constant(&offset_expr).zip(items(&elem.items));
                    match (slot.as_mut(), written) {
                        (Some(table), Some((offset, funcs))) => {
                            let end = offset.saturating_add(funcs.len() as u64);
                            if end > MAX_PREDICTED {
                                *slot = None;
                                continue;
                            }
                            if table.len() < end as usize {
                                table.resize(end as usize, None);
                            }
                            table[offset as usize..end as usize].copy_from_slice(&funcs);
                        }
                        _ => *slot = None,
                    }
                }
            }
            _ => {}
        }
    }
    tables
}

/// The value of a constant offset expression (`i32.const` or `i64.const`).
pub(crate) fn constant(expr: &wasmparser::ConstExpr<'_>) -> Option<u64> {
    let mut ops = expr.get_operators_reader();
    let value = match ops.read().ok()? {
        Operator::I32Const { value } => u64::from(value as u32),
        Operator::I64Const { value } => value as u64,
        _ => return None,
    };
    matches!(ops.read().ok()?, Operator::End).then_some(value)
}

/// The functions (or nulls) a segment writes, if every item is a function index,
/// `ref.func` or `ref.null`.
fn items(items: &ElementItems<'_>) -> Option<Vec<Option<u32>>> {
    match items {
        ElementItems::Functions(funcs) => funcs
            .clone()
            .into_iter()
            .map(|f| f.ok().map(Some))
            .collect(),
        ElementItems::Expressions(_, exprs) => exprs
            .clone()
            .into_iter()
            .map(|expr| {
                let mut ops = expr.ok()?.get_operators_reader();
                let item = match ops.read().ok()? {
                    Operator::RefFunc { function_index } => Some(function_index),
                    Operator::RefNull { .. } => None,
                    _ => return None,
                };
                matches!(ops.read().ok()?, Operator::End).then_some(item)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(wat: &str) -> Vec<Option<Vec<Option<u32>>>> {
        instantiated_tables(&wat::parse_str(wat).unwrap())
    }

    #[test]
    fn active_segments_are_predicted_in_order() {
        let got = tables(
            r#"(module
                 (import "env" "t" (table 1 funcref))
                 (table $a 8 funcref) (table $b 2 externref) (table $c 4 funcref)
                 (func $f0) (func $f1) (func $f2)
                 (elem (table $a) (i32.const 1) func $f0 $f1)
                 (elem (table $a) (i32.const 2) funcref (ref.func $f2) (ref.null func))
                 (elem (table $c) (offset global.get 0) func $f0)
                 (elem declare func $f1)
                 (elem func $f2)
                 (global i32 (i32.const 0)))"#,
        );
        assert_eq!(
            got,
            [None, Some(vec![None, Some(0), Some(2), None]), None, None]
        );
    }

    #[test]
    fn a_table_with_an_initializer_is_not_predicted() {
        let got = tables(r#"(module (func $f) (table 2 funcref (ref.func $f)) (table 2 funcref))"#);
        assert_eq!(got, [None, Some(vec![])]);
    }
}
