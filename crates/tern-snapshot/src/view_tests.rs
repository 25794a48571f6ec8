//! The paths that work on whole linear memories: encoding from borrowed memories (on
//! several threads for large ones), writing and reading real files, and decompressing
//! into a memory through [`SnapshotView`].

use crate::error::SnapshotError;
use crate::snapshot::{Snapshot, encode_snapshot, encode_snapshot_with_memories};
use crate::state::{ExecState, MemoryImage, WASM_PAGE};
use crate::testutil::{assemble, mixed_memory, rich, sparse_page, split, uleb};
use crate::view::SnapshotView;
use crate::{format::section, read_snapshot_bytes, write_snapshot_file_with_memories};

/// Every memory of `snapshot` as one whole byte vector, and the snapshot with sizes only.
fn flatten(snapshot: &Snapshot) -> (Snapshot, Vec<Vec<u8>>) {
    let mut bare = snapshot.clone();
    let memories = bare
        .state
        .memories
        .iter_mut()
        .map(|image| {
            let mut bytes = vec![0u8; image.pages as usize * WASM_PAGE];
            for (index, page) in image.nonzero_pages.drain(..) {
                let at = index as usize * WASM_PAGE;
                bytes[at..at + WASM_PAGE].copy_from_slice(&page);
            }
            bytes
        })
        .collect();
    (bare, memories)
}

/// A memory large enough to be compressed and decompressed on several threads: 300
/// pages, every third one zero, the others a mix of noise and sparse data.
fn large() -> Snapshot {
    Snapshot {
        state: ExecState {
            memories: vec![
                mixed_memory(300, 3, 5),
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

/// Decodes `bytes` through a view into whole memories.
fn restore(bytes: &[u8]) -> Result<(Snapshot, Vec<Vec<u8>>), SnapshotError> {
    let view = SnapshotView::parse(bytes)?;
    let mut memories = Vec::new();
    for (m, image) in view.state.memories.iter().enumerate() {
        let mut memory = vec![0u8; image.pages as usize * WASM_PAGE];
        view.fill_memory(m, &mut memory)?;
        memories.push(memory);
    }
    let snapshot = Snapshot {
        module: view.module,
        trigger: view.trigger.clone(),
        state: view.state.clone(),
        wasi: view.wasi.map(<[u8]>::to_vec),
    };
    Ok((snapshot, memories))
}

#[test]
fn whole_memories_encode_exactly_as_images_and_come_back() {
    for snapshot in [rich(), large()] {
        let (bare, memories) = flatten(&snapshot);
        let borrowed: Vec<&[u8]> = memories.iter().map(Vec::as_slice).collect();
        let bytes = encode_snapshot_with_memories(&bare, &borrowed);
        assert_eq!(bytes, encode_snapshot(&snapshot), "same bytes either way");
        assert_eq!(bytes, encode_snapshot_with_memories(&bare, &borrowed));
        assert_eq!(restore(&bytes).unwrap(), (bare, memories));
    }
}

#[test]
fn files_written_from_whole_memories_read_back() {
    let dir = std::env::temp_dir().join(format!("tern-snapshot-whole-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("large.tern");
    let (bare, memories) = flatten(&large());
    let borrowed: Vec<&[u8]> = memories.iter().map(Vec::as_slice).collect();
    write_snapshot_file_with_memories(&path, &bare, &borrowed).unwrap();
    let bytes = read_snapshot_bytes(&path).unwrap();
    assert_eq!(bytes, encode_snapshot(&large()));
    assert_eq!(restore(&bytes).unwrap(), (bare, memories));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_lowest_damaged_page_is_named_when_decompressing_in_parallel() {
    // 200 stored pages of memory 0; pages 150 and 180 (in another thread's share than
    // the first pages) are garbage, with the checksum resealed.
    let bytes = encode_snapshot(&large());
    let (header, mut sections) = split(&bytes);
    let mut payload = uleb(2);
    payload.extend(uleb(200));
    for i in 0..200u64 {
        let data = if i == 150 || i == 180 {
            vec![0xff; 40]
        } else {
            crate::testutil::lz4(&sparse_page(i as u8))
        };
        payload.extend(uleb(i));
        payload.push(1);
        payload.extend(uleb(data.len() as u64));
        payload.extend(data);
    }
    payload.extend([uleb(0)].concat());
    let memory = sections.iter_mut().find(|(id, _)| *id == section::MEMORY);
    memory.unwrap().1 = payload;
    let forged = assemble(&header, &sections);
    match restore(&forged) {
        Err(SnapshotError::BadCompression {
            memory: 0,
            page: 150,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // The view of a damaged file is refused as a whole, and so is a truncated one.
    assert!(SnapshotView::parse(&bytes[..bytes.len() - 1]).is_err());
}
