//! Enables threaded execution (`cfg(tern_threaded)`, see `src/exec/threaded/mod.rs`)
//! where its handlers' tail calls become jumps: optimized builds for x86-64 and
//! AArch64. Unoptimized builds would grow the machine stack by a frame per executed
//! instruction, and wasm32 has no tail calls without a proposal we do not rely on.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tern_threaded)");
    println!("cargo::rerun-if-changed=build.rs");
    let optimized = std::env::var("OPT_LEVEL").is_ok_and(|level| level != "0");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if optimized && (arch == "x86_64" || arch == "aarch64") {
        println!("cargo::rustc-cfg=tern_threaded");
    }
}
