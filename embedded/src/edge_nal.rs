//! A portnet stack as an edge-nal 0.7 stack: edge-net's libraries (edge-http,
//! edge-mdns, edge-dhcp, …) run unchanged on any portnet stack.
//!
//! | edge-nal | on portnet |
//! |---|---|
//! | `TcpConnect`, `TcpBind`/`TcpAccept` | `TcpConnect`, `TcpListen`/`TcpListener` |
//! | `TcpSplit` | `TcpStream::split` |
//! | `TcpShutdown::close` | `Write` → `poll_close` (FIN); `Read` → reads to end of stream; `Both` → both |
//! | `TcpShutdown::abort` | `TcpStream::abort` (RST); the socket is then unusable (`NotConnected`) |
//! | `Readable` (TCP) | reads one byte ahead and keeps it for the next `read` |
//! | `UdpBind`, `UdpConnect` | `UdpBind::bind`, then `UdpSocket::connect` for `UdpConnect` |
//! | `Readable` (UDP) | receives one datagram ahead into the socket's buffer of `N` bytes (default 1536) |
//! | `MulticastV4`/`V6` | `SocketOption::{JoinMulticast, LeaveMulticast}`; the interface argument is not used |
//! | `Dns::get_host_by_name` | `Dns::resolve`; `get_host_by_address` is `Unsupported` |
//!
//! Errors are [`EmbeddedError`]: the stack's error with its exact portnet kind, and
//! the `embedded_io` kind edge-nal code matches on.

use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::Future;
use core::net::{IpAddr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Poll};

use portnet::{AddrFamily, ErrorKind, ReadExt, SocketOption, TcpStream, UdpSocketExt, WriteExt};

use crate::io_async::{poll_embedded_flush, poll_embedded_read, poll_embedded_write};
use crate::poll::poll_once;
use crate::{EmbeddedError, PortnetError, WakePolicy};

/// A portnet stack as an edge-nal stack (`TcpConnect`, `TcpBind`, `UdpBind`,
/// `UdpConnect`, `Dns`), for whichever of those capabilities the stack has.
///
/// It borrows the stack (`&'s S`): edge-nal's sockets borrow their factory, and
/// portnet's connections borrow their stack.
pub struct EdgeNal<'s, S: ?Sized> {
    stack: &'s S,
}

impl<'s, S: ?Sized> EdgeNal<'s, S> {
    /// Presents `stack` to edge-nal code.
    pub fn new(stack: &'s S) -> Self {
        Self { stack }
    }

    /// The portnet stack.
    pub fn stack(&self) -> &'s S {
        self.stack
    }
}

impl<S: ?Sized> Clone for EdgeNal<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ?Sized> Copy for EdgeNal<'_, S> {}

impl<S: ?Sized> fmt::Debug for EdgeNal<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeNal").finish_non_exhaustive()
    }
}

type Result<T, E> = core::result::Result<T, EmbeddedError<E>>;

fn adapter<T, E>(kind: ErrorKind) -> Result<T, E> {
    Err(EmbeddedError::Adapter(kind))
}

// ---------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------

impl<'s, S> edge_nal::TcpConnect for EdgeNal<'s, S>
where
    S: portnet::TcpConnect + ?Sized,
{
    type Error = EmbeddedError<S::Error>;
    type Socket<'a>
        = EdgeTcp<S::Connection<'s>>
    where
        Self: 'a;

    async fn connect(&self, remote: SocketAddr) -> Result<Self::Socket<'_>, S::Error> {
        let conn = self
            .stack
            .connect(remote)
            .await
            .map_err(EmbeddedError::Stack)?;
        Ok(EdgeTcp::new(conn))
    }
}

impl<'s, S> edge_nal::TcpBind for EdgeNal<'s, S>
where
    S: portnet::TcpListen + ?Sized,
{
    type Error = EmbeddedError<S::Error>;
    type Accept<'a>
        = EdgeAcceptor<S::Listener<'s>>
    where
        Self: 'a;

    async fn bind(&self, local: SocketAddr) -> Result<Self::Accept<'_>, S::Error> {
        let listener = self
            .stack
            .listen(local)
            .await
            .map_err(EmbeddedError::Stack)?;
        Ok(EdgeAcceptor { listener })
    }
}

/// A portnet listener as an edge-nal `TcpAccept`.
pub struct EdgeAcceptor<L> {
    listener: L,
}

impl<L> EdgeAcceptor<L> {
    /// The portnet listener (for its address).
    pub fn get_ref(&self) -> &L {
        &self.listener
    }
}

impl<L> fmt::Debug for EdgeAcceptor<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeAcceptor").finish_non_exhaustive()
    }
}

impl<L: portnet::TcpListener> edge_nal::TcpAccept for EdgeAcceptor<L> {
    type Error = EmbeddedError<L::Error>;
    type Socket<'a>
        = EdgeTcp<L::Connection>
    where
        Self: 'a;

    async fn accept(&self) -> Result<(SocketAddr, Self::Socket<'_>), L::Error> {
        let (conn, peer) = self.listener.accept().await.map_err(EmbeddedError::Stack)?;
        Ok((peer, EdgeTcp::new(conn)))
    }
}

/// A portnet TCP connection as an edge-nal socket: `embedded_io_async::{Read,
/// Write}`, `Readable`, `TcpSplit`, `TcpShutdown`.
pub struct EdgeTcp<C> {
    /// `None` after `abort`.
    conn: Option<C>,
    /// The byte `readable` read ahead.
    ahead: Option<u8>,
}

impl<C> EdgeTcp<C> {
    /// Wraps a portnet connection.
    pub fn new(conn: C) -> Self {
        Self {
            conn: Some(conn),
            ahead: None,
        }
    }

    /// The portnet connection; `None` after `abort`.
    pub fn get_ref(&self) -> Option<&C> {
        self.conn.as_ref()
    }
}

impl<C> fmt::Debug for EdgeTcp<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeTcp")
            .field("aborted", &self.conn.is_none())
            .field("read_ahead", &self.ahead.is_some())
            .finish()
    }
}

impl<C: portnet::ErrorType> embedded_io_async::ErrorType for EdgeTcp<C> {
    type Error = EmbeddedError<C::Error>;
}

/// Reads into `buf`, the read-ahead byte first.
async fn read_with_ahead<R: portnet::Read + Unpin>(
    stream: &mut R,
    ahead: &mut Option<u8>,
    buf: &mut [u8],
) -> Result<usize, R::Error> {
    if buf.is_empty() {
        return Ok(0);
    }
    if let Some(byte) = ahead.take() {
        buf[0] = byte;
        return Ok(1);
    }
    stream.read(buf).await.map_err(EmbeddedError::Stack)
}

/// Waits until a read would not wait: reads one byte ahead (at end of stream
/// there is none, and a read returns 0 at once).
async fn readable_with_ahead<R: portnet::Read + Unpin>(
    stream: &mut R,
    ahead: &mut Option<u8>,
) -> Result<(), R::Error> {
    if ahead.is_some() {
        return Ok(());
    }
    let mut byte = [0u8; 1];
    if stream.read(&mut byte).await.map_err(EmbeddedError::Stack)? == 1 {
        *ahead = Some(byte[0]);
    }
    Ok(())
}

impl<C: TcpStream> EdgeTcp<C> {
    fn conn(&mut self) -> Result<&mut C, C::Error> {
        match &mut self.conn {
            Some(conn) => Ok(conn),
            None => adapter(ErrorKind::NotConnected),
        }
    }
}

impl<C: TcpStream> embedded_io_async::Read for EdgeTcp<C> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, C::Error> {
        let Self { conn, ahead } = self;
        match conn {
            Some(conn) => read_with_ahead(conn, ahead, buf).await,
            None => adapter(ErrorKind::NotConnected),
        }
    }
}

impl<C: TcpStream> embedded_io_async::Write for EdgeTcp<C> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, C::Error> {
        self.conn()?.write(buf).await.map_err(EmbeddedError::Stack)
    }

    async fn flush(&mut self) -> Result<(), C::Error> {
        self.conn()?.flush().await.map_err(EmbeddedError::Stack)
    }
}

impl<C: TcpStream> edge_nal::Readable for EdgeTcp<C> {
    async fn readable(&mut self) -> Result<(), C::Error> {
        let Self { conn, ahead } = self;
        match conn {
            Some(conn) => readable_with_ahead(conn, ahead).await,
            None => adapter(ErrorKind::NotConnected),
        }
    }
}

impl<C: TcpStream> edge_nal::TcpShutdown for EdgeTcp<C> {
    /// `Write` sends FIN after the data; `Read` reads (and discards) until the
    /// peer's FIN; `Both` does the first, then the second.
    async fn close(&mut self, what: edge_nal::Close) -> Result<(), C::Error> {
        use edge_nal::Close;
        if matches!(what, Close::Write | Close::Both) {
            self.conn()?.close().await.map_err(EmbeddedError::Stack)?;
        }
        if matches!(what, Close::Read | Close::Both) {
            self.ahead = None;
            let conn = self.conn()?;
            let mut sink = [0u8; 64];
            while conn.read(&mut sink).await.map_err(EmbeddedError::Stack)? > 0 {}
        }
        Ok(())
    }

    /// Sends RST (portnet's `abort`); the socket is unusable afterwards.
    async fn abort(&mut self) -> Result<(), C::Error> {
        match self.conn.take() {
            Some(conn) => {
                conn.abort();
                Ok(())
            }
            None => adapter(ErrorKind::NotConnected),
        }
    }
}

impl<C: TcpStream> edge_nal::TcpSplit for EdgeTcp<C> {
    type Read<'a>
        = EdgeTcpRead<'a, C::ReadHalf<'a>>
    where
        Self: 'a;
    type Write<'a>
        = EdgeTcpWrite<C::WriteHalf<'a>>
    where
        Self: 'a;

    /// Splits the connection; on an aborted socket both halves fail with
    /// `NotConnected`.
    fn split(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        let Self { conn, ahead } = self;
        match conn {
            Some(conn) => {
                let (read, write) = conn.split();
                (
                    EdgeTcpRead {
                        half: Some(read),
                        ahead,
                    },
                    EdgeTcpWrite { half: Some(write) },
                )
            }
            None => (
                EdgeTcpRead { half: None, ahead },
                EdgeTcpWrite { half: None },
            ),
        }
    }
}

/// The read half of a split [`EdgeTcp`].
pub struct EdgeTcpRead<'a, R> {
    half: Option<R>,
    ahead: &'a mut Option<u8>,
}

/// The write half of a split [`EdgeTcp`].
pub struct EdgeTcpWrite<W> {
    half: Option<W>,
}

impl<R> fmt::Debug for EdgeTcpRead<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeTcpRead").finish_non_exhaustive()
    }
}

impl<W> fmt::Debug for EdgeTcpWrite<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeTcpWrite").finish_non_exhaustive()
    }
}

impl<R: portnet::ErrorType> embedded_io_async::ErrorType for EdgeTcpRead<'_, R> {
    type Error = EmbeddedError<R::Error>;
}

impl<W: portnet::ErrorType> embedded_io_async::ErrorType for EdgeTcpWrite<W> {
    type Error = EmbeddedError<W::Error>;
}

impl<R: portnet::Read + Unpin> embedded_io_async::Read for EdgeTcpRead<'_, R> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, R::Error> {
        match &mut self.half {
            Some(half) => read_with_ahead(half, self.ahead, buf).await,
            None => adapter(ErrorKind::NotConnected),
        }
    }
}

impl<R: portnet::Read + Unpin> edge_nal::Readable for EdgeTcpRead<'_, R> {
    async fn readable(&mut self) -> Result<(), R::Error> {
        match &mut self.half {
            Some(half) => readable_with_ahead(half, self.ahead).await,
            None => adapter(ErrorKind::NotConnected),
        }
    }
}

impl<W: portnet::Write + Unpin> embedded_io_async::Write for EdgeTcpWrite<W> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, W::Error> {
        match &mut self.half {
            Some(half) => half.write(buf).await.map_err(EmbeddedError::Stack),
            None => adapter(ErrorKind::NotConnected),
        }
    }

    async fn flush(&mut self) -> Result<(), W::Error> {
        match &mut self.half {
            Some(half) => half.flush().await.map_err(EmbeddedError::Stack),
            None => adapter(ErrorKind::NotConnected),
        }
    }
}

// ---------------------------------------------------------------------------
// UDP
// ---------------------------------------------------------------------------

/// The default size of [`EdgeUdp`]'s read-ahead buffer: an Ethernet frame's
/// payload with room to spare.
pub const DEFAULT_UDP_AHEAD: usize = 1536;

impl<'s, S> edge_nal::UdpBind for EdgeNal<'s, S>
where
    S: portnet::UdpBind + ?Sized,
{
    type Error = EmbeddedError<S::Error>;
    type Socket<'a>
        = EdgeUdp<S::Socket<'s>>
    where
        Self: 'a;

    async fn bind(&self, local: SocketAddr) -> Result<Self::Socket<'_>, S::Error> {
        let socket = self.stack.bind(local).await.map_err(EmbeddedError::Stack)?;
        Ok(EdgeUdp::new(socket))
    }
}

impl<'s, S> edge_nal::UdpConnect for EdgeNal<'s, S>
where
    S: portnet::UdpBind + ?Sized,
{
    type Error = EmbeddedError<S::Error>;
    type Socket<'a>
        = EdgeUdp<S::Socket<'s>>
    where
        Self: 'a;

    async fn connect(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Self::Socket<'_>, S::Error> {
        use portnet::UdpSocket as _;
        let mut socket = self.stack.bind(local).await.map_err(EmbeddedError::Stack)?;
        socket.connect(remote).map_err(EmbeddedError::Stack)?;
        Ok(EdgeUdp::new(socket))
    }
}

/// One datagram received ahead by `readable`.
struct Ahead<const N: usize> {
    buf: [u8; N],
    /// The datagram's full length and sender, when one is held.
    held: Option<(usize, SocketAddr)>,
}

impl<const N: usize> Ahead<N> {
    const fn new() -> Self {
        Self {
            buf: [0; N],
            held: None,
        }
    }
}

/// A portnet UDP socket as an edge-nal socket: `UdpReceive`, `UdpSend`,
/// `Readable`, `UdpSplit`, `UdpSplitMulticast`, `MulticastV4`/`V6`.
///
/// `readable` receives one datagram ahead into a buffer of `N` bytes. A datagram
/// longer than `N` that a later `receive` could have taken whole fails that
/// `receive` with `OutOfResources` (never a silent truncation); size `N` for the
/// largest datagram the protocol sends.
pub struct EdgeUdp<U, const N: usize = DEFAULT_UDP_AHEAD> {
    socket: U,
    ahead: Ahead<N>,
}

impl<U, const N: usize> EdgeUdp<U, N> {
    /// Wraps a portnet UDP socket.
    pub fn new(socket: U) -> Self {
        Self {
            socket,
            ahead: Ahead::new(),
        }
    }

    /// The portnet socket.
    pub fn get_ref(&self) -> &U {
        &self.socket
    }
}

impl<U, const N: usize> fmt::Debug for EdgeUdp<U, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeUdp")
            .field("read_ahead", &self.ahead.held.is_some())
            .finish_non_exhaustive()
    }
}

impl<U: portnet::ErrorType, const N: usize> embedded_io_async::ErrorType for EdgeUdp<U, N> {
    type Error = EmbeddedError<U::Error>;
}

async fn receive_with_ahead<U: portnet::UdpSocket, const N: usize>(
    socket: &U,
    ahead: &mut Ahead<N>,
    buf: &mut [u8],
) -> Result<(usize, SocketAddr), U::Error> {
    let Some((len, from)) = ahead.held.take() else {
        return socket.recv_from(buf).await.map_err(EmbeddedError::Stack);
    };
    let kept = len.min(N);
    if kept < len && buf.len() > kept {
        // The caller could have taken more than was kept.
        return adapter(ErrorKind::OutOfResources);
    }
    let n = kept.min(buf.len());
    buf[..n].copy_from_slice(&ahead.buf[..n]);
    Ok((len, from))
}

async fn readable_udp<U: portnet::UdpSocket, const N: usize>(
    socket: &U,
    ahead: &mut Ahead<N>,
) -> Result<(), U::Error> {
    if ahead.held.is_none() {
        let datagram = socket
            .recv_from(&mut ahead.buf)
            .await
            .map_err(EmbeddedError::Stack)?;
        ahead.held = Some(datagram);
    }
    Ok(())
}

async fn send_udp<U: portnet::UdpSocket>(
    socket: &U,
    remote: SocketAddr,
    data: &[u8],
) -> Result<(), U::Error> {
    // edge-nal: a connected socket ignores `remote`.
    let sent = match socket.peer_addr() {
        Some(_) => socket.send(data).await,
        None => socket.send_to(data, remote).await,
    };
    sent.map_err(EmbeddedError::Stack)
}

fn multicast<U: portnet::UdpSocket>(socket: &U, option: SocketOption) -> Result<(), U::Error> {
    socket.set_option(option).map_err(EmbeddedError::Stack)
}

impl<U: portnet::UdpSocket, const N: usize> edge_nal::UdpReceive for EdgeUdp<U, N> {
    async fn receive(&mut self, buf: &mut [u8]) -> Result<(usize, SocketAddr), U::Error> {
        receive_with_ahead(&self.socket, &mut self.ahead, buf).await
    }
}

impl<U: portnet::UdpSocket, const N: usize> edge_nal::UdpSend for EdgeUdp<U, N> {
    async fn send(&mut self, remote: SocketAddr, data: &[u8]) -> Result<(), U::Error> {
        send_udp(&self.socket, remote, data).await
    }
}

impl<U: portnet::UdpSocket, const N: usize> edge_nal::Readable for EdgeUdp<U, N> {
    async fn readable(&mut self) -> Result<(), U::Error> {
        readable_udp(&self.socket, &mut self.ahead).await
    }
}

impl<U: portnet::UdpSocket, const N: usize> edge_nal::MulticastV4 for EdgeUdp<U, N> {
    async fn join_v4(
        &mut self,
        group: core::net::Ipv4Addr,
        _interface: core::net::Ipv4Addr,
    ) -> Result<(), U::Error> {
        multicast(&self.socket, SocketOption::JoinMulticast(group.into()))
    }
    async fn leave_v4(
        &mut self,
        group: core::net::Ipv4Addr,
        _interface: core::net::Ipv4Addr,
    ) -> Result<(), U::Error> {
        multicast(&self.socket, SocketOption::LeaveMulticast(group.into()))
    }
}

impl<U: portnet::UdpSocket, const N: usize> edge_nal::MulticastV6 for EdgeUdp<U, N> {
    async fn join_v6(
        &mut self,
        group: core::net::Ipv6Addr,
        _interface: u32,
    ) -> Result<(), U::Error> {
        multicast(&self.socket, SocketOption::JoinMulticast(group.into()))
    }
    async fn leave_v6(
        &mut self,
        group: core::net::Ipv6Addr,
        _interface: u32,
    ) -> Result<(), U::Error> {
        multicast(&self.socket, SocketOption::LeaveMulticast(group.into()))
    }
}

/// The receiving half of a split [`EdgeUdp`].
pub struct EdgeUdpReceive<'a, U, const N: usize> {
    socket: &'a U,
    ahead: &'a mut Ahead<N>,
}

/// The sending half of a split [`EdgeUdp`]; also its multicast half.
pub struct EdgeUdpSend<'a, U> {
    socket: &'a U,
}

impl<U, const N: usize> fmt::Debug for EdgeUdpReceive<'_, U, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeUdpReceive").finish_non_exhaustive()
    }
}

impl<U> fmt::Debug for EdgeUdpSend<'_, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeUdpSend").finish_non_exhaustive()
    }
}

impl<U: portnet::ErrorType, const N: usize> embedded_io_async::ErrorType
    for EdgeUdpReceive<'_, U, N>
{
    type Error = EmbeddedError<U::Error>;
}

impl<U: portnet::ErrorType> embedded_io_async::ErrorType for EdgeUdpSend<'_, U> {
    type Error = EmbeddedError<U::Error>;
}

impl<U: portnet::UdpSocket, const N: usize> edge_nal::UdpReceive for EdgeUdpReceive<'_, U, N> {
    async fn receive(&mut self, buf: &mut [u8]) -> Result<(usize, SocketAddr), U::Error> {
        receive_with_ahead(self.socket, self.ahead, buf).await
    }
}

impl<U: portnet::UdpSocket, const N: usize> edge_nal::Readable for EdgeUdpReceive<'_, U, N> {
    async fn readable(&mut self) -> Result<(), U::Error> {
        readable_udp(self.socket, self.ahead).await
    }
}

impl<U: portnet::UdpSocket> edge_nal::UdpSend for EdgeUdpSend<'_, U> {
    async fn send(&mut self, remote: SocketAddr, data: &[u8]) -> Result<(), U::Error> {
        send_udp(self.socket, remote, data).await
    }
}

impl<U: portnet::UdpSocket> edge_nal::MulticastV4 for EdgeUdpSend<'_, U> {
    async fn join_v4(
        &mut self,
        group: core::net::Ipv4Addr,
        _interface: core::net::Ipv4Addr,
    ) -> Result<(), U::Error> {
        multicast(self.socket, SocketOption::JoinMulticast(group.into()))
    }
    async fn leave_v4(
        &mut self,
        group: core::net::Ipv4Addr,
        _interface: core::net::Ipv4Addr,
    ) -> Result<(), U::Error> {
        multicast(self.socket, SocketOption::LeaveMulticast(group.into()))
    }
}

impl<U: portnet::UdpSocket> edge_nal::MulticastV6 for EdgeUdpSend<'_, U> {
    async fn join_v6(
        &mut self,
        group: core::net::Ipv6Addr,
        _interface: u32,
    ) -> Result<(), U::Error> {
        multicast(self.socket, SocketOption::JoinMulticast(group.into()))
    }
    async fn leave_v6(
        &mut self,
        group: core::net::Ipv6Addr,
        _interface: u32,
    ) -> Result<(), U::Error> {
        multicast(self.socket, SocketOption::LeaveMulticast(group.into()))
    }
}

impl<U: portnet::UdpSocket, const N: usize> edge_nal::UdpSplit for EdgeUdp<U, N> {
    type Receive<'a>
        = EdgeUdpReceive<'a, U, N>
    where
        Self: 'a;
    type Send<'a>
        = EdgeUdpSend<'a, U>
    where
        Self: 'a;

    fn split(&mut self) -> (Self::Receive<'_>, Self::Send<'_>) {
        let Self { socket, ahead } = self;
        (EdgeUdpReceive { socket, ahead }, EdgeUdpSend { socket })
    }
}

impl<U: portnet::UdpSocket, const N: usize> edge_nal::UdpSplitMulticast for EdgeUdp<U, N> {
    type MulticastV4<'a>
        = EdgeUdpSend<'a, U>
    where
        Self: 'a;
    type MulticastV6<'a>
        = EdgeUdpSend<'a, U>
    where
        Self: 'a;

    fn split_multicast(
        &mut self,
    ) -> (
        Self::Receive<'_>,
        Self::Send<'_>,
        Self::MulticastV4<'_>,
        Self::MulticastV6<'_>,
    ) {
        let Self { socket, ahead } = self;
        (
            EdgeUdpReceive { socket, ahead },
            EdgeUdpSend { socket },
            EdgeUdpSend { socket },
            EdgeUdpSend { socket },
        )
    }
}

// ---------------------------------------------------------------------------
// DNS
// ---------------------------------------------------------------------------

impl<S: portnet::Dns + ?Sized> edge_nal::Dns for EdgeNal<'_, S> {
    type Error = EmbeddedError<S::Error>;

    async fn get_host_by_name(
        &self,
        host: &str,
        addr_type: edge_nal::AddrType,
    ) -> Result<IpAddr, S::Error> {
        let family = match addr_type {
            edge_nal::AddrType::IPv4 => AddrFamily::Ipv4,
            edge_nal::AddrType::IPv6 => AddrFamily::Ipv6,
            edge_nal::AddrType::Either => AddrFamily::Any,
        };
        self.stack
            .resolve(host, family)
            .await
            .map_err(EmbeddedError::Stack)
    }

    /// `Unsupported`: portnet's `Dns` has no reverse lookup.
    async fn get_host_by_address(&self, _: IpAddr, _: &mut [u8]) -> Result<usize, S::Error> {
        adapter(ErrorKind::Unsupported)
    }
}

// ---------------------------------------------------------------------------
// edge-nal → portnet
// ---------------------------------------------------------------------------

/// An edge-nal stack as a portnet `TcpConnect` (and `Dns` when it has one), so
/// portnet libraries run on edge-nal stacks (edge-nal-std, edge-nal-embassy).
///
/// Each `poll_*` polls the edge-nal `async fn` once and drops it if it is pending,
/// as [`PortnetIo`](crate::PortnetIo) does; [`WakePolicy`] says what that asks of
/// the stack. What edge-nal gives beyond embedded-io is used: `poll_close` is
/// `TcpShutdown::close(Write)` (a real FIN), `abort` is `TcpShutdown::abort`
/// (whatever the stack makes of it: edge-nal-std's is a no-op, so the drop closes
/// gracefully). `local_addr` is `Unsupported` (edge-nal does not report it).
#[derive(Debug, Clone, Copy, Default)]
pub struct PortnetEdge<S> {
    stack: S,
    policy: WakePolicy,
}

impl<S> PortnetEdge<S> {
    /// Presents the edge-nal `stack` to portnet code, trusting its wakers
    /// ([`WakePolicy::Registered`]).
    pub fn new(stack: S) -> Self {
        Self::with_policy(stack, WakePolicy::Registered)
    }

    /// As [`PortnetEdge::new`], with the wake policy `policy`.
    pub fn with_policy(stack: S, policy: WakePolicy) -> Self {
        Self { stack, policy }
    }

    /// The edge-nal stack.
    pub fn get_ref(&self) -> &S {
        &self.stack
    }
}

impl<S: edge_nal::TcpConnect<Error: 'static>> portnet::ErrorType for PortnetEdge<S> {
    type Error = PortnetError<S::Error>;
}

impl<S: edge_nal::TcpConnect<Error: 'static>> portnet::TcpConnect for PortnetEdge<S> {
    type Connection<'a>
        = PortnetEdgeConnection<S::Socket<'a>>
    where
        Self: 'a;

    /// # Cancel safety
    ///
    /// As the edge-nal stack's `connect`.
    async fn connect(
        &self,
        remote: SocketAddr,
    ) -> core::result::Result<Self::Connection<'_>, Self::Error> {
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Err(PortnetError::Adapter(ErrorKind::InvalidInput));
        }
        let socket = self
            .stack
            .connect(remote)
            .await
            .map_err(PortnetError::Stack)?;
        Ok(PortnetEdgeConnection::new(socket, remote, self.policy))
    }
}

impl<S> portnet::Dns for PortnetEdge<S>
where
    S: edge_nal::TcpConnect<Error: 'static>
        + edge_nal::Dns<Error = <S as edge_nal::TcpConnect>::Error>,
{
    /// # Cancel safety
    ///
    /// As the edge-nal stack's `get_host_by_name`.
    async fn resolve(
        &self,
        host: &str,
        family: AddrFamily,
    ) -> core::result::Result<IpAddr, Self::Error> {
        // The contract's local rules first: a literal is itself, an invalid name
        // is refused without a query.
        if let Ok(ip) = host.parse::<IpAddr>() {
            return if family.matches(ip) {
                Ok(ip)
            } else {
                Err(PortnetError::Adapter(ErrorKind::NameNotResolved))
            };
        }
        if portnet::net::DnsName::parse(host).is_err() {
            return Err(PortnetError::Adapter(ErrorKind::InvalidInput));
        }
        let addr_type = match family {
            AddrFamily::Ipv4 => edge_nal::AddrType::IPv4,
            AddrFamily::Ipv6 => edge_nal::AddrType::IPv6,
            _ => edge_nal::AddrType::Either,
        };
        let ip = edge_nal::Dns::get_host_by_name(&self.stack, host, addr_type)
            .await
            .map_err(PortnetError::Stack)?;
        if family.matches(ip) {
            Ok(ip)
        } else {
            Err(PortnetError::Adapter(ErrorKind::NameNotResolved))
        }
    }
}

/// A connection of a [`PortnetEdge`] stack: a portnet `TcpStream` over an
/// edge-nal TCP socket.
pub struct PortnetEdgeConnection<C> {
    socket: RefCell<C>,
    peer: SocketAddr,
    policy: WakePolicy,
    write_closed: Cell<bool>,
}

impl<C> PortnetEdgeConnection<C> {
    fn new(socket: C, peer: SocketAddr, policy: WakePolicy) -> Self {
        Self {
            socket: RefCell::new(socket),
            peer,
            policy,
            write_closed: Cell::new(false),
        }
    }
}

impl<C> fmt::Debug for PortnetEdgeConnection<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortnetEdgeConnection")
            .field("peer", &self.peer)
            .field("write_closed", &self.write_closed.get())
            .finish_non_exhaustive()
    }
}

// Never pinned: each future over the socket is pinned on the stack of one poll.
impl<C> Unpin for PortnetEdgeConnection<C> {}

/// Borrows the shared socket for one poll; a borrow that fails (a poll that
/// re-enters the other half) wakes the caller to try again.
fn with_socket<C, R>(
    socket: &RefCell<C>,
    cx: &mut Context<'_>,
    f: impl FnOnce(&mut C, &mut Context<'_>) -> Poll<R>,
) -> Poll<R> {
    match socket.try_borrow_mut() {
        Ok(mut socket) => f(&mut socket, cx),
        Err(_) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

type EdgeResult<T, E> = core::result::Result<T, PortnetError<E>>;

fn edge_write<C: embedded_io_async::Write>(
    socket: &RefCell<C>,
    write_closed: &Cell<bool>,
    policy: WakePolicy,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<EdgeResult<usize, C::Error>> {
    if write_closed.get() {
        return Poll::Ready(Err(PortnetError::Adapter(ErrorKind::BrokenPipe)));
    }
    with_socket(socket, cx, |s, cx| poll_embedded_write(s, policy, cx, buf))
}

fn edge_close<C: embedded_io_async::Write + edge_nal::TcpShutdown>(
    socket: &RefCell<C>,
    write_closed: &Cell<bool>,
    policy: WakePolicy,
    cx: &mut Context<'_>,
) -> Poll<EdgeResult<(), C::Error>> {
    if write_closed.get() {
        return Poll::Ready(Ok(()));
    }
    with_socket(socket, cx, |s, cx| {
        match poll_embedded_flush(s, policy, cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {}
        }
        poll_once(policy, cx, s.close(edge_nal::Close::Write)).map(|closed| {
            closed.map_err(PortnetError::Stack)?;
            write_closed.set(true);
            Ok(())
        })
    })
}

impl<C: embedded_io_async::ErrorType<Error: 'static>> portnet::ErrorType
    for PortnetEdgeConnection<C>
{
    type Error = PortnetError<C::Error>;
}

impl<C: embedded_io_async::Read<Error: 'static>> portnet::Read for PortnetEdgeConnection<C> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<EdgeResult<usize, C::Error>> {
        let this = self.get_mut();
        poll_embedded_read(this.socket.get_mut(), this.policy, cx, buf)
    }
}

impl<C> portnet::Write for PortnetEdgeConnection<C>
where
    C: embedded_io_async::Write<Error: 'static> + edge_nal::TcpShutdown,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<EdgeResult<usize, C::Error>> {
        let this = self.get_mut();
        edge_write(&this.socket, &this.write_closed, this.policy, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<EdgeResult<(), C::Error>> {
        let this = self.get_mut();
        poll_embedded_flush(this.socket.get_mut(), this.policy, cx)
    }

    /// Flushes, then `TcpShutdown::close(Write)`: FIN after the data.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<EdgeResult<(), C::Error>> {
        let this = self.get_mut();
        edge_close(&this.socket, &this.write_closed, this.policy, cx)
    }
}

/// edge-nal has no socket options: every one is `Unsupported`.
impl<C: embedded_io_async::ErrorType<Error: 'static>> portnet::SocketOptions
    for PortnetEdgeConnection<C>
{
    fn set_option(&self, _: SocketOption) -> EdgeResult<(), C::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> EdgeResult<SocketOption, C::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }
}

impl<C> portnet::TcpStream for PortnetEdgeConnection<C>
where
    C: embedded_io_async::Read<Error: 'static> + embedded_io_async::Write + edge_nal::TcpShutdown,
{
    type ReadHalf<'a>
        = PortnetEdgeHalf<'a, C>
    where
        Self: 'a;
    type WriteHalf<'a>
        = PortnetEdgeHalf<'a, C>
    where
        Self: 'a;

    /// Two halves sharing the socket through a `RefCell` borrowed only during
    /// one poll: both can be polled from two tasks of one thread.
    fn split(&mut self) -> (Self::ReadHalf<'_>, Self::WriteHalf<'_>) {
        let half = PortnetEdgeHalf { connection: &*self };
        (half, PortnetEdgeHalf { connection: &*self })
    }

    fn local_addr(&self) -> EdgeResult<SocketAddr, C::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }

    fn peer_addr(&self) -> EdgeResult<SocketAddr, C::Error> {
        Ok(self.peer)
    }

    /// `TcpShutdown::abort`, polled once: edge-nal says it does not wait.
    fn abort(self) {
        let mut socket = self.socket.into_inner();
        let mut cx = Context::from_waker(core::task::Waker::noop());
        let _ = core::pin::pin!(socket.abort()).poll(&mut cx);
    }
}

/// A half of a split [`PortnetEdgeConnection`]: reads, or writes and closes.
pub struct PortnetEdgeHalf<'a, C> {
    connection: &'a PortnetEdgeConnection<C>,
}

impl<C> fmt::Debug for PortnetEdgeHalf<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortnetEdgeHalf").finish_non_exhaustive()
    }
}

impl<C: embedded_io_async::ErrorType<Error: 'static>> portnet::ErrorType
    for PortnetEdgeHalf<'_, C>
{
    type Error = PortnetError<C::Error>;
}

impl<C: embedded_io_async::Read<Error: 'static>> portnet::Read for PortnetEdgeHalf<'_, C> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<EdgeResult<usize, C::Error>> {
        let c = self.connection;
        with_socket(&c.socket, cx, |s, cx| {
            poll_embedded_read(s, c.policy, cx, buf)
        })
    }
}

impl<C> portnet::Write for PortnetEdgeHalf<'_, C>
where
    C: embedded_io_async::Write<Error: 'static> + edge_nal::TcpShutdown,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<EdgeResult<usize, C::Error>> {
        let c = self.connection;
        edge_write(&c.socket, &c.write_closed, c.policy, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<EdgeResult<(), C::Error>> {
        let c = self.connection;
        with_socket(&c.socket, cx, |s, cx| poll_embedded_flush(s, c.policy, cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<EdgeResult<(), C::Error>> {
        let c = self.connection;
        edge_close(&c.socket, &c.write_closed, c.policy, cx)
    }
}

// ---------------------------------------------------------------------------
// edge-nal → portnet: ephemeral ports
// ---------------------------------------------------------------------------

/// The first port [`PortnetEdgeListen`] and [`PortnetEdgeUdp`] try for a
/// port-0 bind (IANA's dynamic range).
const EPHEMERAL_FIRST: u16 = 49152;
/// How many ports a port-0 bind tries before it gives up with `AddrInUse`.
const EPHEMERAL_TRIES: usize = 64;

/// The next port after `port` in the dynamic range, wrapping.
fn next_ephemeral(port: u16) -> u16 {
    if port == u16::MAX {
        EPHEMERAL_FIRST
    } else {
        port + 1
    }
}

/// Binds `local` with `bind`; for port 0 the adapter picks the port (edge-nal
/// has no way to report which port a stack picked, and portnet's `local_addr`
/// must give it), moving on to the next port while the stack says `AddrInUse`.
async fn bind_with_port<T, E, F, Fut>(
    next: &Cell<u16>,
    local: SocketAddr,
    mut bind: F,
) -> core::result::Result<(T, SocketAddr), PortnetError<E>>
where
    E: embedded_io_async::Error,
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = core::result::Result<T, E>>,
{
    if local.port() != 0 {
        return bind(local)
            .await
            .map(|t| (t, local))
            .map_err(PortnetError::Stack);
    }
    for _ in 0..EPHEMERAL_TRIES {
        let port = next.get();
        next.set(next_ephemeral(port));
        let addr = SocketAddr::new(local.ip(), port);
        match bind(addr).await {
            Ok(t) => return Ok((t, addr)),
            Err(e) if e.kind() == embedded_io_async::ErrorKind::AddrInUse => {}
            Err(e) => return Err(PortnetError::Stack(e)),
        }
    }
    Err(PortnetError::Adapter(ErrorKind::AddrInUse))
}

/// What [`PortnetEdgeListen`] and [`PortnetEdgeUdp`] share: the edge-nal stack,
/// the wake policy, and the next port a port-0 bind tries.
#[derive(Debug)]
struct Binder<S> {
    stack: S,
    policy: WakePolicy,
    next_port: Cell<u16>,
}

impl<S> Binder<S> {
    fn new(stack: S, policy: WakePolicy) -> Self {
        Self {
            stack,
            policy,
            next_port: Cell::new(EPHEMERAL_FIRST),
        }
    }
}

// ---------------------------------------------------------------------------
// edge-nal → portnet: listening
// ---------------------------------------------------------------------------

/// An edge-nal stack's listening side (`TcpBind`/`TcpAccept`) as a portnet
/// `TcpListen`, for stacks whose accepted sockets do not borrow their acceptor.
///
/// edge-nal lets an accepted socket borrow its acceptor (`TcpAccept::Socket<'a>`
/// borrows `&'a self`); portnet's accepted connections outlive their listener
/// (`TcpListener::Connection` has no lifetime, so a server can hand each one to a
/// task). Without `unsafe` or an allocator the two only meet when the socket type
/// is the same for every borrow: the bound `for<'x> TcpAccept<Socket<'x> = C>`.
/// edge-nal-std's acceptor (the host's sockets) meets it; edge-nal-embassy's does
/// not (its `TcpSocket<'a>` names the borrow), so it has no listening side here.
///
/// - The listener owns the acceptor: dropping it frees the port (when the stack's
///   acceptor does).
/// - A port-0 listen gets a port picked by the adapter (49152 and up, the next
///   one while the stack answers `AddrInUse`): edge-nal cannot report a bound
///   port, and portnet's `local_addr` must.
/// - `ListenOptions::backlog` is not passed on (edge-nal has none): the backlog is
///   whatever the edge-nal stack has.
/// - An accepted connection's peer address is the one edge-nal's `accept`
///   reports; its `local_addr` is `Unsupported`.
#[derive(Debug)]
pub struct PortnetEdgeListen<S>(Binder<S>);

impl<S> PortnetEdgeListen<S> {
    /// Presents the listening side of the edge-nal `stack` to portnet code,
    /// trusting its wakers ([`WakePolicy::Registered`]).
    pub fn new(stack: S) -> Self {
        Self::with_policy(stack, WakePolicy::Registered)
    }

    /// As [`PortnetEdgeListen::new`], with the wake policy `policy`.
    pub fn with_policy(stack: S, policy: WakePolicy) -> Self {
        Self(Binder::new(stack, policy))
    }

    /// The edge-nal stack.
    pub fn get_ref(&self) -> &S {
        &self.0.stack
    }
}

impl<S: edge_nal::TcpBind<Error: 'static>> portnet::ErrorType for PortnetEdgeListen<S> {
    type Error = PortnetError<S::Error>;
}

impl<S, C> portnet::TcpListen for PortnetEdgeListen<S>
where
    S: edge_nal::TcpBind<Error: 'static>,
    for<'a> S::Accept<'a>: 'static,
    for<'a, 'x> S::Accept<'a>: edge_nal::TcpAccept<Socket<'x> = C>,
    C: embedded_io_async::Read<Error = S::Error>
        + embedded_io_async::Write<Error = S::Error>
        + edge_nal::TcpShutdown<Error = S::Error>,
{
    type Connection<'a>
        = PortnetEdgeConnection<C>
    where
        Self: 'a;
    type Listener<'a>
        = PortnetEdgeListener<S::Accept<'a>>
    where
        Self: 'a;

    /// # Cancel safety
    ///
    /// As the edge-nal stack's `bind`.
    async fn listen_with(
        &self,
        local: SocketAddr,
        _options: portnet::ListenOptions,
    ) -> EdgeResult<Self::Listener<'_>, S::Error> {
        let Binder {
            stack,
            policy,
            next_port,
        } = &self.0;
        let (acceptor, local) = bind_with_port(next_port, local, |addr| stack.bind(addr)).await?;
        Ok(PortnetEdgeListener {
            acceptor,
            local,
            policy: *policy,
        })
    }
}

/// A listener of a [`PortnetEdgeListen`] stack: owns the edge-nal acceptor.
pub struct PortnetEdgeListener<A> {
    acceptor: A,
    local: SocketAddr,
    policy: WakePolicy,
}

impl<A> fmt::Debug for PortnetEdgeListener<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortnetEdgeListener")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl<A: edge_nal::TcpAccept<Error: 'static>> portnet::ErrorType for PortnetEdgeListener<A> {
    type Error = PortnetError<A::Error>;
}

/// edge-nal has no socket options: every one is `Unsupported`.
impl<A: edge_nal::TcpAccept<Error: 'static>> portnet::SocketOptions for PortnetEdgeListener<A> {
    fn set_option(&self, _: SocketOption) -> EdgeResult<(), A::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> EdgeResult<SocketOption, A::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }
}

impl<A, C> portnet::TcpListener for PortnetEdgeListener<A>
where
    A: edge_nal::TcpAccept<Error: 'static> + 'static,
    for<'x> A: edge_nal::TcpAccept<Socket<'x> = C>,
    C: embedded_io_async::Read<Error = A::Error>
        + embedded_io_async::Write<Error = A::Error>
        + edge_nal::TcpShutdown<Error = A::Error>,
{
    type Connection = PortnetEdgeConnection<C>;

    /// # Cancel safety
    ///
    /// As the edge-nal acceptor's `accept`.
    async fn accept(&self) -> EdgeResult<(Self::Connection, SocketAddr), A::Error> {
        let (peer, socket) = self.acceptor.accept().await.map_err(PortnetError::Stack)?;
        Ok((PortnetEdgeConnection::new(socket, peer, self.policy), peer))
    }

    fn local_addr(&self) -> EdgeResult<SocketAddr, A::Error> {
        Ok(self.local)
    }
}

// ---------------------------------------------------------------------------
// edge-nal → portnet: listening, acceptors that sockets borrow
// ---------------------------------------------------------------------------

/// Room for the acceptors of a [`PortnetEdgeListenIn`]: `N` in all, for the
/// life of the slots.
///
/// An edge-nal stack whose accepted sockets borrow their acceptor
/// (edge-nal-embassy's `TcpSocket<'a>`) needs the acceptor to stay where it is
/// while any of them lives, and portnet's connections outlive their listener.
/// Without `unsafe` or an allocator the acceptor can only stay put for as long
/// as its storage: here, each slot holds one acceptor from its first listen on
/// until the slots are dropped. A new listen on the address of a listener
/// already dropped takes that listener's slot (and acceptor) again; any other
/// listen, port 0 included, takes a fresh slot.
///
/// So this suits acceptors that hold nothing of the stack's while no `accept`
/// runs (edge-nal-embassy's is the stack and an address; embassy-net listens
/// only inside `accept`). An acceptor that holds a listening socket would keep
/// its port bound: use [`PortnetEdgeListen`] for those.
pub struct AcceptorSlots<A, const N: usize> {
    slots: [AcceptorSlot<A>; N],
}

struct AcceptorSlot<A> {
    acceptor: core::cell::OnceCell<A>,
    local: Cell<Option<SocketAddr>>,
    listening: Cell<bool>,
}

impl<A, const N: usize> AcceptorSlots<A, N> {
    /// `N` empty slots.
    pub const fn new() -> Self {
        Self {
            slots: [const {
                AcceptorSlot {
                    acceptor: core::cell::OnceCell::new(),
                    local: Cell::new(None),
                    listening: Cell::new(false),
                }
            }; N],
        }
    }

    /// How many slots hold no acceptor yet.
    pub fn free(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.acceptor.get().is_none())
            .count()
    }
}

impl<A, const N: usize> Default for AcceptorSlots<A, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A, const N: usize> fmt::Debug for AcceptorSlots<A, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptorSlots")
            .field("capacity", &N)
            .field("free", &self.free())
            .finish()
    }
}

/// An edge-nal stack's listening side as a portnet `TcpListen`, for stacks whose
/// accepted sockets borrow their acceptor (edge-nal-embassy): the acceptors live
/// in [`AcceptorSlots`] that outlive the stack's connections.
///
/// As [`PortnetEdgeListen`] otherwise (port-0 ports picked by the adapter,
/// backlog not passed on, `local_addr` of a connection `Unsupported`). A listen
/// that finds no slot fails with `OutOfResources`.
pub struct PortnetEdgeListenIn<'s, S, const N: usize>
where
    S: edge_nal::TcpBind,
{
    stack: &'s S,
    slots: &'s AcceptorSlots<S::Accept<'s>, N>,
    policy: WakePolicy,
    next_port: Cell<u16>,
}

impl<'s, S, const N: usize> PortnetEdgeListenIn<'s, S, N>
where
    S: edge_nal::TcpBind + 's,
{
    /// Presents the listening side of `stack` to portnet code, its acceptors in
    /// `slots`, trusting its wakers ([`WakePolicy::Registered`]).
    pub fn new(stack: &'s S, slots: &'s AcceptorSlots<S::Accept<'s>, N>) -> Self {
        Self::with_policy(stack, slots, WakePolicy::Registered)
    }

    /// As [`PortnetEdgeListenIn::new`], with the wake policy `policy`.
    pub fn with_policy(
        stack: &'s S,
        slots: &'s AcceptorSlots<S::Accept<'s>, N>,
        policy: WakePolicy,
    ) -> Self {
        Self {
            stack,
            slots,
            policy,
            next_port: Cell::new(EPHEMERAL_FIRST),
        }
    }

    /// The edge-nal stack.
    pub fn get_ref(&self) -> &'s S {
        self.stack
    }
}

impl<'s, S, const N: usize> fmt::Debug for PortnetEdgeListenIn<'s, S, N>
where
    S: edge_nal::TcpBind + 's,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortnetEdgeListenIn")
            .field("slots", self.slots)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<'s, S, const N: usize> portnet::ErrorType for PortnetEdgeListenIn<'s, S, N>
where
    S: edge_nal::TcpBind<Error: 'static> + 's,
{
    type Error = PortnetError<S::Error>;
}

impl<'s, S, const N: usize> portnet::TcpListen for PortnetEdgeListenIn<'s, S, N>
where
    S: edge_nal::TcpBind<Error: 'static> + 's,
{
    type Connection<'a>
        = PortnetEdgeConnection<<S::Accept<'s> as edge_nal::TcpAccept>::Socket<'s>>
    where
        Self: 'a;
    type Listener<'a>
        = PortnetEdgeListenerIn<'s, S::Accept<'s>>
    where
        Self: 'a;

    /// # Cancel safety
    ///
    /// As the edge-nal stack's `bind`; a slot is taken only once it returns.
    async fn listen_with(
        &self,
        local: SocketAddr,
        _options: portnet::ListenOptions,
    ) -> EdgeResult<Self::Listener<'_>, S::Error> {
        let slots = &self.slots.slots;
        // The acceptor of a listener on this address that was dropped: the
        // stack already bound it.
        let reuse = (local.port() != 0)
            .then(|| {
                slots
                    .iter()
                    .find(|s| s.local.get() == Some(local) && !s.listening.get())
            })
            .flatten();
        let slot = match reuse {
            Some(slot) => slot,
            None => {
                if !slots.iter().any(|s| s.acceptor.get().is_none()) {
                    return Err(PortnetError::Adapter(ErrorKind::OutOfResources));
                }
                let stack = self.stack;
                let (acceptor, local) =
                    bind_with_port(&self.next_port, local, |addr| stack.bind(addr)).await?;
                // Another listen may have taken the last free slot while `bind` ran.
                let Some(slot) = slots.iter().find(|s| s.acceptor.get().is_none()) else {
                    return Err(PortnetError::Adapter(ErrorKind::OutOfResources));
                };
                if slot.acceptor.set(acceptor).is_err() {
                    return Err(PortnetError::Adapter(ErrorKind::OutOfResources));
                }
                slot.local.set(Some(local));
                slot
            }
        };
        slot.listening.set(true);
        Ok(PortnetEdgeListenerIn {
            slot,
            policy: self.policy,
        })
    }
}

/// A listener of a [`PortnetEdgeListenIn`] stack: holds its slot while it lives.
pub struct PortnetEdgeListenerIn<'s, A> {
    slot: &'s AcceptorSlot<A>,
    policy: WakePolicy,
}

impl<A> fmt::Debug for PortnetEdgeListenerIn<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortnetEdgeListenerIn")
            .field("local", &self.slot.local.get())
            .finish_non_exhaustive()
    }
}

impl<A> Drop for PortnetEdgeListenerIn<'_, A> {
    fn drop(&mut self) {
        self.slot.listening.set(false);
    }
}

impl<A: edge_nal::TcpAccept<Error: 'static>> portnet::ErrorType for PortnetEdgeListenerIn<'_, A> {
    type Error = PortnetError<A::Error>;
}

/// edge-nal has no socket options: every one is `Unsupported`.
impl<A: edge_nal::TcpAccept<Error: 'static>> portnet::SocketOptions
    for PortnetEdgeListenerIn<'_, A>
{
    fn set_option(&self, _: SocketOption) -> EdgeResult<(), A::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> EdgeResult<SocketOption, A::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }
}

impl<'s, A: edge_nal::TcpAccept<Error: 'static> + 's> portnet::TcpListener
    for PortnetEdgeListenerIn<'s, A>
{
    type Connection = PortnetEdgeConnection<A::Socket<'s>>;

    /// # Cancel safety
    ///
    /// As the edge-nal acceptor's `accept`.
    async fn accept(&self) -> EdgeResult<(Self::Connection, SocketAddr), A::Error> {
        let slot: &'s AcceptorSlot<A> = self.slot;
        let Some(acceptor) = slot.acceptor.get() else {
            return Err(PortnetError::Adapter(ErrorKind::NotConnected));
        };
        let (peer, socket) = acceptor.accept().await.map_err(PortnetError::Stack)?;
        Ok((PortnetEdgeConnection::new(socket, peer, self.policy), peer))
    }

    fn local_addr(&self) -> EdgeResult<SocketAddr, A::Error> {
        self.slot
            .local
            .get()
            .ok_or(PortnetError::Adapter(ErrorKind::NotConnected))
    }
}

// ---------------------------------------------------------------------------
// edge-nal → portnet: UDP
// ---------------------------------------------------------------------------

/// An edge-nal stack's `UdpBind` as a portnet `UdpBind`.
///
/// - Each `poll_send_to`/`poll_recv_from` polls the edge-nal socket's
///   `send`/`receive` once (see [`WakePolicy`]); a `RefCell` borrowed for one
///   poll lets both take `&self` from two tasks of one thread.
/// - A port-0 bind gets a port picked by the adapter (49152 and up, the next one
///   while the stack answers `AddrInUse`): edge-nal cannot report a bound port,
///   and portnet's `local_addr` must.
/// - `connect` only filters: later receives discard datagrams from other
///   senders, and `send` goes to the peer; the edge-nal socket stays unconnected.
/// - The length a receive reports is what the edge-nal stack reports (edge-nal
///   asks for the full length on truncation).
/// - No socket options (`Unsupported`).
#[derive(Debug)]
pub struct PortnetEdgeUdp<S>(Binder<S>);

impl<S> PortnetEdgeUdp<S> {
    /// Presents the UDP side of the edge-nal `stack` to portnet code, trusting
    /// its wakers ([`WakePolicy::Registered`]).
    pub fn new(stack: S) -> Self {
        Self::with_policy(stack, WakePolicy::Registered)
    }

    /// As [`PortnetEdgeUdp::new`], with the wake policy `policy`.
    pub fn with_policy(stack: S, policy: WakePolicy) -> Self {
        Self(Binder::new(stack, policy))
    }

    /// The edge-nal stack.
    pub fn get_ref(&self) -> &S {
        &self.0.stack
    }
}

impl<S: edge_nal::UdpBind<Error: 'static>> portnet::ErrorType for PortnetEdgeUdp<S> {
    type Error = PortnetError<S::Error>;
}

impl<S: edge_nal::UdpBind<Error: 'static>> portnet::UdpBind for PortnetEdgeUdp<S> {
    type Socket<'a>
        = PortnetEdgeUdpSocket<S::Socket<'a>>
    where
        Self: 'a;

    /// # Cancel safety
    ///
    /// As the edge-nal stack's `bind`.
    async fn bind(&self, local: SocketAddr) -> EdgeResult<Self::Socket<'_>, S::Error> {
        let Binder {
            stack,
            policy,
            next_port,
        } = &self.0;
        let (socket, local) = bind_with_port(next_port, local, |addr| stack.bind(addr)).await?;
        Ok(PortnetEdgeUdpSocket {
            inner: RefCell::new(socket),
            local,
            peer: None,
            policy: *policy,
        })
    }
}

/// A socket of a [`PortnetEdgeUdp`] stack: a portnet `UdpSocket` over an
/// edge-nal UDP socket.
pub struct PortnetEdgeUdpSocket<U> {
    inner: RefCell<U>,
    local: SocketAddr,
    peer: Option<SocketAddr>,
    policy: WakePolicy,
}

impl<U> fmt::Debug for PortnetEdgeUdpSocket<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortnetEdgeUdpSocket")
            .field("local", &self.local)
            .field("peer", &self.peer)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// How many datagrams from other senders one `poll_recv_from` of a connected
/// socket discards before it yields (and wakes itself to go on).
const EDGE_FILTER_BUDGET: usize = 32;

impl<U: embedded_io_async::ErrorType<Error: 'static>> portnet::ErrorType
    for PortnetEdgeUdpSocket<U>
{
    type Error = PortnetError<U::Error>;
}

/// edge-nal has no socket options: every one is `Unsupported`.
impl<U: embedded_io_async::ErrorType<Error: 'static>> portnet::SocketOptions
    for PortnetEdgeUdpSocket<U>
{
    fn set_option(&self, _: SocketOption) -> EdgeResult<(), U::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> EdgeResult<SocketOption, U::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }
}

impl<U> portnet::UdpSocket for PortnetEdgeUdpSocket<U>
where
    U: edge_nal::UdpReceive<Error: 'static> + edge_nal::UdpSend,
{
    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        remote: SocketAddr,
    ) -> Poll<EdgeResult<(), U::Error>> {
        let policy = self.policy;
        with_socket(&self.inner, cx, |socket, cx| {
            poll_once(policy, cx, socket.send(remote, buf)).map_err(PortnetError::Stack)
        })
    }

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<EdgeResult<(usize, SocketAddr), U::Error>> {
        let policy = self.policy;
        for _ in 0..EDGE_FILTER_BUDGET {
            let received = with_socket(&self.inner, cx, |socket, cx| {
                poll_once(policy, cx, socket.receive(buf))
            });
            match received {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(PortnetError::Stack(e))),
                Poll::Ready(Ok((_, from))) if self.peer.is_some_and(|p| p != from) => {}
                Poll::Ready(Ok(got)) => return Poll::Ready(Ok(got)),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn connect(&mut self, remote: SocketAddr) -> EdgeResult<(), U::Error> {
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Err(PortnetError::Adapter(ErrorKind::InvalidInput));
        }
        self.peer = Some(remote);
        Ok(())
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    fn local_addr(&self) -> EdgeResult<SocketAddr, U::Error> {
        Ok(self.local)
    }
}
