//! edge-nal over portnet: edge-http's server, unmodified, serving from a portnet
//! listener (tokio here) to a real HTTP client on loopback; UDP and DNS through
//! the adapter against real sockets.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use core::fmt::{Debug, Display};
use std::net::{Ipv4Addr, SocketAddr};

use edge_http::Method;
use edge_http::io::Error as HttpError;
use edge_http::io::server::{Connection, Handler, Server};
use edge_nal::{Readable as _, UdpReceive as _, UdpSend as _};
use embedded_io_async::{Read, Write};
use portnet_embedded::EdgeNal;
use portnet_tokio::Tokio;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[path = "support/host_time.rs"]
mod host_time;

/// Answers `GET /hello` with a greeting, anything else with 404.
struct Hello;

impl Handler for Hello {
    type Error<E>
        = HttpError<E>
    where
        E: Debug;

    async fn handle<T, const N: usize>(
        &self,
        _task_id: impl Display + Copy,
        connection: &mut Connection<'_, T, N>,
    ) -> Result<(), Self::Error<T::Error>>
    where
        T: Read + Write + edge_nal::TcpSplit,
    {
        let headers = connection.headers()?;
        if headers.method == Method::Get && headers.path == "/hello" {
            connection
                .initiate_response(200, Some("OK"), &[("Content-Type", "text/plain")])
                .await?;
            connection
                .write_all(b"hello from edge-http on portnet")
                .await?;
        } else {
            connection
                .initiate_response(404, Some("Not Found"), &[])
                .await?;
        }
        Ok(())
    }
}

async fn get(addr: SocketAddr, path: &str) -> String {
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    client.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    client.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn edge_http_server_on_a_portnet_listener() {
    let stack = Tokio::new();
    let edge = EdgeNal::new(&stack);
    let acceptor = edge_nal::TcpBind::bind(&edge, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let addr = portnet::TcpListener::local_addr(acceptor.get_ref()).unwrap();
    // Two handler tasks: two `accept` futures pending on one portnet listener.
    let mut server = Box::new(Server::<2, 2048, 16>::new());
    let serving = server.run(None, acceptor, Hello);
    let clients = async {
        let (ok, missing) = tokio::join!(get(addr, "/hello"), get(addr, "/nothing"));
        (ok, missing)
    };
    tokio::select! {
        result = serving => panic!("the server stopped: {result:?}"),
        (ok, missing) = clients => {
            assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
            assert!(ok.ends_with("hello from edge-http on portnet"), "{ok}");
            assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        }
    }
}

#[tokio::test]
async fn udp_readable_then_receive_keeps_the_datagram_and_its_length() {
    let stack = Tokio::new();
    let edge = EdgeNal::new(&stack);
    let mut socket = edge_nal::UdpBind::bind(&edge, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let addr = portnet::UdpSocket::local_addr(socket.get_ref()).unwrap();
    let peer = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    peer.send_to(b"ping with a tail", addr).await.unwrap();
    socket.readable().await.unwrap();
    // A short buffer after `readable`: the full length is still reported.
    let mut buf = [0u8; 4];
    let (n, from) = socket.receive(&mut buf).await.unwrap();
    assert_eq!((n, &buf), (16, b"ping"));
    assert_eq!(from, peer.local_addr().unwrap());
    socket.send(from, b"pong").await.unwrap();
    let mut back = [0u8; 8];
    let (n, _) = peer.recv_from(&mut back).await.unwrap();
    assert_eq!(&back[..n], b"pong");
}

#[tokio::test]
async fn dns_through_the_adapter() {
    use edge_nal::Dns as _;
    let stack = Tokio::new();
    let edge = EdgeNal::new(&stack);
    let ip = edge
        .get_host_by_name("127.0.0.1", edge_nal::AddrType::Either)
        .await
        .unwrap();
    assert_eq!(ip, std::net::IpAddr::from(Ipv4Addr::LOCALHOST));
    let err = edge
        .get_host_by_name("not a name", edge_nal::AddrType::IPv4)
        .await
        .unwrap_err();
    assert_eq!(err.portnet_kind(), portnet::ErrorKind::InvalidInput);
    let mut name = [0u8; 64];
    let err = edge
        .get_host_by_address(Ipv4Addr::LOCALHOST.into(), &mut name)
        .await
        .unwrap_err();
    assert_eq!(err.portnet_kind(), portnet::ErrorKind::Unsupported);
}

/// A std echo server for one connection: echoes until EOF, then closes.
fn echo_server() -> (SocketAddr, std::thread::JoinHandle<usize>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let mut total = 0;
        loop {
            let n = conn.read(&mut buf).unwrap();
            if n == 0 {
                return total;
            }
            conn.write_all(&buf[..n]).unwrap();
            total += n;
        }
    });
    (addr, server)
}

#[test]
fn a_portnet_client_on_edge_nal_std_with_half_close() {
    use core::pin::pin;
    use portnet::{ReadExt as _, TcpConnect as _, TcpStream as _, WriteExt as _};
    let (addr, server) = echo_server();
    let stack = portnet_embedded::PortnetEdge::new(edge_nal_std::Stack::new());
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let echoed = async_io::block_on(async {
        let mut conn = stack.connect(addr).await.unwrap();
        assert_eq!(conn.peer_addr().unwrap(), addr);
        let (mut reader, mut writer) = conn.split();
        let send = pin!(async {
            for chunk in data.chunks(1400) {
                writer.write_all(chunk).await.unwrap();
            }
            // A real FIN through edge-nal's TcpShutdown: the server sees EOF.
            writer.close().await.unwrap();
            // Writing after the close is refused, not lost.
            let err = writer.write(b"late").await.unwrap_err();
            assert_eq!(portnet::Error::kind(&err), portnet::ErrorKind::BrokenPipe);
        });
        let receive = pin!(async {
            let mut echoed = vec![0u8; data.len() + 1];
            let n = reader.read_to_end(&mut echoed).await.unwrap();
            echoed.truncate(n);
            echoed
        });
        portnet::future::join(send, receive).await.1
    });
    assert_eq!(echoed, data);
    assert_eq!(server.join().unwrap(), data.len());
}

#[test]
fn edge_nal_std_refusal_and_bad_input_keep_their_kinds() {
    use portnet::TcpConnect as _;
    let stack = portnet_embedded::PortnetEdge::new(edge_nal_std::Stack::new());
    let closed = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let kind = |r: Result<_, portnet_embedded::PortnetError<std::io::Error>>| {
        portnet::Error::kind(&r.map(drop).unwrap_err())
    };
    async_io::block_on(async {
        assert_eq!(
            kind(stack.connect(addr).await),
            portnet::ErrorKind::ConnectionRefused
        );
        let unspecified = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 80));
        assert_eq!(
            kind(stack.connect(unspecified).await),
            portnet::ErrorKind::InvalidInput
        );
    });
}
