//! tern-instrument: the Wasm → Wasm pass of tern's fast tier (DESIGN.md §4).
//!
//! [`instrument`] rewrites a module so that any engine can stop it at a safepoint and
//! hand its call stack to the host as canonical [`tern_snapshot::Frame`]s — function
//! index and byte-offset pc of the *original* module, typed locals and operand stack.
//! The normal path costs at most one load and one predictable branch per loop
//! iteration, function entry and call; everything else lives in cold code.
//!
//! What the pass adds (the host ABI, also in `docs/fast-tier.md`):
//!
//! * imports, in front of all others: `tern.frame (param i32 i32)`, then
//!   `tern.save_i32`, `save_i64`, `save_f32`, `save_f64`, `save_v128`, `save_funcref`,
//!   `save_externref` (each `(param t)`), then the memory `tern.flags` (1 page). So
//!   original function `f` is function `f + 8`, original memory `m` is memory `m + 1`.
//! * a *safepoint poll* at every loop header, and at the entry of every function from
//!   whose entry a call that is not bounded can be reached without passing a loop
//!   header (the call-graph pre-pass in `bounded.rs` says which calls are bounded):
//!   `if (i32.load (i32.const 0)) <cold path> end`, where the word at byte 0 of the flag
//!   memory is the checkpoint request;
//! * a *post-call check* after every `call` and `call_indirect` whose callee can unwind
//!   (all but direct calls of functions with no loop and no call that could unwind):
//!   `if (i32.load offset=4 (i32.const 0)) <cold path> end`, where the word at byte 4 is
//!   non-zero while the stack unwinds. The `if` takes the operand stack as parameters
//!   and gives it back, so the normal path moves nothing.
//! * the *cold path*: stores the frame's numeric values into the frame buffer (bytes
//!   16.. of `tern.flags`, one slot per value fixed by the value types), passes the
//!   visible operand stack and any references as arguments, and calls one *cold
//!   helper* (appended after all functions, shared by sites with the same value types),
//!   which loads the stored values back and calls
//!   `tern.frame(original function, site id)`, then one `save_*` per value in reverse
//!   canonical order (operand stack top first, then locals last first; dead locals as
//!   zero), then — at a poll — sets the unwinding word; the cold path then returns
//!   zeros. Callers see the unwinding word and report themselves the same way.
//!
//! The [`InstrumentMap`] says, per site id, the original pc and the types, and
//! [`FrameCollector`] turns the reports into frames.
//!
//! Restore goes the other way without any rewind code in the normal path: [`clone`]
//! generates, for saved frames, *continuation clones* — functions of a small second
//! module that start exactly at each frame's pc ([`continuations`],
//! [`instrumented_continuations`]) — and drives them top frame first.
//!
//! ```
//! let wasm = wat::parse_str(r#"
//!     (module (func (export "count") (param i32) (result i32)
//!       (loop (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
//!       (local.get 0)))
//! "#).unwrap();
//! let out = tern_instrument::instrument(&wasm).unwrap();
//! // One poll at the loop header; no entry poll: the function makes no call.
//! assert_eq!(out.map.sites.len(), 1);
//! assert_eq!(out.map.funcs[0].original_index, 0);
//! wasmparser::validate(&out.module).unwrap();
//! ```

mod abi;
mod bounded;
pub mod clone;
mod cold;
mod collect;
mod count;
mod error;
mod liveness;
mod map;
mod module;
mod rewrite;
mod shift;
mod types;

pub use abi::{
    ADDED_FUNCS, FLAGS_MEMORY, FRAME, MODULE, REQUEST_OFFSET, UNWINDING_OFFSET, ValKind,
};
pub use clone::{Continuations, continuations, export_for_clones, instrumented_continuations};
pub use collect::{CollectError, FrameCollector};
pub use error::Error;
pub use map::{FuncInfo, InstrumentMap, Site, SiteKind};
pub use module::{Instrumented, Options, instrument, instrument_with, supported_features};
