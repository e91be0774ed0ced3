//! UDP capability: bind a datagram socket, send and receive datagrams.

use core::future::Future;
use core::net::SocketAddr;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::{ErrorKind, ErrorType, SocketOptions};

/// A stack that can bind UDP sockets.
pub trait UdpBind: ErrorType {
    /// A bound UDP socket.
    type Socket<'a>: UdpSocket<Error = Self::Error>
    where
        Self: 'a;

    /// Binds a socket to `local`; port 0 picks a free ephemeral port.
    ///
    /// # Contract
    ///
    /// A port already bound must fail with `AddrInUse`; a full pool with
    /// `OutOfResources`; dropping the socket must free the port (cases
    /// `udp.bind.addr_in_use`, `udp.bind.pool_exhausted`, `udp.bind.drop_frees_port`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future leaves nothing bound.
    fn bind(
        &self,
        local: SocketAddr,
    ) -> impl Future<Output = Result<Self::Socket<'_>, Self::Error>>;

    /// Binds a socket of `remote`'s family on an ephemeral port of any local
    /// address (`0.0.0.0:0` or `[::]:0`) and connects it to `remote`: the UDP
    /// counterpart of `TcpConnect::connect`, for a client that talks to one server.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`UdpBind::bind`].
    fn bind_connected(
        &self,
        remote: SocketAddr,
    ) -> impl Future<Output = Result<Self::Socket<'_>, Self::Error>> {
        async move {
            let local = match remote {
                SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
                SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
            };
            let mut socket = self.bind(local).await?;
            socket.connect(remote)?;
            Ok(socket)
        }
    }
}

impl<T: ?Sized + UdpBind> UdpBind for &T {
    type Socket<'a>
        = T::Socket<'a>
    where
        Self: 'a;

    fn bind(
        &self,
        local: SocketAddr,
    ) -> impl Future<Output = Result<Self::Socket<'_>, Self::Error>> {
        (**self).bind(local)
    }
}

/// A bound UDP socket. Sending and receiving take `&self`, so one task can send
/// while another receives; the socket keeps one waker for each direction. Its
/// [`SocketOptions`] are the socket's (`Ttl`, `Broadcast`, multicast, …).
pub trait UdpSocket: SocketOptions {
    /// Attempts to send `buf` as one datagram to `remote`.
    ///
    /// # Contract
    ///
    /// - The datagram must be sent whole or not at all; one larger than the stack can
    ///   send must fail with `InvalidInput` (case `udp.send.too_large`).
    /// - `Pending` (with the waker registered) while the send buffer is full.
    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        remote: SocketAddr,
    ) -> Poll<Result<(), Self::Error>>;

    /// Attempts to receive one datagram into `buf`; returns its **full** length and
    /// its sender.
    ///
    /// # Contract
    ///
    /// - Datagram boundaries are kept: one call returns one datagram.
    /// - A datagram longer than `buf` fills `buf`, reports its full length (greater
    ///   than `buf.len()`), and the rest of it is discarded.
    /// - After [`UdpSocket::connect`], only datagrams from the connected peer are
    ///   returned; others are discarded.
    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr), Self::Error>>;

    /// Attempts to send `buf` as one datagram to the connected peer.
    ///
    /// # Contract
    ///
    /// - As [`UdpSocket::poll_send_to`] to [`UdpSocket::peer_addr`]; a socket that
    ///   is not connected must fail with `NotConnected` (cases `udp.connected.send_recv`,
    ///   `udp.connected.not_connected`).
    /// - A stack that learns the peer is unreachable (ICMP port unreachable) must
    ///   report it as `ConnectionRefused` on the next `poll_send` or `poll_recv`,
    ///   once; the socket stays usable. A stack that does not process ICMP never
    ///   reports it (the default implementation does not) (cases
    ///   `udp.connected.refused_once`, `udp.unreachable_port`).
    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<(), Self::Error>> {
        match self.peer_addr() {
            Some(peer) => self.poll_send_to(cx, buf, peer),
            None => Poll::Ready(Err(ErrorKind::NotConnected.into())),
        }
    }

    /// Attempts to receive one datagram from the connected peer into `buf`;
    /// returns its full length.
    ///
    /// # Contract
    ///
    /// As [`UdpSocket::poll_recv_from`] (boundaries, truncation), and as
    /// [`UdpSocket::poll_send`] for `NotConnected` and ICMP refusal.
    fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize, Self::Error>> {
        if self.peer_addr().is_none() {
            return Poll::Ready(Err(ErrorKind::NotConnected.into()));
        }
        self.poll_recv_from(cx, buf).map(|r| r.map(|(n, _)| n))
    }

    /// Restricts the socket to one peer: later receives only return its datagrams,
    /// and [`UdpSocket::poll_send`] sends to it.
    fn connect(&mut self, remote: SocketAddr) -> Result<(), Self::Error>;

    /// The connected peer, if [`UdpSocket::connect`] was called.
    fn peer_addr(&self) -> Option<SocketAddr>;

    /// The local address, with the real port if 0 was asked for.
    fn local_addr(&self) -> Result<SocketAddr, Self::Error>;
}

/// `async` helpers for every [`UdpSocket`].
pub trait UdpSocketExt: UdpSocket {
    /// Sends one datagram to `remote`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future has sent the whole datagram or none of it.
    fn send_to<'a>(&'a self, buf: &'a [u8], remote: SocketAddr) -> SendToFuture<'a, Self> {
        SendToFuture {
            socket: self,
            buf,
            remote,
        }
    }

    /// Receives one datagram; resolves to its full length and sender (see
    /// [`UdpSocket::poll_recv_from`] for truncation).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future has taken no datagram from the socket.
    fn recv_from<'a>(&'a self, buf: &'a mut [u8]) -> RecvFromFuture<'a, Self> {
        RecvFromFuture { socket: self, buf }
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future has sent the whole datagram or none of it.
    fn send<'a>(&'a self, buf: &'a [u8]) -> SendFuture<'a, Self> {
        SendFuture { socket: self, buf }
    }

    /// Receives one datagram from the connected peer; resolves to its full length.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future has taken no datagram from the socket.
    fn recv<'a>(&'a self, buf: &'a mut [u8]) -> RecvFuture<'a, Self> {
        RecvFuture { socket: self, buf }
    }
}

impl<T: ?Sized + UdpSocket> UdpSocketExt for T {}

/// Future of [`UdpSocketExt::send_to`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct SendToFuture<'a, S: ?Sized> {
    socket: &'a S,
    buf: &'a [u8],
    remote: SocketAddr,
}

impl<S: ?Sized + UdpSocket> Future for SendToFuture<'_, S> {
    type Output = Result<(), S::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.socket.poll_send_to(cx, this.buf, this.remote)
    }
}

/// Future of [`UdpSocketExt::recv_from`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct RecvFromFuture<'a, S: ?Sized> {
    socket: &'a S,
    buf: &'a mut [u8],
}

impl<S: ?Sized + UdpSocket> Future for RecvFromFuture<'_, S> {
    type Output = Result<(usize, SocketAddr), S::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.socket.poll_recv_from(cx, this.buf)
    }
}

/// Future of [`UdpSocketExt::send`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct SendFuture<'a, S: ?Sized> {
    socket: &'a S,
    buf: &'a [u8],
}

impl<S: ?Sized + UdpSocket> Future for SendFuture<'_, S> {
    type Output = Result<(), S::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.socket.poll_send(cx, this.buf)
    }
}

/// Future of [`UdpSocketExt::recv`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct RecvFuture<'a, S: ?Sized> {
    socket: &'a S,
    buf: &'a mut [u8],
}

impl<S: ?Sized + UdpSocket> Future for RecvFuture<'_, S> {
    type Output = Result<usize, S::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.socket.poll_recv(cx, this.buf)
    }
}
