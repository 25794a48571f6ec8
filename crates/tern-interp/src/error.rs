//! Errors: compile errors carry the byte offset, traps carry a Wasm backtrace.

use std::fmt;

/// A module that could not be decoded, validated or translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Byte offset in the module where the problem was found.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid module: {} (at byte offset 0x{:x})",
            self.message, self.offset
        )
    }
}

impl std::error::Error for CompileError {}

impl From<wasmparser::BinaryReaderError> for CompileError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        CompileError {
            offset: e.offset() as usize,
            message: e.message().to_string(),
        }
    }
}

/// Why WebAssembly execution trapped. `Display` gives the spec's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    Unreachable,
    MemoryOutOfBounds,
    TableOutOfBounds,
    UndefinedElement,
    UninitializedElement,
    IndirectCallTypeMismatch,
    IntegerDivideByZero,
    IntegerOverflow,
    InvalidConversionToInteger,
    StackExhausted,
    NullReference,
    /// A host function failed; the message is in [`Trap::message`].
    Host,
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::MemoryOutOfBounds => "out of bounds memory access",
            TrapKind::TableOutOfBounds => "out of bounds table access",
            TrapKind::UndefinedElement => "undefined element",
            TrapKind::UninitializedElement => "uninitialized element",
            TrapKind::IndirectCallTypeMismatch => "indirect call type mismatch",
            TrapKind::IntegerDivideByZero => "integer divide by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::InvalidConversionToInteger => "invalid conversion to integer",
            TrapKind::StackExhausted => "call stack exhausted",
            TrapKind::NullReference => "null reference",
            TrapKind::Host => "host function failed",
        })
    }
}

/// One line of a Wasm backtrace, innermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacktraceFrame {
    pub instance: u32,
    pub func: u32,
    /// From the name section, when the module has one.
    pub func_name: Option<String>,
    /// Byte offset in the module of the instruction being executed.
    pub pc: u32,
}

/// A trap, with the Wasm call stack at the moment it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    pub kind: TrapKind,
    /// Extra detail from a host function.
    pub message: Option<String>,
    pub backtrace: Vec<BacktraceFrame>,
}

impl Trap {
    pub(crate) fn new(kind: TrapKind) -> Self {
        Trap {
            kind,
            message: None,
            backtrace: Vec::new(),
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wasm trap: {}", self.kind)?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if !self.backtrace.is_empty() {
            f.write_str("\nwasm backtrace:")?;
            for (i, frame) in self.backtrace.iter().enumerate() {
                let name = frame
                    .func_name
                    .as_deref()
                    .map_or(String::new(), |n| format!(" ({n})"));
                write!(
                    f,
                    "\n  {i:>3}: func[{}]{name} @ 0x{:x}",
                    frame.func, frame.pc
                )?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Trap {}

/// How a host function ends other than by returning values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// Trap with this message.
    Trap(String),
    /// The program asked to exit (WASI `proc_exit`): unwind everything.
    Exit(i32),
    /// A blocking call gave way to a pause request. The call's arguments are put back on
    /// the operand stack and the call is issued again when execution resumes.
    Interrupted,
}

/// How a run ended other than by returning or pausing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    Trap(Trap),
    /// A host function requested process exit with this status.
    Exit(i32),
    /// The call itself was wrong: unknown export, wrong arguments, nothing to resume.
    Usage(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Trap(trap) => trap.fmt(f),
            RunError::Exit(code) => write!(f, "program exited with status {code}"),
            RunError::Usage(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for RunError {}

impl From<Trap> for RunError {
    fn from(trap: Trap) -> Self {
        RunError::Trap(trap)
    }
}

/// Why instantiation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstantiateError {
    /// An import is missing or has the wrong type.
    Link(String),
    /// Initializing a segment or running the start function trapped.
    Trap(Trap),
}

impl fmt::Display for InstantiateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstantiateError::Link(message) => write!(f, "unlinkable module: {message}"),
            InstantiateError::Trap(trap) => trap.fmt(f),
        }
    }
}

impl std::error::Error for InstantiateError {}

/// A state that cannot be restored into this store; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreError(pub String);

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot restore state: {}", self.0)
    }
}

impl std::error::Error for RestoreError {}
