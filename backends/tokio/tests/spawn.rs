//! Generic code that spawns its own tasks on the multi-threaded runtime, through
//! the `portnet::send` traits: a fan-out client and an accept-and-spawn server,
//! written against the traits only and instantiated with `Tokio`. That these
//! compile is half the test (the futures spawned from generic code are `Send`);
//! the other half is that they serve and fetch real bytes over loopback.

use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;

use portnet::send::{Clock, Dns, TcpConnect, TcpListen, TcpListener};
use portnet::{ErrorKind, ReadExt, TcpStream as _, WriteExt};
use portnet_tokio::Tokio;

/// Connects to `endpoint` within a deadline from the stack's clock, sends
/// `request` and half-closes, and returns the whole answer.
async fn fetch<S>(stack: S, endpoint: String, request: Vec<u8>) -> Result<Vec<u8>, S::Error>
where
    S: TcpConnect + Dns + Clock,
{
    let endpoint = portnet::net::Endpoint::parse(&endpoint).map_err(|_| ErrorKind::InvalidInput)?;
    let connecting = portnet::send::connect_endpoint(&stack, &endpoint);
    let mut conn = portnet::send::timeout(&stack, Duration::from_secs(10), connecting)
        .await
        .map_err(ErrorKind::from)??;
    conn.write_all(&request).await?;
    conn.close().await?;
    let mut answer = vec![0u8; 4096];
    let n = conn.read_to_end(&mut answer).await?;
    answer.truncate(n);
    Ok(answer)
}

/// The snippet: one spawned task per endpoint, from generic code.
async fn fan_out<S>(stack: S, endpoints: Vec<String>) -> Vec<Result<Vec<u8>, S::Error>>
where
    S: TcpConnect + Dns + Clock + Clone + 'static,
{
    let tasks: Vec<_> = endpoints
        .into_iter()
        .enumerate()
        .map(|(i, endpoint)| {
            let request = format!("request {i}").into_bytes();
            tokio::spawn(fetch(stack.clone(), endpoint, request))
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("the fetch task panicked"));
    }
    results
}

/// A generic server: accepts `connections` connections and spawns a task per
/// connection that answers with the request reversed.
async fn serve<L>(listener: L, connections: usize) -> Result<usize, L::Error>
where
    L: TcpListener,
{
    let mut handlers = Vec::new();
    for _ in 0..connections {
        let (mut conn, _peer) = listener.accept().await?;
        handlers.push(tokio::spawn(async move {
            let mut request = [0u8; 256];
            let n = conn.read_to_end(&mut request).await?;
            request[..n].reverse();
            conn.write_all(&request[..n]).await?;
            conn.close().await?;
            Ok::<usize, L::Error>(n)
        }));
    }
    let mut served = 0;
    for handler in handlers {
        served += handler.await.expect("a handler panicked")?;
    }
    Ok(served)
}

async fn listen<S: TcpListen>(stack: &S) -> Result<S::Listener<'_>, S::Error> {
    stack
        .listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_fan_out_and_accept_and_spawn_server_on_the_multi_threaded_runtime() {
    let stack = Tokio::new();
    let listener = listen(&stack).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve(listener, 3));
    // A name (through the resolver), an IPv4 literal (no query), and a name again.
    let endpoints = vec![
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
    ];
    let results = fan_out(stack, endpoints).await;
    for (i, result) in results.into_iter().enumerate() {
        let mut expected = format!("request {i}").into_bytes();
        expected.reverse();
        assert_eq!(result.unwrap(), expected, "answer {i}");
    }
    let served = server.await.unwrap().unwrap();
    assert_eq!(served, "request 0".len() * 3);
}

/// Tokio with a resolver that answers every name with two loopback addresses:
/// 127.0.0.2 first (nothing listens there: refused), then 127.0.0.1.
#[derive(Debug, Clone, Copy)]
struct TwoAddresses(Tokio);

impl portnet::ErrorType for TwoAddresses {
    type Error = std::io::Error;
}

impl portnet::Dns for TwoAddresses {
    async fn resolve(&self, _: &str, _: portnet::AddrFamily) -> std::io::Result<core::net::IpAddr> {
        Ok(Ipv4Addr::new(127, 0, 0, 2).into())
    }
    async fn resolve_all(
        &self,
        _: &str,
        _: portnet::AddrFamily,
        out: &mut [core::net::IpAddr],
    ) -> std::io::Result<usize> {
        out[0] = Ipv4Addr::new(127, 0, 0, 2).into();
        out[1] = Ipv4Addr::LOCALHOST.into();
        Ok(2)
    }
}

impl portnet::TcpConnect for TwoAddresses {
    type Connection<'a> = portnet_tokio::Connection;
    async fn connect(&self, remote: SocketAddr) -> std::io::Result<portnet_tokio::Connection> {
        portnet::TcpConnect::connect(&self.0, remote).await
    }
}

#[tokio::test]
async fn connect_endpoint_tries_the_next_address_after_a_refusal() {
    let stack = TwoAddresses(Tokio::new());
    let listener = listen(&stack.0).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve(listener, 1));
    let endpoint = format!("server.test:{port}");
    let endpoint = portnet::net::Endpoint::parse(&endpoint).unwrap();
    let mut conn = portnet::connect_endpoint(&stack, &endpoint).await.unwrap();
    assert_eq!(
        conn.peer_addr().unwrap(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    );
    conn.write_all(b"abc").await.unwrap();
    conn.close().await.unwrap();
    let mut answer = [0u8; 8];
    let n = conn.read_to_end(&mut answer).await.unwrap();
    assert_eq!(&answer[..n], b"cba");
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn connect_endpoint_returns_the_last_error_when_every_address_fails() {
    let stack = TwoAddresses(Tokio::new());
    // A port nothing listens on, on both addresses.
    let closed = listen(&stack.0).await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let endpoint = format!("server.test:{port}");
    let endpoint = portnet::net::Endpoint::parse(&endpoint).unwrap();
    let err = portnet::connect_endpoint(&stack, &endpoint)
        .await
        .unwrap_err();
    assert_eq!(portnet::Error::kind(&err), ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn an_ip_literal_needs_no_resolver() {
    let stack = portnet::NoDns(Tokio::new());
    let listener = listen(&stack.0).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve(listener, 1));
    let literal = format!("127.0.0.1:{port}");
    let mut conn =
        portnet::connect_endpoint(&stack, &portnet::net::Endpoint::parse(&literal).unwrap())
            .await
            .unwrap();
    conn.close().await.unwrap();
    server.await.unwrap().unwrap();
    let name = format!("localhost:{port}");
    let err = portnet::connect_endpoint(&stack, &portnet::net::Endpoint::parse(&name).unwrap())
        .await
        .unwrap_err();
    assert_eq!(portnet::Error::kind(&err), ErrorKind::Unsupported);
}

/// `NoDns` around a stack keeps its futures `Send`: the generic fan-out above,
/// spawned on the multi-threaded runtime, takes `NoDns<Tokio>` with IP literals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_dns_keeps_the_send_traits() {
    let stack = portnet::NoDns(Tokio::new());
    let listener = listen(&stack.0).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve(listener, 2));
    let endpoints = vec![format!("127.0.0.1:{port}"), format!("127.0.0.1:{port}")];
    for (i, result) in fan_out(stack, endpoints).await.into_iter().enumerate() {
        let mut expected = format!("request {i}").into_bytes();
        expected.reverse();
        assert_eq!(result.unwrap(), expected, "answer {i}");
    }
    server.await.unwrap().unwrap();
}

/// A UDP client of one server by name or literal, spawned from generic code:
/// `send::bind_endpoint` connects the socket, `send`/`recv` talk to the server.
async fn ask<S>(stack: S, endpoint: String, question: Vec<u8>) -> Result<Vec<u8>, S::Error>
where
    S: portnet::send::UdpBind + Dns + Clock,
{
    use portnet::UdpSocketExt;
    let endpoint = portnet::net::Endpoint::parse(&endpoint).map_err(|_| ErrorKind::InvalidInput)?;
    let socket = portnet::send::bind_endpoint(&stack, &endpoint).await?;
    socket.send(&question).await?;
    let mut answer = [0u8; 64];
    let n = portnet::send::timeout(&stack, Duration::from_secs(10), socket.recv(&mut answer))
        .await
        .map_err(ErrorKind::from)??;
    Ok(answer[..n.min(answer.len())].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_endpoint_connects_a_udp_socket_by_name_and_by_literal() {
    use portnet::{UdpSocket as _, UdpSocketExt as _};
    let stack = Tokio::new();
    let server = portnet::UdpBind::bind(&stack, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let port = server.local_addr().unwrap().port();
    let echo = tokio::spawn(async move {
        for _ in 0..2 {
            let mut buf = [0u8; 64];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            buf[..n].reverse();
            server.send_to(&buf[..n], from).await.unwrap();
        }
    });
    for endpoint in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let task = tokio::spawn(ask(stack, endpoint.clone(), b"ping".to_vec()));
        assert_eq!(task.await.unwrap().unwrap(), b"gnip", "{endpoint}");
    }
    echo.await.unwrap();
    // A name without a resolver is not a guess.
    let name = portnet::net::Endpoint::parse("localhost:9").unwrap();
    let err = portnet::bind_endpoint(&portnet::NoDns(stack), &name)
        .await
        .unwrap_err();
    assert_eq!(portnet::Error::kind(&err), ErrorKind::Unsupported);
}
