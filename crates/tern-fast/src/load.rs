//! Loading a module for the fast tier: prepared (instrumented, reach exports) and
//! compiled — or, warm, both taken from the cache without instrumenting: the prepared
//! entry (`entries.rs`) names the compiled module and holds the facts about the original
//! a capture and a restore need (`facts_entry.rs`), so a warm load costs reading the
//! entry and deserializing the compiled code. It needs the original's identity (the
//! entries' key), which the caller gives with the original (`original.rs`), but none of
//! its bytes: a module given by its file (`FastModule::from_file`) is not even read.
//! The instrumentation map has an entry of its own, read by the first capture only.

use crate::budget::CompiledTriggers;
use crate::cache::code_key;
use crate::engine::FastEngine;
use crate::entries::{Kind, entry_key};
use crate::error::Error;
use crate::facts_entry;
use crate::original::Original;
use crate::prepare::{Prepared, prepare};
use std::sync::Arc;

/// `original` prepared with `triggers` and compiled, and whether the compiled code came
/// from the cache.
pub(crate) fn load(
    engine: &FastEngine,
    original: Arc<Original>,
    triggers: CompiledTriggers,
) -> Result<(wasmtime::Module, Prepared, bool), Error> {
    let Some(cache) = &engine.cache else {
        let prepared = prepare(original, triggers)?;
        let module = wasmtime::Module::new(&engine.engine, prepared.instrumented()?)?;
        return Ok((module, prepared, false));
    };
    let key = entry_key(
        Kind::Prepared,
        original.identity(),
        &trigger_detail(triggers),
    );
    if let Some(payload) = cache.read_entry(Kind::Prepared, &key)
        && let Some((code, facts)) = payload.split_first_chunk::<32>()
        && let Some(facts) = facts_entry::decode(facts)
        && let Some(module) = cache.load_compiled(&engine.engine, code)
    {
        let prepared = Prepared::from_cache(original, facts, triggers, (cache.clone(), key));
        return Ok((module, prepared, true));
    }
    let prepared = prepare(original, triggers)?;
    let instrumented = prepared.instrumented()?;
    let (module, hit) = cache.load_or_compile(&engine.engine, instrumented)?;
    // A cache that cannot be written only costs time. The map first: a prepared entry
    // is what makes a load take the cache, and its map should be there by then.
    let _ = cache.write_entry(Kind::Map, &key, &prepared.map()?.encode());
    let mut entry = code_key(instrumented).to_vec();
    facts_entry::encode(&prepared.facts, &mut entry);
    let _ = cache.write_entry(Kind::Prepared, &key, &entry);
    Ok((module, prepared, hit))
}

/// The compiled triggers as part of an entry key: the `call:` trigger, then a byte
/// for instruction counting (only when set, so keys without it stay as they were).
fn trigger_detail(triggers: CompiledTriggers) -> Vec<u8> {
    let mut detail = match triggers.call {
        None => Vec::new(),
        Some(t) => [&t.func.to_le_bytes()[..], &t.every.to_le_bytes()].concat(),
    };
    if triggers.count {
        detail.extend_from_slice(b"count");
    }
    detail
}
