//! Loading a module whose identity the caller has already, e.g. from the file memo
//! (`file_identity.rs`): `tern restore` checks the snapshot against the identity and
//! the load keys the cache by it, so the module is hashed once — or not at all — and
//! the bytes the caller read are kept, not copied.

use crate::engine::{FastEngine, FastModule};
use crate::error::Error;
use std::sync::Arc;
use tern_snapshot::ModuleIdentity;

impl FastModule {
    /// [`FastModule::with_triggers`] for a module of known `identity`, which must be
    /// [`ModuleIdentity::of`] `wasm` (as [`crate::ModuleCache::read_module`] gives it):
    /// the load does not hash `wasm` again, and on a cache hit keeps `wasm` itself
    /// rather than a copy (24 MB of fresh pages for a large program). A wrong identity
    /// makes the module claim to be another program (and take that program's cached
    /// code when the lengths match).
    pub fn with_identity(
        engine: &FastEngine,
        wasm: Arc<Vec<u8>>,
        identity: ModuleIdentity,
        call: Option<(u32, u64)>,
        count: bool,
    ) -> Result<FastModule, Error> {
        // The bytes and identity travel to `load.rs` in a copy of the engine's cache
        // handle that lives only for this load.
        let mut told = engine.clone();
        if let Some(cache) = told.cache.as_mut() {
            cache.known = Some((wasm.clone(), identity));
        }
        let mut module = FastModule::with_triggers(&told, &wasm, call, count)?;
        module.engine = engine.clone();
        Ok(module)
    }
}
