//! [`SnapshotView`]: a fully checked snapshot whose memory pages are decompressed only
//! when the engine asks, straight into the memory it restores.

use crate::bytes::Reader;
use crate::codec::decode_state;
use crate::error::SnapshotError;
use crate::identity::ModuleIdentity;
use crate::layout::{self, Section};
use crate::memory_read::{MemoryPages, StoredPage, fill_memory, parse_memories};
use crate::state::{ExecState, WASM_PAGE};
use crate::trigger::TriggerInfo;

/// A decoded snapshot that borrows the encoded bytes for its memory pages.
///
/// Everything but the pages' compressed data is decoded and checked by
/// [`SnapshotView::parse`] (steps 1–7 of *How a reader validates a file* in
/// `docs/snapshot-format.md`, decompression aside); [`SnapshotView::fill_memory`]
/// decompresses one memory's pages into a buffer the engine provides, so restoring a
/// memory writes each page once, where it belongs.
///
/// ```
/// use tern_snapshot::{ExecState, MemoryImage, ModuleIdentity, Snapshot, SnapshotView, TriggerInfo, WASM_PAGE};
///
/// let mut page = vec![0u8; WASM_PAGE];
/// page[7] = 1;
/// let snapshot = Snapshot {
///     module: ModuleIdentity::of(b""),
///     trigger: TriggerInfo::now("manual", ""),
///     state: ExecState {
///         memories: vec![MemoryImage { pages: 2, nonzero_pages: vec![(1, page)] }],
///         ..ExecState::default()
///     },
///     wasi: None,
/// };
/// let bytes = tern_snapshot::encode_snapshot(&snapshot);
/// let view = SnapshotView::parse(&bytes).unwrap();
/// assert_eq!(view.state.memories[0].pages, 2);
/// assert!(view.state.memories[0].nonzero_pages.is_empty(), "pages stay in the bytes");
/// let mut memory = vec![0u8; 2 * WASM_PAGE];
/// view.fill_memory(0, &mut memory).unwrap();
/// assert_eq!(memory[WASM_PAGE + 7], 1);
/// ```
#[derive(Debug)]
pub struct SnapshotView<'a> {
    /// The module the program runs; a restore must be given the same one.
    pub module: ModuleIdentity,
    /// Why and when the snapshot was taken.
    pub trigger: TriggerInfo,
    /// The Wasm-level state; its memory images hold sizes only (no pages).
    pub state: ExecState,
    /// The WASI state as UTF-8 JSON, if the program runs with WASI.
    pub wasi: Option<&'a [u8]>,
    pages: MemoryPages<'a>,
}

impl<'a> SnapshotView<'a> {
    /// Decodes and checks an encoded snapshot of any `1.x` format version, except for the
    /// content of the compressed pages.
    ///
    /// Never panics, and allocates in proportion to the input.
    pub fn parse(bytes: &'a [u8]) -> Result<SnapshotView<'a>, SnapshotError> {
        let layout = layout::parse(bytes)?;
        let (module, trigger, state) = decode_head(layout.module, layout.trigger, layout.state)?;
        let sizes: Vec<u32> = state.memories.iter().map(|m| m.pages).collect();
        let pages = parse_memories(reader(layout.memory, "memory"), &sizes)?;
        Ok(SnapshotView {
            module,
            trigger,
            state,
            wasi: layout.wasi.map(|s| s.payload),
            pages,
        })
    }

    /// How many pages memory `m` stores (its non-zero pages).
    pub fn stored_pages(&self, m: usize) -> usize {
        self.pages[m].len()
    }

    /// Memory `m`'s stored pages, undecoded.
    pub(crate) fn stored(&self, m: usize) -> &[StoredPage<'a>] {
        &self.pages[m]
    }

    /// Decompresses memory `m`'s pages into `memory`, which must be the memory's whole
    /// content (`state.memories[m].pages` × [`WASM_PAGE`] bytes) and zero: pages the
    /// snapshot does not store are all-zero and are not written. Large memories are
    /// decompressed on every core.
    ///
    /// On error (a page that does not decompress to exactly one page), the lowest such
    /// page is named and `memory` holds a mix of decoded and zero pages.
    ///
    /// # Panics
    ///
    /// If `m` is not a memory of the snapshot or `memory` has another size.
    pub fn fill_memory(&self, m: usize, memory: &mut [u8]) -> Result<(), SnapshotError> {
        assert_eq!(
            memory.len(),
            self.state.memories[m].pages as usize * WASM_PAGE,
            "memory {m} has the size the snapshot gives it"
        );
        fill_memory(m, &self.pages[m], memory)
    }
}

/// Decodes the `module`, `trigger` and `state` sections (the state without page data, as
/// a file must hold it), shared by [`SnapshotView`] and [`crate::SnapshotFile`].
pub(crate) fn decode_head(
    module: Section<'_>,
    trigger: Section<'_>,
    state: Section<'_>,
) -> Result<(ModuleIdentity, TriggerInfo, ExecState), SnapshotError> {
    let module = decode_module(module)?;
    let trigger = TriggerInfo::decode(reader(trigger, "trigger"))?;
    let base = state.payload_offset();
    let state = decode_state(state.payload).map_err(|e| SnapshotError::Malformed {
        section: "state",
        offset: base + e.offset,
        message: e.message,
    })?;
    if let Some(m) = state
        .memories
        .iter()
        .position(|m| !m.nonzero_pages.is_empty())
    {
        return Err(SnapshotError::Malformed {
            section: "state",
            offset: base,
            message: format!(
                "memory {m} has page data in the state section (pages belong in the memory section)"
            ),
        });
    }
    Ok((module, trigger, state))
}

fn reader<'a>(s: Section<'a>, name: &'static str) -> Reader<'a> {
    Reader::new(s.payload, s.payload_offset(), name)
}

fn decode_module(s: Section<'_>) -> Result<ModuleIdentity, SnapshotError> {
    let mut r = reader(s, "module");
    let sha256 = r.take(32)?.try_into().expect("took 32 bytes");
    let len = r.u64()?;
    r.finish()?;
    Ok(ModuleIdentity { sha256, len })
}
