//! Sample snapshots and tools to forge files, for the unit tests.

use crate::format::{CHECKSUM_LEN, HEADER_LEN, SECTION_HEADER_LEN, section};
use crate::identity::ModuleIdentity;
use crate::snapshot::Snapshot;
use crate::state::{ExecState, Frame, InstanceImage, MemoryImage, TableImage, Value, WASM_PAGE};
use crate::trigger::TriggerInfo;

/// A page of pseudo-random bytes (xorshift), which LZ4 cannot shrink.
pub fn noise_page(seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..WASM_PAGE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A page with a little structured data, which compresses well.
pub fn sparse_page(fill: u8) -> Vec<u8> {
    let mut page = vec![0u8; WASM_PAGE];
    for (i, b) in page.iter_mut().enumerate().step_by(97) {
        *b = fill.wrapping_add(i as u8);
    }
    page
}

/// A memory of `pages` + 1 pages whose first `pages` are zero every `zero_every`-th page
/// and otherwise noise every `noise_every`-th page, sparse data elsewhere; the last page
/// is zero. Large enough to be coded in several batches and threads.
pub fn mixed_memory(pages: u32, zero_every: u32, noise_every: u32) -> MemoryImage {
    let nonzero_pages = (0..pages)
        .filter(|i| i % zero_every != 0)
        .map(|i| {
            let page = if i % noise_every == 0 {
                noise_page(u64::from(i))
            } else {
                sparse_page(i as u8)
            };
            (i, page)
        })
        .collect();
    MemoryImage {
        pages: pages + 1,
        nonzero_pages,
    }
}

/// Several memories (one empty, one with an incompressible page), tables, globals of
/// every type, segment state, three frames and WASI bytes.
pub fn rich() -> Snapshot {
    Snapshot {
        module: ModuleIdentity::of(b"\0asm\x01\0\0\0 pretend module"),
        trigger: TriggerInfo {
            kind: "instructions".into(),
            detail: "1000000".into(),
            instructions: Some(1_000_000),
            unix_nanos: 1_790_000_000_123_456_789,
        },
        state: ExecState {
            memories: vec![
                MemoryImage {
                    pages: 5,
                    nonzero_pages: vec![
                        (0, sparse_page(1)),
                        (2, noise_page(7)),
                        (4, vec![0xff; WASM_PAGE]),
                    ],
                },
                MemoryImage {
                    pages: 0,
                    nonzero_pages: vec![],
                },
                MemoryImage {
                    pages: 3,
                    nonzero_pages: vec![(1, sparse_page(9))],
                },
            ],
            tables: vec![
                TableImage {
                    elements: vec![
                        Value::FuncRef(None),
                        Value::FuncRef(Some(3)),
                        Value::FuncRef(Some(0)),
                    ],
                },
                TableImage {
                    elements: vec![Value::ExternRef(Some(u32::MAX - 1)), Value::ExternRef(None)],
                },
            ],
            globals: vec![
                Value::I32(0xdead_beef),
                Value::I64(u64::MAX),
                Value::F32(0x7fc0_0001),
                Value::F64(0xfff8_0000_0000_0001),
                Value::V128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10),
                Value::FuncRef(Some(2)),
            ],
            instances: vec![
                InstanceImage {
                    dropped_data: vec![0, 2],
                    dropped_elems: vec![1],
                },
                InstanceImage::default(),
            ],
            frames: vec![
                Frame {
                    instance: 0,
                    func: 4,
                    pc: 120,
                    locals: vec![Value::I32(1), Value::I64(2)],
                    stack: vec![Value::I32(3)],
                },
                Frame {
                    instance: 0,
                    func: 7,
                    pc: 345,
                    locals: vec![],
                    stack: vec![Value::F64(0), Value::V128(9)],
                },
                Frame {
                    instance: 1,
                    func: 2,
                    pc: 999,
                    locals: vec![Value::FuncRef(None)],
                    stack: vec![],
                },
            ],
        },
        wasi: Some(br#"{"args":["prog","x"],"env":[],"monotonic_ns":5}"#.to_vec()),
    }
}

/// A snapshot small enough to flip every bit of.
pub fn small() -> Snapshot {
    let mut page = vec![0u8; WASM_PAGE];
    page[..5].copy_from_slice(b"hello");
    Snapshot {
        module: ModuleIdentity::of(b"m"),
        trigger: TriggerInfo {
            kind: "call".into(),
            detail: "f:3".into(),
            instructions: None,
            unix_nanos: 42,
        },
        state: ExecState {
            memories: vec![MemoryImage {
                pages: 1,
                nonzero_pages: vec![(0, page)],
            }],
            globals: vec![Value::I32(5)],
            frames: vec![Frame {
                instance: 0,
                func: 1,
                pc: 30,
                locals: vec![Value::I32(1)],
                stack: vec![],
            }],
            ..ExecState::default()
        },
        wasi: Some(b"{}".to_vec()),
    }
}

/// Recomputes the trailing checksum, as a forger would.
pub fn reseal(bytes: &mut [u8]) {
    let at = bytes.len() - CHECKSUM_LEN;
    let crc = crc32fast::hash(&bytes[..at]);
    bytes[at..].copy_from_slice(&crc.to_le_bytes());
}

/// Splits a valid file into its header and `(id, payload)` sections, `end` excluded.
pub fn split(bytes: &[u8]) -> (Vec<u8>, Vec<(u8, Vec<u8>)>) {
    let mut sections = Vec::new();
    let mut pos = HEADER_LEN;
    loop {
        let id = bytes[pos];
        let len = u64::from_le_bytes(bytes[pos + 1..pos + 9].try_into().unwrap()) as usize;
        if id == section::END {
            return (bytes[..HEADER_LEN].to_vec(), sections);
        }
        let start = pos + SECTION_HEADER_LEN;
        sections.push((id, bytes[start..start + len].to_vec()));
        pos = start + len;
    }
}

/// Assembles a sealed file from a header and sections.
pub fn assemble(header: &[u8], sections: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = header.to_vec();
    for (id, payload) in sections {
        out.push(*id);
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(payload);
    }
    out.push(section::END);
    out.extend_from_slice(&(CHECKSUM_LEN as u64).to_le_bytes());
    out.extend_from_slice(&[0; CHECKSUM_LEN]);
    reseal(&mut out);
    out
}

/// Unsigned LEB128.
pub fn uleb(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    crate::bytes::Writer(&mut out).uleb(n);
    out
}

/// One LZ4 block holding `data`.
pub fn lz4(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0; lz4_flex::block::get_maximum_output_size(data.len())];
    let n = lz4_flex::block::compress_into(data, &mut out).unwrap();
    out.truncate(n);
    out
}
