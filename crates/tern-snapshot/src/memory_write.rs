//! Writing the `memory` section's payload as a stream, compressing pages straight from
//! where they are (a [`MemoryImage`]'s pages or an engine's whole linear memory) on every
//! core, and handing the encoded bytes on in file order.
//!
//! Each page is an independent LZ4 block, so the output does not depend on how pages are
//! shared out between threads: the bytes are the same with one thread or many.

use crate::bytes::Writer;
use crate::compress::{PageEncoder, is_zero};
use crate::state::{MemoryImage, WASM_PAGE};
use std::io;
use std::ops::Range;
use std::sync::mpsc;

/// Pages per batch: one batch is the unit of work of a thread and of one write (1 MiB
/// of memory), large enough that handing it over costs nothing noticeable, small enough
/// that the writer keeps the disk busy while the rest is compressed.
const BATCH_PAGES: usize = 16;

/// Fewer pages than this are compressed on the calling thread: starting threads would
/// cost more than it saves.
const PARALLEL_MIN_PAGES: usize = 64;

/// Batches a thread may have finished ahead of the writer.
const AHEAD: usize = 2;

/// Where one memory's content comes from.
#[derive(Clone, Copy)]
pub enum MemorySource<'a> {
    /// The non-zero pages of an image.
    Image(&'a MemoryImage),
    /// A whole linear memory (a multiple of [`WASM_PAGE`] bytes), all-zero pages included.
    Whole(&'a [u8]),
}

/// Takes the encoded bytes, in order.
type Emit<'e> = dyn FnMut(&[u8]) -> io::Result<()> + 'e;

/// The pages one memory stores, ascending: `(index, the page's bytes)`.
type Stored<'a> = Vec<(u32, &'a [u8])>;

/// The pages to store of every memory.
///
/// # Panics
///
/// If an image's page is not exactly [`WASM_PAGE`] bytes long, or a whole memory is not a
/// multiple of it (a broken invariant of the caller: writing it would produce a snapshot
/// no reader accepts, so the bug is reported where it is).
fn stored_pages<'a>(memories: &[MemorySource<'a>]) -> Vec<Stored<'a>> {
    memories
        .iter()
        .enumerate()
        .map(|(m, source)| match source {
            MemorySource::Image(image) => image
                .nonzero_pages
                .iter()
                .map(|(index, page)| {
                    assert_eq!(
                        page.len(),
                        WASM_PAGE,
                        "memory {m} page {index} is not one Wasm page long"
                    );
                    (*index, &page[..])
                })
                .collect(),
            MemorySource::Whole(bytes) => {
                assert!(
                    bytes.len() % WASM_PAGE == 0,
                    "memory {m} is not a whole number of Wasm pages"
                );
                (bytes.chunks_exact(WASM_PAGE).enumerate())
                    .filter(|(_, page)| !is_zero(page))
                    .map(|(index, page)| (index as u32, page))
                    .collect()
            }
        })
        .collect()
}

/// Encodes the `memory` section payload of `memories`, passing it to `emit` in order, in
/// pieces. Stops at the first error of `emit`.
pub fn write_memories(memories: &[MemorySource<'_>], emit: &mut Emit<'_>) -> io::Result<()> {
    let stored = stored_pages(memories);
    // Batches never span two memories: each memory's page count precedes its pages.
    let batches: Vec<(usize, Range<usize>)> = (stored.iter().enumerate())
        .flat_map(|(m, pages)| {
            (0..pages.len())
                .step_by(BATCH_PAGES)
                .map(move |start| (m, start..(start + BATCH_PAGES).min(pages.len())))
        })
        .collect();
    let total: usize = stored.iter().map(Vec::len).sum();
    let threads = if total < PARALLEL_MIN_PAGES {
        1
    } else {
        crate::threads::available().min(batches.len())
    };

    let mut counts = Vec::new();
    Writer(&mut counts).uleb(stored.len() as u64);
    emit(&counts)?;
    let mut next_memory = 0;
    // The page counts of the memories before `end` not yet emitted: a memory's count
    // goes out right before its first batch.
    let mut counts_up_to = |end: usize, emit: &mut Emit<'_>| {
        while next_memory < end {
            counts.clear();
            Writer(&mut counts).uleb(stored[next_memory].len() as u64);
            emit(&counts)?;
            next_memory += 1;
        }
        io::Result::Ok(())
    };

    if threads <= 1 {
        let mut encoder = PageEncoder::new();
        let mut buf = Vec::new();
        for (m, range) in &batches {
            counts_up_to(m + 1, emit)?;
            encode_batch(&mut encoder, &mut buf, &stored[*m][range.clone()]);
            emit(&buf)?;
        }
    } else {
        in_parallel(threads, &stored, &batches, &mut counts_up_to, emit)?;
    }
    counts_up_to(stored.len(), emit)
}

/// Replaces `buf`'s content with the stored-page records of `pages`.
fn encode_batch(encoder: &mut PageEncoder, buf: &mut Vec<u8>, pages: &[(u32, &[u8])]) {
    buf.clear();
    for &(index, page) in pages {
        encoder.encode(index, page, buf);
    }
}

/// Thread `t` of `threads` encodes batches `t`, `t + threads`, … and sends each through
/// its own bounded channel; this thread takes them in batch order and emits them, handing
/// the buffers back for reuse. A thread that cannot be started leaves its batches to this
/// thread (on a platform without threads, all of them).
fn in_parallel(
    threads: usize,
    stored: &[Stored<'_>],
    batches: &[(usize, Range<usize>)],
    counts_up_to: &mut dyn FnMut(usize, &mut Emit<'_>) -> io::Result<()>,
    emit: &mut Emit<'_>,
) -> io::Result<()> {
    let encode = |encoder: &mut PageEncoder, buf: &mut Vec<u8>, b: usize| {
        let (m, range) = &batches[b];
        encode_batch(encoder, buf, &stored[*m][range.clone()]);
    };
    std::thread::scope(|scope| {
        let mut workers = Vec::with_capacity(threads);
        for t in 0..threads {
            let (done_tx, done_rx) = mpsc::sync_channel::<Vec<u8>>(AHEAD);
            let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
            let started = std::thread::Builder::new().spawn_scoped(scope, move || {
                let mut encoder = PageEncoder::new();
                for b in (t..batches.len()).step_by(threads) {
                    let mut buf = free_rx.try_recv().unwrap_or_default();
                    encode(&mut encoder, &mut buf, b);
                    // The writer stopped (an error): nothing more is wanted.
                    if done_tx.send(buf).is_err() {
                        return;
                    }
                }
            });
            workers.push(started.ok().map(|_| (done_rx, free_tx)));
        }
        let mut own = None;
        for (b, (m, _)) in batches.iter().enumerate() {
            counts_up_to(m + 1, emit)?;
            match &workers[b % threads] {
                Some((done, free)) => {
                    let buf = done.recv().expect("an encoding thread panicked");
                    emit(&buf)?;
                    let _ = free.send(buf);
                }
                None => {
                    let (encoder, buf) =
                        own.get_or_insert_with(|| (PageEncoder::new(), Vec::new()));
                    encode(encoder, buf, b);
                    emit(buf)?;
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::sparse_page;

    #[test]
    fn an_output_error_stops_every_thread() {
        let memory: Vec<u8> = (0..200u8).flat_map(sparse_page).collect();
        for fail_at in [0, 1, 5, 13] {
            let mut calls = 0;
            let result = write_memories(&[MemorySource::Whole(&memory)], &mut |_| {
                calls += 1;
                if calls > fail_at {
                    Err(io::Error::other("disk full"))
                } else {
                    Ok(())
                }
            });
            assert_eq!(result.unwrap_err().to_string(), "disk full");
            assert_eq!(calls, fail_at + 1, "nothing is written after the error");
        }
    }
}
