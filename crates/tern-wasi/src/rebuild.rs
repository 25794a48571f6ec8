//! From plain [`WasiState`] back to live host handles.
//!
//! Descriptors come back under the same numbers, in fd order: files and directories are
//! reopened by their path under their preopen (never re-created or truncated; the offset
//! is part of the state), listeners are bound again, and connections come back closed —
//! a TCP connection cannot move between processes or machines, so the guest sees the
//! peer hang up (reads give end-of-stream, writes `EPIPE`).
//!
//! Before a file is handed back it is compared with the identity the checkpoint recorded
//! (`identity.rs`): a file that was replaced, rewritten, truncated or appended to since
//! fails the rebuild, so no guest code runs on data it has not seen. A state without
//! identities (written before tern recorded them) is reopened unchecked, and
//! [`WasiCtxBuilder::allow_changed_files`] turns the check off.

use crate::abi::fdflags;
use crate::builder::{
    Preopen, SetupError, WasiCtxBuilder, listener_descriptor, preopen_descriptor, stdio_descriptor,
};
use crate::ctx::{Descriptor, DirHandle, Handle, WasiCtx};
use crate::host::{HostDir, OpenSpec, Opened};
use crate::identity;
use crate::state::{DescriptorKind, Location, PreopenState, SocketRole, WasiState};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// The guest-visible path of a location, for messages: `/data` + `a/b` → `/data/a/b`.
pub(crate) fn guest_path(preopens: &[PreopenState], location: &Location) -> String {
    let base = preopens
        .get(location.preopen as usize)
        .map_or("?", |p| p.guest_path.as_str());
    match (base, location.path.as_str()) {
        (base, "") => base.to_string(),
        (base, path) if base.ends_with('/') => format!("{base}{path}"),
        (base, path) => format!("{base}/{path}"),
    }
}

impl WasiCtx {
    /// Rebuilds a context from `state`, mapping each preopen's guest path to a host
    /// directory with `dirs` (`(host, guest)` pairs); a preopen not mapped there is opened
    /// at the host path recorded in the state. Stdio is inherited from the host process.
    /// For captured stdio, other listeners, a shared interrupt flag or accepting files
    /// that changed since the capture, use [`WasiCtxBuilder::rebuild`].
    pub fn rebuild<P: AsRef<Path>>(
        state: &WasiState,
        dirs: &[(P, &str)],
    ) -> Result<WasiCtx, SetupError> {
        let mut builder = WasiCtxBuilder::new();
        builder.inherit_stdio();
        for (host, guest) in dirs {
            builder.preopened_dir(host, *guest);
        }
        builder.rebuild(state)
    }
}

impl WasiCtxBuilder {
    /// Rebuilds a context from `state` with this builder's host resources: its preopened
    /// directories map guest paths to host directories (unmapped preopens use the host
    /// path in the state), its listeners replace the state's listening sockets in fd order
    /// (without any, each listener binds its saved address again), and its stdio and
    /// interrupt flag are used. The builder's args and env are ignored: the program's own
    /// come from the state.
    ///
    /// A file that differs from the identity recorded in the state is an error
    /// ([`SetupError::Changed`]) unless [`Self::allow_changed_files`] was set.
    pub fn rebuild(&mut self, state: &WasiState) -> Result<WasiCtx, SetupError> {
        let mut ctx = self.empty_ctx(state.args.clone(), state.env.clone(), state.monotonic_ns);
        ctx.exit_status = state.exit_status;
        ctx.pending_poll = state.pending_poll.clone();

        let mut mapped: Vec<(String, PathBuf)> = Vec::new();
        let mut listeners: Vec<TcpListener> = Vec::new();
        for preopen in std::mem::take(&mut self.preopens) {
            match preopen {
                Preopen::Dir { host, guest } => mapped.push((guest, host)),
                Preopen::Listener(listener) => listeners.push(listener),
            }
        }
        let mut listeners = listeners.into_iter();
        ctx.preopens = state
            .preopens
            .iter()
            .map(|p| PreopenState {
                guest_path: p.guest_path.clone(),
                host_path: mapped
                    .iter()
                    .find(|(guest, _)| *guest == p.guest_path)
                    .map_or_else(
                        || p.host_path.clone(),
                        |(_, host)| host.display().to_string(),
                    ),
            })
            .collect();

        for (&fd, saved) in &state.fds {
            let desc = match &saved.kind {
                DescriptorKind::Stdio(stream) => Descriptor {
                    state: saved.clone(),
                    handle: stdio_descriptor(*stream).handle,
                },
                DescriptorKind::Dir(dir) => {
                    let root = open_root(&ctx.preopens, &dir.location)?;
                    let handle = if dir.location.path.is_empty() {
                        root
                    } else {
                        let spec = OpenSpec {
                            read: true,
                            follow: true,
                            directory: true,
                            ..OpenSpec::default()
                        };
                        match root.open(&dir.location.path, &spec) {
                            Ok(Opened::Dir(handle)) => handle,
                            Ok(Opened::File(_)) => {
                                return Err(reopen_error(
                                    &ctx,
                                    fd,
                                    &dir.location,
                                    "is no longer a directory",
                                ));
                            }
                            Err(error) => {
                                return Err(SetupError::Reopen {
                                    fd,
                                    guest_path: guest_path(&ctx.preopens, &dir.location),
                                    error,
                                });
                            }
                        }
                    };
                    let mut desc = preopen_descriptor(dir.location.preopen, handle);
                    desc.state = saved.clone();
                    if let Handle::Dir(DirHandle { listing, .. }) = &mut desc.handle {
                        *listing = None;
                    }
                    desc
                }
                DescriptorKind::File(file) => {
                    let root = open_root(&ctx.preopens, &file.location)?;
                    let spec = OpenSpec {
                        read: file.read,
                        write: file.write,
                        follow: true,
                        sync: saved.fdflags & (fdflags::SYNC | fdflags::RSYNC) != 0,
                        dsync: saved.fdflags & fdflags::DSYNC != 0,
                        ..OpenSpec::default()
                    };
                    let handle = match root.open(&file.location.path, &spec) {
                        Ok(Opened::File(handle)) => handle,
                        Ok(Opened::Dir(_)) => {
                            return Err(reopen_error(
                                &ctx,
                                fd,
                                &file.location,
                                "is now a directory",
                            ));
                        }
                        Err(error) => {
                            return Err(SetupError::Reopen {
                                fd,
                                guest_path: guest_path(&ctx.preopens, &file.location),
                                error,
                            });
                        }
                    };
                    if let Some(recorded) = &file.identity
                        && !self.allow_changed_files
                    {
                        identity::verify(recorded, &handle, || {
                            identity::reopen_for_reading(&root, file)
                        })
                        .map_err(|what| SetupError::Changed {
                            fd,
                            guest_path: guest_path(&ctx.preopens, &file.location),
                            host_path: identity::host_path(&ctx.preopens, &file.location),
                            what,
                        })?;
                    }
                    // A live context never carries an identity: it is taken at capture.
                    let mut state = saved.clone();
                    if let DescriptorKind::File(file) = &mut state.kind {
                        file.identity = None;
                    }
                    Descriptor {
                        state,
                        handle: Handle::File(handle),
                    }
                }
                DescriptorKind::Socket(socket) => match socket.role {
                    SocketRole::Listening => {
                        let listener = match listeners.next() {
                            Some(listener) => listener,
                            None => TcpListener::bind(&socket.local_addr).map_err(|error| {
                                SetupError::Listener {
                                    fd,
                                    addr: socket.local_addr.clone(),
                                    error,
                                }
                            })?,
                        };
                        let mut desc = listener_descriptor(fd, listener)?;
                        // Keep the guest's flags and rights; the address may have changed.
                        desc.state = crate::state::DescriptorState {
                            kind: desc.state.kind,
                            ..saved.clone()
                        };
                        desc
                    }
                    SocketRole::Accepted => {
                        let mut state = saved.clone();
                        if let DescriptorKind::Socket(s) = &mut state.kind {
                            s.connected = false;
                        }
                        Descriptor {
                            state,
                            handle: Handle::Disconnected,
                        }
                    }
                },
            };
            ctx.fds.insert(fd, desc);
        }
        Ok(ctx)
    }
}

fn open_root(preopens: &[PreopenState], location: &Location) -> Result<HostDir, SetupError> {
    let preopen = preopens.get(location.preopen as usize).ok_or_else(|| {
        SetupError::Invalid(format!(
            "descriptor refers to preopen {} which does not exist",
            location.preopen
        ))
    })?;
    HostDir::open_ambient(Path::new(&preopen.host_path)).map_err(|error| SetupError::Preopen {
        guest_path: preopen.guest_path.clone(),
        host_path: PathBuf::from(&preopen.host_path),
        error,
    })
}

fn reopen_error(ctx: &WasiCtx, fd: u32, location: &Location, why: &str) -> SetupError {
    SetupError::Reopen {
        fd,
        guest_path: guest_path(&ctx.preopens, location),
        error: std::io::Error::other(why.to_string()),
    }
}

#[cfg(test)]
mod tests;
