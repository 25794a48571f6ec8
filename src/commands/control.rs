//! The control endpoint of `tern run --control`, where `tern migrate` asks a running
//! program to move: a Unix socket path, or a TCP address on loopback. Only loopback:
//! whoever can connect can send the program to any host, so the endpoint must be no
//! more reachable than the machine's own users (a Unix socket's file mode restricts it
//! further).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Loopback(SocketAddr),
}

impl Endpoint {
    /// `HOST:PORT` (no `/`, a numeric port) is a TCP endpoint and must resolve to a
    /// loopback address; anything else is a Unix socket path (`./name:1` for a path
    /// that would look like an address).
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        let looks_like_address = !text.contains('/')
            && text
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !looks_like_address {
            return match text {
                "" => Err("empty path".into()),
                _ => Ok(Endpoint::Unix(PathBuf::from(text))),
            };
        }
        let addr = text
            .to_socket_addrs()
            .map_err(|e| format!("{text}: {e}"))?
            .next()
            .ok_or_else(|| format!("{text}: no address"))?;
        if !addr.ip().is_loopback() {
            return Err(format!(
                "{text} is not a loopback address (use 127.0.0.1 or [::1], or a socket path)"
            ));
        }
        Ok(Endpoint::Loopback(addr))
    }

    /// Listens at the endpoint (a stale socket file at the path is replaced).
    pub fn bind(&self) -> io::Result<Listener> {
        match self {
            Endpoint::Unix(path) => {
                let _ = std::fs::remove_file(path);
                UnixListener::bind(path).map(Listener::Unix)
            }
            Endpoint::Loopback(addr) => TcpListener::bind(addr).map(Listener::Loopback),
        }
    }

    pub fn connect(&self) -> io::Result<Conn> {
        match self {
            Endpoint::Unix(path) => UnixStream::connect(path).map(Conn::Unix),
            Endpoint::Loopback(addr) => TcpStream::connect(addr).map(Conn::Loopback),
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "{}", path.display()),
            Endpoint::Loopback(addr) => write!(f, "{addr}"),
        }
    }
}

pub enum Listener {
    Unix(UnixListener),
    Loopback(TcpListener),
}

impl Listener {
    pub fn accept(&self) -> io::Result<Conn> {
        match self {
            Listener::Unix(l) => l.accept().map(|(c, _)| Conn::Unix(c)),
            Listener::Loopback(l) => l.accept().map(|(c, _)| Conn::Loopback(c)),
        }
    }
}

/// One control connection: a request line in, progress lines and the result out.
pub enum Conn {
    Unix(UnixStream),
    Loopback(TcpStream),
}

impl Conn {
    pub fn try_clone(&self) -> io::Result<Conn> {
        match self {
            Conn::Unix(s) => s.try_clone().map(Conn::Unix),
            Conn::Loopback(s) => s.try_clone().map(Conn::Loopback),
        }
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Conn::Unix(s) => s.set_read_timeout(timeout),
            Conn::Loopback(s) => s.set_read_timeout(timeout),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Loopback(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Loopback(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Unix(s) => s.flush(),
            Conn::Loopback(s) => s.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn addresses_must_be_loopback_and_everything_else_is_a_path() {
        assert!(matches!(
            Endpoint::parse("127.0.0.1:7000"),
            Ok(Endpoint::Loopback(_))
        ));
        assert!(matches!(
            Endpoint::parse("[::1]:7000"),
            Ok(Endpoint::Loopback(_))
        ));
        let err = Endpoint::parse("0.0.0.0:7000").unwrap_err();
        assert!(err.contains("not a loopback address"), "{err}");
        assert!(Endpoint::parse("10.1.2.3:7000").is_err());
        assert_eq!(
            Endpoint::parse("/tmp/prog.sock"),
            Ok(Endpoint::Unix("/tmp/prog.sock".into()))
        );
        assert!(matches!(
            Endpoint::parse("localhost:7000"),
            Ok(Endpoint::Loopback(_))
        ));
        assert_eq!(
            Endpoint::parse("./ctl:1"),
            Ok(Endpoint::Unix("./ctl:1".into()))
        );
        assert_eq!(
            Endpoint::parse("ctl.sock"),
            Ok(Endpoint::Unix("ctl.sock".into()))
        );
        assert!(Endpoint::parse("").is_err());
    }
}
