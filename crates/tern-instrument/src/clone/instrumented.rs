//! Instrumented clones: the clones module goes through the same pass as the main module
//! ([`crate::instrument`]), then its `tern.frame` import is renamed to
//! [`CLONE_FRAME`] so the host can tell its reports from the main module's. A clone's
//! cold path reports the clone's own locals (its parameters, then the original
//! function's locals) and pcs of the clones module; [`CloneMap`] turns that into the
//! canonical frame of the original function:
//!
//! * at the clone's entry poll (before anything ran): the frame as it was resumed —
//!   locals and operand stack from the parameters (funcref slots turned back into
//!   function indices), callee results on top, pc [`CloneInfo::entry_pc`];
//! * anywhere else: the original locals from the clone's locals after its parameters,
//!   the operand stack as reported (a clone's operand stack *is* the canonical one: the
//!   rebuilt blocks hold exactly the values of the levels they stand for), the pc
//!   mapped back through [`CloneInfo::pcs`].

use super::CloneInfo;
use crate::abi::{MODULE, ValKind};
use crate::collect::{CollectError, canonical_frame};
use crate::error::Error;
use crate::map::{InstrumentMap, SiteKind};
use tern_snapshot::{Frame, Value};
use wasm_encoder::reencode::{Error as ReencodeError, Reencode};

/// Name (in module [`MODULE`]) of the import through which an instrumented clones module
/// opens a frame: `(param $clones_func i32 $site i32)`, numbered as in
/// [`CloneMap::inner`].
pub const CLONE_FRAME: &str = "clone_frame";

/// How to read the frames an instrumented clones module reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneMap {
    /// The map of the instrumented clones module, in the clones module's numbering.
    pub inner: InstrumentMap,
    /// One per clone, in function order.
    pub clones: Vec<CloneInfo>,
    /// Original function index of funcref slot `k + 1`.
    pub refs: Vec<u32>,
}

impl CloneMap {
    pub(crate) fn new(
        inner: InstrumentMap,
        clones: Vec<CloneInfo>,
        refs: Vec<u32>,
    ) -> Result<CloneMap, Error> {
        let map = CloneMap {
            inner,
            clones,
            refs,
        };
        // Every site but the entry polls must be at a copied operator.
        for site in &map.inner.sites {
            let info = map
                .clone_of(site.func)
                .ok_or_else(|| Error::new(0, "internal error: a site outside the clones"))?;
            if site.kind != SiteKind::Entry && !info.pcs.contains_key(&site.pc) {
                return Err(Error::new(
                    u64::from(site.pc),
                    "internal error: a site at added code",
                ));
            }
        }
        Ok(map)
    }

    fn clone_of(&self, func: u32) -> Option<&CloneInfo> {
        let index = func.checked_sub(self.inner.imported_funcs)?;
        self.clones.get(index as usize)
    }

    /// The canonical frame of one clone report (see [`canonical_frame`]).
    fn translate(
        &self,
        func: u32,
        site: u32,
        values: Vec<Value>,
        waits: bool,
        depth: usize,
        instance: u32,
    ) -> Result<Frame, CollectError> {
        let raw = canonical_frame(&self.inner, func, site, values, waits, depth, instance)?;
        let info = self
            .clone_of(func)
            .ok_or_else(|| CollectError(format!("clones function {func} is not a clone")))?;
        let (nl, ns) = (info.locals.len(), info.stack.len());
        let np = nl + ns + info.callee_results.len();
        let kind = self.inner.site(site).map(|s| s.kind);
        let (locals, stack, pc) = if kind == Some(SiteKind::Entry) {
            let mut params = raw.locals;
            params.truncate(np);
            let mut stack = params.split_off(nl);
            for (value, kind) in params.iter_mut().zip(&info.locals) {
                *value = self.unslot(*value, *kind)?;
            }
            for (value, kind) in stack.iter_mut().zip(&info.stack) {
                *value = self.unslot(*value, *kind)?;
            }
            (params, stack, info.entry_pc)
        } else {
            let locals = raw.locals.get(np..np + nl).map(<[Value]>::to_vec);
            let pc = info.pcs.get(&raw.pc).copied();
            let (Some(locals), Some(pc)) = (locals, pc) else {
                return Err(CollectError(format!(
                    "site {site} does not map to the original"
                )));
            };
            (locals, raw.stack, pc)
        };
        Ok(Frame {
            instance,
            func: info.func,
            pc,
            locals,
            stack,
        })
    }

    /// A parameter of kind `kind` in its canonical form: funcref slots become function
    /// indices.
    fn unslot(&self, value: Value, kind: ValKind) -> Result<Value, CollectError> {
        match (kind, value) {
            (ValKind::FuncRef, Value::I32(0)) => Ok(Value::FuncRef(None)),
            (ValKind::FuncRef, Value::I32(slot)) => self
                .refs
                .get(slot as usize - 1)
                .map(|f| Value::FuncRef(Some(*f)))
                .ok_or_else(|| CollectError(format!("funcref slot {slot} does not exist"))),
            _ => Ok(value),
        }
    }
}

/// The host side of the cold paths while frames are resumed through instrumented clones:
/// reports from the main module (`tern.frame`) and from the clones module
/// ([`CLONE_FRAME`]) in one unwinding, top frame first.
#[derive(Debug, Clone, Default)]
pub struct ResumeCollector {
    /// `(from a clone, func, site, values in reverse canonical order)`.
    reported: Vec<(bool, u32, u32, Vec<Value>)>,
    /// Arguments of a host call that gave way (see [`ResumeCollector::reissue`]).
    reissue: Option<Vec<Value>>,
}

impl ResumeCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// `tern.frame(func, site)`: the main module opens a frame.
    pub fn frame(&mut self, func: u32, site: u32) {
        self.reported.push((false, func, site, Vec::new()));
    }

    /// `tern.clone_frame(func, site)`: the clones module opens a frame.
    pub fn clone_frame(&mut self, func: u32, site: u32) {
        self.reported.push((true, func, site, Vec::new()));
    }

    /// `tern.save_*(value)`, funcrefs already in the original module's numbering.
    pub fn save(&mut self, value: Value) -> Result<(), CollectError> {
        let (_, _, _, values) = self
            .reported
            .last_mut()
            .ok_or_else(|| CollectError("a value was saved before any frame".into()))?;
        values.push(value);
        Ok(())
    }

    /// A host import gave way to the checkpoint: as
    /// [`FrameCollector::reissue`](crate::FrameCollector::reissue), the top frame waits
    /// on that call and `args` go on top of its operand stack.
    pub fn reissue(&mut self, args: Vec<Value>) {
        self.reissue = Some(args);
    }

    pub fn is_empty(&self) -> bool {
        self.reported.is_empty()
    }

    /// The reported frames, bottom first. When the unwinding began while frame
    /// `running` of the resumed stack was being resumed
    /// ([`Resumed::Unwound`](super::Resumed::Unwound)), the whole canonical stack is
    /// the resumed frames `0..running` followed by these.
    pub fn finish(
        self,
        main: &InstrumentMap,
        clones: &CloneMap,
        instance: u32,
    ) -> Result<Vec<Frame>, CollectError> {
        let mut frames = Vec::with_capacity(self.reported.len());
        let mut reissue = self.reissue;
        for (depth, (from_clone, func, site, values)) in self.reported.into_iter().enumerate() {
            let waits = depth > 0 || reissue.is_some();
            let mut frame = if from_clone {
                clones.translate(func, site, values, waits, depth, instance)?
            } else {
                canonical_frame(main, func, site, values, waits, depth, instance)?
            };
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

/// Renames the `tern.frame` import of an instrumented clones module to [`CLONE_FRAME`].
pub(crate) fn rename_frame_import(module: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = wasm_encoder::Module::new();
    Rename.parse_core_module(&mut out, wasmparser::Parser::new(0), module)?;
    Ok(out.finish())
}

struct Rename;

impl Reencode for Rename {
    type Error = Error;

    fn parse_import_section(
        &mut self,
        imports: &mut wasm_encoder::ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), ReencodeError<Error>> {
        for import in section.into_imports() {
            let import = import?;
            let name = if import.module == MODULE && import.name == crate::abi::FRAME {
                CLONE_FRAME
            } else {
                import.name
            };
            let ty = self.entity_type(import.ty)?;
            imports.import(import.module, name, ty);
        }
        Ok(())
    }
}
