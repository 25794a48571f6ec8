//! Restore latency on the fast tier, cold and warm. Each program is checkpointed after
//! its k-th WASI call, then restored 6 times; printed per program:
//!
//! - module load: cold (empty cache: instrument + compile), warm (best of 6: hash the
//!   original, read the prepared-module entry, map the compiled code), what hashing
//!   the original alone costs, and warm as `tern restore` loads it (best of 6: the
//!   file's identity from the cache's file memo, `ModuleCache::identify_module`, then
//!   `FastModule::from_file`, which does not read the file);
//! - clone generation (`instrumented_continuations`, best of 3) and clone compile
//!   (Cranelift, once);
//! - restore → first resumed instruction (from the start of `FastInstance::restore`,
//!   module loaded, to the call of the top clone): the first restore (clones compiled)
//!   and the best of the 5 others (compiled clones from the cache).
//!
//! `cargo run --profile test -p tern-fast --example restore_latency [-- NAME…]` where
//! NAME is `compute`, `std_guest` (the default two) or `cc1` (GCC's `cc1`, 24 MB, from
//! `target/realworld-cache`: its cold load compiles for a minute or more; set
//! `TERN_LATENCY_CACHE=DIR` to keep the cache between runs).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tern_fast::{FastEngine, FastInstance, FastModule, ModuleCache, Outcome};
use tern_snapshot::{ModuleIdentity, TriggerInfo, trigger_kind};
use tern_wasi::{InputPipe, OutputPipe, WasiCtx, WasiCtxBuilder, WasiState};

type Error = Box<dyn std::error::Error>;

struct Program {
    name: &'static str,
    /// Relative to the repository.
    wasm: &'static str,
    args: &'static [&'static str],
    /// Files created in the preopened `/data` first.
    files: &'static [(&'static str, &'static str)],
    /// The checkpoint is requested when this WASI call returns.
    wasi_call: u64,
}

const PROGRAMS: [Program; 3] = [
    Program {
        name: "compute",
        wasm: "tests/guests/ckpt/compute.wasm",
        args: &["compute", "200", "6"],
        files: &[],
        wasi_call: 3,
    },
    Program {
        name: "std_guest",
        wasm: "tests/guests/rust/std_guest.wasm",
        args: &["std_guest", "a", "b"],
        files: &[],
        wasi_call: 3,
    },
    Program {
        name: "cc1",
        wasm: "target/realworld-cache/cc1.wasm",
        args: &[
            "cc1",
            "-quiet",
            "-mmcu=avr5",
            "-O2",
            "/data/t.c",
            "-o",
            "/data/t.s",
        ],
        files: &[(
            "t.c",
            "int add(int a, int b) { return a + b * 3; }\nint table[4] = {1, 2, 3, 4};\n",
        )],
        wasi_call: 12,
    },
];

fn context(program: &Program, dir: &Path, state: Option<&WasiState>) -> Result<WasiCtx, Error> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdin_pipe(InputPipe::from_bytes(b"one two three\n".to_vec()))
        .stdout_pipe(OutputPipe::new())
        .stderr_pipe(OutputPipe::new())
        .preopened_dir(dir, "/data");
    Ok(match state {
        Some(state) => builder.rebuild(state)?,
        None => builder.args(program.args.iter().copied()).build()?,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The best of `n` timings of `f`.
fn best<T>(n: usize, mut f: impl FnMut() -> Result<T, Error>) -> Result<Duration, Error> {
    let mut best = Duration::MAX;
    for _ in 0..n {
        let started = Instant::now();
        f()?;
        best = best.min(started.elapsed());
    }
    Ok(best)
}

fn main() -> Result<(), Error> {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    let root = std::env::temp_dir().join(format!("tern-restore-latency-{}", std::process::id()));
    // `TERN_LATENCY_CACHE=DIR` keeps the cache in DIR (not removed): a second run skips
    // the cold compile of a large program (its "load cold" is then a warm load).
    let kept = std::env::var_os("TERN_LATENCY_CACHE").map(PathBuf::from);
    let cache = kept.unwrap_or_else(|| root.join("cache"));
    let engine = FastEngine::with_cache(Some(ModuleCache::at(cache)))?;
    println!(
        "| module | size (MB) | frames | memory (MB) | load cold (s) | load warm (ms) | \
         hash original (ms) | load warm, file memo (ms) | clones generated (ms) | clones module (KB) | clones compiled (ms) | \
         restore → first clone, clones compiled (ms) | … clones cached (ms) |"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for program in &PROGRAMS {
        let default = ["compute", "std_guest"].contains(&program.name);
        if !(wanted.iter().any(|w| w == program.name) || wanted.is_empty() && default) {
            continue;
        }
        let path: PathBuf = repo.join(program.wasm);
        let Ok(wasm) = std::fs::read(&path) else {
            eprintln!("{}: not found, skipped", path.display());
            continue;
        };
        let data = root.join(program.name);
        std::fs::create_dir_all(&data)?;
        for (name, content) in program.files {
            std::fs::write(data.join(name), content)?;
        }
        let started = Instant::now();
        let module = FastModule::new(&engine, &wasm)?;
        let cold = started.elapsed();
        let wasi = context(program, &data, None)?;
        let mut instance = FastInstance::new(&module, Arc::new(Mutex::new(wasi)))?;
        instance.checkpoint_after_wasi_calls(program.wasi_call);
        if !matches!(instance.invoke("_start", &[]), Ok(Outcome::Unwound)) {
            return Err(format!("{}: no checkpoint", program.name).into());
        }
        let snapshot = instance.capture(TriggerInfo::now(trigger_kind::MANUAL, "latency"))?;
        drop(instance);
        drop(module);
        let state: WasiState = serde_json::from_slice(snapshot.wasi.as_deref().unwrap_or(b"null"))?;
        let frames = &snapshot.state.frames;
        let hash = best(3, || Ok(ModuleIdentity::of(&wasm)))?;
        let mut clones = Vec::new();
        let generate = best(3, || {
            clones = tern_instrument::instrumented_continuations(&wasm, frames)?.module;
            Ok(())
        })?;
        let compile = best(1, || Ok(wasmtime::Module::new(engine.wasmtime(), &clones)?))?;
        let cache = engine.cache().ok_or("no cache")?;
        // The first read memoizes the file's identity (the file is old enough).
        cache.read_module(&path)?;
        let by_file = best(6, || {
            let identity = cache.identify_module(&path).ok_or("no file memo")?;
            Ok(FastModule::from_file(
                &engine, &path, identity, None, false,
            )?)
        })?;
        let (mut load, mut first, mut cached) = (Duration::MAX, None, Duration::MAX);
        for _ in 0..6 {
            let started = Instant::now();
            let warm = FastModule::new(&engine, &wasm)?;
            load = load.min(started.elapsed());
            if !warm.cache_hit() {
                return Err(format!("{}: the warm load missed the cache", program.name).into());
            }
            let wasi = context(program, &data, Some(&state))?;
            let mut restored = FastInstance::restore(&warm, &snapshot, Arc::new(Mutex::new(wasi)))?;
            let _ = restored.resume();
            if let Some(timing) = restored.restore_timing() {
                match first {
                    None => first = Some(timing.to_first_clone),
                    Some(_) => cached = cached.min(timing.to_first_clone),
                }
            }
        }
        let memory: u64 = snapshot
            .state
            .memories
            .iter()
            .map(|m| u64::from(m.pages))
            .sum();
        println!(
            "| {} | {:.2} | {} | {:.1} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {:.0} | {:.1} | {:.2} |",
            path.file_name().unwrap_or_default().to_string_lossy(),
            wasm.len() as f64 / 1e6,
            frames.len(),
            memory as f64 * 65536.0 / 1e6,
            cold.as_secs_f64(),
            ms(load),
            ms(hash),
            ms(by_file),
            ms(generate),
            clones.len() / 1024,
            ms(compile),
            ms(first.unwrap_or_default()),
            ms(cached)
        );
    }
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}
