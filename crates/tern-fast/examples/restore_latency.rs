//! Restore latency on the fast tier with a warm compiled-module cache: a guest is
//! checkpointed after its third WASI call, then restored 6 times: the time to get the
//! module (instrument + cache hit, best of 6) and the time from the start of
//! `FastInstance::restore` to the first clone running, for the first restore (its
//! clones module compiled) and the best of the 5 others (clones from the cache).
//!
//! `cargo run --profile test -p tern-fast --example restore_latency`

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tern_fast::{FastEngine, FastInstance, FastModule, ModuleCache, Outcome};
use tern_snapshot::{TriggerInfo, trigger_kind};
use tern_wasi::{InputPipe, OutputPipe, WasiCtx, WasiCtxBuilder, WasiState};

type Error = Box<dyn std::error::Error>;

fn context(
    args: &[&str],
    dir: &std::path::Path,
    state: Option<&WasiState>,
) -> Result<WasiCtx, Error> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdin_pipe(InputPipe::from_bytes(b"one two three\n".to_vec()))
        .stdout_pipe(OutputPipe::new())
        .stderr_pipe(OutputPipe::new())
        .preopened_dir(dir, "/data");
    Ok(match state {
        Some(state) => builder.rebuild(state)?,
        None => builder.args(args.iter().copied()).build()?,
    })
}

fn main() -> Result<(), Error> {
    let root = std::env::temp_dir().join(format!("tern-restore-latency-{}", std::process::id()));
    std::fs::create_dir_all(root.join("data"))?;
    let engine = FastEngine::with_cache(Some(ModuleCache::at(root.join("cache"))))?;
    let guests = [
        (
            "tests/guests/ckpt/compute.wasm",
            &["compute", "200", "6"][..],
        ),
        (
            "tests/guests/rust/std_guest.wasm",
            &["std_guest", "a", "b"][..],
        ),
    ];
    println!(
        "| module | size (KB) | frames | memory (KB) | warm module load (ms) | restore → first clone, clones compiled (ms) | … clones cached (ms) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (rel, args) in guests {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(rel);
        let wasm = std::fs::read(&path)?;
        let module = FastModule::new(&engine, &wasm)?; // fills the cache
        let wasi = context(args, &root.join("data"), None)?;
        let mut instance = FastInstance::new(&module, Arc::new(Mutex::new(wasi)))?;
        instance.checkpoint_after_wasi_calls(3);
        if !matches!(instance.invoke("_start", &[]), Ok(Outcome::Unwound)) {
            return Err(format!("{rel}: no checkpoint").into());
        }
        let snapshot = instance.capture(TriggerInfo::now(trigger_kind::MANUAL, "latency"))?;
        drop(instance);
        let state: WasiState = serde_json::from_slice(snapshot.wasi.as_deref().unwrap_or(b"null"))?;
        let started = Instant::now();
        let conts = tern_instrument::instrumented_continuations(&wasm, &snapshot.state.frames)?;
        let generate = started.elapsed();
        let started = Instant::now();
        wasmtime::Module::new(engine.wasmtime(), &conts.module)?;
        let compile = started.elapsed();
        eprintln!(
            "{rel}: clones generated in {:.1} ms ({} KB), compiled in {:.1} ms",
            generate.as_secs_f64() * 1e3,
            conts.module.len() / 1024,
            compile.as_secs_f64() * 1e3
        );
        let (mut load, mut cold, mut warm_clones) = (Duration::MAX, None, Duration::MAX);
        for _ in 0..6 {
            let started = Instant::now();
            let warm = FastModule::new(&engine, &wasm)?;
            load = load.min(started.elapsed());
            assert!(warm.cache_hit());
            let wasi = context(args, &root.join("data"), Some(&state))?;
            let mut restored = FastInstance::restore(&warm, &snapshot, Arc::new(Mutex::new(wasi)))?;
            let _ = restored.resume();
            if let Some(timing) = restored.restore_timing() {
                match cold {
                    None => cold = Some(timing.to_first_clone),
                    Some(_) => warm_clones = warm_clones.min(timing.to_first_clone),
                }
            }
        }
        println!(
            "| {} | {} | {} | {} | {:.1} | {:.2} | {:.2} |",
            path.file_name().unwrap_or_default().to_string_lossy(),
            wasm.len() / 1024,
            snapshot.state.frames.len(),
            snapshot
                .state
                .memories
                .iter()
                .map(|m| m.pages as usize * 64)
                .sum::<usize>(),
            load.as_secs_f64() * 1e3,
            cold.unwrap_or_default().as_secs_f64() * 1e3,
            warm_clones.as_secs_f64() * 1e3
        );
    }
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}
