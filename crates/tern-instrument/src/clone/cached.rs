//! Instrumented continuations without generating them again: everything
//! [`instrumented_continuations`](super::instrumented_continuations) produces except the
//! clone arguments depends only on the original module and on *where* the frames resume
//! — the sequence of (function, pc, waiting or top) bottom first and the functions their
//! funcref values name, in order ([`resume_points`]). An embedder caches
//! [`Continuations::encode_generated`] under a key made of the module, the pass and those
//! points, and [`Continuations::from_generated`] rebuilds the continuations of any frames
//! at the same points in time proportional to the clones, not to the module or the work
//! of generating and instrumenting them.
//!
//! The checks of a generation still hold on a hit: the points (functions, pcs, which
//! frame waits on which call, the funcref slots) are in the key, so they were checked
//! when the entry was made; what a frame can still get wrong is the kinds of its values,
//! which are checked against the clones' parameters.

use super::{
    CloneInfo, CloneMap, Continuations, calls, distinct, frame_keys, same_kinds, slot_args,
};
use crate::error::Error;
use crate::map::{InstrumentMap, Reader, put, put_kinds};
use std::collections::HashMap;
use tern_snapshot::Frame;

/// Version of the encodings of this file; another is refused.
const VERSION: u32 = 1;

/// Where `frames` (bottom first) resume, as bytes: equal for two frame lists exactly when
/// their instrumented continuations differ only in the clone arguments. Errors as
/// [`instrumented_continuations`](super::instrumented_continuations) for no frames or
/// frames of several instances.
pub fn resume_points(frames: &[Frame]) -> Result<Vec<u8>, Error> {
    let keys = frame_keys(frames)?;
    let (_, refs) = slot_args(frames, |_| Ok(()))?;
    let mut out = Vec::with_capacity(8 + keys.len() * 9 + refs.len() * 4);
    put(&mut out, VERSION);
    put(&mut out, keys.len() as u32);
    for key in &keys {
        put(&mut out, key.func);
        put(&mut out, key.pc);
        out.push(u8::from(key.after_call));
    }
    put(&mut out, refs.len() as u32);
    for f in refs {
        put(&mut out, f);
    }
    Ok(out)
}

impl Continuations {
    /// What [`Continuations::from_generated`] needs besides the frames: the clones
    /// module and its map. `None` for continuations that are not instrumented.
    pub fn encode_generated(&self) -> Option<Vec<u8>> {
        let map = self.map.as_ref()?;
        let mut out = Vec::with_capacity(self.module.len() * 2);
        put(&mut out, VERSION);
        put(&mut out, self.module.len() as u32);
        out.extend_from_slice(&self.module);
        let inner = map.inner.encode();
        put(&mut out, inner.len() as u32);
        out.extend_from_slice(&inner);
        put(&mut out, map.clones.len() as u32);
        for info in &map.clones {
            put(&mut out, info.func);
            put(&mut out, info.entry_pc);
            put_kinds(&mut out, &info.locals);
            put_kinds(&mut out, &info.stack);
            put_kinds(&mut out, &info.callee_results);
            let mut pcs: Vec<(u32, u32)> = info.pcs.iter().map(|(&a, &b)| (a, b)).collect();
            pcs.sort_unstable();
            put(&mut out, pcs.len() as u32);
            for (at, original) in pcs {
                put(&mut out, at);
                put(&mut out, original);
            }
        }
        put(&mut out, map.refs.len() as u32);
        for &f in &map.refs {
            put(&mut out, f);
        }
        Some(out)
    }

    /// The instrumented continuations of `frames` from `bytes` that
    /// [`Continuations::encode_generated`] wrote for frames with the same
    /// [`resume_points`]. `Ok(None)` when the bytes are damaged or do not fit the points
    /// of `frames` (the caller generates instead); an error when a frame's values do not
    /// have the kinds its clone takes.
    pub fn from_generated(bytes: &[u8], frames: &[Frame]) -> Result<Option<Continuations>, Error> {
        let Some((module, map)) = decode(bytes) else {
            return Ok(None);
        };
        let keys = frame_keys(frames)?;
        let (args, refs) = slot_args(frames, |_| Ok(()))?;
        let (distinct, index) = distinct(&keys);
        if refs != map.refs || distinct.len() != map.clones.len() {
            return Ok(None);
        }
        for ((frame, key), &i) in frames.iter().zip(&keys).zip(&index) {
            let info = &map.clones[i];
            if info.func != key.func {
                return Ok(None);
            }
            let pc = u64::from(frame.pc);
            same_kinds(&frame.locals, &info.locals, pc, "locals")?;
            same_kinds(&frame.stack, &info.stack, pc, "operand stack")?;
        }
        Ok(Some(Continuations {
            module,
            calls: calls(&index, args),
            refs,
            map: Some(map),
        }))
    }
}

fn decode(bytes: &[u8]) -> Option<(Vec<u8>, CloneMap)> {
    let mut r = Reader::new(bytes);
    if r.u32()? != VERSION {
        return None;
    }
    let n = r.count(1)?;
    let module = r.take(n)?.to_vec();
    let n = r.count(1)?;
    let inner = InstrumentMap::decode(r.take(n)?)?;
    let n = r.count(24)?;
    let mut clones = Vec::with_capacity(n);
    for _ in 0..n {
        let func = r.u32()?;
        let entry_pc = r.u32()?;
        let locals = r.kinds()?;
        let stack = r.kinds()?;
        let callee_results = r.kinds()?;
        let n = r.count(8)?;
        let mut pcs = HashMap::with_capacity(n);
        for _ in 0..n {
            pcs.insert(r.u32()?, r.u32()?);
        }
        clones.push(CloneInfo {
            func,
            entry_pc,
            locals,
            stack,
            callee_results,
            pcs,
        });
    }
    let n = r.count(4)?;
    let refs = (0..n).map(|_| r.u32()).collect::<Option<Vec<u32>>>()?;
    if !r.is_done() {
        return None;
    }
    let map = CloneMap::new(inner, clones, refs).ok()?;
    Some((module, map))
}
