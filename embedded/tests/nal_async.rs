//! The embedded-nal-async adapters over real loopback sockets, both directions.

#![cfg(feature = "embedded-nal-async")]

use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;

use embedded_io_async::{Read as _, Write as _};
use embedded_nal_async::{ConnectedUdp, UdpStack as _, UnconnectedUdp};
use portnet::{Error as _, ErrorKind, UdpBind as _, UdpSocket as _, UdpSocketExt as _};
use portnet_embedded::{EmbeddedNal, PortnetTcp, PortnetUdp, WakePolicy};
use portnet_tokio::Tokio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

const DEADLINE: Duration = Duration::from_secs(10);

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

#[tokio::test]
async fn portnet_stack_as_embedded_nal_async_tcp() {
    tokio::time::timeout(DEADLINE, async {
        let listener = TcpListener::bind(localhost(0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 5];
            conn.read_exact(&mut buf).await.unwrap();
            conn.write_all(&buf).await.unwrap();
            let mut rest = Vec::new();
            conn.read_to_end(&mut rest).await.unwrap();
            rest.len()
        });

        let stack = Tokio::new();
        let nal = EmbeddedNal::new(&stack);
        let mut conn = embedded_nal_async::TcpConnect::connect(&nal, addr)
            .await
            .unwrap();
        conn.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        conn.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        conn.close().await.unwrap();
        assert_eq!(peer.await.unwrap(), 0);

        // A refused connection keeps its kind on the embedded side.
        let closed = TcpListener::bind(localhost(0)).await.unwrap();
        let closed_addr = closed.local_addr().unwrap();
        drop(closed);
        let err = embedded_nal_async::TcpConnect::connect(&nal, closed_addr)
            .await
            .unwrap_err();
        assert_eq!(
            embedded_io::Error::kind(&err),
            embedded_io::ErrorKind::ConnectionRefused
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn portnet_stack_as_embedded_nal_async_udp() {
    tokio::time::timeout(DEADLINE, async {
        let peer = UdpSocket::bind(localhost(0)).await.unwrap();
        let peer_addr = peer.local_addr().unwrap();
        let stack = Tokio::new();
        let nal = EmbeddedNal::new(&stack);

        // Unconnected: send to the peer, receive its answer with both addresses.
        let (local, mut socket) = nal.bind_single(localhost(0)).await.unwrap();
        assert_ne!(local.port(), 0);
        UnconnectedUdp::send(&mut socket, local, peer_addr, b"ping")
            .await
            .unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = peer.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], local));
        peer.send_to(b"pong!", local).await.unwrap();
        let (n, to, from) = UnconnectedUdp::receive_into(&mut socket, &mut buf)
            .await
            .unwrap();
        assert_eq!((&buf[..n], to, from), (&b"pong!"[..], local, peer_addr));

        // Connected: only the peer's datagrams arrive.
        let (local, mut connected) = nal.connect_from(localhost(0), peer_addr).await.unwrap();
        let stranger = UdpSocket::bind(localhost(0)).await.unwrap();
        stranger.send_to(b"noise", local).await.unwrap();
        ConnectedUdp::send(&mut connected, b"hi").await.unwrap();
        let (n, from) = peer.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hi"[..], local));
        peer.send_to(b"yo", local).await.unwrap();
        let n = ConnectedUdp::receive_into(&mut connected, &mut buf)
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"yo");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn embedded_nal_async_stack_as_portnet() {
    use portnet::{ReadExt as _, TcpConnect as _, TcpStream as _, WriteExt as _};
    tokio::time::timeout(DEADLINE, async {
        let listener = TcpListener::bind(localhost(0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 3];
            conn.read_exact(&mut buf).await.unwrap();
            conn.write_all(&buf).await.unwrap();
        });
        let stack = PortnetTcp::new(std_embedded_nal_async::Stack::default());
        let mut conn = stack.connect(addr).await.unwrap();
        assert_eq!(conn.peer_addr().unwrap(), addr);
        assert_eq!(
            conn.local_addr().unwrap_err().kind(),
            ErrorKind::Unsupported
        );
        conn.write_all(b"abc").await.unwrap();
        let mut buf = [0u8; 3];
        conn.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"abc");
        peer.await.unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(conn.read(&mut byte).await.unwrap(), 0, "EOF from the peer");

        let err = stack
            .connect(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 80)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);

        // UDP, with the policy std-embedded-nal-async's UDP futures need.
        let udp =
            PortnetUdp::with_policy(std_embedded_nal_async::Stack::default(), WakePolicy::Rewake);
        let socket = udp.bind(localhost(0)).await.unwrap();
        let local = socket.local_addr().unwrap();
        let tokio_peer = UdpSocket::bind(localhost(0)).await.unwrap();
        socket
            .send_to(b"datagram", tokio_peer.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = tokio_peer.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"datagram"[..], local));
        tokio_peer.send_to(b"reply", local).await.unwrap();
        let (n, from) = socket.recv_from(&mut buf).await.unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"reply"[..], tokio_peer.local_addr().unwrap())
        );
    })
    .await
    .unwrap();
}
