//! Guest programs (C and Rust, built for wasm32-wasip1, committed under `tests/guests`)
//! run on tern-interp through `tern_wasi::add_to_linker`, with captured stdio in temp
//! dirs; outputs, files and exit codes are checked, and compared with wasmtime's when the
//! wasmtime CLI is installed.

#[path = "guests/support.rs"]
mod support;

#[path = "guests/checkpoint.rs"]
mod checkpoint;
#[path = "guests/programs.rs"]
mod programs;
#[path = "guests/realworld.rs"]
mod realworld;
