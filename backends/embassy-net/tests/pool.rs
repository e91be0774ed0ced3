//! What the conformance row does not reach: the pool's limits and errors.
//!
//! Each test builds a small [`EmbassyStack`] of its own over the embassy-net
//! stack of the runner's `EmbassyNetHarness` (its socket set has room for four
//! more sockets than the row's pool), and runs in the harness's virtual time,
//! with portnet's smoltcp backend as the peer.

use core::net::SocketAddr;
use core::time::Duration;

use portnet::{
    Clock, Error as _, ErrorKind, ListenOptions, ReadExt, SocketOptionName, SocketOptions,
    TcpConnect, TcpListen, TcpListener, TcpStream, UdpBind, UdpSocket, UdpSocketExt, WriteExt,
};
use portnet_conformance::{Family, Harness};
use portnet_conformance_runner::embassy::EmbassyNetHarness;
use portnet_embassy_net::{EmbassyStack, Error, Resources};

/// A pool of `TCP` and `UDP` sockets over the harness's embassy-net stack.
fn small<const TCP: usize, const UDP: usize>(
    harness: &EmbassyNetHarness,
) -> EmbassyStack<'static, TCP, UDP> {
    let resources: &'static mut Resources<TCP, UDP, 2048, 512, 2> =
        Box::leak(Box::new(Resources::new()));
    EmbassyStack::new(harness.stack().stack(), resources)
}

fn peer_addr(harness: &EmbassyNetHarness, port: u16) -> SocketAddr {
    SocketAddr::new(harness.peer_ip(Family::V4).unwrap(), port)
}

fn stack_addr(harness: &EmbassyNetHarness, port: u16) -> SocketAddr {
    SocketAddr::new(harness.stack_ip(Family::V4).unwrap(), port)
}

/// Sleeps in virtual time until `done`, at most 10 s; whether it got there.
async fn until(harness: &EmbassyNetHarness, done: impl Fn() -> bool) -> bool {
    let clock = harness.clock();
    let deadline = clock.now() + Duration::from_secs(10);
    while !done() {
        if clock.now() >= deadline {
            return false;
        }
        clock
            .sleep_until(clock.now() + Duration::from_millis(10))
            .await;
    }
    true
}

#[test]
fn connect_on_a_full_pool_is_out_of_resources_until_a_socket_is_back() {
    let harness = EmbassyNetHarness::default();
    let stack = small::<1, 0>(&harness);
    let peer = harness.peer();
    harness.run(async {
        let listener = peer.listen(peer_addr(&harness, 7000)).await.unwrap();
        let first = stack.connect(peer_addr(&harness, 7000)).await.unwrap();
        let (_accepted, _) = listener.accept().await.unwrap();
        assert_eq!(stack.sockets_in_use(), 1);

        let second = stack.connect(peer_addr(&harness, 7000)).await;
        let e = second.expect_err("a second connect on a pool of one");
        assert_eq!(e, Error::NoSocket);
        assert_eq!(e.kind(), ErrorKind::OutOfResources);

        // An aborted connection's socket is free once the reset is out.
        first.abort();
        assert!(until(&harness, || stack.sockets_in_use() == 0).await);
        let third = stack.connect(peer_addr(&harness, 7000)).await;
        assert!(third.is_ok(), "{third:?}");
    });
}

#[test]
fn a_listener_takes_what_the_pool_has_and_fails_only_on_none() {
    let harness = EmbassyNetHarness::default();
    let stack = small::<2, 0>(&harness);
    harness.run(async {
        // A backlog of 8 on a pool of 2: both sockets listen.
        let options = ListenOptions::new().backlog(8);
        let listener = stack
            .listen_with(stack_addr(&harness, 7001), options)
            .await
            .unwrap();
        assert_eq!(stack.sockets_in_use(), 2);

        let e = stack.listen(stack_addr(&harness, 7002)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfResources);
        let e = stack.connect(peer_addr(&harness, 7)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfResources);

        // Dropping the listener gives its sockets back.
        drop(listener);
        assert!(until(&harness, || stack.sockets_in_use() == 0).await);
        assert!(stack.listen(stack_addr(&harness, 7002)).await.is_ok());
    });
}

#[test]
fn an_accepted_connection_carries_data_and_its_socket_comes_back() {
    let harness = EmbassyNetHarness::default();
    let stack = small::<2, 0>(&harness);
    let peer = harness.peer();
    harness.run(async {
        let listener = stack.listen(stack_addr(&harness, 0)).await.unwrap();
        let local = listener.local_addr().unwrap();
        // Port 0: the adapter's own ephemeral port.
        assert!(local.port() >= 50_000, "{local}");
        let target = SocketAddr::new(harness.stack_ip(Family::V4).unwrap(), local.port());
        let client = async {
            let mut conn = peer.connect(target).await.unwrap();
            conn.write_all(b"ping").await.unwrap();
            conn.close().await.unwrap();
            let mut buf = [0; 4];
            conn.read_exact(&mut buf).await.unwrap();
            buf
        };
        let server = async {
            let (mut conn, from) = listener.accept().await.unwrap();
            assert_eq!(from.ip(), harness.peer_ip(Family::V4).unwrap());
            let mut buf = [0; 4];
            conn.read_exact(&mut buf).await.unwrap();
            assert_eq!(conn.read(&mut buf).await.unwrap(), 0);
            conn.write_all(b"pong").await.unwrap();
            conn.close().await.unwrap();
        };
        let (reply, ()) = portnet::future::join(Box::pin(client), Box::pin(server)).await;
        assert_eq!(&reply, b"pong");
        drop(listener);
        assert!(until(&harness, || stack.sockets_in_use() == 0).await);
    });
}

#[test]
fn udp_bind_on_a_full_pool_is_out_of_resources_and_a_drop_frees_the_port() {
    let harness = EmbassyNetHarness::default();
    let stack = small::<0, 1>(&harness);
    harness.run(async {
        let local = stack_addr(&harness, 7003);
        let socket = stack.bind(local).await.unwrap();
        assert_eq!(socket.local_addr().unwrap(), local);
        let e = stack.bind(stack_addr(&harness, 7004)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfResources);
        drop(socket);
        assert_eq!(stack.sockets_in_use(), 0);
        assert!(stack.bind(local).await.is_ok());
    });
}

#[test]
fn an_empty_pool_refuses_everything_with_out_of_resources() {
    let harness = EmbassyNetHarness::default();
    let stack = small::<0, 0>(&harness);
    harness.run(async {
        let kinds = [
            stack
                .connect(peer_addr(&harness, 7))
                .await
                .err()
                .map(|e| e.kind()),
            stack
                .listen(stack_addr(&harness, 7))
                .await
                .err()
                .map(|e| e.kind()),
            stack
                .bind(stack_addr(&harness, 7))
                .await
                .err()
                .map(|e| e.kind()),
        ];
        assert_eq!(kinds, [Some(ErrorKind::OutOfResources); 3]);
    });
}

#[test]
fn options_are_unsupported_not_ignored() {
    let harness = EmbassyNetHarness::default();
    let stack = small::<0, 1>(&harness);
    harness.run(async {
        let socket = stack.bind(stack_addr(&harness, 0)).await.unwrap();
        let e = socket.option(SocketOptionName::NoDelay).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
    });
}

#[test]
fn a_connected_udp_socket_hears_only_its_peer() {
    let harness = EmbassyNetHarness::default();
    let stack = small::<0, 1>(&harness);
    let peer = harness.peer();
    harness.run(async {
        let mut socket = stack.bind(stack_addr(&harness, 7005)).await.unwrap();
        let chosen = peer.bind(peer_addr(&harness, 7006)).await.unwrap();
        let other = peer.bind(peer_addr(&harness, 7007)).await.unwrap();
        socket.connect(peer_addr(&harness, 7006)).unwrap();
        let to = stack_addr(&harness, 7005);
        other.send_to(b"no", to).await.unwrap();
        chosen.send_to(b"yes", to).await.unwrap();
        let mut buf = [0; 8];
        let (n, from) = socket.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"yes"[..], peer_addr(&harness, 7006)));
    });
}

#[test]
fn errors_say_what_happened() {
    assert_eq!(
        Error::NoSocket.to_string(),
        "no free socket in the adapter's pool"
    );
}
