//! The original module's bytes, read on first need: a warm load and restore need none of
//! them (the identity comes from the caller, e.g. the file memo of `file_identity.rs`;
//! the facts from the prepared entry, `facts_entry.rs`; the compiled code, the map and
//! the continuation clones from their entries), and for a program of tens of MB reading
//! the file into fresh memory was most of a fresh `tern restore`'s time before the
//! program ran.
//!
//! [`Original`] holds the bytes already in memory (`FastModule::new`,
//! `FastModule::with_identity`), or a file's path and the identity the caller vouches
//! for (`FastModule::from_file`). The file is read whole on first use — instrumenting it
//! on a cache miss, generating continuation clones the cache does not have, a capture
//! checking a re-issued call, the map when its entry is gone — and its sha256 checked
//! against that identity then: a file changed since (rewritten, replaced, truncated) is
//! an [`Error::Module`] naming it, never other code under this module's identity. The
//! file is read, not mapped: a file truncated while mapped would kill the process with
//! `SIGBUS` on the next access.

use crate::error::Error;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tern_snapshot::ModuleIdentity;

/// The original module: its identity, and its bytes now or on first use.
pub(crate) struct Original {
    identity: ModuleIdentity,
    /// Where the bytes come from when they are not in memory yet.
    file: Option<PathBuf>,
    bytes: OnceLock<Arc<Vec<u8>>>,
}

impl Original {
    /// Bytes in memory, of `identity` ([`ModuleIdentity::of`] them; the caller's word).
    pub fn in_memory(bytes: Arc<Vec<u8>>, identity: ModuleIdentity) -> Original {
        Original {
            identity,
            file: None,
            bytes: OnceLock::from(bytes),
        }
    }

    /// The module in the file at `path`, whose bytes must have `identity`: read and
    /// checked on first use.
    pub fn file(path: &Path, identity: ModuleIdentity) -> Original {
        Original {
            identity,
            file: Some(path.to_path_buf()),
            bytes: OnceLock::new(),
        }
    }

    pub fn identity(&self) -> &ModuleIdentity {
        &self.identity
    }

    /// The bytes: read from the file on the first call (and checked, see the module
    /// docs), the same bytes on every later one.
    pub fn bytes(&self) -> Result<&[u8], Error> {
        if let Some(bytes) = self.bytes.get() {
            return Ok(bytes);
        }
        let path = self.file.as_deref().unwrap_or(Path::new(""));
        let shown = path.display();
        let bytes = std::fs::read(path)
            .map_err(|e| Error::Module(format!("reading the module file {shown} again: {e}")))?;
        if ModuleIdentity::of(&bytes) != self.identity {
            return Err(Error::Module(format!(
                "the module file {shown} changed since it was loaded: its bytes are no \
                 longer those of the module being run (sha256 {}…)",
                crate::cache::hex(&self.identity.sha256[..8])
            )));
        }
        // Two threads reading at once both read the same bytes; one copy is kept.
        Ok(self.bytes.get_or_init(|| Arc::new(bytes)))
    }
}

impl std::fmt::Debug for Original {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Original")
            .field("identity", &self.identity)
            .field("file", &self.file)
            .field("read", &self.bytes.get().map(|b| b.len()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tern-original-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn a_file_is_read_on_first_use_and_checked() {
        let module = b"\0asm\x01\0\0\0".to_vec();
        let path = temp_file("first-use.wasm", &module);
        let original = Original::file(&path, ModuleIdentity::of(&module));
        assert!(original.bytes.get().is_none(), "nothing read yet");
        assert_eq!(original.bytes().unwrap(), module);
        // Read once: a later change of the file does not reach the bytes kept.
        std::fs::write(&path, b"other").unwrap();
        assert_eq!(original.bytes().unwrap(), module);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_changed_or_missing_file_is_an_error_naming_it() {
        let module = b"\0asm\x01\0\0\0".to_vec();
        let identity = ModuleIdentity::of(&module);
        // Same path, same length, other bytes.
        let path = temp_file("changed.wasm", b"\0asm\x01\0\0\x01");
        let original = Original::file(&path, identity);
        let e = original.bytes().unwrap_err();
        assert!(matches!(e, Error::Module(_)), "{e:?}");
        let message = e.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("changed since it was loaded"), "{message}");
        assert!(!message.contains('\n'), "{message}");
        // The file put right again: read and checked again, now accepted.
        std::fs::write(&path, &module).unwrap();
        assert_eq!(original.bytes().unwrap(), module);
        let gone = Original::file(&path.with_extension("gone"), identity);
        let message = gone.bytes().unwrap_err().to_string();
        assert!(message.contains("changed.gone"), "{message}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn bytes_in_memory_are_not_checked_again() {
        let identity = ModuleIdentity::of(b"x");
        let original = Original::in_memory(Arc::new(b"\0asm".to_vec()), identity);
        assert_eq!(original.bytes().unwrap(), b"\0asm");
        assert_eq!(*original.identity(), identity);
    }
}
