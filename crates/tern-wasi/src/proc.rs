//! args, environ, random, proc_exit, proc_raise, sched_yield.

use crate::ctx::{CallResult, WasiCtx, WasiExit};
use crate::errno::Errno;
use crate::memory::Mem;

/// Writes `items` as NUL-terminated strings into `buf` and their addresses into `ptrs`,
/// after checking that both areas fit.
fn write_strings(m: &mut Mem<'_>, items: &[Vec<u8>], ptrs: u32, buf: u32) -> CallResult {
    let count = u32::try_from(items.len()).map_err(|_| Errno::OVERFLOW)?;
    let total: usize = items.iter().map(|s| s.len() + 1).sum();
    let total = u32::try_from(total).map_err(|_| Errno::OVERFLOW)?;
    m.check(ptrs, count.checked_mul(4).ok_or(Errno::FAULT)?)?;
    m.check(buf, total)?;
    let mut at = buf;
    for (i, item) in items.iter().enumerate() {
        m.write_u32(ptrs + 4 * i as u32, at)?;
        m.write(at, item)?;
        m.write_u8(at + item.len() as u32, 0)?;
        at += item.len() as u32 + 1;
    }
    Ok(())
}

fn write_sizes(m: &mut Mem<'_>, items: &[Vec<u8>], count_ptr: u32, size_ptr: u32) -> CallResult {
    m.check(count_ptr, 4)?;
    m.check(size_ptr, 4)?;
    let total: usize = items.iter().map(|s| s.len() + 1).sum();
    m.write_u32(
        count_ptr,
        u32::try_from(items.len()).map_err(|_| Errno::OVERFLOW)?,
    )?;
    m.write_u32(size_ptr, u32::try_from(total).map_err(|_| Errno::OVERFLOW)?)?;
    Ok(())
}

impl WasiCtx {
    fn arg_bytes(&self) -> Vec<Vec<u8>> {
        self.args.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    fn env_bytes(&self) -> Vec<Vec<u8>> {
        self.env
            .iter()
            .map(|(k, v)| format!("{k}={v}").into_bytes())
            .collect()
    }

    pub(crate) fn args_get(&mut self, m: &mut Mem<'_>, argv: u32, buf: u32) -> CallResult {
        write_strings(m, &self.arg_bytes(), argv, buf)
    }

    pub(crate) fn args_sizes_get(&mut self, m: &mut Mem<'_>, count: u32, size: u32) -> CallResult {
        write_sizes(m, &self.arg_bytes(), count, size)
    }

    pub(crate) fn environ_get(&mut self, m: &mut Mem<'_>, environ: u32, buf: u32) -> CallResult {
        write_strings(m, &self.env_bytes(), environ, buf)
    }

    pub(crate) fn environ_sizes_get(
        &mut self,
        m: &mut Mem<'_>,
        count: u32,
        size: u32,
    ) -> CallResult {
        write_sizes(m, &self.env_bytes(), count, size)
    }

    pub(crate) fn random_get(&mut self, m: &mut Mem<'_>, buf: u32, len: u32) -> CallResult {
        let bytes = m.slice_mut(buf, len)?;
        getrandom::fill(bytes).map_err(|_| Errno::IO)?;
        Ok(())
    }

    pub(crate) fn proc_exit(&mut self, code: u32) -> CallResult {
        self.exit_status = Some(code as i32);
        Err(WasiExit::Exit(code as i32).into())
    }

    /// There is no signal delivery in a WASI program, so a raised signal takes its default
    /// action: signal 0 only checks (success), every defined signal terminates the program
    /// with a trap naming it. (wasmtime answers `ENOTSUP` instead; a trap is what the
    /// program would see on a POSIX host for the default action of these signals.)
    pub(crate) fn proc_raise(&mut self, signal: u32) -> CallResult {
        const NAMES: [&str; 31] = [
            "NONE", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1",
            "SEGV", "USR2", "PIPE", "ALRM", "TERM", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
            "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "POLL", "PWR", "SYS",
        ];
        match signal {
            0 => Ok(()),
            1..=30 => Err(WasiExit::Trap(format!(
                "proc_raise: program raised SIG{} ({signal})",
                NAMES[signal as usize]
            ))
            .into()),
            _ => Err(Errno::INVAL.into()),
        }
    }

    pub(crate) fn sched_yield(&mut self) -> CallResult {
        std::thread::yield_now();
        Ok(())
    }
}
