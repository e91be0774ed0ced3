//! UDP cases: binding, addresses, datagram boundaries, truncation, connected
//! sockets, unreachable ports and cancellation.

use core::future::Future;
use core::net::SocketAddr;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use portnet::{ErrorKind, UdpBind, UdpSocket, UdpSocketExt};

use crate::support::{Check, expect_error, ips, need, prompt};
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
