//! Numbers and struct layouts of `wasi_snapshot_preview1` (witx), as the guest sees them.

/// File types (`filetype`, u8). The full witx list, though not every host produces
/// every type.
#[allow(dead_code)]
pub mod filetype {
    pub const UNKNOWN: u8 = 0;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SOCKET_STREAM: u8 = 6;
    pub const SYMBOLIC_LINK: u8 = 7;
    pub const BLOCK_DEVICE: u8 = 1;
    pub const SOCKET_DGRAM: u8 = 5;
}

/// Rights (`rights`, u64).
pub mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    pub const SOCK_ACCEPT: u64 = 1 << 29;

    /// Every right a regular file can have.
    pub const FILE: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;

    /// Every right a directory can have.
    pub const DIR: u64 = FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_DATASYNC
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE;

    /// What a directory hands down to what is opened under it.
    pub const DIR_INHERITING: u64 = FILE | DIR;

    /// A connected stream socket.
    pub const SOCKET: u64 = FD_READ
        | FD_WRITE
        | FD_FDSTAT_SET_FLAGS
        | FD_FILESTAT_GET
        | POLL_FD_READWRITE
        | SOCK_SHUTDOWN;

    /// A listening socket.
    pub const LISTENER: u64 =
        FD_READ | FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE | SOCK_ACCEPT;
}

/// `oflags` (u16).
pub mod oflags {
    pub const CREAT: u16 = 1;
    pub const DIRECTORY: u16 = 2;
    pub const EXCL: u16 = 4;
    pub const TRUNC: u16 = 8;
}

/// `fdflags` (u16).
pub mod fdflags {
    pub const APPEND: u16 = 1;
    pub const DSYNC: u16 = 2;
    pub const NONBLOCK: u16 = 4;
    pub const RSYNC: u16 = 8;
    pub const SYNC: u16 = 16;
    pub const ALL: u16 = 31;
}

/// `lookupflags` (u32).
pub const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

/// `fstflags` (u16).
pub mod fstflags {
    pub const ATIM: u16 = 1;
    pub const ATIM_NOW: u16 = 2;
    pub const MTIM: u16 = 4;
    pub const MTIM_NOW: u16 = 8;
}

/// `whence` (u8).
pub mod whence {
    pub const SET: u8 = 0;
    pub const CUR: u8 = 1;
    pub const END: u8 = 2;
}

/// `clockid` (u32).
pub mod clock {
    pub const REALTIME: u32 = 0;
    pub const MONOTONIC: u32 = 1;
    pub const PROCESS_CPUTIME: u32 = 2;
    pub const THREAD_CPUTIME: u32 = 3;
}

/// `eventtype` (u8) and friends used by `poll_oneoff`.
pub mod event {
    pub const CLOCK: u8 = 0;
    pub const FD_READ: u8 = 1;
    pub const FD_WRITE: u8 = 2;
    /// `subclockflags::subscription_clock_abstime`.
    pub const ABSTIME: u16 = 1;
    /// `eventrwflags::fd_readwrite_hangup`.
    pub const HANGUP: u16 = 1;
    /// Size of a `subscription`.
    pub const SUBSCRIPTION_SIZE: u32 = 48;
    /// Size of an `event`.
    pub const EVENT_SIZE: u32 = 32;
}

/// `riflags`, `roflags`, `sdflags` of the socket calls.
pub mod sock {
    pub const RECV_PEEK: u16 = 1;
    pub const RECV_WAITALL: u16 = 2;
    pub const SHUT_RD: u8 = 1;
    pub const SHUT_WR: u8 = 2;
}

/// Size of a `filestat`: dev, ino, filetype (padded), nlink, size, atim, mtim, ctim.
pub const FILESTAT_SIZE: u32 = 64;
/// Size of an `fdstat`: filetype, flags, rights base, rights inheriting.
pub const FDSTAT_SIZE: u32 = 24;
/// Size of a `prestat`: tag, then the directory name length at offset 4.
pub const PRESTAT_SIZE: u32 = 8;
/// Size of a `dirent` header; the name follows it.
pub const DIRENT_SIZE: usize = 24;

/// A `filestat` as the guest sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filestat {
    pub dev: u64,
    pub ino: u64,
    pub filetype: u8,
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

impl Filestat {
    /// The 64-byte little-endian encoding.
    pub fn encode(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[0..8].copy_from_slice(&self.dev.to_le_bytes());
        out[8..16].copy_from_slice(&self.ino.to_le_bytes());
        out[16] = self.filetype;
        out[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        out[32..40].copy_from_slice(&self.size.to_le_bytes());
        out[40..48].copy_from_slice(&self.atim.to_le_bytes());
        out[48..56].copy_from_slice(&self.mtim.to_le_bytes());
        out[56..64].copy_from_slice(&self.ctim.to_le_bytes());
        out
    }
}

/// The 24-byte `dirent` header of one directory entry.
pub fn encode_dirent(next: u64, ino: u64, name_len: u32, filetype: u8) -> [u8; DIRENT_SIZE] {
    let mut out = [0u8; DIRENT_SIZE];
    out[0..8].copy_from_slice(&next.to_le_bytes());
    out[8..16].copy_from_slice(&ino.to_le_bytes());
    out[16..20].copy_from_slice(&name_len.to_le_bytes());
    out[20] = filetype;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let stat = Filestat {
            filetype: filetype::REGULAR_FILE,
            size: 0x0102,
            ctim: u64::MAX,
            ..Filestat::default()
        };
        let bytes = stat.encode();
        assert_eq!(bytes.len() as u32, FILESTAT_SIZE);
        assert_eq!(bytes[16], 4);
        assert_eq!(&bytes[32..34], &[2, 1]);
        assert_eq!(&bytes[56..64], &[0xff; 8]);
        let dirent = encode_dirent(1, 2, 3, filetype::DIRECTORY);
        assert_eq!((dirent[0], dirent[8], dirent[16], dirent[20]), (1, 2, 3, 3));
    }
}
