//! The instrumented continuation clones of a snapshot's frames, generated — or taken
//! from the cache's `generated` entries (`entries.rs`), keyed by the module and the
//! frames' resume points (`tern_instrument::clone::resume_points`): generating and
//! instrumenting clones costs time proportional to the code from each frame's pc to the
//! end of its function (tens of ms for a few large functions), while a cached entry
//! costs reading and decoding it.

use crate::engine::FastModule;
use crate::entries::{Kind, entry_key};
use crate::error::Error;
use tern_instrument::Continuations;
use tern_instrument::clone::resume_points;
use tern_snapshot::Frame;

/// The instrumented continuations of `frames`, validated against the module.
pub(crate) fn continuations(module: &FastModule, frames: &[Frame]) -> Result<Continuations, Error> {
    let invalid = |e: tern_instrument::Error| Error::Restore(format!("invalid frames: {e}"));
    let generate = || {
        tern_instrument::instrumented_continuations(&module.prepared.facts.original, frames)
            .map_err(invalid)
    };
    let Some(cache) = module.engine.cache() else {
        return generate();
    };
    let points = resume_points(frames).map_err(invalid)?;
    let key = entry_key(Kind::Generated, module.identity(), &points);
    if let Some(payload) = cache.read_entry(Kind::Generated, &key)
        && let Some(conts) = Continuations::from_generated(&payload, frames).map_err(invalid)?
    {
        return Ok(conts);
    }
    let conts = generate()?;
    if let Some(payload) = conts.encode_generated() {
        // A cache that cannot be written only costs time.
        let _ = cache.write_entry(Kind::Generated, &key, &payload);
    }
    Ok(conts)
}
