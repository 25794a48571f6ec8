//! In-memory stdio for embedders and tests: capture what the guest writes, feed what it
//! reads.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// A growable buffer that collects what the guest writes to stdout or stderr. Clones share
/// the buffer, so keep one to read the output after the run.
#[derive(Debug, Clone, Default)]
pub struct OutputPipe(Arc<Mutex<Vec<u8>>>);

impl OutputPipe {
    pub fn new() -> OutputPipe {
        OutputPipe::default()
    }

    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        lock(&self.0).clone()
    }

    /// Everything written so far, as (lossy) UTF-8.
    pub fn contents_string(&self) -> String {
        String::from_utf8_lossy(&self.contents()).into_owned()
    }

    pub(crate) fn write(&self, data: &[u8]) {
        lock(&self.0).extend_from_slice(data);
    }
}

#[derive(Debug, Default)]
struct InputBuffer {
    data: VecDeque<u8>,
    closed: bool,
}

/// Bytes for the guest's stdin. Data can be pushed while the guest runs (a read waits for
/// it); after [`InputPipe::close`] a read of the drained pipe returns end-of-file.
#[derive(Debug, Clone, Default)]
pub struct InputPipe(Arc<(Mutex<InputBuffer>, Condvar)>);

impl InputPipe {
    /// An open, empty pipe.
    pub fn new() -> InputPipe {
        InputPipe::default()
    }

    /// A closed pipe holding exactly `data`.
    pub fn from_bytes(data: impl Into<Vec<u8>>) -> InputPipe {
        let pipe = InputPipe::new();
        pipe.push(&data.into());
        pipe.close();
        pipe
    }

    /// Appends data for the guest to read.
    pub fn push(&self, data: &[u8]) {
        let (buffer, ready) = &*self.0;
        lock(buffer).data.extend(data);
        ready.notify_all();
    }

    /// Marks the end of input.
    pub fn close(&self) {
        let (buffer, ready) = &*self.0;
        lock(buffer).closed = true;
        ready.notify_all();
    }

    /// Whether a read would not block: data is there or the pipe is closed.
    pub(crate) fn is_ready(&self) -> bool {
        let buffer = lock(&self.0.0);
        !buffer.data.is_empty() || buffer.closed
    }

    /// Bytes available without blocking (for `poll_oneoff`'s `nbytes`).
    pub(crate) fn available(&self) -> usize {
        lock(&self.0.0).data.len()
    }

    /// Waits at most `slice` for data, then takes up to `max` bytes. `None`: still nothing
    /// (and not closed); `Some(empty)`: end-of-file. With `peek` the bytes stay.
    pub(crate) fn read(&self, max: usize, slice: Duration, peek: bool) -> Option<Vec<u8>> {
        let (buffer, ready) = &*self.0;
        let mut guard = lock(buffer);
        if guard.data.is_empty() && !guard.closed {
            guard = ready
                .wait_timeout(guard, slice)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if guard.data.is_empty() && !guard.closed {
            return None;
        }
        let n = max.min(guard.data.len());
        Some(if peek {
            guard.data.iter().take(n).copied().collect()
        } else {
            guard.data.drain(..n).collect()
        })
    }
}

/// A poisoned lock only means another thread panicked while holding it; the buffer itself
/// is still consistent (every update is a single call), so keep going.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_pipe_reads_then_eof() {
        let pipe = InputPipe::new();
        assert_eq!(pipe.read(4, Duration::from_millis(1), false), None);
        pipe.push(b"hello");
        assert_eq!(
            pipe.read(4, Duration::ZERO, true).as_deref(),
            Some(&b"hell"[..])
        );
        assert_eq!(
            pipe.read(4, Duration::ZERO, false).as_deref(),
            Some(&b"hell"[..])
        );
        assert_eq!(
            pipe.read(4, Duration::ZERO, false).as_deref(),
            Some(&b"o"[..])
        );
        pipe.close();
        assert_eq!(
            pipe.read(4, Duration::ZERO, false).as_deref(),
            Some(&b""[..])
        );
    }
}
