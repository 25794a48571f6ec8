//! Execution tracing for tern's interpreter.
//!
//! A [`Tracer`] runs a program one instruction at a time — through the interpreter's
//! exact instruction budget, so the interpreter loop carries no tracing code and costs
//! nothing more when no one traces — and writes one JSON line per selected instruction
//! with the parts of the state asked for. `docs/tracing.md` describes the lines.
//!
//! This is a crate of its own rather than a module of `tern-interp` so that the engine
//! (which also builds for `wasm32-wasip1`) stays free of JSON and of the per-function
//! instruction decoding a tracer needs.
//!
//! ```
//! use tern_interp::{Config, Linker, Module, Store};
//! use tern_trace::{TraceOptions, Tracer};
//!
//! let wasm = wat::parse_str(r#"(module (func (export "f") (result i32)
//!     (i32.add (i32.const 2) (i32.const 3))))"#).unwrap();
//! let config = Config::default();
//! let module = Module::new(&config, &wasm).unwrap();
//! let mut store = Store::new(&config);
//! let instance = Linker::new().instantiate(&mut store, &module).unwrap();
//!
//! let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
//! let mut tracer = Tracer::new(TraceOptions::default(), Box::new(Shared(out.clone())), 0);
//! tracer.run(&mut store, |s| s.invoke(instance, "f", &[])).unwrap();
//! let text = String::from_utf8(out.borrow().clone()).unwrap();
//! assert_eq!(text.lines().count(), 4);
//! assert!(text.starts_with(r#"{"n":0,"event":"other","op":"i32.const","func":0,"pc":"#));
//! # struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
//! # impl std::io::Write for Shared {
//! #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.borrow_mut().write(b) }
//! #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! # }
//! ```

mod json;
mod ops;
mod options;
mod tracer;

pub use json::value;
pub use options::{EventKind, OptionError, Resource, Set, TraceOptions};
pub use tracer::{TAIL_LEN, Tracer};
