//! The blocking adapters (embedded-io, embedded-nal) over portnet-smol, with
//! peers on plain threads.

#![cfg(all(feature = "embedded-io", feature = "embedded-nal"))]

use core::future::Future;
use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::thread;
use std::time::Instant;

use embedded_nal::{TcpClientStack, TcpFullStack, UdpClientStack, UdpFullStack};
use portnet::TcpConnect as _;
use portnet_embedded::{BlockOn, BlockingIo, NbNal};
use portnet_smol::Smol;

/// async-io's executor, which also drives its reactor.
#[derive(Debug, Clone, Copy)]
struct AsyncIo;

impl BlockOn for AsyncIo {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        async_io::block_on(future)
    }
}

const DEADLINE: Duration = Duration::from_secs(10);

/// Retries an `nb` operation until it is done, for at most `DEADLINE`.
fn retry<T, E: core::fmt::Debug>(mut op: impl FnMut() -> nb::Result<T, E>) -> T {
    let start = Instant::now();
    loop {
        match op() {
            Ok(value) => return value,
            Err(nb::Error::Other(e)) => panic!("nb operation failed: {e:?}"),
            Err(nb::Error::WouldBlock) => {
                assert!(start.elapsed() < DEADLINE, "nb operation never finished");
                // `nb` has no readiness event to wait on: it is polled, and a
                // poll with no executor running does not drive async-io's
                // reactor. Between polls, let the reactor run for a moment (as
                // the main loop of a blocking program would), so the socket's
                // readiness is seen.
                async_io::block_on(async_io::Timer::after(Duration::from_millis(1)));
            }
        }
    }
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn echo_thread() -> (SocketAddr, thread::JoinHandle<usize>) {
    let listener = TcpListener::bind(localhost(0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut buf = [0u8; 4096];
        let mut total = 0;
        loop {
            let n = conn.read(&mut buf).unwrap();
            if n == 0 {
                return total;
            }
            total += n;
            conn.write_all(&buf[..n]).unwrap();
        }
    });
    (addr, handle)
}

#[test]
fn portnet_stream_as_blocking_embedded_io() {
    use embedded_io::{Read as _, Write as _};
    let (addr, peer) = echo_thread();
    let conn = async_io::block_on(Smol::new().connect(addr)).unwrap();
    let mut stream = BlockingIo::new(conn, AsyncIo);
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    let mut back = vec![0u8; data.len()];
    for (chunk, out) in data.chunks(999).zip(back.chunks_mut(999)) {
        stream.write_all(chunk).unwrap();
        stream.flush().unwrap();
        stream.read_exact(out).unwrap();
    }
    assert_eq!(back, data);
    stream.close().unwrap();
    assert_eq!(peer.join().unwrap(), data.len());
}

#[test]
fn portnet_stack_as_nb_tcp_client() {
    let (addr, peer) = echo_thread();
    let stack = Smol::new();
    let mut nal = NbNal::new(&stack, AsyncIo);
    let mut socket = TcpClientStack::socket(&mut nal).unwrap();
    retry(|| TcpClientStack::connect(&mut nal, &mut socket, addr));
    let mut sent = 0;
    let message = b"through embedded-nal";
    while sent < message.len() {
        sent += retry(|| TcpClientStack::send(&mut nal, &mut socket, &message[sent..]));
    }
    let mut back = [0u8; 20];
    let mut got = 0;
    while got < back.len() {
        let n = retry(|| TcpClientStack::receive(&mut nal, &mut socket, &mut back[got..]));
        assert_ne!(n, 0, "early EOF");
        got += n;
    }
    assert_eq!(&back, message);
    // Nothing more is there: a receive now says WouldBlock rather than blocking.
    assert!(matches!(
        TcpClientStack::receive(&mut nal, &mut socket, &mut back),
        Err(nb::Error::WouldBlock)
    ));
    TcpClientStack::close(&mut nal, socket).unwrap();
    assert_eq!(peer.join().unwrap(), message.len());
}

#[test]
fn portnet_stack_as_nb_tcp_server() {
    let stack = Smol::new();
    let mut nal = NbNal::new(&stack, AsyncIo).with_bind_ip(Ipv4Addr::LOCALHOST.into());
    // Find a free port, then listen on it through the adapter.
    let port = TcpListener::bind(localhost(0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut listener = TcpClientStack::socket(&mut nal).unwrap();
    TcpFullStack::bind(&mut nal, &mut listener, port).unwrap();
    TcpFullStack::listen(&mut nal, &mut listener).unwrap();
    // No client yet: accept does not block.
    assert!(matches!(
        TcpFullStack::accept(&mut nal, &mut listener),
        Err(nb::Error::WouldBlock)
    ));
    let client = thread::spawn(move || {
        let mut conn = TcpStream::connect(localhost(port)).unwrap();
        conn.set_read_timeout(Some(DEADLINE)).unwrap();
        conn.write_all(b"knock").unwrap();
        let mut reply = Vec::new();
        conn.read_to_end(&mut reply).unwrap();
        (conn.local_addr().unwrap(), reply)
    });
    let (mut conn, from) = retry(|| TcpFullStack::accept(&mut nal, &mut listener));
    let mut buf = [0u8; 5];
    let mut got = 0;
    while got < buf.len() {
        got += retry(|| TcpClientStack::receive(&mut nal, &mut conn, &mut buf[got..]));
    }
    assert_eq!(&buf, b"knock");
    retry(|| TcpClientStack::send(&mut nal, &mut conn, b"who"));
    TcpClientStack::close(&mut nal, conn).unwrap();
    let (client_addr, reply) = client.join().unwrap();
    assert_eq!(from, client_addr);
    assert_eq!(reply, b"who");
    TcpClientStack::close(&mut nal, listener).unwrap();
}

#[test]
fn portnet_stack_as_nb_udp() {
    let stack = Smol::new();
    let mut nal = NbNal::new(&stack, AsyncIo).with_bind_ip(Ipv4Addr::LOCALHOST.into());
    let peer = UdpSocket::bind(localhost(0)).unwrap();
    peer.set_read_timeout(Some(DEADLINE)).unwrap();
    let peer_addr = peer.local_addr().unwrap();

    // Client: connect, send, receive.
    let mut client = UdpClientStack::socket(&mut nal).unwrap();
    UdpClientStack::connect(&mut nal, &mut client, peer_addr).unwrap();
    retry(|| UdpClientStack::send(&mut nal, &mut client, b"one"));
    let mut buf = [0u8; 16];
    let (n, client_addr) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"one");
    peer.send_to(b"two", client_addr).unwrap();
    let (n, from) = retry(|| UdpClientStack::receive(&mut nal, &mut client, &mut buf));
    assert_eq!((&buf[..n], from), (&b"two"[..], peer_addr));
    UdpClientStack::close(&mut nal, client).unwrap();

    // Full stack: bind a port, send_to.
    let port = UdpSocket::bind(localhost(0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = UdpClientStack::socket(&mut nal).unwrap();
    UdpFullStack::bind(&mut nal, &mut server, port).unwrap();
    peer.send_to(b"three", localhost(port)).unwrap();
    let (n, from) = retry(|| UdpClientStack::receive(&mut nal, &mut server, &mut buf));
    assert_eq!((&buf[..n], from), (&b"three"[..], peer_addr));
    retry(|| UdpFullStack::send_to(&mut nal, &mut server, peer_addr, b"four"));
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"four"[..], localhost(port)));
}

#[test]
fn nb_tcp_error_kind_after_reset() {
    use embedded_nal::{TcpError as _, TcpErrorKind};
    let listener = TcpListener::bind(localhost(0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut byte = [0u8; 1];
        conn.read_exact(&mut byte).unwrap();
        socket2::SockRef::from(&conn)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    });
    let stack = Smol::new();
    let mut nal = NbNal::new(&stack, AsyncIo);
    let mut socket = TcpClientStack::socket(&mut nal).unwrap();
    retry(|| TcpClientStack::connect(&mut nal, &mut socket, addr));
    retry(|| TcpClientStack::send(&mut nal, &mut socket, b"x"));
    peer.join().unwrap();
    let mut buf = [0u8; 4];
    let start = Instant::now();
    let err = loop {
        match TcpClientStack::receive(&mut nal, &mut socket, &mut buf) {
            Err(nb::Error::Other(e)) => break e,
            Err(nb::Error::WouldBlock) => {
                assert!(start.elapsed() < DEADLINE, "reset never reported");
                thread::yield_now();
            }
            Ok(n) => panic!("read {n} bytes after a reset"),
        }
    };
    assert_eq!(err.kind(), TcpErrorKind::PipeClosed);
    assert_eq!(err.portnet_kind(), portnet::ErrorKind::ConnectionReset);
}
