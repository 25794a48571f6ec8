//! Checked cache entries: what loading a module and restoring a snapshot need besides
//! compiled code, kept next to the compiled modules so that a warm load neither
//! instruments the module again nor hashes the instrumented module, and a warm restore
//! does not generate continuation clones again (all of which scale with the module or
//! with the functions on the stack).
//!
//! Four kinds, each in its own directory under the compiled-module cache's:
//! - `prepared/<key>.entry`: which compiled module (its code key, the sha256 of the
//!   instrumented module) belongs to an original module, and the facts about the
//!   original (`load.rs`, `facts_entry.rs`);
//! - `maps/<key>.entry`: the instrumentation map of that compiled code, read on the
//!   first capture (`prepare.rs`);
//! - `identities/<key>.entry`: the sha256 of a module file, keyed by its stamp
//!   (`file_identity.rs`), the 256 most recently used;
//! - `generated/<key>.entry`: the instrumented continuation clones of one set of resume
//!   points (`Continuations::encode_generated`, `clones.rs`); the 256 most recently
//!   used are kept, like compiled clones.
//!
//! Keys are sha256 of a domain string, tern's version, the *pass identity*
//! `TERN_PASS_ID` (build.rs: a hash of the sources of `tern-instrument` and `tern-fast`
//! and of `Cargo.lock`, so any change to the pass, to the rewrites done here or to the
//! encoder's version gives other keys), the original module's identity (its sha256 and
//! length, which the snapshot check needs anyway) and what else decides the content (the
//! `call:` trigger; the resume points). So a stale entry can never be used: a changed
//! module, pass or option looks elsewhere.
//!
//! Format: magic `ternfe\0\x01`, the entry's own key (a file copied to another name is
//! refused), the payload's length (u64 LE) and CRC-32, the payload. Written atomically
//! (temporary file, fsync, rename); read only if owned by the user and not writable by
//! others (as compiled modules) and every check passes. Anything else — missing,
//! truncated, corrupt, foreign — is a miss: the work is done again and the entry
//! rewritten. Nothing in an entry is executed; the payloads are decoded with bounds
//! checks (a forged entry needs write access to the cache, like a forged compiled
//! module, and could at worst give wrong snapshots).

use crate::cache::{ModuleCache, create_private_dir, hex, trusted, write_atomically};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use tern_snapshot::ModuleIdentity;

const MAGIC: &[u8; 8] = b"ternfe\x00\x01";
/// Magic, key, payload length, payload CRC-32.
const HEADER: usize = MAGIC.len() + 32 + 8 + 4;

/// A kind of entry: its directory and how many are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One per prepared module (and `call:` trigger): unbounded, like compiled modules.
    Prepared,
    /// The instrumentation map of a prepared module, under the same key detail: read
    /// only by a capture (megabytes for a large program, which a load or a restore
    /// would otherwise read and checksum for nothing).
    Map,
    /// The identity of a module file, by its stamp (`file_identity.rs`): the 256 most
    /// recently used are kept.
    Identity,
    /// One per set of resume points: the least recently used beyond 256 are removed.
    Generated,
}

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::Prepared => "prepared",
            Kind::Map => "maps",
            Kind::Identity => "identities",
            Kind::Generated => "generated",
        }
    }

    fn limit(self) -> Option<usize> {
        match self {
            Kind::Prepared | Kind::Map => None,
            Kind::Generated | Kind::Identity => Some(256),
        }
    }
}

/// The key of an entry of `kind` for the original module `identity`, further
/// distinguished by `detail` (empty for none).
pub(crate) fn entry_key(kind: Kind, identity: &ModuleIdentity, detail: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"tern-fast cache entry\x00");
    hash.update(kind.dir().as_bytes());
    hash.update(b"\x00");
    hash.update(env!("CARGO_PKG_VERSION").as_bytes());
    hash.update(b"\x00");
    hash.update(env!("TERN_PASS_ID").as_bytes());
    hash.update(identity.sha256);
    hash.update(identity.len.to_le_bytes());
    hash.update((detail.len() as u64).to_le_bytes());
    hash.update(detail);
    hash.finalize().into()
}

impl ModuleCache {
    fn entry_path(&self, kind: Kind, key: &[u8; 32]) -> PathBuf {
        self.dir()
            .join(kind.dir())
            .join(format!("{}.entry", hex(key)))
    }

    /// The payload of the entry of `key`, if the cache has a good one.
    pub(crate) fn read_entry(&self, kind: Kind, key: &[u8; 32]) -> Option<Vec<u8>> {
        let path = self.entry_path(kind, key);
        let dir = path.parent()?;
        if !trusted(self.dir()) || !trusted(dir) || !trusted(&path) {
            return None;
        }
        let payload = decode(std::fs::read(&path).ok()?, key)?;
        if kind.limit().is_some() {
            // Recently used: removed last.
            let _ = std::fs::File::open(&path)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        }
        Some(payload)
    }

    /// Writes the entry of `key` (replacing any), then removes the least recently used
    /// entries beyond the kind's limit.
    pub(crate) fn write_entry(
        &self,
        kind: Kind,
        key: &[u8; 32],
        payload: &[u8],
    ) -> std::io::Result<()> {
        let path = self.entry_path(kind, key);
        let Some(dir) = path.parent() else {
            return Ok(());
        };
        create_private_dir(dir)?;
        write_atomically(&path, &encode(key, payload))?;
        if let Some(limit) = kind.limit() {
            crate::cache::evict_beyond(dir, "entry", limit)?;
        }
        Ok(())
    }
}

fn encode(key: &[u8; 32], payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(key);
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// The payload in `bytes` if they are a whole, undamaged entry of `key`.
fn decode(mut bytes: Vec<u8>, key: &[u8; 32]) -> Option<Vec<u8>> {
    let (header, payload) = bytes.split_at_checked(HEADER)?;
    let (magic, rest) = header.split_at(MAGIC.len());
    let (own_key, rest) = rest.split_at(32);
    let (len, crc) = rest.split_at(8);
    let len = u64::from_le_bytes(len.try_into().ok()?);
    let crc = u32::from_le_bytes(crc.try_into().ok()?);
    let whole = magic == MAGIC
        && own_key == key
        && len == payload.len() as u64
        && crc == crc32fast::hash(payload);
    whole.then(|| bytes.split_off(HEADER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_damage_is_a_miss() {
        let key = [1; 32];
        let payload: Vec<u8> = (0..100).collect();
        let bytes = encode(&key, &payload);
        assert_eq!(decode(bytes.clone(), &key), Some(payload));
        assert_eq!(decode(bytes.clone(), &[2; 32]), None, "another key");
        for len in 0..bytes.len() {
            assert_eq!(decode(bytes[..len].to_vec(), &key), None, "cut at {len}");
        }
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x10;
            assert_eq!(decode(damaged, &key), None, "byte {i} changed");
        }
        let mut longer = bytes;
        longer.push(0);
        assert_eq!(decode(longer, &key), None);
    }

    #[test]
    fn keys_change_with_kind_module_and_detail() {
        let a = ModuleIdentity::of(b"\0asm\x01\0\0\0");
        let b = ModuleIdentity::of(b"\0asm\x01\0\0\0\0");
        let keys = [
            entry_key(Kind::Prepared, &a, b""),
            entry_key(Kind::Generated, &a, b""),
            entry_key(Kind::Map, &a, b""),
            entry_key(Kind::Prepared, &b, b""),
            entry_key(Kind::Prepared, &a, b"\x01"),
            entry_key(Kind::Prepared, &a, b"\x02"),
        ];
        for (i, x) in keys.iter().enumerate() {
            for y in &keys[i + 1..] {
                assert_ne!(x, y);
            }
        }
        assert_eq!(entry_key(Kind::Prepared, &a, b"\x01"), keys[4]);
    }
}
