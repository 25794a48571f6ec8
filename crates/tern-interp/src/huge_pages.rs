//! Transparent huge pages for large linear memories (Linux only).
//!
//! A linear memory is one heap allocation that the kernel backs lazily, page by page, on
//! first touch. With 4 KiB pages, restoring 1 GiB takes 262,144 page faults, each zeroing
//! its page, and the interpreter's scattered accesses miss the TLB more often. Where the
//! system lets a process opt in (`/sys/kernel/mm/transparent_hugepage/enabled` is
//! `madvise` or `always`), advising `MADV_HUGEPAGE` lets it use 2 MiB pages instead: 512
//! times fewer faults and TLB entries. The price is memory: a 2 MiB page is resident as
//! soon as one byte of it is touched, so a large, sparsely touched memory costs more RSS;
//! hence only memories of at least [`MIN_BYTES`].

/// Allocations smaller than this are left as they are.
const MIN_BYTES: usize = 4 << 20;

/// The huge page size of x86-64 and arm64 (4 KiB base pages).
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// Advises the kernel to back the 2 MiB-aligned interior of `bytes`' allocation (its
/// whole capacity) with huge pages. Call it before the memory is touched: pages already
/// present stay small until the kernel's background collapse merges them. A hint only;
/// failure (e.g. THP disabled) changes nothing.
#[cfg(target_os = "linux")]
pub(crate) fn advise(bytes: &Vec<u8>) {
    if bytes.capacity() < MIN_BYTES {
        return;
    }
    let base = bytes.as_ptr() as usize;
    let start = base.next_multiple_of(HUGE_PAGE);
    let end = (base + bytes.capacity()) / HUGE_PAGE * HUGE_PAGE;
    if end <= start {
        return;
    }
    // SAFETY: `[start, end)` lies within the allocation `bytes` owns (its capacity), and
    // MADV_HUGEPAGE only changes how the kernel backs those pages, never their content or
    // whether they are mapped, so no Rust reference to them is affected.
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
    }
}

/// Elsewhere memories keep the platform's pages.
#[cfg(not(target_os = "linux"))]
pub(crate) fn advise(bytes: &Vec<u8>) {
    let _ = (bytes, MIN_BYTES);
}
