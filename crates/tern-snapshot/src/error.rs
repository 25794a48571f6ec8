//! [`SnapshotError`]: every way reading or writing a snapshot file can fail.

use crate::format::FormatVersion;
use crate::identity::ModuleIdentity;
use std::path::PathBuf;
use std::{fmt, io};

/// Why a snapshot could not be read, written or used.
///
/// The `Display` form is one line that says what went wrong and where (byte offset,
/// section, memory and page), suitable for showing to a user as is.
#[derive(Debug)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The data does not start with the snapshot magic.
    NotASnapshot,
    /// The file's major format version differs from the one this reader implements.
    UnsupportedVersion {
        /// The version written in the file.
        found: FormatVersion,
        /// The version this tern writes (it reads every minor version of its major).
        supported: FormatVersion,
    },
    /// The header sets a required flag this reader does not know.
    UnsupportedFlags {
        /// The unknown required flag bits.
        flags: u32,
    },
    /// The data ends before the structure it announces does.
    Truncated {
        /// Byte offset at which more data was needed (usually the data's length).
        offset: usize,
        /// What was being read there.
        context: String,
    },
    /// The CRC-32 at the end of the file does not match its content.
    ChecksumMismatch {
        /// Byte offset of the stored checksum.
        offset: usize,
        /// The checksum stored in the file.
        stored: u32,
        /// The checksum of the content.
        computed: u32,
    },
    /// A required section this reader does not know (written by a newer minor version).
    UnknownSection {
        /// The section id.
        id: u8,
        /// Byte offset of the section header.
        offset: usize,
        /// The file's format version.
        found: FormatVersion,
    },
    /// A section that may appear once appears again.
    DuplicateSection {
        /// The section name.
        section: &'static str,
        /// Byte offset of the second occurrence.
        offset: usize,
    },
    /// A section every snapshot must have is absent.
    MissingSection {
        /// The section name.
        section: &'static str,
    },
    /// A section's content breaks the format (possible only for a file whose checksum was
    /// recomputed after tampering, or one written by a faulty writer).
    Malformed {
        /// The section name (`header` for the file header).
        section: &'static str,
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong there.
        message: String,
    },
    /// A memory page's compressed data does not decompress to exactly one page.
    BadCompression {
        /// Memory index.
        memory: u32,
        /// Page index inside that memory.
        page: u32,
        /// Byte offset of the page's data.
        offset: usize,
        /// What the decompressor reported.
        message: String,
    },
    /// A module's identity differs from the one recorded in the snapshot.
    ModuleMismatch {
        /// The identity recorded in the snapshot.
        expected: ModuleIdentity,
        /// The identity of the module offered for restore.
        found: ModuleIdentity,
    },
    /// A file-system operation failed.
    Io {
        /// What was being done, e.g. `read` or `create temporary file`.
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotASnapshot => write!(f, "not a tern snapshot (bad magic at byte offset 0)"),
            Self::UnsupportedVersion { found, supported } => write!(
                f,
                "unsupported snapshot format version {found}: this tern reads format {}.x \
                 (it writes {supported})",
                supported.major
            ),
            Self::UnsupportedFlags { flags } => write!(
                f,
                "snapshot header sets required flags 0x{flags:04x} (byte offset 12) that this \
                 tern does not know"
            ),
            Self::Truncated { offset, context } => {
                write!(f, "snapshot truncated at byte offset {offset}: {context}")
            }
            Self::ChecksumMismatch {
                offset,
                stored,
                computed,
            } => write!(
                f,
                "snapshot checksum mismatch: the CRC-32 stored at byte offset {offset} is \
                 0x{stored:08x} but the content gives 0x{computed:08x} (file corrupted)"
            ),
            Self::UnknownSection { id, offset, found } => write!(
                f,
                "snapshot needs section 0x{id:02x} (byte offset {offset}), which this tern \
                 does not know: the file is format {found}, this tern writes {}",
                FormatVersion::CURRENT
            ),
            Self::DuplicateSection { section, offset } => write!(
                f,
                "snapshot has a second '{section}' section at byte offset {offset}"
            ),
            Self::MissingSection { section } => {
                write!(f, "snapshot has no '{section}' section")
            }
            Self::Malformed {
                section,
                offset,
                message,
            } => write!(
                f,
                "malformed snapshot: {message} (section '{section}', byte offset {offset})"
            ),
            Self::BadCompression {
                memory,
                page,
                offset,
                message,
            } => write!(
                f,
                "bad compression in memory {memory} page {page} (byte offset {offset}): {message}"
            ),
            Self::ModuleMismatch { expected, found } => write!(
                f,
                "module does not match the snapshot: the snapshot was taken from {expected}, \
                 this module is {found}"
            ),
            Self::Io {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
