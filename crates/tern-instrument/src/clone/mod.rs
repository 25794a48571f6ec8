//! Continuation clones: restore on the fast tier with no rewind code in the normal path
//! (DESIGN.md §4, "Restore"; `docs/fast-tier.md`, "Restore: continuation clones").
//!
//! For each saved frame, [`continuations`] generates a function of a small second module
//! that starts exactly at the frame's pc: it takes the frame's locals, its operand stack
//! and — for a frame waiting on a call — the callee's results as parameters, rebuilds
//! the enclosing `block`/`loop`/`if` structure from that point and runs ordinary code to
//! the end of the function, returning the function's results. The clones module imports
//! the main instance's functions, memories, tables and globals under the names that
//! [`export_for_clones`] adds to the main module. [`Continuations::resume`] is the
//! driver: top frame first, each clone's results are the callee results of the clone
//! below, the bottom clone's results are the invocation's.
//!
//! Function references in frames travel as `i32` *slots*: 0 is `ref.null func`, `k + 1`
//! is entry `k` of [`Continuations::refs`] (an original function index). The clones
//! module holds a private funcref table, filled by an element segment with exactly those
//! functions (imported from the main instance, so they are the main instance's own
//! references), and each clone turns its slot parameters into references with
//! `table.get`. The host therefore never handles an engine reference; the callee
//! results it passes from one clone to the next are the engine's own values.
//!
//! ```
//! use tern_snapshot::{Frame, Value};
//! let wasm = wat::parse_str(r#"
//!     (module (func (export "count") (param i32) (result i32)
//!       (loop (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
//!       (local.get 0)))
//! "#).unwrap();
//! // The frame paused in front of the `i32.const 1` inside the loop (byte offset 0x28).
//! let frame = Frame {
//!     instance: 0,
//!     func: 0,
//!     pc: 0x28,
//!     locals: vec![Value::I32(7)],
//!     stack: vec![Value::I32(7)],
//! };
//! let conts = tern_instrument::continuations(&wasm, &[frame]).unwrap();
//! wasmparser::validate(&conts.module).unwrap();
//! assert_eq!(conts.calls[0].export, "clone0");
//! assert_eq!(conts.calls[0].args, [Value::I32(7), Value::I32(7)]);
//! ```

mod analysis;
mod assemble;
mod cached;
mod drive;
mod emit;
mod exports;
mod instrumented;
mod segments;
mod types;

pub use cached::resume_points;
pub use drive::{CloneOutcome, CloneRunner, Resumed};
pub use exports::{
    FUNCS_TABLE, MAIN_MODULE, MainLayout, export_for_clones, func_export, func_of_export,
    global_export, memory_export, table_export,
};
pub use instrumented::{CLONE_FRAME, CloneMap, ResumeCollector};

use crate::abi::ValKind;
use crate::error::Error;
use analysis::Original;
use std::collections::{BTreeSet, HashMap};
use tern_snapshot::{Frame, Value};
use wasmparser::{Operator, ValType};

/// Export name of the clones module's funcref slot table (entry `k + 1` is
/// [`Continuations::refs`]`[k]`), so an engine can tell which function a reference that
/// came from a slot is.
pub const REFS_EXPORT: &str = "tern:refs";

/// A clones module and how to call it for each frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuations {
    /// The clones module (binary). Its imports are all from [`MAIN_MODULE`].
    pub module: Vec<u8>,
    /// One per frame, bottom first: the clone export to call and its first arguments
    /// (the frame's locals and operand stack, funcrefs as slots). A frame that waits
    /// on a call also takes the callee's results, appended after these.
    pub calls: Vec<CloneCall>,
    /// Original function index of funcref slot `k + 1`.
    pub refs: Vec<u32>,
    /// For an instrumented clones module ([`instrumented_continuations`]): how to turn
    /// the frames its cold path reports into canonical frames.
    pub map: Option<CloneMap>,
}

/// What the host needs to know about one clone to read the frames it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneInfo {
    /// The original function the clone continues.
    pub func: u32,
    /// Canonical pc of the clone's entry: the frame's pc, or for a frame waiting on a
    /// call the instruction after the call.
    pub entry_pc: u32,
    /// Kinds of the original function's locals (the clone's first parameters).
    pub locals: Vec<ValKind>,
    /// Kinds of the frame's operand stack (the next parameters).
    pub stack: Vec<ValKind>,
    /// Kinds of the callee's results (the last parameters).
    pub callee_results: Vec<ValKind>,
    /// Byte offset in the clones module → byte offset in the original module, for
    /// every operator copied from the original.
    pub pcs: HashMap<u32, u32>,
}

/// How to resume one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneCall {
    /// Name of the clone's export in the clones module.
    pub export: String,
    pub args: Vec<Value>,
}

/// One distinct continuation: frames of the same function at the same pc and of the
/// same kind (top or waiting) share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct CloneKey {
    pub func: u32,
    pub pc: u32,
    /// Whether the frame waits on the call at `pc` (resumes after it).
    pub after_call: bool,
}

/// Generates the continuation clones of `frames` (bottom first, canonical, all in one
/// instance of `original`, funcrefs numbered as in `original`). Every frame is checked
/// against the module — function defined, pc on an instruction boundary and reachable,
/// frames below the top waiting on a `call` or `call_indirect` whose results the frame
/// above produces, locals and operand stack of the right types — so a forged frame is
/// an error, never an invalid module.
pub fn continuations(original: &[u8], frames: &[Frame]) -> Result<Continuations, Error> {
    generate(original, frames).map(|(c, _)| c)
}

/// [`continuations`], with the clones module instrumented like the main module (polls
/// and post-call checks whose cold path reports *original* pcs), so a restored program
/// can be checkpointed again before it leaves the clones. Its frames are reported
/// through `tern.clone_frame` instead of `tern.frame` (same signature; the `save_*`
/// imports and the flag memory are shared with the main module);
/// [`ResumeCollector`] reads both.
pub fn instrumented_continuations(
    original: &[u8],
    frames: &[Frame],
) -> Result<Continuations, Error> {
    let (mut c, infos) = generate(original, frames)?;
    // Sites of clones must sit at copied instructions (`CloneMap`); the instruction
    // after a call may be added code, so post-call checks do not poll here.
    let options = crate::Options {
        poll_after_calls: false,
        ..crate::Options::default()
    };
    let out = crate::instrument_with(&c.module, &options)?;
    c.map = Some(CloneMap::new(out.map, infos, c.refs.clone())?);
    c.module = instrumented::rename_frame_import(&out.module)?;
    Ok(c)
}

fn generate(original: &[u8], frames: &[Frame]) -> Result<(Continuations, Vec<CloneInfo>), Error> {
    let keys = frame_keys(frames)?;
    let wanted: BTreeSet<(u32, u32, bool)> =
        keys.iter().map(|k| (k.func, k.pc, k.after_call)).collect();
    let orig = Original::parse(original, &wanted)?;
    for (i, (frame, key)) in frames.iter().zip(&keys).enumerate() {
        let callee = frames.get(i + 1).map(|f| f.func);
        check_frame(&orig, frame, *key, callee)?;
    }
    let (args, refs) = slot_args(frames, |f| {
        if f as usize >= orig.func_types.len() {
            return Err(Error::new(0, format!("funcref to unknown function {f}")));
        }
        Ok(())
    })?;
    let (distinct, index) = distinct(&keys);
    let calls = calls(&index, args);
    let (module, infos) = assemble::clones_module(&orig, &distinct, &refs)?;
    Ok((
        Continuations {
            module,
            calls,
            refs,
            map: None,
        },
        infos,
    ))
}

/// The continuation each frame needs (bottom first), after checking that the frames are
/// a stack of one instance.
fn frame_keys(frames: &[Frame]) -> Result<Vec<CloneKey>, Error> {
    let top = frames
        .len()
        .checked_sub(1)
        .ok_or_else(|| Error::new(0, "no frames to resume"))?;
    if frames.iter().any(|f| f.instance != frames[0].instance) {
        return Err(Error::new(0, "frames of several instances"));
    }
    Ok(frames
        .iter()
        .enumerate()
        .map(|(i, f)| CloneKey {
            func: f.func,
            pc: f.pc,
            after_call: i != top,
        })
        .collect())
}

/// The distinct continuations in order of first use, and which one each frame uses.
fn distinct(keys: &[CloneKey]) -> (Vec<CloneKey>, Vec<usize>) {
    let mut distinct: Vec<CloneKey> = Vec::new();
    let mut clone_of: HashMap<CloneKey, usize> = HashMap::new();
    let index = keys
        .iter()
        .map(|key| {
            *clone_of.entry(*key).or_insert_with(|| {
                distinct.push(*key);
                distinct.len() - 1
            })
        })
        .collect();
    (distinct, index)
}

/// Each frame's locals and operand stack as clone arguments (funcrefs as slots, each
/// function checked by `check`), and the function of each slot.
fn slot_args(
    frames: &[Frame],
    mut check: impl FnMut(u32) -> Result<(), Error>,
) -> Result<(Vec<Vec<Value>>, Vec<u32>), Error> {
    let mut refs: Vec<u32> = Vec::new();
    let mut slot_of: HashMap<u32, u32> = HashMap::new();
    let mut all = Vec::with_capacity(frames.len());
    for frame in frames {
        let mut args = Vec::with_capacity(frame.locals.len() + frame.stack.len());
        for value in frame.locals.iter().chain(&frame.stack) {
            args.push(match *value {
                Value::FuncRef(None) => Value::I32(0),
                Value::FuncRef(Some(f)) => {
                    check(f)?;
                    let slot = *slot_of.entry(f).or_insert_with(|| {
                        refs.push(f);
                        refs.len() as u32
                    });
                    Value::I32(slot)
                }
                other => other,
            });
        }
        all.push(args);
    }
    Ok((all, refs))
}

fn calls(index: &[usize], args: Vec<Vec<Value>>) -> Vec<CloneCall> {
    index
        .iter()
        .zip(args)
        .map(|(&i, args)| CloneCall {
            export: clone_export(i),
            args,
        })
        .collect()
}

/// Export name of clone `index` in the clones module.
pub(crate) fn clone_export(index: usize) -> String {
    format!("clone{index}")
}

/// Checks one frame against the module; `callee` is the function of the frame above.
fn check_frame(
    orig: &Original<'_>,
    frame: &Frame,
    key: CloneKey,
    callee: Option<u32>,
) -> Result<(), Error> {
    let pc = u64::from(frame.pc);
    let body = orig
        .bodies
        .get(&frame.func)
        .ok_or_else(|| Error::new(pc, format!("function {} is not defined", frame.func)))?;
    let index = *body.index_of.get(&pc).ok_or_else(|| {
        Error::new(
            pc,
            format!(
                "pc {pc:#x} is not an instruction of function {}",
                frame.func
            ),
        )
    })?;
    let mut expected_stack = orig.stack_at(body, index + usize::from(key.after_call))?;
    if let Some(callee) = callee {
        let results = match &body.ops[index].0 {
            Operator::Call { function_index } => orig.func_sig(*function_index),
            Operator::CallIndirect { type_index, .. } => orig.signature(*type_index),
            _ => {
                return Err(Error::new(
                    pc,
                    "a frame below the top does not wait on a call",
                ));
            }
        }
        .ok_or_else(|| Error::new(pc, "unknown callee type"))?
        .results()
        .to_vec();
        let callee_results = orig.func_sig(callee).map(|s| s.results().to_vec());
        if callee_results.as_ref() != Some(&results) {
            return Err(Error::new(
                pc,
                "the frame above does not return what the call expects",
            ));
        }
        let below = expected_stack
            .len()
            .checked_sub(results.len())
            .filter(|b| expected_stack[*b..] == results[..])
            .ok_or_else(|| Error::new(pc, "internal error: call results not on the stack"))?;
        expected_stack.truncate(below);
    }
    same_types(&frame.locals, &body.locals, pc, "locals")?;
    same_types(&frame.stack, &expected_stack, pc, "operand stack")
}

fn same_types(values: &[Value], types: &[ValType], pc: u64, what: &str) -> Result<(), Error> {
    // A type the fast tier has no kind for matches no value.
    let kinds: Vec<Option<ValKind>> = types.iter().map(|t| ValKind::from_wasm(*t)).collect();
    match kinds.into_iter().collect::<Option<Vec<_>>>() {
        Some(kinds) => same_kinds(values, &kinds, pc, what),
        None => Err(types_differ(pc, what)),
    }
}

/// Whether `values` have exactly the kinds `kinds`, in order; the frame's `what` (its
/// locals or operand stack) at `pc` is refused otherwise.
pub(super) fn same_kinds(
    values: &[Value],
    kinds: &[ValKind],
    pc: u64,
    what: &str,
) -> Result<(), Error> {
    let ok =
        values.len() == kinds.len() && values.iter().zip(kinds).all(|(v, k)| ValKind::of(v) == *k);
    if ok {
        Ok(())
    } else {
        Err(types_differ(pc, what))
    }
}

fn types_differ(pc: u64, what: &str) -> Error {
    Error::new(
        pc,
        format!("the frame's {what} do not have the types the code expects there"),
    )
}
