//! The side table of an instrumented module: for every function its original index, and
//! for every site (safepoint poll or post-call check) what the host needs to turn the
//! values it is handed into a canonical [`tern_snapshot::Frame`].

use crate::abi::ValKind;

/// What kind of point a site is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteKind {
    /// A safepoint poll at function entry: the frame is the top frame, `pc` is the first
    /// instruction of the body.
    Entry,
    /// A safepoint poll at a loop header: the frame is the top frame, `pc` is the first
    /// instruction inside the loop (the loop's parameters are on the operand stack).
    LoopHeader,
    /// A post-call check: the frame waits on the call at `pc`, its operand stack holds
    /// what lies below the call's arguments.
    Call,
    /// A post-call check that found a checkpoint requested and nothing unwinding (it
    /// polls too): the frame is the top frame, `pc` is the instruction after the call,
    /// the call's results are on top of the operand stack.
    AfterCall,
}

/// One site: a point where the cold path can report a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub kind: SiteKind,
    /// Index of the function in the *original* module (imports included).
    pub func: u32,
    /// Byte offset in the original module, following the pc convention of
    /// [`tern_snapshot::Frame`].
    pub pc: u32,
    /// Types of the operand stack of the frame, bottom first (all of it, including
    /// values of enclosing blocks).
    pub stack: Vec<ValKind>,
    /// Which locals are live here; dead ones are reported as zero.
    pub live: Vec<bool>,
}

/// Per-function facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncInfo {
    /// Index of the function in the original module (imports included).
    pub original_index: u32,
    /// Types of every local, parameters first, as declared in the original module (the
    /// instrumented function may have more: scratch locals of the pass come after these).
    pub locals: Vec<ValKind>,
    /// Site ids of this function, ascending.
    pub sites: std::ops::Range<u32>,
}

/// The side table: sites are numbered module-wide, in function order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstrumentMap {
    /// Number of function imports of the original module.
    pub imported_funcs: u32,
    /// One entry per *defined* function of the original module, in order.
    pub funcs: Vec<FuncInfo>,
    /// Every site; a site id is an index into this vector.
    pub sites: Vec<Site>,
}

impl InstrumentMap {
    /// The site with id `site`.
    pub fn site(&self, site: u32) -> Option<&Site> {
        self.sites.get(site as usize)
    }

    /// Facts about function `func` (original index), if it is a defined function.
    pub fn func(&self, func: u32) -> Option<&FuncInfo> {
        let defined = func.checked_sub(self.imported_funcs)?;
        self.funcs.get(defined as usize)
    }

    /// The original index of instrumented function index `func`, or `None` for the
    /// imports the pass added.
    pub fn original_func(func: u32) -> Option<u32> {
        func.checked_sub(crate::abi::ADDED_FUNCS)
    }

    /// The instrumented index of original function index `func`.
    pub fn instrumented_func(func: u32) -> u32 {
        func + crate::abi::ADDED_FUNCS
    }
}
