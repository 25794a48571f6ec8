//! Hand-written modules, each exercising one shape the pass must handle; every
//! instruction of their runs is tried as a checkpoint point.

use crate::harness::{Program, no_env};
use tern_interp::Value;

fn every_point(name: &str, wat: &str, export: &str, args: Vec<Value>) {
    let p = Program::new(name, wat::parse_str(wat).unwrap(), export, args, no_env);
    let len = p.instrumented_length();
    let (sites, deepest) = p.check(1..len);
    assert!(!sites.is_empty(), "{name}: no checkpoint taken");
    eprintln!(
        "{name}: {len} points, {} top sites, deepest {deepest}",
        sites.len()
    );
}

#[test]
fn loop_sum() {
    every_point(
        "loop_sum",
        r#"(module (func (export "f") (param i32) (result i32) (local i32)
             (loop (local.set 1 (i32.add (local.get 1) (local.get 0)))
                   (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
             (local.get 1)))"#,
        "f",
        vec![Value::I32(10)],
    );
}
