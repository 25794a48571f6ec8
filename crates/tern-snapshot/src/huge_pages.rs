//! Transparent huge pages for large linear memories (Linux only), shared by both
//! engines: the interpreter advises its memories when it allocates or grows them, the
//! fast tier the wasmtime memory a restore is about to fill.
//!
//! A linear memory is backed lazily by the kernel, page by page, on first touch. With
//! 4 KiB pages, restoring 1 GiB takes 262,144 page faults, each zeroing its page, and an
//! interpreter's scattered accesses miss the TLB more often. Where the system lets a
//! process opt in (`/sys/kernel/mm/transparent_hugepage/enabled` is `madvise` or
//! `always`), advising `MADV_HUGEPAGE` lets it use 2 MiB pages instead: 512 times fewer
//! faults and TLB entries (on a virtual machine whose host also backs memory lazily, a
//! fresh 64 MiB costs several times less this way). The price is memory: a 2 MiB page is
//! resident as soon as one byte of it is touched, so a large, sparsely touched memory
//! costs more RSS; hence only regions of at least [`MIN_BYTES`].
//!
//! This is the one `unsafe` block of this crate: a hint to the kernel about pages the
//! caller owns.

/// Regions smaller than this are left as they are.
const MIN_BYTES: usize = 4 << 20;

/// The huge page size of x86-64 and arm64 (4 KiB base pages).
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// Advises the kernel to back the 2 MiB-aligned interior of the `len` bytes at `start`
/// (memory the caller owns, initialized or not) with huge pages. Call it before the
/// pages are touched: pages already present stay small until the kernel's background
/// collapse merges them. A hint only: failure (e.g. THP disabled) changes nothing, and
/// no content or mapping changes, so it cannot affect memory safety.
#[cfg(target_os = "linux")]
pub fn advise_huge_pages(start: *const u8, len: usize) {
    if len < MIN_BYTES {
        return;
    }
    let base = start as usize;
    let first = base.next_multiple_of(HUGE_PAGE);
    let end = (base + len) / HUGE_PAGE * HUGE_PAGE;
    if end <= first {
        return;
    }
    // SAFETY: MADV_HUGEPAGE only changes how the kernel backs `[first, end)`, never the
    // content of those pages or whether they are mapped, so no Rust reference to them is
    // affected; on a range that is not mapped the call just fails.
    unsafe {
        libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
    }
}

/// Elsewhere memories keep the platform's pages.
#[cfg(not(target_os = "linux"))]
pub fn advise_huge_pages(start: *const u8, len: usize) {
    let _ = (start, len, MIN_BYTES);
}
