//! [`ModuleIdentity`]: which module a snapshot belongs to.

use crate::error::SnapshotError;
use sha2::{Digest, Sha256};
use std::fmt;

/// The sha256 and byte length of the *original* module a snapshot was taken from (never
/// of an instrumented copy, so every engine computes the same identity).
///
/// ```
/// use tern_snapshot::ModuleIdentity;
///
/// let module = b"\0asm\x01\0\0\0";
/// let id = ModuleIdentity::of(module);
/// assert_eq!(id.len, 8);
/// assert!(id.verify(module).is_ok());
/// assert!(id.verify(b"\0asm\x01\0\0\0\0").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModuleIdentity {
    /// sha256 of the module bytes.
    pub sha256: [u8; 32],
    /// Length of the module in bytes.
    pub len: u64,
}

impl ModuleIdentity {
    /// The identity of a module's bytes.
    pub fn of(module: &[u8]) -> ModuleIdentity {
        ModuleIdentity {
            sha256: Sha256::digest(module).into(),
            len: module.len() as u64,
        }
    }

    /// Checks that `module` is the module this identity names, with an error that shows
    /// both identities otherwise.
    pub fn verify(&self, module: &[u8]) -> Result<(), SnapshotError> {
        // Hashed even when the lengths differ: the error shows both full identities.
        let found = ModuleIdentity::of(module);
        if found == *self {
            Ok(())
        } else {
            Err(SnapshotError::ModuleMismatch {
                expected: *self,
                found,
            })
        }
    }

    /// The sha256 as 64 lowercase hex digits.
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// `sha256:<64 hex digits> (<len> bytes)`.
impl fmt::Display for ModuleIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{} ({} bytes)", self.sha256_hex(), self.len)
    }
}
