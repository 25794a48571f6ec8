//! Dirty-page tracking for pre-copy: which 4 KiB chunks of a memory were written since
//! the last look.
//!
//! Linux: userfaultfd in asynchronous write-protect mode (`UFFD_FEATURE_WP_ASYNC`) plus
//! the `PAGEMAP_SCAN` ioctl of `/proc/self/pagemap`. The memory's pages are
//! write-protected; the first write to a page is resolved by the kernel itself (no
//! handler thread, no signal) and marks the page written; `PAGEMAP_SCAN` with
//! `PM_SCAN_WP_MATCHING` lists the written pages and protects them again in one call.
//! The program's code is not changed at all: zero cost in the interpreter's hot loop, and
//! the same mechanism serves any engine whose memory is ordinary anonymous memory.
//! Elsewhere, or where userfaultfd is refused, [`Tracker::All`] reports every chunk
//! dirty: pre-copy then ends after one round and the migration is correct but has the
//! downtime of stop-and-copy.

/// Tracking granularity: chunks of this many bytes from the memory's first byte.
pub const CHUNK: usize = 4096;

/// One memory as the source sees it: address, length, and a counter bumped each time
/// it grows (and perhaps moves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryRegion {
    pub ptr: usize,
    pub len: usize,
    pub generation: u64,
}

/// A dirty tracker for a set of memories.
pub enum Tracker {
    #[cfg(target_os = "linux")]
    Uffd(uffd::UffdTracker),
    /// No tracking available: everything is always dirty.
    All,
}

impl Tracker {
    /// The best tracker this system offers, and why a lesser one was chosen.
    pub fn best() -> (Tracker, Option<String>) {
        #[cfg(target_os = "linux")]
        match uffd::UffdTracker::new() {
            Ok(t) => return (Tracker::Uffd(t), None),
            Err(e) => return (Tracker::All, Some(e)),
        }
        #[allow(unreachable_code)]
        (Tracker::All, Some("no dirty tracking on this OS".into()))
    }

    pub fn name(&self) -> &'static str {
        match self {
            #[cfg(target_os = "linux")]
            Tracker::Uffd(_) => "userfaultfd-wp",
            Tracker::All => "none",
        }
    }

    /// Chunks of memory `index` written since the last call (all of them at the first
    /// call, or after the memory moved). Clears the record.
    pub fn collect(&mut self, index: usize, region: MemoryRegion) -> Vec<u32> {
        let all = || (0..(region.len / CHUNK) as u32).collect();
        match self {
            #[cfg(target_os = "linux")]
            Tracker::Uffd(t) => t.collect(index, region).unwrap_or_else(|_| all()),
            Tracker::All => all(),
        }
    }
}

#[cfg(target_os = "linux")]
mod uffd {
    use super::{CHUNK, MemoryRegion};
    use std::fs::File;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    const UFFD_API: u64 = 0xAA;
    const UFFDIO_API: libc::c_ulong = 0xc018_aa3f;
    const UFFDIO_REGISTER: libc::c_ulong = 0xc020_aa00;
    const UFFDIO_UNREGISTER: libc::c_ulong = 0x8010_aa01;
    const UFFDIO_WRITEPROTECT: libc::c_ulong = 0xc018_aa06;
    const PAGEMAP_SCAN: libc::c_ulong = 0xc060_6610;
    const UFFDIO_REGISTER_MODE_WP: u64 = 1 << 1;
    const UFFD_FEATURE_WP_UNPOPULATED: u64 = 1 << 13;
    const UFFD_FEATURE_WP_ASYNC: u64 = 1 << 15;
    const PM_SCAN_WP_MATCHING: u64 = 1 << 0;
    const PM_SCAN_CHECK_WPASYNC: u64 = 1 << 1;
    const PAGE_IS_WRITTEN: u64 = 1 << 1;
    const PAGE: usize = 4096;

    #[repr(C)]
    struct UffdioApi {
        api: u64,
        features: u64,
        ioctls: u64,
    }
    #[repr(C)]
    struct UffdioRange {
        start: u64,
        len: u64,
    }
    #[repr(C)]
    struct UffdioRegister {
        range: UffdioRange,
        mode: u64,
        ioctls: u64,
    }
    #[repr(C)]
    struct UffdioWriteprotect {
        range: UffdioRange,
        mode: u64,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct PageRegion {
        start: u64,
        end: u64,
        categories: u64,
    }
    #[repr(C)]
    #[derive(Default)]
    struct PmScanArg {
        size: u64,
        flags: u64,
        start: u64,
        end: u64,
        walk_end: u64,
        vec: u64,
        vec_len: u64,
        max_pages: u64,
        category_inverted: u64,
        category_mask: u64,
        category_anyof_mask: u64,
        return_mask: u64,
    }

    pub struct UffdTracker {
        uffd: OwnedFd,
        pagemap: File,
        /// Per memory: the registered, page-aligned range and the region it covers.
        tracked: Vec<Option<(usize, usize, MemoryRegion)>>,
        regions: Vec<PageRegion>,
    }

    fn errno(what: &str) -> String {
        format!("{what}: {}", std::io::Error::last_os_error())
    }

    impl UffdTracker {
        pub fn new() -> Result<UffdTracker, String> {
            // SAFETY: a plain syscall with no pointers.
            let fd =
                unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | libc::O_NONBLOCK) };
            if fd < 0 {
                return Err(errno("userfaultfd"));
            }
            // SAFETY: `fd` is a fresh descriptor that nothing else owns.
            let uffd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            let mut api = UffdioApi {
                api: UFFD_API,
                features: UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
                ioctls: 0,
            };
            // SAFETY: `api` is a valid `struct uffdio_api` the kernel reads and writes.
            if unsafe { libc::ioctl(uffd.as_raw_fd(), UFFDIO_API, &mut api) } != 0 {
                return Err(errno("userfaultfd: UFFD_FEATURE_WP_ASYNC"));
            }
            let pagemap = File::open("/proc/self/pagemap").map_err(|e| format!("pagemap: {e}"))?;
            Ok(UffdTracker {
                uffd,
                pagemap,
                tracked: Vec::new(),
                regions: vec![PageRegion::default(); 4096],
            })
        }

        /// Registers `[start, end)` (page-aligned) for write-protect tracking.
        fn register(&mut self, start: usize, end: usize) -> Result<(), String> {
            let mut reg = UffdioRegister {
                range: UffdioRange {
                    start: start as u64,
                    len: (end - start) as u64,
                },
                mode: UFFDIO_REGISTER_MODE_WP,
                ioctls: 0,
            };
            // SAFETY: the range is the (page-rounded) live anonymous allocation of the
            // memory; registering it only makes the kernel track writes to it.
            if unsafe { libc::ioctl(self.uffd.as_raw_fd(), UFFDIO_REGISTER, &mut reg) } != 0 {
                return Err(errno("UFFDIO_REGISTER"));
            }
            Ok(())
        }

        /// Chunks of the first `len` bytes of `region` written in `[start, end)` since
        /// the last scan, in order.
        fn written(
            &mut self,
            start: usize,
            end: usize,
            region: MemoryRegion,
            len: usize,
        ) -> Result<Vec<u32>, String> {
            let chunks = (len / CHUNK) as u32;
            let mut dirty = Vec::new();
            for (a, b) in self.scan(start, end)? {
                let a = a.max(region.ptr) - region.ptr;
                let b = b.min(region.ptr + len).saturating_sub(region.ptr);
                if a >= b {
                    continue;
                }
                let first = (a / CHUNK) as u32;
                let last = b.div_ceil(CHUNK) as u32;
                for c in first..last.min(chunks) {
                    if dirty.last() != Some(&c) {
                        dirty.push(c);
                    }
                }
            }
            dirty.dedup();
            Ok(dirty)
        }

        /// Written pages in `[start, end)`, protected again.
        fn scan(&mut self, start: usize, end: usize) -> Result<Vec<(usize, usize)>, String> {
            let mut out = Vec::new();
            let mut at = start;
            while at < end {
                let mut arg = PmScanArg {
                    size: std::mem::size_of::<PmScanArg>() as u64,
                    flags: PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
                    start: at as u64,
                    end: end as u64,
                    vec: self.regions.as_mut_ptr() as u64,
                    vec_len: self.regions.len() as u64,
                    category_mask: PAGE_IS_WRITTEN,
                    return_mask: PAGE_IS_WRITTEN,
                    ..PmScanArg::default()
                };
                // SAFETY: `arg` describes `self.regions` as the output vector with its
                // true length; the scanned range is our own registered memory.
                let n = unsafe { libc::ioctl(self.pagemap.as_raw_fd(), PAGEMAP_SCAN, &mut arg) };
                if n < 0 {
                    return Err(errno("PAGEMAP_SCAN"));
                }
                for r in &self.regions[..n as usize] {
                    out.push((r.start as usize, r.end as usize));
                }
                if arg.walk_end as usize <= at {
                    break;
                }
                at = arg.walk_end as usize;
            }
            Ok(out)
        }

        pub fn collect(&mut self, index: usize, region: MemoryRegion) -> Result<Vec<u32>, String> {
            if self.tracked.len() <= index {
                self.tracked.resize(index + 1, None);
            }
            let chunks = (region.len / CHUNK) as u32;
            match self.tracked[index] {
                Some((start, end, seen)) if seen == region => {
                    self.written(start, end, region, region.len)
                }
                // Grown in place (the fast tier's memories never move): what was
                // written of the old part, and all of the new part.
                Some((start, end, seen))
                    if (seen.ptr, seen.generation) == (region.ptr, region.generation)
                        && region.len > seen.len =>
                {
                    let mut dirty = self.written(start, end, seen, seen.len)?;
                    let new_end = (region.ptr + region.len).next_multiple_of(PAGE);
                    if new_end > end {
                        self.register(end, new_end)?;
                        self.scan(end, new_end)?;
                    }
                    self.tracked[index] = Some((start, new_end.max(end), region));
                    let old = (seen.len / CHUNK) as u32;
                    dirty.retain(|&c| c < old);
                    dirty.extend(old..chunks);
                    Ok(dirty)
                }
                _ => {
                    // New, or moved by `memory.grow`: (re)register, protect everything,
                    // report everything.
                    if region.len > 0 {
                        let start = region.ptr & !(PAGE - 1);
                        let end = (region.ptr + region.len).next_multiple_of(PAGE);
                        self.register(start, end)?;
                        self.scan(start, end)?;
                        self.tracked[index] = Some((start, end, region));
                    }
                    Ok((0..chunks).collect())
                }
            }
        }
    }

    impl Drop for UffdTracker {
        fn drop(&mut self) {
            for (start, end, _) in self.tracked.iter().flatten() {
                let range = UffdioRange {
                    start: *start as u64,
                    len: (*end - *start) as u64,
                };
                let mut wp = UffdioWriteprotect {
                    range: UffdioRange { ..range },
                    mode: 0,
                };
                // SAFETY: un-protecting and unregistering our own registered range; if
                // the memory has since been freed the kernel just reports an error.
                unsafe {
                    libc::ioctl(self.uffd.as_raw_fd(), UFFDIO_WRITEPROTECT, &mut wp);
                    libc::ioctl(self.uffd.as_raw_fd(), UFFDIO_UNREGISTER, &range);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zeroed buffer holding `chunks` chunks at `misalign` bytes past a page boundary
    /// whose OS pages no other allocation shares (the tests run in parallel, and each
    /// tracker registers and scans whole pages): the buffer and the chunks' offset.
    fn isolated(chunks: usize, misalign: usize) -> (Vec<u8>, usize) {
        let memory = vec![0u8; (chunks + 3) * CHUNK];
        let ptr = memory.as_ptr() as usize;
        (memory, ptr.next_multiple_of(CHUNK) - ptr + CHUNK + misalign)
    }

    #[test]
    fn tracks_written_chunks() {
        let (mut tracker, why) = Tracker::best();
        if let Some(why) = why {
            println!("note: no userfaultfd here ({why})");
            return;
        }
        // Not page-aligned, as the interpreter's memories.
        let (mut buffer, off) = isolated(64, 16);
        let memory = &mut buffer[off..][..64 * CHUNK];
        let region = |m: &[u8]| MemoryRegion {
            ptr: m.as_ptr() as usize,
            len: m.len(),
            generation: 0,
        };
        assert_eq!(tracker.collect(0, region(memory)).len(), 64, "all at first");
        assert!(tracker.collect(0, region(memory)).is_empty());
        memory[10 * CHUNK + 5] = 1;
        memory[40 * CHUNK] = 1;
        let dirty = tracker.collect(0, region(memory));
        assert!(dirty.contains(&10) && dirty.contains(&40), "{dirty:?}");
        assert!(
            dirty.len() <= 4,
            "one written OS page marks at most two chunks: {dirty:?}"
        );
        assert!(tracker.collect(0, region(memory)).is_empty());
    }

    #[test]
    fn memory_grown_in_place_sends_only_the_new_part_whole() {
        let (mut tracker, why) = Tracker::best();
        if let Some(why) = why {
            println!("note: no userfaultfd here ({why})");
            return;
        }
        // One allocation, first published as its first half (as a memory that grows
        // in place into its reservation).
        let (mut buffer, off) = isolated(64, 0);
        let memory = &mut buffer[off..][..64 * CHUNK];
        let ptr = memory.as_ptr() as usize;
        let half = MemoryRegion {
            ptr,
            len: 32 * CHUNK,
            generation: 7,
        };
        let whole = MemoryRegion {
            len: 64 * CHUNK,
            ..half
        };
        assert_eq!(tracker.collect(0, half).len(), 32);
        memory[5 * CHUNK] = 1;
        let dirty = tracker.collect(0, whole);
        assert!(dirty.contains(&5), "{dirty:?}");
        assert!((32..64).all(|c| dirty.contains(&c)), "{dirty:?}");
        assert!(
            dirty.len() <= 32 + 2,
            "old part: only what was written: {dirty:?}"
        );
        assert!(tracker.collect(0, whole).is_empty());
        memory[40 * CHUNK] = 1;
        let dirty = tracker.collect(0, whole);
        assert!(dirty.contains(&40) && dirty.len() <= 2, "{dirty:?}");
    }
}
