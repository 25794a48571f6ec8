//! The handlers of threaded code (see `mod.rs`), one function per instruction kind.
//!
//! Every handler reads its instruction at `ip` and ends in one of three ways: `next!`
//! (the following instruction), `goto!` (a branch, call or return) or [`fallback`]
//! (the loop executes this instruction). A fallback happens before the handler changes
//! any state, so the loop sees the instruction exactly as it was.
//!
//! Register forms' slot distances are stored negated (`negate_offsets`), so that a
//! handler adds them to `sp` in the addressing mode.

use super::{Cx, Handler, Op};
use crate::code::{Instr, Target};
// The table's operand conversions are the loop's: operands are read as slots, and
// results are the low halves (`Lo`) the loop writes too.
use crate::exec::forms::register_forms;
use crate::exec::{
    Lo, as_f32, as_f64, as_u32, as_u64, f32_imm, f64_imm, from_bool, from_f32, from_f64, from_u32,
    from_u64, int_imm,
};
use crate::numeric;
use crate::store::{Frame, FuncEntity, Slot};
use std::hint::unreachable_unchecked;
use std::sync::atomic::Ordering;

/// The scalar in slot `p`.
///
/// # Safety
/// `p` must be valid for a slot.
unsafe fn rd(p: *const Slot) -> u64 {
    // SAFETY: guaranteed by the caller.
    unsafe { *p.cast::<u64>() }
}
/// Writes a scalar to slot `p` (its low half, as the loop does).
///
/// # Safety
/// `p` must be valid for a slot.
unsafe fn wr(p: *mut Slot, v: u64) {
    // SAFETY: guaranteed by the caller.
    unsafe { *p.cast::<u64>() = v }
}
/// Slot `sp + d`, for a negated register-form distance `d`.
///
/// # Safety
/// `d` must come from a register form of the running function (see `regfold.rs`).
unsafe fn at(sp: *mut Slot, d: u16) -> *mut Slot {
    // SAFETY: guaranteed by the caller.
    unsafe { sp.byte_offset(isize::from(d as i16)) }
}

/// Continues with the next instruction.
macro_rules! next {
    ($ip:expr, $sp:expr, $fp:expr, $mem:expr, $len:expr, $cx:expr) => {{
        let ip = $ip.add(1);
        return ((*ip).run)(ip, $sp, $fp, $mem, $len, $cx);
    }};
}
/// Continues with the instruction at `$ip`.
macro_rules! goto {
    ($ip:expr, $sp:expr, $fp:expr, $mem:expr, $len:expr, $cx:expr) => {{
        let ip = $ip;
        return ((*ip).run)(ip, $sp, $fp, $mem, $len, $cx);
    }};
}

/// Leaves threaded code at `ip` with the state unchanged: the loop executes it.
#[cold]
#[inline(never)]
unsafe fn fallback(ip: *const Op, sp: *mut Slot, fp: *mut Slot, _: *mut u8, _: usize, cx: *mut Cx) {
    // SAFETY: `cx` is the run's context, alive for the whole run.
    unsafe {
        (*cx).ip = ip;
        (*cx).sp = sp;
        (*cx).fp = fp;
    }
}

/// A handler that binds `$pat` from its instruction, runs `$body` and continues with
/// the next instruction.
macro_rules! handler {
    ($name:ident, $pat:pat, |$ip:ident, $sp:ident, $fp:ident, $cx:ident| $body:block) => {
        #[allow(unused_mut, unused_variables)]
        unsafe fn $name(
            mut $ip: *const Op,
            mut $sp: *mut Slot,
            $fp: *mut Slot,
            mem: *mut u8,
            len: usize,
            $cx: *mut Cx,
        ) {
            // SAFETY: the loop's invariants (see `exec/mod.rs`) hold for threaded code,
            // and the handler was chosen for this instruction kind.
            unsafe {
                let $pat = (*$ip).instr else { unreachable_unchecked() };
                $body
                next!($ip, $sp, $fp, mem, len, $cx)
            }
        }
    };
}

/// A handler written out: `$body` continues or falls back itself.
macro_rules! handler_fn {
    (
        $(#[$attr:meta])*
        $name:ident, |$ip:ident, $sp:ident, $fp:ident, $mem:ident, $len:ident, $cx:ident| $body:block
    ) => {
        $(#[$attr])*
        unsafe fn $name(
            $ip: *const Op,
            $sp: *mut Slot,
            $fp: *mut Slot,
            $mem: *mut u8,
            $len: usize,
            $cx: *mut Cx,
        ) $body
    };
}

/// A trapping operator's result; the trap itself is left to the loop.
macro_rules! checked {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(_) => return None,
        }
    };
}

// The handler variant of a form (see `threaded_forms!`).
macro_rules! pick {
    (store $f:ident $r:ident) => {
        if $r.sp != 0 {
            $f::<false, true>
        } else {
            $f::<false, false>
        }
    };
    (branch $f:ident $r:ident) => {
        $f
    };
    (branch_imm $f:ident $r:ident) => {
        $f
    };
    ($other:ident $f:ident $r:ident) => {
        match ($r.tee != $r.dst, $r.sp != 0) {
            (false, false) => $f::<false, false>,
            (false, true) => $f::<false, true>,
            (true, false) => $f::<true, false>,
            (true, true) => $f::<true, true>,
        }
    };
}
// A compare-and-branch form's target.
macro_rules! target {
    (branch $r:ident) => {
        Some($r.to.get())
    };
    (branch_imm $r:ident) => {
        Some($r.to.get())
    };
    ($other:ident $r:ident) => {
        None
    };
}
// Negates a form's slot distances.
macro_rules! negate {
    ($r:ident: $($field:ident)*) => {{
        $($r.$field = $r.$field.wrapping_neg();)*
    }};
}
macro_rules! fields {
    (binary $r:ident) => { negate!($r: dst tee a b) };
    (binary_imm $r:ident) => { negate!($r: dst tee a) };
    (unary $r:ident) => { negate!($r: dst tee a) };
    (branch $r:ident) => { negate!($r: a b) };
    (branch_imm $r:ident) => { negate!($r: a) };
    (load $r:ident) => { negate!($r: dst tee addr) };
    (store $r:ident) => { negate!($r: addr val) };
}

// Register forms, from the shared table. A form's handler is generic over whether it
// also writes a `local.tee` (`TEE`) and whether it moves the stack's end (`SP`), so
// that the common case does neither.
macro_rules! threaded_forms {
    ({} $($family:ident $v:ident ($($args:tt)*);)*) => {
        $(threaded_form!($family $v $($args)*);)*

        /// The handler of a register form.
        fn form_handler(instr: &Instr) -> Option<Handler> {
            Some(match instr {
                $(Instr::$v(_r) => pick!($family $v _r),)*
                _ => return None,
            })
        }

        /// How far a register form reaches past its first instruction (bytes of code).
        pub(super) fn form_skip(instr: &Instr) -> Option<u8> {
            match instr {
                $(Instr::$v(r) => Some(r.skip),)*
                _ => None,
            }
        }

        /// Where a compare-and-branch form jumps (a plain index).
        pub(super) fn form_target(instr: &Instr) -> Option<u32> {
            match instr {
                $(Instr::$v(_r) => target!($family _r),)*
                _ => None,
            }
        }

        /// The form with its slot distances negated (two's complement in 16 bits).
        pub(super) fn negate_offsets(mut instr: Instr) -> Instr {
            match &mut instr {
                $(Instr::$v(r) => fields!($family r),)*
                Instr::RBrNz(r) => negate!(r: a),
                _ => {}
            }
            instr
        }
    };
}

// The writes of a form's result: its slot, the `local.tee`'s if any, the stack's end.
macro_rules! finish {
    ($r:ident, $sp:ident, $v:expr) => {{
        let Lo(v) = $v;
        wr(at($sp, $r.dst), v);
        if TEE {
            wr(at($sp, $r.tee), v);
        }
        if SP {
            $sp = $sp.byte_offset(isize::from($r.sp));
        }
    }};
}

// A register form's handler, generic over `TEE` and `SP` (see `threaded_forms!`).
macro_rules! form_handler {
    ($v:ident, |$ip:ident, $sp:ident, $fp:ident, $mem:ident, $len:ident, $cx:ident, $r:ident| $body:block) => {
        // The closure around an operator gives `checked!` something to return from.
        #[allow(non_snake_case, unused_mut, clippy::redundant_closure_call)]
        unsafe fn $v<const TEE: bool, const SP: bool>(
            $ip: *const Op,
            mut $sp: *mut Slot,
            $fp: *mut Slot,
            $mem: *mut u8,
            $len: usize,
            $cx: *mut Cx,
        ) {
            // SAFETY: as for `handler!`; the distances are the function's own.
            unsafe {
                let Instr::$v($r) = (*$ip).instr else { unreachable_unchecked() };
                $body
                next!($ip, $sp, $fp, $mem, $len, $cx)
            }
        }
    };
}

// A compare-and-branch form's handler. A taken backward branch with a pause request
// pending falls back, and the loop pauses there.
macro_rules! branch_handler {
    ($v:ident, |$ip:ident, $sp:ident, $r:ident| $taken:expr) => {
        #[allow(non_snake_case)]
        unsafe fn $v(
            $ip: *const Op,
            mut $sp: *mut Slot,
            fp: *mut Slot,
            mem: *mut u8,
            len: usize,
            cx: *mut Cx,
        ) {
            // SAFETY: as for `form_handler!`.
            unsafe {
                let Instr::$v($r) = (*$ip).instr else {
                    unreachable_unchecked()
                };
                if ($taken) != $r.neg {
                    let to = (*cx).code.add((*$ip).to as usize);
                    if to <= $ip && (*(*cx).interrupt).load(Ordering::Relaxed) {
                        return fallback($ip, $sp, fp, mem, len, cx);
                    }
                    $sp = $sp.byte_offset(isize::from($r.sp));
                    goto!(to, $sp, fp, mem, len, cx)
                }
                $sp = $sp.byte_offset(isize::from($r.sp));
                next!($ip, $sp, fp, mem, len, cx)
            }
        }
    };
}

// The handler of a memory-0 access at `$r.addr + $r.offset`; out of bounds falls back.
macro_rules! access {
    ($ip:ident, $sp:ident, $fp:ident, $mem:ident, $len:ident, $cx:ident, $r:ident, $n:literal) => {{
        let ea = u64::from(rd(at($sp, $r.addr)) as u32) + u64::from($r.offset.get());
        if ea + $n > $len as u64 {
            return fallback($ip, $sp, $fp, $mem, $len, $cx);
        }
        $mem.add(ea as usize).cast::<[u8; $n]>()
    }};
}

macro_rules! threaded_form {
    (binary $v:ident $kind:ident, $get:ident, $put:ident, |$a:ident, $b:ident| $e:expr) => {
        form_handler!($v, |ip, sp, fp, mem, len, cx, r| {
            let $a = $get(Slot::from(rd(at(sp, r.a))));
            let $b = $get(Slot::from(rd(at(sp, r.b))));
            let Some(v) = (|| Some($put($e)))() else {
                return fallback(ip, sp, fp, mem, len, cx);
            };
            finish!(r, sp, v);
        });
    };
    (binary_imm $v:ident $kind:ident, $imm:ident => $get:ident, $put:ident, |$a:ident, $b:ident| $e:expr) => {
        form_handler!($v, |ip, sp, fp, mem, len, cx, r| {
            let $a = $get(Slot::from(rd(at(sp, r.a))));
            let $b = $get($imm(r.imm.get()));
            let Some(v) = (|| Some($put($e)))() else {
                return fallback(ip, sp, fp, mem, len, cx);
            };
            finish!(r, sp, v);
        });
    };
    (binary_imm $v:ident $kind:ident, $get:ident, $put:ident, |$a:ident, $b:ident| $e:expr) => {
        threaded_form!(binary_imm $v $kind, int_imm => $get, $put, |$a, $b| $e);
    };
    (unary $v:ident $kind:ident, $get:ident, $put:ident, |$a:ident| $e:expr) => {
        form_handler!($v, |ip, sp, fp, mem, len, cx, r| {
            let $a = $get(Slot::from(rd(at(sp, r.a))));
            let Some(v) = (|| Some($put($e)))() else {
                return fallback(ip, sp, fp, mem, len, cx);
            };
            finish!(r, sp, v);
        });
    };
    (branch $v:ident $get:ident, |$a:ident, $b:ident| $e:expr) => {
        branch_handler!($v, |ip, sp, r| {
            let $a = $get(Slot::from(rd(at(sp, r.a))));
            let $b = $get(Slot::from(rd(at(sp, r.b))));
            $e
        });
    };
    (branch_imm $v:ident $imm:ident => $get:ident, |$a:ident, $b:ident| $e:expr) => {
        branch_handler!($v, |ip, sp, r| {
            let $a = $get(Slot::from(rd(at(sp, r.a))));
            let $b = $get($imm(r.imm.get()));
            $e
        });
    };
    (branch_imm $v:ident $get:ident, |$a:ident, $b:ident| $e:expr) => {
        threaded_form!(branch_imm $v int_imm => $get, |$a, $b| $e);
    };
    (load $v:ident $n:literal, |$b:ident| $e:expr) => {
        form_handler!($v, |ip, sp, fp, mem, len, cx, r| {
            let $b: [u8; $n] = access!(ip, sp, fp, mem, len, cx, r, $n).read();
            finish!(r, sp, $e);
        });
    };
    (store $v:ident $n:literal, |$x:ident| $e:expr) => {
        form_handler!($v, |ip, sp, fp, mem, len, cx, r| {
            let $x = Slot::from(rd(at(sp, r.val)));
            let bytes: [u8; $n] = $e;
            access!(ip, sp, fp, mem, len, cx, r, $n).write(bytes);
            if SP {
                sp = sp.byte_offset(isize::from(r.sp));
            }
        });
    };
}

register_forms!(threaded_forms! {});

handler!(local_get, Instr::LocalGet(i), |ip, sp, fp, cx| {
    wr(sp, rd(fp.add(i as usize)));
    sp = sp.add(1);
});
handler!(local_set, Instr::LocalSet(i), |ip, sp, fp, cx| {
    sp = sp.sub(1);
    wr(fp.add(i as usize), rd(sp));
});
handler!(local_tee, Instr::LocalTee(i), |ip, sp, fp, cx| {
    wr(fp.add(i as usize), rd(sp.sub(1)));
});
handler!(
    i32_const,
    (Instr::I32Const(c) | Instr::F32Const(c)),
    |ip, sp, fp, cx| {
        wr(sp, c.into());
        sp = sp.add(1);
    }
);
handler!(
    i64_const,
    (Instr::I64Const(c) | Instr::F64Const(c)),
    |ip, sp, fp, cx| {
        wr(sp, c);
        sp = sp.add(1);
    }
);
handler!(drop, Instr::Drop, |ip, sp, fp, cx| {
    sp = sp.sub(1);
});
/// Reinterpretations keep the bits.
unsafe fn nop(ip: *const Op, sp: *mut Slot, fp: *mut Slot, mem: *mut u8, len: usize, cx: *mut Cx) {
    // SAFETY: as for `handler!`.
    unsafe { next!(ip, sp, fp, mem, len, cx) }
}
handler!(select, Instr::Select, |ip, sp, fp, cx| {
    let c = rd(sp.sub(1)) as u32;
    sp = sp.sub(2);
    if c == 0 {
        *sp.sub(1) = *sp;
    }
});
handler!(global_get, Instr::GlobalGet(g), |ip, sp, fp, cx| {
    let c = &*cx;
    *sp = (*c.globals.add(*c.globals_map.add(g as usize) as usize)).value;
    sp = sp.add(1);
});
handler!(global_set, Instr::GlobalSet(g), |ip, sp, fp, cx| {
    let c = &*cx;
    sp = sp.sub(1);
    (*c.globals.add(*c.globals_map.add(g as usize) as usize)).value = *sp;
});

/// Moves the values a branch keeps down over those it drops; the new stack end.
///
/// # Safety
/// As for the loop's `branch!`: validation guarantees the slots exist.
unsafe fn branch(sp: *mut Slot, t: Target) -> *mut Slot {
    if t.drop == 0 {
        return sp;
    }
    let keep = t.keep as usize;
    // SAFETY: guaranteed by the caller.
    unsafe {
        super::super::copy_slots(sp.sub(keep + t.drop as usize), sp.sub(keep), keep);
        sp.sub(t.drop as usize)
    }
}

/// Whether a taken branch from `ip` to `to` must fall back for a pause request: only
/// backward branches honour one, as in the loop.
///
/// # Safety
/// `cx` must be the run's context.
unsafe fn pause_due(ip: *const Op, to: *const Op, cx: *mut Cx) -> bool {
    // SAFETY: guaranteed by the caller.
    to <= ip && unsafe { (*(*cx).interrupt).load(Ordering::Relaxed) }
}

unsafe fn br(ip: *const Op, sp: *mut Slot, fp: *mut Slot, mem: *mut u8, len: usize, cx: *mut Cx) {
    // SAFETY: as for `handler!`.
    unsafe {
        let Instr::Br(t) = (*ip).instr else {
            unreachable_unchecked()
        };
        let to = (*cx).code.add((*ip).to as usize);
        if pause_due(ip, to, cx) {
            return fallback(ip, sp, fp, mem, len, cx);
        }
        goto!(to, branch(sp, t), fp, mem, len, cx)
    }
}

handler_fn! {
    br_if, |ip, sp, fp, mem, len, cx| {
        // SAFETY: as for `handler!`.
        unsafe {
            let Instr::BrIf(t) = (*ip).instr else {
                unreachable_unchecked()
            };
            if rd(sp.sub(1)) as u32 != 0 {
                let to = (*cx).code.add((*ip).to as usize);
                if pause_due(ip, to, cx) {
                    return fallback(ip, sp, fp, mem, len, cx);
                }
                goto!(to, branch(sp.sub(1), t), fp, mem, len, cx)
            }
            next!(ip, sp.sub(1), fp, mem, len, cx)
        }
    }
}

handler_fn! {
    br_if_eqz, |ip, sp, fp, mem, len, cx| {
        // SAFETY: as for `handler!`; `if` jumps only forward, so never pauses.
        unsafe {
            let sp = sp.sub(1);
            if rd(sp) as u32 == 0 {
                goto!((*cx).code.add((*ip).to as usize), sp, fp, mem, len, cx)
            }
            next!(ip, sp, fp, mem, len, cx)
        }
    }
}

handler_fn! {
    br_nz, |ip, sp, fp, mem, len, cx| {
        // SAFETY: as for `form_handler!`.
        unsafe {
            let Instr::RBrNz(r) = (*ip).instr else {
                unreachable_unchecked()
            };
            let taken = (rd(at(sp, r.a)) as u32 != 0) != r.neg;
            if taken {
                let to = (*cx).code.add((*ip).to as usize);
                if pause_due(ip, to, cx) {
                    return fallback(ip, sp, fp, mem, len, cx);
                }
                goto!(to, sp.byte_offset(isize::from(r.sp)), fp, mem, len, cx)
            }
            next!(ip, sp.byte_offset(isize::from(r.sp)), fp, mem, len, cx)
        }
    }
}

handler_fn! {
    br_table, |ip, sp, fp, mem, len, cx| {
        // SAFETY: as for `handler!`; the table's targets start threaded instructions
        // (`build.rs` keeps forms from covering them).
        unsafe {
            let Instr::BrTable { at, len: n } = (*ip).instr else {
                unreachable_unchecked()
            };
            let c = &*cx;
            let index = (rd(sp.sub(1)) as u32 as usize).min(n as usize - 1);
            let t = *(*c.func).br_tables.as_ptr().add(at as usize + index);
            let to = c
                .code
                .add((&(*c.func).threaded.comp)[t.to as usize] as usize);
            if pause_due(ip, to, cx) {
                return fallback(ip, sp, fp, mem, len, cx);
            }
            goto!(to, branch(sp.sub(1), t), fp, mem, len, cx)
        }
    }
}

/// Calls a Wasm function of the same instance that has threaded code. Calls to host
/// functions or other instances, watched calls, pause requests, a full stack and the
/// depth limit fall back.
unsafe fn call(ip: *const Op, sp: *mut Slot, fp: *mut Slot, mem: *mut u8, len: usize, cx: *mut Cx) {
    // SAFETY: as for `handler!`; the stack check below is the loop's.
    unsafe {
        let c = &mut *cx;
        let Instr::Call(f) = (*ip).instr else {
            unreachable_unchecked()
        };
        let addr = *c.funcs_map.add(f as usize);
        if addr == c.watched || (*c.interrupt).load(Ordering::Relaxed) {
            return fallback(ip, sp, fp, mem, len, cx);
        }
        let store = &mut *c.store;
        let FuncEntity::Wasm {
            instance, index, ..
        } = store.funcs[addr as usize]
        else {
            return fallback(ip, sp, fp, mem, len, cx);
        };
        if instance != c.frame.instance || store.exec.frames.len() + 1 >= c.max_depth {
            return fallback(ip, sp, fp, mem, len, cx);
        }
        let callee: &crate::code::FuncCode = &*std::ptr::from_ref(store.code(instance, index));
        let (params, locals) = (callee.params as usize, callee.locals as usize);
        let new_fp = sp.sub(params);
        let end = new_fp.offset_from(c.base) as usize + locals + callee.max_height as usize;
        if end > c.stack_len || !callee.threaded.ok {
            return fallback(ip, sp, fp, mem, len, cx);
        }
        for i in params..locals {
            new_fp.add(i).write_volatile(0);
        }
        c.frame.pc = (*ip).to;
        c.frame.fp = fp.offset_from(c.base) as u32;
        store.exec.frames.push(c.frame);
        c.frame = Frame {
            instance,
            func: index,
            pc: 0,
            fp: 0,
        };
        c.func = callee;
        c.code = callee.threaded.ops.as_ptr();
        goto!(c.code, new_fp.add(locals), new_fp, mem, len, cx)
    }
}

/// Returns to a caller of the same instance that resumes at a threaded instruction;
/// the outermost return falls back.
unsafe fn ret(ip: *const Op, sp: *mut Slot, fp: *mut Slot, mem: *mut u8, len: usize, cx: *mut Cx) {
    // SAFETY: as for `handler!`.
    unsafe {
        let c = &mut *cx;
        let store = &mut *c.store;
        let Some(&caller) = store.exec.frames.last() else {
            return fallback(ip, sp, fp, mem, len, cx);
        };
        let caller_code: &crate::code::FuncCode =
            &*std::ptr::from_ref(store.code(caller.instance, caller.func));
        let resume = caller_code.threaded.comp[caller.pc as usize];
        if caller.instance != c.frame.instance || resume == u32::MAX || !caller_code.threaded.ok {
            return fallback(ip, sp, fp, mem, len, cx);
        }
        store.exec.frames.pop();
        let n = (*c.func).results as usize;
        super::super::copy_slots(fp, sp.sub(n), n);
        let sp = fp.add(n);
        c.frame = caller;
        c.func = caller_code;
        c.code = caller_code.threaded.ops.as_ptr();
        goto!(
            c.code.add(resume as usize),
            sp,
            c.base.add(caller.fp as usize),
            mem,
            len,
            cx
        )
    }
}

handler_fn! {
    /// `memory.copy` within memory 0; out of bounds (or another memory) falls back.
    memory_copy, |ip, sp, fp, mem, len, cx| {
        // SAFETY: as for `handler!`; the ranges are checked against memory 0's length.
        unsafe {
            let Instr::MemoryCopy { dst: 0, src: 0 } = (*ip).instr else {
                return fallback(ip, sp, fp, mem, len, cx);
            };
            let [d, s, n] = [3, 2, 1].map(|k| u64::from(rd(sp.sub(k)) as u32));
            if d + n > len as u64 || s + n > len as u64 {
                return fallback(ip, sp, fp, mem, len, cx);
            }
            std::ptr::copy(mem.add(s as usize), mem.add(d as usize), n as usize);
            next!(ip, sp.sub(3), fp, mem, len, cx)
        }
    }
}

handler_fn! {
    /// `memory.fill` of memory 0; out of bounds (or another memory) falls back.
    memory_fill, |ip, sp, fp, mem, len, cx| {
        // SAFETY: as for `memory_copy`.
        unsafe {
            let Instr::MemoryFill(0) = (*ip).instr else {
                return fallback(ip, sp, fp, mem, len, cx);
            };
            let [d, v, n] = [3, 2, 1].map(|k| u64::from(rd(sp.sub(k)) as u32));
            if d + n > len as u64 {
                return fallback(ip, sp, fp, mem, len, cx);
            }
            std::ptr::write_bytes(mem.add(d as usize), v as u8, n as usize);
            next!(ip, sp.sub(3), fp, mem, len, cx)
        }
    }
}

/// The handler of each instruction: [`fallback`] for those left to the loop.
pub(super) fn handler_of(instr: &Instr) -> Handler {
    use Instr::*;
    if let Some(handler) = form_handler(instr) {
        return handler;
    }
    match instr {
        LocalGet(_) => local_get,
        LocalSet(_) => local_set,
        LocalTee(_) => local_tee,
        I32Const(_) | F32Const(_) => i32_const,
        I64Const(_) | F64Const(_) => i64_const,
        Drop => drop,
        Select => select,
        I32ReinterpretF32 | I64ReinterpretF64 | F32ReinterpretI32 | F64ReinterpretI64 => nop,
        GlobalGet(_) => global_get,
        GlobalSet(_) => global_set,
        Br(_) => br,
        BrIf(_) => br_if,
        BrIfEqz(_) => br_if_eqz,
        RBrNz(_) => br_nz,
        BrTable { .. } => br_table,
        Call(_) => call,
        Return => ret,
        MemoryCopy { .. } => memory_copy,
        MemoryFill(_) => memory_fill,
        _ => fallback,
    }
}
