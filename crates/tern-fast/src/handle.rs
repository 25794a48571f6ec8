//! [`CheckpointHandle`]: asks a running program for a checkpoint, from any thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

/// What a handle and the instance that owns the flag memory share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The request word (byte 0 of the `tern.flags` memory), or null while no instance
    /// publishes it (before instantiation, after the instance is dropped).
    word: AtomicPtr<u32>,
    /// Handles inside `request` right now; the owner waits for 0 before it lets the
    /// memory go.
    users: AtomicUsize,
    /// Whether a checkpoint was requested: the owner copies it into the word before it
    /// runs guest code.
    requested: AtomicBool,
    /// The WASI context's interrupt flag, so blocking calls give way too.
    wasi_interrupt: Arc<AtomicBool>,
}

/// A cloneable, `Send + Sync` handle that requests a checkpoint of one instance.
///
/// [`request`](CheckpointHandle::request) only does atomic operations — no locks, no
/// allocation — so it may be called from a signal handler (e.g. through
/// `signal_hook::low_level::register`), a timer or a file-watcher thread. The program
/// stops at its next safepoint (loop header or function entry) or, if it waits in a
/// blocking WASI call, at once; a request made before the program runs takes effect when
/// it starts. A handle that outlives its instance does nothing.
#[derive(Debug, Clone)]
pub struct CheckpointHandle {
    pub(crate) shared: Arc<Shared>,
}

impl CheckpointHandle {
    pub(crate) fn new(wasi_interrupt: Arc<AtomicBool>) -> CheckpointHandle {
        CheckpointHandle {
            shared: Arc::new(Shared {
                word: AtomicPtr::new(std::ptr::null_mut()),
                users: AtomicUsize::new(0),
                requested: AtomicBool::new(false),
                wasi_interrupt,
            }),
        }
    }

    /// Requests a checkpoint.
    pub fn request(&self) {
        let shared = &*self.shared;
        shared.requested.store(true, Ordering::SeqCst);
        shared.wasi_interrupt.store(true, Ordering::SeqCst);
        shared.users.fetch_add(1, Ordering::SeqCst);
        let word = shared.word.load(Ordering::SeqCst);
        if !word.is_null() {
            // SAFETY: a non-null `word` points at byte 0 of the instance's flag memory,
            // 4-aligned (wasmtime maps memories page-aligned) and inside its one page. The
            // owner nulls `word` and then waits until `users` is 0 before that memory can
            // go away, and we incremented `users` before loading `word` (both SeqCst), so
            // the memory outlives this store. The guest only ever reads this word with
            // plain aligned 4-byte loads; racing them with an atomic store is how the
            // request reaches running code.
            unsafe { AtomicU32::from_ptr(word) }.store(1, Ordering::SeqCst);
        }
        shared.users.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether a checkpoint has been requested (and not yet cleared by a capture).
    pub fn is_requested(&self) -> bool {
        self.shared.requested.load(Ordering::SeqCst)
    }
}

impl Shared {
    /// Makes the request word reachable by handles.
    ///
    /// # Safety
    ///
    /// `word` must point at a 4-aligned, writable word that stays valid until
    /// [`Shared::unpublish`] returns.
    pub(crate) unsafe fn publish(&self, word: *mut u32) {
        self.word.store(word, Ordering::SeqCst);
        self.sync_word();
    }

    /// Copies the request into the word (the owner calls this before guest code runs).
    pub(crate) fn sync_word(&self) {
        if self.requested.load(Ordering::SeqCst) {
            let word = self.word.load(Ordering::SeqCst);
            if !word.is_null() {
                // SAFETY: see `publish`; this runs on the owner's thread, which keeps the
                // memory alive.
                unsafe { AtomicU32::from_ptr(word) }.store(1, Ordering::SeqCst);
            }
        }
    }

    /// Forgets the request (after a capture).
    pub(crate) fn clear(&self) {
        self.requested.store(false, Ordering::SeqCst);
        self.wasi_interrupt.store(false, Ordering::SeqCst);
    }

    /// Makes the word unreachable and waits until no handle is inside `request`.
    pub(crate) fn unpublish(&self) {
        self.word.store(std::ptr::null_mut(), Ordering::SeqCst);
        while self.users.load(Ordering::SeqCst) != 0 {
            std::hint::spin_loop();
        }
    }
}
