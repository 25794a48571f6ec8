//! The host side: confined directories, positional file I/O and readiness waits.
//!
//! Two implementations of [`HostDir`] share one interface:
//! - `cap` (every host but WASI): `cap-std` resolves each path relative to a directory
//!   handle and refuses `..`, absolute paths and symlinks that leave it.
//! - `walk` (`wasm32-wasip1`, the self-hosted build): cap-std does not build there, so
//!   paths are resolved one component at a time by tern itself, following symlinks by
//!   hand and refusing the same escapes. The outer WASI runtime confines us further.

use crate::abi::{Filestat, filetype};
use std::fs::File;
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(not(target_os = "wasi"))]
mod cap;
#[cfg(not(target_os = "wasi"))]
pub(crate) use cap::HostDir;

#[cfg(target_os = "wasi")]
mod walk;
#[cfg(target_os = "wasi")]
pub(crate) use walk::HostDir;

mod wait;
pub(crate) use wait::{Readiness, wait_ready};

/// How `path_open` wants a file opened.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OpenSpec {
    pub read: bool,
    pub write: bool,
    pub create: bool,
    pub excl: bool,
    pub trunc: bool,
    /// Follow a symlink in the last component.
    pub follow: bool,
    /// `oflags::directory`: the result must be a directory.
    pub directory: bool,
    /// `fdflags` `sync`/`dsync`/`rsync` bits, passed to the host open (std has no
    /// stable way to pass them on WASI hosts).
    #[cfg_attr(target_os = "wasi", allow(dead_code))]
    pub sync: bool,
    #[cfg_attr(target_os = "wasi", allow(dead_code))]
    pub dsync: bool,
}

/// What a `path_open` produced.
pub(crate) enum Opened {
    File(File),
    Dir(HostDir),
}

/// A timestamp for `*_set_times`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TimeSpec {
    Now,
    At(SystemTime),
}

/// One directory entry, for `fd_readdir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub name: String,
    pub filetype: u8,
    pub ino: u64,
}

/// Nanoseconds since the Unix epoch (0 before it or when unknown).
pub(crate) fn nanos(time: io::Result<SystemTime>) -> u64 {
    time.ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
}

/// A WASI timestamp as a host time.
pub(crate) fn system_time(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns)
}

/// Reads at `offset` without touching the host file cursor (tern keeps offsets itself).
#[cfg(unix)]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

/// Writes at `offset` without touching the host file cursor.
#[cfg(unix)]
pub(crate) fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::write_at(file, buf, offset)
}

// Without positional I/O in stable std, seek first: the host cursor is never relied on.
#[cfg(not(unix))]
pub(crate) fn read_at(mut file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read(buf)
}

#[cfg(not(unix))]
pub(crate) fn write_at(mut file: &File, buf: &[u8], offset: u64) -> io::Result<usize> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(offset))?;
    file.write(buf)
}

/// Sets a file's times; `None` leaves that time unchanged.
pub(crate) fn set_file_times(
    file: &File,
    atime: Option<TimeSpec>,
    mtime: Option<TimeSpec>,
) -> io::Result<()> {
    let resolve = |t: TimeSpec| match t {
        TimeSpec::Now => SystemTime::now(),
        TimeSpec::At(t) => t,
    };
    let mut times = std::fs::FileTimes::new();
    if let Some(t) = atime {
        times = times.set_accessed(resolve(t));
    }
    if let Some(t) = mtime {
        times = times.set_modified(resolve(t));
    }
    file.set_times(times)
}

/// The WASI file type of a host file type.
pub(crate) fn filetype_of(ft: std::fs::FileType) -> u8 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_block_device() {
            return filetype::BLOCK_DEVICE;
        }
        if ft.is_char_device() {
            return filetype::CHARACTER_DEVICE;
        }
        if ft.is_socket() {
            return filetype::SOCKET_STREAM;
        }
    }
    if ft.is_dir() {
        filetype::DIRECTORY
    } else if ft.is_file() {
        filetype::REGULAR_FILE
    } else if ft.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else {
        filetype::UNKNOWN
    }
}

/// Filestat of an open file.
pub(crate) fn file_stat(file: &File) -> io::Result<Filestat> {
    Ok(std_filestat(&file.metadata()?))
}

/// Filestat of a std `Metadata` (file descriptors, and every path on the walk host).
pub(crate) fn std_filestat(meta: &std::fs::Metadata) -> Filestat {
    #[cfg(unix)]
    let (dev, ino, nlink, ctim) = {
        use std::os::unix::fs::MetadataExt;
        let ctim = (meta.ctime().max(0) as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.ctime_nsec().max(0) as u64);
        (meta.dev(), meta.ino(), meta.nlink(), ctim)
    };
    // The WASI `MetadataExt` is unstable; inode numbers are not available there.
    #[cfg(not(unix))]
    let (dev, ino, nlink, ctim) = (0, 0, 1, nanos(meta.modified()));
    Filestat {
        dev,
        ino,
        filetype: filetype_of(meta.file_type()),
        nlink,
        size: meta.len(),
        atim: nanos(meta.accessed()),
        mtim: nanos(meta.modified()),
        ctim,
    }
}

#[cfg(test)]
mod tests;
