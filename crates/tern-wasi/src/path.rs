//! The `path_*` family. Every path is resolved by the confined [`HostDir`] of the
//! directory descriptor it is relative to, so nothing outside the preopens is reachable.

// The methods take the witx parameters one by one, as the guest passes them.
#![allow(clippy::too_many_arguments)]

use crate::abi::{FILESTAT_SIZE, LOOKUP_SYMLINK_FOLLOW, fdflags, filetype, oflags, rights};
use crate::ctx::{CallResult, DirHandle, Handle, WasiCtx};
use crate::errno::Errno;
use crate::fd::time_specs;
use crate::host::{HostDir, OpenSpec, Opened};
use crate::memory::Mem;
use crate::state::{DescriptorKind, DescriptorState, DirState, FileState, Location};

/// `base/path` with empty and `.` components dropped. `..` is kept: only the host can
/// resolve it correctly (a symlinked directory's `..` is not its lexical parent), and
/// reopening the joined path from the preopen resolves it the same way again.
pub(crate) fn join(base: &str, path: &str) -> String {
    base.split('/')
        .chain(path.split('/'))
        .filter(|part| !part.is_empty() && *part != ".")
        .collect::<Vec<_>>()
        .join("/")
}

impl WasiCtx {
    /// The confined directory and location of directory descriptor `fd`, after checking
    /// `right`. A file is `ENOTDIR`; anything else (stdio, sockets) `EBADF`, as in
    /// wasmtime.
    fn dir(&self, fd: u32, right: u64) -> Result<(&HostDir, &Location), Errno> {
        let desc = self.desc(fd)?;
        match (&desc.state.kind, &desc.handle) {
            (DescriptorKind::Dir(state), Handle::Dir(handle)) => {
                desc.require(right)?;
                Ok((&handle.dir, &state.location))
            }
            (DescriptorKind::File(_), _) => Err(Errno::NOTDIR),
            _ => Err(Errno::BADF),
        }
    }

    /// Reads a guest path; the empty path names nothing (`ENOENT`).
    fn path(m: &Mem<'_>, ptr: u32, len: u32) -> Result<String, Errno> {
        let path = m.string(ptr, len)?;
        if path.is_empty() {
            return Err(Errno::NOENT);
        }
        if path.contains('\0') {
            return Err(Errno::ILSEQ);
        }
        Ok(path)
    }

    pub(crate) fn path_open(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        lookup: u32,
        (path, path_len): (u32, u32),
        oflags: u32,
        (base, inheriting): (u64, u64),
        fdflags: u32,
        out: u32,
    ) -> CallResult {
        m.check(out, 4)?;
        let path = Self::path(m, path, path_len)?;
        let oflags = u16::try_from(oflags)
            .ok()
            .filter(|o| o & !0xf == 0)
            .ok_or(Errno::INVAL)?;
        let fdflags = u16::try_from(fdflags)
            .ok()
            .filter(|f| f & !fdflags::ALL == 0)
            .ok_or(Errno::INVAL)?;
        let parent = self.desc(fd)?;
        let parent_inheriting = parent.state.rights_inheriting;
        let mut need = rights::PATH_OPEN;
        if oflags & oflags::CREAT != 0 {
            need |= rights::PATH_CREATE_FILE;
        }
        if oflags & oflags::TRUNC != 0 {
            need |= rights::PATH_FILESTAT_SET_SIZE;
        }
        let (dir, location) = self.dir(fd, need)?;
        let read = base & (rights::FD_READ | rights::FD_READDIR) != 0;
        // `oflags::directory` opens are never for writing: write rights are simply masked
        // away below (some toolchains ask for every right), while a plain open of a
        // directory with write rights is `EISDIR`, as in POSIX and wasmtime.
        let write = oflags & oflags::DIRECTORY == 0
            && (base & (rights::FD_WRITE | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE)
                != 0
                || fdflags & fdflags::APPEND != 0);
        let spec = OpenSpec {
            read,
            write,
            create: oflags & oflags::CREAT != 0,
            excl: oflags & oflags::EXCL != 0,
            trunc: oflags & oflags::TRUNC != 0,
            follow: lookup & LOOKUP_SYMLINK_FOLLOW != 0,
            directory: oflags & oflags::DIRECTORY != 0,
            sync: fdflags & (fdflags::SYNC | fdflags::RSYNC) != 0,
            dsync: fdflags & fdflags::DSYNC != 0,
        };
        let location = Location {
            preopen: location.preopen,
            path: join(&location.path, &path),
        };
        let opened = dir.open(&path, &spec)?;
        let (kind, mask, handle) = match opened {
            Opened::File(file) => (
                DescriptorKind::File(FileState {
                    location,
                    oflags,
                    read,
                    write,
                    offset: 0,
                    identity: None,
                }),
                rights::FILE,
                Handle::File(file),
            ),
            Opened::Dir(dir) => {
                if spec.write {
                    return Err(Errno::ISDIR.into());
                }
                (
                    DescriptorKind::Dir(DirState {
                        location,
                        is_preopen: false,
                        readdir_cookie: 0,
                    }),
                    rights::DIR,
                    Handle::Dir(DirHandle { dir, listing: None }),
                )
            }
        };
        // Rights never grow: what was asked for, limited to what the type supports and
        // to what the parent hands down.
        let state = DescriptorState {
            kind,
            fdflags,
            rights_base: base & mask & parent_inheriting,
            rights_inheriting: inheriting & parent_inheriting,
        };
        let new_fd = self.insert(state, handle)?;
        m.write_u32(out, new_fd)?;
        Ok(())
    }

    pub(crate) fn path_create_directory(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        path: u32,
        len: u32,
    ) -> CallResult {
        let path = Self::path(m, path, len)?;
        let (dir, _) = self.dir(fd, rights::PATH_CREATE_DIRECTORY)?;
        dir.create_dir(&path)?;
        Ok(())
    }

    pub(crate) fn path_remove_directory(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        path: u32,
        len: u32,
    ) -> CallResult {
        let path = Self::path(m, path, len)?;
        let (dir, _) = self.dir(fd, rights::PATH_REMOVE_DIRECTORY)?;
        dir.remove_dir(&path)?;
        Ok(())
    }

    pub(crate) fn path_unlink_file(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        path: u32,
        len: u32,
    ) -> CallResult {
        let path = Self::path(m, path, len)?;
        let (dir, _) = self.dir(fd, rights::PATH_UNLINK_FILE)?;
        dir.remove_file(&path)?;
        Ok(())
    }

    pub(crate) fn path_rename(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        old: u32,
        old_len: u32,
        new_fd: u32,
        new: u32,
        new_len: u32,
    ) -> CallResult {
        let old = Self::path(m, old, old_len)?;
        let new = Self::path(m, new, new_len)?;
        let (from_dir, from_loc) = self.dir(fd, rights::PATH_RENAME_SOURCE)?;
        let (to_dir, to_loc) = self.dir(new_fd, rights::PATH_RENAME_TARGET)?;
        from_dir.rename(&old, to_dir, &new)?;
        let from = Location {
            preopen: from_loc.preopen,
            path: join(&from_loc.path, &old),
        };
        let to = Location {
            preopen: to_loc.preopen,
            path: join(&to_loc.path, &new),
        };
        self.follow_rename(&from, &to);
        Ok(())
    }

    /// Open descriptors keep the object, not the name: after a rename their recorded
    /// location follows it, so a rebuild reopens the right file.
    fn follow_rename(&mut self, from: &Location, to: &Location) {
        for desc in self.fds.values_mut() {
            let location = match &mut desc.state.kind {
                DescriptorKind::File(f) => &mut f.location,
                DescriptorKind::Dir(d) if !d.is_preopen => &mut d.location,
                _ => continue,
            };
            if location.preopen != from.preopen {
                continue;
            }
            let rest = if location.path == from.path {
                Some(String::new())
            } else {
                location
                    .path
                    .strip_prefix(&format!("{}/", from.path))
                    .map(str::to_string)
            };
            if let Some(rest) = rest {
                *location = Location {
                    preopen: to.preopen,
                    path: join(&to.path, &rest),
                };
            }
        }
    }

    pub(crate) fn path_link(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        _lookup: u32,
        old: u32,
        old_len: u32,
        new_fd: u32,
        new: u32,
        new_len: u32,
    ) -> CallResult {
        let old = Self::path(m, old, old_len)?;
        let new = Self::path(m, new, new_len)?;
        let (from_dir, _) = self.dir(fd, rights::PATH_LINK_SOURCE)?;
        let (to_dir, _) = self.dir(new_fd, rights::PATH_LINK_TARGET)?;
        // Like `linkat` without AT_SYMLINK_FOLLOW, a symlink is linked itself; the follow
        // flag is not honoured (wasmtime ignores it too).
        from_dir.hard_link(&old, to_dir, &new)?;
        Ok(())
    }

    pub(crate) fn path_symlink(
        &mut self,
        m: &mut Mem<'_>,
        target: u32,
        target_len: u32,
        fd: u32,
        path: u32,
        path_len: u32,
    ) -> CallResult {
        let target = Self::path(m, target, target_len)?;
        let path = Self::path(m, path, path_len)?;
        let (dir, _) = self.dir(fd, rights::PATH_SYMLINK)?;
        dir.symlink(&target, &path)?;
        Ok(())
    }

    /// The raw link target, cut to the buffer (`bufused` says how much was written).
    pub(crate) fn path_readlink(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        path: u32,
        path_len: u32,
        buf: u32,
        buf_len: u32,
        bufused: u32,
    ) -> CallResult {
        let path = Self::path(m, path, path_len)?;
        m.check(buf, buf_len)?;
        m.check(bufused, 4)?;
        let (dir, _) = self.dir(fd, rights::PATH_READLINK)?;
        let target = dir.read_link(&path)?;
        let n = target.len().min(buf_len as usize);
        m.write(buf, &target[..n])?;
        m.write_u32(bufused, n as u32)?;
        Ok(())
    }

    pub(crate) fn path_filestat_get(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        lookup: u32,
        path: u32,
        path_len: u32,
        out: u32,
    ) -> CallResult {
        let path = Self::path(m, path, path_len)?;
        m.check(out, FILESTAT_SIZE)?;
        let (dir, _) = self.dir(fd, rights::PATH_FILESTAT_GET)?;
        let stat = dir.stat(&path, lookup & LOOKUP_SYMLINK_FOLLOW != 0)?;
        debug_assert!(stat.filetype != filetype::SOCKET_DGRAM);
        m.write(out, &stat.encode())?;
        Ok(())
    }

    pub(crate) fn path_filestat_set_times(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        lookup: u32,
        path: u32,
        path_len: u32,
        atim: u64,
        mtim: u64,
        flags: u32,
    ) -> CallResult {
        let path = Self::path(m, path, path_len)?;
        let (atime, mtime) = time_specs(atim, mtim, flags)?;
        let (dir, _) = self.dir(fd, rights::PATH_FILESTAT_SET_TIMES)?;
        dir.set_times(&path, lookup & LOOKUP_SYMLINK_FOLLOW != 0, atime, mtime)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn joins_locations() {
        assert_eq!(join("", "a/./b//c"), "a/b/c");
        assert_eq!(join("sub", "./x"), "sub/x");
        assert_eq!(join("sub", "../x"), "sub/../x");
        assert_eq!(join("", "."), "");
    }
}
