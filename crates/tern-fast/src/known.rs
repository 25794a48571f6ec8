//! Loading a module whose identity the caller has already, e.g. from the file memo
//! (`file_identity.rs`): `tern restore` checks the snapshot against the identity and
//! the load keys the cache by it, so the module is hashed once — or not at all — and
//! the bytes the caller read are kept, not copied ([`FastModule::with_identity`]); or
//! not read at all unless something needs them ([`FastModule::from_file`],
//! `original.rs`).

use crate::engine::{FastEngine, FastModule};
use crate::error::Error;
use crate::original::Original;
use std::path::Path;
use std::sync::Arc;
use tern_snapshot::ModuleIdentity;

impl FastModule {
    /// [`FastModule::with_triggers`] for a module of known `identity`, which must be
    /// [`ModuleIdentity::of`] `wasm` (as [`crate::ModuleCache::read_module`] gives it):
    /// the load does not hash `wasm` again, and keeps `wasm` itself rather than a copy
    /// (24 MB of fresh pages for a large program). A wrong identity makes the module
    /// claim to be another program (and take that program's cached code when the
    /// lengths match).
    pub fn with_identity(
        engine: &FastEngine,
        wasm: Arc<Vec<u8>>,
        identity: ModuleIdentity,
        call: Option<(u32, u64)>,
        count: bool,
    ) -> Result<FastModule, Error> {
        FastModule::load(engine, Original::in_memory(wasm, identity), call, count)
    }

    /// [`FastModule::with_identity`] for the binary module in the file at `path`, whose
    /// bytes must have `identity` (as [`crate::ModuleCache::identify_module`] gives it),
    /// read only when something needs them: with the cache warm, neither a load nor a
    /// restore does (a capture that re-issues a host call, continuation clones not in
    /// the cache and a cache miss do). When read, the bytes are checked against
    /// `identity`: a file changed since is an [`Error::Module`] naming it (from the load
    /// on a cache miss, else from whatever needed the bytes), never another module's
    /// code under this identity.
    pub fn from_file(
        engine: &FastEngine,
        path: &Path,
        identity: ModuleIdentity,
        call: Option<(u32, u64)>,
        count: bool,
    ) -> Result<FastModule, Error> {
        FastModule::load(engine, Original::file(path, identity), call, count)
    }
}
