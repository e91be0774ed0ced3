//! The generic echo server and client on the tokio backend, over IPv4 and IPv6
//! loopback, with half-close and abort.

use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use portnet::{ErrorKind, ReadExt, TcpConnect, TcpListen, TcpListener, TcpStream, WriteExt};
use portnet_echo::{EchoError, exchange, serve, serve_connection};
use portnet_tokio::Tokio;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

async fn echo_round_trip(local: SocketAddr, len: usize) {
    let stack = Tokio::new();
    let listener = stack.listen(local).await.expect("listen");
    let server = listener.local_addr().expect("local addr");
    assert_ne!(server.port(), 0, "ephemeral port reported");
    let data = pattern(len);
    let mut buf = [0u8; 1024];
    let (served, exchanged) = tokio::join!(
        serve(&listener, 1, &mut buf),
        exchange(&stack, server, &data)
    );
    exchanged.expect("exchange");
    assert_eq!(served.expect("serve"), len as u64);
}

#[tokio::test]
async fn echo_ipv4() {
    echo_round_trip(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), 1 << 20).await;
}

#[tokio::test]
async fn echo_ipv6() {
    echo_round_trip(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)), 1 << 20).await;
}

#[tokio::test]
async fn echo_empty_stream_is_only_a_half_close() {
    echo_round_trip(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), 0).await;
}

/// The server keeps writing after the client half-closed: the half-close only ends
/// the client's direction.
#[tokio::test]
async fn half_close_keeps_the_other_direction_open() {
    let stack = Tokio::new();
    let listener = stack.listen((Ipv6Addr::LOCALHOST, 0).into()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(conn.read(&mut buf).await.unwrap(), 0, "client half-closed");
        conn.write_all(b"still open").await.unwrap();
        conn.close().await.unwrap();
    };
    let client = async {
        let mut conn = stack.connect(addr).await.unwrap();
        conn.close().await.unwrap();
        conn.close().await.expect("close is idempotent");
        let mut buf = [0u8; 10];
        conn.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still open");
        assert_eq!(conn.read(&mut buf).await.unwrap(), 0);
        assert_eq!(conn.read(&mut buf).await.unwrap(), 0, "EOF is sticky");
        let err = conn.write(b"x").await.unwrap_err();
        // `io::Error` has an inherent `kind()`; the portnet kind is asked for by path.
        assert_eq!(portnet::Error::kind(&err), ErrorKind::BrokenPipe);
    };
    tokio::join!(server, client);
}

/// An aborted client makes the echo server fail with `ConnectionReset`.
#[tokio::test]
async fn abort_resets_the_server_side() {
    let stack = Tokio::new();
    let listener = stack.listen((Ipv4Addr::LOCALHOST, 0).into()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (accepted, client) = tokio::join!(listener.accept(), stack.connect(addr));
    let (server_conn, peer) = accepted.unwrap();
    let mut client = client.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(client.peer_addr().unwrap(), addr);
    client.write_all(b"unanswered").await.unwrap();
    client.abort();
    let mut buf = [0u8; 64];
    let result = serve_connection(server_conn, &mut buf).await;
    match result {
        Err(EchoError::Stack(kind)) => {
            assert!(
                matches!(kind, ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
                "unexpected kind {kind:?}"
            );
        }
        other => panic!("server did not see the reset: {other:?}"),
    }
}

/// A generic library's future is `Send` when the stack's are: it can be spawned on
/// the multi-threaded runtime. This test fails to compile otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_library_spawns_on_multi_threaded_runtime() {
    let stack = Tokio::new();
    let listener = stack.listen((Ipv4Addr::LOCALHOST, 0).into()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut buf = [0u8; 256];
        serve(&listener, 2, &mut buf).await
    });
    let data = pattern(100_000);
    let client = tokio::spawn(async move {
        let stack = Tokio::new();
        exchange(&stack, addr, &data).await?;
        exchange(&stack, addr, &data).await
    });
    client.await.unwrap().unwrap();
    assert_eq!(server.await.unwrap().unwrap(), 200_000);
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn echo_futures_are_send_on_tokio() {
    let stack = Tokio::new();
    let addr: SocketAddr = (Ipv4Addr::LOCALHOST, 1).into();
    assert_send(&exchange(&stack, addr, b"x"));
}
