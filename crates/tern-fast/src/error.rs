//! The crate's error type.

use std::fmt;

/// Why loading, running or capturing a program on the fast tier failed.
#[derive(Debug)]
pub enum Error {
    /// The module could not be instrumented (malformed, invalid or unsupported).
    Instrument(tern_instrument::Error),
    /// The module is valid but something the fast tier needs is missing or unsupported,
    /// with the byte offset in the *original* module where known.
    Unsupported { offset: u64, message: String },
    /// wasmtime refused to compile, link or instantiate the module.
    Wasmtime(wasmtime::Error),
    /// A checkpoint could not be captured (no snapshot was written).
    Capture(String),
    /// A snapshot cannot be restored on the fast tier (nothing was run).
    Restore(String),
    /// The pages of a restored memory could not be written: the error of the
    /// caller's filler (e.g. damage found while decompressing the snapshot file).
    Memory(String),
    /// Reading or writing a file (the snapshot, the compiled-module cache).
    Io(std::io::Error),
    /// The original module's file, read on first need (`FastModule::from_file`), could
    /// not be read or no longer holds the module: the message names the file.
    Module(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Instrument(e) => write!(f, "{e}"),
            Error::Unsupported { offset, message } => {
                write!(
                    f,
                    "not supported on the fast tier: {message} (at byte offset 0x{offset:x})"
                )
            }
            Error::Wasmtime(e) => write!(f, "wasmtime: {e:#}"),
            Error::Capture(message) => {
                write!(f, "checkpoint failed, no snapshot written: {message}")
            }
            Error::Restore(message) => write!(f, "cannot restore: {message}"),
            Error::Memory(message) => write!(f, "{message}"),
            Error::Io(e) => write!(f, "{e}"),
            Error::Module(message) => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<tern_instrument::Error> for Error {
    fn from(e: tern_instrument::Error) -> Self {
        Error::Instrument(e)
    }
}

impl From<wasmtime::Error> for Error {
    fn from(e: wasmtime::Error) -> Self {
        Error::Wasmtime(e)
    }
}

impl From<wasmparser::BinaryReaderError> for Error {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        Error::Unsupported {
            offset: e.offset(),
            message: e.message().to_string(),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}
