//! Live migration of a program that serves TCP: its listening socket is re-created on
//! the target, between network namespaces where `ip netns` is permitted and on one host
//! (source and target share the address) always. Before the successful move, one
//! attempt fails after the source paused, and the source must listen again.

use crate::migrate::{Hosts, LIMIT, Proc, migrate, port, reply_cutter, serve};
use crate::util::TempDir;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

const ECHO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guests/c/echo.wasm");

/// Runs `f` on a thread inside host `i`'s network namespace (this process's own
/// namespace on loopback): sockets it creates belong to that host.
fn on_host<T: Send + 'static>(
    hosts: &Hosts,
    i: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let netns = hosts.names.as_ref().map(|n| format!("/run/netns/{}", n[i]));
    std::thread::spawn(move || {
        if let Some(path) = netns {
            let ns = std::fs::File::open(&path).expect("open the namespace");
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&ns),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("enter the namespace");
        }
        f()
    })
    .join()
    .unwrap()
}

/// A client on host `i` sends `text` to the echo server at host `i`'s address and
/// returns what came back, or why it could not.
fn echo_once(hosts: &Hosts, i: usize, port: u16, text: &'static str) -> Result<String, String> {
    let addr = format!("{}:{port}", hosts.addrs[i]);
    on_host(hosts, i, move || {
        let addr = addr.parse().unwrap();
        let mut back = String::new();
        TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .and_then(|mut conn| {
                conn.set_read_timeout(Some(LIMIT))?;
                conn.write_all(text.as_bytes())?;
                conn.shutdown(std::net::Shutdown::Write)?;
                conn.read_to_string(&mut back)
            })
            .map_err(|e| format!("echo at {addr}: {e}"))?;
        Ok(back)
    })
}

/// [`echo_once`], tried again for a few seconds while the connection is refused or
/// reset: right after a failed migration the source listens again only once a target
/// on the same host has let go of the address (a client sees the reset and retries).
fn echo_at(hosts: &Hosts, i: usize, port: u16, text: &'static str) -> Result<String, String> {
    let start = Instant::now();
    loop {
        match echo_once(hosts, i, port, text) {
            Err(_) if start.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            result => return result,
        }
    }
}

/// The echo server (3 connections) starts on host A; connection 0 is served there; a
/// migration fails after the pause and connection 1 is served at A again; the program
/// moves to B, which serves connection 2 and ends it.
fn listener_moves(tag: &str, hosts: Hosts, engines: [&str; 2]) {
    let dir = TempDir::new(tag);
    let (port, app) = (port(), port());
    let control = dir.0.join("ctl.sock");
    let (ctl, listen) = (control.display().to_string(), format!("0.0.0.0:{app}"));
    let args = ["run", "--engine", engines[0], "--control", &ctl];
    let args = [&args[..], &["--tcplisten", &listen, ECHO, "3"]].concat();
    let mut src = Proc::spawn(hosts.tern(0, &args));
    src.wait_for("echo server: 3 connection(s)");
    assert_eq!(
        echo_at(&hosts, 0, app, "zero").as_deref(),
        Ok("zero"),
        "{}",
        src.err()
    );
    src.wait_for("connection 0: 4 bytes");

    fail_after_pause(&hosts, &dir.0, &control, app, engines[1]);
    assert_eq!(echo_at(&hosts, 0, app, "one!").as_deref(), Ok("one!"));
    src.wait_for("connection 1: 4 bytes");

    let flags = ["--max-migrations", "1", "--engine", engines[1]];
    let mut target = serve(&hosts, 1, port, &dir.0.join("b"), &flags);
    let to = format!("{}:{port}", hosts.addrs[1]);
    let (code, err) = migrate(&hosts, 0, &to, &control, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(src.wait(), 0, "{}", src.err());
    assert!(src.err().contains("migrated to"), "{}", src.err());
    assert_eq!(echo_at(&hosts, 1, app, "two!!").as_deref(), Ok("two!!"));
    assert_eq!(target.wait(), 0, "{}", target.err());
    assert!(target.err().contains("exit status 0"), "{}", target.err());
    assert!(
        target.out().contains("connection 2: 5 bytes"),
        "{}",
        target.out()
    );
    if hosts.names.is_some() {
        let gone = echo_once(&hosts, 0, app, "nobody");
        assert!(gone.is_err(), "host A no longer listens: {gone:?}");
    }
}

/// A migration that fails once the source has paused and handed its listener over: on
/// two hosts, B's address is taken by another socket, so B refuses; on one host, the
/// target binds the address and its "running" reply is lost, so it discards the program.
fn fail_after_pause(hosts: &Hosts, dir: &Path, control: &Path, app: u16, engine: &str) {
    let port = port();
    let target = serve(hosts, 1, port, &dir.join("refusing"), &["--engine", engine]);
    let (to, blocker) = if hosts.names.is_some() {
        let blocker = on_host(hosts, 1, move || {
            TcpListener::bind(("0.0.0.0", app)).unwrap()
        });
        (format!("{}:{port}", hosts.addrs[1]), Some(blocker))
    } else {
        let proxy = reply_cutter(format!("127.0.0.1:{port}"));
        (format!("127.0.0.1:{proxy}"), None)
    };
    let (code, err) = migrate(hosts, 0, &to, control, &[]);
    assert_eq!(code, 1, "the migration must fail: {err}");
    if blocker.is_some() {
        assert!(
            err.contains(&format!(":{app}")),
            "the refusal names the address: {err}"
        );
    }
    assert!(!target.out().contains("connection"), "{}", target.out());
}

#[test]
fn migrate_listener_to_another_host() {
    listener_moves("migrate-listen", Hosts::new("l"), ["fast", "interp"]);
}

#[test]
fn migrate_listener_on_one_host() {
    listener_moves("migrate-listen-lo", Hosts::loopback(), ["interp", "fast"]);
}
