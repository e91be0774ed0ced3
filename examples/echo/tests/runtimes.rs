//! One generic program, several runtimes: the same echo server and client, unchanged,
//! on tokio and on smol, over IPv4 and IPv6, with half-close (every exchange ends
//! with one) and abort.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::pin::pin;

use portnet::future::join;
use portnet::{ErrorKind, TcpConnect, TcpListen, TcpListener, TcpStream, WriteExt};
use portnet_echo::{EchoError, exchange, serve, serve_connection};

/// The whole check, written once against the traits.
async fn check_echo<S: TcpConnect + TcpListen>(stack: &S) {
    for ip in [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let listener = stack.listen(SocketAddr::new(ip, 0)).await.expect("listen");
        let addr = listener.local_addr().expect("listener address");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i ^ (i >> 9)) as u8).collect();
        let mut buf = [0u8; 700];
        let (served, exchanged) = join(
            pin!(serve(&listener, 2, &mut buf)),
            pin!(async {
                exchange(stack, addr, &data).await?;
                exchange(stack, addr, &[]).await
            }),
        )
        .await;
        exchanged.expect("exchange");
        assert_eq!(served.expect("serve"), data.len() as u64, "over {ip}");

        // An aborted client: the server sees a reset, not a clean end.
        let (accepted, connected) = join(pin!(listener.accept()), pin!(stack.connect(addr))).await;
        let (server_side, _) = accepted.expect("accept");
        let mut client = connected.expect("connect");
        client.write_all(b"never answered").await.expect("write");
        client.abort();
        let mut buf = [0u8; 64];
        match serve_connection(server_side, &mut buf).await {
            Err(EchoError::Stack(ErrorKind::ConnectionReset | ErrorKind::BrokenPipe)) => {}
            other => panic!("the server did not see the abort as a reset: {other:?}"),
        }
    }
}

#[test]
fn on_tokio() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(check_echo(&portnet_tokio::Tokio::new()));
}

#[test]
fn on_smol() {
    async_io::block_on(check_echo(&portnet_smol::Smol::new()));
}

#[test]
fn on_async_std() {
    async_std::task::block_on(check_echo(&portnet_async_std::AsyncStd::new()));
}
