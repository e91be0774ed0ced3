//! UDP capability: bind a datagram socket, send and receive datagrams.

use core::future::Future;
use core::net::SocketAddr;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::ErrorType;

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
    /// `OutOfResources`; dropping the socket must free the port.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future leaves nothing bound.
    fn bind(
        &self,
        local: SocketAddr,
    ) -> impl Future<Output = Result<Self::Socket<'_>, Self::Error>>;
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
/// while another receives; the socket keeps one waker for each direction.
pub trait UdpSocket: ErrorType {
    /// Attempts to send `buf` as one datagram to `remote`.
    ///
    /// # Contract
    ///
    /// - The datagram must be sent whole or not at all; one larger than the stack can
    ///   send must fail with `InvalidInput`.
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

    /// Restricts the socket to one peer: later receives only return its datagrams. A stack that learns of an unreachable
    /// peer (ICMP) may report it as `ConnectionRefused` on a later call.
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
