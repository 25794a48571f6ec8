//! The `fd_*` family.

use crate::abi::{
    self, FDSTAT_SIZE, FILESTAT_SIZE, Filestat, PRESTAT_SIZE, fdflags, filetype, fstflags, rights,
    whence,
};
use crate::ctx::{CallResult, DirHandle, Handle, OutputSink, StdinSource, WasiCtx};
use crate::errno::Errno;
use crate::host::{self, Entry, TimeSpec};
use crate::memory::{Mem, capacity};
use crate::state::{DescriptorKind, StdioStream};
use std::io::IsTerminal;

impl WasiCtx {
    pub(crate) fn fd_read(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        nread: u32,
    ) -> CallResult {
        let iovs = m.iovecs(iovs, iovs_len)?;
        m.check(nread, 4)?;
        let data = self.read_fd(fd, capacity(&iovs, usize::MAX))?;
        m.scatter(&iovs, &data);
        m.write_u32(nread, data.len() as u32)?;
        Ok(())
    }

    pub(crate) fn fd_write(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        nwritten: u32,
    ) -> CallResult {
        let iovs = m.iovecs(iovs, iovs_len)?;
        m.check(nwritten, 4)?;
        let data = m.gather(&iovs);
        let n = self.write_fd(fd, &data)?;
        m.write_u32(nwritten, n as u32)?;
        Ok(())
    }

    /// The file behind `fd` for positional I/O. A descriptor that cannot do `need` at all
    /// is `EBADF` (like wasmtime); one that could but is not a file is `ESPIPE`.
    fn seekable_file(&mut self, fd: u32, need: u64) -> Result<(&std::fs::File, bool), Errno> {
        let desc = self.desc(fd)?;
        if desc.state.rights_base & need == 0 {
            return Err(Errno::BADF);
        }
        match (&desc.state.kind, &desc.handle) {
            (DescriptorKind::File(f), Handle::File(host)) => {
                let allowed = if need == rights::FD_READ {
                    f.read
                } else {
                    f.write
                };
                Ok((host, allowed))
            }
            (DescriptorKind::Dir(_), _) => Err(Errno::BADF),
            _ => Err(Errno::SPIPE),
        }
    }

    pub(crate) fn fd_pread(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        offset: u64,
        nread: u32,
    ) -> CallResult {
        let iovs = m.iovecs(iovs, iovs_len)?;
        m.check(nread, 4)?;
        let (file, readable) = self.seekable_file(fd, rights::FD_READ)?;
        if !readable {
            return Err(Errno::BADF.into());
        }
        let mut buf = vec![0; capacity(&iovs, crate::ctx::MAX_IO)];
        let n = host::read_at(file, &mut buf, offset)?;
        m.scatter(&iovs, &buf[..n]);
        m.write_u32(nread, n as u32)?;
        Ok(())
    }

    pub(crate) fn fd_pwrite(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        offset: u64,
        nwritten: u32,
    ) -> CallResult {
        let iovs = m.iovecs(iovs, iovs_len)?;
        m.check(nwritten, 4)?;
        let (file, writable) = self.seekable_file(fd, rights::FD_WRITE)?;
        if !writable {
            return Err(Errno::BADF.into());
        }
        let data = m.gather(&iovs);
        let n = host::write_at(file, &data, offset)?;
        m.write_u32(nwritten, n as u32)?;
        Ok(())
    }

    pub(crate) fn fd_seek(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        offset: i64,
        how: u32,
        newoffset: u32,
    ) -> CallResult {
        m.check(newoffset, 8)?;
        let desc = self.desc_mut(fd)?;
        // A pure position query only needs the `tell` right.
        let need = if how == u32::from(whence::CUR) && offset == 0 {
            rights::FD_TELL
        } else {
            rights::FD_SEEK
        };
        let (DescriptorKind::File(file), Handle::File(host)) = (&mut desc.state.kind, &desc.handle)
        else {
            return Err(match desc.kind() {
                DescriptorKind::Dir(_) => Errno::BADF,
                _ => Errno::SPIPE,
            }
            .into());
        };
        if desc.state.rights_base & need == 0 {
            return Err(Errno::NOTCAPABLE.into());
        }
        let base = match how {
            h if h == u32::from(whence::SET) => 0,
            h if h == u32::from(whence::CUR) => file.offset as i128,
            h if h == u32::from(whence::END) => host.metadata()?.len() as i128,
            _ => return Err(Errno::INVAL.into()),
        };
        let target = base + i128::from(offset);
        if target < 0 || target > i64::MAX as i128 {
            return Err(Errno::INVAL.into());
        }
        file.offset = target as u64;
        m.write_u64(newoffset, file.offset)?;
        Ok(())
    }

    pub(crate) fn fd_tell(&mut self, m: &mut Mem<'_>, fd: u32, out: u32) -> CallResult {
        self.fd_seek(m, fd, 0, u32::from(whence::CUR), out)
    }

    pub(crate) fn fd_close(&mut self, fd: u32) -> CallResult {
        self.fds.remove(&fd).ok_or(Errno::BADF)?;
        Ok(())
    }

    pub(crate) fn fd_renumber(&mut self, from: u32, to: u32) -> CallResult {
        if !self.fds.contains_key(&from) || !self.fds.contains_key(&to) {
            return Err(Errno::BADF.into());
        }
        if from != to {
            let desc = self.fds.remove(&from).expect("checked above");
            self.fds.insert(to, desc);
        }
        Ok(())
    }

    /// What `fdstat`/`filestat` report as the type of a descriptor that has no host
    /// metadata of its own.
    fn stdio_filetype(&self, stream: StdioStream) -> u8 {
        let terminal = match stream {
            StdioStream::Stdin => {
                matches!(self.stdio.stdin, StdinSource::Inherit) && std::io::stdin().is_terminal()
            }
            StdioStream::Stdout => {
                matches!(self.stdio.stdout, OutputSink::Inherit) && std::io::stdout().is_terminal()
            }
            StdioStream::Stderr => {
                matches!(self.stdio.stderr, OutputSink::Inherit) && std::io::stderr().is_terminal()
            }
        };
        // Pipes and files behind stdio have no WASI type of their own; wasmtime says
        // `unknown` too.
        if terminal {
            filetype::CHARACTER_DEVICE
        } else {
            filetype::UNKNOWN
        }
    }

    fn filestat_of(&self, fd: u32) -> Result<Filestat, Errno> {
        let desc = self.desc(fd)?;
        Ok(match (&desc.state.kind, &desc.handle) {
            (DescriptorKind::Stdio(stream), _) => Filestat {
                filetype: self.stdio_filetype(*stream),
                ..Filestat::default()
            },
            (_, Handle::File(file)) => host::file_stat(file)?,
            (_, Handle::Dir(dir)) => dir.dir.stat_self()?,
            _ => Filestat {
                filetype: filetype::SOCKET_STREAM,
                ..Filestat::default()
            },
        })
    }

    pub(crate) fn fd_fdstat_get(&mut self, m: &mut Mem<'_>, fd: u32, out: u32) -> CallResult {
        m.check(out, FDSTAT_SIZE)?;
        let desc = self.desc(fd)?;
        let filetype = match (&desc.state.kind, &desc.handle) {
            (DescriptorKind::Stdio(stream), _) => self.stdio_filetype(*stream),
            (DescriptorKind::File(_), Handle::File(file)) => host::file_stat(file)?.filetype,
            (DescriptorKind::Dir(_), _) => filetype::DIRECTORY,
            _ => filetype::SOCKET_STREAM,
        };
        let mut bytes = [0u8; FDSTAT_SIZE as usize];
        bytes[0] = filetype;
        bytes[2..4].copy_from_slice(&desc.state.fdflags.to_le_bytes());
        bytes[8..16].copy_from_slice(&desc.state.rights_base.to_le_bytes());
        bytes[16..24].copy_from_slice(&desc.state.rights_inheriting.to_le_bytes());
        m.write(out, &bytes)?;
        Ok(())
    }

    /// Append and non-blocking mode can be switched; the sync modes are fixed at open
    /// (changing them is `EINVAL`, as in wasmtime).
    pub(crate) fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u32) -> CallResult {
        let desc = self.desc_mut(fd)?;
        let flags = u16::try_from(flags).map_err(|_| Errno::INVAL)?;
        if flags & !fdflags::ALL != 0 {
            return Err(Errno::INVAL.into());
        }
        let fixed = fdflags::SYNC | fdflags::DSYNC | fdflags::RSYNC;
        if (flags ^ desc.state.fdflags) & fixed != 0 {
            return Err(Errno::INVAL.into());
        }
        desc.require(rights::FD_FDSTAT_SET_FLAGS)?;
        desc.state.fdflags = flags;
        Ok(())
    }

    /// Rights can only be dropped, never gained back.
    pub(crate) fn fd_fdstat_set_rights(
        &mut self,
        fd: u32,
        base: u64,
        inheriting: u64,
    ) -> CallResult {
        let desc = self.desc_mut(fd)?;
        if base & !desc.state.rights_base != 0 || inheriting & !desc.state.rights_inheriting != 0 {
            return Err(Errno::NOTCAPABLE.into());
        }
        desc.state.rights_base = base;
        desc.state.rights_inheriting = inheriting;
        Ok(())
    }

    pub(crate) fn fd_filestat_get(&mut self, m: &mut Mem<'_>, fd: u32, out: u32) -> CallResult {
        m.check(out, FILESTAT_SIZE)?;
        let stat = self.filestat_of(fd)?;
        m.write(out, &stat.encode())?;
        Ok(())
    }

    pub(crate) fn fd_filestat_set_size(&mut self, fd: u32, size: u64) -> CallResult {
        let desc = self.desc(fd)?;
        let (DescriptorKind::File(file), Handle::File(host)) = (&desc.state.kind, &desc.handle)
        else {
            return Err(Errno::BADF.into());
        };
        if !file.write {
            return Err(Errno::BADF.into());
        }
        desc.require(rights::FD_FILESTAT_SET_SIZE)?;
        if size > i64::MAX as u64 {
            return Err(Errno::FBIG.into());
        }
        host.set_len(size)?;
        Ok(())
    }

    pub(crate) fn fd_filestat_set_times(
        &mut self,
        fd: u32,
        atim: u64,
        mtim: u64,
        flags: u32,
    ) -> CallResult {
        let (atime, mtime) = time_specs(atim, mtim, flags)?;
        let desc = self.desc(fd)?;
        desc.require(rights::FD_FILESTAT_SET_TIMES)?;
        match &desc.handle {
            Handle::File(file) => host::set_file_times(file, atime, mtime)?,
            Handle::Dir(dir) => dir.dir.set_times(".", true, atime, mtime)?,
            _ => return Err(Errno::BADF.into()),
        }
        Ok(())
    }

    /// `posix_fadvise`: checked, then ignored (advice never changes results).
    pub(crate) fn fd_advise(
        &mut self,
        fd: u32,
        _offset: u64,
        _len: u64,
        advice: u32,
    ) -> CallResult {
        if advice > 5 {
            return Err(Errno::INVAL.into());
        }
        let desc = self.desc(fd)?;
        match desc.kind() {
            DescriptorKind::File(_) => desc.require(rights::FD_ADVISE).map_err(Into::into),
            DescriptorKind::Dir(_) => Err(Errno::BADF.into()),
            _ => Err(Errno::SPIPE.into()),
        }
    }

    /// `posix_fallocate`: makes the file at least `offset + len` bytes long. (wasmtime
    /// answers `ENOTSUP`; this is the POSIX meaning.)
    pub(crate) fn fd_allocate(&mut self, fd: u32, offset: u64, len: u64) -> CallResult {
        let desc = self.desc(fd)?;
        let (DescriptorKind::File(file), Handle::File(host)) = (&desc.state.kind, &desc.handle)
        else {
            return Err(Errno::BADF.into());
        };
        if !file.write {
            return Err(Errno::BADF.into());
        }
        desc.require(rights::FD_ALLOCATE)?;
        let end = offset.checked_add(len).ok_or(Errno::FBIG)?;
        if end > i64::MAX as u64 {
            return Err(Errno::FBIG.into());
        }
        if host.metadata()?.len() < end {
            host.set_len(end)?;
        }
        Ok(())
    }

    pub(crate) fn fd_sync(&mut self, fd: u32, data_only: bool) -> CallResult {
        let desc = self.desc(fd)?;
        let right = if data_only {
            rights::FD_DATASYNC
        } else {
            rights::FD_SYNC
        };
        match &desc.handle {
            Handle::File(file) => {
                desc.require(right)?;
                if data_only {
                    file.sync_data()?
                } else {
                    file.sync_all()?
                }
            }
            Handle::Dir(dir) => {
                desc.require(right)?;
                dir.dir.sync()?
            }
            _ => return Err(Errno::BADF.into()),
        }
        Ok(())
    }

    pub(crate) fn fd_prestat_get(&mut self, m: &mut Mem<'_>, fd: u32, out: u32) -> CallResult {
        m.check(out, PRESTAT_SIZE)?;
        let name = self.preopen_name(fd)?;
        let mut bytes = [0u8; PRESTAT_SIZE as usize];
        // Tag 0: a directory.
        bytes[4..8].copy_from_slice(&(name.len() as u32).to_le_bytes());
        m.write(out, &bytes)?;
        Ok(())
    }

    /// Copies the preopen's guest path (not NUL-terminated). A buffer shorter than the
    /// length `fd_prestat_get` gave is `ENAMETOOLONG` and left untouched, as in wasmtime.
    pub(crate) fn fd_prestat_dir_name(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        buf: u32,
        len: u32,
    ) -> CallResult {
        m.check(buf, len)?;
        let name = self.preopen_name(fd)?;
        if name.len() > len as usize {
            return Err(Errno::NAMETOOLONG.into());
        }
        m.write(buf, name.as_bytes())?;
        Ok(())
    }

    fn preopen_name(&self, fd: u32) -> Result<String, Errno> {
        match self.desc(fd)?.kind() {
            DescriptorKind::Dir(dir) if dir.is_preopen => self
                .preopens
                .get(dir.location.preopen as usize)
                .map(|p| p.guest_path.clone())
                .ok_or(Errno::BADF),
            _ => Err(Errno::BADF),
        }
    }

    /// Lists a directory in pages. Entries are `.`, `..`, then the rest sorted by name, so
    /// cookies (an entry's index + 1) stay meaningful across calls and across a rebuild.
    /// The last entry may be cut short: a full buffer tells the guest to ask again.
    pub(crate) fn fd_readdir(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        buf: u32,
        buf_len: u32,
        cookie: u64,
        bufused: u32,
    ) -> CallResult {
        m.check(buf, buf_len)?;
        m.check(bufused, 4)?;
        let desc = self.desc_mut(fd)?;
        let (DescriptorKind::Dir(state), Handle::Dir(handle)) =
            (&mut desc.state.kind, &mut desc.handle)
        else {
            return Err(match desc.kind() {
                DescriptorKind::File(_) => Errno::NOTDIR,
                _ => Errno::BADF,
            }
            .into());
        };
        if desc.state.rights_base & rights::FD_READDIR == 0 {
            return Err(Errno::NOTCAPABLE.into());
        }
        // A listing is taken when a scan starts (cookie 0) and reused while it pages on.
        if cookie == 0 || handle.listing.is_none() {
            handle.listing = Some(listing(handle)?);
        }
        let entries = handle.listing.as_ref().expect("just set");
        let mut out = Vec::with_capacity(buf_len as usize);
        let mut next_cookie = cookie;
        for (i, entry) in entries
            .iter()
            .enumerate()
            .skip(cookie.min(usize::MAX as u64) as usize)
        {
            if out.len() >= buf_len as usize {
                break;
            }
            let header = abi::encode_dirent(
                i as u64 + 1,
                entry.ino,
                entry.name.len() as u32,
                entry.filetype,
            );
            out.extend_from_slice(&header);
            out.extend_from_slice(entry.name.as_bytes());
            if out.len() <= buf_len as usize {
                next_cookie = i as u64 + 1;
            }
        }
        out.truncate(buf_len as usize);
        state.readdir_cookie = next_cookie;
        m.write(buf, &out)?;
        m.write_u32(bufused, out.len() as u32)?;
        Ok(())
    }
}

/// `.`, `..`, then the directory's entries in name order.
fn listing(handle: &DirHandle) -> Result<Vec<Entry>, Errno> {
    let mut entries = handle.dir.entries()?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let ino_of = |path: &str| handle.dir.stat(path, true).map_or(0, |s| s.ino);
    let mut out = vec![
        Entry {
            name: ".".into(),
            filetype: filetype::DIRECTORY,
            ino: ino_of("."),
        },
        Entry {
            name: "..".into(),
            filetype: filetype::DIRECTORY,
            // The parent of a preopen is outside the sandbox: its number stays hidden.
            ino: ino_of(".."),
        },
    ];
    out.extend(entries);
    Ok(out)
}

/// The times a `*_set_times` call asks for: `None` leaves a time unchanged.
pub(crate) fn time_specs(
    atim: u64,
    mtim: u64,
    flags: u32,
) -> Result<(Option<TimeSpec>, Option<TimeSpec>), Errno> {
    let flags = u16::try_from(flags).map_err(|_| Errno::INVAL)?;
    if flags & !0xf != 0 {
        return Err(Errno::INVAL);
    }
    let pick = |set: u16, now: u16, value: u64| match (flags & set != 0, flags & now != 0) {
        (true, true) => Err(Errno::INVAL),
        (true, false) => Ok(Some(TimeSpec::At(host::system_time(value)))),
        (false, true) => Ok(Some(TimeSpec::Now)),
        (false, false) => Ok(None),
    };
    Ok((
        pick(fstflags::ATIM, fstflags::ATIM_NOW, atim)?,
        pick(fstflags::MTIM, fstflags::MTIM_NOW, mtim)?,
    ))
}
