//! What the conformance suite does not cover on the tokio backend: DNS, options,
//! input validation.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;

use portnet::{
    AddrFamily, Dns, Error, ErrorKind, SocketOption, SocketOptionName, SocketOptions, TcpConnect,
    TcpListen, TcpListener, TcpStream, UdpBind, UdpSocket,
};
use portnet_tokio::Tokio;

#[tokio::test]
async fn resolves_literals_and_localhost() {
    let stack = Tokio::new();
    assert_eq!(
        stack.resolve("192.0.2.7", AddrFamily::Any).await.unwrap(),
        IpAddr::from([192, 0, 2, 7])
    );
    assert_eq!(
        stack.resolve("::1", AddrFamily::Ipv6).await.unwrap(),
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    );
    let wrong_family = stack.resolve("::1", AddrFamily::Ipv4).await.unwrap_err();
    assert_eq!(Error::kind(&wrong_family), ErrorKind::NameNotResolved);
    let local = stack.resolve("localhost", AddrFamily::Any).await.unwrap();
    assert!(local.is_loopback(), "localhost resolved to {local}");
}

#[tokio::test]
async fn rejects_invalid_names_without_asking_the_resolver() {
    let stack = Tokio::new();
    for name in ["", "bad name", "-leading.example", &"a".repeat(64)] {
        let err = stack.resolve(name, AddrFamily::Any).await.unwrap_err();
        assert_eq!(Error::kind(&err), ErrorKind::InvalidInput, "name {name:?}");
    }
}

#[tokio::test]
async fn tcp_options_are_typed_and_read_back() {
    let stack = Tokio::new();
    let listener = stack.listen((Ipv4Addr::LOCALHOST, 0).into()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (conn, _) = tokio::join!(stack.connect(addr), listener.accept());
    let conn = conn.unwrap();
    conn.set_option(SocketOption::NoDelay(true)).unwrap();
    assert_eq!(
        conn.option(SocketOptionName::NoDelay).unwrap(),
        SocketOption::NoDelay(true)
    );
    conn.set_option(SocketOption::Ttl(17)).unwrap();
    assert_eq!(
        conn.option(SocketOptionName::Ttl).unwrap(),
        SocketOption::Ttl(17)
    );
    let idle = Duration::from_secs(30);
    conn.set_option(SocketOption::KeepAlive(Some(idle)))
        .unwrap();
    assert_eq!(
        conn.option(SocketOptionName::KeepAlive).unwrap(),
        SocketOption::KeepAlive(Some(idle))
    );
    let err = conn.set_option(SocketOption::Broadcast(true)).unwrap_err();
    assert_eq!(
        Error::kind(&err),
        ErrorKind::Unsupported,
        "broadcast is a UDP option"
    );
    let err = conn.set_option(SocketOption::Ttl(0)).unwrap_err();
    assert_eq!(Error::kind(&err), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn udp_options_and_invalid_destinations() {
    let stack = Tokio::new();
    let socket = stack.bind((Ipv4Addr::LOCALHOST, 0).into()).await.unwrap();
    socket.set_option(SocketOption::Broadcast(true)).unwrap();
    assert_eq!(
        socket.option(SocketOptionName::Broadcast).unwrap(),
        SocketOption::Broadcast(true)
    );
    let err = socket.option(SocketOptionName::NoDelay).unwrap_err();
    assert_eq!(Error::kind(&err), ErrorKind::Unsupported);
    let unspecified = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 9));
    let err = core::future::poll_fn(|cx| socket.poll_send_to(cx, b"x", unspecified))
        .await
        .unwrap_err();
    assert_eq!(Error::kind(&err), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn connect_rejects_unspecified_and_port_zero() {
    let stack = Tokio::new();
    for addr in [
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 80)),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    ] {
        let err = stack.connect(addr).await.unwrap_err();
        assert_eq!(Error::kind(&err), ErrorKind::InvalidInput, "{addr}");
    }
}

#[tokio::test]
async fn connects_to_a_named_endpoint() {
    use portnet::net::Endpoint;
    let stack = Tokio::new();
    let listener = stack.listen((Ipv4Addr::LOCALHOST, 0).into()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let text = format!("localhost:{port}");
    let endpoint = Endpoint::parse(&text).unwrap();
    // `localhost` may resolve to ::1 first on some hosts; listen on both then.
    let v6 = stack.listen((Ipv6Addr::LOCALHOST, port).into()).await.ok();
    let (connected, _) = tokio::join!(portnet::connect_endpoint(&stack, &endpoint), async {
        tokio::select! {
            a = listener.accept() => a.map(|_| ()),
            b = async { match &v6 { Some(l) => l.accept().await.map(|_| ()), None => core::future::pending().await } } => b,
        }
    });
    let conn = connected.unwrap();
    assert_eq!(conn.peer_addr().unwrap().port(), port);
}
