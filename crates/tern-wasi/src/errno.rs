//! WASI error numbers and the mapping from host I/O errors.

use std::fmt;
use std::io;

/// A `wasi_snapshot_preview1` errno. `Errno::SUCCESS` (0) is what a call returns when it
/// worked; every other value is a failure the guest sees as `errno`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub u16);

macro_rules! errnos {
    ($($name:ident = $value:literal,)*) => {
        impl Errno {
            $(pub const $name: Errno = Errno($value);)*

            /// The symbolic name, e.g. `"BADF"`.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($value => stringify!($name),)*
                    _ => "UNKNOWN",
                }
            }
        }
    };
}

errnos! {
    SUCCESS = 0, TOOBIG = 1, ACCES = 2, ADDRINUSE = 3, ADDRNOTAVAIL = 4, AFNOSUPPORT = 5,
    AGAIN = 6, ALREADY = 7, BADF = 8, BADMSG = 9, BUSY = 10, CANCELED = 11, CHILD = 12,
    CONNABORTED = 13, CONNREFUSED = 14, CONNRESET = 15, DEADLK = 16, DESTADDRREQ = 17,
    DOM = 18, DQUOT = 19, EXIST = 20, FAULT = 21, FBIG = 22, HOSTUNREACH = 23, IDRM = 24,
    ILSEQ = 25, INPROGRESS = 26, INTR = 27, INVAL = 28, IO = 29, ISCONN = 30, ISDIR = 31,
    LOOP = 32, MFILE = 33, MLINK = 34, MSGSIZE = 35, MULTIHOP = 36, NAMETOOLONG = 37,
    NETDOWN = 38, NETRESET = 39, NETUNREACH = 40, NFILE = 41, NOBUFS = 42, NODEV = 43,
    NOENT = 44, NOEXEC = 45, NOLCK = 46, NOLINK = 47, NOMEM = 48, NOMSG = 49,
    NOPROTOOPT = 50, NOSPC = 51, NOSYS = 52, NOTCONN = 53, NOTDIR = 54, NOTEMPTY = 55,
    NOTRECOVERABLE = 56, NOTSOCK = 57, NOTSUP = 58, NOTTY = 59, NXIO = 60, OVERFLOW = 61,
    OWNERDEAD = 62, PERM = 63, PIPE = 64, PROTO = 65, PROTONOSUPPORT = 66, PROTOTYPE = 67,
    RANGE = 68, ROFS = 69, SPIPE = 70, SRCH = 71, STALE = 72, TIMEDOUT = 73, TXTBSY = 74,
    XDEV = 75, NOTCAPABLE = 76,
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E{}({})", self.name(), self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "errno {} (E{})", self.0, self.name())
    }
}

impl From<io::Error> for Errno {
    fn from(e: io::Error) -> Errno {
        from_io(&e)
    }
}

/// Maps a host error to the errno a guest expects.
///
/// The `ErrorKind` is used first because it is the same on every host (Linux, macOS and
/// wasm32-wasip1 number their raw errors differently). One case needs the raw number:
/// `PermissionDenied` covers both `EACCES` (13 on every Unix) and `EPERM`; cap-std's
/// "a path led outside of the filesystem" has no raw number and becomes `EPERM`, which is
/// what wasmtime reports for sandbox escapes too.
pub(crate) fn from_io(e: &io::Error) -> Errno {
    use io::ErrorKind as K;
    // Inside a WASI host the raw number already is a WASI errno.
    #[cfg(target_os = "wasi")]
    if let Some(raw) = e.raw_os_error() {
        return Errno(raw as u16);
    }
    match e.kind() {
        K::NotFound => Errno::NOENT,
        K::PermissionDenied if cfg!(unix) && e.raw_os_error() == Some(13) => Errno::ACCES,
        K::PermissionDenied => Errno::PERM,
        K::ConnectionRefused => Errno::CONNREFUSED,
        K::ConnectionReset => Errno::CONNRESET,
        K::HostUnreachable => Errno::HOSTUNREACH,
        K::NetworkUnreachable => Errno::NETUNREACH,
        K::ConnectionAborted => Errno::CONNABORTED,
        K::NotConnected => Errno::NOTCONN,
        K::AddrInUse => Errno::ADDRINUSE,
        K::AddrNotAvailable => Errno::ADDRNOTAVAIL,
        K::NetworkDown => Errno::NETDOWN,
        K::BrokenPipe => Errno::PIPE,
        K::AlreadyExists => Errno::EXIST,
        K::WouldBlock => Errno::AGAIN,
        K::NotADirectory => Errno::NOTDIR,
        K::IsADirectory => Errno::ISDIR,
        K::DirectoryNotEmpty => Errno::NOTEMPTY,
        K::ReadOnlyFilesystem => Errno::ROFS,
        K::StaleNetworkFileHandle => Errno::STALE,
        K::InvalidInput => Errno::INVAL,
        K::InvalidData => Errno::ILSEQ,
        K::TimedOut => Errno::TIMEDOUT,
        K::StorageFull => Errno::NOSPC,
        K::NotSeekable => Errno::SPIPE,
        K::QuotaExceeded => Errno::DQUOT,
        K::FileTooLarge => Errno::FBIG,
        K::ResourceBusy => Errno::BUSY,
        K::ExecutableFileBusy => Errno::TXTBSY,
        K::Deadlock => Errno::DEADLK,
        K::CrossesDevices => Errno::XDEV,
        K::TooManyLinks => Errno::MLINK,
        K::InvalidFilename => Errno::NAMETOOLONG,
        K::ArgumentListTooLong => Errno::TOOBIG,
        K::Interrupted => Errno::INTR,
        K::Unsupported => Errno::NOTSUP,
        K::OutOfMemory => Errno::NOMEM,
        K::UnexpectedEof => Errno::IO,
        _ => from_raw(e.raw_os_error()),
    }
}

/// Raw Linux errnos that std files under `Other`/`Uncategorized`.
fn from_raw(raw: Option<i32>) -> Errno {
    match raw {
        #[cfg(target_os = "linux")]
        Some(40) => Errno::LOOP,
        #[cfg(target_os = "linux")]
        Some(9) => Errno::BADF,
        #[cfg(target_os = "linux")]
        Some(22) => Errno::INVAL,
        #[cfg(target_os = "linux")]
        Some(95) => Errno::NOTSUP,
        #[cfg(target_os = "linux")]
        Some(88) => Errno::NOTSOCK,
        #[cfg(target_os = "linux")]
        Some(84) => Errno::ILSEQ,
        #[cfg(target_os = "linux")]
        Some(75) => Errno::OVERFLOW,
        #[cfg(target_os = "linux")]
        Some(6) => Errno::NXIO,
        #[cfg(target_os = "linux")]
        Some(19) => Errno::NODEV,
        _ => Errno::IO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_mapping() {
        assert_eq!(Errno::NOTCAPABLE.0, 76);
        assert_eq!(Errno::FAULT.name(), "FAULT");
        assert_eq!(
            Errno::from(io::Error::from(io::ErrorKind::NotFound)),
            Errno::NOENT
        );
        let escape = io::Error::new(io::ErrorKind::PermissionDenied, "outside");
        assert_eq!(Errno::from(escape), Errno::PERM);
        #[cfg(unix)]
        assert_eq!(Errno::from(io::Error::from_raw_os_error(13)), Errno::ACCES);
    }
}
