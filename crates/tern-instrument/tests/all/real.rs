//! The benchmark workloads of the repository: real C compiled by clang.

use crate::harness::{Program, no_env, sample};
use tern_interp::Value;

pub fn workload(name: &str, arg: Value) -> Program {
    let path = format!(
        "{}/../../bench/workloads/{name}.wasm",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Program::new(name, bytes, "run", vec![arg], no_env)
}

fn check_sampled(p: &Program, count: usize) {
    let len = p.instrumented_length();
    let (sites, deepest) = p.check(sample(len, count, 0x7e57 ^ len));
    assert!(!sites.is_empty(), "{}: no checkpoint taken", p.name);
    eprintln!(
        "{}: {len} instructions, {} top sites, deepest stack {deepest}",
        p.name,
        sites.len()
    );
}

#[test]
fn fib() {
    check_sampled(&workload("fib", Value::I32(12)), 60);
}

#[test]
fn calls() {
    check_sampled(&workload("calls", Value::I32(3)), 40);
}

#[test]
fn mandelbrot() {
    check_sampled(&workload("mandelbrot", Value::I32(2)), 40);
}

#[test]
fn matmul() {
    check_sampled(&workload("matmul", Value::I32(2)), 40);
}

#[test]
fn nbody() {
    check_sampled(&workload("nbody", Value::I32(2)), 40);
}

#[test]
fn sha256() {
    check_sampled(&workload("sha256", Value::I32(2)), 40);
}

#[test]
fn sieve() {
    check_sampled(&workload("sieve", Value::I32(2)), 40);
}

#[test]
fn sort() {
    check_sampled(&workload("sort", Value::I32(2)), 40);
}

/// Every WASI guest of the repository instruments into a valid module whose map covers
/// every defined function (they are run through WASI by tern-fast's tests, phase 2).
#[test]
fn wasi_guests_instrument_and_validate() {
    let root = format!("{}/../../tests/guests", env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for dir in ["c", "ckpt", "rust"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "wasm") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let out = tern_instrument::instrument(&bytes)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            wasmparser::Validator::new_with_features(tern_instrument::supported_features())
                .validate_all(&out.module)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!out.map.sites.is_empty());
            count += 1;
        }
    }
    assert!(count >= 10, "found {count} guests");
}
