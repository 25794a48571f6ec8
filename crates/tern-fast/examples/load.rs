//! Time to get a runnable module: instrument + compile (cold cache), then instrument +
//! cache hit (what a restore pays before copying memory).
//!
//! `cargo run -p tern-fast --example load -- MODULE.wasm...`

use std::time::Instant;
use tern_fast::{FastEngine, FastModule, ModuleCache};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cache_root = std::env::temp_dir().join(format!("tern-load-{}", std::process::id()));
    let engine = FastEngine::with_cache(Some(ModuleCache::at(&cache_root)))?;
    println!(
        "| module | size (MB) | cold: instrument + compile (s) | warm: instrument + cache hit (s) |"
    );
    println!("| --- | ---: | ---: | ---: |");
    for path in std::env::args().skip(1) {
        let wasm = std::fs::read(&path)?;
        let started = Instant::now();
        let cold = FastModule::new(&engine, &wasm)?;
        let cold_time = started.elapsed();
        let started = Instant::now();
        let warm = FastModule::new(&engine, &wasm)?;
        let warm_time = started.elapsed();
        assert!(!cold.cache_hit() && warm.cache_hit());
        let name = std::path::Path::new(&path)
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        println!(
            "| {name} | {:.1} | {:.2} | {:.3} |",
            wasm.len() as f64 / 1e6,
            cold_time.as_secs_f64(),
            warm_time.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&cache_root);
    Ok(())
}
