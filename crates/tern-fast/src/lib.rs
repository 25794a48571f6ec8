//! tern-fast: tern's fast tier (DESIGN.md §4). A module is instrumented by
//! `tern-instrument`, compiled by wasmtime (Cranelift) and run with `tern-wasi`; when a
//! checkpoint is requested it unwinds into the host at the next safepoint, which writes
//! the same canonical snapshot the interpreter writes, so either engine resumes it.
//!
//! ```no_run
//! use std::sync::{Arc, Mutex};
//! use tern_fast::{FastEngine, FastInstance, FastModule, Outcome};
//! use tern_snapshot::{TriggerInfo, trigger_kind};
//!
//! let engine = FastEngine::new()?; // compiled modules are cached on disk
//! let module = FastModule::new(&engine, &std::fs::read("prog.wasm")?)?;
//! let wasi = tern_wasi::WasiCtxBuilder::new().inherit_stdio().build()?;
//! let mut instance = FastInstance::new(&module, Arc::new(Mutex::new(wasi)))?;
//!
//! // From a signal handler, timer or watcher thread:
//! let handle = instance.checkpoint_handle();
//! std::thread::spawn(move || {
//!     std::thread::sleep(std::time::Duration::from_secs(1));
//!     handle.request();
//! });
//!
//! match instance.invoke("_start", &[]) {
//!     Ok(Outcome::Unwound) => {
//!         let trigger = TriggerInfo::now(trigger_kind::INTERVAL, "");
//!         instance.capture_to_file(trigger, "prog.tern".as_ref())?;
//!     }
//!     Ok(Outcome::Finished(_)) => {}
//!     Err(e) => eprintln!("{e}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A snapshot (taken on either engine) restores on the interpreter or here, through the
//! continuation clones of DESIGN.md §4: [`FastInstance::restore`] instantiates the cached
//! main module, writes memories, tables and globals, validates the frames and compiles
//! their clones; [`FastInstance::resume`] runs them and may be checkpointed again:
//!
//! ```no_run
//! # use std::sync::{Arc, Mutex};
//! # use tern_fast::{FastEngine, FastInstance, FastModule, Outcome};
//! # let engine = FastEngine::new()?;
//! # let module = FastModule::new(&engine, &std::fs::read("prog.wasm")?)?;
//! let snapshot = tern_snapshot::read_snapshot_file("prog.tern".as_ref())?;
//! let state = serde_json::from_slice(snapshot.wasi.as_deref().unwrap_or(b"null"))?;
//! let wasi = tern_wasi::WasiCtxBuilder::new().inherit_stdio().rebuild(&state)?;
//! let mut instance = FastInstance::restore(&module, &snapshot, Arc::new(Mutex::new(wasi)))?;
//! match instance.resume() {
//!     Ok(Outcome::Unwound) => { /* checkpointed again: capture as after `invoke` */ }
//!     Ok(Outcome::Finished(_)) => {}
//!     Err(e) => eprintln!("{e}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See `docs/fast-tier.md`.

mod budget;
mod cache;
mod calls;
mod capture;
mod clones;
mod data_init;
mod drops;
mod engine;
mod entries;
mod error;
mod facts_entry;
mod file_identity;
mod flags;
mod handle;
mod host;
mod instance;
mod known;
mod linked;
mod load;
mod original;
mod prepare;
mod restore;
mod resume;
mod share;
mod staged;
mod state;
mod table_init;

pub use cache::ModuleCache;
pub use engine::{FastEngine, FastModule};
pub use error::Error;
pub use handle::CheckpointHandle;
pub use instance::{FastInstance, Outcome, RunError};
pub use linked::{FastStore, LinkedId, SPECTEST};
pub use resume::RestoreTiming;
pub use share::{MemoryLocation, MemoryLocations};
pub use staged::{Finished, StagedInstance};
