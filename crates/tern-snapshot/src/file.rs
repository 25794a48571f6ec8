//! Snapshot files on disk, written atomically: a reader (or a crash) sees either the old
//! file or the complete new one, never a partial write.

use crate::encode::{Output, write_snapshot};
use crate::error::SnapshotError;
use crate::snapshot::{Snapshot, decode_snapshot};
use crate::trace::TraceTail;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Encodes `snapshot` and writes it to `path` atomically (see [`write_snapshot_bytes`]).
///
/// ```
/// use tern_snapshot::{ExecState, ModuleIdentity, Snapshot, TriggerInfo};
///
/// let dir = std::env::temp_dir().join(format!("tern-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("app.snap");
/// let snapshot = Snapshot {
///     module: ModuleIdentity::of(b"\0asm\x01\0\0\0"),
///     trigger: TriggerInfo::now("manual", ""),
///     state: ExecState::default(),
///     wasi: None,
/// };
/// tern_snapshot::write_snapshot_file(&path, &snapshot).unwrap();
/// assert_eq!(tern_snapshot::read_snapshot_file(&path).unwrap(), snapshot);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write_snapshot_file(path: &Path, snapshot: &Snapshot) -> Result<(), SnapshotError> {
    write_atomic(path, |file| write_to_file(file, snapshot, None, None))
}

/// Writes a snapshot whose memory contents are borrowed whole from the engine (see
/// [`encode_snapshot_with_memories`](crate::encode_snapshot_with_memories)) to `path`
/// atomically, as [`write_snapshot_bytes`] does. Pages are compressed on every core and
/// written as they are ready: nothing proportional to the memory is allocated.
///
/// # Panics
///
/// If `memories` does not hold one slice per memory of the state, of the size the state
/// gives it, or the state holds pages.
pub fn write_snapshot_file_with_memories(
    path: &Path,
    snapshot: &Snapshot,
    memories: &[&[u8]],
) -> Result<(), SnapshotError> {
    write_atomic(path, |file| {
        write_to_file(file, snapshot, Some(memories), None)
    })
}

/// [`write_snapshot_file_with_memories`] with the tail of an execution trace in the
/// optional `trace` section (format 1.1), when `trace` is given.
///
/// # Panics
///
/// As [`write_snapshot_file_with_memories`].
pub fn write_snapshot_file_with_trace(
    path: &Path,
    snapshot: &Snapshot,
    memories: &[&[u8]],
    trace: Option<&TraceTail>,
) -> Result<(), SnapshotError> {
    write_atomic(path, |file| {
        write_to_file(file, snapshot, Some(memories), trace)
    })
}

/// Writes already-encoded snapshot bytes to `path` atomically: into a temporary file in
/// the same directory, which is flushed to disk (`fsync`) and then renamed over `path`;
/// on Unix the directory is flushed too, so the rename itself survives a crash.
///
/// On error no temporary file is left behind and an existing file at `path` is
/// untouched — except when only the final directory flush fails, after which `path`
/// holds the complete new file but its durability is not guaranteed.
pub fn write_snapshot_bytes(path: &Path, bytes: &[u8]) -> Result<(), SnapshotError> {
    write_atomic(path, |file| file.write_all(bytes))
}

/// Reads and decodes the snapshot file at `path`.
pub fn read_snapshot_file(path: &Path) -> Result<Snapshot, SnapshotError> {
    decode_snapshot(&read_snapshot_bytes(path)?)
}

/// Reads the snapshot file at `path` without decoding it, for
/// [`SnapshotView::parse`](crate::SnapshotView::parse).
pub fn read_snapshot_bytes(path: &Path) -> Result<Vec<u8>, SnapshotError> {
    fs::read(path).map_err(io_error("read", path))
}

/// A file being written front to back, with the writer's occasional patch of bytes
/// already written.
///
/// A large file is flushed to disk while it is written: each time another
/// [`FLUSH_EVERY`] bytes are appended, a helper thread flushes what is there
/// (`fdatasync`), so the disk works while later pages are being compressed and the final
/// `fsync` has only the tail left to do.
struct FileOutput<'a> {
    file: &'a mut File,
    len: u64,
    flushed_up_to: u64,
    flusher: Option<Flusher>,
}

/// Bytes appended between two background flushes.
const FLUSH_EVERY: u64 = 32 << 20;

/// The helper thread and the request channel of a [`FileOutput`]; a request made while
/// a flush runs is merged into the next one.
struct Flusher {
    request: mpsc::SyncSender<()>,
    thread: JoinHandle<io::Result<()>>,
}

impl<'a> FileOutput<'a> {
    fn new(file: &'a mut File) -> Self {
        FileOutput {
            file,
            len: 0,
            flushed_up_to: 0,
            flusher: None,
        }
    }

    fn request_flush(&mut self) {
        if self.flusher.is_none() {
            // Without a second handle or a thread (e.g. on WASI) the final fsync does it all.
            let Ok(file) = self.file.try_clone() else {
                return;
            };
            let (request, requests) = mpsc::sync_channel::<()>(1);
            let thread = std::thread::Builder::new().spawn(move || {
                while requests.recv().is_ok() {
                    file.sync_data()?;
                }
                Ok(())
            });
            let Ok(thread) = thread else {
                return;
            };
            self.flusher = Some(Flusher { request, thread });
        }
        if let Some(flusher) = &self.flusher {
            let _ = flusher.request.try_send(());
        }
    }

    /// Waits for the helper, and reports its error: the handles share one open file, so
    /// an error the helper's flush saw may not be reported again by the final `fsync`.
    fn finish(self) -> io::Result<()> {
        match self.flusher {
            None => Ok(()),
            Some(Flusher { request, thread }) => {
                drop(request);
                thread.join().expect("the flushing thread panicked")
            }
        }
    }
}

impl Output for FileOutput<'_> {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        if self.len - self.flushed_up_to >= FLUSH_EVERY {
            self.flushed_up_to = self.len;
            self.request_flush();
        }
        Ok(())
    }

    fn patch(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(at))?;
        self.file.write_all(bytes)?;
        self.file.seek(SeekFrom::Start(self.len))?;
        Ok(())
    }
}

/// Writes the encoding of `snapshot` into `file` (see [`FileOutput`]).
fn write_to_file(
    file: &mut File,
    snapshot: &Snapshot,
    memories: Option<&[&[u8]]>,
    trace: Option<&TraceTail>,
) -> io::Result<()> {
    let mut out = FileOutput::new(file);
    let written = write_snapshot(&mut out, snapshot, memories, trace);
    // The helper is waited for even after an error, so it never outlives the file.
    let flushed = out.finish();
    written.and(flushed)
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SnapshotError {
    let path = path.to_path_buf();
    move |source| SnapshotError::Io {
        action,
        path,
        source,
    }
}

/// The atomic-write protocol, with the content written by `fill` (tests inject failures
/// there).
pub(crate) fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), SnapshotError> {
    let name = path.file_name().ok_or_else(|| SnapshotError::Io {
        action: "write",
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // Same directory as the target: a rename is atomic only within one file system.
    let (tmp, mut file) = create_temp(dir, &name.to_string_lossy())?;
    let written = fill(&mut file)
        .and_then(|()| file.sync_all())
        .map_err(io_error("write", &tmp));
    drop(file);
    let renamed = written.and_then(|()| fs::rename(&tmp, path).map_err(io_error("replace", path)));
    if let Err(e) = renamed {
        // Best effort: the error that matters is the one already in hand.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Creates a fresh temporary file next to the target, named after it so a stray one
/// (left by a crash) is recognisable.
fn create_temp(dir: &Path, name: &str) -> Result<(PathBuf, File), SnapshotError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut attempt = 0;
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp-{}-{n}", process_tag()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            // Another writer's temporary file (e.g. a process that reused our pid after a
            // crash): try the next name rather than touch it.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(io_error("create a temporary file in", dir)(e)),
        }
    }
}

/// Distinguishes concurrent writers in different processes.
#[cfg(not(target_os = "wasi"))]
fn process_tag() -> u32 {
    std::process::id()
}

/// WASI has no process ids (`std::process::id` panics there); the counter and
/// `create_new` keep names unique within one instance.
#[cfg(target_os = "wasi")]
fn process_tag() -> u32 {
    0
}

/// Flushes the directory entry created by the rename.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), SnapshotError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("flush directory", dir))
}

/// Elsewhere (Windows, WASI) a directory cannot be opened and flushed portably; the
/// rename is still atomic, only its durability across a power loss is left to the OS.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), SnapshotError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{rich, small};

    /// A fresh, empty directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            static N: AtomicU64 = AtomicU64::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("tern-snapshot-{name}-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn entries(&self) -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn write_then_read_and_overwrite() {
        let dir = TempDir::new("rw");
        let path = dir.0.join("a.snap");
        write_snapshot_file(&path, &rich()).unwrap();
        assert_eq!(read_snapshot_file(&path).unwrap(), rich());
        write_snapshot_file(&path, &small()).unwrap();
        assert_eq!(read_snapshot_file(&path).unwrap(), small());
        assert_eq!(dir.entries(), ["a.snap"], "no temporary file is left");
    }

    #[test]
    fn a_file_larger_than_a_flush_interval_is_written_whole() {
        // Incompressible pages, so the file passes FLUSH_EVERY and the helper flushes.
        let pages = (FLUSH_EVERY as usize).div_ceil(crate::WASM_PAGE) + 8;
        let memory: Vec<u8> = (0..pages as u64)
            .flat_map(crate::testutil::noise_page)
            .collect();
        let mut snapshot = small();
        snapshot.state.memories[0] = crate::MemoryImage {
            pages: pages as u32,
            nonzero_pages: vec![],
        };
        let dir = TempDir::new("large");
        let path = dir.0.join("a.snap");
        write_snapshot_file_with_memories(&path, &snapshot, &[&memory]).unwrap();
        let bytes = read_snapshot_bytes(&path).unwrap();
        assert!(bytes.len() as u64 > FLUSH_EVERY);
        assert_eq!(
            bytes,
            crate::encode_snapshot_with_memories(&snapshot, &[&memory])
        );
        assert_eq!(dir.entries(), ["a.snap"]);
    }

    #[test]
    fn failed_write_keeps_old_file_and_leaves_no_temp() {
        let dir = TempDir::new("fail");
        let path = dir.0.join("a.snap");
        write_snapshot_file(&path, &small()).unwrap();
        let old = fs::read(&path).unwrap();
        // Half the new content is written, then the disk "fills up".
        let new = crate::encode_snapshot(&rich());
        let err = write_atomic(&path, |file| {
            file.write_all(&new[..new.len() / 2])?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), old);
        assert_eq!(dir.entries(), ["a.snap"]);
    }

    #[test]
    fn target_that_is_a_directory_is_refused_cleanly() {
        let dir = TempDir::new("isdir");
        let target = dir.0.join("taken");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), b"x").unwrap();
        let err = write_snapshot_file(&target, &small()).unwrap_err();
        assert!(
            matches!(
                err,
                SnapshotError::Io {
                    action: "replace",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(dir.entries(), ["taken"], "no temporary file is left");
        assert_eq!(fs::read(target.join("keep")).unwrap(), b"x");
    }

    #[test]
    fn missing_directory_and_nameless_path_are_errors() {
        let dir = TempDir::new("missing");
        let err = write_snapshot_file(&dir.0.join("no/such/dir/a.snap"), &small()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot create a temporary file in "),
            "{err}"
        );
        assert!(write_snapshot_file(Path::new("/"), &small()).is_err());
        let err = read_snapshot_file(&dir.0.join("absent.snap")).unwrap_err();
        assert!(err.to_string().starts_with("cannot read "), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn unwritable_directory_keeps_old_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("readonly");
        let path = dir.0.join("a.snap");
        write_snapshot_file(&path, &small()).unwrap();
        let old = fs::read(&path).unwrap();
        fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o555)).unwrap();
        // root ignores directory permissions; then there is no failure to observe.
        let enforced = fs::write(dir.0.join("probe"), b"").is_err();
        let result = write_snapshot_file(&path, &rich());
        fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755)).unwrap();
        if enforced {
            let err = result.unwrap_err();
            assert!(matches!(err, SnapshotError::Io { .. }), "{err}");
            assert_eq!(fs::read(&path).unwrap(), old);
            assert_eq!(dir.entries(), ["a.snap"]);
        } else {
            eprintln!("directory permissions are not enforced (running as root); skipped");
        }
    }
}
