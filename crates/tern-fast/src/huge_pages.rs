//! Transparent huge pages for a restored memory (Linux only), as the interpreter's
//! memories have (see `tern-interp`'s `huge_pages.rs` for the trade-off): a restore
//! writes every stored page of a memory that is usually fresh, and on this kind of
//! machine the kernel hands out and zeroes 2 MiB pages several times faster than 512
//! separate 4 KiB ones.

/// Memories smaller than this are left as they are.
const MIN_BYTES: usize = 4 << 20;

/// The huge page size of x86-64 and arm64 (4 KiB base pages).
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// Advises the kernel to back the 2 MiB-aligned interior of `memory` with huge pages.
/// Call it before the pages are written; pages already present stay small. A hint only:
/// failure (e.g. THP disabled) changes nothing.
#[cfg(target_os = "linux")]
pub(crate) fn advise(memory: &mut [u8]) {
    if memory.len() < MIN_BYTES {
        return;
    }
    let base = memory.as_mut_ptr() as usize;
    let start = base.next_multiple_of(HUGE_PAGE);
    let end = (base + memory.len()) / HUGE_PAGE * HUGE_PAGE;
    if end <= start {
        return;
    }
    // SAFETY: `[start, end)` lies within `memory`, which this function borrows mutably,
    // and MADV_HUGEPAGE only changes how the kernel backs those pages, never their
    // content or whether they are mapped.
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
    }
}

/// Elsewhere memories keep the platform's pages.
#[cfg(not(target_os = "linux"))]
pub(crate) fn advise(memory: &mut [u8]) {
    let _ = (memory, MIN_BYTES);
}
