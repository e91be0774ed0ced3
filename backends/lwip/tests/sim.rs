//! lwIP against smoltcp on the in-memory link: bytes intact both ways, the
//! error kinds of refusal and reset, UDP, and the one-stack rule.

use core::net::SocketAddr;

use portnet::{
    ErrorKind, ReadExt, ResultExt, TcpConnect, TcpListen, TcpListener, TcpStream, UdpBind,
    UdpSocketExt, WriteExt,
};
use portnet_links::Faults;
use portnet_lwip::sim::{A_V4, B_V4, Pair};

fn pattern(i: usize) -> u8 {
    (i ^ (i >> 8) ^ (i >> 16)).wrapping_mul(167) as u8
}

/// Sends `total` bytes from the lwIP stack to the peer and back the other way,
/// checking every byte.
fn bulk(faults: Faults, total: usize, seed: u64) {
    let pair = Pair::new(faults, seed);
    let result = pair.run(async {
        let listener = pair
            .b
            .listen(SocketAddr::new(B_V4.into(), 7000))
            .await
            .unwrap();
        let client = async {
            let mut conn = pair
                .a
                .connect(SocketAddr::new(B_V4.into(), 7000))
                .await
                .unwrap();
            let mut chunk = [0u8; 3000];
            let mut sent = 0;
            while sent < total {
                let n = chunk.len().min(total - sent);
                for (k, b) in chunk[..n].iter_mut().enumerate() {
                    *b = pattern(sent + k);
                }
                conn.write_all(&chunk[..n]).await.unwrap();
                sent += n;
            }
            conn.close().await.unwrap();
            // The peer echoes the count back after our FIN.
            let mut back = [0u8; 8];
            conn.read_exact(&mut back).await.unwrap();
            assert_eq!(
                conn.read(&mut back).await.unwrap(),
                0,
                "EOF after the reply"
            );
            u64::from_be_bytes(back)
        };
        let server = async {
            let (mut conn, from) = listener.accept().await.unwrap();
            assert_eq!(from.ip(), A_V4);
            let mut buf = [0u8; 4096];
            let mut received = 0;
            loop {
                let n = conn.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                for (k, &byte) in buf[..n].iter().enumerate() {
                    assert_eq!(byte, pattern(received + k), "byte {}", received + k);
                }
                received += n;
            }
            conn.write_all(&(received as u64).to_be_bytes())
                .await
                .unwrap();
            conn.close().await.unwrap();
            received
        };
        portnet::future::join(Box::pin(client), Box::pin(server)).await
    });
    let (echoed, received) = result.expect("the transfer finishes");
    assert_eq!(received, total);
    assert_eq!(echoed, total as u64);
    assert_eq!(
        pair.a.diagnostics().0,
        0,
        "no callback met a borrowed state"
    );
}

#[test]
fn bulk_clean() {
    bulk(Faults::NONE, 1 << 20, 7);
}

#[test]
fn bulk_lossy() {
    // Seed 7 loses the segment before the last one: the FIN then arrived out
    // of order and, piggybacked on data, was never taken (docs/backends/lwip.md).
    bulk(Faults::LOSSY, 256 << 10, 7);
    for seed in 1..=6 {
        bulk(Faults::LOSSY, 64 << 10, seed);
    }
}

#[test]
fn bulk_latency() {
    bulk(
        Faults {
            latency: core::time::Duration::from_millis(2),
            ..Faults::NONE
        },
        64 << 10,
        7,
    );
}

#[test]
fn accepts_and_reads_from_the_peer() {
    let pair = Pair::new(Faults::NONE, 3);
    pair.run(async {
        let listener = pair
            .a
            .listen(SocketAddr::new(A_V4.into(), 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(addr.ip(), A_V4);
        assert_ne!(addr.port(), 0);
        let peer = async {
            let mut conn = pair.b.connect(addr).await.unwrap();
            conn.write_all(b"hello lwip").await.unwrap();
            conn.close().await.unwrap();
            let mut buf = [0u8; 16];
            let n = conn.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"olleh");
        };
        let server = async {
            let (mut conn, from) = listener.accept().await.unwrap();
            assert_eq!(from.ip(), B_V4);
            assert_eq!(conn.local_addr().unwrap(), addr);
            let mut buf = [0u8; 32];
            let mut got = Vec::new();
            loop {
                let n = conn.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"hello lwip");
            // Half-closed by the peer: writing still works.
            conn.write_all(b"olleh").await.unwrap();
            conn.close().await.unwrap();
        };
        portnet::future::join(Box::pin(peer), Box::pin(server)).await;
    })
    .unwrap();
    assert_eq!(pair.a.diagnostics().0, 0);
}

#[test]
fn refused_reset_and_errors_have_their_kinds() {
    let pair = Pair::new(Faults::NONE, 4);
    pair.run(async {
        let refused = pair.a.connect(SocketAddr::new(B_V4.into(), 9)).await;
        assert_eq!(refused.kind().err(), Some(ErrorKind::ConnectionRefused));
        // Off the link's subnet, and no gateway: lwIP finds no route (ERR_RTE).
        let no_route = pair
            .a
            .connect(SocketAddr::from(([192, 168, 7, 1], 80)))
            .await;
        assert_eq!(no_route.kind().err(), Some(ErrorKind::NetworkUnreachable));
        let v6 = pair
            .a
            .connect(SocketAddr::from(([0xfd00, 0, 0, 0, 0, 0, 0, 2], 80)))
            .await;
        assert_eq!(v6.kind().err(), Some(ErrorKind::Unsupported));
        let invalid = pair.a.connect(SocketAddr::new(B_V4.into(), 0)).await;
        assert_eq!(invalid.kind().err(), Some(ErrorKind::InvalidInput));
        let listener = pair
            .a
            .listen(SocketAddr::new(A_V4.into(), 7100))
            .await
            .unwrap();
        let again = pair.a.listen(SocketAddr::new(A_V4.into(), 7100)).await;
        assert_eq!(again.kind().err(), Some(ErrorKind::AddrInUse));
        let foreign = pair.a.listen(SocketAddr::new(B_V4.into(), 7101)).await;
        assert_eq!(foreign.kind().err(), Some(ErrorKind::AddrNotAvailable));
        // The peer's abort reaches our reader as a reset.
        let peer = async {
            let conn = pair
                .b
                .connect(SocketAddr::new(A_V4.into(), 7100))
                .await
                .unwrap();
            conn.abort();
        };
        let server = async {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            conn.read(&mut buf).await.kind()
        };
        let ((), read) = portnet::future::join(Box::pin(peer), Box::pin(server)).await;
        assert_eq!(read.err(), Some(ErrorKind::ConnectionReset));
        drop(listener);
        // Dropping the listener frees the port at once.
        let _relisten = pair
            .a
            .listen(SocketAddr::new(A_V4.into(), 7100))
            .await
            .unwrap();
    })
    .unwrap();
}

#[test]
fn connection_pool_exhaustion_is_out_of_resources() {
    let pair = Pair::new(Faults::NONE, 5);
    pair.run(async {
        let listener = pair
            .b
            .listen_with(
                SocketAddr::new(B_V4.into(), 7200),
                portnet::ListenOptions::new().backlog(4),
            )
            .await
            .unwrap();
        let _ = &listener;
        // smoltcp's listener holds `backlog` sockets: two of them take the
        // lwIP stack's whole table.
        let second = pair
            .b
            .listen_with(
                SocketAddr::new(B_V4.into(), 7201),
                portnet::ListenOptions::new().backlog(4),
            )
            .await
            .unwrap();
        let _ = &second;
        let mut open = Vec::new();
        for k in 0..portnet_lwip::sim::TCP_SOCKETS {
            let port = 7200 + (k % 2) as u16;
            open.push(
                pair.a
                    .connect(SocketAddr::new(B_V4.into(), port))
                    .await
                    .unwrap(),
            );
        }
        let more = pair.a.connect(SocketAddr::new(B_V4.into(), 7200)).await;
        assert_eq!(more.kind().err(), Some(ErrorKind::OutOfResources));
        drop(open.pop());
        // The freed slot serves a new connection (the peer's listener frees its
        // socket only as the old one closes, so to the other port's peer).
        let again = pair.a.connect(SocketAddr::new(B_V4.into(), 7000)).await;
        assert_eq!(again.kind().err(), Some(ErrorKind::ConnectionRefused));
    })
    .unwrap();
}

#[test]
fn udp_round_trip() {
    let pair = Pair::new(Faults::NONE, 6);
    pair.run(async {
        let a = pair.a.bind(SocketAddr::new(A_V4.into(), 0)).await.unwrap();
        let b = pair
            .b
            .bind(SocketAddr::new(B_V4.into(), 5300))
            .await
            .unwrap();
        let local = portnet::UdpSocket::local_addr(&a).unwrap();
        a.send_to(b"ping", SocketAddr::new(B_V4.into(), 5300))
            .await
            .unwrap();
        let mut buf = [0u8; 2];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(
            (n, &buf[..], from),
            (4, &b"pi"[..], local),
            "truncated, full length"
        );
        b.send_to(b"pong", from).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"pong"[..], SocketAddr::new(B_V4.into(), 5300))
        );
        let too_big = a.send_to(&[0u8; 2000], from).await;
        assert_eq!(too_big.kind().err(), Some(ErrorKind::InvalidInput));
        let dup = pair.a.bind(local).await;
        assert_eq!(dup.kind().err(), Some(ErrorKind::AddrInUse));
    })
    .unwrap();
}

#[test]
fn a_second_stack_is_refused_while_one_lives() {
    let pair = Pair::new(Faults::NONE, 8);
    let link = portnet_links::Link::new(pair.clock.clone(), Faults::NONE, 1);
    let second = portnet_lwip::Stack::new(
        link.port(0, [0x02, 0, 0, 0, 0, 0x09]),
        pair.clock.clone(),
        portnet_lwip::Config::ipv4_static(A_V4, 24, None),
    );
    assert_eq!(
        second.map(drop).kind().err(),
        Some(ErrorKind::OutOfResources)
    );
}

#[test]
fn a_driver_with_a_multicast_address_is_invalid_input() {
    // Checked before the one-stack rule, so no `Pair` (and its turn) is needed.
    let clock = portnet_links::VirtualClock::new();
    let link = portnet_links::Link::new(clock.clone(), Faults::NONE, 1);
    let stack = portnet_lwip::Stack::new(
        link.port(0, [0x03, 0, 0, 0, 0, 0x01]),
        clock,
        portnet_lwip::Config::ipv4_static(A_V4, 24, None),
    );
    assert_eq!(stack.map(drop).kind().err(), Some(ErrorKind::InvalidInput));
}
