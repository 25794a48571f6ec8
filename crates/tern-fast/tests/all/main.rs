//! tern-fast integration tests: the WASI guests and the benchmark workloads on the fast
//! tier, compared with the interpreter; checkpoints taken on the fast tier and resumed on
//! the interpreter, compared with uninterrupted runs.

mod abi;
mod bench;
mod cache_entries;
mod checkpoint;
mod funcrefs;
mod guests;
mod linked;
mod realworld;
mod restore;
mod share;
mod support;
mod tables;
