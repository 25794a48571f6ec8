//! Everything a running WASI program has in its host, as plain data.
//!
//! A [`WasiState`] is what a snapshot stores (DESIGN.md §5). It holds no host handles:
//! [`crate::WasiCtx::rebuild`] turns it back into open files, directories and sockets.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The complete WASI-side state of one program.
///
/// File descriptors are allocated lowest-free-first (like POSIX), which is a pure function
/// of `fds`, so no separate free list is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WasiState {
    /// `argv`, including the program name.
    pub args: Vec<String>,
    /// Environment, in the order the program sees it.
    pub env: Vec<(String, String)>,
    /// The preopened directories, by index; descriptors name them by that index.
    pub preopens: Vec<PreopenState>,
    /// The descriptor table.
    pub fds: BTreeMap<u32, DescriptorState>,
    /// The monotonic clock's reading when the state was taken, in nanoseconds. A rebuilt
    /// context continues from here, so the guest never sees time go backwards (the time
    /// spent between capture and rebuild is not counted).
    pub monotonic_ns: u64,
    /// Set once the program called `proc_exit`.
    pub exit_status: Option<i32>,
    /// A `poll_oneoff` that was interrupted while it waited, with its absolute deadlines,
    /// so the re-issued identical call waits only for what remains.
    pub pending_poll: Option<PendingPoll>,
}

/// One preopened directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreopenState {
    /// The name the guest sees (`fd_prestat_dir_name`), e.g. `/data` or `.`.
    pub guest_path: String,
    /// The host directory it was mapped to when the state was taken. A rebuild may map the
    /// guest path elsewhere; this is the default.
    pub host_path: String,
}

/// One open descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescriptorState {
    pub kind: DescriptorKind,
    /// `fdflags`: append, dsync, nonblock, rsync, sync.
    pub fdflags: u16,
    pub rights_base: u64,
    pub rights_inheriting: u64,
}

/// What a descriptor refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DescriptorKind {
    /// Standard input, output or error of the host (or the embedder's pipes).
    Stdio(StdioStream),
    File(FileState),
    Dir(DirState),
    Socket(SocketState),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StdioStream {
    Stdin,
    Stdout,
    Stderr,
}

/// Where a file or directory is: a path relative to one preopen. The path is the one the
/// guest used (joined onto the directory it was opened under), so reopening it from the
/// preopen finds the same object again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Index into [`WasiState::preopens`].
    pub preopen: u32,
    /// Relative to the preopen; empty for the preopen itself.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    pub location: Location,
    /// The `oflags` of the `path_open` that created the descriptor. Kept for the record:
    /// a rebuild never re-applies `creat`, `excl` or `trunc`.
    pub oflags: u16,
    pub read: bool,
    pub write: bool,
    /// The file offset. tern keeps it itself (all host I/O is positional), so it is
    /// always exact.
    pub offset: u64,
    /// What the file looked like when the state was taken, so a rebuild can refuse a file
    /// that changed since (see [`FileIdentity`]). Only [`crate::WasiCtx::state`] fills it
    /// in, and only for regular files; `None` (also: a snapshot written before tern
    /// recorded it) means the file is reopened unchecked.
    #[serde(default)]
    pub identity: Option<FileIdentity>,
}

/// Enough of a regular file to tell, at restore, that it is no longer the file the
/// program had open at the checkpoint: replaced, rewritten, truncated or appended to.
///
/// Device and inode numbers are deliberately absent: a restore may run on another
/// machine, where the same file has other numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch. Compared only for files
    /// larger than the fingerprint covers (see [`Self::fingerprint`]).
    pub mtime_ns: u64,
    /// Lowercase hex SHA-256 of the size (`u64`, little-endian), the first 64 KiB and the
    /// last 64 KiB of the file (the two ranges never overlap: a file of up to 128 KiB is
    /// hashed whole, each byte once). `None` when the file could not be read at the
    /// checkpoint (e.g. a write-only file without read permission).
    pub fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirState {
    pub location: Location,
    /// Whether this descriptor is the preopen itself (it answers `fd_prestat_get`).
    pub is_preopen: bool,
    /// The cookie that continues the last `fd_readdir` (entries are listed in name order,
    /// so a cookie means the same position after a rebuild).
    pub readdir_cookie: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketState {
    pub role: SocketRole,
    /// Local address, e.g. `127.0.0.1:8080`.
    pub local_addr: String,
    /// The peer of a connected socket.
    pub peer_addr: Option<String>,
    /// False for a connection that did not survive a rebuild: it reads end-of-stream and
    /// writes fail with `EPIPE`, exactly as if the peer had gone away.
    pub connected: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SocketRole {
    /// A preopened listener (`--tcplisten`); a rebuild binds its address again.
    Listening,
    /// A connection accepted from a listener.
    Accepted,
}

/// An interrupted `poll_oneoff`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPoll {
    /// The raw subscriptions, 48 bytes each: a call with exactly these bytes is the
    /// re-issue of the interrupted one.
    pub subscriptions: Vec<u8>,
    /// For each subscription, its absolute monotonic deadline in nanoseconds (relative
    /// clock subscriptions only).
    pub deadlines: Vec<Option<u64>>,
}
