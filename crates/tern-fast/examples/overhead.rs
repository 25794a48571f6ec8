//! The cost of being checkpointable: each benchmark workload (`bench/workloads`, the
//! large `n` of `checksums.json`) on tern-fast, armed but never triggered, against plain
//! wasmtime running the original module with the same engine and configuration.
//!
//! `cargo run -p tern-fast --example overhead [REPEATS] [WORKLOAD...]`
//!
//! Prints the best of REPEATS (default 3) runs per side, interleaved, and the ratio.
//! Guest code is compiled by Cranelift at run time, so the host build profile does not
//! change these times (only compile times, which are not measured).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tern_fast::{FastEngine, FastInstance, FastModule, Outcome};
use tern_snapshot::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let repeats: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    let only: Vec<String> = args.collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/workloads");
    let sums: BTreeMap<String, i64> =
        serde_json::from_str(&std::fs::read_to_string(root.join("checksums.json"))?)?;
    // The largest n of each workload.
    let mut runs: BTreeMap<String, (i32, i64)> = BTreeMap::new();
    for (key, sum) in sums {
        let (name, n) = key.split_once(':').ok_or("bad checksum key")?;
        let n: i32 = n.parse()?;
        if runs.get(name).is_none_or(|(m, _)| n > *m) {
            runs.insert(name.to_string(), (n, sum));
        }
    }
    let engine = FastEngine::with_cache(None)?;
    println!("| workload | n | wasmtime (s) | tern-fast armed (s) | ratio |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut logs = Vec::new();
    for (name, (n, sum)) in runs {
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        let bytes = std::fs::read(root.join(format!("{name}.wasm")))?;
        let plain = wasmtime::Module::new(engine.wasmtime(), &bytes)?;
        let fast = FastModule::new(&engine, &bytes)?;
        // `TERN_OVERHEAD_DUMP=DIR`: the instrumented module and both compiled modules
        // (`.cwasm` is an ELF file `objdump -d` reads), to see what Cranelift made.
        if let Some(dir) = std::env::var_os("TERN_OVERHEAD_DUMP").map(std::path::PathBuf::from) {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join(format!("{name}.tern.wasm")), fast.instrumented()?)?;
            let compiled = wasmtime::Module::new(engine.wasmtime(), fast.instrumented()?)?;
            std::fs::write(
                dir.join(format!("{name}.tern.cwasm")),
                compiled.serialize()?,
            )?;
            std::fs::write(dir.join(format!("{name}.plain.cwasm")), plain.serialize()?)?;
        }
        let (mut best_plain, mut best_fast) = (Duration::MAX, Duration::MAX);
        for _ in 0..repeats {
            let (t, result) = run_plain(&engine, &plain, n)?;
            check(&name, result, sum)?;
            best_plain = best_plain.min(t);
            let (t, result) = run_fast(&fast, n)?;
            check(&name, result, sum)?;
            best_fast = best_fast.min(t);
        }
        let ratio = best_fast.as_secs_f64() / best_plain.as_secs_f64();
        logs.push(ratio.ln());
        println!(
            "| {name} | {n} | {:.3} | {:.3} | {ratio:.3} |",
            best_plain.as_secs_f64(),
            best_fast.as_secs_f64()
        );
    }
    if !logs.is_empty() {
        let geomean = (logs.iter().sum::<f64>() / logs.len() as f64).exp();
        println!("| geometric mean | | | | {geomean:.3} |");
    }
    Ok(())
}

fn check(name: &str, result: i64, sum: i64) -> Result<(), Box<dyn std::error::Error>> {
    if result == sum {
        Ok(())
    } else {
        Err(format!("{name}: checksum {result}, expected {sum}").into())
    }
}

fn run_plain(
    engine: &FastEngine,
    module: &wasmtime::Module,
    n: i32,
) -> Result<(Duration, i64), Box<dyn std::error::Error>> {
    let mut store = wasmtime::Store::new(engine.wasmtime(), ());
    let instance = wasmtime::Linker::new(engine.wasmtime()).instantiate(&mut store, module)?;
    let run = instance.get_typed_func::<i32, i64>(&mut store, "run")?;
    let started = Instant::now();
    let result = run.call(&mut store, n)?;
    Ok((started.elapsed(), result))
}

fn run_fast(module: &FastModule, n: i32) -> Result<(Duration, i64), Box<dyn std::error::Error>> {
    let wasi = Arc::new(Mutex::new(tern_wasi::WasiCtxBuilder::new().build()?));
    let mut instance = FastInstance::new(module, wasi)?;
    // Armed: a handle exists and could fire; it never does.
    let _handle = instance.checkpoint_handle();
    let started = Instant::now();
    let outcome = instance.invoke("run", &[Value::I32(n as u32)])?;
    let elapsed = started.elapsed();
    match outcome {
        Outcome::Finished(results) => match results.first() {
            Some(Value::I64(x)) => Ok((elapsed, *x as i64)),
            other => Err(format!("unexpected result {other:?}").into()),
        },
        Outcome::Unwound => Err("unwound without a request".into()),
    }
}
