//! [`Snapshot`]: one checkpoint as a self-describing byte string, and its encoding.
//!
//! A file is a 16-byte header, then sections (`id: u8`, `len: u64 LE`, payload), the last
//! of which is `end` holding a CRC-32 of everything before it. `docs/snapshot-format.md`
//! is the byte-exact specification.

use crate::encode::write_snapshot;
use crate::error::SnapshotError;
use crate::identity::ModuleIdentity;
use crate::memory_read::decode_stored;
use crate::state::{ExecState, WASM_PAGE};
use crate::trigger::TriggerInfo;
use crate::view::SnapshotView;
#[cfg(doc)]
use crate::{format::FormatVersion, state::MemoryImage};

/// Everything needed to resume a program, plus how it came to be taken.
///
/// ```
/// use tern_snapshot::{ExecState, MemoryImage, ModuleIdentity, Snapshot, TriggerInfo, WASM_PAGE};
///
/// let mut page = vec![0u8; WASM_PAGE];
/// page[100] = 42;
/// let snapshot = Snapshot {
///     module: ModuleIdentity::of(b"\0asm\x01\0\0\0"),
///     trigger: TriggerInfo::now("signal", "SIGUSR1"),
///     state: ExecState {
///         memories: vec![MemoryImage { pages: 17, nonzero_pages: vec![(3, page)] }],
///         ..ExecState::default()
///     },
///     wasi: Some(br#"{"args":["prog"]}"#.to_vec()),
/// };
/// let bytes = tern_snapshot::encode_snapshot(&snapshot);
/// assert!(bytes.len() < 1000, "the page is compressed");
/// assert_eq!(tern_snapshot::decode_snapshot(&bytes).unwrap(), snapshot);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The module the program runs; a restore must be given the same one.
    pub module: ModuleIdentity,
    /// Why and when the snapshot was taken.
    pub trigger: TriggerInfo,
    /// The Wasm-level state: memories, tables, globals, segments, frames.
    pub state: ExecState,
    /// The WASI state as UTF-8 JSON (`serde_json` of `tern_wasi::WasiState`), stored
    /// opaquely; `None` for a program that runs without WASI.
    pub wasi: Option<Vec<u8>>,
}

/// Encodes a snapshot in the current format version ([`FormatVersion::CURRENT`]).
///
/// # Panics
///
/// If a memory page is not exactly `WASM_PAGE` bytes long (see [`MemoryImage`]).
pub fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    let mut out = Vec::new();
    write_snapshot(&mut out, snapshot, None, None).expect("a Vec takes every byte");
    out
}

/// Encodes a snapshot whose memory contents are not in its state but borrowed whole from
/// the engine, one slice per memory (`state.memories` give the sizes and hold no pages):
/// all-zero pages are skipped and the others compressed where they lie, with no copy.
/// The bytes are those [`encode_snapshot`] gives for the same content.
///
/// ```
/// use tern_snapshot::{ExecState, MemoryImage, ModuleIdentity, Snapshot, TriggerInfo, WASM_PAGE};
///
/// let mut memory = vec![0u8; 3 * WASM_PAGE];
/// memory[WASM_PAGE] = 9;
/// let mut snapshot = Snapshot {
///     module: ModuleIdentity::of(b""),
///     trigger: TriggerInfo::now("manual", ""),
///     state: ExecState {
///         memories: vec![MemoryImage { pages: 3, nonzero_pages: vec![] }],
///         ..ExecState::default()
///     },
///     wasi: None,
/// };
/// let bytes = tern_snapshot::encode_snapshot_with_memories(&snapshot, &[&memory]);
/// snapshot.state.memories[0].nonzero_pages = vec![(1, memory[WASM_PAGE..2 * WASM_PAGE].to_vec())];
/// assert_eq!(bytes, tern_snapshot::encode_snapshot(&snapshot));
/// ```
///
/// # Panics
///
/// If `memories` does not hold one slice per memory of the state, of the size the state
/// gives it, or the state holds pages.
pub fn encode_snapshot_with_memories(snapshot: &Snapshot, memories: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    write_snapshot(&mut out, snapshot, Some(memories), None).expect("a Vec takes every byte");
    out
}

/// [`encode_snapshot`] (or, with `memories` non-empty, [`encode_snapshot_with_memories`])
/// plus the tail of an execution trace in the optional `trace` section, when given.
///
/// # Panics
///
/// As [`encode_snapshot_with_memories`] when `memories` is non-empty.
pub fn encode_snapshot_with_trace(
    snapshot: &Snapshot,
    memories: &[&[u8]],
    trace: Option<&crate::trace::TraceTail>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let memories = (!memories.is_empty()).then_some(memories);
    write_snapshot(&mut out, snapshot, memories, trace).expect("a Vec takes every byte");
    out
}

/// Decodes and fully validates an encoded snapshot of any `1.x` format version.
///
/// Never panics, and allocates in proportion to the input: every count and length is
/// checked against the bytes that remain before anything is allocated for it, and a
/// page never decompresses to more than 64 KiB. ([`SnapshotView`] decodes the same
/// without decompressing the pages into images.)
pub fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
    let view = SnapshotView::parse(bytes)?;
    let mut state = view.state.clone();
    for (m, image) in state.memories.iter_mut().enumerate() {
        image.nonzero_pages = view
            .stored(m)
            .iter()
            .map(|stored| {
                let mut page = vec![0u8; WASM_PAGE];
                decode_stored(m, stored, &mut page).map(|()| (stored.index, page))
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(Snapshot {
        module: view.module,
        trigger: view.trigger,
        state,
        wasi: view.wasi.map(<[u8]>::to_vec),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{HEADER_LEN, section};
    use crate::state::MemoryImage;
    use crate::testutil::{assemble, lz4, noise_page, reseal, rich, small, split, uleb};

    fn decode_err(bytes: &[u8]) -> SnapshotError {
        decode_snapshot(bytes).expect_err("forged snapshot accepted")
    }

    #[test]
    fn round_trip_is_exact() {
        for snapshot in [rich(), small()] {
            assert_eq!(
                decode_snapshot(&encode_snapshot(&snapshot)).unwrap(),
                snapshot
            );
        }
        let without_wasi = Snapshot {
            wasi: None,
            ..rich()
        };
        assert_eq!(
            decode_snapshot(&encode_snapshot(&without_wasi)).unwrap(),
            without_wasi
        );
    }

    #[test]
    fn encoding_is_deterministic_and_compressed() {
        let snapshot = rich();
        let bytes = encode_snapshot(&snapshot);
        assert_eq!(bytes, encode_snapshot(&snapshot));
        // Five non-zero pages, one of which is noise and must be stored raw.
        assert!(bytes.len() > WASM_PAGE, "the noise page is stored");
        assert!(
            bytes.len() < 2 * WASM_PAGE,
            "the other pages are compressed"
        );
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let bytes = encode_snapshot(&rich());
        for len in 0..bytes.len() {
            match decode_err(&bytes[..len]) {
                SnapshotError::Truncated { offset, .. } => assert!(offset <= len),
                other => panic!("prefix of {len} bytes: unexpected error {other}"),
            }
        }
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = encode_snapshot(&small());
        assert!(bytes.len() < 1024, "small sample is {} bytes", bytes.len());
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[i] ^= 1 << bit;
                let err = decode_err(&flipped);
                // Outside magic and version, corruption is reported as such.
                if i >= 12 {
                    assert!(
                        matches!(
                            err,
                            SnapshotError::ChecksumMismatch { .. }
                                | SnapshotError::Truncated { .. }
                        ),
                        "byte {i} bit {bit}: {err}"
                    );
                }
            }
        }
    }

    #[test]
    fn wrong_magic_is_not_a_snapshot() {
        let mut bytes = encode_snapshot(&small());
        bytes[0] = b'X';
        let err = decode_err(&bytes);
        assert!(matches!(err, SnapshotError::NotASnapshot));
        assert_eq!(
            err.to_string(),
            "not a tern snapshot (bad magic at byte offset 0)"
        );
        assert!(matches!(
            decode_err(b"\0asm\x01\0\0\0"),
            SnapshotError::NotASnapshot
        ));
    }

    #[test]
    fn newer_major_is_refused_naming_both_versions() {
        let mut bytes = encode_snapshot(&small());
        bytes[8..10].copy_from_slice(&2u16.to_le_bytes());
        bytes[10..12].copy_from_slice(&3u16.to_le_bytes());
        reseal(&mut bytes);
        let err = decode_err(&bytes);
        assert!(matches!(err, SnapshotError::UnsupportedVersion { .. }));
        assert_eq!(
            err.to_string(),
            "unsupported snapshot format version 2.3: this tern reads format 1.x (it writes 1.1)"
        );
        // A corrupted newer file still reports its version: that is checked first.
        bytes.truncate(40);
        assert!(matches!(
            decode_err(&bytes),
            SnapshotError::UnsupportedVersion { .. }
        ));
    }

    #[test]
    fn newer_minor_and_optional_flags_are_read() {
        let snapshot = small();
        let mut bytes = encode_snapshot(&snapshot);
        bytes[10..12].copy_from_slice(&9u16.to_le_bytes());
        bytes[12..16].copy_from_slice(&0x8000_0000u32.to_le_bytes());
        reseal(&mut bytes);
        assert_eq!(decode_snapshot(&bytes).unwrap(), snapshot);
        bytes[12..16].copy_from_slice(&1u32.to_le_bytes());
        reseal(&mut bytes);
        let err = decode_err(&bytes);
        assert!(
            matches!(err, SnapshotError::UnsupportedFlags { flags: 1 }),
            "{err}"
        );
    }

    #[test]
    fn unknown_optional_section_is_skipped() {
        let snapshot = rich();
        let (header, mut sections) = split(&encode_snapshot(&snapshot));
        sections.insert(0, (0x90, b"from the future".to_vec()));
        sections.push((0xfe, vec![]));
        let bytes = assemble(&header, &sections);
        assert_eq!(decode_snapshot(&bytes).unwrap(), snapshot);
        let sizes = crate::section_sizes(&bytes).unwrap();
        assert_eq!(sizes.unknown, 9 + 15 + 9);
    }

    #[test]
    fn unknown_required_section_is_refused() {
        let (mut header, mut sections) = split(&encode_snapshot(&small()));
        header[10..12].copy_from_slice(&4u16.to_le_bytes());
        sections.insert(2, (0x10, vec![1, 2, 3]));
        let bytes = assemble(&header, &sections);
        let err = decode_err(&bytes);
        assert!(
            matches!(err, SnapshotError::UnknownSection { id: 0x10, .. }),
            "{err}"
        );
        let message = err.to_string();
        assert!(
            message.contains("0x10") && message.contains("1.4"),
            "{message}"
        );
    }

    #[test]
    fn duplicate_and_missing_sections_are_refused() {
        let (header, sections) = split(&encode_snapshot(&small()));
        let mut doubled = sections.clone();
        doubled.push(sections[0].clone());
        assert!(matches!(
            decode_err(&assemble(&header, &doubled)),
            SnapshotError::DuplicateSection {
                section: "module",
                ..
            }
        ));
        for (i, (id, _)) in sections.iter().enumerate() {
            let mut fewer = sections.clone();
            fewer.remove(i);
            let bytes = assemble(&header, &fewer);
            if *id == section::WASI {
                assert_eq!(decode_snapshot(&bytes).unwrap().wasi, None);
            } else {
                assert!(
                    matches!(decode_err(&bytes), SnapshotError::MissingSection { .. }),
                    "section 0x{id:02x} removed"
                );
            }
        }
    }

    #[test]
    fn bytes_after_end_section_are_refused() {
        let mut bytes = encode_snapshot(&small());
        bytes.extend_from_slice(&[0; 4]);
        reseal(&mut bytes);
        let err = decode_err(&bytes);
        assert!(
            matches!(err, SnapshotError::Malformed { section: "end", .. }),
            "{err}"
        );
    }

    /// Replaces one section's payload and reseals, as a forger with a valid checksum would.
    fn forge(id: u8, payload: Vec<u8>) -> Vec<u8> {
        let (header, mut sections) = split(&encode_snapshot(&small()));
        sections.iter_mut().find(|(i, _)| *i == id).unwrap().1 = payload;
        assemble(&header, &sections)
    }

    #[test]
    fn forged_huge_lengths_are_refused_without_allocating() {
        // If any of these lengths were trusted, the allocation (terabytes) would abort the
        // test process rather than fail the test.
        let mut bytes = encode_snapshot(&small());
        bytes[HEADER_LEN + 1..HEADER_LEN + 9].copy_from_slice(&u64::MAX.to_le_bytes());
        reseal(&mut bytes);
        let err = decode_err(&bytes);
        assert!(matches!(err, SnapshotError::Truncated { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("declares 18446744073709551615 bytes"),
            "{err}"
        );

        // Page count of memory 0.
        let payload = [uleb(1), uleb(u64::from(u32::MAX))].concat();
        let err = decode_err(&forge(section::MEMORY, payload));
        assert!(
            matches!(
                err,
                SnapshotError::Malformed {
                    section: "memory",
                    ..
                }
            ),
            "{err}"
        );

        // Length of one page's compressed data.
        let payload = [uleb(1), uleb(1), uleb(0), vec![1], uleb(u64::MAX >> 1)].concat();
        let err = decode_err(&forge(section::MEMORY, payload));
        assert!(
            matches!(
                err,
                SnapshotError::Malformed {
                    section: "memory",
                    ..
                }
            ),
            "{err}"
        );

        // Counts inside the state encoding: a memory with 2^32-1 pages is fine (pages are
        // not allocated), but 2^32-1 globals are not there.
        let payload = [uleb(0), uleb(0), uleb(u64::from(u32::MAX))].concat();
        let err = decode_err(&forge(section::STATE, payload));
        assert!(
            matches!(
                err,
                SnapshotError::Malformed {
                    section: "state",
                    ..
                }
            ),
            "{err}"
        );

        // String lengths in the trigger.
        let payload = uleb(u64::MAX >> 1);
        let err = decode_err(&forge(section::TRIGGER, payload));
        assert!(
            matches!(
                err,
                SnapshotError::Malformed {
                    section: "trigger",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn bad_compression_names_memory_and_page() {
        // A valid LZ4 block of two pages does not fit in one.
        let block = lz4(&[noise_page(1), noise_page(2)].concat());
        let payload = [
            uleb(1),
            uleb(1),
            uleb(0),
            vec![1],
            uleb(block.len() as u64),
            block,
        ]
        .concat();
        let err = decode_err(&forge(section::MEMORY, payload));
        assert!(
            matches!(
                err,
                SnapshotError::BadCompression {
                    memory: 0,
                    page: 0,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("bad compression in memory 0 page 0 (byte offset ")
        );

        // Garbage, and a block that decompresses to less than a page.
        for block in [vec![0xff; 40], lz4(b"short")] {
            let payload = [
                uleb(1),
                uleb(1),
                uleb(0),
                vec![1],
                uleb(block.len() as u64),
                block,
            ]
            .concat();
            let err = decode_err(&forge(section::MEMORY, payload));
            assert!(matches!(err, SnapshotError::BadCompression { .. }), "{err}");
        }

        // A raw page of the wrong size, and an unknown page encoding.
        let payload = [uleb(1), uleb(1), uleb(0), vec![0], uleb(3), vec![1, 2, 3]].concat();
        let err = decode_err(&forge(section::MEMORY, payload));
        assert!(matches!(err, SnapshotError::BadCompression { .. }), "{err}");
        let payload = [uleb(1), uleb(1), uleb(0), vec![7], uleb(0)].concat();
        let err = decode_err(&forge(section::MEMORY, payload));
        assert!(
            matches!(
                err,
                SnapshotError::Malformed {
                    section: "memory",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn inconsistent_memories_are_refused() {
        // Page index beyond the memory's size (1 page).
        let payload = [uleb(1), uleb(1), uleb(1), vec![0], uleb(0)].concat();
        let err = decode_err(&forge(section::MEMORY, payload));
        assert!(err.to_string().contains("page index 1"), "{err}");
        // Memory count differing from the state's.
        let payload = [uleb(2), uleb(0), uleb(0)].concat();
        let err = decode_err(&forge(section::MEMORY, payload));
        assert!(err.to_string().contains("2 memories"), "{err}");
        // Page data inside the state section.
        let state = crate::codec::encode_state(&small().state);
        let err = decode_err(&forge(section::STATE, state));
        assert!(
            err.to_string().contains("page data in the state section"),
            "{err}"
        );
    }

    #[test]
    fn state_errors_carry_file_offsets() {
        let (header, sections) = split(&encode_snapshot(&small()));
        let state_at = {
            let bytes = assemble(&header, &sections);
            crate::layout::parse(&bytes).unwrap().state.payload_offset()
        };
        // Trailing byte after a valid state: the codec reports its own offset, which the
        // snapshot error moves to the file's.
        let mut state = sections
            .iter()
            .find(|(id, _)| *id == section::STATE)
            .unwrap()
            .1
            .clone();
        let codec_offset = state.len();
        state.push(0);
        let err = decode_err(&forge(section::STATE, state));
        match err {
            SnapshotError::Malformed {
                section: "state",
                offset,
                ..
            } => {
                assert_eq!(offset, state_at + codec_offset)
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics() {
        // A cheap deterministic fuzz: mutate a valid file, reseal, decode.
        let bytes = encode_snapshot(&rich());
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut forged = bytes.clone();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let at = HEADER_LEN + (x as usize % (forged.len() - HEADER_LEN));
                forged[at] = (x >> 32) as u8;
            }
            reseal(&mut forged);
            let _ = decode_snapshot(&forged);
        }
    }

    /// The worked example of docs/snapshot-format.md, byte for byte: if this fails, the
    /// format changed and the specification (and probably the version) must follow.
    #[test]
    fn golden_example_matches_the_specification() {
        use crate::state::{Frame, Value};
        let snapshot = Snapshot {
            module: ModuleIdentity::of(b""),
            trigger: TriggerInfo {
                kind: "manual".into(),
                detail: String::new(),
                instructions: Some(7),
                unix_nanos: 0,
            },
            state: ExecState {
                memories: vec![MemoryImage {
                    pages: 1,
                    nonzero_pages: vec![],
                }],
                globals: vec![Value::I32(5)],
                frames: vec![Frame {
                    instance: 0,
                    func: 1,
                    pc: 0x40,
                    locals: vec![],
                    stack: vec![],
                }],
                ..ExecState::default()
            },
            wasi: None,
        };
        let expected = concat!(
            "5445524e534e4150 0100 0100 00000000", // header: magic, 1.1, flags
            "01 2800000000000000",                 // module, 40 bytes
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", // sha256("")
            "0000000000000000",                    // module length 0
            "81 1900000000000000",                 // trigger, 25 bytes
            "06 6d616e75616c 00",                  // kind "manual", detail ""
            "01 0700000000000000",                 // 7 instructions
            "0000000000000000",                    // unix_nanos 0
            "02 1100000000000000",                 // state, 17 bytes
            "01 01 00",                            // 1 memory: 1 page, no page data
            "00",                                  // 0 tables
            "01 7f 05000000",                      // 1 global: i32 5
            "00",                                  // 0 instances
            "01 00 01 40 00 00",                   // 1 frame
            "03 0200000000000000",                 // memory, 2 bytes
            "01 00",                               // 1 memory, 0 stored pages
            "00 0400000000000000",                 // end, 4 bytes
            "46851a42",                            // CRC-32
        )
        .replace(' ', "");
        let actual: String = encode_snapshot(&snapshot)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(actual, expected);
        assert_eq!(
            crc32fast::hash(b"123456789"),
            0xcbf4_3926,
            "CRC-32/ISO-HDLC"
        );
    }
}
