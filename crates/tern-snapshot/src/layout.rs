//! Reading a file's outer structure: header, section framing and checksum, without
//! interpreting any section's content. Also [`section_sizes`] for `tern inspect`.
//!
//! The checks run in the order that gives the most useful message: magic (is it a
//! snapshot at all), version (can this tern read it), framing (is it truncated), checksum
//! (is it corrupted), then flags and the set of sections.

use crate::error::SnapshotError;
use crate::format::{
    CHECKSUM_LEN, FormatVersion, HEADER_LEN, KNOWN_FLAGS, MAGIC, OPTIONAL_SECTION_BIT,
    REQUIRED_FLAGS_MASK, SECTION_HEADER_LEN, section, section_name,
};

/// One framed section of a file.
#[derive(Debug, Clone, Copy)]
pub struct Section<'a> {
    /// Byte offset of the section's id byte.
    pub offset: usize,
    /// The payload.
    pub payload: &'a [u8],
}

impl Section<'_> {
    /// Byte offset of the payload.
    pub fn payload_offset(&self) -> usize {
        self.offset + SECTION_HEADER_LEN
    }

    /// Bytes the section takes in the file, header included.
    pub fn file_len(&self) -> usize {
        SECTION_HEADER_LEN + self.payload.len()
    }
}

/// A file whose header, framing and checksum are valid, with its sections sorted out.
#[derive(Debug)]
pub struct Layout<'a> {
    pub version: FormatVersion,
    pub module: Section<'a>,
    pub trigger: Section<'a>,
    pub state: Section<'a>,
    pub memory: Section<'a>,
    pub wasi: Option<Section<'a>>,
    pub trace: Option<Section<'a>>,
    pub end: Section<'a>,
    /// Total bytes of the optional sections this reader skipped.
    pub unknown_bytes: usize,
}

/// Validates everything but the sections' content.
pub fn parse(bytes: &[u8]) -> Result<Layout<'_>, SnapshotError> {
    let version = header(bytes)?;
    let framed = frame(bytes);
    let stored_at = bytes.len().saturating_sub(CHECKSUM_LEN);
    let stored = u32::from_le_bytes(bytes[stored_at..].try_into().unwrap_or([0; CHECKSUM_LEN]));
    let computed = crc32fast::hash(&bytes[..stored_at]);
    let sections = match framed {
        // A truncated file's last bytes are not a checksum: say it is truncated.
        Err(e @ SnapshotError::Truncated { .. }) => return Err(e),
        Err(_) | Ok(_) if stored != computed => {
            return Err(SnapshotError::ChecksumMismatch {
                offset: stored_at,
                stored,
                computed,
            });
        }
        // Intact (the checksum matches) but badly framed: a faulty or forging writer.
        Err(e) => return Err(e),
        Ok(sections) => sections,
    };
    let flags = u32::from_le_bytes(bytes[12..16].try_into().expect("header is 16 bytes"));
    let unknown_flags = flags & REQUIRED_FLAGS_MASK & !KNOWN_FLAGS;
    if unknown_flags != 0 {
        return Err(SnapshotError::UnsupportedFlags {
            flags: unknown_flags,
        });
    }
    sort_out(version, sections)
}

/// Magic and version.
pub(crate) fn header(bytes: &[u8]) -> Result<FormatVersion, SnapshotError> {
    if bytes.is_empty() {
        return Err(SnapshotError::Truncated {
            offset: 0,
            context: "the data is empty".into(),
        });
    }
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(SnapshotError::NotASnapshot);
    }
    if bytes.len() < HEADER_LEN {
        return Err(SnapshotError::Truncated {
            offset: bytes.len(),
            context: format!("inside the {HEADER_LEN}-byte header"),
        });
    }
    let found = FormatVersion {
        major: u16::from_le_bytes([bytes[8], bytes[9]]),
        minor: u16::from_le_bytes([bytes[10], bytes[11]]),
    };
    if found.major != FormatVersion::CURRENT.major {
        return Err(SnapshotError::UnsupportedVersion {
            found,
            supported: FormatVersion::CURRENT,
        });
    }
    Ok(found)
}

/// Splits the bytes after the header into sections, up to and including the `end`
/// section, which must be the last bytes. Only bounds are checked here.
fn frame(bytes: &[u8]) -> Result<Vec<(u8, Section<'_>)>, SnapshotError> {
    let mut sections = Vec::new();
    let mut pos = HEADER_LEN;
    loop {
        let remaining = bytes.len() - pos;
        if remaining == 0 {
            return Err(SnapshotError::Truncated {
                offset: pos,
                context: "the data ends before the 'end' section".into(),
            });
        }
        if remaining < SECTION_HEADER_LEN {
            return Err(SnapshotError::Truncated {
                offset: bytes.len(),
                context: format!("inside the header of the section at byte offset {pos}"),
            });
        }
        let id = bytes[pos];
        let len = u64::from_le_bytes(
            bytes[pos + 1..pos + SECTION_HEADER_LEN]
                .try_into()
                .expect("8 bytes"),
        );
        let available = remaining - SECTION_HEADER_LEN;
        // Compared as u64 so a forged length is refused before any arithmetic or
        // allocation depends on it.
        if len > available as u64 {
            return Err(SnapshotError::Truncated {
                offset: bytes.len(),
                context: format!(
                    "{} at byte offset {pos} declares {len} bytes, only {available} remain",
                    describe(id)
                ),
            });
        }
        let start = pos + SECTION_HEADER_LEN;
        let end = start + len as usize;
        sections.push((
            id,
            Section {
                offset: pos,
                payload: &bytes[start..end],
            },
        ));
        if id == section::END {
            if len != CHECKSUM_LEN as u64 {
                return Err(SnapshotError::Malformed {
                    section: "end",
                    offset: pos,
                    message: format!("the end section holds {len} bytes, not {CHECKSUM_LEN}"),
                });
            }
            if end != bytes.len() {
                return Err(SnapshotError::Malformed {
                    section: "end",
                    offset: end,
                    message: format!("{} bytes follow the end section", bytes.len() - end),
                });
            }
            return Ok(sections);
        }
        pos = end;
    }
}

/// `section 'memory'` or `section 0x42`.
fn describe(id: u8) -> String {
    match section_name(id) {
        Some(name) => format!("section '{name}'"),
        None => format!("section 0x{id:02x}"),
    }
}

/// Assigns sections to their roles: refuses duplicates, unknown required sections and
/// missing ones; skips unknown optional ones.
fn sort_out<'a>(
    version: FormatVersion,
    sections: Vec<(u8, Section<'a>)>,
) -> Result<Layout<'a>, SnapshotError> {
    let mut found: [Option<Section<'a>>; 7] = [None; 7];
    let mut unknown_bytes = 0;
    for (id, s) in sections {
        let slot = match id {
            section::END => 0,
            section::MODULE => 1,
            section::TRIGGER => 2,
            section::STATE => 3,
            section::MEMORY => 4,
            section::WASI => 5,
            section::TRACE => 6,
            _ if id & OPTIONAL_SECTION_BIT != 0 => {
                unknown_bytes += s.file_len();
                continue;
            }
            _ => {
                return Err(SnapshotError::UnknownSection {
                    id,
                    offset: s.offset,
                    found: version,
                });
            }
        };
        if found[slot].is_some() {
            return Err(SnapshotError::DuplicateSection {
                section: section_name(id).expect("known section"),
                offset: s.offset,
            });
        }
        found[slot] = Some(s);
    }
    let required = |slot: usize, id: u8| {
        found[slot].ok_or(SnapshotError::MissingSection {
            section: section_name(id).expect("known section"),
        })
    };
    Ok(Layout {
        version,
        end: required(0, section::END)?,
        module: required(1, section::MODULE)?,
        trigger: required(2, section::TRIGGER)?,
        state: required(3, section::STATE)?,
        memory: required(4, section::MEMORY)?,
        wasi: found[5],
        trace: found[6],
        unknown_bytes,
    })
}

/// How many bytes each part of a snapshot file takes. Every section is counted with its
/// 9-byte section header, so the parts add up to `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotSizes {
    /// The file's format version.
    pub version: FormatVersion,
    /// The fixed header (magic, version, flags): always 16.
    pub header: usize,
    /// The `module` section.
    pub module: usize,
    /// The `trigger` section.
    pub trigger: usize,
    /// The `state` section: globals, tables, segments, frames and memory sizes.
    pub state: usize,
    /// The `memory` section: compressed non-zero pages.
    pub memory: usize,
    /// The `wasi` section, 0 if absent.
    pub wasi: usize,
    /// The `trace` section (format 1.1), 0 if absent.
    pub trace: usize,
    /// Optional sections this tern does not know (skipped when reading).
    pub unknown: usize,
    /// The `end` section holding the checksum: always 13.
    pub end: usize,
    /// The whole file.
    pub total: usize,
}

/// The size of each part of an encoded snapshot, after validating its header, framing and
/// checksum (but without decoding or decompressing anything).
///
/// ```
/// use tern_snapshot::{ExecState, ModuleIdentity, Snapshot, TriggerInfo};
///
/// let snapshot = Snapshot {
///     module: ModuleIdentity::of(b"\0asm\x01\0\0\0"),
///     trigger: TriggerInfo::now("manual", ""),
///     state: ExecState::default(),
///     wasi: None,
/// };
/// let bytes = tern_snapshot::encode_snapshot(&snapshot);
/// let sizes = tern_snapshot::section_sizes(&bytes).unwrap();
/// assert_eq!(sizes.total, bytes.len());
/// assert_eq!(sizes.wasi, 0);
/// ```
pub fn section_sizes(bytes: &[u8]) -> Result<SnapshotSizes, SnapshotError> {
    let layout = parse(bytes)?;
    Ok(SnapshotSizes {
        version: layout.version,
        header: HEADER_LEN,
        module: layout.module.file_len(),
        trigger: layout.trigger.file_len(),
        state: layout.state.file_len(),
        memory: layout.memory.file_len(),
        wasi: layout.wasi.map_or(0, |s| s.file_len()),
        trace: layout.trace.map_or(0, |s| s.file_len()),
        unknown: layout.unknown_bytes,
        end: layout.end.file_len(),
        total: bytes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{reseal, rich};

    #[test]
    fn sizes_add_up_and_need_a_valid_file() {
        let mut bytes = crate::encode_snapshot(&rich());
        let s = section_sizes(&bytes).unwrap();
        assert_eq!(s.version, FormatVersion::CURRENT);
        assert_eq!((s.header, s.module, s.end, s.unknown), (16, 9 + 40, 13, 0));
        let sum = s.header + s.module + s.trigger + s.state + s.memory + s.wasi + s.end;
        assert_eq!(sum, s.total);
        assert_eq!(s.total, bytes.len());
        let last = bytes.len() - 20;
        bytes[last] ^= 1;
        assert!(matches!(
            section_sizes(&bytes),
            Err(SnapshotError::ChecksumMismatch { .. })
        ));
        reseal(&mut bytes);
        assert!(section_sizes(&bytes).is_ok(), "content is not decoded");
    }
}
