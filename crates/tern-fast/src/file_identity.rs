//! The identity of a module *file* without hashing it again: a memo in the cache,
//! `identities/<key>.entry`, keyed by the file's stamp — (device, inode, size,
//! modification time, status-change time), nanoseconds — holding the sha256 and length
//! of its bytes. `tern restore` needs the identity twice (the snapshot check and the
//! compiled-module cache key), `tern run` once; for a program of tens of MB each sha256
//! costs tens of ms, more than everything else a warm restore does.
//!
//! # Why a stamp is enough
//!
//! Any write to a file through the file system changes its modification *and*
//! status-change (`ctime`) times; setting the modification time back (`touch -d`,
//! `utimensat`) changes `ctime` to now, and nothing short of root (a raw write to the
//! block device, setting the system clock back) sets `ctime` at will. A file replaced by
//! another one (rename, delete and create) has another inode, or the same inode with a
//! new `ctime`. So a file whose stamp is the one recorded has the bytes that were hashed
//! — with two exceptions this module guards against or accepts:
//!
//! - *timestamp granularity*: a file system stamps times with a coarse clock (a kernel
//!   tick, or seconds on some), so a write in the same tick as the hashed read could
//!   leave the stamp unchanged. A memo is therefore written only for a file whose
//!   times are at least [`SETTLED`] older than the start of the read (git's "racily
//!   clean" rule): any later write has a later time. A file modified that recently is
//!   simply hashed, every time, until it has settled;
//! - *writes through a shared writable mapping* update the times only when a clean
//!   page is first written, so a program that keeps a module file mapped and writes a
//!   page it dirtied before the memo was made could change it unnoticed. Rewriting a
//!   module that way while tern restores it is not a case tern supports.
//!
//! [`ModuleCache::identify_module`] takes the identity from the memo without reading
//! the file at all: `tern restore` then reads the module only if something needs its
//! bytes, and checks them against the identity then (`original.rs`).
//!
//! The read itself is checked: the stamp is taken from the open file before and after
//! reading it whole, and a file that changed meanwhile (or is not a regular file) is
//! hashed and not memoized. The memo is an entry like the others (`entries.rs`):
//! written atomically, refused unless owned by the user and whole, under its own key,
//! with a payload of exactly a sha256 and the length read; whoever can write it can
//! equally write the compiled code next to it. A wrong memo could at worst make tern
//! take a module for another one of the same length: the snapshot check and the cache
//! key would use the other's identity (wasmtime still checks every import and type, so
//! this is a wrong program, never a broken sandbox).

use crate::cache::ModuleCache;
use crate::entries::Kind;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;
use std::time::Duration;
use tern_snapshot::ModuleIdentity;

/// How much older than the read a file's times must be for its hash to be memoized.
pub(crate) const SETTLED: Duration = Duration::from_secs(2);

impl ModuleCache {
    /// The bytes of the file at `path` and their identity ([`ModuleIdentity::of`]),
    /// taken from the cache's memo when the file is unchanged since it was hashed (see
    /// the module docs), else hashed and — once the file is a few seconds old —
    /// memoized.
    pub fn read_module(&self, path: &Path) -> std::io::Result<(Vec<u8>, ModuleIdentity)> {
        self.read_module_settled(path, SETTLED)
    }

    /// The identity of the binary module in the file at `path` from the memo, without
    /// reading the file: `Some` only for a regular file whose stamp has a memo of its
    /// length and that begins with the Wasm magic (a text module's memo is the text's
    /// hash, not the module's). `None` says nothing about the file; [`Self::read_module`]
    /// then reads it (and memoizes its hash). A caller that trusts this identity reads
    /// the bytes only when needed, and checks them then (`FastModule::from_file`).
    pub fn identify_module(&self, path: &Path) -> Option<ModuleIdentity> {
        let mut file = std::fs::File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        let key = memo_key(&stamp(&meta)?);
        let identity = decode(&self.read_entry(Kind::Identity, &key)?)?;
        let mut magic = [0u8; 4];
        file.read_exact(&mut magic).ok()?;
        (identity.len == meta.len() && magic == *b"\0asm").then_some(identity)
    }

    pub(crate) fn read_module_settled(
        &self,
        path: &Path,
        settled: Duration,
    ) -> std::io::Result<(Vec<u8>, ModuleIdentity)> {
        let mut file = std::fs::File::open(path)?;
        let before = file.metadata()?;
        let started = std::time::SystemTime::now();
        let mut bytes = Vec::with_capacity(usize::try_from(before.len()).unwrap_or(0));
        file.read_to_end(&mut bytes)?;
        let after = file.metadata()?;
        let stamp = stamp(&before).filter(|s| {
            before.is_file()
                && stamp(&after).as_ref() == Some(s)
                && before.len() == bytes.len() as u64
        });
        let Some(stamp) = stamp else {
            let identity = ModuleIdentity::of(&bytes);
            return Ok((bytes, identity));
        };
        let key = memo_key(&stamp);
        if let Some(identity) = self
            .read_entry(Kind::Identity, &key)
            .and_then(|p| decode(&p))
            && identity.len == bytes.len() as u64
        {
            return Ok((bytes, identity));
        }
        let identity = ModuleIdentity::of(&bytes);
        if changed_before(&before, started, settled) {
            // A cache that cannot be written only costs time.
            let _ = self.write_entry(Kind::Identity, &key, &encode(&identity));
        }
        Ok((bytes, identity))
    }
}

/// Device, inode, size, modification and status-change times (seconds, nanoseconds),
/// little-endian; `None` where there is no such thing (then nothing is memoized).
#[cfg(unix)]
fn stamp(meta: &std::fs::Metadata) -> Option<Vec<u8>> {
    use std::os::unix::fs::MetadataExt;
    let fields = [
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime() as u64,
        meta.mtime_nsec() as u64,
        meta.ctime() as u64,
        meta.ctime_nsec() as u64,
    ];
    Some(fields.iter().flat_map(|f| f.to_le_bytes()).collect())
}

#[cfg(not(unix))]
fn stamp(_: &std::fs::Metadata) -> Option<Vec<u8>> {
    None
}

/// Whether the file's modification and status-change times are at least `settled`
/// before `started` (see the module docs).
#[cfg(unix)]
fn changed_before(
    meta: &std::fs::Metadata,
    started: std::time::SystemTime,
    settled: Duration,
) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(started) = started.duration_since(std::time::UNIX_EPOCH) else {
        return false;
    };
    let ns = |secs: i64, nsecs: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsecs);
    let limit = started.as_nanos() as i128 - settled.as_nanos() as i128;
    ns(meta.mtime(), meta.mtime_nsec()) <= limit && ns(meta.ctime(), meta.ctime_nsec()) <= limit
}

#[cfg(not(unix))]
fn changed_before(_: &std::fs::Metadata, _: std::time::SystemTime, _: Duration) -> bool {
    false
}

fn memo_key(stamp: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"tern-fast file identity\x00");
    hash.update(stamp);
    hash.finalize().into()
}

fn encode(identity: &ModuleIdentity) -> Vec<u8> {
    [&identity.sha256[..], &identity.len.to_le_bytes()].concat()
}

fn decode(payload: &[u8]) -> Option<ModuleIdentity> {
    let (sha256, len) = payload.split_first_chunk::<32>()?;
    let len: [u8; 8] = len.try_into().ok()?;
    Some(ModuleIdentity {
        sha256: *sha256,
        len: u64::from_le_bytes(len),
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::path::PathBuf;

    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn setup(name: &str) -> (Dir, ModuleCache) {
        let root = std::env::temp_dir().join(format!("tern-file-id-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let cache = ModuleCache::at(root.join("cache"));
        (Dir(root), cache)
    }

    /// Reads `path` through the memo, any file age accepted.
    fn read(cache: &ModuleCache, path: &Path) -> ModuleIdentity {
        let (bytes, identity) = cache.read_module_settled(path, Duration::ZERO).unwrap();
        assert_eq!(bytes, std::fs::read(path).unwrap());
        identity
    }

    fn memo_path(cache: &ModuleCache, path: &Path) -> PathBuf {
        let key = memo_key(&stamp(&std::fs::metadata(path).unwrap()).unwrap());
        let name = format!("{}.entry", crate::cache::hex(&key));
        cache.dir().join("identities").join(name)
    }

    /// Lets the file-system clock move on, so that the next write gets later times
    /// (tests read with no settling time).
    fn tick() {
        std::thread::sleep(Duration::from_millis(50));
    }

    #[test]
    fn an_unchanged_file_takes_its_identity_from_the_memo() {
        let (dir, cache) = setup("memo");
        let path = dir.0.join("m.wasm");
        std::fs::write(&path, b"\0asm\x01\0\0\0 one").unwrap();
        let real = ModuleIdentity::of(&std::fs::read(&path).unwrap());
        assert_eq!(read(&cache, &path), real);
        assert!(memo_path(&cache, &path).exists());
        // A memo is what the read believes: one holding another hash is taken.
        let key = memo_key(&stamp(&std::fs::metadata(&path).unwrap()).unwrap());
        let other = ModuleIdentity {
            sha256: [7; 32],
            len: real.len,
        };
        cache
            .write_entry(Kind::Identity, &key, &encode(&other))
            .unwrap();
        assert_eq!(read(&cache, &path), other);
    }

    #[test]
    fn a_damaged_or_foreign_memo_is_ignored_and_rewritten() {
        let (dir, cache) = setup("damaged");
        let (a, b) = (dir.0.join("a.wasm"), dir.0.join("b.wasm"));
        std::fs::write(&a, b"\0asm\x01\0\0\0 module a").unwrap();
        std::fs::write(&b, b"\0asm\x01\0\0\0 module b").unwrap();
        let real = ModuleIdentity::of(&std::fs::read(&a).unwrap());
        read(&cache, &a);
        read(&cache, &b);
        let memo = memo_path(&cache, &a);
        let good = std::fs::read(&memo).unwrap();
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let key = memo_key(&stamp(&std::fs::metadata(&a).unwrap()).unwrap());
        let framed = |payload: &[u8]| {
            cache.write_entry(Kind::Identity, &key, payload).unwrap();
            std::fs::read(&memo).unwrap()
        };
        let longer = ModuleIdentity {
            sha256: [7; 32],
            len: real.len + 1,
        };
        let damages = [
            good[..good.len() / 2].to_vec(),
            good[..good.len() - 1].to_vec(),
            Vec::new(),
            flipped,
            [good.as_slice(), b"x"].concat(),
            // Another file's memo under this name.
            std::fs::read(memo_path(&cache, &b)).unwrap(),
            // Well framed, but not a sha256 and a length, or another length.
            framed(&encode(&real)[..39]),
            framed(&[encode(&real), vec![0]].concat()),
            framed(&encode(&longer)),
        ];
        for (i, damaged) in damages.into_iter().enumerate() {
            std::fs::write(&memo, damaged).unwrap();
            assert_eq!(read(&cache, &a), real, "damage {i}");
            assert_eq!(std::fs::read(&memo).unwrap(), good, "damage {i}: rewritten");
        }
    }

    #[test]
    fn a_changed_file_never_uses_a_stale_identity() {
        let (dir, cache) = setup("changed");
        let path = dir.0.join("m.wasm");
        std::fs::write(&path, b"\0asm\x01\0\0\0 first").unwrap();
        read(&cache, &path);
        tick();
        // Same size, new modification time.
        std::fs::write(&path, b"\0asm\x01\0\0\0 other").unwrap();
        assert_eq!(
            read(&cache, &path),
            ModuleIdentity::of(b"\0asm\x01\0\0\0 other")
        );
        tick();
        // Same size, the modification time forced back: the status-change time moved.
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::fs::write(&path, b"\0asm\x01\0\0\0 third").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            modified
        );
        assert_eq!(
            read(&cache, &path),
            ModuleIdentity::of(b"\0asm\x01\0\0\0 third")
        );
    }

    #[test]
    fn a_memoized_binary_module_is_identified_without_reading_it() {
        let (dir, cache) = setup("identify");
        let path = dir.0.join("m.wasm");
        let text = dir.0.join("m.wat");
        std::fs::write(&path, b"\0asm\x01\0\0\0 one").unwrap();
        std::fs::write(&text, b"(module)").unwrap();
        assert_eq!(cache.identify_module(&path), None, "no memo yet");
        let real = read(&cache, &path);
        read(&cache, &text);
        assert_eq!(cache.identify_module(&path), Some(real));
        assert_eq!(cache.identify_module(&text), None, "not a binary module");
        assert_eq!(cache.identify_module(&dir.0), None, "not a file");
        assert_eq!(cache.identify_module(&dir.0.join("none.wasm")), None);
        tick();
        std::fs::write(&path, b"\0asm\x01\0\0\0 two").unwrap();
        assert_eq!(cache.identify_module(&path), None, "changed since");
    }

    #[test]
    fn a_file_changed_moments_ago_is_not_memoized() {
        let (dir, cache) = setup("fresh");
        let path = dir.0.join("m.wasm");
        std::fs::write(&path, b"\0asm\x01\0\0\0").unwrap();
        let (_, identity) = cache.read_module(&path).unwrap();
        assert_eq!(identity, ModuleIdentity::of(b"\0asm\x01\0\0\0"));
        assert!(!memo_path(&cache, &path).exists());
        assert!(!cache.dir().join("identities").exists());
    }
}
