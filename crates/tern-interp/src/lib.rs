//! tern's interpreter: a WebAssembly engine whose whole execution state is plain data.
//!
//! Modules are validated and translated once into compact internal code. Running code can
//! pause at any instruction boundary — when an interrupt flag is set (checked at loops
//! and calls) or when an instruction budget runs out — and the paused store can hand out
//! its complete state in the canonical, engine-independent form of [`tern_snapshot`],
//! and resume from such a state in another store.
//!
//! ```
//! use tern_interp::{Config, Linker, Module, Outcome, Store, Value};
//!
//! let wasm = wat::parse_str(r#"
//!     (module (func (export "sum") (param i32) (result i32) (local i32)
//!       (loop (local.set 1 (i32.add (local.get 1) (local.get 0)))
//!             (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
//!       (local.get 1)))
//! "#).unwrap();
//! let config = Config::default();
//! let module = Module::new(&config, &wasm).unwrap();
//! let mut store = Store::new(&config);
//! let instance = Linker::new().instantiate(&mut store, &module).unwrap();
//!
//! // Pause after 25 instructions, move the state into a fresh store, finish there.
//! store.set_instruction_budget(Some(25));
//! assert!(matches!(store.invoke(instance, "sum", &[Value::I32(100)]), Ok(Outcome::Paused(_))));
//! let bytes = tern_snapshot::encode_state(&store.capture());
//! let mut fresh = store.blank_copy();
//! fresh.restore(&tern_snapshot::decode_state(&bytes).unwrap()).unwrap();
//! assert_eq!(fresh.resume(), Ok(Outcome::Finished(vec![Value::I32(5050)])));
//! ```

mod code;
mod config;
mod error;
mod exec;
mod frame_view;
mod fuse;
mod linker;
mod module;
mod numeric;
mod regfold;
mod regforms;
mod shared;
mod simd;
mod state;
mod store;
mod strict;
mod translate;
mod types;

pub use config::Config;
pub use error::{
    BacktraceFrame, CompileError, HostError, InstantiateError, RestoreError, RunError, Trap,
    TrapKind,
};
pub use frame_view::{FrameTypes, FrameView};
pub use linker::Linker;
pub use module::{ExportKind, Module};
pub use shared::{MemoryLocations, RawMemory};
pub use store::{Extern, HostContext, HostFunc, InstanceId, Outcome, PauseReason, Store};
pub use tern_snapshot::Value;
pub use types::{ExternType, FuncType, GlobalType, Limits, MemoryType, TableType, ValType};
pub use wasmparser::WasmFeatures;
