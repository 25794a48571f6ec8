//! Handing listening sockets to another process on the same host, for live migration.
//!
//! A migrated program's listeners are bound again on the target (see `rebuild.rs`). When
//! the target runs on the same host (another process, no network namespace between
//! them), its bind of the same address would fail while the source still listens there.
//! So the paused source *stops listening* without closing: on Linux `shutdown(SHUT_RD)`
//! takes a listening TCP socket out of the listening state but keeps its bound address
//! (an explicit port stays reserved for it). Both sides bind with `SO_REUSEADDR` (Rust's
//! `TcpListener::bind` sets it), and Linux lets such a socket share its port with one
//! that is not listening, so the target can bind and listen. If the migration fails, the
//! source listens again on the very same socket.
//!
//! Connections that were queued on the source but not yet accepted by the program are
//! reset when it stops listening: they would be lost with the source host anyway, and a
//! client sees a refused or reset connection it can retry.

use crate::ctx::{Handle, WasiCtx};
use crate::sock::addr_string;
use crate::state::DescriptorKind;
use std::io;
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// The backlog of a listener that listens again (what Rust's `TcpListener::bind` uses).
const BACKLOG: i32 = 128;
/// How often [`WasiCtx::listen_again`] tries an address that is still in use.
const RETRY: Duration = Duration::from_millis(10);

impl WasiCtx {
    /// Stops accepting on every listener, keeping each bound, so that another process on
    /// this host can bind the same address. On an error, the listeners already stopped
    /// listen again and the error names the descriptor.
    pub fn stop_listening(&mut self) -> io::Result<()> {
        let fds: Vec<u32> = self.listener_fds().collect();
        for (i, &fd) in fds.iter().enumerate() {
            if let Err(error) = stop(self.listener(fd)) {
                for &undo in &fds[..i] {
                    let _ = self.listen_again_on(undo);
                }
                return Err(annotate(fd, "cannot stop listening", error));
            }
        }
        Ok(())
    }

    /// Undoes [`WasiCtx::stop_listening`] after a failed migration: every listener accepts
    /// again at the address it had. An address still in use (a target on this host that
    /// bound it and has not yet discarded the program) is tried again until `patience`
    /// has passed. Returns one line per listener that could not listen again.
    pub fn listen_again(&mut self, patience: Duration) -> Vec<String> {
        let deadline = Instant::now() + patience;
        let fds: Vec<u32> = self.listener_fds().collect();
        fds.into_iter()
            .filter_map(|fd| {
                loop {
                    match self.listen_again_on(fd) {
                        Ok(()) => break None,
                        Err(e)
                            if e.kind() == io::ErrorKind::AddrInUse
                                && Instant::now() < deadline =>
                        {
                            std::thread::sleep(RETRY)
                        }
                        Err(e) => break Some(e.to_string()),
                    }
                }
            })
            .collect()
    }

    fn listener_fds(&self) -> impl Iterator<Item = u32> + '_ {
        self.fds
            .iter()
            .filter(|(_, desc)| matches!(desc.handle, Handle::Listener(_)))
            .map(|(&fd, _)| fd)
    }

    fn listener(&self, fd: u32) -> &TcpListener {
        match &self.fds[&fd].handle {
            Handle::Listener(listener) => listener,
            _ => unreachable!("listener_fds yields listeners only"),
        }
    }

    /// Listens again on the same socket; if it no longer holds its recorded address (a
    /// listener on port 0 gives its port up when it stops listening), binds that address
    /// anew.
    fn listen_again_on(&mut self, fd: u32) -> io::Result<()> {
        let DescriptorKind::Socket(socket) = &self.fds[&fd].state.kind else {
            unreachable!("a listener's state is a socket");
        };
        let recorded = socket.local_addr.clone();
        let listener = self.listener(fd);
        if relisten(listener).is_ok() {
            if addr_string(listener.local_addr()) == recorded {
                return Ok(());
            }
            // Never listen at an address the program did not ask for. Only a listening
            // socket is stopped: `shutdown` of one that does not listen marks it shut
            // for reading, and connections it accepted after listening again were seen
            // to read end of file at once (found by the migration tests).
            let _ = stop(listener);
        }
        let fresh = TcpListener::bind(&recorded)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| annotate(fd, &format!("cannot listen again on {recorded}"), e))?;
        if let Some(desc) = self.fds.get_mut(&fd) {
            desc.handle = Handle::Listener(fresh);
        }
        Ok(())
    }
}

fn annotate(fd: u32, what: &str, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("listener fd {fd}: {what}: {error}"))
}

#[cfg(target_os = "linux")]
fn stop(listener: &TcpListener) -> io::Result<()> {
    rustix::net::shutdown(listener, rustix::net::Shutdown::Read).map_err(io::Error::from)
}

#[cfg(target_os = "linux")]
fn relisten(listener: &TcpListener) -> io::Result<()> {
    rustix::net::listen(listener, BACKLOG).map_err(io::Error::from)
}

// Elsewhere a listener keeps listening: a target on the same host then fails to bind
// and refuses the migration cleanly, and one on another host is unaffected.
#[cfg(not(target_os = "linux"))]
fn stop(_: &TcpListener) -> io::Result<()> {
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn relisten(_: &TcpListener) -> io::Result<()> {
    let _ = BACKLOG;
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests;
