//! The benchmark workloads (`bench/workloads/*.wasm`, `run(n)` returning a checksum) on
//! tern-fast: results equal the interpreter's and the recorded checksums, and checkpoints
//! at several moments resume on the interpreter to the same result.

use crate::support::*;
use std::time::{Duration, Instant};
use tern_fast::{FastInstance, Outcome};
use tern_snapshot::{TriggerInfo, Value, trigger_kind};
use tern_wasi::WasiCtxBuilder;

pub const WORKLOADS: [&str; 8] = [
    "calls",
    "fib",
    "mandelbrot",
    "matmul",
    "nbody",
    "sha256",
    "sieve",
    "sort",
];

pub fn workload(name: &str) -> Vec<u8> {
    std::fs::read(repo(&format!("bench/workloads/{name}.wasm"))).unwrap()
}

/// `(small n, large n, checksum)` pairs from `checksums.json`, by workload.
pub fn checksums() -> Vec<(String, i32, i64)> {
    let text = std::fs::read_to_string(repo("bench/workloads/checksums.json")).unwrap();
    let map: std::collections::BTreeMap<String, i64> = serde_json::from_str(&text).unwrap();
    map.into_iter()
        .map(|(key, sum)| {
            let (name, n) = key.split_once(':').unwrap();
            (name.to_string(), n.parse().unwrap(), sum)
        })
        .collect()
}

fn interp_run(bytes: &[u8], n: i32) -> Value {
    let config = tern_interp::Config::default();
    let module = tern_interp::Module::new(&config, bytes).unwrap();
    let mut store = tern_interp::Store::new(&config);
    let instance = tern_interp::Linker::new()
        .instantiate(&mut store, &module)
        .unwrap();
    match store.invoke(instance, "run", &[Value::I32(n as u32)]) {
        Ok(tern_interp::Outcome::Finished(results)) => results[0],
        other => panic!("{other:?}"),
    }
}

#[test]
fn small_runs_equal_the_interpreter_and_the_checksums() {
    let sums = checksums();
    for name in WORKLOADS {
        let bytes = workload(name);
        let (_, n, sum) = sums
            .iter()
            .filter(|(w, ..)| w == name)
            .min_by_key(|(_, n, _)| *n)
            .unwrap();
        let fast = bench_fast(&bytes, *n);
        assert_eq!(fast, interp_run(&bytes, *n), "{name}({n})");
        assert_eq!(fast, Value::I64(*sum as u64), "{name}({n}) checksum");
    }
}

/// n for which tern-fast runs for tens of milliseconds (the interpreter then finishes
/// the rest within a few seconds).
fn medium(name: &str) -> i32 {
    match name {
        "calls" => 400_000,
        "fib" => 27,
        "mandelbrot" => 250,
        "matmul" => 120,
        "nbody" => 40_000,
        "sha256" => 8_000,
        "sieve" => 2_000_000,
        _ => 150_000,
    }
}

#[test]
fn checkpoints_from_another_thread_resume_on_the_interpreter() {
    let mut missed = Vec::new();
    for name in WORKLOADS {
        let bytes = workload(name);
        // Grow n until the run takes 20 ms, so that requests fall inside it.
        let mut n = medium(name);
        let (expected, full) = loop {
            let started = Instant::now();
            let expected = bench_fast(&bytes, n);
            let full = started.elapsed();
            if full >= Duration::from_millis(20) {
                break (expected, full);
            }
            n = if name == "fib" { n + 2 } else { n * 2 };
        };
        let module = fast_module(&bytes);
        let mut taken = 0;
        for fraction in [0.0, 0.3, 0.7] {
            let wasi = std::sync::Arc::new(std::sync::Mutex::new(
                WasiCtxBuilder::new().build().unwrap(),
            ));
            let mut instance = FastInstance::new(&module, wasi).unwrap();
            let handle = instance.checkpoint_handle();
            let delay = full.mul_f64(fraction);
            let waker = std::thread::spawn(move || {
                std::thread::sleep(delay);
                handle.request();
            });
            let requested = Instant::now();
            let outcome = instance.invoke("run", &[Value::I32(n as u32)]).unwrap();
            waker.join().unwrap();
            if outcome != Outcome::Unwound {
                assert_eq!(outcome, Outcome::Finished(vec![expected]));
                continue;
            }
            let unwound = requested.elapsed();
            let snapshot = instance
                .capture(TriggerInfo::now(trigger_kind::MANUAL, ""))
                .unwrap();
            let scratch = TempDir::new("bench");
            let resumed =
                restore_on_interp(&bytes, &snapshot, scratch.path(), WasiCtxBuilder::new());
            assert_eq!(
                resumed,
                Ok(tern_interp::Outcome::Finished(vec![expected])),
                "{name}({n}) at {delay:?}"
            );
            assert!(unwound < delay + Duration::from_secs(1));
            taken += 1;
            eprintln!(
                "{name}({n}): checkpoint at {delay:?} of {full:?}, {} frames",
                snapshot.state.frames.len()
            );
        }
        if taken == 0 {
            missed.push(name);
        }
    }
    assert!(missed.is_empty(), "no checkpoint taken in {missed:?}");
}
