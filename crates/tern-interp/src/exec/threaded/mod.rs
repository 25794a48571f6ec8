//! Threaded execution: the fast path of uncounted runs in optimized native builds.
//!
//! Each function also gets *threaded code* (`build.rs`): its register-form code with
//! the instructions a form covers left out, every instruction paired with a pointer to
//! its handler. A handler is a function that does its instruction and ends by calling
//! the next instruction's handler in tail position, which the compiler turns into a
//! jump. There is no central loop: each handler has its own indirect jump, which the
//! processor predicts per instruction kind, and the interpreter's registers (`ip`,
//! `sp`, `fp`, memory 0's base and length) stay in argument registers throughout.
//!
//! Handlers cover the instructions that programs execute often. Everything else, and
//! every trap, pause request and call watch, *falls back*: the handler leaves the state
//! as it was before the instruction, and the driver below has the loop (`mod.rs`)
//! execute exactly that one instruction in counted mode, then re-enters threaded code.
//! The store's state between instructions is the loop's, so snapshots, pauses and
//! backtraces are exactly those of the loop.
//!
//! Tail calls are not guaranteed by Rust: an unoptimized build would grow the machine
//! stack by one frame per instruction. The build script enables this module
//! (`cfg(tern_threaded)`) only for optimized builds on x86-64 and AArch64, where LLVM
//! turns these calls into jumps; every other build runs the loop.

mod build;
mod handlers;

pub(crate) use build::{Threaded, build};

use crate::code::FuncCode;
use crate::error::RunError;
use crate::store::{Frame, GlobalEntity, PauseReason, Slot, Store};
use std::sync::atomic::AtomicBool;

use super::Exit;

/// One threaded instruction.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct Op {
    pub run: Handler,
    pub instr: crate::code::Instr,
    /// Branches: the target's index in the threaded code. Calls: the plain index at
    /// which the caller resumes.
    pub to: u32,
}

/// A handler: the instruction at `ip`, with the operand stack's end `sp`, the frame's
/// first local `fp`, memory 0 (`mem`, `len` bytes) and the run's context.
pub(crate) type Handler =
    unsafe fn(ip: *const Op, sp: *mut Slot, fp: *mut Slot, mem: *mut u8, len: usize, cx: *mut Cx);

/// What handlers need beyond their arguments; also where a fallback leaves the state.
pub(crate) struct Cx {
    store: *mut Store,
    /// The running function and its threaded code.
    func: *const FuncCode,
    code: *const Op,
    frame: Frame,
    base: *mut Slot,
    stack_len: usize,
    interrupt: *const AtomicBool,
    watched: u32,
    max_depth: usize,
    funcs_map: *const u32,
    globals_map: *const u32,
    globals: *mut GlobalEntity,
    /// Set by a fallback: the instruction to execute in the loop, and the registers.
    ip: *const Op,
    sp: *mut Slot,
    fp: *mut Slot,
}

impl Store {
    /// Runs the active invocation in threaded code, stepping the loop one instruction
    /// wherever threaded code falls back. A function without threaded code (see
    /// [`Threaded::ok`]) hands the rest of the invocation to the uncounted loop.
    pub(crate) fn execute_threaded(&mut self) -> Result<Exit, RunError> {
        loop {
            let top = *self.exec.frames.last().expect("run with an active frame");
            let func: *const FuncCode = self.code(top.instance, top.func);
            // SAFETY: `func` points into a module the store keeps alive.
            let threaded = unsafe { &(*func).threaded };
            if !threaded.ok {
                return self.execute::<false>();
            }
            match threaded.comp.get(top.pc as usize) {
                Some(&at) if at != u32::MAX => self.run_threaded(func, at),
                // Inside the instructions a register form covers (after a step or a
                // restore): the loop steps to the form's end.
                _ => {}
            }
            self.budget = Some(1);
            let result = self.execute::<true>();
            if let Ok(Exit::Paused(PauseReason::BudgetExhausted)) = result {
                continue;
            }
            self.budget = None;
            return result;
        }
    }

    /// Runs threaded code from instruction `at` of the active frame's function `func`
    /// until a handler falls back, and saves the state there.
    fn run_threaded(&mut self, func: *const FuncCode, at: u32) {
        let frame = self.exec.frames.pop().expect("run with an active frame");
        let base = self.exec.stack.as_mut_ptr();
        let inst = &self.instances[frame.instance as usize];
        let (funcs_map, globals_map) = (inst.funcs.as_ptr(), inst.globals.as_ptr());
        let (mem, len) = match inst.memories.first() {
            Some(&m) => {
                let memory = &mut self.memories[m as usize].bytes;
                (memory.as_mut_ptr(), memory.len())
            }
            None => (std::ptr::null_mut(), 0),
        };
        let mut cx = Cx {
            store: self,
            func,
            // SAFETY: as in `execute_threaded`.
            code: unsafe { (*func).threaded.ops.as_ptr() },
            frame,
            base,
            stack_len: self.exec.stack.len(),
            interrupt: std::sync::Arc::as_ptr(&self.interrupt),
            watched: self.call_watch.map_or(u32::MAX, |(addr, _)| addr),
            max_depth: self.config.max_call_depth,
            funcs_map,
            globals_map,
            globals: self.globals.as_mut_ptr(),
            ip: std::ptr::null(),
            sp: std::ptr::null_mut(),
            fp: std::ptr::null_mut(),
        };
        // SAFETY: the saved state was produced by the loop or by a fallback, or checked
        // on restore: `at` is in the function's threaded code, and `fp` and `sp` are in
        // the stack. Handlers keep the loop's invariants (see `mod.rs`).
        unsafe {
            let ip = cx.code.add(at as usize);
            let fp = base.add(frame.fp as usize);
            let sp = base.add(self.exec.sp as usize);
            ((*ip).run)(ip, sp, fp, mem, len, &mut cx);
            let mut frame = cx.frame;
            let k = cx.ip.offset_from(cx.code) as usize;
            frame.pc = (&(*cx.func).threaded.orig)[k];
            frame.fp = cx.fp.offset_from(base) as u32;
            self.exec.frames.push(frame);
            self.exec.sp = cx.sp.offset_from(base) as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, Linker, Module, Outcome, Store, Value};

    /// Runs `f(n)` of `wat` with threaded code on or off.
    fn run(wat: &str, n: u32, threaded: bool) -> Vec<Value> {
        let config = Config {
            threaded,
            ..Config::default()
        };
        let module = Module::new(&config, &wat::parse_str(wat).unwrap()).unwrap();
        let mut store = Store::new(&config);
        let instance = Linker::new().instantiate(&mut store, &module).unwrap();
        match store.invoke(instance, "f", &[Value::I32(n)]).unwrap() {
            Outcome::Finished(values) => values,
            Outcome::Paused(reason) => panic!("paused: {reason:?}"),
        }
    }

    // Calls, a loop, a `br_table`, globals, memory, a division (which traps on zero and
    // so has a fallback path) and an instruction left to the loop (`memory.size`).
    const PROGRAM: &str = r#"
        (module
          (memory 1)
          (global $g (mut i32) (i32.const 0))
          (func $step (param i32) (result i32)
            (block $b2 (block $b1 (block $b0
              (br_table $b0 $b1 $b2 (i32.rem_u (local.get 0) (i32.const 3))))
              (return (i32.add (local.get 0) (i32.const 7))))
            (return (i32.div_u (local.get 0) (i32.add (memory.size) (i32.const 1)))))
            (i32.xor (local.get 0) (global.get $g)))
          (func (export "f") (param $n i32) (result i32)
            (local $i i32) (local $acc i32)
            (loop $l
              (global.set $g (i32.add (global.get $g) (local.get $i)))
              (i32.store (i32.and (i32.shl (local.get $i) (i32.const 2)) (i32.const 4092))
                (call $step (local.get $i)))
              (local.set $acc (i32.add (local.get $acc)
                (i32.load (i32.and (i32.mul (local.get $i) (i32.const 12)) (i32.const 4092)))))
              (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                (local.get $n))))
            (local.get $acc)))
    "#;

    #[test]
    fn threaded_code_and_the_loop_compute_the_same() {
        for n in [1, 2, 3, 10, 1000] {
            assert_eq!(run(PROGRAM, n, true), run(PROGRAM, n, false), "n = {n}");
        }
    }

    /// Millions of instructions on a test thread's small stack: if a handler's jump to
    /// the next one were a real call, the machine stack would overflow.
    #[test]
    fn long_runs_keep_the_machine_stack_flat() {
        let result = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(|| run(PROGRAM, 300_000, true))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(result, run(PROGRAM, 300_000, false));
    }
}
