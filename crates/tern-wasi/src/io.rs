//! Reading and writing a descriptor, whatever it is: the shared core of `fd_read`,
//! `fd_write`, `sock_recv` and `sock_send`.
//!
//! Files are read and written positionally at the offset tern keeps in the descriptor
//! state. Stdin and sockets may block: they wait in slices and give way to the interrupt
//! flag before consuming anything.

use crate::abi::{fdflags, rights};
use crate::ctx::{CallResult, Handle, MAX_IO, OutputSink, StdinSource, WasiCtx, block_on};
use crate::errno::Errno;
use crate::host::{Readiness, read_at, wait_ready, write_at};
use crate::state::{DescriptorKind, StdioStream};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Largest single socket read.
const MAX_SOCKET_IO: usize = 1 << 20;

/// Runs a would-block `attempt` to completion the way the guest asked: once and `EAGAIN`
/// for a non-blocking descriptor, else until it succeeds (or the interrupt flag is seen).
pub(crate) fn complete<T>(
    interrupt: &AtomicBool,
    nonblock: bool,
    mut attempt: impl FnMut(Duration) -> CallResult<Option<T>>,
) -> CallResult<T> {
    if nonblock {
        return attempt(Duration::ZERO)?.ok_or(Errno::AGAIN.into());
    }
    block_on(interrupt, attempt)
}

/// `Ok(None)` for `WouldBlock`, so a non-blocking host call fits [`complete`].
pub(crate) fn would_block<T>(result: io::Result<T>) -> CallResult<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Receives from a (host non-blocking) stream, waiting as the guest asked.
pub(crate) fn recv(
    stream: &TcpStream,
    max: usize,
    peek: bool,
    nonblock: bool,
    interrupt: &AtomicBool,
) -> CallResult<Vec<u8>> {
    if max == 0 {
        return Ok(Vec::new());
    }
    let mut buf = vec![0; max.min(MAX_SOCKET_IO)];
    let n = complete(interrupt, nonblock, |timeout| {
        if !timeout.is_zero() && !wait_ready(&[(stream.as_fd(), Readiness::Read)], timeout)?[0] {
            return Ok(None);
        }
        would_block(if peek {
            stream.peek(&mut buf)
        } else {
            (&*stream).read(&mut buf)
        })
    })?;
    buf.truncate(n);
    Ok(buf)
}

/// Sends as much of `data` as the socket takes in one go (at least one byte unless the
/// guest asked not to block).
pub(crate) fn send(
    stream: &TcpStream,
    data: &[u8],
    nonblock: bool,
    interrupt: &AtomicBool,
) -> CallResult<usize> {
    if data.is_empty() {
        return Ok(0);
    }
    complete(interrupt, nonblock, |timeout| {
        if !timeout.is_zero() && !wait_ready(&[(stream.as_fd(), Readiness::Write)], timeout)?[0] {
            return Ok(None);
        }
        would_block((&*stream).write(data))
    })
}

fn read_stdin(
    source: &StdinSource,
    max: usize,
    nonblock: bool,
    interrupt: &AtomicBool,
) -> CallResult<Vec<u8>> {
    if max == 0 {
        return Ok(Vec::new());
    }
    match source {
        StdinSource::Null => Ok(Vec::new()),
        StdinSource::Pipe(pipe) => complete(interrupt, nonblock, |timeout| {
            Ok(pipe.read(max.min(MAX_IO), timeout, false))
        }),
        StdinSource::Inherit => read_host_stdin(max.min(MAX_IO), nonblock, interrupt),
    }
}

/// The host's stdin, read unbuffered (std's `Stdin` buffers, which would hide data from
/// the readiness poll).
#[cfg(unix)]
fn read_host_stdin(max: usize, nonblock: bool, interrupt: &AtomicBool) -> CallResult<Vec<u8>> {
    let stdin = io::stdin();
    let fd = stdin.as_fd();
    let mut buf = vec![0; max];
    let n = complete(interrupt, nonblock, |timeout| {
        if !wait_ready(&[(fd, Readiness::Read)], timeout)?[0] {
            return Ok(None);
        }
        would_block(rustix::io::read(fd, &mut buf).map_err(io::Error::from))
    })?;
    buf.truncate(n);
    Ok(buf)
}

/// Without `poll(2)` the read simply blocks (not interruptible on this host).
#[cfg(not(unix))]
fn read_host_stdin(max: usize, _nonblock: bool, _interrupt: &AtomicBool) -> CallResult<Vec<u8>> {
    let mut buf = vec![0; max];
    let n = io::stdin().read(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

fn write_sink(sink: &OutputSink, stderr: bool, data: &[u8]) -> io::Result<()> {
    match sink {
        OutputSink::Null => Ok(()),
        OutputSink::Pipe(pipe) => {
            pipe.write(data);
            Ok(())
        }
        // Flushed at once: the guest does its own buffering, and stdout/stderr must
        // interleave in the order the guest wrote them.
        OutputSink::Inherit if stderr => {
            let mut out = io::stderr().lock();
            out.write_all(data)?;
            out.flush()
        }
        OutputSink::Inherit => {
            let mut out = io::stdout().lock();
            out.write_all(data)?;
            out.flush()
        }
    }
}

impl WasiCtx {
    /// Reads up to `max` bytes from `fd` at its position, advancing it.
    pub(crate) fn read_fd(&mut self, fd: u32, max: usize) -> CallResult<Vec<u8>> {
        let interrupt = self.interrupt.clone();
        let WasiCtx { fds, stdio, .. } = self;
        let desc = fds.get_mut(&fd).ok_or(Errno::BADF)?;
        let nonblock = desc.fdflags() & fdflags::NONBLOCK != 0;
        let readable = desc.state.rights_base & rights::FD_READ != 0;
        match (&mut desc.state.kind, &desc.handle) {
            (DescriptorKind::Stdio(StdioStream::Stdin), _) if readable => {
                read_stdin(&stdio.stdin, max, nonblock, &interrupt)
            }
            (DescriptorKind::File(file), Handle::File(host)) if file.read && readable => {
                if max == 0 {
                    return Ok(Vec::new());
                }
                let mut buf = vec![0; max.min(MAX_IO)];
                let n = read_at(host, &mut buf, file.offset)?;
                buf.truncate(n);
                file.offset += n as u64;
                Ok(buf)
            }
            (DescriptorKind::Socket(_), Handle::Stream(stream)) if readable => {
                recv(stream, max, false, nonblock, &interrupt)
            }
            (DescriptorKind::Socket(_), Handle::Disconnected) => Ok(Vec::new()),
            (DescriptorKind::Socket(_), Handle::Listener(_)) => Err(Errno::NOTCONN.into()),
            _ => Err(Errno::BADF.into()),
        }
    }

    /// Writes `data` to `fd` at its position (or its end, in append mode).
    pub(crate) fn write_fd(&mut self, fd: u32, data: &[u8]) -> CallResult<usize> {
        let interrupt = self.interrupt.clone();
        let WasiCtx { fds, stdio, .. } = self;
        let desc = fds.get_mut(&fd).ok_or(Errno::BADF)?;
        let flags = desc.fdflags();
        let writable = desc.state.rights_base & rights::FD_WRITE != 0;
        match (&mut desc.state.kind, &desc.handle) {
            (DescriptorKind::Stdio(StdioStream::Stdout), _) if writable => {
                write_sink(&stdio.stdout, false, data)?;
                Ok(data.len())
            }
            (DescriptorKind::Stdio(StdioStream::Stderr), _) if writable => {
                write_sink(&stdio.stderr, true, data)?;
                Ok(data.len())
            }
            (DescriptorKind::File(file), Handle::File(host)) if file.write && writable => {
                if flags & fdflags::APPEND != 0 {
                    file.offset = host.metadata()?.len();
                }
                let mut done = 0;
                while done < data.len() {
                    match write_at(host, &data[done..], file.offset + done as u64) {
                        Ok(0) => break,
                        Ok(n) => done += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        // Report what was written; the error shows on the next write.
                        Err(_) if done > 0 => break,
                        Err(e) => return Err(e.into()),
                    }
                }
                file.offset += done as u64;
                if flags & (fdflags::SYNC | fdflags::DSYNC) != 0 {
                    host.sync_data()?;
                }
                Ok(done)
            }
            (DescriptorKind::Socket(_), Handle::Stream(stream)) if writable => {
                send(stream, data, flags & fdflags::NONBLOCK != 0, &interrupt)
            }
            (DescriptorKind::Socket(_), Handle::Disconnected) => Err(Errno::PIPE.into()),
            (DescriptorKind::Socket(_), Handle::Listener(_)) => Err(Errno::NOTCONN.into()),
            _ => Err(Errno::BADF.into()),
        }
    }
}
