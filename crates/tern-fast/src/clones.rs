//! The instrumented continuation clones of a snapshot's frames, generated — or taken
//! from the cache's `generated` entries (`entries.rs`), keyed by the module and the
//! frames' resume points (`tern_instrument::clone::resume_points`): generating and
//! instrumenting clones costs time proportional to the code from each frame's pc to the
//! end of its function (tens of ms for a few large functions), while a cached entry
//! costs reading and decoding it.

use crate::cache::ModuleCache;
use crate::engine::FastModule;
use crate::entries::{Kind, entry_key};
use crate::error::Error;
use crate::flags::clones_for_wasmtime;
use sha2::{Digest, Sha256};
use tern_instrument::Continuations;
use tern_instrument::clone::resume_points;
use tern_snapshot::Frame;

/// The continuation clones of `frames` (validated against the module) and their module
/// compiled for wasmtime: generated, rewritten and compiled, or from the cache.
///
/// With a cache, the compiled module is keyed by the generated entry's key (which decides
/// the clones, so also their rewrite for wasmtime), not by the hash of the rewritten
/// bytes: a warm restore then neither rewrites the clones module nor hashes it (3–4 ms
/// for cc1's 123 KB clones module).
pub(crate) fn compile_clones(
    module: &FastModule,
    frames: &[Frame],
) -> Result<(Continuations, wasmtime::Module), Error> {
    let engine = &module.engine.engine;
    let compile = |conts: &Continuations| -> Result<wasmtime::Module, Error> {
        let bytes = clones_for_wasmtime(&conts.module, module.prepared.facts.memory_export)
            .map_err(|e| {
                Error::Restore(format!("internal error: rewriting the clones module: {e}"))
            })?;
        Ok(wasmtime::Module::new(engine, &bytes)?)
    };
    let Some(cache) = module.engine.cache() else {
        let conts = generate(module, frames)?;
        let compiled = compile(&conts)?;
        return Ok((conts, compiled));
    };
    let points = resume_points(frames).map_err(invalid)?;
    let key = entry_key(Kind::Generated, module.identity(), &points);
    let conts = cached_or_generated(module, cache, &key, frames)?;
    let compiled_key: [u8; 32] = Sha256::new()
        .chain_update(b"tern-fast clones compiled for wasmtime\x00")
        .chain_update(key)
        .finalize()
        .into();
    let (compiled, _) = cache
        .clones()
        .load_or_compile_as(engine, &compiled_key, || compile(&conts))?;
    Ok((conts, compiled))
}

fn invalid(e: tern_instrument::Error) -> Error {
    Error::Restore(format!("invalid frames: {e}"))
}

fn generate(module: &FastModule, frames: &[Frame]) -> Result<Continuations, Error> {
    let original = module.prepared.original.bytes()?;
    tern_instrument::instrumented_continuations(original, frames).map_err(invalid)
}

/// The continuations of the generated entry `key`, or generated and written under it.
fn cached_or_generated(
    module: &FastModule,
    cache: &ModuleCache,
    key: &[u8; 32],
    frames: &[Frame],
) -> Result<Continuations, Error> {
    if let Some(payload) = cache.read_entry(Kind::Generated, key)
        && let Some(conts) = Continuations::from_generated(&payload, frames).map_err(invalid)?
    {
        return Ok(conts);
    }
    let conts = generate(module, frames)?;
    if let Some(payload) = conts.encode_generated() {
        // A cache that cannot be written only costs time.
        let _ = cache.write_entry(Kind::Generated, key, &payload);
    }
    Ok(conts)
}
