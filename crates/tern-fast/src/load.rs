//! Loading a module for the fast tier: prepared (instrumented, reach exports) and
//! compiled — or, warm, both taken from the cache without instrumenting: the prepared
//! entry (`entries.rs`) names the compiled module and holds the map, so a warm load
//! costs hashing the original module (its identity, needed anyway), one walk over its
//! sections (the facts a capture and a restore need), reading the entry and
//! deserializing the compiled code.

use crate::cache::code_key;
use crate::calls::CallTrigger;
use crate::engine::FastEngine;
use crate::entries::{Kind, entry_key};
use crate::error::Error;
use crate::prepare::{Prepared, facts, prepare};
use tern_snapshot::ModuleIdentity;

/// `wasm` prepared with `trigger` and compiled, and whether the compiled code came from
/// the cache.
pub(crate) fn load(
    engine: &FastEngine,
    wasm: &[u8],
    trigger: Option<CallTrigger>,
) -> Result<(wasmtime::Module, Prepared, bool), Error> {
    let Some(cache) = &engine.cache else {
        let prepared = prepare(wasm, trigger)?;
        let module = wasmtime::Module::new(&engine.engine, prepared.instrumented()?)?;
        return Ok((module, prepared, false));
    };
    let identity = ModuleIdentity::of(wasm);
    let key = entry_key(Kind::Prepared, &identity, &trigger_detail(trigger));
    if let Some(payload) = cache.read_entry(Kind::Prepared, &key)
        && let Some((code, map)) = payload.split_first_chunk::<32>()
        && let Some(module) = cache.load_compiled(&engine.engine, code)
    {
        let prepared = Prepared::from_cache(facts(wasm)?, identity, trigger, map.to_vec());
        return Ok((module, prepared, true));
    }
    let prepared = prepare(wasm, trigger)?;
    let instrumented = prepared.instrumented()?;
    let (module, hit) = cache.load_or_compile(&engine.engine, instrumented)?;
    let mut payload = code_key(instrumented).to_vec();
    payload.extend_from_slice(&prepared.map()?.encode());
    // A cache that cannot be written only costs time.
    let _ = cache.write_entry(Kind::Prepared, &key, &payload);
    Ok((module, prepared, hit))
}

/// The `call:` trigger as part of an entry key.
fn trigger_detail(trigger: Option<CallTrigger>) -> Vec<u8> {
    match trigger {
        None => Vec::new(),
        Some(t) => [&t.func.to_le_bytes()[..], &t.every.to_le_bytes()].concat(),
    }
}
