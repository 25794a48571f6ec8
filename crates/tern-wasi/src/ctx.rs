//! The live WASI context: plain state plus the host handles that back it.

use crate::errno::Errno;
use crate::host::{Entry, HostDir};
use crate::identity::CaptureError;
use crate::pipe::{InputPipe, OutputPipe};
use crate::state::{DescriptorKind, DescriptorState, PendingPoll, PreopenState, WasiState};
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Longest a blocking call waits before it looks at the interrupt flag again.
pub(crate) const SLICE: Duration = Duration::from_millis(10);

/// Largest buffer one read allocates on the host; bigger requests get short reads, which
/// every caller of `read` must handle anyway.
pub(crate) const MAX_IO: usize = 16 << 20;

/// How a WASI call ended other than by returning an errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WasiExit {
    /// `proc_exit` with this status: unwind the whole program.
    Exit(i32),
    /// The program must trap with this message (e.g. `proc_raise`).
    Trap(String),
    /// A blocking call (sleep, read of stdin or a socket, accept) saw the interrupt flag.
    /// Nothing was consumed or changed: the engine may checkpoint and issue the same call
    /// again later.
    Interrupted,
}

impl std::fmt::Display for WasiExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WasiExit::Exit(code) => write!(f, "program exited with status {code}"),
            WasiExit::Trap(message) => write!(f, "{message}"),
            WasiExit::Interrupted => f.write_str("blocking call interrupted"),
        }
    }
}

impl std::error::Error for WasiExit {}

/// Where the guest's stdin comes from.
#[derive(Debug, Clone, Default)]
pub enum StdinSource {
    /// Reads return end-of-file at once.
    #[default]
    Null,
    /// The host process's stdin.
    Inherit,
    /// An in-memory pipe the embedder fills.
    Pipe(InputPipe),
}

/// Where the guest's stdout or stderr goes.
#[derive(Debug, Clone, Default)]
pub enum OutputSink {
    /// Discarded.
    #[default]
    Null,
    /// The host process's stdout (or stderr, for the guest's stderr).
    Inherit,
    /// Collected in memory.
    Pipe(OutputPipe),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Stdio {
    pub stdin: StdinSource,
    pub stdout: OutputSink,
    pub stderr: OutputSink,
}

/// The monotonic clock: host time since `base` plus the reading carried over from before
/// a rebuild.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    base: Instant,
    offset_ns: u64,
}

impl Clock {
    pub fn starting_at(offset_ns: u64) -> Clock {
        Clock {
            base: Instant::now(),
            offset_ns,
        }
    }

    pub fn now(&self) -> u64 {
        let elapsed = self.base.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
        self.offset_ns.saturating_add(elapsed)
    }
}

/// A directory descriptor's host handle, with the listing `fd_readdir` is paging through.
#[derive(Debug)]
pub(crate) struct DirHandle {
    pub dir: HostDir,
    pub listing: Option<Vec<Entry>>,
}

/// The host object behind a descriptor.
#[derive(Debug)]
pub(crate) enum Handle {
    /// Which stream is in the descriptor's state.
    Stdio,
    File(File),
    Dir(DirHandle),
    /// Host socket in non-blocking mode; guest blocking is emulated in slices.
    Listener(TcpListener),
    Stream(TcpStream),
    /// A connection that did not survive a rebuild.
    Disconnected,
}

#[derive(Debug)]
pub(crate) struct Descriptor {
    pub state: DescriptorState,
    pub handle: Handle,
}

/// A WASI preview1 instance: the program's descriptors, args, env and clocks.
///
/// Build one with [`crate::WasiCtxBuilder`], run calls through [`WasiCtx::call`] (or an
/// engine adapter such as `add_to_linker`), capture it with [`WasiCtx::state`] and bring it
/// back with [`WasiCtx::rebuild`].
#[derive(Debug)]
pub struct WasiCtx {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) preopens: Vec<PreopenState>,
    pub(crate) fds: BTreeMap<u32, Descriptor>,
    pub(crate) stdio: Stdio,
    pub(crate) clock: Clock,
    pub(crate) exit_status: Option<i32>,
    pub(crate) pending_poll: Option<PendingPoll>,
    pub(crate) interrupt: Arc<AtomicBool>,
}

/// Why a call failed: an errno for the guest, or something the engine must handle.
#[derive(Debug)]
pub(crate) enum Fail {
    Errno(Errno),
    Exit(WasiExit),
}

impl From<Errno> for Fail {
    fn from(e: Errno) -> Fail {
        Fail::Errno(e)
    }
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Fail {
        Fail::Errno(e.into())
    }
}

impl From<WasiExit> for Fail {
    fn from(e: WasiExit) -> Fail {
        Fail::Exit(e)
    }
}

pub(crate) type CallResult<T = ()> = Result<T, Fail>;

impl WasiCtx {
    /// The state as plain data, ready to serialize.
    ///
    /// Every open regular file is examined (never changed): its identity (size,
    /// modification time, a fingerprint of at most 128 KiB of it) goes into the state so
    /// that a rebuild can refuse a file that changed since. A file the restore could not
    /// reopen by its path — unlinked while open, or its path now leading elsewhere — makes
    /// the capture fail with a [`CaptureError`] naming the descriptor.
    pub fn state(&self) -> Result<WasiState, CaptureError> {
        let mut fds = BTreeMap::new();
        for (&fd, desc) in &self.fds {
            let mut state = desc.state.clone();
            if let (DescriptorKind::File(file), Handle::File(host)) =
                (&mut state.kind, &desc.handle)
            {
                file.identity = self.capture_identity(fd, file, host)?;
            }
            fds.insert(fd, state);
        }
        Ok(WasiState {
            args: self.args.clone(),
            env: self.env.clone(),
            preopens: self.preopens.clone(),
            fds,
            monotonic_ns: self.clock.now(),
            exit_status: self.exit_status,
            pending_poll: self.pending_poll.clone(),
        })
    }

    /// The flag that makes blocking calls give way with [`WasiExit::Interrupted`]. Set it
    /// from any thread; it is never cleared here (the engine clears it when it pauses).
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.interrupt.clone()
    }

    /// Shares an engine's interrupt flag, e.g. `Store::interrupt_handle()` of tern-interp,
    /// so one request pauses both the Wasm code and a blocked WASI call.
    pub fn set_interrupt_flag(&mut self, flag: Arc<AtomicBool>) {
        self.interrupt = flag;
    }

    /// The status passed to `proc_exit`, once the program has called it.
    pub fn exit_status(&self) -> Option<i32> {
        self.exit_status
    }

    /// The guest paths of the preopened directories, in preopen order.
    pub fn preopen_paths(&self) -> impl Iterator<Item = &str> {
        self.preopens.iter().map(|p| p.guest_path.as_str())
    }

    pub(crate) fn interrupted(&self) -> bool {
        self.interrupt.load(Ordering::Relaxed)
    }

    pub(crate) fn desc(&self, fd: u32) -> Result<&Descriptor, Errno> {
        self.fds.get(&fd).ok_or(Errno::BADF)
    }

    pub(crate) fn desc_mut(&mut self, fd: u32) -> Result<&mut Descriptor, Errno> {
        self.fds.get_mut(&fd).ok_or(Errno::BADF)
    }

    /// The lowest unused descriptor number (POSIX rule; deterministic, so a rebuilt
    /// context allocates exactly like the original would have).
    pub(crate) fn lowest_free_fd(&self) -> Result<u32, Errno> {
        let mut candidate = 0u32;
        for &fd in self.fds.keys() {
            if fd != candidate {
                break;
            }
            candidate = candidate.checked_add(1).ok_or(Errno::MFILE)?;
        }
        if candidate > i32::MAX as u32 {
            return Err(Errno::MFILE);
        }
        Ok(candidate)
    }

    pub(crate) fn insert(&mut self, state: DescriptorState, handle: Handle) -> Result<u32, Errno> {
        let fd = self.lowest_free_fd()?;
        self.fds.insert(fd, Descriptor { state, handle });
        Ok(fd)
    }
}

impl Descriptor {
    /// Fails with `ENOTCAPABLE` unless the descriptor has all of `rights`.
    pub fn require(&self, rights: u64) -> Result<(), Errno> {
        if self.state.rights_base & rights == rights {
            Ok(())
        } else {
            Err(Errno::NOTCAPABLE)
        }
    }

    pub fn fdflags(&self) -> u16 {
        self.state.fdflags
    }

    pub fn kind(&self) -> &DescriptorKind {
        &self.state.kind
    }
}

/// Runs `attempt` until it produces a value or the interrupt flag is seen
/// (`WasiExit::Interrupted`). The first attempt gets a zero timeout, so ready data is
/// taken before the flag is looked at; later attempts may block for at most [`SLICE`].
pub(crate) fn block_on<T>(
    interrupt: &AtomicBool,
    mut attempt: impl FnMut(Duration) -> CallResult<Option<T>>,
) -> CallResult<T> {
    let mut timeout = Duration::ZERO;
    loop {
        if let Some(value) = attempt(timeout)? {
            return Ok(value);
        }
        if interrupt.load(Ordering::Relaxed) {
            return Err(WasiExit::Interrupted.into());
        }
        timeout = SLICE;
    }
}
