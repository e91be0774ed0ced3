//! UDP cases: binding, addresses, datagram boundaries, truncation, connected
//! sockets, unreachable ports and cancellation.

use core::future::Future;
use core::net::SocketAddr;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use portnet::{Error, ErrorKind, UdpBind, UdpSocket, UdpSocketExt};

use crate::support::{Check, PROMPT, expect_error, ips, need, prompt, within};
use crate::{Capability, CaseResult, Family, Harness, Outcome, ensure, fail};

const V4: Family = Family::V4;

/// A socket of the stack under test and one of the peer, both bound to port 0.
async fn pair<'s, H: Harness>(
    h: &'s H,
) -> Result<
    (
        <H::Udp as UdpBind>::Socket<'s>,
        <H::Peer as UdpBind>::Socket<'s>,
    ),
    Outcome,
> {
    let stack = need(h.udp(), Capability::Udp)?;
    let (stack_ip, peer_ip) = ips(h, V4)?;
    let socket = stack
        .bind(SocketAddr::new(stack_ip, 0))
        .await
        .check("bind")?;
    let peer = h
        .peer()
        .bind(SocketAddr::new(peer_ip, 0))
        .await
        .check("peer bind")?;
    Ok((socket, peer))
}

/// The address the peer sends to, to reach `socket`: the stack's IP (a socket bound
/// to a wildcard address reports it) and the socket's port.
fn reach<H: Harness, S: UdpSocket>(h: &H, socket: &S) -> Result<SocketAddr, Outcome> {
    let (stack_ip, _) = ips(h, V4)?;
    Ok(SocketAddr::new(
        stack_ip,
        socket.local_addr().check("local_addr")?.port(),
    ))
}

/// Case `udp.bind.ephemeral_port`: binding UDP port 0 picks a free port and reports it.
pub async fn bind_ephemeral_port<H: Harness>(h: &H) -> CaseResult {
    let (socket, peer) = pair(h).await?;
    let port = socket.local_addr().check("local_addr")?.port();
    ensure!(port != 0, "local_addr reports port 0 after binding port 0");
    let to = reach(h, &socket)?;
    prompt(h, "peer send", peer.send_to(b"ping", to)).await?;
    let mut buf = [0u8; 8];
    let (n, _) = prompt(h, "recv_from", socket.recv_from(&mut buf)).await?;
    ensure!(&buf[..n] == b"ping", "wrong datagram");
    Ok(())
}

/// Case `udp.bind.addr_in_use`: binding a UDP port already bound fails with `AddrInUse`.
pub async fn bind_addr_in_use<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.udp(), Capability::Udp)?;
    let (stack_ip, _) = ips(h, V4)?;
    let first = stack
        .bind(SocketAddr::new(stack_ip, 0))
        .await
        .check("first bind")?;
    let addr = first.local_addr().check("local_addr")?;
    expect_error(
        stack.bind(addr).await.map(|_| ()),
        &[ErrorKind::AddrInUse],
        "second bind",
    )?;
    drop(first);
    stack
        .bind(addr)
        .await
        .check("bind again after the first socket was dropped")?;
    Ok(())
}

/// Case `udp.sender_address`: `recv_from` reports the sender's address and port,
/// both ways.
pub async fn sender_address<H: Harness>(h: &H) -> CaseResult {
    let (socket, peer) = pair(h).await?;
    let to = reach(h, &socket)?;
    let (_, peer_ip) = ips(h, V4)?;
    let peer_addr = SocketAddr::new(peer_ip, peer.local_addr().check("peer local_addr")?.port());
    prompt(h, "peer send", peer.send_to(b"who", to)).await?;
    let mut buf = [0u8; 8];
    let (_, from) = prompt(h, "recv_from", socket.recv_from(&mut buf)).await?;
    ensure!(
        from == peer_addr,
        "recv_from reports {from}, the sender is {peer_addr}"
    );
    prompt(h, "send_to", socket.send_to(b"me", from)).await?;
    let (_, back_from) = prompt(h, "peer recv_from", peer.recv_from(&mut buf)).await?;
    ensure!(
        back_from == to,
        "the peer saw the stack as {back_from}, expected {to}"
    );
    Ok(())
}

const SIZES: [usize; 5] = [1, 100, 512, 1200, 3];

/// Case `udp.boundaries`: each datagram is received whole and alone, whatever the
/// sizes, both ways.
pub async fn boundaries<H: Harness>(h: &H) -> CaseResult {
    let (socket, peer) = pair(h).await?;
    let to = reach(h, &socket)?;
    let mut data = [0u8; 1200];
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let mut buf = [0u8; 1500];
    // One at a time, so that a lossy link's drops are not mistaken for merges.
    for (i, &size) in SIZES.iter().enumerate() {
        data[0] = i as u8;
        prompt(h, "peer send", peer.send_to(&data[..size], to)).await?;
        let (n, _) = prompt(h, "recv_from", socket.recv_from(&mut buf)).await?;
        ensure!(
            n == size,
            "datagram {i} of {size} bytes arrived as {n} bytes"
        );
        ensure!(buf[..n] == data[..size], "datagram {i} arrived changed");
        let (from_peer, _) = (peer.local_addr().check("peer local_addr")?, ());
        let back = SocketAddr::new(ips(h, V4)?.1, from_peer.port());
        prompt(h, "send_to", socket.send_to(&data[..size], back)).await?;
        let (n, _) = prompt(h, "peer recv_from", peer.recv_from(&mut buf)).await?;
        ensure!(
            n == size,
            "datagram {i} of {size} bytes sent by the stack arrived as {n} bytes"
        );
    }
    Ok(())
}

/// Case `udp.empty_datagram`: an empty datagram is delivered as a datagram of length 0.
pub async fn empty_datagram<H: Harness>(h: &H) -> CaseResult {
    let (socket, peer) = pair(h).await?;
    let to = reach(h, &socket)?;
    prompt(h, "peer send of an empty datagram", peer.send_to(&[], to)).await?;
    prompt(h, "peer send", peer.send_to(b"after", to)).await?;
    let mut buf = [0u8; 16];
    let (n, _) = prompt(h, "recv_from", socket.recv_from(&mut buf)).await?;
    ensure!(n == 0, "the empty datagram arrived as {n} bytes");
    let (n, _) = prompt(h, "recv_from", socket.recv_from(&mut buf)).await?;
    ensure!(
        &buf[..n] == b"after",
        "the datagram after the empty one is wrong"
    );
    Ok(())
}

/// Case `udp.truncate`: a datagram larger than the buffer fills it, reports its full
/// length, and the rest is discarded (the next receive gets the next datagram).
pub async fn truncate<H: Harness>(h: &H) -> CaseResult {
    let (socket, peer) = pair(h).await?;
    let to = reach(h, &socket)?;
    let mut big = [0u8; 100];
    for (i, b) in big.iter_mut().enumerate() {
        *b = i as u8;
    }
    prompt(h, "peer send", peer.send_to(&big, to)).await?;
    prompt(h, "peer send", peer.send_to(b"next", to)).await?;
    let mut small = [0u8; 10];
    let (n, _) = prompt(
        h,
        "recv_from into a small buffer",
        socket.recv_from(&mut small),
    )
    .await?;
    ensure!(
        n == 100,
        "a 100-byte datagram into a 10-byte buffer reported {n} bytes, expected 100"
    );
    ensure!(
        small[..] == big[..10],
        "the buffer does not hold the datagram's first bytes"
    );
    let mut buf = [0u8; 100];
    let (n, _) = prompt(h, "recv_from", socket.recv_from(&mut buf)).await?;
    ensure!(
        &buf[..n] == b"next",
        "the rest of a truncated datagram was not discarded ({n} bytes)"
    );
    Ok(())
}

/// Case `udp.connected_filter`: a connected UDP socket receives only from its peer.
pub async fn connected_filter<H: Harness>(h: &H) -> CaseResult {
    let (mut socket, peer) = pair(h).await?;
    let (_, peer_ip) = ips(h, V4)?;
    let stranger = h
        .peer()
        .bind(SocketAddr::new(peer_ip, 0))
        .await
        .check("bind a second peer")?;
    let peer_addr = SocketAddr::new(peer_ip, peer.local_addr().check("peer local_addr")?.port());
    socket.connect(peer_addr).check("connect")?;
    ensure!(
        socket.peer_addr() == Some(peer_addr),
        "peer_addr after connect is {:?}",
        socket.peer_addr()
    );
    let to = reach(h, &socket)?;
    prompt(h, "stranger send", stranger.send_to(b"stranger", to)).await?;
    prompt(h, "peer send", peer.send_to(b"peer", to)).await?;
    let mut buf = [0u8; 16];
    let (n, from) = prompt(h, "recv_from", socket.recv_from(&mut buf)).await?;
    ensure!(
        from == peer_addr && &buf[..n] == b"peer",
        "a connected socket received {n} bytes from {from}"
    );
    Ok(())
}

/// Case `udp.unreachable_port`: sending to a closed port never panics or hangs; a
/// later receive fails with `ConnectionRefused` or stays quiet.
pub async fn unreachable_port<H: Harness>(h: &H) -> CaseResult {
    let (mut socket, peer) = pair(h).await?;
    let (_, peer_ip) = ips(h, V4)?;
    let closed = SocketAddr::new(peer_ip, peer.local_addr().check("peer local_addr")?.port());
    drop(peer);
    socket.connect(closed).check("connect")?;
    prompt(
        h,
        "send to a closed port",
        socket.send_to(b"anyone?", closed),
    )
    .await?;
    let mut buf = [0u8; 16];
    match portnet::time::timeout(
        h.clock(),
        Duration::from_millis(300),
        socket.recv_from(&mut buf),
    )
    .await
    {
        Err(_) => Ok(()),
        Ok(Ok((n, from))) => fail!("received {n} bytes from {from} out of a closed port"),
        Ok(result) => expect_error(
            result,
            &[ErrorKind::ConnectionRefused],
            "receive after sending to a closed port",
        ),
    }
}

/// Case `udp.cancel.recv`: dropping a pending `recv_from` loses no datagram.
pub async fn cancel_recv<H: Harness>(h: &H) -> CaseResult {
    let (socket, peer) = pair(h).await?;
    let to = reach(h, &socket)?;
    let mut buf = [0u8; 16];
    {
        let mut recv = pin!(socket.recv_from(&mut buf));
        if let Poll::Ready(result) = recv.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            fail!("recv_from on a quiet socket completed: {result:?}");
        }
    }
    prompt(h, "peer send", peer.send_to(b"kept", to)).await?;
    let (n, _) = prompt(h, "recv_from", socket.recv_from(&mut buf)).await?;
    ensure!(&buf[..n] == b"kept", "the datagram was lost or changed");
    Ok(())
}

/// The peer socket's address as the stack reaches it.
fn peer_address<H: Harness, S: UdpSocket>(h: &H, peer: &S) -> Result<SocketAddr, Outcome> {
    let (_, peer_ip) = ips(h, V4)?;
    Ok(SocketAddr::new(
        peer_ip,
        peer.local_addr().check("peer local_addr")?.port(),
    ))
}

/// Case `udp.connected.send_recv`: a connected socket's `send` reaches the
/// connected peer, and `recv` returns the peer's datagrams with their full length.
pub async fn connected_send_recv<H: Harness>(h: &H) -> CaseResult {
    let (mut socket, peer) = pair(h).await?;
    let peer_addr = peer_address(h, &peer)?;
    socket.connect(peer_addr).check("connect")?;
    prompt(h, "send on a connected socket", socket.send(b"hello")).await?;
    let mut buf = [0u8; 16];
    let (n, from) = prompt(h, "peer recv_from", peer.recv_from(&mut buf)).await?;
    let to = reach(h, &socket)?;
    ensure!(
        &buf[..n] == b"hello" && from == to,
        "the peer received {n} bytes from {from}, expected `hello` from {to}"
    );
    prompt(h, "peer send", peer.send_to(b"back", from)).await?;
    let n = prompt(h, "recv on a connected socket", socket.recv(&mut buf)).await?;
    ensure!(&buf[..n] == b"back", "recv returned the wrong datagram");
    prompt(h, "peer send", peer.send_to(&[9u8; 40], from)).await?;
    let mut small = [0u8; 8];
    let n = prompt(h, "recv into a small buffer", socket.recv(&mut small)).await?;
    ensure!(
        n == 40,
        "recv of a 40-byte datagram into 8 bytes reported {n}, expected 40"
    );
    Ok(())
}

/// Case `udp.connected.not_connected`: `send` and `recv` on a socket that is not
/// connected fail at once with `NotConnected`.
pub async fn connected_not_connected<H: Harness>(h: &H) -> CaseResult {
    let (socket, _peer) = pair(h).await?;
    let result = within(h, PROMPT, "send unconnected", socket.send(b"to whom?")).await?;
    expect_error(
        result,
        &[ErrorKind::NotConnected],
        "send on an unconnected socket",
    )?;
    let mut buf = [0u8; 8];
    let result = within(h, PROMPT, "recv unconnected", socket.recv(&mut buf)).await?;
    expect_error(
        result,
        &[ErrorKind::NotConnected],
        "recv on an unconnected socket",
    )
}

/// Case `udp.connected.bind_connected`: `bind_connected` gives a socket on an
/// ephemeral port, connected to the remote: `peer_addr` says so, and `send` and
/// `recv` talk to it.
pub async fn connected_bind_connected<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.udp(), Capability::Udp)?;
    let (_, peer_ip) = ips(h, V4)?;
    let peer = h
        .peer()
        .bind(SocketAddr::new(peer_ip, 0))
        .await
        .check("peer bind")?;
    let peer_addr = peer_address(h, &peer)?;
    let socket = prompt(h, "bind_connected", stack.bind_connected(peer_addr)).await?;
    ensure!(
        socket.peer_addr() == Some(peer_addr),
        "peer_addr after bind_connected({peer_addr}) is {:?}",
        socket.peer_addr()
    );
    let port = socket.local_addr().check("local_addr")?.port();
    ensure!(port != 0, "bind_connected left port 0");
    prompt(h, "send", socket.send(b"ping")).await?;
    let mut buf = [0u8; 8];
    let (n, from) = prompt(h, "peer recv_from", peer.recv_from(&mut buf)).await?;
    ensure!(
        &buf[..n] == b"ping" && from.port() == port,
        "the peer received {n} bytes from port {}, expected `ping` from port {port}",
        from.port()
    );
    prompt(h, "peer send", peer.send_to(b"pong", from)).await?;
    let n = prompt(h, "recv", socket.recv(&mut buf)).await?;
    ensure!(&buf[..n] == b"pong", "recv returned the wrong datagram");
    Ok(())
}

/// Case `udp.connected.refused_once`: a connected socket whose peer's port is
/// closed reports it (where the stack processes ICMP) as `ConnectionRefused`
/// once, on the next `send` or `recv`; it never reports it again without a new
/// send, and the socket stays usable.
pub async fn connected_refused_once<H: Harness>(h: &H) -> CaseResult {
    let (mut socket, peer) = pair(h).await?;
    let closed = peer_address(h, &peer)?;
    drop(peer);
    socket.connect(closed).check("connect")?;
    prompt(h, "send to a closed port", socket.send(b"anyone?")).await?;
    let quiet = Duration::from_millis(300);
    let mut buf = [0u8; 16];
    match portnet::time::timeout(h.clock(), quiet, socket.recv(&mut buf)).await {
        // No ICMP processing: nothing is ever reported.
        Err(_) => return Ok(()),
        Ok(Ok(n)) => fail!("received {n} bytes out of a closed port"),
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => {}
        Ok(result) => {
            return expect_error(
                result,
                &[ErrorKind::ConnectionRefused],
                "recv after sending to a closed port",
            );
        }
    }
    match portnet::time::timeout(h.clock(), quiet, socket.recv(&mut buf)).await {
        Err(_) => {}
        Ok(result) => {
            fail!("a second recv after one refusal returned {result:?} instead of waiting")
        }
    }
    Ok(())
}

/// A datagram no UDP can carry: longer than the 65 535 bytes of UDP's length field.
static TOO_LARGE: [u8; 65_536] = [0; 65_536];

/// Case `udp.send.too_large`: a datagram larger than the stack can send fails
/// with `InvalidInput` (and sends nothing); the socket stays usable.
pub async fn send_too_large<H: Harness>(h: &H) -> CaseResult {
    let (socket, peer) = pair(h).await?;
    let peer_addr = peer_address(h, &peer)?;
    let result = within(
        h,
        PROMPT,
        "send a 65536-byte datagram",
        socket.send_to(&TOO_LARGE, peer_addr),
    )
    .await?;
    expect_error(
        result,
        &[ErrorKind::InvalidInput],
        "send_to of a 65536-byte datagram",
    )?;
    prompt(h, "send after", socket.send_to(b"small", peer_addr)).await?;
    let mut buf = [0u8; 16];
    let (n, _) = prompt(h, "peer recv_from", peer.recv_from(&mut buf)).await?;
    ensure!(
        &buf[..n] == b"small",
        "the peer got {n} bytes, not the small datagram sent after the large one"
    );
    Ok(())
}

/// Case `udp.bind.drop_frees_port`: dropping a UDP socket frees its port at once:
/// a new socket binds it and receives on it.
pub async fn bind_drop_frees_port<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.udp(), Capability::Udp)?;
    let (stack_ip, peer_ip) = ips(h, V4)?;
    let first = stack
        .bind(SocketAddr::new(stack_ip, 0))
        .await
        .check("bind")?;
    let addr = first.local_addr().check("local_addr")?;
    drop(first);
    let second = stack
        .bind(addr)
        .await
        .check("bind the port of a dropped socket")?;
    let peer = h
        .peer()
        .bind(SocketAddr::new(peer_ip, 0))
        .await
        .check("peer bind")?;
    let to = reach(h, &second)?;
    prompt(h, "peer send", peer.send_to(b"again", to)).await?;
    let mut buf = [0u8; 8];
    let (n, _) = prompt(
        h,
        "recv_from on the rebound port",
        second.recv_from(&mut buf),
    )
    .await?;
    ensure!(&buf[..n] == b"again", "wrong datagram on the rebound port");
    Ok(())
}

/// Most UDP sockets `udp.bind.pool_exhausted` fills.
const MAX_FILL: usize = 16;

/// Case `udp.bind.pool_exhausted`: with every UDP socket of the stack's pool
/// bound, `bind` fails with `OutOfResources`; dropping one frees its port for a
/// new bind at once.
pub async fn bind_pool_exhausted<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.udp(), Capability::Udp)?;
    let pool = need(h.udp_pool(), Capability::SocketPool)?;
    let n = need((pool <= MAX_FILL).then_some(pool), Capability::SocketPool)?;
    let (stack_ip, _) = ips(h, V4)?;
    let any = SocketAddr::new(stack_ip, 0);
    let mut sockets: [Option<<H::Udp as UdpBind>::Socket<'_>>; MAX_FILL] = Default::default();
    for slot in sockets.iter_mut().take(n) {
        *slot = Some(prompt(h, "bind while the pool has room", stack.bind(any)).await?);
    }
    let result = within(h, PROMPT, "bind on a full pool", stack.bind(any)).await?;
    expect_error(
        result.map(|_| ()),
        &[ErrorKind::OutOfResources],
        "bind with every socket of the pool in use",
    )?;
    let Some(first) = sockets[0].take() else {
        fail!("the pool held no socket");
    };
    let addr = first.local_addr().check("local_addr")?;
    drop(first);
    prompt(
        h,
        "bind the port of a dropped socket on a full pool",
        stack.bind(addr),
    )
    .await?;
    Ok(())
}
