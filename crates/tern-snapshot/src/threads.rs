//! How many threads the memory section's compression and decompression may use.

use std::sync::OnceLock;

/// The number of cores this process may use, asked once: the question reads files
/// (cgroup quotas) on Linux, which would cost more than a small snapshot's encoding.
/// 1 where the platform cannot tell (e.g. WASI, which has no threads).
pub fn available() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
