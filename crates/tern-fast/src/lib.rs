//! tern-fast: tern's fast tier (DESIGN.md §4). A module is instrumented by
//! `tern-instrument`, compiled by wasmtime (Cranelift) and run with `tern-wasi`; when a
//! checkpoint is requested it unwinds into the host at the next safepoint, which writes
//! the same canonical snapshot the interpreter writes, so `tern restore` resumes it.
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
//! Restore happens on the interpreter for now; restoring on the fast tier needs the
//! continuation clones of DESIGN.md §4. See `docs/fast-tier.md`.

mod cache;
mod calls;
mod capture;
mod engine;
mod error;
mod flags;
mod handle;
mod host;
mod instance;
mod prepare;

pub use cache::ModuleCache;
pub use engine::{FastEngine, FastModule};
pub use error::Error;
pub use handle::CheckpointHandle;
pub use instance::{FastInstance, Outcome, RunError};
