//! WASI preview1 (`wasi_snapshot_preview1`) for tern, written once for every engine, with
//! state that is plain data.
//!
//! - **Engine-independent.** The functions see guest memory only as a byte slice
//!   ([`GuestMemory`]); every pointer and length is bounds-checked and a bad one gives
//!   `EFAULT`, never a panic. An engine registers the imports generically from
//!   [`signatures`] and forwards each call to [`WasiCtx::call_func`]; tern-interp's
//!   adapter is `add_to_linker` (feature `interp`), wasmtime's (tern's fast tier)
//!   `add_to_wasmtime_linker` (feature `wasmtime`).
//! - **Sandboxed.** Paths resolve only inside preopened directories (cap-std): `..` above
//!   a directory, absolute paths and symlinks leading outside fail with `EPERM`, the errno
//!   wasmtime gives for the same attempts.
//! - **Capturable.** [`WasiCtx::state`] returns a serde-serializable [`WasiState`] (fd
//!   table, preopens, args, env, clock, exit status); [`WasiCtx::rebuild`] reopens
//!   everything by path under the same descriptor numbers. The monotonic clock continues
//!   from the saved reading. Each open file's identity (size, time, a sampled
//!   fingerprint) is part of the state, and a rebuild refuses a file that changed since;
//!   a capture refuses a file that was unlinked while open ([`CaptureError`]).
//! - **Interruptible.** Sleeps, reads of stdin and sockets, and accepts wait in slices of
//!   at most 10 ms and return [`WasiExit::Interrupted`] (with nothing consumed) once the
//!   context's interrupt flag is set, so the engine can checkpoint and issue the call
//!   again later. An interrupted sleep remembers its deadline in the state.
//!
//! ```
//! use tern_wasi::{OutputPipe, WasiCtx, WasiCtxBuilder, WasiState};
//!
//! let out = OutputPipe::new();
//! let mut ctx = WasiCtxBuilder::new().arg("hello").stdout_pipe(out.clone()).build().unwrap();
//!
//! // The guest writes "hi\n" to stdout with fd_write: one iovec at 0 → bytes at 16.
//! let mut memory = vec![0u8; 64];
//! memory[0..4].copy_from_slice(&16u32.to_le_bytes());
//! memory[4..8].copy_from_slice(&3u32.to_le_bytes());
//! memory[16..19].copy_from_slice(b"hi\n");
//! let errno = ctx.call(&mut memory, "fd_write", &[1, 0, 1, 32]).unwrap();
//! assert_eq!(errno, 0);
//! assert_eq!(out.contents(), b"hi\n");
//! // A pointer past the end of memory is EFAULT (21).
//! assert_eq!(ctx.call(&mut memory, "fd_write", &[1, 0, 1, 1000]).unwrap(), 21);
//!
//! // The whole context as data, and back.
//! let state: WasiState = ctx.state().unwrap();
//! let rebuilt = WasiCtx::rebuild(&state, &[] as &[(&str, &str)]).unwrap();
//! assert_eq!(rebuilt.state().unwrap().fds, state.fds);
//! ```
//!
//! # Where tern differs from wasmtime, on purpose
//!
//! The guest tests compare every program with wasmtime (49.x); these answers differ:
//! - a bad pointer or length is `EFAULT` and an invalid enum value (whence, clock id,
//!   advice, signal) is `EINVAL`, where wasmtime traps;
//! - `fd_allocate` grows the file (POSIX `posix_fallocate`), `fd_fdstat_set_rights` drops
//!   rights (and refuses to add any, `ENOTCAPABLE`), `proc_raise` traps with the signal's
//!   name (signal 0 succeeds): wasmtime answers `ENOTSUP` to all three;
//! - `fd_fdstat_set_flags` may switch append/non-blocking on stdio too (wasmtime: `EBADF`);
//! - `fd_readdir` lists `.`, `..`, then the entries sorted by name, so that cookies mean
//!   the same position after a rebuild;
//! - the CPU-time clocks read the monotonic clock (wasmtime: `EBADF`);
//! - rights are enforced (e.g. `fd_tell` needs `FD_TELL`); reading a descriptor not
//!   opened for reading is `EBADF` like in wasmtime.
//!
//! `path_link` ignores `SYMLINK_FOLLOW` (links the symlink itself), as wasmtime does.
//!
//! # The self-hosted `wasm32-wasip1` build
//!
//! cap-std does not build there on stable Rust, so paths are confined by tern's own
//! component walker (`host::walk`: same rules, not race-free against the host swapping
//! directories for symlinks). There is no readiness polling: blocking reads and accepts
//! block in the outer runtime and cannot be interrupted. Inode numbers read as 0, times of
//! symlinks themselves cannot be set, and sockets can only be ones the outer runtime
//! preopened. The unit tests run there too:
//! `CARGO_TARGET_WASM32_WASIP1_RUNNER="wasmtime run --dir /tmp/x::/tmp" cargo test -p
//! tern-wasi --lib --target wasm32-wasip1`.

mod abi;
mod builder;
mod clock;
mod ctx;
mod errno;
mod fd;
mod func;
mod handover;
mod host;
mod identity;
#[cfg(feature = "interp")]
mod interp;
mod io;
mod memory;
mod path;
mod pipe;
mod poll;
mod proc;
mod rebuild;
mod sock;
mod state;
#[cfg(test)]
mod testutil;
#[cfg(feature = "wasmtime")]
mod wasmtime_link;

pub use builder::{RebuildError, SetupError, WasiCtxBuilder};
pub use ctx::{OutputSink, StdinSource, WasiCtx, WasiExit};
pub use errno::Errno;
pub use func::{Func, MODULE, ValKind, signatures};
pub use identity::{CaptureError, CaptureErrorKind};
#[cfg(feature = "interp")]
pub use interp::add_to_linker;
pub use memory::GuestMemory;
pub use pipe::{InputPipe, OutputPipe};
pub use state::{
    DescriptorKind, DescriptorState, DirState, FileIdentity, FileState, Location, PendingPoll,
    PreopenState, SocketRole, SocketState, StdioStream, WasiState,
};
#[cfg(feature = "wasmtime")]
pub use wasmtime_link::{WasmtimeHooks, add_to_wasmtime_linker};
