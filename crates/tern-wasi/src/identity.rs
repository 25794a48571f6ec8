//! Whether an open file is still the file the program had open: what a checkpoint records
//! about it ([`FileIdentity`]), why a checkpoint refuses a file it could not reopen
//! ([`CaptureError`]), and the comparison a rebuild makes before it hands out a context.
//!
//! A restore reopens files by path, so two things can go wrong. The path may no longer
//! lead to the file (the program holds a file that was unlinked, or another file was
//! renamed over it): that is known at the checkpoint already, so the checkpoint fails
//! rather than write a snapshot that cannot be restored. Or the file at the path changed
//! between checkpoint and restore: the rebuild compares it with the recorded identity.
//!
//! # Why a sampled fingerprint
//!
//! Checkpoints may come every few hundred milliseconds while the program holds a
//! multi-gigabyte file open, so hashing whole files would make every checkpoint and
//! restore as slow as reading all the data. The fingerprint is SHA-256 of the size, the
//! first 64 KiB and the last 64 KiB: at most 128 KiB read per file whatever its size, and
//! it sees what usually happens to files — truncation, appends, rewrites (which change a
//! header or a tail), another file renamed over the path. What the sample cannot see, an
//! edit in the middle of a larger file that keeps its size, shows in the modification
//! time, which is therefore compared for exactly those files. For a file of up to
//! 128 KiB the fingerprint covers every byte, so equal content is proof enough and the
//! time is not compared: a copy that did not keep its times (a plain `cp` to another
//! machine) still restores. SHA-256 rather than a fast non-cryptographic hash because the
//! workspace has it already and 128 KiB take well under a millisecond.

use crate::ctx::{Handle, WasiCtx};
use crate::host::{self, HostDir, OpenSpec, Opened};
use crate::rebuild::guest_path;
use crate::state::{DescriptorKind, FileIdentity, FileState, Location, PreopenState};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Bytes hashed from each end of a file.
pub(crate) const SAMPLE: u64 = 64 * 1024;

/// Why [`WasiCtx::state`] could not capture the program: an open file could not be
/// reopened by its path at restore.
#[derive(Debug)]
pub struct CaptureError {
    pub fd: u32,
    /// The path as the guest sees it, e.g. `/data/scratch`.
    pub guest_path: String,
    /// Where that path is on this host.
    pub host_path: PathBuf,
    pub kind: CaptureErrorKind,
}

#[derive(Debug)]
pub enum CaptureErrorKind {
    /// The file has no links left (`st_nlink == 0`): the temp-file pattern of unlinking
    /// a file and keeping it open.
    Unlinked,
    /// Nothing is at the descriptor's path any more (moved or unlinked behind tern's back).
    Missing,
    /// The path names another file now (something was renamed over it).
    Replaced,
    /// The file could not be examined.
    Io(io::Error),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let CaptureError {
            fd,
            guest_path,
            host_path,
            kind,
        } = self;
        let host_path = host_path.display();
        write!(f, "fd {fd} ({guest_path} → {host_path})")?;
        match kind {
            CaptureErrorKind::Unlinked => {
                f.write_str(" was unlinked while open; tern cannot restore it")
            }
            CaptureErrorKind::Missing => f.write_str(
                " was moved or unlinked while open (nothing is at its path); \
                 tern cannot restore it",
            ),
            CaptureErrorKind::Replaced => f.write_str(
                " was replaced while open (its path names another file now); \
                 tern cannot restore it",
            ),
            CaptureErrorKind::Io(error) => write!(f, ": cannot examine the open file: {error}"),
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            CaptureErrorKind::Io(error) => Some(error),
            _ => None,
        }
    }
}

/// The host path of a location, for messages.
pub(crate) fn host_path(preopens: &[PreopenState], location: &Location) -> PathBuf {
    let base = preopens
        .get(location.preopen as usize)
        .map_or("?", |p| p.host_path.as_str());
    Path::new(base).join(&location.path)
}

impl WasiCtx {
    /// The identity of the file behind `fd`, after making sure a restore can reopen it by
    /// its path: the file still has a link, and the path leads to it. `None` for what is
    /// not a regular file (a device, a FIFO), which has no content to compare.
    pub(crate) fn capture_identity(
        &self,
        fd: u32,
        file: &FileState,
        host: &File,
    ) -> Result<Option<FileIdentity>, CaptureError> {
        let fail = |kind| CaptureError {
            fd,
            guest_path: guest_path(&self.preopens, &file.location),
            host_path: host_path(&self.preopens, &file.location),
            kind,
        };
        let meta = host.metadata().map_err(|e| fail(CaptureErrorKind::Io(e)))?;
        if !meta.is_file() {
            return Ok(None);
        }
        let stat = host::std_filestat(&meta);
        if stat.nlink == 0 {
            return Err(fail(CaptureErrorKind::Unlinked));
        }
        let owned;
        let dir = match self.preopen_dir(file.location.preopen) {
            Some(dir) => dir,
            None => {
                let host_dir = self
                    .preopens
                    .get(file.location.preopen as usize)
                    .map(|p| PathBuf::from(&p.host_path))
                    .unwrap_or_default();
                owned =
                    HostDir::open_ambient(&host_dir).map_err(|e| fail(CaptureErrorKind::Io(e)))?;
                &owned
            }
        };
        // The restore follows symlinks in the path, and so does this look-up.
        let at_path = match dir.stat(&file.location.path, true) {
            Ok(at_path) => at_path,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(fail(CaptureErrorKind::Missing));
            }
            Err(e) => return Err(fail(CaptureErrorKind::Io(e))),
        };
        // Inode numbers are 0 where the host cannot tell them (the self-hosted build).
        if stat.ino != 0 && (at_path.dev, at_path.ino) != (stat.dev, stat.ino) {
            return Err(fail(CaptureErrorKind::Replaced));
        }
        // A write-only descriptor cannot be read: the fingerprint then comes from the same
        // file opened again by its path (just checked to be the same file). A file that
        // cannot be read at all gets no fingerprint; its size and time still count.
        let fingerprint = fingerprint_of(host, meta.len(), || reopen_for_reading(dir, file)).ok();
        Ok(Some(FileIdentity {
            size: meta.len(),
            mtime_ns: host::nanos(meta.modified()),
            fingerprint,
        }))
    }

    /// The live handle of preopen `index`, unless the guest closed it.
    fn preopen_dir(&self, index: u32) -> Option<&HostDir> {
        self.fds
            .values()
            .find_map(|desc| match (&desc.state.kind, &desc.handle) {
                (DescriptorKind::Dir(dir), Handle::Dir(handle))
                    if dir.is_preopen && dir.location.preopen == index =>
                {
                    Some(&handle.dir)
                }
                _ => None,
            })
    }
}

/// Opens `file`'s path under `dir` read-only, for a fingerprint of a write-only file.
pub(crate) fn reopen_for_reading(dir: &HostDir, file: &FileState) -> io::Result<File> {
    let spec = OpenSpec {
        read: true,
        follow: true,
        ..OpenSpec::default()
    };
    match dir.open(&file.location.path, &spec)? {
        Opened::File(file) => Ok(file),
        Opened::Dir(_) => Err(io::ErrorKind::IsADirectory.into()),
    }
}

/// Compares the file a rebuild just opened with the identity recorded at the checkpoint.
/// The error says what differs, for [`crate::SetupError::Changed`].
pub(crate) fn verify(
    recorded: &FileIdentity,
    file: &File,
    reader: impl FnOnce() -> io::Result<File>,
) -> Result<(), String> {
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot examine it: {e}"))?;
    if !meta.is_file() {
        return Err("it is no longer a regular file".into());
    }
    let size = meta.len();
    if size != recorded.size {
        return Err(format!(
            "size {size} bytes, snapshot recorded {}",
            recorded.size
        ));
    }
    if let Some(expected) = &recorded.fingerprint {
        let now = fingerprint_of(file, size, reader)
            .map_err(|e| format!("cannot read it to compare its content: {e}"))?;
        if &now != expected {
            return Err(format!("same size ({size} bytes) but different content"));
        }
    }
    let fully_compared = recorded.fingerprint.is_some() && size <= 2 * SAMPLE;
    let mtime_ns = host::nanos(meta.modified());
    if !fully_compared && mtime_ns != recorded.mtime_ns {
        return Err(format!(
            "modification time {}, snapshot recorded {} (only the first and last 64 KiB \
             are compared, so the time must match; a copy must keep it)",
            seconds(mtime_ns),
            seconds(recorded.mtime_ns)
        ));
    }
    Ok(())
}

/// `1712345678.123456789`: seconds since the epoch, exact to the nanosecond.
fn seconds(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// The fingerprint of a file of `size` bytes read through `file`, or through the handle
/// `reader` opens when `file` cannot be read (a write-only descriptor).
fn fingerprint_of(
    file: &File,
    size: u64,
    reader: impl FnOnce() -> io::Result<File>,
) -> io::Result<String> {
    fingerprint(file, size).or_else(|_| fingerprint(&reader()?, size))
}

/// SHA-256 of `size` (u64, little-endian), bytes `0..min(size, 64 KiB)` and the last
/// 64 KiB that do not overlap them, as lowercase hex (see [`FileIdentity::fingerprint`]).
pub(crate) fn fingerprint(file: &File, size: u64) -> io::Result<String> {
    let head = size.min(SAMPLE);
    let tail = size.saturating_sub(SAMPLE).max(head);
    let mut hasher = Sha256::new();
    hasher.update(size.to_le_bytes());
    hash_range(&mut hasher, file, 0, head)?;
    hash_range(&mut hasher, file, tail, size)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// Hashes bytes `start..end` of `file`; a file shorter than that is an error (it shrank
/// while being read), not a shorter hash.
fn hash_range(hasher: &mut Sha256, file: &File, start: u64, end: u64) -> io::Result<()> {
    let mut buf = vec![0; (end - start) as usize];
    let mut done = 0;
    while done < buf.len() {
        match host::read_at(file, &mut buf[done..], start + done as u64) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    hasher.update(&buf);
    Ok(())
}

#[cfg(test)]
mod tests;
