//! Building a [`WasiCtx`]: args, env, stdio, preopened directories and listeners.

use crate::abi::rights;
use crate::ctx::{Clock, Descriptor, DirHandle, Handle, OutputSink, StdinSource, Stdio, WasiCtx};
use crate::host::HostDir;
use crate::pipe::{InputPipe, OutputPipe};
use crate::sock::addr_string;
use crate::state::{
    DescriptorKind, DescriptorState, DirState, Location, PreopenState, SocketRole, SocketState,
    StdioStream,
};
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// One preopened resource, in the order it was added.
#[derive(Debug)]
pub(crate) enum Preopen {
    Dir { host: PathBuf, guest: String },
    Listener(TcpListener),
}

/// Configures and creates a [`WasiCtx`] (or rebuilds one from a [`crate::WasiState`]).
///
/// ```
/// use tern_wasi::{OutputPipe, WasiCtxBuilder};
/// let out = OutputPipe::new();
/// let dir = std::env::temp_dir();
/// let ctx = WasiCtxBuilder::new()
///     .args(["prog", "--flag"])
///     .env("KEY", "value")
///     .preopened_dir(&dir, "/tmp")
///     .stdout_pipe(out.clone())
///     .build()
///     .unwrap();
/// assert_eq!(ctx.state().unwrap().fds.len(), 4); // stdin, stdout, stderr, /tmp
/// ```
#[derive(Debug, Default)]
pub struct WasiCtxBuilder {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) preopens: Vec<Preopen>,
    pub(crate) stdio: Stdio,
    pub(crate) interrupt: Option<Arc<AtomicBool>>,
    pub(crate) allow_changed_files: bool,
}

impl WasiCtxBuilder {
    /// No args, no env, no preopens; stdin empty, stdout and stderr discarded.
    pub fn new() -> WasiCtxBuilder {
        WasiCtxBuilder::default()
    }

    /// Appends one argument (the first is the program name).
    pub fn arg(&mut self, arg: impl Into<String>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<S: Into<String>>(&mut self, args: impl IntoIterator<Item = S>) -> &mut Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Maps host directory `host` to guest path `guest` (e.g. `/data` or `.`).
    pub fn preopened_dir(&mut self, host: impl AsRef<Path>, guest: impl Into<String>) -> &mut Self {
        self.preopens.push(Preopen::Dir {
            host: host.as_ref().to_path_buf(),
            guest: guest.into(),
        });
        self
    }

    /// Hands the guest a listening TCP socket with no path, like wasmtime's `--tcplisten`.
    /// Listeners get the descriptor numbers after all preopened directories (fd 3 when
    /// there are none), in the order they were added.
    pub fn preopened_listener(&mut self, listener: TcpListener) -> &mut Self {
        self.preopens.push(Preopen::Listener(listener));
        self
    }

    /// Binds `addr` and preopens the listener (see [`Self::preopened_listener`]).
    pub fn tcp_listen(&mut self, addr: impl ToSocketAddrs) -> io::Result<&mut Self> {
        let listener = TcpListener::bind(addr)?;
        Ok(self.preopened_listener(listener))
    }

    pub fn stdin(&mut self, source: StdinSource) -> &mut Self {
        self.stdio.stdin = source;
        self
    }

    pub fn stdout(&mut self, sink: OutputSink) -> &mut Self {
        self.stdio.stdout = sink;
        self
    }

    pub fn stderr(&mut self, sink: OutputSink) -> &mut Self {
        self.stdio.stderr = sink;
        self
    }

    pub fn stdin_pipe(&mut self, pipe: InputPipe) -> &mut Self {
        self.stdin(StdinSource::Pipe(pipe))
    }

    pub fn stdout_pipe(&mut self, pipe: OutputPipe) -> &mut Self {
        self.stdout(OutputSink::Pipe(pipe))
    }

    pub fn stderr_pipe(&mut self, pipe: OutputPipe) -> &mut Self {
        self.stderr(OutputSink::Pipe(pipe))
    }

    /// The host process's stdin, stdout and stderr.
    pub fn inherit_stdio(&mut self) -> &mut Self {
        self.stdin(StdinSource::Inherit)
            .stdout(OutputSink::Inherit)
            .stderr(OutputSink::Inherit)
    }

    /// Shares the flag that interrupts blocking calls (see [`WasiCtx::interrupt_flag`]).
    pub fn interrupt_flag(&mut self, flag: Arc<AtomicBool>) -> &mut Self {
        self.interrupt = Some(flag);
        self
    }

    /// Lets [`Self::rebuild`] reopen files that changed since the checkpoint (default:
    /// `false`). Normally a rebuild compares every file the program had open with the
    /// identity recorded in the state and fails with [`SetupError::Changed`] when it
    /// differs, because the program would go on with data it has not seen. Allow it when
    /// the change is known to be harmless, e.g. a log that something else appended to.
    pub fn allow_changed_files(&mut self, allow: bool) -> &mut Self {
        self.allow_changed_files = allow;
        self
    }

    /// Opens the preopens and creates the context. The builder's listeners move into it.
    pub fn build(&mut self) -> Result<WasiCtx, SetupError> {
        let mut ctx = self.empty_ctx(self.args.clone(), self.env.clone(), 0);
        for (fd, stream) in [StdioStream::Stdin, StdioStream::Stdout, StdioStream::Stderr]
            .into_iter()
            .enumerate()
        {
            ctx.fds.insert(fd as u32, stdio_descriptor(stream));
        }
        // Directories first: wasi-libc looks for preopened directories from fd 3 up and
        // stops at the first descriptor that is not one, so a listener in between would
        // hide the directories after it.
        let mut preopens = std::mem::take(&mut self.preopens);
        preopens.sort_by_key(|p| matches!(p, Preopen::Listener(_)));
        for preopen in preopens {
            let fd = ctx
                .lowest_free_fd()
                .map_err(|_| SetupError::Invalid("too many preopens".into()))?;
            let desc = match preopen {
                Preopen::Dir { host, guest } => {
                    let dir =
                        HostDir::open_ambient(&host).map_err(|error| SetupError::Preopen {
                            guest_path: guest.clone(),
                            host_path: host.clone(),
                            error,
                        })?;
                    ctx.preopens.push(PreopenState {
                        guest_path: guest,
                        host_path: host.display().to_string(),
                    });
                    preopen_descriptor(ctx.preopens.len() as u32 - 1, dir)
                }
                Preopen::Listener(listener) => listener_descriptor(fd, listener)?,
            };
            ctx.fds.insert(fd, desc);
        }
        Ok(ctx)
    }

    /// A context with this builder's stdio and interrupt flag and no descriptors.
    pub(crate) fn empty_ctx(
        &self,
        args: Vec<String>,
        env: Vec<(String, String)>,
        monotonic_ns: u64,
    ) -> WasiCtx {
        WasiCtx {
            args,
            env,
            preopens: Vec::new(),
            fds: BTreeMap::new(),
            stdio: self.stdio.clone(),
            clock: Clock::starting_at(monotonic_ns),
            exit_status: None,
            pending_poll: None,
            interrupt: self.interrupt.clone().unwrap_or_default(),
        }
    }
}

pub(crate) fn stdio_descriptor(stream: StdioStream) -> Descriptor {
    let base = match stream {
        StdioStream::Stdin => rights::FD_READ,
        StdioStream::Stdout | StdioStream::Stderr => rights::FD_WRITE,
    };
    Descriptor {
        state: DescriptorState {
            kind: DescriptorKind::Stdio(stream),
            fdflags: 0,
            rights_base: base | rights::POLL_FD_READWRITE | rights::FD_FDSTAT_SET_FLAGS,
            rights_inheriting: 0,
        },
        handle: Handle::Stdio,
    }
}

pub(crate) fn preopen_descriptor(index: u32, dir: HostDir) -> Descriptor {
    Descriptor {
        state: DescriptorState {
            kind: DescriptorKind::Dir(DirState {
                location: Location {
                    preopen: index,
                    path: String::new(),
                },
                is_preopen: true,
                readdir_cookie: 0,
            }),
            fdflags: 0,
            rights_base: rights::DIR,
            rights_inheriting: rights::DIR_INHERITING,
        },
        handle: Handle::Dir(DirHandle { dir, listing: None }),
    }
}

pub(crate) fn listener_descriptor(
    fd: u32,
    listener: TcpListener,
) -> Result<Descriptor, SetupError> {
    let local_addr = addr_string(listener.local_addr());
    listener
        .set_nonblocking(true)
        .map_err(|error| SetupError::Listener {
            fd,
            addr: local_addr.clone(),
            error,
        })?;
    Ok(Descriptor {
        state: DescriptorState {
            kind: DescriptorKind::Socket(SocketState {
                role: SocketRole::Listening,
                local_addr,
                peer_addr: None,
                connected: false,
            }),
            fdflags: 0,
            rights_base: rights::LISTENER,
            rights_inheriting: rights::SOCKET,
        },
        handle: Handle::Listener(listener),
    })
}

/// Why a context could not be built or rebuilt.
#[derive(Debug)]
pub enum SetupError {
    /// A preopened directory could not be opened on the host.
    Preopen {
        guest_path: String,
        host_path: PathBuf,
        error: io::Error,
    },
    /// A file or directory open in the saved state could not be opened again.
    Reopen {
        fd: u32,
        guest_path: String,
        error: io::Error,
    },
    /// A file open in the saved state is not the file it was at the checkpoint (see
    /// [`WasiCtxBuilder::allow_changed_files`]).
    Changed {
        fd: u32,
        guest_path: String,
        host_path: PathBuf,
        /// What differs, e.g. `size 1200 bytes, snapshot recorded 4096`.
        what: String,
    },
    /// A listening socket could not be set up (or bound again).
    Listener {
        fd: u32,
        addr: String,
        error: io::Error,
    },
    /// The saved state is inconsistent.
    Invalid(String),
}

/// The error of [`WasiCtx::rebuild`].
pub type RebuildError = SetupError;

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Preopen {
                guest_path,
                host_path,
                error,
            } => write!(
                f,
                "cannot open host directory {} (preopened as {guest_path}): {error}",
                host_path.display()
            ),
            SetupError::Reopen {
                fd,
                guest_path,
                error,
            } => write!(f, "cannot reopen fd {fd} ({guest_path}): {error}"),
            SetupError::Changed {
                fd,
                guest_path,
                host_path,
                what,
            } => write!(
                f,
                "fd {fd} ({guest_path} → {}): file changed since the checkpoint: {what}",
                host_path.display()
            ),
            SetupError::Listener { fd, addr, error } => {
                write!(f, "cannot listen on {addr} for fd {fd}: {error}")
            }
            SetupError::Invalid(message) => write!(f, "invalid WASI state: {message}"),
        }
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SetupError::Preopen { error, .. }
            | SetupError::Reopen { error, .. }
            | SetupError::Listener { error, .. } => Some(error),
            SetupError::Changed { .. } | SetupError::Invalid(_) => None,
        }
    }
}
