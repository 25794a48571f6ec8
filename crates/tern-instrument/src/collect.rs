//! The host side of the cold path: turns the calls an unwinding module makes to
//! `tern.frame` and `tern.save_*` into canonical [`tern_snapshot::Frame`]s.

use crate::abi::ValKind;
use crate::map::{InstrumentMap, SiteKind};
use std::fmt;
use tern_snapshot::{Frame, Value};

/// A report that does not match the map: wrong count or types of values, unknown site.
/// It means the module and the map do not belong together, or the host ABI was misused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectError(pub String);

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad frame report: {}", self.0)
    }
}

impl std::error::Error for CollectError {}

/// Accumulates the frames of one unwinding, top frame first as the module reports them.
#[derive(Debug, Clone, Default)]
pub struct FrameCollector {
    /// `(func, site, values in reverse canonical order)` of every reported frame.
    reported: Vec<(u32, u32, Vec<Value>)>,
    /// Arguments of a host call that gave way to the checkpoint (see
    /// [`FrameCollector::reissue`]).
    reissue: Option<Vec<Value>>,
}

impl FrameCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// `tern.frame(func, site)`: a new frame begins.
    pub fn frame(&mut self, func: u32, site: u32) {
        self.reported.push((func, site, Vec::new()));
    }

    /// `tern.save_*(value)`: the next value of the current frame. Function references
    /// must already be in the *original* module's numbering.
    pub fn save(&mut self, value: Value) -> Result<(), CollectError> {
        let (_, _, values) = self
            .reported
            .last_mut()
            .ok_or_else(|| CollectError("a value was saved before any frame".into()))?;
        values.push(value);
        Ok(())
    }

    /// A host import gave way to the checkpoint instead of blocking (DESIGN.md §4, "go
    /// forward, never back"): the top frame is then reported by its caller's post-call
    /// check, and becomes a frame that issues the call again — its pc stays on the call
    /// and `args` (the call's arguments, first first) go on top of its operand stack.
    /// The host must make sure that call really is a `call` of that import.
    pub fn reissue(&mut self, args: Vec<Value>) {
        self.reissue = Some(args);
    }

    /// Whether any frame was reported.
    pub fn is_empty(&self) -> bool {
        self.reported.is_empty()
    }

    /// The canonical frames, bottom first, all in instance `instance`. Checks every
    /// value against the map.
    pub fn finish(self, map: &InstrumentMap, instance: u32) -> Result<Vec<Frame>, CollectError> {
        let count = self.reported.len();
        let mut reissue = self.reissue;
        let mut frames = Vec::with_capacity(count);
        for (depth, (func, site_id, values)) in self.reported.into_iter().enumerate() {
            // A host call that gave way makes the top frame one waiting on that call.
            let waits = depth > 0 || reissue.is_some();
            let mut frame = canonical_frame(map, func, site_id, values, waits, depth, instance)?;
            if depth == 0
                && let Some(args) = reissue.take()
            {
                frame.stack.extend(args);
            }
            frames.push(frame);
        }
        frames.reverse();
        Ok(frames)
    }
}

/// One reported frame as a canonical frame: `values` in reverse canonical order as the
/// cold path hands them over; `waits` says whether the frame waits on a call (every frame
/// but the top one, and the top one too when a host call gave way), `depth` counts from
/// the top frame (0) for messages.
pub(crate) fn canonical_frame(
    map: &InstrumentMap,
    func: u32,
    site_id: u32,
    mut values: Vec<Value>,
    waits: bool,
    depth: usize,
    instance: u32,
) -> Result<Frame, CollectError> {
    let site = map
        .site(site_id)
        .ok_or_else(|| CollectError(format!("unknown site {site_id}")))?;
    if site.func != func {
        return Err(CollectError(format!(
            "site {site_id} belongs to function {}, not {func}",
            site.func
        )));
    }
    // Only a frame that waits on a call may be at a call site; the others are at a
    // safepoint.
    if waits != (site.kind == SiteKind::Call) {
        return Err(CollectError(format!(
            "site {site_id} ({:?}) at depth {depth} from the top",
            site.kind
        )));
    }
    let info = map
        .func(func)
        .ok_or_else(|| CollectError(format!("function {func} is not defined")))?;
    let want = info.locals.len() + site.stack.len();
    if values.len() != want {
        return Err(CollectError(format!(
            "site {site_id}: {} values reported, expected {want}",
            values.len()
        )));
    }
    values.reverse();
    let stack = values.split_off(info.locals.len());
    let types = info.locals.iter().chain(&site.stack);
    for (value, kind) in values.iter().chain(&stack).zip(types) {
        if ValKind::of(value) != *kind {
            return Err(CollectError(format!(
                "site {site_id}: a {kind:?} was expected, {value:?} reported"
            )));
        }
    }
    Ok(Frame {
        instance,
        func,
        pc: site.pc,
        locals: values,
        stack,
    })
}
