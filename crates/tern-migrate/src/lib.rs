//! Live migration of tern programs between hosts: a framed, checksummed TCP protocol and
//! pre-copy with dirty-page tracking. Engine-agnostic: an engine plugs in through
//! [`Program`] (memory locations, pause at a safepoint into the canonical state, resume).
//! `docs/migration.md` is the byte-exact protocol.
//!
//! ```
//! use tern_migrate::frame::{read_frame, write_frame};
//!
//! let mut wire = Vec::new();
//! write_frame(&mut wire, 3, b"payload").unwrap();
//! assert_eq!(read_frame(&mut &wire[..]).unwrap(), (3, b"payload".to_vec()));
//! wire[7] ^= 1;
//! assert!(read_frame(&mut &wire[..]).is_err(), "a flipped bit is caught");
//! ```

pub mod dirty;
pub mod frame;
mod sink;
mod source;
mod target;

pub use dirty::{CHUNK, MemoryRegion, Tracker};
pub use sink::{Buffers, PageSink};
pub use source::{Options, Program, Report, migrate};
pub use target::{Arrival, FileImage, Incoming, accept_hello};

/// Magic at the start of a hello.
pub const MAGIC: &[u8; 8] = b"TERNMIG\0";
/// Version of the wire protocol; a target refuses any other.
pub const PROTOCOL_VERSION: u32 = 3;

/// What went wrong in a migration, on either side.
#[derive(Debug)]
pub enum MigrateError {
    Io(std::io::Error),
    /// The peer sent something that is not the protocol (bad frame, CRC, sizes).
    Protocol(String),
    /// The target refused the program, with its reason.
    Refused(String),
    /// The program could not be paused or captured (it ended, its state cannot travel).
    Program(String),
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrateError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                write!(f, "connection closed by the peer")
            }
            MigrateError::Io(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                write!(f, "timed out waiting for the peer")
            }
            MigrateError::Io(e) => write!(f, "{e}"),
            MigrateError::Protocol(m) => write!(f, "protocol error: {m}"),
            MigrateError::Refused(m) => write!(f, "target refused: {m}"),
            MigrateError::Program(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for MigrateError {}

impl From<std::io::Error> for MigrateError {
    fn from(e: std::io::Error) -> Self {
        MigrateError::Io(e)
    }
}
