//! The crate's error type: what went wrong and where in the input module.

use std::fmt;

/// A module that could not be instrumented: it is malformed, invalid, or uses something
/// the pass does not support. `offset` is the byte offset in the *original* module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Byte offset in the input module where the problem was found.
    pub offset: u64,
    /// What is wrong.
    pub message: String,
}

impl Error {
    pub(crate) fn new(offset: u64, message: impl Into<String>) -> Error {
        Error {
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot instrument module: {} (at byte offset 0x{:x})",
            self.message, self.offset
        )
    }
}

impl std::error::Error for Error {}

impl From<wasmparser::BinaryReaderError> for Error {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        Error::new(e.offset(), e.message())
    }
}

impl From<wasm_encoder::reencode::Error<Error>> for Error {
    fn from(e: wasm_encoder::reencode::Error<Error>) -> Self {
        match e {
            wasm_encoder::reencode::Error::ParseError(e) => e.into(),
            wasm_encoder::reencode::Error::UserError(e) => e,
            other => Error::new(0, other.to_string()),
        }
    }
}
