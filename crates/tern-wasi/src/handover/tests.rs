use crate::{WasiCtx, WasiCtxBuilder};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const FD: u32 = 3;

fn ctx_listening_on(addr: &str) -> (WasiCtx, SocketAddr) {
    let ctx = WasiCtxBuilder::new()
        .tcp_listen(addr)
        .unwrap()
        .build()
        .unwrap();
    let bound = ctx.listener(FD).local_addr().unwrap();
    (ctx, bound)
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Connects, and once `listener` accepted the connection, sends a byte through it
/// (bounded). Accepting before the byte arrives matters: a socket wrongly left shut for
/// reading would read end of file at once.
fn accepted_by(listener: &TcpListener, addr: SocketAddr) -> bool {
    let Ok(mut client) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    listener.set_nonblocking(true).unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if let Ok((mut conn, _)) = listener.accept() {
            conn.set_nonblocking(false).unwrap();
            client.write_all(b"x").unwrap();
            let mut byte = [0u8];
            return conn.read_exact(&mut byte).is_ok() && byte == *b"x";
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn a_listening_socket_keeps_its_address_to_itself() {
    let (_ctx, addr) = ctx_listening_on(&format!("127.0.0.1:{}", free_port()));
    let err = TcpListener::bind(addr).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
}

#[test]
fn another_process_can_take_the_address_and_give_it_back() {
    for requested in [format!("127.0.0.1:{}", free_port()), "127.0.0.1:0".into()] {
        let (mut ctx, addr) = ctx_listening_on(&requested);
        ctx.stop_listening().unwrap();
        // The "target" binds the same address and serves it.
        let target = TcpListener::bind(addr).expect("bind while the source has stopped");
        assert!(
            accepted_by(&target, addr),
            "{requested}: the target accepts"
        );
        drop(target);
        // The migration failed: the source listens again at the same address.
        assert!(ctx.listen_again(Duration::ZERO).is_empty(), "{requested}");
        assert_eq!(ctx.listener(FD).local_addr().unwrap(), addr, "{requested}");
        assert!(
            accepted_by(ctx.listener(FD), addr),
            "{requested}: source again"
        );
    }
}

#[test]
fn listening_again_fails_with_a_line_when_the_address_is_taken() {
    let (mut ctx, addr) = ctx_listening_on("127.0.0.1:0");
    ctx.stop_listening().unwrap();
    let thief = TcpListener::bind(addr).unwrap();
    let start = Instant::now();
    let errors = ctx.listen_again(Duration::from_millis(100));
    assert!(
        start.elapsed() >= Duration::from_millis(100),
        "it waited for the address"
    );
    drop(thief);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("listener fd 3"), "{errors:?}");
    assert!(errors[0].contains(&addr.to_string()), "{errors:?}");
}

#[test]
fn listening_again_waits_for_the_address_to_be_released() {
    let (mut ctx, addr) = ctx_listening_on(&format!("127.0.0.1:{}", free_port()));
    ctx.stop_listening().unwrap();
    let target = TcpListener::bind(addr).unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(target);
    });
    assert!(ctx.listen_again(Duration::from_secs(5)).is_empty());
    release.join().unwrap();
    assert!(accepted_by(ctx.listener(FD), addr));
}
