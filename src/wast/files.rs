//! Where checkpoint modes write their snapshot files: one reused file per worker
//! thread, in a RAM-backed directory when there is one.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The snapshot file of the calling thread: one name per thread, reused for every
/// checkpoint, in a RAM-backed directory so that hundreds of thousands of snapshots
/// (the spec suite's checkpoint modes) cost system calls but no disk writes.
pub(crate) fn snapshot_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static PATH: PathBuf = snapshot_dir().join(format!(
            "tern-wast-{}-{}.tern",
            process_tag(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
    }
    PATH.with(PathBuf::clone)
}

/// Tells this process's files apart from other processes': the process id.
#[cfg(not(target_os = "wasi"))]
fn process_tag() -> u128 {
    std::process::id().into()
}

/// Tells this process's files apart from other processes': WASI has no process ids, so
/// the start time in nanoseconds.
#[cfg(target_os = "wasi")]
fn process_tag() -> u128 {
    static TAG: OnceLock<u128> = OnceLock::new();
    *TAG.get_or_init(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.map_or(0, |d| d.as_nanos())
    })
}

/// `$TMPDIR`, else `/tmp`: WASI has no system temporary directory (the host runtime
/// must preopen it).
#[cfg(target_os = "wasi")]
fn snapshot_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| std::env::var_os("TMPDIR").map_or("/tmp".into(), PathBuf::from))
}

/// `/dev/shm` if it is there and writable (a tmpfs on Linux), else the system's
/// temporary directory.
#[cfg(not(target_os = "wasi"))]
fn snapshot_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let probe = shm.join(format!("tern-wast-probe-{}", process_tag()));
        if std::fs::write(&probe, b"").is_ok() {
            let _ = std::fs::remove_file(&probe);
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        }
    })
}
