//! Waiting for host descriptors to become readable or writable, for at most one short
//! slice, so that a blocking WASI call can check its interrupt flag in between.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readiness {
    Read,
    Write,
}

/// Waits up to `timeout` until at least one of `fds` is ready; returns which are. Errors
/// and hang-ups count as ready: the operation that follows reports them.
#[cfg(unix)]
pub(crate) fn wait_ready(
    fds: &[(BorrowedFd<'_>, Readiness)],
    timeout: Duration,
) -> io::Result<Vec<bool>> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut polls: Vec<PollFd<'_>> = fds
        .iter()
        .map(|(fd, what)| {
            let flags = match what {
                Readiness::Read => PollFlags::IN,
                Readiness::Write => PollFlags::OUT,
            };
            PollFd::new(fd, flags)
        })
        .collect();
    let timeout = Timespec {
        tv_sec: timeout.as_secs() as _,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    match poll(&mut polls, Some(&timeout)) {
        Ok(_) => Ok(polls.iter().map(|p| !p.revents().is_empty()).collect()),
        // A signal cut the wait short: nothing is ready yet, the caller simply retries.
        Err(rustix::io::Errno::INTR) => Ok(vec![false; fds.len()]),
        Err(e) => Err(e.into()),
    }
}

/// Without `poll(2)` (the self-hosted wasm32-wasip1 build) every descriptor is reported
/// ready, so the operation that follows blocks in the host: such waits cannot be
/// interrupted there.
#[cfg(not(unix))]
pub(crate) fn wait_ready(
    fds: &[(BorrowedFd<'_>, Readiness)],
    _timeout: Duration,
) -> io::Result<Vec<bool>> {
    Ok(vec![true; fds.len()])
}
