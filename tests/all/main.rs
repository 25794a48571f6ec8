//! Integration tests: the `tern` command and the engine through its public API.

mod bench_quick;
mod checkpoint;
mod checkpoint_wasi;
mod cli;
mod engines;
mod malformed;
mod migrate;
mod migrate_concurrent;
mod migrate_listen;
mod pause;
mod restore_files;
mod selfhost;
mod trace;
mod util;
