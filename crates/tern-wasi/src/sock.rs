//! `sock_accept`, `sock_recv`, `sock_send`, `sock_shutdown` on preopened TCP listeners and
//! the connections accepted from them.
//!
//! Host sockets are always non-blocking; a guest that blocks is served by waiting in
//! slices (see `io::complete`), so accept and receive give way to the interrupt flag.

// The methods take the witx parameters one by one, as the guest passes them.
#![allow(clippy::too_many_arguments)]

use crate::abi::{fdflags, rights, sock};
use crate::ctx::{CallResult, Handle, WasiCtx};
use crate::errno::Errno;
use crate::host::{Readiness, wait_ready};
use crate::io::{complete, recv, would_block};
use crate::memory::{Mem, capacity};
use crate::state::{DescriptorKind, DescriptorState, SocketRole, SocketState};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;

/// A host address as text, or `"unknown"` where the host cannot tell (WASI hosts).
pub(crate) fn addr_string(addr: std::io::Result<std::net::SocketAddr>) -> String {
    addr.map_or_else(|_| "unknown".into(), |a| a.to_string())
}

impl WasiCtx {
    /// The connected stream behind `fd`: `ENOTSOCK` for non-sockets, `ENOTCONN` for a
    /// listener. `Ok(None)` is a connection lost in a rebuild.
    fn stream(&self, fd: u32) -> Result<Option<&TcpStream>, Errno> {
        let desc = self.desc(fd)?;
        match &desc.handle {
            Handle::Stream(stream) => Ok(Some(stream)),
            Handle::Disconnected => Ok(None),
            Handle::Listener(_) => Err(Errno::NOTCONN),
            _ => Err(Errno::NOTSOCK),
        }
    }

    pub(crate) fn sock_accept(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        flags: u32,
        out: u32,
    ) -> CallResult {
        m.check(out, 4)?;
        let flags = u16::try_from(flags)
            .ok()
            .filter(|f| f & !fdflags::NONBLOCK == 0)
            .ok_or(Errno::INVAL)?;
        let interrupt = self.interrupt.clone();
        let desc = self.desc(fd)?;
        let Handle::Listener(listener) = &desc.handle else {
            return Err(match desc.kind() {
                DescriptorKind::Socket(_) => Errno::INVAL,
                _ => Errno::NOTSOCK,
            }
            .into());
        };
        desc.require(rights::SOCK_ACCEPT)?;
        let nonblock = desc.fdflags() & fdflags::NONBLOCK != 0;
        let (stream, peer) = complete(&interrupt, nonblock, |timeout| {
            if !timeout.is_zero()
                && !wait_ready(&[(listener.as_fd(), Readiness::Read)], timeout)?[0]
            {
                return Ok(None);
            }
            would_block(listener.accept())
        })?;
        stream.set_nonblocking(true)?;
        let state = DescriptorState {
            kind: DescriptorKind::Socket(SocketState {
                role: SocketRole::Accepted,
                local_addr: addr_string(stream.local_addr()),
                peer_addr: Some(peer.to_string()),
                connected: true,
            }),
            fdflags: flags,
            rights_base: rights::SOCKET,
            rights_inheriting: 0,
        };
        let new_fd = self.insert(state, Handle::Stream(stream))?;
        m.write_u32(out, new_fd)?;
        Ok(())
    }

    pub(crate) fn sock_recv(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        ri_flags: u32,
        ro_datalen: u32,
        ro_flags: u32,
    ) -> CallResult {
        let iovs = m.iovecs(iovs, iovs_len)?;
        m.check(ro_datalen, 4)?;
        m.check(ro_flags, 2)?;
        let ri_flags = u16::try_from(ri_flags)
            .ok()
            .filter(|f| f & !(sock::RECV_PEEK | sock::RECV_WAITALL) == 0)
            .ok_or(Errno::INVAL)?;
        let interrupt = self.interrupt.clone();
        let nonblock = self.desc(fd)?.fdflags() & fdflags::NONBLOCK != 0;
        let want = capacity(&iovs, usize::MAX);
        let data = match self.stream(fd)? {
            None => Vec::new(),
            Some(stream)
                if ri_flags & sock::RECV_WAITALL != 0 && ri_flags & sock::RECV_PEEK == 0 =>
            {
                // Waits until the buffers are full or the peer closes. If interrupted
                // halfway, the bytes already taken must not be lost: they are handed to
                // the guest as a short read instead.
                let mut data = Vec::new();
                while data.len() < want {
                    match recv(stream, want - data.len(), false, nonblock, &interrupt) {
                        Ok(chunk) if chunk.is_empty() => break,
                        Ok(chunk) => data.extend(chunk),
                        Err(_) if !data.is_empty() => break,
                        Err(e) => return Err(e),
                    }
                }
                data
            }
            Some(stream) => recv(
                stream,
                want,
                ri_flags & sock::RECV_PEEK != 0,
                nonblock,
                &interrupt,
            )?,
        };
        m.scatter(&iovs, &data);
        m.write_u32(ro_datalen, data.len() as u32)?;
        // No datagrams, so never truncated.
        m.write_u16(ro_flags, 0)?;
        Ok(())
    }

    pub(crate) fn sock_send(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        _si_flags: u32,
        so_datalen: u32,
    ) -> CallResult {
        let iovs = m.iovecs(iovs, iovs_len)?;
        m.check(so_datalen, 4)?;
        // Same path as `fd_write`, after the socket-specific checks.
        self.stream(fd)?.ok_or(Errno::PIPE)?;
        let data = m.gather(&iovs);
        let n = self.write_fd(fd, &data)?;
        m.write_u32(so_datalen, n as u32)?;
        Ok(())
    }

    pub(crate) fn sock_shutdown(&mut self, fd: u32, how: u32) -> CallResult {
        let how = match u8::try_from(how).map_err(|_| Errno::INVAL)? {
            sock::SHUT_RD => Shutdown::Read,
            sock::SHUT_WR => Shutdown::Write,
            h if h == sock::SHUT_RD | sock::SHUT_WR => Shutdown::Both,
            _ => return Err(Errno::INVAL.into()),
        };
        let stream = self.stream(fd)?.ok_or(Errno::NOTCONN)?;
        self.desc(fd)?.require(rights::SOCK_SHUTDOWN)?;
        stream.shutdown(how)?;
        Ok(())
    }
}
