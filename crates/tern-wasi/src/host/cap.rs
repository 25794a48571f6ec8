//! Confined directories on cap-std: every path is resolved relative to a directory handle
//! and cannot leave it (`..` past the top, absolute paths and symlinks pointing outside
//! all fail with cap-std's "a path led outside of the filesystem", which maps to `EPERM`
//! like in wasmtime).

use super::{Entry, OpenSpec, Opened, TimeSpec, nanos};
use crate::abi::Filestat;
use cap_fs_ext::{
    DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt,
    SystemTimeSpec,
};
use cap_std::fs::{Dir, Metadata, OpenOptions};
use std::io;
use std::path::Path;

/// A directory the guest may reach paths under.
#[derive(Debug)]
pub(crate) struct HostDir(Dir);

impl HostDir {
    /// Opens a host directory by its ambient path: only the embedder does this (preopens).
    pub fn open_ambient(path: &Path) -> io::Result<HostDir> {
        Dir::open_ambient_dir(path, cap_std::ambient_authority()).map(HostDir)
    }

    pub fn open(&self, path: &str, spec: &OpenSpec) -> io::Result<Opened> {
        let follow = if spec.follow {
            FollowSymlinks::Yes
        } else {
            FollowSymlinks::No
        };
        if spec.directory {
            let dir = if spec.follow {
                self.0.open_dir(path)?
            } else {
                self.0.open_dir_nofollow(path)?
            };
            return Ok(Opened::Dir(HostDir(dir)));
        }
        // std (and cap-std) refuse `create` without write access, but POSIX and WASI
        // allow it: create the file first, then open it the way it was asked for.
        if spec.create && !spec.write {
            let mut create = OpenOptions::new();
            create.write(true).follow(follow);
            if spec.excl {
                create.create_new(true);
            } else {
                create.create(true);
            }
            match self.0.open_with(path, &create) {
                Ok(_) => {}
                // Not a regular file after all (the open below reports it properly).
                Err(e) if e.kind() == io::ErrorKind::IsADirectory && !spec.excl => {}
                Err(e) => return Err(e),
            }
            let plain = OpenSpec {
                create: false,
                excl: false,
                ..*spec
            };
            return self.open(path, &plain);
        }
        let mut options = OpenOptions::new();
        options
            .read(spec.read || !spec.write)
            .write(spec.write)
            .truncate(spec.trunc && spec.write)
            .follow(follow)
            .maybe_dir(true)
            .sync(spec.sync)
            .dsync(spec.dsync);
        if spec.excl {
            options.create_new(true);
        } else if spec.create {
            options.create(true);
        }
        let file = self.0.open_with(path, &options)?;
        if file.metadata()?.is_dir() {
            return Ok(Opened::Dir(HostDir(Dir::from_std_file(file.into_std()))));
        }
        Ok(Opened::File(file.into_std()))
    }

    pub fn create_dir(&self, path: &str) -> io::Result<()> {
        self.0.create_dir(path)
    }

    pub fn remove_dir(&self, path: &str) -> io::Result<()> {
        self.0.remove_dir(path)
    }

    pub fn remove_file(&self, path: &str) -> io::Result<()> {
        self.0.remove_file(path)
    }

    pub fn rename(&self, from: &str, to_dir: &HostDir, to: &str) -> io::Result<()> {
        self.0.rename(from, &to_dir.0, to)
    }

    pub fn hard_link(&self, from: &str, to_dir: &HostDir, to: &str) -> io::Result<()> {
        self.0.hard_link(from, &to_dir.0, to)
    }

    /// Creates symlink `path` → `target`. Absolute targets are refused (`EPERM`): inside
    /// the sandbox they could never be followed anyway.
    pub fn symlink(&self, target: &str, path: &str) -> io::Result<()> {
        #[cfg(unix)]
        return self.0.symlink(target, path);
        #[cfg(windows)]
        return DirExt::symlink(&self.0, target, path);
    }

    /// The raw target of a symlink (it may well point outside; reading it is harmless).
    pub fn read_link(&self, path: &str) -> io::Result<Vec<u8>> {
        let target = self.0.read_link_contents(path)?;
        #[cfg(unix)]
        return Ok(std::os::unix::ffi::OsStrExt::as_bytes(target.as_os_str()).to_vec());
        #[cfg(not(unix))]
        return Ok(target.to_string_lossy().into_owned().into_bytes());
    }

    pub fn stat(&self, path: &str, follow: bool) -> io::Result<Filestat> {
        let meta = if follow {
            self.0.metadata(path)?
        } else {
            self.0.symlink_metadata(path)?
        };
        Ok(filestat(&meta))
    }

    pub fn stat_self(&self) -> io::Result<Filestat> {
        Ok(filestat(&self.0.dir_metadata()?))
    }

    pub fn set_times(
        &self,
        path: &str,
        follow: bool,
        atime: Option<TimeSpec>,
        mtime: Option<TimeSpec>,
    ) -> io::Result<()> {
        let (atime, mtime) = (atime.map(spec), mtime.map(spec));
        if follow {
            self.0.set_times(path, atime, mtime)
        } else {
            self.0.set_symlink_times(path, atime, mtime)
        }
    }

    /// Every entry except `.` and `..`.
    pub fn entries(&self) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for entry in self.0.entries()? {
            let entry = entry?;
            let ft = entry.file_type()?;
            #[cfg(unix)]
            let ino = rustix::fs::DirEntryExt::ino(&entry);
            #[cfg(not(unix))]
            let ino = 0;
            out.push(Entry {
                name: entry.file_name().to_string_lossy().into_owned(),
                filetype: filetype_of_cap(ft),
                ino,
            });
        }
        Ok(out)
    }

    pub fn sync(&self) -> io::Result<()> {
        self.0.try_clone()?.into_std_file().sync_all()
    }
}

fn spec(t: TimeSpec) -> SystemTimeSpec {
    match t {
        TimeSpec::Now => SystemTimeSpec::SymbolicNow,
        TimeSpec::At(t) => SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(t)),
    }
}

fn filetype_of_cap(ft: cap_std::fs::FileType) -> u8 {
    use crate::abi::filetype;
    use cap_fs_ext::FileTypeExt;
    if ft.is_dir() {
        filetype::DIRECTORY
    } else if ft.is_file() {
        filetype::REGULAR_FILE
    } else if ft.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if FileTypeExt::is_block_device(&ft) {
        filetype::BLOCK_DEVICE
    } else if FileTypeExt::is_char_device(&ft) {
        filetype::CHARACTER_DEVICE
    } else if FileTypeExt::is_socket(&ft) {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    }
}

fn filestat(meta: &Metadata) -> Filestat {
    let time = |t: io::Result<cap_std::time::SystemTime>| nanos(t.map(|t| t.into_std()));
    let mtim = time(meta.modified());
    #[cfg(unix)]
    let ctim = {
        use cap_fs_ext::OsMetadataExt;
        (meta.ctime().max(0) as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.ctime_nsec().max(0) as u64)
    };
    #[cfg(not(unix))]
    let ctim = mtim;
    Filestat {
        dev: cap_fs_ext::MetadataExt::dev(meta),
        ino: cap_fs_ext::MetadataExt::ino(meta),
        filetype: filetype_of_cap(meta.file_type()),
        nlink: cap_fs_ext::MetadataExt::nlink(meta),
        size: meta.len(),
        atim: time(meta.accessed()),
        mtim,
        ctim,
    }
}
