//! Canonical, engine-independent snapshots of running WebAssembly programs.
//!
//! A snapshot holds only what the WebAssembly spec defines — memories, tables, globals,
//! segment state and the call stack as typed Wasm values — so any tern engine, on any
//! machine, can produce and resume it. This crate knows nothing about engines.
//!
//! ```
//! use tern_snapshot::{ExecState, Frame, Value};
//!
//! let state = ExecState {
//!     globals: vec![Value::I32(7)],
//!     frames: vec![Frame { instance: 0, func: 1, pc: 42, locals: vec![], stack: vec![] }],
//!     ..ExecState::default()
//! };
//! let bytes = tern_snapshot::encode_state(&state);
//! assert_eq!(tern_snapshot::decode_state(&bytes).unwrap(), state);
//! ```

mod bytes;
mod codec;
mod compress;
mod encode;
mod error;
mod file;
mod file_read;
#[cfg(test)]
mod file_read_tests;
mod format;
mod huge_pages;
mod identity;
mod layout;
mod memory_read;
mod memory_stream;
mod memory_write;
mod snapshot;
mod state;
#[cfg(test)]
mod testutil;
mod threads;
mod trace;
mod trigger;
mod view;
#[cfg(test)]
mod view_tests;

pub use codec::{DecodeError, decode_state, encode_state};
pub use error::SnapshotError;
pub use file::{
    read_snapshot_bytes, read_snapshot_file, write_snapshot_bytes, write_snapshot_file,
    write_snapshot_file_with_memories, write_snapshot_file_with_trace,
};
pub use file_read::SnapshotFile;
pub use format::{FormatVersion, MAGIC};
pub use huge_pages::advise_huge_pages;
pub use identity::ModuleIdentity;
pub use layout::{SnapshotSizes, section_sizes};
pub use snapshot::{
    Snapshot, decode_snapshot, encode_snapshot, encode_snapshot_with_memories,
    encode_snapshot_with_trace,
};
pub use state::{ExecState, Frame, InstanceImage, MemoryImage, TableImage, Value, WASM_PAGE};
pub use trace::{TraceTail, trace_tail};
pub use trigger::{TriggerInfo, trigger_kind};
pub use view::SnapshotView;
