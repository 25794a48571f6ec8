//! Confined directories without cap-std, for the self-hosted `wasm32-wasip1` build.
//!
//! A path is resolved one component at a time from the directory's place under its root:
//! `.` is skipped, `..` pops (and fails at the root), symlinks are read and spliced in
//! (absolute targets fail, at most 40 of them). The result is a host path that contains
//! no symlink left to follow. Escapes fail like cap-std's, with `EPERM`.
//!
//! Unlike cap-std this is not race-free against a host process swapping directories for
//! symlinks mid-walk; inside WASI the outer runtime's own sandbox still applies.

use super::{Entry, OpenSpec, Opened, TimeSpec, filetype_of, set_file_times, std_filestat};
use crate::abi::Filestat;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A directory the guest may reach paths under. Like a cap-std handle, every directory is
/// its own root: nothing above it is reachable through it.
#[derive(Debug, Clone)]
pub(crate) struct HostDir {
    root: Arc<PathBuf>,
}

fn escape() -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        "a path led outside of the filesystem",
    )
}

impl HostDir {
    pub fn open_ambient(path: &Path) -> io::Result<HostDir> {
        if !fs::metadata(path)?.is_dir() {
            return Err(io::ErrorKind::NotADirectory.into());
        }
        Ok(HostDir {
            root: Arc::new(path.to_path_buf()),
        })
    }

    fn host_path(&self, parts: &[String]) -> PathBuf {
        let mut out = (*self.root).clone();
        out.extend(parts);
        out
    }

    /// Resolves `path` to the components below the root; with `follow_last` a symlink in
    /// the last component is followed too.
    fn resolve(&self, path: &str, follow_last: bool) -> io::Result<(PathBuf, Vec<String>)> {
        if path.starts_with('/') {
            return Err(escape());
        }
        let trailing_slash = path.ends_with('/');
        let mut stack = Vec::new();
        let mut queue: VecDeque<String> = split(path);
        let mut links = 0;
        while let Some(part) = queue.pop_front() {
            match part.as_str() {
                "." => continue,
                ".." => {
                    stack.pop().ok_or_else(escape)?;
                    continue;
                }
                _ => {}
            }
            let last = queue.is_empty();
            let mut candidate = stack.clone();
            candidate.push(part.clone());
            let host = self.host_path(&candidate);
            let is_link = fs::symlink_metadata(&host).is_ok_and(|m| m.is_symlink());
            if is_link && (!last || follow_last || trailing_slash) {
                links += 1;
                if links > 40 {
                    return Err(io::Error::from_raw_os_error(32) /* WASI ELOOP */);
                }
                let target = fs::read_link(&host)?;
                let target = target.to_string_lossy();
                if target.starts_with('/') {
                    return Err(escape());
                }
                for piece in split(&target).into_iter().rev() {
                    queue.push_front(piece);
                }
                continue;
            }
            stack.push(part);
        }
        let mut host = self.host_path(&stack);
        if trailing_slash {
            // Keep the slash so the host insists on a directory.
            host.push("");
        }
        Ok((host, stack))
    }

    pub fn open(&self, path: &str, spec: &OpenSpec) -> io::Result<Opened> {
        let (host, parts) = self.resolve(path, spec.follow)?;
        let meta = fs::symlink_metadata(&host);
        if meta.as_ref().is_ok_and(|m| m.is_symlink()) {
            // Only reached without `follow`: O_NOFOLLOW semantics.
            return Err(io::Error::from_raw_os_error(32) /* WASI ELOOP */);
        }
        let is_dir = meta.as_ref().is_ok_and(|m| m.is_dir());
        if spec.directory || is_dir {
            if !is_dir {
                return Err(meta.err().unwrap_or(io::ErrorKind::NotADirectory.into()));
            }
            if spec.write || spec.excl {
                return Err(if spec.excl {
                    io::ErrorKind::AlreadyExists.into()
                } else {
                    io::ErrorKind::IsADirectory.into()
                });
            }
            return Ok(Opened::Dir(HostDir {
                root: Arc::new(self.host_path(&parts)),
            }));
        }
        let mut options = OpenOptions::new();
        options
            .read(spec.read || !spec.write)
            .write(spec.write || spec.create)
            .truncate(spec.trunc && spec.write)
            .create(spec.create)
            .create_new(spec.excl);
        let file = options.open(&host)?;
        if spec.create && !spec.write {
            // Created for writing (std needs that); hand out the read-only view asked for.
            return Ok(Opened::File(File::open(&host)?));
        }
        Ok(Opened::File(file))
    }

    pub fn create_dir(&self, path: &str) -> io::Result<()> {
        fs::create_dir(self.resolve(path, false)?.0)
    }

    pub fn remove_dir(&self, path: &str) -> io::Result<()> {
        fs::remove_dir(self.resolve(path, false)?.0)
    }

    pub fn remove_file(&self, path: &str) -> io::Result<()> {
        fs::remove_file(self.resolve(path, false)?.0)
    }

    pub fn rename(&self, from: &str, to_dir: &HostDir, to: &str) -> io::Result<()> {
        fs::rename(self.resolve(from, false)?.0, to_dir.resolve(to, false)?.0)
    }

    pub fn hard_link(&self, from: &str, to_dir: &HostDir, to: &str) -> io::Result<()> {
        fs::hard_link(self.resolve(from, false)?.0, to_dir.resolve(to, false)?.0)
    }

    pub fn symlink(&self, target: &str, path: &str) -> io::Result<()> {
        if target.starts_with('/') {
            return Err(escape());
        }
        // `std::os::wasi::fs::symlink_path` is unstable; the deprecated portable call is
        // the stable way to reach `path_symlink` of the outer runtime.
        #[allow(deprecated)]
        fs::soft_link(target, self.resolve(path, false)?.0)
    }

    pub fn read_link(&self, path: &str) -> io::Result<Vec<u8>> {
        let target = fs::read_link(self.resolve(path, false)?.0)?;
        Ok(target.to_string_lossy().into_owned().into_bytes())
    }

    pub fn stat(&self, path: &str, follow: bool) -> io::Result<Filestat> {
        let host = self.resolve(path, follow)?.0;
        Ok(std_filestat(&fs::symlink_metadata(host)?))
    }

    pub fn stat_self(&self) -> io::Result<Filestat> {
        Ok(std_filestat(&fs::metadata(self.root.as_path())?))
    }

    pub fn set_times(
        &self,
        path: &str,
        follow: bool,
        atime: Option<TimeSpec>,
        mtime: Option<TimeSpec>,
    ) -> io::Result<()> {
        let host = self.resolve(path, follow)?.0;
        if fs::symlink_metadata(&host)?.is_symlink() {
            return Err(io::ErrorKind::Unsupported.into());
        }
        set_file_times(&File::open(host)?, atime, mtime)
    }

    pub fn entries(&self) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.root.as_path())? {
            let entry = entry?;
            out.push(Entry {
                name: entry.file_name().to_string_lossy().into_owned(),
                filetype: filetype_of(entry.file_type()?),
                ino: 0,
            });
        }
        Ok(out)
    }

    pub fn sync(&self) -> io::Result<()> {
        File::open(self.root.as_path())?.sync_all()
    }
}

fn split(path: &str) -> VecDeque<String> {
    path.split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}
