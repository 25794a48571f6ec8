//! The constants of the file format: magic, version, flags and section ids.
//!
//! `docs/snapshot-format.md` is the specification; this file is its table of numbers.

use std::fmt;

/// The first eight bytes of every snapshot file.
pub const MAGIC: [u8; 8] = *b"TERNSNAP";

/// Length of the fixed header: magic, major, minor, flags.
pub const HEADER_LEN: usize = 16;

/// Length of a section header: one id byte and a little-endian u64 payload length.
pub const SECTION_HEADER_LEN: usize = 9;

/// Length of the `end` section's payload, the CRC-32.
pub const CHECKSUM_LEN: usize = 4;

/// Header flag bits a reader must understand to read the file; an unknown one is refused.
/// The upper 16 bits are optional flags, ignored when unknown. Version 1.0 defines none.
pub const REQUIRED_FLAGS_MASK: u32 = 0x0000_ffff;

/// Flags this reader understands (none yet).
pub const KNOWN_FLAGS: u32 = 0;

/// A section id with this bit set is *optional*: a reader that does not know it skips it.
/// Without it the section is *required*: a reader that does not know it refuses the file.
pub const OPTIONAL_SECTION_BIT: u8 = 0x80;

/// Section ids known to this version of the format.
pub mod section {
    /// Last section: CRC-32 of every byte before its payload.
    pub const END: u8 = 0x00;
    /// sha256 and length of the original module.
    pub const MODULE: u8 = 0x01;
    /// Globals, tables, dropped segments, frames and memory sizes (the `codec` encoding).
    pub const STATE: u8 = 0x02;
    /// The non-zero pages of every memory, compressed page by page.
    pub const MEMORY: u8 = 0x03;
    /// The WASI state, UTF-8 JSON; absent for a program without WASI.
    pub const WASI: u8 = 0x04;
    /// Why and when the snapshot was taken (informational, hence optional).
    pub const TRIGGER: u8 = 0x81;
    /// The last events of an execution trace (1.1; informational, hence optional).
    pub const TRACE: u8 = 0x85;
}

/// The name of a known section, used in error messages and by `tern inspect`.
pub fn section_name(id: u8) -> Option<&'static str> {
    Some(match id {
        section::END => "end",
        section::MODULE => "module",
        section::STATE => "state",
        section::MEMORY => "memory",
        section::WASI => "wasi",
        section::TRIGGER => "trigger",
        section::TRACE => "trace",
        _ => return None,
    })
}

/// A format version. Readers read every file of their own major version; see
/// `docs/snapshot-format.md` for the compatibility rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FormatVersion {
    /// Changes when an existing structure changes meaning: readers refuse other majors.
    pub major: u16,
    /// Changes when sections or flags are added: readers accept any minor of their major.
    pub minor: u16,
}

impl FormatVersion {
    /// The version this crate writes.
    pub const CURRENT: FormatVersion = FormatVersion { major: 1, minor: 1 };
}

impl fmt::Display for FormatVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}
