//! The import table of `wasi_snapshot_preview1` and the dispatch of one call.
//!
//! One list drives everything: the [`Func`] enum, its names, its Wasm signatures and the
//! argument decoding in [`WasiCtx::call_func`], so an engine registers every import
//! generically from [`signatures`].

use crate::ctx::{Fail, WasiCtx, WasiExit};
use crate::memory::{GuestMemory, Mem};

/// The module name every function is imported from.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// A Wasm value type in a WASI signature: only `i32` and `i64` occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValKind {
    I32,
    I64,
}

macro_rules! wasi_funcs {
    ($($variant:ident = $name:literal ($($param:ident),*) -> ($($result:ident)?);)*) => {
        /// One function of `wasi_snapshot_preview1`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Func {
            $($variant,)*
        }

        impl Func {
            /// Every function, in the witx order.
            pub const ALL: &'static [Func] = &[$(Func::$variant,)*];

            /// The import name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Func::$variant => $name,)*
                }
            }

            pub fn params(self) -> &'static [ValKind] {
                match self {
                    $(Func::$variant => &[$(ValKind::$param),*],)*
                }
            }

            /// `[I32]` (the errno) for all but `proc_exit`, which returns nothing.
            pub fn results(self) -> &'static [ValKind] {
                match self {
                    $(Func::$variant => &[$(ValKind::$result)?],)*
                }
            }

            pub fn from_name(name: &str) -> Option<Func> {
                match name {
                    $($name => Some(Func::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

wasi_funcs! {
    ArgsGet = "args_get" (I32, I32) -> (I32);
    ArgsSizesGet = "args_sizes_get" (I32, I32) -> (I32);
    EnvironGet = "environ_get" (I32, I32) -> (I32);
    EnvironSizesGet = "environ_sizes_get" (I32, I32) -> (I32);
    ClockResGet = "clock_res_get" (I32, I32) -> (I32);
    ClockTimeGet = "clock_time_get" (I32, I64, I32) -> (I32);
    FdAdvise = "fd_advise" (I32, I64, I64, I32) -> (I32);
    FdAllocate = "fd_allocate" (I32, I64, I64) -> (I32);
    FdClose = "fd_close" (I32) -> (I32);
    FdDatasync = "fd_datasync" (I32) -> (I32);
    FdFdstatGet = "fd_fdstat_get" (I32, I32) -> (I32);
    FdFdstatSetFlags = "fd_fdstat_set_flags" (I32, I32) -> (I32);
    FdFdstatSetRights = "fd_fdstat_set_rights" (I32, I64, I64) -> (I32);
    FdFilestatGet = "fd_filestat_get" (I32, I32) -> (I32);
    FdFilestatSetSize = "fd_filestat_set_size" (I32, I64) -> (I32);
    FdFilestatSetTimes = "fd_filestat_set_times" (I32, I64, I64, I32) -> (I32);
    FdPread = "fd_pread" (I32, I32, I32, I64, I32) -> (I32);
    FdPrestatGet = "fd_prestat_get" (I32, I32) -> (I32);
    FdPrestatDirName = "fd_prestat_dir_name" (I32, I32, I32) -> (I32);
    FdPwrite = "fd_pwrite" (I32, I32, I32, I64, I32) -> (I32);
    FdRead = "fd_read" (I32, I32, I32, I32) -> (I32);
    FdReaddir = "fd_readdir" (I32, I32, I32, I64, I32) -> (I32);
    FdRenumber = "fd_renumber" (I32, I32) -> (I32);
    FdSeek = "fd_seek" (I32, I64, I32, I32) -> (I32);
    FdSync = "fd_sync" (I32) -> (I32);
    FdTell = "fd_tell" (I32, I32) -> (I32);
    FdWrite = "fd_write" (I32, I32, I32, I32) -> (I32);
    PathCreateDirectory = "path_create_directory" (I32, I32, I32) -> (I32);
    PathFilestatGet = "path_filestat_get" (I32, I32, I32, I32, I32) -> (I32);
    PathFilestatSetTimes = "path_filestat_set_times" (I32, I32, I32, I32, I64, I64, I32) -> (I32);
    PathLink = "path_link" (I32, I32, I32, I32, I32, I32, I32) -> (I32);
    PathOpen = "path_open" (I32, I32, I32, I32, I32, I64, I64, I32, I32) -> (I32);
    PathReadlink = "path_readlink" (I32, I32, I32, I32, I32, I32) -> (I32);
    PathRemoveDirectory = "path_remove_directory" (I32, I32, I32) -> (I32);
    PathRename = "path_rename" (I32, I32, I32, I32, I32, I32) -> (I32);
    PathSymlink = "path_symlink" (I32, I32, I32, I32, I32) -> (I32);
    PathUnlinkFile = "path_unlink_file" (I32, I32, I32) -> (I32);
    PollOneoff = "poll_oneoff" (I32, I32, I32, I32) -> (I32);
    ProcExit = "proc_exit" (I32) -> ();
    ProcRaise = "proc_raise" (I32) -> (I32);
    SchedYield = "sched_yield" () -> (I32);
    RandomGet = "random_get" (I32, I32) -> (I32);
    SockAccept = "sock_accept" (I32, I32, I32) -> (I32);
    SockRecv = "sock_recv" (I32, I32, I32, I32, I32, I32) -> (I32);
    SockSend = "sock_send" (I32, I32, I32, I32, I32) -> (I32);
    SockShutdown = "sock_shutdown" (I32, I32) -> (I32);
}

/// `(name, params, results)` of every function, for registering imports generically.
pub fn signatures() -> impl Iterator<Item = (&'static str, &'static [ValKind], &'static [ValKind])>
{
    Func::ALL
        .iter()
        .map(|f| (f.name(), f.params(), f.results()))
}

impl WasiCtx {
    /// Calls the function named `name` (see [`WasiCtx::call_func`]).
    pub fn call(
        &mut self,
        memory: &mut dyn GuestMemory,
        name: &str,
        args: &[u64],
    ) -> Result<u32, WasiExit> {
        let func = Func::from_name(name)
            .ok_or_else(|| WasiExit::Trap(format!("unknown WASI function `{name}`")))?;
        self.call_func(memory, func, args)
    }

    /// Calls `func` with `args` (each `i32` zero-extended, each `i64` as is) against the
    /// caller's memory, and returns the errno (0 on success). `proc_exit` never returns
    /// `Ok`. A wrong number of arguments is a trap, not an errno: the engine's signature
    /// check failed.
    pub fn call_func(
        &mut self,
        memory: &mut dyn GuestMemory,
        func: Func,
        args: &[u64],
    ) -> Result<u32, WasiExit> {
        if args.len() != func.params().len() {
            return Err(WasiExit::Trap(format!(
                "`{}` called with {} arguments, expects {}",
                func.name(),
                args.len(),
                func.params().len()
            )));
        }
        let mut mem = Mem::new(memory);
        let m = &mut mem;
        // i32 arguments are the low 32 bits; i64 arguments are used whole.
        let a = |i: usize| args[i] as u32;
        let l = |i: usize| args[i];
        use Func as F;
        let result = match func {
            F::ArgsGet => self.args_get(m, a(0), a(1)),
            F::ArgsSizesGet => self.args_sizes_get(m, a(0), a(1)),
            F::EnvironGet => self.environ_get(m, a(0), a(1)),
            F::EnvironSizesGet => self.environ_sizes_get(m, a(0), a(1)),
            F::ClockResGet => self.clock_res_get(m, a(0), a(1)),
            F::ClockTimeGet => self.clock_time_get(m, a(0), l(1), a(2)),
            F::FdAdvise => self.fd_advise(a(0), l(1), l(2), a(3)),
            F::FdAllocate => self.fd_allocate(a(0), l(1), l(2)),
            F::FdClose => self.fd_close(a(0)),
            F::FdDatasync => self.fd_sync(a(0), true),
            F::FdFdstatGet => self.fd_fdstat_get(m, a(0), a(1)),
            F::FdFdstatSetFlags => self.fd_fdstat_set_flags(a(0), a(1)),
            F::FdFdstatSetRights => self.fd_fdstat_set_rights(a(0), l(1), l(2)),
            F::FdFilestatGet => self.fd_filestat_get(m, a(0), a(1)),
            F::FdFilestatSetSize => self.fd_filestat_set_size(a(0), l(1)),
            F::FdFilestatSetTimes => self.fd_filestat_set_times(a(0), l(1), l(2), a(3)),
            F::FdPread => self.fd_pread(m, a(0), a(1), a(2), l(3), a(4)),
            F::FdPrestatGet => self.fd_prestat_get(m, a(0), a(1)),
            F::FdPrestatDirName => self.fd_prestat_dir_name(m, a(0), a(1), a(2)),
            F::FdPwrite => self.fd_pwrite(m, a(0), a(1), a(2), l(3), a(4)),
            F::FdRead => self.fd_read(m, a(0), a(1), a(2), a(3)),
            F::FdReaddir => self.fd_readdir(m, a(0), a(1), a(2), l(3), a(4)),
            F::FdRenumber => self.fd_renumber(a(0), a(1)),
            F::FdSeek => self.fd_seek(m, a(0), l(1) as i64, a(2), a(3)),
            F::FdSync => self.fd_sync(a(0), false),
            F::FdTell => self.fd_tell(m, a(0), a(1)),
            F::FdWrite => self.fd_write(m, a(0), a(1), a(2), a(3)),
            F::PathCreateDirectory => self.path_create_directory(m, a(0), a(1), a(2)),
            F::PathFilestatGet => self.path_filestat_get(m, a(0), a(1), a(2), a(3), a(4)),
            F::PathFilestatSetTimes => {
                self.path_filestat_set_times(m, a(0), a(1), a(2), a(3), l(4), l(5), a(6))
            }
            F::PathLink => self.path_link(m, a(0), a(1), a(2), a(3), a(4), a(5), a(6)),
            F::PathOpen => {
                self.path_open(m, a(0), a(1), (a(2), a(3)), a(4), (l(5), l(6)), a(7), a(8))
            }
            F::PathReadlink => self.path_readlink(m, a(0), a(1), a(2), a(3), a(4), a(5)),
            F::PathRemoveDirectory => self.path_remove_directory(m, a(0), a(1), a(2)),
            F::PathRename => self.path_rename(m, a(0), a(1), a(2), a(3), a(4), a(5)),
            F::PathSymlink => self.path_symlink(m, a(0), a(1), a(2), a(3), a(4)),
            F::PathUnlinkFile => self.path_unlink_file(m, a(0), a(1), a(2)),
            F::PollOneoff => self.poll_oneoff(m, a(0), a(1), a(2), a(3)),
            F::ProcExit => self.proc_exit(a(0)),
            F::ProcRaise => self.proc_raise(a(0)),
            F::SchedYield => self.sched_yield(),
            F::RandomGet => self.random_get(m, a(0), a(1)),
            F::SockAccept => self.sock_accept(m, a(0), a(1), a(2)),
            F::SockRecv => self.sock_recv(m, a(0), a(1), a(2), a(3), a(4), a(5)),
            F::SockSend => self.sock_send(m, a(0), a(1), a(2), a(3), a(4)),
            F::SockShutdown => self.sock_shutdown(a(0), a(1)),
        };
        match result {
            Ok(()) => Ok(0),
            Err(Fail::Errno(e)) => Ok(u32::from(e.0)),
            Err(Fail::Exit(exit)) => Err(exit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete() {
        assert_eq!(Func::ALL.len(), 46);
        for (name, params, results) in signatures() {
            assert_eq!(Func::from_name(name).map(Func::name), Some(name));
            assert!(params.len() <= 9);
            assert_eq!(results.len(), usize::from(name != "proc_exit"));
        }
        assert_eq!(Func::PathOpen.params()[5], ValKind::I64);
    }
}
