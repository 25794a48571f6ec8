//! [`SnapshotFile`] against the reference reader ([`SnapshotView`] on the whole file):
//! the same memories for every valid file, the same error for every damaged one, with
//! read chunks from a single byte (every record cut by the window) to the real size.

use crate::file_read::SnapshotFile;
use crate::format::section;
use crate::snapshot::{Snapshot, encode_snapshot};
use crate::state::{ExecState, MemoryImage, WASM_PAGE};
use crate::testutil::{assemble, mixed_memory, reseal, rich, small, sparse_page, split};
use crate::view::SnapshotView;
use std::path::{Path, PathBuf};

/// What a restore sees: the decoded head and every memory, or the error's message.
type Restored = Result<(String, Vec<Vec<u8>>), String>;

fn reference(bytes: &[u8]) -> Restored {
    let view = SnapshotView::parse(bytes).map_err(|e| e.to_string())?;
    let head = format!(
        "{:?} {:?} {:?} {:?}",
        view.module,
        view.trigger,
        view.state,
        view.wasi.map(<[u8]>::to_vec)
    );
    let mut memories = Vec::new();
    for (m, image) in view.state.memories.iter().enumerate() {
        let mut memory = vec![0u8; image.pages as usize * WASM_PAGE];
        view.fill_memory(m, &mut memory)
            .map_err(|e| e.to_string())?;
        memories.push(memory);
    }
    Ok((head, memories))
}

fn streamed(path: &Path, chunk: usize) -> Restored {
    let mut file = SnapshotFile::open_with_chunk(path, chunk).map_err(|e| e.to_string())?;
    let head = format!(
        "{:?} {:?} {:?} {:?}",
        file.module, file.trigger, file.state, file.wasi
    );
    let mut memories = Vec::new();
    let sizes: Vec<u32> = file.state.memories.iter().map(|m| m.pages).collect();
    for (m, pages) in sizes.into_iter().enumerate() {
        let mut memory = vec![0u8; pages as usize * WASM_PAGE];
        file.fill_memory(m, &mut memory)
            .map_err(|e| e.to_string())?;
        memories.push(memory);
    }
    file.finish().map_err(|e| e.to_string())?;
    Ok((head, memories))
}

/// A file in a fresh directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("tern-file-read-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// Writes `bytes` and checks that every chunk size reads them as the reference does.
    fn agree(&self, bytes: &[u8], chunks: &[usize], what: &str) {
        let path = self.0.join("s.snap");
        std::fs::write(&path, bytes).unwrap();
        let expected = reference(bytes);
        for &chunk in chunks {
            let got = streamed(&path, chunk);
            match (&expected, &got) {
                (Ok(a), Ok(b)) if a == b => {}
                (Err(a), Err(b)) if a == b => {}
                _ => panic!(
                    "{what}, chunk {chunk}: reference {:?}, streamed {:?}",
                    expected.as_ref().map(|r| &r.0),
                    got.as_ref().map(|r| &r.0)
                ),
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 200 pages of memory 0 (some zero, some incompressible) and a small memory 1: a file
/// of many read chunks whose batches are decoded on several threads.
fn large() -> Snapshot {
    Snapshot {
        state: ExecState {
            memories: vec![
                mixed_memory(200, 4, 7),
                MemoryImage {
                    pages: 0,
                    nonzero_pages: vec![],
                },
                MemoryImage {
                    pages: 2,
                    nonzero_pages: vec![(1, sparse_page(3))],
                },
            ],
            ..rich().state
        },
        ..rich()
    }
}

#[test]
fn every_truncation_and_bit_flip_of_a_small_file_fails_alike() {
    let scratch = Scratch::new("small");
    let bytes = encode_snapshot(&small());
    let chunks = [1, 5, 1 << 20];
    scratch.agree(&bytes, &chunks, "intact");
    for len in 0..bytes.len() {
        scratch.agree(&bytes[..len], &chunks, &format!("cut at {len}"));
    }
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        scratch.agree(&flipped, &chunks, &format!("bit {bit}"));
        // Resealed, the damage reaches the content checks.
        reseal(&mut flipped);
        scratch.agree(&flipped, &chunks, &format!("bit {bit}, resealed"));
    }
}

#[test]
fn damage_anywhere_in_a_large_file_fails_alike() {
    let scratch = Scratch::new("large");
    let bytes = encode_snapshot(&large());
    let chunks = [1000, 70_000, 1 << 20];
    scratch.agree(&bytes, &[1, 1000, 70_000, 300_000, 8 << 20], "intact");
    let step = bytes.len() / 97;
    for at in (0..bytes.len())
        .step_by(step)
        .chain(bytes.len() - 20..bytes.len())
    {
        scratch.agree(&bytes[..at], &chunks, &format!("cut at {at}"));
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x5a;
        scratch.agree(&flipped, &chunks, &format!("byte {at}"));
        reseal(&mut flipped);
        scratch.agree(&flipped, &chunks, &format!("byte {at}, resealed"));
    }
}

#[test]
fn sections_in_any_order_and_unknown_ones_read_alike() {
    let scratch = Scratch::new("order");
    let (header, sections) = split(&encode_snapshot(&large()));
    let chunks = [1, 4096, 1 << 20];
    let mut reversed = sections.clone();
    reversed.reverse();
    scratch.agree(&assemble(&header, &reversed), &chunks, "reversed");
    let mut extra = sections.clone();
    extra.insert(0, (0xC2, vec![7; 100]));
    extra.insert(4, (0xC3, vec![8; 70_000]));
    extra.push((0xC4, vec![9; 3]));
    scratch.agree(
        &assemble(&header, &extra),
        &chunks,
        "unknown optional sections",
    );
    let mut required = sections.clone();
    required.push((0x42, vec![]));
    scratch.agree(
        &assemble(&header, &required),
        &chunks,
        "unknown required section",
    );
    let mut twice = sections.clone();
    let memory = twice
        .iter()
        .find(|(id, _)| *id == section::MEMORY)
        .unwrap()
        .clone();
    twice.push(memory);
    scratch.agree(&assemble(&header, &twice), &chunks, "two memory sections");
    let without: Vec<_> = sections
        .iter()
        .filter(|(id, _)| *id != section::MEMORY)
        .cloned()
        .collect();
    scratch.agree(&assemble(&header, &without), &chunks, "no memory section");
}

#[test]
fn a_missing_file_is_a_read_error() {
    let err = SnapshotFile::open(Path::new("/nonexistent/tern.snap")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/tern.snap"),
        "{err}"
    );
}
