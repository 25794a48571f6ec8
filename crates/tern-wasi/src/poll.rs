//! `poll_oneoff`: clock timeouts (sleeps) and fd read/write readiness.
//!
//! The wait runs in slices of at most 10 ms and gives way to the interrupt flag. Relative
//! clock timeouts are turned into absolute monotonic deadlines once and remembered in
//! [`PendingPoll`] while the call is unfinished: the identical call issued again after a
//! checkpoint waits only for what is left.

use crate::abi::{clock, event};
use crate::ctx::{CallResult, Handle, SLICE, StdinSource, WasiCtx, WasiExit};
use crate::errno::Errno;
use crate::host::{Readiness, wait_ready};
use crate::memory::Mem;
use crate::state::{DescriptorKind, PendingPoll, StdioStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::LazyLock;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
enum Sub {
    /// Fires at this monotonic deadline (ns); `Err` if the clock id was invalid.
    Clock(Result<u64, Errno>),
    Fd {
        fd: u32,
        write: bool,
    },
}

/// A produced event, before encoding.
struct Event {
    userdata: u64,
    error: Errno,
    kind: u8,
    nbytes: u64,
    flags: u16,
}

impl Event {
    fn encode(&self) -> [u8; event::EVENT_SIZE as usize] {
        let mut out = [0u8; event::EVENT_SIZE as usize];
        out[0..8].copy_from_slice(&self.userdata.to_le_bytes());
        out[8..10].copy_from_slice(&self.error.0.to_le_bytes());
        out[10] = self.kind;
        out[16..24].copy_from_slice(&self.nbytes.to_le_bytes());
        out[24..26].copy_from_slice(&self.flags.to_le_bytes());
        out
    }
}

/// What an fd subscription found right now.
enum FdState<'a> {
    Ready {
        nbytes: u64,
        hangup: bool,
    },
    Error(Errno),
    /// Must wait on this host descriptor.
    WaitHost(BorrowedFd<'a>, Readiness),
    /// Must wait for the embedder's stdin pipe.
    WaitPipe,
}

fn u64_at(raw: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(raw[at..at + 8].try_into().expect("8 bytes"))
}

impl WasiCtx {
    pub(crate) fn poll_oneoff(
        &mut self,
        m: &mut Mem<'_>,
        subs_ptr: u32,
        events_ptr: u32,
        count: u32,
        nevents: u32,
    ) -> CallResult {
        if count == 0 {
            return Err(Errno::INVAL.into());
        }
        let raw = m
            .slice(
                subs_ptr,
                count
                    .checked_mul(event::SUBSCRIPTION_SIZE)
                    .ok_or(Errno::FAULT)?,
            )?
            .to_vec();
        m.check(
            events_ptr,
            count.checked_mul(event::EVENT_SIZE).ok_or(Errno::FAULT)?,
        )?;
        m.check(nevents, 4)?;

        // The deadlines of an interrupted identical call, else fresh ones.
        let now = self.clock.now();
        let remembered = self
            .pending_poll
            .take()
            .filter(|p| p.subscriptions == raw)
            .map(|p| p.deadlines);
        let mut subs = Vec::with_capacity(count as usize);
        let mut deadlines = Vec::with_capacity(count as usize);
        for (i, chunk) in raw
            .chunks_exact(event::SUBSCRIPTION_SIZE as usize)
            .enumerate()
        {
            let userdata = u64_at(chunk, 0);
            let sub = match chunk[8] {
                event::CLOCK => {
                    let id = u32::from_le_bytes(chunk[16..20].try_into().expect("4 bytes"));
                    let timeout = u64_at(chunk, 24);
                    let flags = u16::from_le_bytes([chunk[40], chunk[41]]);
                    let absolute = flags & event::ABSTIME != 0;
                    let saved = remembered.as_ref().and_then(|d| d[i]);
                    let deadline = match saved {
                        Some(deadline) => Ok(deadline),
                        None => self.deadline(id, timeout, absolute, now),
                    };
                    deadlines.push(deadline.ok().filter(|_| !absolute || id != clock::REALTIME));
                    Sub::Clock(deadline)
                }
                kind @ (event::FD_READ | event::FD_WRITE) => {
                    let fd = u32::from_le_bytes(chunk[16..20].try_into().expect("4 bytes"));
                    // An unknown descriptor fails the whole call, as in wasmtime.
                    self.desc(fd)?;
                    deadlines.push(None);
                    Sub::Fd {
                        fd,
                        write: kind == event::FD_WRITE,
                    }
                }
                _ => return Err(Errno::INVAL.into()),
            };
            subs.push((userdata, sub));
        }

        self.pending_poll = Some(PendingPoll {
            subscriptions: raw,
            deadlines,
        });
        let events = loop {
            let (events, wait) = self.poll_once(&subs);
            if !events.is_empty() {
                break events;
            }
            if self.interrupted() {
                // The pending poll stays recorded for the re-issue.
                return Err(WasiExit::Interrupted.into());
            }
            self.wait(&subs, wait);
        };
        self.pending_poll = None;
        for (i, ev) in events.iter().enumerate() {
            m.write(events_ptr + i as u32 * event::EVENT_SIZE, &ev.encode())?;
        }
        m.write_u32(nevents, events.len() as u32)?;
        Ok(())
    }

    /// The monotonic deadline of a clock subscription. A realtime deadline is converted
    /// with the current offset between the two clocks.
    fn deadline(&self, id: u32, timeout: u64, absolute: bool, now: u64) -> Result<u64, Errno> {
        let reading = self.now(id)?;
        Ok(if absolute {
            now.saturating_add(timeout.saturating_sub(reading))
        } else {
            now.saturating_add(timeout)
        })
    }

    /// One look at every subscription: the events that are ready, and how long to wait
    /// before looking again.
    fn poll_once(&self, subs: &[(u64, Sub)]) -> (Vec<Event>, Duration) {
        let now = self.clock.now();
        let mut events = Vec::new();
        let mut wait = SLICE;
        for &(userdata, sub) in subs {
            match sub {
                Sub::Clock(Err(errno)) => events.push(Event {
                    userdata,
                    error: errno,
                    kind: event::CLOCK,
                    nbytes: 0,
                    flags: 0,
                }),
                Sub::Clock(Ok(deadline)) if deadline <= now => events.push(Event {
                    userdata,
                    error: Errno::SUCCESS,
                    kind: event::CLOCK,
                    nbytes: 0,
                    flags: 0,
                }),
                Sub::Clock(Ok(deadline)) => {
                    wait = wait.min(Duration::from_nanos(deadline - now));
                }
                Sub::Fd { fd, write } => {
                    let kind = if write {
                        event::FD_WRITE
                    } else {
                        event::FD_READ
                    };
                    let (error, nbytes, flags) = match self.fd_state(fd, write) {
                        FdState::Ready { nbytes, hangup } => (
                            Errno::SUCCESS,
                            nbytes,
                            if hangup { event::HANGUP } else { 0 },
                        ),
                        FdState::Error(errno) => (errno, 0, 0),
                        FdState::WaitHost(..) | FdState::WaitPipe => continue,
                    };
                    events.push(Event {
                        userdata,
                        error,
                        kind,
                        nbytes,
                        flags,
                    });
                }
            }
        }
        // Host descriptors that are ready right now (zero-time poll).
        if events.is_empty() {
            events.extend(self.host_ready(subs, Duration::ZERO));
        }
        (events, wait)
    }

    /// Blocks for at most `wait`: on the host descriptors if any, else on the stdin pipe,
    /// else plainly.
    fn wait(&self, subs: &[(u64, Sub)], wait: Duration) {
        let host: Vec<_> = self.host_waits(subs);
        if !host.is_empty() {
            let fds: Vec<_> = host.iter().map(|&(_, fd, r)| (fd, r)).collect();
            // Errors show up as readiness on the next look.
            let _ = wait_ready(&fds, wait);
            return;
        }
        let waits_on_pipe = subs.iter().any(|&(_, sub)| {
            matches!(sub, Sub::Fd { fd, write } if matches!(self.fd_state(fd, write), FdState::WaitPipe))
        });
        match &self.stdio.stdin {
            StdinSource::Pipe(pipe) if waits_on_pipe => {
                // Waiting for data (without taking it) is a zero-byte peek.
                let _ = pipe.read(0, wait, true);
            }
            _ => std::thread::sleep(wait),
        }
    }

    fn host_waits(&self, subs: &[(u64, Sub)]) -> Vec<(u64, BorrowedFd<'_>, Readiness)> {
        subs.iter()
            .filter_map(|&(userdata, sub)| match sub {
                Sub::Fd { fd, write } => match self.fd_state(fd, write) {
                    FdState::WaitHost(host, readiness) => Some((userdata, host, readiness)),
                    _ => None,
                },
                Sub::Clock(_) => None,
            })
            .collect()
    }

    fn host_ready(&self, subs: &[(u64, Sub)], timeout: Duration) -> Vec<Event> {
        let waits = self.host_waits(subs);
        if waits.is_empty() {
            return Vec::new();
        }
        let fds: Vec<_> = waits.iter().map(|&(_, fd, r)| (fd, r)).collect();
        // A failed poll reports everything ready: the read or accept that follows
        // returns the actual error.
        let ready = wait_ready(&fds, timeout).unwrap_or_else(|_| vec![true; fds.len()]);
        waits
            .iter()
            .zip(ready)
            .filter(|(_, ready)| *ready)
            .map(|(&(userdata, _, readiness), _)| Event {
                userdata,
                error: Errno::SUCCESS,
                kind: match readiness {
                    Readiness::Read => event::FD_READ,
                    Readiness::Write => event::FD_WRITE,
                },
                // The host poll does not say how much; 1 means "at least something".
                nbytes: 1,
                flags: 0,
            })
            .collect()
    }

    /// Whether `fd` is ready for reading (or writing) without waiting.
    fn fd_state(&self, fd: u32, write: bool) -> FdState<'_> {
        let Ok(desc) = self.desc(fd) else {
            return FdState::Error(Errno::BADF);
        };
        let readiness = if write {
            Readiness::Write
        } else {
            Readiness::Read
        };
        match (&desc.state.kind, &desc.handle) {
            (DescriptorKind::Stdio(StdioStream::Stdin), _) if !write => match &self.stdio.stdin {
                StdinSource::Null => FdState::Ready {
                    nbytes: 0,
                    hangup: true,
                },
                StdinSource::Pipe(pipe) if pipe.is_ready() => FdState::Ready {
                    nbytes: pipe.available() as u64,
                    hangup: false,
                },
                StdinSource::Pipe(_) => FdState::WaitPipe,
                StdinSource::Inherit => stdin_wait(),
            },
            (DescriptorKind::Stdio(StdioStream::Stdout | StdioStream::Stderr), _) if write => {
                FdState::Ready {
                    nbytes: 0,
                    hangup: false,
                }
            }
            (DescriptorKind::File(file), Handle::File(host)) => {
                // Regular files are always ready; for reading, `nbytes` is what is left.
                let nbytes = if write {
                    0
                } else {
                    host.metadata()
                        .map_or(0, |meta| meta.len().saturating_sub(file.offset))
                };
                FdState::Ready {
                    nbytes,
                    hangup: false,
                }
            }
            (_, Handle::Stream(stream)) => FdState::WaitHost(stream.as_fd(), readiness),
            (_, Handle::Listener(listener)) if !write => {
                FdState::WaitHost(listener.as_fd(), readiness)
            }
            (_, Handle::Disconnected) => FdState::Ready {
                nbytes: 0,
                hangup: true,
            },
            _ => FdState::Error(Errno::BADF),
        }
    }
}

/// The host's stdin is waited on like a socket. `Stdin` is a handle to a process-wide
/// static, so its descriptor can be borrowed for the whole program.
fn stdin_wait<'a>() -> FdState<'a> {
    static STDIN: LazyLock<std::io::Stdin> = LazyLock::new(std::io::stdin);
    FdState::WaitHost(STDIN.as_fd(), Readiness::Read)
}
