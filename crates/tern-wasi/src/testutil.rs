//! Test helpers: a temp dir, and a fake guest that calls WASI functions with its own
//! little memory.

use crate::{WasiCtx, WasiExit};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // `temp_dir` panics on WASI; the self-hosted test run maps a host dir to /tmp.
        #[cfg(target_os = "wasi")]
        let base = PathBuf::from("/tmp");
        #[cfg(not(target_os = "wasi"))]
        let base = std::env::temp_dir();
        // (`process::id` panics on WASI too; the clock keeps parallel runs apart.)
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = base.join(format!(
            "tern-wasi-unit-{tag}-{stamp}-{}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Scratch layout of the fake guest's memory.
const RESULT: u64 = 0;
const IOVEC: u64 = 16;
const STRING: u64 = 1024;
const DATA: u64 = 4096;

/// A context plus 64 KiB of guest memory, with typed wrappers for the common calls.
pub(crate) struct Guest {
    pub ctx: WasiCtx,
    pub mem: Vec<u8>,
}

impl Guest {
    pub fn new(ctx: WasiCtx) -> Guest {
        Guest {
            ctx,
            mem: vec![0; 65536],
        }
    }

    pub fn call(&mut self, name: &str, args: &[u64]) -> Result<u32, WasiExit> {
        self.ctx.call(&mut self.mem, name, args)
    }

    /// Calls and expects an errno rather than an exit.
    pub fn errno(&mut self, name: &str, args: &[u64]) -> u32 {
        self.call(name, args).expect("no exit")
    }

    fn put_string(&mut self, s: &str) -> (u64, u64) {
        self.mem[STRING as usize..][..s.len()].copy_from_slice(s.as_bytes());
        (STRING, s.len() as u64)
    }

    fn result_u32(&self) -> u32 {
        u32::from_le_bytes(self.mem[RESULT as usize..][..4].try_into().unwrap())
    }

    fn result_u64(&self) -> u64 {
        u64::from_le_bytes(self.mem[RESULT as usize..][..8].try_into().unwrap())
    }

    pub fn open(&mut self, dir: u32, path: &str, oflags: u16, rights: u64) -> Result<u32, u32> {
        let (ptr, len) = self.put_string(path);
        let args = [
            u64::from(dir),
            1,
            ptr,
            len,
            oflags.into(),
            rights,
            rights,
            0,
            RESULT,
        ];
        match self.errno("path_open", &args) {
            0 => Ok(self.result_u32()),
            e => Err(e),
        }
    }

    pub fn write(&mut self, fd: u32, data: &[u8]) -> Result<u32, u32> {
        self.mem[DATA as usize..][..data.len()].copy_from_slice(data);
        self.set_iovec(data.len());
        match self.errno("fd_write", &[fd.into(), IOVEC, 1, RESULT]) {
            0 => Ok(self.result_u32()),
            e => Err(e),
        }
    }

    pub fn read(&mut self, fd: u32, max: usize) -> Result<Vec<u8>, u32> {
        self.set_iovec(max);
        match self.errno("fd_read", &[fd.into(), IOVEC, 1, RESULT]) {
            0 => {
                let n = self.result_u32() as usize;
                Ok(self.mem[DATA as usize..][..n].to_vec())
            }
            e => Err(e),
        }
    }

    pub fn seek(&mut self, fd: u32, offset: i64, whence: u8) -> Result<u64, u32> {
        match self.errno(
            "fd_seek",
            &[fd.into(), offset as u64, whence.into(), RESULT],
        ) {
            0 => Ok(self.result_u64()),
            e => Err(e),
        }
    }

    pub fn clock(&mut self, id: u32) -> u64 {
        assert_eq!(self.errno("clock_time_get", &[id.into(), 1, RESULT]), 0);
        self.result_u64()
    }

    pub fn rename(&mut self, dir: u32, from: &str, to: &str) -> u32 {
        let at = STRING as usize + 512;
        self.mem[at..][..to.len()].copy_from_slice(to.as_bytes());
        let (ptr, len) = self.put_string(from);
        self.errno(
            "path_rename",
            &[dir.into(), ptr, len, dir.into(), at as u64, to.len() as u64],
        )
    }

    pub fn set_iovec(&mut self, len: usize) {
        self.mem[IOVEC as usize..][..4].copy_from_slice(&(DATA as u32).to_le_bytes());
        self.mem[IOVEC as usize + 4..][..4].copy_from_slice(&(len as u32).to_le_bytes());
    }

    /// Writes one relative monotonic clock subscription at `DATA` and polls it.
    pub fn sleep(&mut self, nanos: u64) -> Result<u32, WasiExit> {
        let sub = &mut self.mem[DATA as usize..][..48];
        sub.fill(0);
        sub[0..8].copy_from_slice(&42u64.to_le_bytes());
        sub[16..20].copy_from_slice(&1u32.to_le_bytes());
        sub[24..32].copy_from_slice(&nanos.to_le_bytes());
        self.call("poll_oneoff", &[DATA, DATA + 64, 1, RESULT])
    }
}
