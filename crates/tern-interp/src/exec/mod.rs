//! The execution loop.
//!
//! Uncounted runs in optimized native builds execute threaded code instead (see
//! `threaded/mod.rs`), which hands single instructions back to this loop.
//!
//! Execution state lives in the store ([`Execution`]) whenever the loop is not running;
//! while it runs, the active frame is held in local variables (`ip`, a pointer to the
//! instruction being executed, saved as the index of the next one; `fp`, `sp`) and
//! written back when the loop pauses, returns or traps. Nothing else is kept between
//! runs, which is what makes the state capturable at every instruction boundary.
//!
//! # Safety invariants of the loop
//! - `base` points at the value stack, a `Vec<Slot>` that is resized only by a call that
//!   needs more room, which re-derives `base`, `fp` and `sp` at once; `fp` and `sp`
//!   point into it.
//! - Validation guarantees that every local index is below the function's local count
//!   and that the operand stack never exceeds the function's `max_height` nor pops
//!   below empty; a call makes sure `fp + locals + max_height <= stack length` before
//!   it enters a function. Together these keep every slot access in bounds.
//! - `code` points at the current function's code, owned by an `Arc`ed module that the
//!   store keeps alive and never mutates; validation guarantees branch targets are in
//!   range and that control never runs past the final `Return`.
//! - `mem_ptr`/`mem_len` describe memory 0 of the current instance; they are reloaded
//!   after anything that may resize or re-borrow memories (calls, returns, grow, bulk
//!   operations, host calls).

mod bulk;
mod call;
mod forms;
#[cfg(tern_threaded)]
pub(crate) mod threaded;

use crate::code::{FuncCode, Instr, Target};
use crate::error::{BacktraceFrame, RunError, Trap, TrapKind};
use crate::numeric;
use crate::simd;
use crate::store::{Frame, FuncEntity, Outcome, PauseReason, Slot, Store, from_slot};
use forms::register_forms;
use std::hint::cold_path;
use std::sync::atomic::Ordering;

pub(crate) use call::HostCallResult;

/// Value-stack slots allocated when a call starts; the stack grows on demand (at calls)
/// up to [`crate::Config::max_stack_slots`].
pub(crate) const INITIAL_STACK_SLOTS: usize = 1 << 12;

/// How the loop stopped without trapping.
pub(crate) enum Exit {
    Returned,
    Paused(PauseReason),
}

/// Copies one slot as two 8-byte halves. Scalars are written as 8-byte stores; a
/// 16-byte load of such a slot right after cannot be forwarded from the store buffer
/// and stalls the pipeline, which made plain `*dst = *src` copies the interpreter's
/// most expensive operation.
///
/// # Safety
/// Both pointers must be valid for one slot.
#[inline(always)]
unsafe fn copy_slot(dst: *mut Slot, src: *const Slot) {
    let (dst, src) = (dst.cast::<u64>(), src.cast::<u64>());
    // SAFETY: the caller guarantees a slot (two u64) at each pointer; volatile keeps
    // the compiler from merging the halves back into one 16-byte access.
    unsafe {
        let (lo, hi) = (src.read_volatile(), src.add(1).read_volatile());
        dst.write_volatile(lo);
        dst.add(1).write_volatile(hi);
    }
}

/// Copies `n` slots from `src` to `dst` (lower or equal addresses: values only move
/// down the stack), slot by slot for the reason given at [`copy_slot`].
///
/// # Safety
/// Both ranges must be valid for `n` slots and `dst <= src`.
#[inline(always)]
unsafe fn copy_slots(dst: *mut Slot, src: *const Slot, n: usize) {
    for i in 0..n {
        // SAFETY: in bounds by the caller's guarantee; copying upwards from the lowest
        // slot is correct for overlapping ranges when `dst <= src`.
        unsafe { copy_slot(dst.add(i), src.add(i)) };
    }
}

/// The code a run executes: plain instructions when they are counted, so that a pause
/// can fall between any two; fused and register forms otherwise.
///
/// # Safety
/// `func` must point at a live `FuncCode`.
#[inline(always)]
unsafe fn code_of<const COUNT: bool>(func: *const FuncCode) -> *const Instr {
    // SAFETY: guaranteed by the caller.
    let func = unsafe { &*func };
    if COUNT {
        func.code.as_ptr()
    } else {
        func.fast.as_ptr()
    }
}

/// A register form's integer immediate, sign-extended for 64-bit operators.
#[inline(always)]
fn int_imm(imm: u32) -> Slot {
    Slot::from(imm as i32 as i64 as u64)
}
/// A register form's `f32` immediate.
#[inline(always)]
fn f32_imm(imm: u32) -> Slot {
    Slot::from(imm)
}
/// A register form's `f64` immediate: an `f32` that equals it (see `regfold.rs`).
#[inline(always)]
fn f64_imm(imm: u32) -> Slot {
    Slot::from(f64::from(f32::from_bits(imm)).to_bits())
}
#[inline(always)]
fn as_u32(s: Slot) -> u32 {
    s as u32
}
#[inline(always)]
fn as_u64(s: Slot) -> u64 {
    s as u64
}
#[inline(always)]
fn as_f32(s: Slot) -> f32 {
    f32::from_bits(s as u32)
}
#[inline(always)]
fn as_f64(s: Slot) -> f64 {
    f64::from_bits(s as u64)
}
/// A scalar result: only the low 8 bytes of its slot are written. Scalar readers never
/// look at the high half, and skipping it saves a store per instruction.
#[derive(Clone, Copy)]
struct Lo(u64);

/// Writes a value into a slot: a whole v128, or only the low half for a [`Lo`] scalar.
trait PutSlot {
    /// # Safety
    /// `p` must be valid for one slot.
    unsafe fn put(self, p: *mut Slot);
}
impl PutSlot for Slot {
    #[inline(always)]
    unsafe fn put(self, p: *mut Slot) {
        // SAFETY: the caller guarantees `p` is valid.
        unsafe { p.write(self) }
    }
}
impl PutSlot for Lo {
    #[inline(always)]
    unsafe fn put(self, p: *mut Slot) {
        // SAFETY: the caller guarantees `p` is valid for a slot, so for its low half.
        unsafe { p.cast::<u64>().write(self.0) }
    }
}

#[inline(always)]
fn from_u32(v: u32) -> Lo {
    Lo(v.into())
}
#[inline(always)]
fn from_u64(v: u64) -> Lo {
    Lo(v)
}
#[inline(always)]
fn from_f32(v: f32) -> Lo {
    Lo(v.to_bits().into())
}
#[inline(always)]
fn from_f64(v: f64) -> Lo {
    Lo(v.to_bits())
}
#[inline(always)]
fn from_bool(v: bool) -> Lo {
    Lo(v.into())
}
#[inline(always)]
fn as_v128(s: Slot) -> u128 {
    s
}

impl Store {
    /// Calls function `addr` with `args`.
    pub fn call(&mut self, addr: u32, args: &[tern_snapshot::Value]) -> Result<Outcome, RunError> {
        if self.is_paused() {
            return Err(RunError::Usage(
                "another invocation is paused in this store".into(),
            ));
        }
        let ty = self
            .func_type(addr)
            .ok_or_else(|| RunError::Usage(format!("no function at address {addr}")))?
            .clone();
        let arg_types: Vec<_> = args.iter().map(crate::ValType::of).collect();
        if arg_types != ty.params {
            return Err(RunError::Usage(format!(
                "function expects arguments of types {:?}, got {:?}",
                ty.params, arg_types
            )));
        }
        self.exec.stack.clear();
        self.exec
            .stack
            .resize(INITIAL_STACK_SLOTS.min(self.config.max_stack_slots), 0);
        for (slot, arg) in self.exec.stack.iter_mut().zip(args) {
            *slot = crate::store::to_slot(*arg);
        }
        self.exec.results = ty.results.clone();
        match self.funcs[addr as usize].clone() {
            FuncEntity::Host { func, .. } => {
                let mut ctx = crate::HostContext {
                    memories: &mut self.memories,
                    memory_map: &[],
                };
                match func(&mut ctx, args) {
                    Ok(results) => Ok(Outcome::Finished(results)),
                    Err(e) => Err(call::host_error(e).into_run_error()),
                }
            }
            FuncEntity::Wasm {
                instance, index, ..
            } => {
                let code = self.code(instance, index);
                let need = code.locals as usize + code.max_height as usize;
                let (params, locals) = (code.params as usize, code.locals as usize);
                if need > self.config.max_stack_slots {
                    return Err(Trap::new(TrapKind::StackExhausted).into());
                }
                if need > self.exec.stack.len() {
                    self.exec.stack.resize(need, 0);
                }
                self.exec.stack[params..locals].fill(0);
                self.exec.frames.push(Frame {
                    instance,
                    func: index,
                    pc: 0,
                    fp: 0,
                });
                self.exec.sp = locals as u32;
                self.run()
            }
        }
    }

    /// Continues a paused invocation.
    pub fn resume(&mut self) -> Result<Outcome, RunError> {
        if !self.is_paused() {
            return Err(RunError::Usage("nothing to resume".into()));
        }
        self.run()
    }

    /// Abandons a paused invocation.
    pub fn discard(&mut self) {
        self.exec.frames.clear();
        self.exec.sp = 0;
    }

    fn run(&mut self) -> Result<Outcome, RunError> {
        let start_budget = self.budget;
        let result = if self.budget.is_some() {
            self.execute::<true>()
        } else {
            self.execute_uncounted()
        };
        if let (Some(before), after) = (start_budget, self.budget) {
            self.executed += before - after.unwrap_or(0);
        }
        match result {
            Ok(Exit::Returned) => {
                let results = self.exec.results.iter().enumerate();
                let values = results
                    .map(|(i, ty)| from_slot(self.exec.stack[i], *ty))
                    .collect();
                self.exec.frames.clear();
                Ok(Outcome::Finished(values))
            }
            Ok(Exit::Paused(reason)) => Ok(Outcome::Paused(reason)),
            Err(e) => {
                self.exec.frames.clear();
                Err(e)
            }
        }
    }

    /// Runs without counting: threaded code where this build has it (see
    /// `threaded/mod.rs`) and the configuration asks for it, else the loop.
    fn execute_uncounted(&mut self) -> Result<Exit, RunError> {
        #[cfg(tern_threaded)]
        if self.config.threaded {
            return self.execute_threaded();
        }
        self.execute::<false>()
    }

    /// The translated code of a defined function.
    pub(crate) fn code(&self, instance: u32, func: u32) -> &FuncCode {
        self.instances[instance as usize]
            .module
            .0
            .code_of(func)
            .expect("a defined function")
    }

    /// The Wasm backtrace of the current frames (innermost first); every frame's pc
    /// points one past the instruction it is executing.
    pub(crate) fn backtrace(&self) -> Vec<BacktraceFrame> {
        self.exec
            .frames
            .iter()
            .rev()
            .map(|frame| {
                let module = &self.instances[frame.instance as usize].module;
                let code = self.code(frame.instance, frame.func);
                let at = (frame.pc as usize)
                    .saturating_sub(1)
                    .min(code.offsets.len().saturating_sub(1));
                BacktraceFrame {
                    instance: frame.instance,
                    func: frame.func,
                    func_name: module.func_name(frame.func).map(str::to_string),
                    pc: code.offsets.get(at).copied().unwrap_or(0),
                }
            })
            .collect()
    }

    /// Counts one call of the watched function; true when this is the one to pause at
    /// (the watch then ends).
    #[cold]
    fn call_watch_fires(&mut self) -> bool {
        match &mut self.call_watch {
            Some((_, left)) if *left > 1 => {
                *left -= 1;
                false
            }
            _ => {
                self.call_watch = None;
                true
            }
        }
    }

    // The macros below are also used outside the loop's big `unsafe` block, so they
    // carry their own; inside it those are redundant.
    #[allow(unused_unsafe)]
    fn execute<const COUNT: bool>(&mut self) -> Result<Exit, RunError> {
        let interrupt = self.interrupt.clone();
        // Interrupt checks left before a poll pause (WASI only; never when unset). One
        // more than the interval: a run resumed at a poll pause repeats that check first.
        #[cfg(target_os = "wasi")]
        let mut checks_left = self.poll_interval.map_or(u64::MAX, |n| n.saturating_add(1));
        let mut budget = self.budget.unwrap_or(0);
        let mut frame = self.exec.frames.pop().expect("run with an active frame");
        let mut base: *mut Slot = self.exec.stack.as_mut_ptr();
        let mut stack_len = self.exec.stack.len();
        let max_slots = self.config.max_stack_slots;
        // u32::MAX is never a function address. The pause that fires the watch returns,
        // and the next run reads the (then ended) watch again.
        let watched = self.call_watch.map_or(u32::MAX, |(addr, _)| addr);
        let max_depth = self.config.max_call_depth;
        // SAFETY: frames and sp were produced by the loop itself or checked by restore.
        let mut fp: *mut Slot = unsafe { base.add(frame.fp as usize) };
        // SAFETY: as above.
        let mut sp: *mut Slot = unsafe { base.add(self.exec.sp as usize) };
        let mut func: *const FuncCode = self.code(frame.instance, frame.func);
        // SAFETY: `func` points into an Arc'ed module kept alive by the store.
        let mut code: *const Instr = unsafe { code_of::<COUNT>(func) };
        // The instruction to execute, as a pointer into `code`: one register, and
        // fetching through it needs no address arithmetic. Saved states hold its index.
        // It steps to the next instruction at the end of each one, not before: with the
        // step first, a handler keeps both the old and the new pointer alive (operands
        // are read through the old one), and every dispatch paid two register copies.
        // SAFETY: a saved pc is within its function's code (see above).
        let mut ip: *const Instr = unsafe { code.add(frame.pc as usize) };
        // The index of the next instruction (`ip` is the current one while it runs).
        macro_rules! pc {
            () => {
                ip.offset_from(code) as usize + 1
            };
        }
        // Continues at instruction `$to`: `ip` is left one before it, and the step
        // at the loop's end moves it there.
        macro_rules! jump {
            ($to:expr) => {
                ip = code.wrapping_add($to as usize).wrapping_sub(1)
            };
        }
        let mut funcs_map: *const u32 = self.instances[frame.instance as usize].funcs.as_ptr();
        let mut globals_map: *const u32 = self.instances[frame.instance as usize].globals.as_ptr();
        let globals = self.globals.as_mut_ptr();
        let mut mem_ptr: *mut u8;
        let mut mem_len: usize;

        macro_rules! reload_mem {
            () => {{
                let inst = &self.instances[frame.instance as usize];
                match inst.memories.first() {
                    Some(&m) => {
                        let memory = &mut self.memories[m as usize].bytes;
                        mem_ptr = memory.as_mut_ptr();
                        mem_len = memory.len();
                    }
                    None => {
                        mem_ptr = std::ptr::null_mut();
                        mem_len = 0;
                    }
                }
            }};
        }
        macro_rules! enter {
            ($frame:expr) => {{
                let next: Frame = $frame;
                // Calls and returns mostly stay inside one instance, whose maps and
                // memory (kept current by every instruction that can move it) are loaded.
                let same_instance = next.instance == frame.instance;
                frame = next;
                func = self.code(frame.instance, frame.func);
                // SAFETY: see above.
                code = unsafe { code_of::<COUNT>(func) };
                if !same_instance {
                    let inst = &self.instances[frame.instance as usize];
                    funcs_map = inst.funcs.as_ptr();
                    globals_map = inst.globals.as_ptr();
                    reload_mem!();
                }
            }};
        }
        reload_mem!();
        // Writes the registers back so the store holds the whole state.
        macro_rules! save {
            ($at:expr) => {{
                frame.pc = $at as u32;
                // SAFETY: fp and sp point into the stack starting at base.
                frame.fp = unsafe { fp.offset_from(base) } as u32;
                self.exec.frames.push(frame);
                // SAFETY: as above.
                self.exec.sp = unsafe { sp.offset_from(base) } as u32;
                if COUNT {
                    self.budget = Some(budget);
                }
            }};
        }
        macro_rules! pause {
            ($reason:expr, $at:expr) => {{
                cold_path();
                save!($at);
                if $reason == PauseReason::BudgetExhausted {
                    self.budget = None;
                } else {
                    interrupt.store(false, Ordering::Relaxed);
                }
                return Ok(Exit::Paused($reason));
            }};
        }
        // Every trap leaves the loop for the one place below that reports it, which
        // keeps the loop's code small.
        macro_rules! trap {
            ($kind:expr) => {{
                cold_path();
                break $kind;
            }};
        }
        // An instruction that is rarely executed: the compiler keeps the hot ones'
        // values in registers at its expense.
        macro_rules! cold {
            ($e:expr) => {{
                cold_path();
                $e
            }};
        }
        macro_rules! pop {
            () => {{
                sp = sp.sub(1);
                *sp
            }};
        }
        macro_rules! push {
            ($v:expr) => {{
                PutSlot::put($v, sp);
                sp = sp.add(1);
            }};
        }
        macro_rules! top {
            () => {
                *sp.sub(1)
            };
        }
        macro_rules! unop {
            ($get:ident, $put:ident, |$a:ident| $e:expr) => {{
                let $a = $get(top!());
                PutSlot::put($put($e), sp.sub(1));
            }};
        }
        macro_rules! binop {
            ($get:ident, $put:ident, |$a:ident, $b:ident| $e:expr) => {{
                let $b = $get(pop!());
                let $a = $get(top!());
                PutSlot::put($put($e), sp.sub(1));
            }};
        }
        // The top of the stack `op` local `$i`, in place of the top.
        macro_rules! binop_local {
            ($i:expr, $get:ident, $put:ident, |$a:ident, $b:ident| $e:expr) => {{
                let $b = $get(*fp.add($i as usize));
                let $a = $get(top!());
                PutSlot::put($put($e), sp.sub(1));
            }};
        }
        // `local.get a; local.get b; op`: pushes `a op b`.
        macro_rules! locals_binop {
            ($a:expr, $b:expr, $get:ident, $put:ident, |$x:ident, $y:ident| $e:expr) => {{
                let $x = $get(*fp.add($a as usize));
                let $y = $get(*fp.add($b as usize));
                push!($put($e))
            }};
        }
        // `op; local.set x`, fused.
        macro_rules! binop_set {
            ($x:expr, $get:ident, $put:ident, |$a:ident, $b:ident| $e:expr) => {
                fused!({
                    binop!($get, $put, |$a, $b| $e);
                    set_local!($x);
                })
            };
        }
        // `op; local.tee x`, fused.
        macro_rules! binop_tee {
            ($x:expr, $get:ident, $put:ident, |$a:ident, $b:ident| $e:expr) => {
                fused!({
                    binop!($get, $put, |$a, $b| $e);
                    copy_lo!(fp.add($x as usize), sp.sub(1));
                })
            };
        }
        macro_rules! checked {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(kind) => trap!(kind),
                }
            };
        }
        macro_rules! load {
            ($offset:expr, $n:literal, |$b:ident| $e:expr) => {{
                let ea = u64::from(as_u32(top!())) + u64::from($offset);
                if ea + $n > mem_len as u64 {
                    trap!(TrapKind::MemoryOutOfBounds);
                }
                let $b: [u8; $n] = mem_ptr.add(ea as usize).cast::<[u8; $n]>().read();
                PutSlot::put($e, sp.sub(1));
            }};
        }
        macro_rules! store {
            ($offset:expr, $n:literal, |$v:ident| $e:expr) => {{
                let $v = pop!();
                let ea = u64::from(as_u32(pop!())) + u64::from($offset);
                if ea + $n > mem_len as u64 {
                    trap!(TrapKind::MemoryOutOfBounds);
                }
                let bytes: [u8; $n] = $e;
                mem_ptr.add(ea as usize).cast::<[u8; $n]>().write(bytes);
            }};
        }
        macro_rules! branch {
            ($t:expr) => {{
                let t: Target = $t;
                if t.drop > 0 {
                    let keep = t.keep as usize;
                    copy_slots(sp.sub(keep + t.drop as usize), sp.sub(keep), keep);
                    sp = sp.sub(t.drop as usize);
                }
                jump!(t.to);
            }};
        }
        // Scalar locals: the low halves of the slots are the values.
        macro_rules! copy_lo {
            ($dst:expr, $src:expr) => {
                *$dst.cast::<u64>() = *$src.cast::<u64>()
            };
        }
        macro_rules! get_local {
            ($i:expr) => {{
                copy_lo!(sp, fp.add($i as usize));
                sp = sp.add(1);
            }};
        }
        macro_rules! set_local {
            ($i:expr) => {{
                sp = sp.sub(1);
                copy_lo!(fp.add($i as usize), sp);
            }};
        }
        // A fused sequence (see `fuse.rs`): `$all` does all its instructions and skips
        // the rest (one instruction for a pair). Only uncounted execution meets fused
        // instructions; counted execution runs the plain code.
        macro_rules! fused {
            ($all:expr) => {
                fused!(1, $all)
            };
            ($rest:literal, $all:expr) => {{
                ip = ip.add($rest);
                $all
            }};
        }
        // `local.get b; i32.cmp; br_if` (or `i32.const b; ...`) with a branch that moves
        // no values; a pause leaves the plain `br_if`'s state like `cmp_br_if!`.
        macro_rules! cmp_operand_br_if {
            ($b:expr, $to:expr, |$x:ident, $y:ident| $cmp:expr) => {
                fused!(2, {
                    let $y: u32 = $b;
                    let $x = as_u32(top!());
                    let t = Target {
                        to: $to,
                        drop: 0,
                        keep: 0,
                    };
                    br_if_taken!($cmp, t);
                })
            };
        }
        macro_rules! cmp_local_br_if {
            ($b:expr, $to:expr, |$x:ident, $y:ident| $cmp:expr) => {
                cmp_operand_br_if!(as_u32(*fp.add($b as usize)), $to, |$x, $y| $cmp)
            };
        }
        macro_rules! cmp_const_br_if {
            ($c:expr, $to:expr, |$x:ident, $y:ident| $cmp:expr) => {
                cmp_operand_br_if!($c, $to, |$x, $y| $cmp)
            };
        }
        // The fused `cmp; br_if`. With `taken` computed and the top slot still holding an
        // operand, it replaces that slot with the condition (so a pause leaves exactly
        // the plain `br_if`'s state: pc on the `br_if`, condition on the stack) and
        // branches like `br_if`.
        macro_rules! br_if_taken {
            ($taken:expr, $t:expr) => {{
                let t: Target = $t;
                if $taken {
                    PutSlot::put(from_u32(1), sp.sub(1));
                    poll!(t.to);
                    sp = sp.sub(1);
                    branch!(t);
                } else {
                    sp = sp.sub(1);
                }
            }};
        }
        macro_rules! cmp_br_if {
            ($t:expr, |$a:ident, $b:ident| $cmp:expr) => {
                cmp_br_if!($t, as_u32, |$a, $b| $cmp)
            };
            ($t:expr, $get:ident, |$a:ident, $b:ident| $cmp:expr) => {
                fused!({
                    let $b = $get(pop!());
                    let $a = $get(top!());
                    br_if_taken!($cmp, $t);
                })
            };
        }
        // A backward branch closes a loop: that is where a pause request is honoured.
        // Whether to pause here: the interrupt flag is set, or (on WASI, without threads
        // to set it) the poll interval ran out.
        macro_rules! interrupted {
            () => {{
                #[cfg(target_os = "wasi")]
                let due = {
                    checks_left -= 1;
                    checks_left == 0
                };
                #[cfg(not(target_os = "wasi"))]
                let due = false;
                due || interrupt.load(Ordering::Relaxed)
            }};
        }
        // `$before_pause` completes the paused state (a register form's condition).
        macro_rules! poll {
            ($to:expr) => {
                poll!($to, {})
            };
            ($to:expr, $before_pause:block) => {
                if code.add($to as usize) <= ip && interrupted!() {
                    $before_pause
                    pause!(PauseReason::Interrupted, pc!() - 1);
                }
            };
        }
        macro_rules! do_return {
            () => {{
                let n = (*func).results as usize;
                copy_slots(fp, sp.sub(n), n);
                sp = fp.add(n);
                match self.exec.frames.pop() {
                    None => {
                        self.exec.sp = sp.offset_from(base) as u32;
                        if COUNT {
                            self.budget = Some(budget);
                        }
                        return Ok(Exit::Returned);
                    }
                    Some(caller) => {
                        fp = base.add(caller.fp as usize);
                        let resume = caller.pc as usize;
                        enter!(caller);
                        jump!(resume);
                    }
                }
            }};
        }
        // Calls store function `addr`; `tail` replaces the current frame.
        // `$popped` slots (a table index) were taken off the stack before the call and are
        // put back if the call must be issued again.
        macro_rules! call {
            ($addr:expr, $tail:expr, $popped:expr) => {{
                let addr = $addr as usize;
                if addr as u32 == watched && self.call_watch_fires() {
                    sp = sp.add($popped);
                    pause!(PauseReason::CallReached, pc!() - 1);
                }
                match &self.funcs[addr] {
                    &FuncEntity::Wasm {
                        instance, index, ..
                    } => {
                        let callee = self.code(instance, index);
                        let (params, locals) = (callee.params as usize, callee.locals as usize);
                        let need = locals + callee.max_height as usize;
                        let mut new_fp = if $tail {
                            copy_slots(fp, sp.sub(params), params);
                            fp
                        } else {
                            sp.sub(params)
                        };
                        let depth = self.exec.frames.len() + usize::from(!$tail);
                        let new_fp_at = new_fp.offset_from(base) as usize;
                        if new_fp_at + need > stack_len {
                            cold_path();
                            if new_fp_at + need > max_slots {
                                trap!(TrapKind::StackExhausted);
                            }
                            // Cold path: move the stack into a larger allocation and
                            // re-derive every pointer into it.
                            let (fp_at, sp_at) = (fp.offset_from(base), sp.offset_from(base));
                            stack_len = (new_fp_at + need).max(stack_len * 2).min(max_slots);
                            self.exec.stack.resize(stack_len, 0);
                            base = self.exec.stack.as_mut_ptr();
                            fp = base.offset(fp_at);
                            sp = base.offset(sp_at);
                            new_fp = base.add(new_fp_at);
                        }
                        if depth >= max_depth {
                            trap!(TrapKind::StackExhausted);
                        }
                        // A plain loop: small counts are the norm, and a `memset` call
                        // costs more than the stores.
                        for i in params..locals {
                            new_fp.add(i).write_volatile(0);
                        }
                        if !$tail {
                            frame.pc = pc!() as u32;
                            frame.fp = fp.offset_from(base) as u32;
                            self.exec.frames.push(frame);
                        }
                        fp = new_fp;
                        sp = new_fp.add(locals);
                        enter!(Frame {
                            instance,
                            func: index,
                            pc: 0,
                            fp: 0
                        });
                        jump!(0);
                    }
                    FuncEntity::Host { .. } => {
                        cold_path();
                        let at = sp.offset_from(base) as usize;
                        save!(pc!());
                        let result = self.call_host(addr as u32, at);
                        self.exec.frames.pop();
                        match result {
                            HostCallResult::Done(new_sp) => {
                                sp = base.add(new_sp);
                                reload_mem!();
                                if $tail {
                                    do_return!();
                                }
                            }
                            HostCallResult::Interrupted => {
                                sp = sp.add($popped);
                                pause!(PauseReason::HostInterrupted, pc!() - 1);
                            }
                            HostCallResult::Failed(error) => {
                                save!(pc!());
                                return Err(error.with_backtrace(self.backtrace()));
                            }
                        }
                    }
                }
            }};
        }
        macro_rules! call_indirect {
            ($ty:expr, $table:expr, $tail:expr) => {{
                let inst = &self.instances[frame.instance as usize];
                let table = &self.tables[inst.tables[$table as usize] as usize];
                let index = as_u32(top!()) as usize;
                let Some(&raw) = table.elems.get(index) else {
                    trap!(TrapKind::UndefinedElement)
                };
                if raw == 0 {
                    trap!(TrapKind::UninitializedElement);
                }
                let addr = raw - 1;
                if self.funcs[addr as usize].type_id() != inst.type_ids[$ty as usize] {
                    trap!(TrapKind::IndirectCallTypeMismatch);
                }
                sp = sp.sub(1);
                call!(addr, $tail, 1);
            }};
        }

        // Register forms (see `regfold.rs`): operands and results are slots at fixed
        // distances (in bytes) below the stack's end. Scalars sit in the low halves of
        // slots. Skips are in bytes too.
        macro_rules! slot {
            ($d:expr) => {
                Slot::from(*sp.byte_sub(usize::from($d)).cast::<u64>())
            };
        }
        // Finishes a register form: the results' slots, the operand stack's new end,
        // and the plain instructions it covered. `trap` forms moved `ip` to the
        // instruction that may trap first, so that a trap's backtrace names it.
        macro_rules! reg_finish {
            ($kind:ident, $r:expr, $v:expr) => {{
                let v = $v;
                PutSlot::put(v, sp.byte_sub(usize::from($r.dst)));
                PutSlot::put(v, sp.byte_sub(usize::from($r.tee)));
                reg_finish!($kind, $r);
            }};
            (pure, $r:expr) => {{
                sp = sp.byte_offset(isize::from($r.sp));
                ip = ip.byte_add(usize::from($r.skip));
            }};
            (trap, $r:expr) => {{
                sp = sp.byte_offset(isize::from($r.sp));
                ip = ip.byte_add(usize::from($r.skip - $r.at));
            }};
        }
        macro_rules! reg_start {
            (pure, $r:expr) => {};
            (trap, $r:expr) => {
                ip = ip.byte_add(usize::from($r.at))
            };
        }
        macro_rules! reg_binary {
            ($kind:ident, $r:expr, $get:ident, $put:ident, |$a:ident, $b:ident| $e:expr) => {{
                let r: crate::code::Reg3 = $r;
                reg_start!($kind, r);
                let $a = $get(slot!(r.a));
                let $b = $get(slot!(r.b));
                reg_finish!($kind, r, $put($e));
            }};
        }
        // `$imm` turns the immediate into a slot (see `RegImm`): `int_imm` unless given.
        macro_rules! reg_binary_imm {
            ($kind:ident, $r:expr, $get:ident, $put:ident, |$a:ident, $b:ident| $e:expr) => {
                reg_binary_imm!($kind, $r, int_imm => $get, $put, |$a, $b| $e)
            };
            (
                $kind:ident, $r:expr, $imm:ident => $get:ident, $put:ident,
                |$a:ident, $b:ident| $e:expr
            ) => {{
                let r: crate::code::RegImm = $r;
                reg_start!($kind, r);
                let $a = $get(slot!(r.a));
                let $b = $get($imm(r.imm.get()));
                reg_finish!($kind, r, $put($e));
            }};
        }
        macro_rules! reg_unary {
            ($kind:ident, $r:expr, $get:ident, $put:ident, |$a:ident| $e:expr) => {{
                let r: crate::code::Reg2 = $r;
                reg_start!($kind, r);
                let $a = $get(slot!(r.a));
                reg_finish!($kind, r, $put($e));
            }};
        }
        // A taken backward branch honours a pause request with the state of the plain
        // `br_if`: pc on it, its condition (`$cond`, true) on top of the stack.
        macro_rules! reg_branch {
            ($r:expr, $taken:expr) => {
                reg_branch!($r, $taken, 1)
            };
            ($r:expr, $taken:expr, $cond:expr) => {{
                let r = $r;
                ip = ip.byte_add(usize::from(r.skip));
                sp = sp.byte_offset(isize::from(r.sp));
                if ($taken) != r.neg {
                    let to = r.to.get();
                    poll!(to, {
                        PutSlot::put(from_u32($cond), sp);
                        sp = sp.add(1);
                    });
                    jump!(to);
                }
            }};
        }
        macro_rules! reg_compare_branch {
            ($r:expr, $get:ident, |$a:ident, $b:ident| $cmp:expr) => {{
                let r: crate::code::RegBr = $r;
                let $a = $get(slot!(r.a));
                let $b = $get(slot!(r.b));
                reg_branch!(r, $cmp);
            }};
        }
        macro_rules! reg_compare_branch_imm {
            ($r:expr, $get:ident, |$a:ident, $b:ident| $cmp:expr) => {
                reg_compare_branch_imm!($r, int_imm => $get, |$a, $b| $cmp)
            };
            ($r:expr, $imm:ident => $get:ident, |$a:ident, $b:ident| $cmp:expr) => {{
                let r: crate::code::RegBrImm = $r;
                let $a = $get(slot!(r.a));
                let $b = $get($imm(r.imm.get()));
                reg_branch!(r, $cmp);
            }};
        }
        macro_rules! reg_address {
            ($r:expr, $n:literal) => {{
                let ea = u64::from(as_u32(slot!($r.addr))) + u64::from($r.offset.get());
                if ea + $n > mem_len as u64 {
                    trap!(TrapKind::MemoryOutOfBounds);
                }
                mem_ptr.add(ea as usize).cast::<[u8; $n]>()
            }};
        }
        macro_rules! reg_load {
            ($r:expr, $n:literal, |$b:ident| $e:expr) => {{
                let r: crate::code::RegMem = $r;
                reg_start!(trap, r);
                let $b: [u8; $n] = reg_address!(r, $n).read();
                reg_finish!(trap, r, $e);
            }};
        }
        macro_rules! reg_store {
            ($r:expr, $n:literal, |$v:ident| $e:expr) => {{
                let r: crate::code::RegStore = $r;
                reg_start!(trap, r);
                let $v = slot!(r.val);
                let bytes: [u8; $n] = $e;
                reg_address!(r, $n).write(bytes);
                reg_finish!(trap, r);
            }};
        }

        // The loop's `match`: the arms written below, then one per register form of
        // the shared table (`forms.rs`).
        macro_rules! loop_match {
            ({ $instr:expr; $($arms:tt)* } $($family:ident $v:ident ($($args:tt)*);)*) => {
                match $instr {
                    $($arms)*
                    $(Instr::$v(r) => loop_form!($family r $($args)*),)*
                }
            };
        }
        macro_rules! loop_form {
            (binary $r:ident $kind:ident, $($rest:tt)*) => { reg_binary!($kind, $r, $($rest)*) };
            (binary_imm $r:ident $kind:ident, $($rest:tt)*) => {
                reg_binary_imm!($kind, $r, $($rest)*)
            };
            (unary $r:ident $kind:ident, $($rest:tt)*) => { reg_unary!($kind, $r, $($rest)*) };
            (branch $r:ident $($rest:tt)*) => { reg_compare_branch!($r, $($rest)*) };
            (branch_imm $r:ident $($rest:tt)*) => { reg_compare_branch_imm!($r, $($rest)*) };
            (load $r:ident $($rest:tt)*) => { reg_load!($r, $($rest)*) };
            (store $r:ident $($rest:tt)*) => { reg_store!($r, $($rest)*) };
        }

        // SAFETY: the invariants in the module docs hold for every access below.
        let kind: TrapKind = unsafe {
            loop {
                if COUNT {
                    if budget == 0 {
                        pause!(PauseReason::BudgetExhausted, pc!() - 1);
                    }
                    budget -= 1;
                }
                register_forms!(loop_match! {
                *ip;
                Instr::Unreachable => trap!(TrapKind::Unreachable),
                Instr::Br(t) => {
                    poll!(t.to);
                    branch!(t);
                }
                Instr::BrIf(t) => {
                    if as_u32(top!()) != 0 {
                        poll!(t.to);
                        sp = sp.sub(1);
                        branch!(t);
                    } else {
                        sp = sp.sub(1);
                    }
                }
                Instr::BrIfEqz(to) => {
                    if as_u32(pop!()) == 0 {
                        jump!(to);
                    }
                }
                Instr::BrTable { at, len } => {
                    let index = (as_u32(top!()) as usize).min(len as usize - 1);
                    let t = *(*func).br_tables.as_ptr().add(at as usize + index);
                    poll!(t.to);
                    sp = sp.sub(1);
                    branch!(t);
                }
                Instr::Return => do_return!(),
                Instr::Call(f) => {
                    if interrupted!() {
                        pause!(PauseReason::Interrupted, pc!() - 1);
                    }
                    call!(*funcs_map.add(f as usize), false, 0);
                }
                Instr::ReturnCall(f) => {
                    if interrupted!() {
                        pause!(PauseReason::Interrupted, pc!() - 1);
                    }
                    call!(*funcs_map.add(f as usize), true, 0);
                }
                Instr::CallIndirect { ty, table } => {
                    if interrupted!() {
                        pause!(PauseReason::Interrupted, pc!() - 1);
                    }
                    call_indirect!(ty, table, false);
                }
                Instr::ReturnCallIndirect { ty, table } => {
                    if interrupted!() {
                        pause!(PauseReason::Interrupted, pc!() - 1);
                    }
                    call_indirect!(ty, table, true);
                }
                Instr::Drop => sp = sp.sub(1),
                Instr::Select => {
                    let c = as_u32(pop!());
                    sp = sp.sub(1);
                    if c == 0 {
                        copy_slot(sp.sub(1), sp);
                    }
                }
                Instr::LocalGet(i) => get_local!(i),
                Instr::LocalGetV128(i) => {
                    cold_path();
                    copy_slot(sp, fp.add(i as usize));
                    sp = sp.add(1);
                }
                Instr::LocalSetV128(i) => {
                    cold_path();
                    sp = sp.sub(1);
                    copy_slot(fp.add(i as usize), sp);
                }
                Instr::LocalTeeV128(i) => cold!(copy_slot(fp.add(i as usize), sp.sub(1))),

                // Fused pairs: counted execution does the first instruction only.
                Instr::LocalGet2(a, b) => fused!({
                    get_local!(a);
                    get_local!(b);
                }),
                Instr::LocalGetI32Const(a, c) => fused!({
                    get_local!(a);
                    push!(from_u32(c));
                }),
                Instr::LocalGetI32Add(a) => fused!({
                    let b = as_u32(*fp.add(a as usize));
                    PutSlot::put(from_u32(as_u32(top!()).wrapping_add(b)), sp.sub(1));
                }),
                Instr::LocalGetF64Add(a) => {
                    fused!(binop_local!(a, as_f64, from_f64, |x, y| x + y))
                }
                Instr::LocalGetF64Sub(a) => {
                    fused!(binop_local!(a, as_f64, from_f64, |x, y| x - y))
                }
                Instr::LocalGetF64Mul(a) => {
                    fused!(binop_local!(a, as_f64, from_f64, |x, y| x * y))
                }
                Instr::LocalGetI32Load(a, o) => fused!({
                    get_local!(a);
                    load!(o, 4, |b| from_u32(u32::from_le_bytes(b)))
                }),
                Instr::LocalGetF64Load(a, o) => fused!({
                    get_local!(a);
                    load!(o, 8, |b| from_u64(u64::from_le_bytes(b)))
                }),
                Instr::LocalCopy(a, x) => {
                    fused!(copy_lo!(fp.add(x as usize), fp.add(a as usize)))
                }
                Instr::LocalTeeGet(x, y) => fused!({
                    copy_lo!(fp.add(x as usize), sp.sub(1));
                    get_local!(y);
                }),
                Instr::I32AddI32Load(o) => {
                    fused!({
                        binop!(as_u32, from_u32, |a, b| a.wrapping_add(b));
                        load!(o, 4, |b| from_u32(u32::from_le_bytes(b)))
                    })
                }
                Instr::I32AddF64Load(o) => {
                    fused!({
                        binop!(as_u32, from_u32, |a, b| a.wrapping_add(b));
                        load!(o, 8, |b| from_u64(u64::from_le_bytes(b)))
                    })
                }
                Instr::I64AddConst(c) => {
                    fused!(unop!(as_u64, from_u64, |a| a.wrapping_add(c)))
                }
                Instr::I64AndConst(c) => {
                    fused!(unop!(as_u64, from_u64, |a| a & c))
                }
                Instr::I64ShlConst(c) => {
                    fused!(unop!(as_u64, from_u64, |a| a.wrapping_shl(c as u32)))
                }
                Instr::I64ShrUConst(c) => {
                    fused!(unop!(as_u64, from_u64, |a| a.wrapping_shr(c as u32)))
                }
                Instr::LocalI32AddConst(a, c) => fused!(2, {
                    push!(from_u32(as_u32(*fp.add(a as usize)).wrapping_add(c)))
                }),
                Instr::LocalsI32Add(a, b) => fused!(2, {
                    let (x, y) = (as_u32(*fp.add(a as usize)), as_u32(*fp.add(b as usize)));
                    push!(from_u32(x.wrapping_add(y)))
                }),
                Instr::LocalGetI32Store(v, o) => fused!({
                    get_local!(v);
                    store!(o, 4, |v| as_u32(v).to_le_bytes())
                }),
                Instr::I32LoadSet(o, x) => {
                    fused!({
                        load!(o, 4, |b| from_u32(u32::from_le_bytes(b)));
                        set_local!(x);
                    })
                }
                Instr::I32RotlConst(c) => {
                    fused!(unop!(as_u32, from_u32, |a| a.rotate_left(c)))
                }
                Instr::I32XorConst(c) => {
                    fused!(unop!(as_u32, from_u32, |a| a ^ c))
                }
                Instr::LocalI32ShlConst(a, c) => fused!(2, {
                    push!(from_u32(as_u32(*fp.add(a as usize)).wrapping_shl(c)))
                }),
                Instr::LocalsI32Sub(a, b) => fused!(2, {
                    locals_binop!(a, b, as_u32, from_u32, |x, y| x.wrapping_sub(y))
                }),
                Instr::LocalsI64Add(a, b) => fused!(2, {
                    locals_binop!(a, b, as_u64, from_u64, |x, y| x.wrapping_add(y))
                }),
                Instr::LocalsF64Add(a, b) => {
                    fused!(2, locals_binop!(a, b, as_f64, from_f64, |x, y| x + y))
                }
                Instr::LocalsF64Sub(a, b) => {
                    fused!(2, locals_binop!(a, b, as_f64, from_f64, |x, y| x - y))
                }
                Instr::LocalsF64Mul(a, b) => {
                    fused!(2, locals_binop!(a, b, as_f64, from_f64, |x, y| x * y))
                }
                Instr::I64AddSet(x) => {
                    binop_set!(x, as_u64, from_u64, |a, b| a.wrapping_add(b))
                }
                Instr::F64AddSet(x) => binop_set!(x, as_f64, from_f64, |a, b| a + b),
                Instr::F64SubSet(x) => binop_set!(x, as_f64, from_f64, |a, b| a - b),
                Instr::F64MulSet(x) => binop_set!(x, as_f64, from_f64, |a, b| a * b),
                Instr::F64AddTee(x) => binop_tee!(x, as_f64, from_f64, |a, b| a + b),
                Instr::F64SubTee(x) => binop_tee!(x, as_f64, from_f64, |a, b| a - b),
                Instr::F64MulTee(x) => binop_tee!(x, as_f64, from_f64, |a, b| a * b),
                Instr::I32AddConstSet(c, x) => fused!(2, {
                    let v = as_u32(pop!()).wrapping_add(c);
                    PutSlot::put(from_u32(v), fp.add(x as usize));
                }),
                Instr::I32AddConstTee(c, x) => fused!(2, {
                    let v = from_u32(as_u32(top!()).wrapping_add(c));
                    PutSlot::put(v, sp.sub(1));
                    copy_lo!(fp.add(x as usize), sp.sub(1));
                }),
                Instr::LocalI32RotlConst(a, c) => fused!(2, {
                    push!(from_u32(as_u32(*fp.add(a as usize)).rotate_left(c)))
                }),
                Instr::LocalI32ShrUConst(a, c) => fused!(2, {
                    push!(from_u32(as_u32(*fp.add(a as usize)).wrapping_shr(c)))
                }),
                Instr::LocalsI32And(a, b) => {
                    fused!(2, locals_binop!(a, b, as_u32, from_u32, |x, y| x & y))
                }
                Instr::LocalsI32Xor(a, b) => {
                    fused!(2, locals_binop!(a, b, as_u32, from_u32, |x, y| x ^ y))
                }
                Instr::LocalI32RotlConstXor(a, c) => fused!(3, {
                    let rotated = as_u32(*fp.add(a as usize)).rotate_left(c);
                    unop!(as_u32, from_u32, |v| v ^ rotated)
                }),
                Instr::LocalCopy2(a, x, b, y) => fused!(3, {
                    copy_lo!(fp.add(usize::from(x)), fp.add(usize::from(a)));
                    copy_lo!(fp.add(usize::from(y)), fp.add(usize::from(b)));
                }),
                Instr::LocalSetGet(x, y) => fused!({
                    copy_lo!(fp.add(x as usize), sp.sub(1));
                    copy_lo!(sp.sub(1), fp.add(y as usize));
                }),
                Instr::I32ConstSet(c, x) => fused!({
                    PutSlot::put(from_u32(c), fp.add(x as usize));
                }),
                Instr::I64ConstSet(x, c) => fused!({
                    PutSlot::put(from_u64(c), fp.add(x as usize));
                }),
                Instr::I32AddConst(c) => {
                    fused!(unop!(as_u32, from_u32, |a| a.wrapping_add(c)))
                }
                Instr::I32AndConst(c) => {
                    fused!(unop!(as_u32, from_u32, |a| a & c))
                }
                Instr::I32ShlConst(c) => {
                    fused!(unop!(as_u32, from_u32, |a| a.wrapping_shl(c)))
                }
                Instr::I32ShrUConst(c) => {
                    fused!(unop!(as_u32, from_u32, |a| a.wrapping_shr(c)))
                }
                Instr::I32AddSet(x) => {
                    fused!({
                        let b = as_u32(pop!());
                        PutSlot::put(
                            from_u32(as_u32(pop!()).wrapping_add(b)),
                            fp.add(x as usize),
                        );
                    })
                }
                Instr::I32AddTee(x) => {
                    fused!({
                        binop!(as_u32, from_u32, |a, b| a.wrapping_add(b));
                        copy_lo!(fp.add(x as usize), sp.sub(1));
                    })
                }
                Instr::I32EqzBrIf(t) => fused!({
                    let taken = as_u32(top!()) == 0;
                    br_if_taken!(taken, t);
                }),
                Instr::LocalI32AddConstSet(a, c, x) => fused!(3, {
                    let v = as_u32(*fp.add(a as usize)).wrapping_add(c);
                    PutSlot::put(from_u32(v), fp.add(x as usize));
                }),
                Instr::LocalI32AddConstTee(a, c, x) => fused!(3, {
                    let v = from_u32(as_u32(*fp.add(a as usize)).wrapping_add(c));
                    PutSlot::put(v, fp.add(x as usize));
                    push!(v);
                }),
                Instr::I32LoadTee(o, x) => {
                    fused!({
                        load!(o, 4, |b| from_u32(u32::from_le_bytes(b)));
                        copy_lo!(fp.add(x as usize), sp.sub(1));
                    })
                }
                Instr::I32EqLocalBrIf(b, to) => cmp_local_br_if!(b, to, |x, y| x == y),
                Instr::I32NeLocalBrIf(b, to) => cmp_local_br_if!(b, to, |x, y| x != y),
                Instr::I32LtSLocalBrIf(b, to) => {
                    cmp_local_br_if!(b, to, |x, y| (x as i32) < (y as i32))
                }
                Instr::I32LtULocalBrIf(b, to) => cmp_local_br_if!(b, to, |x, y| x < y),
                Instr::I32GtSLocalBrIf(b, to) => {
                    cmp_local_br_if!(b, to, |x, y| (x as i32) > (y as i32))
                }
                Instr::I32GtULocalBrIf(b, to) => cmp_local_br_if!(b, to, |x, y| x > y),
                Instr::I32LeSLocalBrIf(b, to) => {
                    cmp_local_br_if!(b, to, |x, y| (x as i32) <= (y as i32))
                }
                Instr::I32LeULocalBrIf(b, to) => cmp_local_br_if!(b, to, |x, y| x <= y),
                Instr::I32GeSLocalBrIf(b, to) => {
                    cmp_local_br_if!(b, to, |x, y| (x as i32) >= (y as i32))
                }
                Instr::I32GeULocalBrIf(b, to) => cmp_local_br_if!(b, to, |x, y| x >= y),
                Instr::I32EqConstBrIf(c, to) => cmp_const_br_if!(c, to, |x, y| x == y),
                Instr::I32NeConstBrIf(c, to) => cmp_const_br_if!(c, to, |x, y| x != y),
                Instr::I32LtSConstBrIf(c, to) => {
                    cmp_const_br_if!(c, to, |x, y| (x as i32) < (y as i32))
                }
                Instr::I32LtUConstBrIf(c, to) => cmp_const_br_if!(c, to, |x, y| x < y),
                Instr::I32GtSConstBrIf(c, to) => {
                    cmp_const_br_if!(c, to, |x, y| (x as i32) > (y as i32))
                }
                Instr::I32GtUConstBrIf(c, to) => cmp_const_br_if!(c, to, |x, y| x > y),
                Instr::I32LeSConstBrIf(c, to) => {
                    cmp_const_br_if!(c, to, |x, y| (x as i32) <= (y as i32))
                }
                Instr::I32LeUConstBrIf(c, to) => cmp_const_br_if!(c, to, |x, y| x <= y),
                Instr::I32GeSConstBrIf(c, to) => {
                    cmp_const_br_if!(c, to, |x, y| (x as i32) >= (y as i32))
                }
                Instr::I32GeUConstBrIf(c, to) => cmp_const_br_if!(c, to, |x, y| x >= y),
                Instr::I32EqBrIf(t) => cmp_br_if!(t, |a, b| a == b),
                Instr::I32NeBrIf(t) => cmp_br_if!(t, |a, b| a != b),
                Instr::I32LtSBrIf(t) => cmp_br_if!(t, |a, b| (a as i32) < (b as i32)),
                Instr::I32LtUBrIf(t) => cmp_br_if!(t, |a, b| a < b),
                Instr::I32GtSBrIf(t) => cmp_br_if!(t, |a, b| (a as i32) > (b as i32)),
                Instr::I32GtUBrIf(t) => cmp_br_if!(t, |a, b| a > b),
                Instr::I32LeSBrIf(t) => cmp_br_if!(t, |a, b| (a as i32) <= (b as i32)),
                Instr::I32LeUBrIf(t) => cmp_br_if!(t, |a, b| a <= b),
                Instr::I32GeSBrIf(t) => cmp_br_if!(t, |a, b| (a as i32) >= (b as i32)),
                Instr::I32GeUBrIf(t) => cmp_br_if!(t, |a, b| a >= b),
                Instr::F64AddStore(o) => fused!({
                    binop!(as_f64, from_f64, |a, b| a + b);
                    store!(o, 8, |v| as_u64(v).to_le_bytes())
                }),
                Instr::F64SubStore(o) => fused!({
                    binop!(as_f64, from_f64, |a, b| a - b);
                    store!(o, 8, |v| as_u64(v).to_le_bytes())
                }),
                Instr::F64MulStore(o) => fused!({
                    binop!(as_f64, from_f64, |a, b| a * b);
                    store!(o, 8, |v| as_u64(v).to_le_bytes())
                }),
                Instr::I32AddConstF64Load(c, o) => fused!(2, {
                    unop!(as_u32, from_u32, |a| a.wrapping_add(c));
                    load!(o, 8, |b| from_u64(u64::from_le_bytes(b)))
                }),
                Instr::I32ConstStore8(c, o) => fused!({
                    push!(from_u32(c));
                    store!(o, 1, |v| [v as u8])
                }),
                Instr::LocalTeeI32Add(x) => fused!({
                    copy_lo!(fp.add(x as usize), sp.sub(1));
                    binop!(as_u32, from_u32, |a, b| a.wrapping_add(b))
                }),
                Instr::LocalGetLocalI32ShlConst(a, b, c) => fused!(3, {
                    get_local!(a);
                    push!(from_u32(as_u32(*fp.add(b as usize)).wrapping_shl(c)))
                }),
                Instr::I32AddConstI64Load(c, o) => fused!(2, {
                    unop!(as_u32, from_u32, |a| a.wrapping_add(c));
                    load!(o, 8, |b| from_u64(u64::from_le_bytes(b)))
                }),
                Instr::I64MulConst(c) => {
                    fused!(unop!(as_u64, from_u64, |a| a.wrapping_mul(c)))
                }
                Instr::LocalGetI64Xor(a) => {
                    fused!(binop_local!(a, as_u64, from_u64, |x, y| x ^ y))
                }
                Instr::I64XorTee(x) => binop_tee!(x, as_u64, from_u64, |a, b| a ^ b),
                Instr::LocalsI32Store(a, v, o) => fused!(2, {
                    get_local!(a);
                    get_local!(v);
                    store!(o, 4, |v| as_u32(v).to_le_bytes())
                }),
                Instr::F64EqBrIf(t) => cmp_br_if!(t, as_f64, |a, b| a == b),
                Instr::F64NeBrIf(t) => cmp_br_if!(t, as_f64, |a, b| a != b),
                Instr::F64LtBrIf(t) => cmp_br_if!(t, as_f64, |a, b| a < b),
                Instr::F64GtBrIf(t) => cmp_br_if!(t, as_f64, |a, b| a > b),
                Instr::F64LeBrIf(t) => cmp_br_if!(t, as_f64, |a, b| a <= b),
                Instr::F64GeBrIf(t) => cmp_br_if!(t, as_f64, |a, b| a >= b),
                Instr::LocalSet(i) => set_local!(i),
                Instr::LocalTee(i) => copy_lo!(fp.add(i as usize), sp.sub(1)),
                Instr::GlobalGet(g) => {
                    push!((*globals.add(*globals_map.add(g as usize) as usize)).value)
                }
                Instr::GlobalSet(g) => {
                    (*globals.add(*globals_map.add(g as usize) as usize)).value = pop!()
                }

                Instr::TableGet(t) => {
                    cold_path();
                    let index = as_u32(top!());
                    PutSlot::put(
                        checked!(self.table_get(frame.instance, t, index)) as Slot,
                        sp.sub(1),
                    );
                }
                Instr::TableSet(t) => {
                    cold_path();
                    let value = as_u64(pop!());
                    let index = as_u32(pop!());
                    checked!(self.table_set(frame.instance, t, index, value));
                }
                Instr::TableSize(t) => {
                    cold!(push!(from_u32(self.table_size(frame.instance, t))))
                }
                Instr::TableGrow(t) => {
                    cold_path();
                    let n = as_u32(pop!());
                    let init = as_u64(top!());
                    PutSlot::put(
                        from_u32(self.table_grow(frame.instance, t, n, init)),
                        sp.sub(1),
                    );
                }
                Instr::TableFill(t) => {
                    cold_path();
                    let n = as_u32(pop!());
                    let value = as_u64(pop!());
                    let i = as_u32(pop!());
                    checked!(self.table_fill(frame.instance, t, i, value, n));
                }
                Instr::TableCopy { dst, src } => {
                    cold_path();
                    let n = as_u32(pop!());
                    let s = as_u32(pop!());
                    let d = as_u32(pop!());
                    checked!(self.table_copy(frame.instance, dst, src, d, s, n));
                }
                Instr::TableInit { table, elem } => {
                    cold_path();
                    let n = as_u32(pop!());
                    let s = as_u32(pop!());
                    let d = as_u32(pop!());
                    checked!(self.table_init(frame.instance, table, elem, d, s, n));
                }
                Instr::ElemDrop(e) => {
                    cold_path();
                    self.instances[frame.instance as usize].dropped_elems[e as usize] = true
                }
                Instr::RefNull => cold!(push!(Lo(0))),
                Instr::RefIsNull => cold!(unop!(as_u64, from_bool, |a| a == 0)),
                Instr::RefFunc(f) => {
                    cold!(push!(Lo(u64::from(*funcs_map.add(f as usize)) + 1)))
                }

                Instr::I32Load(o) => load!(o, 4, |b| from_u32(u32::from_le_bytes(b))),
                Instr::I64Load(o) => load!(o, 8, |b| from_u64(u64::from_le_bytes(b))),
                Instr::F32Load(o) => load!(o, 4, |b| from_u32(u32::from_le_bytes(b))),
                Instr::F64Load(o) => load!(o, 8, |b| from_u64(u64::from_le_bytes(b))),
                Instr::I32Load8S(o) => load!(o, 1, |b| from_u32(b[0] as i8 as i32 as u32)),
                Instr::I32Load8U(o) => load!(o, 1, |b| from_u32(b[0].into())),
                Instr::I32Load16S(o) => {
                    load!(o, 2, |b| from_u32(i16::from_le_bytes(b) as i32 as u32))
                }
                Instr::I32Load16U(o) => load!(o, 2, |b| from_u32(u16::from_le_bytes(b).into())),
                Instr::I64Load8S(o) => load!(o, 1, |b| from_u64(b[0] as i8 as i64 as u64)),
                Instr::I64Load8U(o) => load!(o, 1, |b| from_u64(b[0].into())),
                Instr::I64Load16S(o) => {
                    load!(o, 2, |b| from_u64(i16::from_le_bytes(b) as i64 as u64))
                }
                Instr::I64Load16U(o) => load!(o, 2, |b| from_u64(u16::from_le_bytes(b).into())),
                Instr::I64Load32S(o) => {
                    load!(o, 4, |b| from_u64(i32::from_le_bytes(b) as i64 as u64))
                }
                Instr::I64Load32U(o) => load!(o, 4, |b| from_u64(u32::from_le_bytes(b).into())),
                Instr::I32Store(o) => store!(o, 4, |v| as_u32(v).to_le_bytes()),
                Instr::I64Store(o) => store!(o, 8, |v| as_u64(v).to_le_bytes()),
                Instr::F32Store(o) => store!(o, 4, |v| as_u32(v).to_le_bytes()),
                Instr::F64Store(o) => store!(o, 8, |v| as_u64(v).to_le_bytes()),
                Instr::I32Store8(o) => store!(o, 1, |v| [v as u8]),
                Instr::I32Store16(o) => store!(o, 2, |v| (v as u16).to_le_bytes()),
                Instr::I64Store8(o) => store!(o, 1, |v| [v as u8]),
                Instr::I64Store16(o) => store!(o, 2, |v| (v as u16).to_le_bytes()),
                Instr::I64Store32(o) => store!(o, 4, |v| (v as u32).to_le_bytes()),
                Instr::Load { kind, mem, offset } => {
                    cold_path();
                    let addr = as_u32(top!());
                    PutSlot::put(
                        checked!(self.load_any(frame.instance, kind, mem, addr, offset)),
                        sp.sub(1),
                    );
                }
                Instr::Store { kind, mem, offset } => {
                    cold_path();
                    let value = pop!();
                    let addr = as_u32(pop!());
                    checked!(self.store_any(frame.instance, kind, mem, addr, offset, value));
                    reload_mem!();
                }
                Instr::MemorySize(m) => {
                    cold!(push!(from_u32(self.memory_pages(frame.instance, m))))
                }
                Instr::MemoryGrow(m) => {
                    cold_path();
                    let delta = as_u32(top!());
                    PutSlot::put(
                        from_u32(self.memory_grow(frame.instance, m, delta)),
                        sp.sub(1),
                    );
                    reload_mem!();
                }
                Instr::MemoryInit { mem, data } => {
                    cold_path();
                    let n = as_u32(pop!());
                    let s = as_u32(pop!());
                    let d = as_u32(pop!());
                    checked!(self.memory_init(frame.instance, mem, data, d, s, n));
                    reload_mem!();
                }
                Instr::DataDrop(d) => {
                    cold_path();
                    self.instances[frame.instance as usize].dropped_data[d as usize] = true
                }
                Instr::MemoryCopy { dst, src } => {
                    cold_path();
                    let n = as_u32(pop!());
                    let s = as_u32(pop!());
                    let d = as_u32(pop!());
                    checked!(self.memory_copy(frame.instance, dst, src, d, s, n));
                    reload_mem!();
                }
                Instr::MemoryFill(m) => {
                    cold_path();
                    let n = as_u32(pop!());
                    let value = as_u32(pop!()) as u8;
                    let d = as_u32(pop!());
                    checked!(self.memory_fill(frame.instance, m, d, value, n));
                    reload_mem!();
                }

                Instr::I32Const(v) => push!(from_u32(v)),
                Instr::I64Const(v) => push!(from_u64(v)),
                Instr::F32Const(v) => push!(from_u32(v)),
                Instr::F64Const(v) => push!(from_u64(v)),
                Instr::V128Const(i) => {
                    cold!(push!(*(*func).v128_pool.as_ptr().add(i as usize)))
                }

                Instr::I32Eqz => unop!(as_u32, from_bool, |a| a == 0),
                Instr::I32Eq => binop!(as_u32, from_bool, |a, b| a == b),
                Instr::I32Ne => binop!(as_u32, from_bool, |a, b| a != b),
                Instr::I32LtS => binop!(as_u32, from_bool, |a, b| (a as i32) < (b as i32)),
                Instr::I32LtU => binop!(as_u32, from_bool, |a, b| a < b),
                Instr::I32GtS => binop!(as_u32, from_bool, |a, b| (a as i32) > (b as i32)),
                Instr::I32GtU => binop!(as_u32, from_bool, |a, b| a > b),
                Instr::I32LeS => binop!(as_u32, from_bool, |a, b| (a as i32) <= (b as i32)),
                Instr::I32LeU => binop!(as_u32, from_bool, |a, b| a <= b),
                Instr::I32GeS => binop!(as_u32, from_bool, |a, b| (a as i32) >= (b as i32)),
                Instr::I32GeU => binop!(as_u32, from_bool, |a, b| a >= b),
                Instr::I32Clz => unop!(as_u32, from_u32, |a| a.leading_zeros()),
                Instr::I32Ctz => unop!(as_u32, from_u32, |a| a.trailing_zeros()),
                Instr::I32Popcnt => unop!(as_u32, from_u32, |a| a.count_ones()),
                Instr::I32Add => binop!(as_u32, from_u32, |a, b| a.wrapping_add(b)),
                Instr::I32Sub => binop!(as_u32, from_u32, |a, b| a.wrapping_sub(b)),
                Instr::I32Mul => binop!(as_u32, from_u32, |a, b| a.wrapping_mul(b)),
                Instr::I32DivS => {
                    binop!(as_u32, from_u32, |a, b| checked!(numeric::i32_div_s(a, b)))
                }
                Instr::I32DivU => {
                    binop!(as_u32, from_u32, |a, b| checked!(numeric::i32_div_u(a, b)))
                }
                Instr::I32RemS => {
                    binop!(as_u32, from_u32, |a, b| checked!(numeric::i32_rem_s(a, b)))
                }
                Instr::I32RemU => {
                    binop!(as_u32, from_u32, |a, b| checked!(numeric::i32_rem_u(a, b)))
                }
                Instr::I32And => binop!(as_u32, from_u32, |a, b| a & b),
                Instr::I32Or => binop!(as_u32, from_u32, |a, b| a | b),
                Instr::I32Xor => binop!(as_u32, from_u32, |a, b| a ^ b),
                Instr::I32Shl => binop!(as_u32, from_u32, |a, b| a.wrapping_shl(b)),
                Instr::I32ShrS => {
                    binop!(as_u32, from_u32, |a, b| (a as i32).wrapping_shr(b) as u32)
                }
                Instr::I32ShrU => binop!(as_u32, from_u32, |a, b| a.wrapping_shr(b)),
                Instr::I32Rotl => binop!(as_u32, from_u32, |a, b| a.rotate_left(b)),
                Instr::I32Rotr => binop!(as_u32, from_u32, |a, b| a.rotate_right(b)),

                Instr::I64Eqz => unop!(as_u64, from_bool, |a| a == 0),
                Instr::I64Eq => binop!(as_u64, from_bool, |a, b| a == b),
                Instr::I64Ne => binop!(as_u64, from_bool, |a, b| a != b),
                Instr::I64LtS => binop!(as_u64, from_bool, |a, b| (a as i64) < (b as i64)),
                Instr::I64LtU => binop!(as_u64, from_bool, |a, b| a < b),
                Instr::I64GtS => binop!(as_u64, from_bool, |a, b| (a as i64) > (b as i64)),
                Instr::I64GtU => binop!(as_u64, from_bool, |a, b| a > b),
                Instr::I64LeS => binop!(as_u64, from_bool, |a, b| (a as i64) <= (b as i64)),
                Instr::I64LeU => binop!(as_u64, from_bool, |a, b| a <= b),
                Instr::I64GeS => binop!(as_u64, from_bool, |a, b| (a as i64) >= (b as i64)),
                Instr::I64GeU => binop!(as_u64, from_bool, |a, b| a >= b),
                Instr::I64Clz => unop!(as_u64, from_u64, |a| a.leading_zeros().into()),
                Instr::I64Ctz => unop!(as_u64, from_u64, |a| a.trailing_zeros().into()),
                Instr::I64Popcnt => unop!(as_u64, from_u64, |a| a.count_ones().into()),
                Instr::I64Add => binop!(as_u64, from_u64, |a, b| a.wrapping_add(b)),
                Instr::I64Sub => binop!(as_u64, from_u64, |a, b| a.wrapping_sub(b)),
                Instr::I64Mul => binop!(as_u64, from_u64, |a, b| a.wrapping_mul(b)),
                Instr::I64DivS => {
                    binop!(as_u64, from_u64, |a, b| checked!(numeric::i64_div_s(a, b)))
                }
                Instr::I64DivU => {
                    binop!(as_u64, from_u64, |a, b| checked!(numeric::i64_div_u(a, b)))
                }
                Instr::I64RemS => {
                    binop!(as_u64, from_u64, |a, b| checked!(numeric::i64_rem_s(a, b)))
                }
                Instr::I64RemU => {
                    binop!(as_u64, from_u64, |a, b| checked!(numeric::i64_rem_u(a, b)))
                }
                Instr::I64And => binop!(as_u64, from_u64, |a, b| a & b),
                Instr::I64Or => binop!(as_u64, from_u64, |a, b| a | b),
                Instr::I64Xor => binop!(as_u64, from_u64, |a, b| a ^ b),
                Instr::I64Shl => binop!(as_u64, from_u64, |a, b| a.wrapping_shl(b as u32)),
                Instr::I64ShrS => {
                    binop!(as_u64, from_u64, |a, b| (a as i64).wrapping_shr(b as u32)
                        as u64)
                }
                Instr::I64ShrU => binop!(as_u64, from_u64, |a, b| a.wrapping_shr(b as u32)),
                Instr::I64Rotl => {
                    binop!(as_u64, from_u64, |a, b| a.rotate_left((b & 63) as u32))
                }
                Instr::I64Rotr => {
                    binop!(as_u64, from_u64, |a, b| a.rotate_right((b & 63) as u32))
                }

                Instr::F32Eq => binop!(as_f32, from_bool, |a, b| a == b),
                Instr::F32Ne => binop!(as_f32, from_bool, |a, b| a != b),
                Instr::F32Lt => binop!(as_f32, from_bool, |a, b| a < b),
                Instr::F32Gt => binop!(as_f32, from_bool, |a, b| a > b),
                Instr::F32Le => binop!(as_f32, from_bool, |a, b| a <= b),
                Instr::F32Ge => binop!(as_f32, from_bool, |a, b| a >= b),
                Instr::F32Abs => unop!(as_u32, from_u32, |a| a & 0x7fff_ffff),
                Instr::F32Neg => unop!(as_u32, from_u32, |a| a ^ 0x8000_0000),
                Instr::F32Ceil => unop!(as_f32, from_f32, |a| numeric::quiet_f32(a.ceil())),
                Instr::F32Floor => unop!(as_f32, from_f32, |a| numeric::quiet_f32(a.floor())),
                Instr::F32Trunc => unop!(as_f32, from_f32, |a| numeric::quiet_f32(a.trunc())),
                Instr::F32Nearest => unop!(as_f32, from_f32, |a| numeric::quiet_f32(
                    a.round_ties_even()
                )),
                Instr::F32Sqrt => unop!(as_f32, from_f32, |a| a.sqrt()),
                Instr::F32Add => binop!(as_f32, from_f32, |a, b| a + b),
                Instr::F32Sub => binop!(as_f32, from_f32, |a, b| a - b),
                Instr::F32Mul => binop!(as_f32, from_f32, |a, b| a * b),
                Instr::F32Div => binop!(as_f32, from_f32, |a, b| a / b),
                Instr::F32Min => binop!(as_f32, from_f32, |a, b| numeric::f32_min(a, b)),
                Instr::F32Max => binop!(as_f32, from_f32, |a, b| numeric::f32_max(a, b)),
                Instr::F32Copysign => {
                    binop!(as_u32, from_u32, |a, b| (a & 0x7fff_ffff)
                        | (b & 0x8000_0000))
                }

                Instr::F64Eq => binop!(as_f64, from_bool, |a, b| a == b),
                Instr::F64Ne => binop!(as_f64, from_bool, |a, b| a != b),
                Instr::F64Lt => binop!(as_f64, from_bool, |a, b| a < b),
                Instr::F64Gt => binop!(as_f64, from_bool, |a, b| a > b),
                Instr::F64Le => binop!(as_f64, from_bool, |a, b| a <= b),
                Instr::F64Ge => binop!(as_f64, from_bool, |a, b| a >= b),
                Instr::F64Abs => unop!(as_u64, from_u64, |a| a & 0x7fff_ffff_ffff_ffff),
                Instr::F64Neg => unop!(as_u64, from_u64, |a| a ^ 0x8000_0000_0000_0000),
                Instr::F64Ceil => unop!(as_f64, from_f64, |a| numeric::quiet_f64(a.ceil())),
                Instr::F64Floor => unop!(as_f64, from_f64, |a| numeric::quiet_f64(a.floor())),
                Instr::F64Trunc => unop!(as_f64, from_f64, |a| numeric::quiet_f64(a.trunc())),
                Instr::F64Nearest => unop!(as_f64, from_f64, |a| numeric::quiet_f64(
                    a.round_ties_even()
                )),
                Instr::F64Sqrt => unop!(as_f64, from_f64, |a| a.sqrt()),
                Instr::F64Add => binop!(as_f64, from_f64, |a, b| a + b),
                Instr::F64Sub => binop!(as_f64, from_f64, |a, b| a - b),
                Instr::F64Mul => binop!(as_f64, from_f64, |a, b| a * b),
                Instr::F64Div => binop!(as_f64, from_f64, |a, b| a / b),
                Instr::F64Min => binop!(as_f64, from_f64, |a, b| numeric::f64_min(a, b)),
                Instr::F64Max => binop!(as_f64, from_f64, |a, b| numeric::f64_max(a, b)),
                Instr::F64Copysign => binop!(as_u64, from_u64, |a, b| (a
                    & 0x7fff_ffff_ffff_ffff)
                    | (b & 0x8000_0000_0000_0000)),

                Instr::I32WrapI64 => unop!(as_u64, from_u32, |a| a as u32),
                Instr::I32TruncF32S => unop!(as_f32, from_u32, |a| checked!(
                    numeric::i32_trunc_s(a.into())
                )),
                Instr::I32TruncF32U => unop!(as_f32, from_u32, |a| checked!(
                    numeric::i32_trunc_u(a.into())
                )),
                Instr::I32TruncF64S => {
                    unop!(as_f64, from_u32, |a| checked!(numeric::i32_trunc_s(a)))
                }
                Instr::I32TruncF64U => {
                    unop!(as_f64, from_u32, |a| checked!(numeric::i32_trunc_u(a)))
                }
                Instr::I64ExtendI32S => unop!(as_u32, from_u64, |a| a as i32 as i64 as u64),
                Instr::I64ExtendI32U => unop!(as_u32, from_u64, |a| a.into()),
                Instr::I64TruncF32S => unop!(as_f32, from_u64, |a| checked!(
                    numeric::i64_trunc_s(a.into())
                )),
                Instr::I64TruncF32U => unop!(as_f32, from_u64, |a| checked!(
                    numeric::i64_trunc_u(a.into())
                )),
                Instr::I64TruncF64S => {
                    unop!(as_f64, from_u64, |a| checked!(numeric::i64_trunc_s(a)))
                }
                Instr::I64TruncF64U => {
                    unop!(as_f64, from_u64, |a| checked!(numeric::i64_trunc_u(a)))
                }
                Instr::F32ConvertI32S => unop!(as_u32, from_f32, |a| a as i32 as f32),
                Instr::F32ConvertI32U => unop!(as_u32, from_f32, |a| a as f32),
                Instr::F32ConvertI64S => unop!(as_u64, from_f32, |a| a as i64 as f32),
                Instr::F32ConvertI64U => unop!(as_u64, from_f32, |a| a as f32),
                Instr::F32DemoteF64 => unop!(as_f64, from_f32, |a| numeric::demote(a)),
                Instr::F64ConvertI32S => unop!(as_u32, from_f64, |a| a as i32 as f64),
                Instr::F64ConvertI32U => unop!(as_u32, from_f64, |a| a as f64),
                Instr::F64ConvertI64S => unop!(as_u64, from_f64, |a| a as i64 as f64),
                Instr::F64ConvertI64U => unop!(as_u64, from_f64, |a| a as f64),
                Instr::F64PromoteF32 => unop!(as_f32, from_f64, |a| numeric::promote(a)),
                // Reinterpretations keep the bits; only the slot's width matters.
                Instr::I32ReinterpretF32 | Instr::F32ReinterpretI32 => {}
                Instr::I64ReinterpretF64 | Instr::F64ReinterpretI64 => {}
                Instr::I32Extend8S => unop!(as_u32, from_u32, |a| a as i8 as i32 as u32),
                Instr::I32Extend16S => unop!(as_u32, from_u32, |a| a as i16 as i32 as u32),
                Instr::I64Extend8S => unop!(as_u64, from_u64, |a| a as i8 as i64 as u64),
                Instr::I64Extend16S => unop!(as_u64, from_u64, |a| a as i16 as i64 as u64),
                Instr::I64Extend32S => unop!(as_u64, from_u64, |a| a as i32 as i64 as u64),
                // Rust's float-to-int `as` saturates and maps NaN to 0, as Wasm requires.
                Instr::I32TruncSatF32S => unop!(as_f32, from_u32, |a| a as i32 as u32),
                Instr::I32TruncSatF32U => unop!(as_f32, from_u32, |a| a as u32),
                Instr::I32TruncSatF64S => unop!(as_f64, from_u32, |a| a as i32 as u32),
                Instr::I32TruncSatF64U => unop!(as_f64, from_u32, |a| a as u32),
                Instr::I64TruncSatF32S => unop!(as_f32, from_u64, |a| a as i64 as u64),
                Instr::I64TruncSatF32U => unop!(as_f32, from_u64, |a| a as u64),
                Instr::I64TruncSatF64S => unop!(as_f64, from_u64, |a| a as i64 as u64),
                Instr::I64TruncSatF64U => unop!(as_f64, from_u64, |a| a as u64),

                Instr::V128Load { shape, mem, offset } => {
                    cold_path();
                    let addr = as_u32(top!());
                    let raw = checked!(self.read_bytes(
                        frame.instance,
                        mem,
                        addr,
                        offset,
                        shape.width_bytes()
                    ));
                    PutSlot::put(simd::finish_load(shape, raw), sp.sub(1));
                }
                Instr::V128Store { mem, offset } => {
                    cold_path();
                    let value = pop!();
                    let addr = as_u32(pop!());
                    checked!(self.write_bytes(frame.instance, mem, addr, offset, 16, value));
                    reload_mem!();
                }
                Instr::V128LoadLane {
                    width,
                    lane,
                    mem,
                    offset,
                } => {
                    cold_path();
                    let v = pop!();
                    let addr = as_u32(top!());
                    let bytes = u32::from(width / 8);
                    let raw =
                        checked!(self.read_bytes(frame.instance, mem, addr, offset, bytes));
                    let shift = u32::from(lane) * u32::from(width);
                    let mask = (u128::MAX >> (128 - u32::from(width))) << shift;
                    PutSlot::put((v & !mask) | ((raw << shift) & mask), sp.sub(1));
                }
                Instr::V128StoreLane {
                    width,
                    lane,
                    mem,
                    offset,
                } => {
                    cold_path();
                    let v = pop!();
                    let addr = as_u32(pop!());
                    let value = v >> (u32::from(lane) * u32::from(width));
                    let bytes = u32::from(width / 8);
                    checked!(self.write_bytes(frame.instance, mem, addr, offset, bytes, value));
                    reload_mem!();
                }
                Instr::SimdUnary(op) => cold!(unop!(as_v128, as_v128, |a| simd::unary(op, a))),
                Instr::SimdBinary(op) => {
                    cold_path();
                    binop!(as_v128, as_v128, |a, b| simd::binary(op, a, b))
                }
                Instr::SimdTernary(op) => {
                    cold_path();
                    let c = pop!();
                    let b = pop!();
                    PutSlot::put(simd::ternary(op, top!(), b, c), sp.sub(1));
                }
                Instr::SimdShuffle(i) => {
                    cold_path();
                    let lanes = (*(*func).v128_pool.as_ptr().add(i as usize)).to_le_bytes();
                    binop!(as_v128, as_v128, |a, b| simd::shuffle(&lanes, a, b))
                }
                Instr::SimdSplat(op) => cold!(unop!(as_u64, as_v128, |a| simd::splat(op, a))),
                Instr::SimdExtractLane(op, lane) => {
                    cold_path();
                    unop!(as_v128, from_u64, |a| simd::extract_lane(op, lane, a))
                }
                Instr::SimdReplaceLane(op, lane) => {
                    cold_path();
                    let x = as_u64(pop!());
                    unop!(as_v128, as_v128, |a| simd::replace_lane(op, lane, a, x))
                }
                Instr::SimdShift(op) => {
                    cold_path();
                    let amount = as_u32(pop!());
                    unop!(as_v128, as_v128, |a| simd::shift(op, a, amount))
                }
                Instr::SimdTest(op) => cold!(unop!(as_v128, from_u32, |a| simd::test(op, a))),

                // Register forms.
                Instr::RBrNz(r) => {
                    let a = as_u32(slot!(r.a));
                    // `local.get; br_if` leaves the local's value as the condition;
                    // `i32.eqz; br_if` (`neg`) leaves 1.
                    reg_branch!(r, a != 0, if r.neg { 1 } else { a })
                }
                // The other register forms' arms come from the shared table
                // (`forms.rs`).
                            });
                ip = ip.wrapping_add(1);
            }
        };
        // SAFETY: as in the loop.
        unsafe { save!(pc!()) };
        let trap = Trap {
            backtrace: self.backtrace(),
            ..Trap::new(kind)
        };
        Err(RunError::Trap(trap))
    }
}
