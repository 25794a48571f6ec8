//! The cost of being checkpointable on real WASI programs (`bench/programs`, the default
//! sizes of `bench/run.py`), separated into its two possible sources:
//!
//! * **config**: the original module on tern's wasmtime configuration (threads and shared
//!   memory enabled, needed by the flag memory) against wasmtime's default configuration;
//! * **instrumentation**: tern-fast, armed but never triggered, against the original
//!   module on tern's configuration.
//!
//! `cargo run --release -p tern-fast --example overhead_programs [REPEATS] [PROGRAM...]`
//!
//! The three runs of one program are interleaved, REPEATS times (default 5), with the
//! order rotated; every run's checksum line must equal `checksums.json`. The table shows
//! medians and the ratios of medians; `tern/default` is the figure (tern-fast
//! against stock wasmtime). Guest code is compiled by Cranelift at run time, so the host
//! build profile only changes compile times, which are not measured.
//!
//! `--dump DIR` (first argument) also writes each program's instrumented module and the
//! compiled code of both modules (`.cwasm`, an ELF file `objdump -d` reads) into DIR.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tern_fast::{FastEngine, FastInstance, FastModule, Outcome, RunError};
use tern_wasi::{OutputPipe, OutputSink, WasiCtxBuilder, WasmtimeHooks, add_to_wasmtime_linker};

#[path = "common/programs.rs"]
mod programs;
use programs::PROGRAMS;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The store data of a plain run: WASI with no checkpoint support.
struct Plain;
impl WasmtimeHooks for Plain {}

fn main() -> Res<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let dump = if args.first().is_some_and(|a| a == "--dump") {
        args.remove(0);
        Some(PathBuf::from(args.remove(0)))
    } else {
        None
    };
    let repeats: usize = match args.first().map(|a| a.parse()) {
        Some(Ok(r)) => {
            args.remove(0);
            r
        }
        _ => 5,
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/programs");
    let sums: BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(root.join("checksums.json"))?)?;
    let fast_engine = FastEngine::with_cache(None)?;
    let mut default_config = wasmtime::Config::new();
    default_config.strategy(wasmtime::Strategy::Cranelift);
    let default_engine = wasmtime::Engine::new(&default_config)?;

    println!(
        "| program | n | default (s) | tern config (s) | tern-fast (s) | config/default | \
         tern/config | tern/default |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut logs = [Vec::new(), Vec::new(), Vec::new()];
    for &(name, n) in PROGRAMS {
        if !args.is_empty() && !args.iter().any(|a| a == name) {
            continue;
        }
        let want = sums
            .get(&format!("{name}:{n}"))
            .ok_or_else(|| format!("{name}: no checksum for n = {n}"))?
            .clone();
        let bytes = std::fs::read(root.join(format!("{name}.wasm")))?;
        let on_default = wasmtime::Module::new(&default_engine, &bytes)?;
        let on_config = wasmtime::Module::new(fast_engine.wasmtime(), &bytes)?;
        let fast = FastModule::new(&fast_engine, &bytes)?;
        if let Some(dir) = &dump {
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join(format!("{name}.tern.wasm")), fast.instrumented()?)?;
            let compiled = wasmtime::Module::new(fast_engine.wasmtime(), fast.instrumented()?)?;
            std::fs::write(
                dir.join(format!("{name}.tern.cwasm")),
                compiled.serialize()?,
            )?;
            std::fs::write(
                dir.join(format!("{name}.plain.cwasm")),
                on_config.serialize()?,
            )?;
        }
        let mut times = [Vec::new(), Vec::new(), Vec::new()];
        for rep in 0..repeats {
            for k in 0..3 {
                let which = (rep + k) % 3;
                let (t, out) = match which {
                    0 => run_plain(&default_engine, &on_default, name, n)?,
                    1 => run_plain(fast_engine.wasmtime(), &on_config, name, n)?,
                    _ => run_fast(&fast, name, n)?,
                };
                check(name, &out, &want)?;
                times[which].push(t);
            }
        }
        let m = times.map(median);
        let ratios = [m[1] / m[0], m[2] / m[1], m[2] / m[0]];
        for (log, r) in logs.iter_mut().zip(ratios) {
            log.push(r.ln());
        }
        println!(
            "| {name} | {n} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            m[0], m[1], m[2], ratios[0], ratios[1], ratios[2]
        );
    }
    if !logs[0].is_empty() {
        let g = logs.map(|l| (l.iter().sum::<f64>() / l.len() as f64).exp());
        println!(
            "| geometric mean | | | | | {:.3} | {:.3} | {:.3} |",
            g[0], g[1], g[2]
        );
    }
    Ok(())
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64()
}

fn check(name: &str, out: &str, want: &str) -> Res<()> {
    let got = out
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("checksum "))
        .ok_or_else(|| format!("{name}: no checksum line in its output"))?;
    if got.trim() == want {
        Ok(())
    } else {
        Err(format!("{name}: checksum {got}, expected {want}").into())
    }
}

fn wasi(name: &str, n: u64) -> Res<(Arc<Mutex<tern_wasi::WasiCtx>>, OutputPipe)> {
    let pipe = OutputPipe::new();
    let ctx = WasiCtxBuilder::new()
        .args([name.to_string(), n.to_string()])
        .stdout(OutputSink::Pipe(pipe.clone()))
        .build()?;
    Ok((Arc::new(Mutex::new(ctx)), pipe))
}

/// Whether a run ended well: returned, or `proc_exit(0)`.
fn exited_ok(result: Result<(), wasmtime::Error>) -> Res<()> {
    match result {
        Ok(()) => Ok(()),
        Err(e) => match e.downcast_ref::<tern_wasi::WasiExit>() {
            Some(tern_wasi::WasiExit::Exit(0)) => Ok(()),
            _ => Err(format!("plain run failed: {e}").into()),
        },
    }
}

fn run_plain(
    engine: &wasmtime::Engine,
    module: &wasmtime::Module,
    name: &str,
    n: u64,
) -> Res<(Duration, String)> {
    let (ctx, pipe) = wasi(name, n)?;
    let mut linker = wasmtime::Linker::new(engine);
    add_to_wasmtime_linker(&mut linker, ctx)?;
    let mut store = wasmtime::Store::new(engine, Plain);
    let instance = linker.instantiate(&mut store, module)?;
    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
    let started = Instant::now();
    let result = start.call(&mut store, ());
    let elapsed = started.elapsed();
    exited_ok(result)?;
    Ok((elapsed, pipe.contents_string()))
}

fn run_fast(module: &FastModule, name: &str, n: u64) -> Res<(Duration, String)> {
    let (ctx, pipe) = wasi(name, n)?;
    let mut instance = FastInstance::new(module, ctx)?;
    // Armed: a handle exists and could fire; it never does.
    let _handle = instance.checkpoint_handle();
    let started = Instant::now();
    let result = instance.invoke("_start", &[]);
    let elapsed = started.elapsed();
    match result {
        Ok(Outcome::Finished(_)) | Err(RunError::Exit(0)) => {}
        Ok(Outcome::Unwound) => return Err(format!("{name}: unwound without a request").into()),
        Err(e) => return Err(format!("{name}: {e}").into()),
    }
    Ok((elapsed, pipe.contents_string()))
}
