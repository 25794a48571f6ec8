//! The compiled-module cache: wasmtime's serialized code for an instrumented module, on
//! disk, so that a second run or a restore of the same module does not compile again.
//!
//! Where: `$TERN_CACHE_DIR`, else `$XDG_CACHE_HOME/tern`, else `~/.cache/tern`; under it
//! `fast-<tern version>/<sha256 of the module wasmtime compiles>.cwasm`. The key is the
//! hash of the *instrumented* module (with its reach exports), which is a function of the
//! original module and of the instrumentation pass: a changed pass can never pick up
//! stale code, even while the tern version number stays the same. Compiled
//! continuation clones (`clones/`) are keyed by the hash of their generated entry's key
//! instead (`clones.rs`), which decides their bytes just as well (it covers the pass
//! identity) and needs neither the bytes nor hashing them. wasmtime adds its own
//! check: code serialized by another wasmtime version or an incompatible engine
//! configuration fails to deserialize, and is then compiled and written again.
//!
//! # Why `Module::deserialize_open_file` is sound here
//!
//! Deserializing is `unsafe` because it maps the bytes as executable machine code without
//! being able to check it. tern only ever deserializes a file that
//! - lies in tern's own cache directory, under the name of its key, and ends with
//!   tern's magic followed by that same key (so a file renamed or copied to another key
//!   is refused);
//! - was written by tern: to a temporary file in the same directory, then renamed into
//!   place, so a crash or a concurrent tern never leaves a partial file under a final
//!   name, and a file once in place is never written again (a new entry is a new file,
//!   eviction unlinks): the mapping wasmtime keeps stays what was checked;
//! - on Unix, is owned by the current user and not writable by group or others, as is
//!   the directory holding it.
//!
//! The file is wasmtime's serialized module followed by that 40-byte trailer, and is
//! *mapped* (`deserialize_open_file`), not read and copied: for a tens-of-MB program the
//! compiled code is some 100 MB, and a warm load would otherwise spend most of its time
//! reading and copying it. wasmtime parses the ELF image by its own offsets, so the
//! trailer after it is never looked at.
//!
//! Whoever can still write such a file is the user themselves (or root), who can equally
//! replace the `tern` binary: the cache is trusted exactly as much as the program.

use crate::error::Error;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use wasmtime::{Engine, Module};

const MAGIC: &[u8; 8] = b"ternfc\x00\x02";
/// Magic and key, after the serialized module.
const TRAILER: usize = MAGIC.len() + 32;

/// Compiled continuation-clones modules kept (a few KB to a few hundred KB each): the
/// frames of a program sit at few distinct (function, pc) points, and restoring the same
/// snapshot again, or another one stopped at the same place, then skips Cranelift.
const CLONES_KEPT: usize = 256;

/// A directory of compiled modules.
#[derive(Debug, Clone)]
pub struct ModuleCache {
    dir: PathBuf,
    /// At most this many entries, the least recently used evicted; `None`: unbounded
    /// (main modules, one per program).
    limit: Option<usize>,
}

impl ModuleCache {
    /// The cache at `root` (created on first write).
    pub fn at(root: impl Into<PathBuf>) -> ModuleCache {
        let dir = root
            .into()
            .join(format!("fast-{}", env!("CARGO_PKG_VERSION")));
        ModuleCache { dir, limit: None }
    }

    /// The bounded cache of compiled continuation-clones modules, in a subdirectory.
    pub(crate) fn clones(&self) -> ModuleCache {
        self.bounded("clones", CLONES_KEPT)
    }

    fn bounded(&self, subdir: &str, limit: usize) -> ModuleCache {
        ModuleCache {
            dir: self.dir.join(subdir),
            limit: Some(limit),
        }
    }

    /// The default cache (see the module docs), or `None` without a home directory.
    pub fn from_env() -> Option<ModuleCache> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        let root = var("TERN_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| var("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("tern")))
            .or_else(|| var("HOME").map(|d| PathBuf::from(d).join(".cache/tern")))?;
        Some(ModuleCache::at(root))
    }

    /// The directory files go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The compiled form of `wasm`: from the cache if a good entry exists, otherwise
    /// compiled and (best effort) written to the cache. Returns whether it was a hit.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
    ) -> Result<(Module, bool), Error> {
        self.load_or_compile_as(engine, &code_key(wasm), || Ok(Module::new(engine, wasm)?))
    }

    /// The compiled module cached under `key`, else the one `compile` gives, cached under
    /// `key` then; true when it came from the cache. `key` must decide the module's
    /// content: the sha256 of its bytes, or of what they are derived from.
    pub(crate) fn load_or_compile_as(
        &self,
        engine: &Engine,
        key: &[u8; 32],
        compile: impl FnOnce() -> Result<Module, Error>,
    ) -> Result<(Module, bool), Error> {
        if let Some(module) = self.load_compiled(engine, key) {
            return Ok((module, true));
        }
        let module = compile()?;
        // A cache that cannot be written only costs time.
        let _ = self.store(&module, &self.code_path(key), key);
        if let Some(limit) = self.limit {
            let _ = evict_beyond(&self.dir, "cwasm", limit);
        }
        Ok((module, false))
    }

    /// The compiled module of key `key` ([`code_key`] of the module's bytes), if the cache
    /// has a good entry for it.
    pub(crate) fn load_compiled(&self, engine: &Engine, key: &[u8; 32]) -> Option<Module> {
        let path = self.code_path(key);
        let module = self.load(engine, &path, key)?;
        if self.limit.is_some() {
            // Recently used: evicted last.
            let _ = std::fs::File::open(&path)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        }
        Some(module)
    }

    fn code_path(&self, key: &[u8; 32]) -> PathBuf {
        self.dir.join(format!("{}.cwasm", hex(key)))
    }

    fn load(&self, engine: &Engine, path: &Path, key: &[u8; 32]) -> Option<Module> {
        use std::io::{Read, Seek, SeekFrom};
        if !trusted(&self.dir) || !trusted(path) {
            return None;
        }
        let mut file = std::fs::File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        if len < TRAILER as u64 {
            return None;
        }
        let mut trailer = [0u8; TRAILER];
        file.seek(SeekFrom::End(-(TRAILER as i64))).ok()?;
        file.read_exact(&mut trailer).ok()?;
        if trailer[..MAGIC.len()] != MAGIC[..] || trailer[MAGIC.len()..] != key[..] {
            return None;
        }
        // SAFETY: the file passed every check of the module docs ("Why
        // `Module::deserialize_open_file` is sound here"): it is tern's own output of
        // `Module::serialize` for this very module, never modified once in place, and
        // wasmtime checks that it was produced by this wasmtime version with a compatible
        // configuration.
        unsafe { Module::deserialize_open_file(engine, file) }.ok()
    }

    fn store(&self, module: &Module, path: &Path, key: &[u8; 32]) -> Result<(), Error> {
        create_private_dir(&self.dir)?;
        let code = module.serialize()?;
        let mut bytes = code;
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(key);
        write_atomically(path, &bytes)?;
        Ok(())
    }
}

/// Writes `bytes` to `path` so that no reader ever sees a partial file: to a temporary
/// file in the same directory (private, synced to disk), then renamed into place. A
/// concurrent writer of the same path writes the same bytes; the last rename wins.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    // A temporary file left by a crashed process of the same id and count is stale.
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Removes the least recently used files with extension `ext` in `dir` beyond the
/// `limit` newest (by modification time, which a hit refreshes).
pub(crate) fn evict_beyond(dir: &Path, ext: &str, limit: usize) -> std::io::Result<()> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.path().extension().is_some_and(|e| e == ext) {
            entries.push((entry.metadata()?.modified()?, entry.path()));
        }
    }
    if entries.len() > limit {
        entries.sort();
        for (_, path) in &entries[..entries.len() - limit] {
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(())
}

/// The key of a compiled module: the sha256 of the bytes wasmtime compiles.
pub(crate) fn code_key(wasm: &[u8]) -> [u8; 32] {
    Sha256::digest(wasm).into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(unix)]
pub(crate) fn trusted(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    meta.uid() == rustix::process::getuid().as_raw() && meta.mode() & 0o022 == 0
}

#[cfg(not(unix))]
pub(crate) fn trusted(path: &Path) -> bool {
    path.exists()
}

#[cfg(unix)]
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(n: i32) -> Vec<u8> {
        wat::parse_str(format!(
            "(module (func (export \"f\") (result i32) i32.const {n}))"
        ))
        .unwrap()
    }

    #[test]
    fn a_bounded_cache_evicts_the_least_recently_used() {
        let root = std::env::temp_dir().join(format!("tern-cache-test-{}", std::process::id()));
        let cache = ModuleCache::at(&root).bounded("small", 2);
        let engine = Engine::default();
        let compile = |n| cache.load_or_compile(&engine, &module(n)).unwrap().1;
        assert!(!compile(1));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!compile(2));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            compile(1),
            "a hit, and module 1 becomes the most recently used"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!compile(3), "module 2 is evicted to make room");
        assert!(compile(1));
        assert!(compile(3));
        assert!(!compile(2));
        let entries = std::fs::read_dir(cache.dir()).unwrap().count();
        assert_eq!(entries, 2);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_entry_under_another_key_or_cut_short_is_compiled_again() {
        let root = std::env::temp_dir().join(format!("tern-cache-keys-{}", std::process::id()));
        let cache = ModuleCache::at(&root);
        let engine = Engine::default();
        let (a, b) = (module(1), module(2));
        assert!(!cache.load_or_compile(&engine, &a).unwrap().1);
        assert!(!cache.load_or_compile(&engine, &b).unwrap().1);
        let (path_a, path_b) = (
            cache.code_path(&code_key(&a)),
            cache.code_path(&code_key(&b)),
        );
        let good_b = std::fs::read(&path_b).unwrap();
        std::fs::copy(&path_a, &path_b).unwrap();
        assert!(
            !cache.load_or_compile(&engine, &b).unwrap().1,
            "a's code under b's key"
        );
        assert!(
            cache.load_or_compile(&engine, &b).unwrap().1,
            "written again"
        );
        std::fs::write(&path_b, &good_b[..good_b.len() - 1]).unwrap();
        assert!(
            !cache.load_or_compile(&engine, &b).unwrap().1,
            "trailer cut"
        );
        assert!(cache.load_or_compile(&engine, &b).unwrap().1);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
