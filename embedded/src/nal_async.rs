//! embedded-nal-async stacks and portnet stacks, each as the other.

use core::cell::RefCell;
use core::fmt;
use core::net::SocketAddr;
use core::pin::Pin;
use core::task::{Context, Poll};

use portnet::{ErrorKind, UdpSocketExt};

use crate::io_async::{poll_embedded_flush, poll_embedded_read, poll_embedded_write};
use crate::poll::poll_once;
use crate::{EmbeddedError, EmbeddedIo, PortnetError, WakePolicy};

// ---------------------------------------------------------------------------
// portnet → embedded-nal-async
// ---------------------------------------------------------------------------

/// A portnet stack as an `embedded_nal_async::TcpConnect` and
/// `embedded_nal_async::UdpStack`.
///
/// It borrows the stack (`&'s S`), because embedded-nal-async's UDP socket types
/// carry no lifetime while portnet's sockets may borrow their stack.
///
/// - TCP connections are [`EmbeddedIo`] over the stack's connections.
/// - UDP: `connect_from` binds `local` and connects the socket to `remote`;
///   `bind_single` and `bind_multiple` both bind one portnet socket. portnet does
///   not report the local address a datagram arrived on, so `receive_into` reports
///   the socket's bound address, which for `bind_multiple` on an unspecified
///   address is that unspecified address (embedded-nal-async allows a stack that
///   cannot tell to do so). The `local` argument of `UnconnectedUdp::send` is
///   ignored: the datagram leaves from the socket's own address.
pub struct EmbeddedNal<'s, S: ?Sized> {
    stack: &'s S,
}

impl<'s, S: ?Sized> EmbeddedNal<'s, S> {
    /// Presents `stack` to embedded-nal-async code.
    pub fn new(stack: &'s S) -> Self {
        Self { stack }
    }

    /// The portnet stack.
    pub fn stack(&self) -> &'s S {
        self.stack
    }
}

impl<S: ?Sized> Clone for EmbeddedNal<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ?Sized> Copy for EmbeddedNal<'_, S> {}

impl<S: ?Sized> fmt::Debug for EmbeddedNal<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedNal").finish_non_exhaustive()
    }
}

impl<S: portnet::TcpConnect + ?Sized> embedded_nal_async::TcpConnect for EmbeddedNal<'_, S> {
    type Error = EmbeddedError<S::Error>;
    type Connection<'a>
        = EmbeddedIo<S::Connection<'a>>
    where
        Self: 'a;

    async fn connect<'a>(
        &'a self,
        remote: SocketAddr,
    ) -> Result<Self::Connection<'a>, Self::Error> {
        let stack: &'a S = self.stack;
        match stack.connect(remote).await {
            Ok(conn) => Ok(EmbeddedIo::new(conn)),
            Err(e) => Err(EmbeddedError::Stack(e)),
        }
    }
}

/// A portnet UDP socket as embedded-nal-async's `ConnectedUdp` and
/// `UnconnectedUdp` (see [`EmbeddedNal`]).
pub struct EmbeddedUdp<U> {
    socket: U,
    local: SocketAddr,
}

impl<U> EmbeddedUdp<U> {
    /// The portnet socket.
    pub fn get_ref(&self) -> &U {
        &self.socket
    }

    /// Unwraps the portnet socket.
    pub fn into_inner(self) -> U {
        self.socket
    }
}

impl<U> fmt::Debug for EmbeddedUdp<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedUdp")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl<U: portnet::UdpSocket> embedded_nal_async::ConnectedUdp for EmbeddedUdp<U> {
    type Error = EmbeddedError<U::Error>;

    async fn send(&mut self, data: &[u8]) -> Result<(), Self::Error> {
        let remote = self
            .socket
            .peer_addr()
            .ok_or(EmbeddedError::Adapter(ErrorKind::NotConnected))?;
        self.socket
            .send_to(data, remote)
            .await
            .map_err(EmbeddedError::Stack)
    }

    async fn receive_into(&mut self, buffer: &mut [u8]) -> Result<usize, Self::Error> {
        match self.socket.recv_from(buffer).await {
            Ok((len, _)) => Ok(len),
            Err(e) => Err(EmbeddedError::Stack(e)),
        }
    }
}

impl<U: portnet::UdpSocket> embedded_nal_async::UnconnectedUdp for EmbeddedUdp<U> {
    type Error = EmbeddedError<U::Error>;

    async fn send(
        &mut self,
        _local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Result<(), Self::Error> {
        self.socket
            .send_to(data, remote)
            .await
            .map_err(EmbeddedError::Stack)
    }

    async fn receive_into(
        &mut self,
        buffer: &mut [u8],
    ) -> Result<(usize, SocketAddr, SocketAddr), Self::Error> {
        match self.socket.recv_from(buffer).await {
            Ok((len, remote)) => Ok((len, self.local, remote)),
            Err(e) => Err(EmbeddedError::Stack(e)),
        }
    }
}

impl<'s, S: portnet::UdpBind + ?Sized> EmbeddedNal<'s, S> {
    async fn bind_socket(
        &self,
        local: SocketAddr,
    ) -> Result<(SocketAddr, EmbeddedUdp<S::Socket<'s>>), EmbeddedError<S::Error>> {
        use portnet::UdpSocket as _;
        let stack: &'s S = self.stack;
        let socket = stack.bind(local).await.map_err(EmbeddedError::Stack)?;
        let local = socket.local_addr().map_err(EmbeddedError::Stack)?;
        Ok((local, EmbeddedUdp { socket, local }))
    }
}

impl<'s, S: portnet::UdpBind + ?Sized> embedded_nal_async::UdpStack for EmbeddedNal<'s, S> {
    type Error = EmbeddedError<S::Error>;
    type Connected = EmbeddedUdp<S::Socket<'s>>;
    type UniquelyBound = EmbeddedUdp<S::Socket<'s>>;
    type MultiplyBound = EmbeddedUdp<S::Socket<'s>>;

    async fn connect_from(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<(SocketAddr, Self::Connected), Self::Error> {
        use portnet::UdpSocket as _;
        let (local, mut socket) = self.bind_socket(local).await?;
        socket
            .socket
            .connect(remote)
            .map_err(EmbeddedError::Stack)?;
        Ok((local, socket))
    }

    async fn bind_single(
        &self,
        local: SocketAddr,
    ) -> Result<(SocketAddr, Self::UniquelyBound), Self::Error> {
        self.bind_socket(local).await
    }

    async fn bind_multiple(&self, local: SocketAddr) -> Result<Self::MultiplyBound, Self::Error> {
        Ok(self.bind_socket(local).await?.1)
    }
}

// ---------------------------------------------------------------------------
// embedded-nal-async → portnet
// ---------------------------------------------------------------------------

/// Rejects the remote addresses portnet's `connect` contract rejects.
fn check_remote<E>(remote: SocketAddr) -> Result<(), PortnetError<E>> {
    if remote.ip().is_unspecified() || remote.port() == 0 {
        Err(PortnetError::Adapter(ErrorKind::InvalidInput))
    } else {
        Ok(())
    }
}

/// An `embedded_nal_async::TcpConnect` stack as a portnet `TcpConnect`.
///
/// Connections are [`PortnetConnection`]s; read the limits there. The adapter
/// itself rejects an unspecified or port-0 remote with `InvalidInput`, as
/// portnet's contract asks, because embedded-nal-async says nothing about them.
/// embedded-nal-async has no listening sockets, so there is no `TcpListen`.
pub struct PortnetTcp<S> {
    stack: S,
    policy: WakePolicy,
}

impl<S> PortnetTcp<S> {
    /// Presents `stack` to portnet code, trusting its waker registration
    /// ([`WakePolicy::Registered`]).
    pub fn new(stack: S) -> Self {
        Self::with_policy(stack, WakePolicy::Registered)
    }

    /// Presents `stack` to portnet code with the given wake policy for its
    /// connections' reads and writes.
    pub fn with_policy(stack: S, policy: WakePolicy) -> Self {
        Self { stack, policy }
    }

    /// The embedded stack.
    pub fn get_ref(&self) -> &S {
        &self.stack
    }
}

impl<S> fmt::Debug for PortnetTcp<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortnetTcp")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<S: embedded_nal_async::TcpConnect<Error: 'static>> portnet::ErrorType for PortnetTcp<S> {
    type Error = PortnetError<S::Error>;
}

impl<S: embedded_nal_async::TcpConnect<Error: 'static>> portnet::TcpConnect for PortnetTcp<S> {
    type Connection<'a>
        = PortnetConnection<S::Connection<'a>>
    where
        Self: 'a;

    async fn connect(&self, remote: SocketAddr) -> Result<Self::Connection<'_>, Self::Error> {
        check_remote(remote)?;
        match self.stack.connect(remote).await {
            Ok(conn) => Ok(PortnetConnection::new(conn, remote, self.policy)),
            Err(e) => Err(PortnetError::Stack(e)),
        }
    }
}

/// A connection of an embedded-nal-async stack as a portnet `TcpStream`.
///
/// Reads and writes poll the connection's `async fn`s once per poll; see
/// [`PortnetIo`](crate::PortnetIo) for what that asks of the connection's futures.
///
/// What embedded-nal-async connections cannot do, and what the adapter does instead:
///
/// | portnet | here |
/// |---|---|
/// | `poll_close` (FIN) | flushes, then `Unsupported`: embedded-io has no half-close; the FIN is sent when the connection is dropped |
/// | `abort` (RST) | drops the connection, which closes it **gracefully**: the peer sees EOF, not a reset |
/// | `local_addr` | `Unsupported`: embedded-nal-async's `connect` does not report it |
/// | `peer_addr` | the address given to `connect` |
/// | `split` | two halves sharing the connection through a `RefCell` borrowed only during one poll, so both can be polled from two tasks of one thread (the halves are not `Send`); each direction's waker is whatever the connection keeps for it |
pub struct PortnetConnection<C> {
    inner: RefCell<C>,
    peer: SocketAddr,
    policy: WakePolicy,
}

impl<C> PortnetConnection<C> {
    /// Wraps a connection of an embedded-nal-async stack to `peer`.
    pub fn new(inner: C, peer: SocketAddr, policy: WakePolicy) -> Self {
        Self {
            inner: RefCell::new(inner),
            peer,
            policy,
        }
    }

    /// Unwraps the embedded connection.
    pub fn into_inner(self) -> C {
        self.inner.into_inner()
    }
}

impl<C> fmt::Debug for PortnetConnection<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortnetConnection")
            .field("peer", &self.peer)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

// The connection is never pinned: each future over it is pinned on the stack of
// one poll call.
impl<C> Unpin for PortnetConnection<C> {}

impl<C: embedded_io_async::ErrorType<Error: 'static>> portnet::ErrorType for PortnetConnection<C> {
    type Error = PortnetError<C::Error>;
}

impl<C: embedded_io_async::Read<Error: 'static>> portnet::Read for PortnetConnection<C> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        let this = self.get_mut();
        poll_embedded_read(this.inner.get_mut(), this.policy, cx, buf)
    }
}

impl<C: embedded_io_async::Write<Error: 'static>> portnet::Write for PortnetConnection<C> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Self::Error>> {
        let this = self.get_mut();
        poll_embedded_write(this.inner.get_mut(), this.policy, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        poll_embedded_flush(this.inner.get_mut(), this.policy, cx)
    }

    /// Flushes, then fails with `Unsupported`: embedded-io cannot half-close.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        close_unsupported(this.inner.get_mut(), this.policy, cx)
    }
}

fn close_unsupported<C: embedded_io_async::Write>(
    conn: &mut C,
    policy: WakePolicy,
    cx: &mut Context<'_>,
) -> Poll<Result<(), PortnetError<C::Error>>> {
    match poll_embedded_flush(conn, policy, cx) {
        Poll::Ready(Ok(())) => Poll::Ready(Err(PortnetError::Adapter(ErrorKind::Unsupported))),
        other => other,
    }
}

/// embedded-nal-async has no socket options: every one is `Unsupported`.
impl<C: embedded_io_async::ErrorType<Error: 'static>> portnet::SocketOptions
    for PortnetConnection<C>
{
    fn set_option(&self, _: portnet::SocketOption) -> Result<(), Self::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> Result<portnet::SocketOption, Self::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }
}

impl<C> portnet::TcpStream for PortnetConnection<C>
where
    C: embedded_io_async::Read<Error: 'static> + embedded_io_async::Write,
{
    type ReadHalf<'a>
        = PortnetReadHalf<'a, C>
    where
        Self: 'a;
    type WriteHalf<'a>
        = PortnetWriteHalf<'a, C>
    where
        Self: 'a;

    fn split(&mut self) -> (PortnetReadHalf<'_, C>, PortnetWriteHalf<'_, C>) {
        (
            PortnetReadHalf {
                conn: &self.inner,
                policy: self.policy,
            },
            PortnetWriteHalf {
                conn: &self.inner,
                policy: self.policy,
            },
        )
    }

    fn local_addr(&self) -> Result<SocketAddr, Self::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }

    fn peer_addr(&self) -> Result<SocketAddr, Self::Error> {
        Ok(self.peer)
    }

    /// Drops the connection: a graceful close, not a reset (embedded-nal-async
    /// has no abort).
    fn abort(self) {
        drop(self);
    }
}

/// Borrows the shared connection for one poll. The borrow never outlives the call,
/// so it only fails if a poll re-enters the other half (a waker that polls in
/// `wake`); then the caller is woken to try again.
fn with_conn<C, R>(
    conn: &RefCell<C>,
    cx: &mut Context<'_>,
    f: impl FnOnce(&mut C, &mut Context<'_>) -> Poll<R>,
) -> Poll<R> {
    match conn.try_borrow_mut() {
        Ok(mut conn) => f(&mut conn, cx),
        Err(_) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// The read half of a split [`PortnetConnection`].
pub struct PortnetReadHalf<'a, C> {
    conn: &'a RefCell<C>,
    policy: WakePolicy,
}

/// The write half of a split [`PortnetConnection`].
pub struct PortnetWriteHalf<'a, C> {
    conn: &'a RefCell<C>,
    policy: WakePolicy,
}

impl<C> fmt::Debug for PortnetReadHalf<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortnetReadHalf").finish_non_exhaustive()
    }
}

impl<C> fmt::Debug for PortnetWriteHalf<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortnetWriteHalf").finish_non_exhaustive()
    }
}

impl<C: embedded_io_async::ErrorType<Error: 'static>> portnet::ErrorType
    for PortnetReadHalf<'_, C>
{
    type Error = PortnetError<C::Error>;
}

impl<C: embedded_io_async::ErrorType<Error: 'static>> portnet::ErrorType
    for PortnetWriteHalf<'_, C>
{
    type Error = PortnetError<C::Error>;
}

impl<C: embedded_io_async::Read<Error: 'static>> portnet::Read for PortnetReadHalf<'_, C> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        let policy = self.policy;
        with_conn(self.conn, cx, |c, cx| {
            poll_embedded_read(c, policy, cx, buf)
        })
    }
}

impl<C: embedded_io_async::Write<Error: 'static>> portnet::Write for PortnetWriteHalf<'_, C> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Self::Error>> {
        let policy = self.policy;
        with_conn(self.conn, cx, |c, cx| {
            poll_embedded_write(c, policy, cx, buf)
        })
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let policy = self.policy;
        with_conn(self.conn, cx, |c, cx| poll_embedded_flush(c, policy, cx))
    }

    /// Flushes, then fails with `Unsupported`: embedded-io cannot half-close.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let policy = self.policy;
        with_conn(self.conn, cx, |c, cx| close_unsupported(c, policy, cx))
    }
}

/// An `embedded_nal_async::UdpStack` as a portnet `UdpBind`.
///
/// `bind` is `bind_single`: one socket on one local address, whose address the
/// embedded stack reports. See [`PortnetUdpSocket`] for sending and receiving.
pub struct PortnetUdp<S> {
    stack: S,
    policy: WakePolicy,
}

impl<S> PortnetUdp<S> {
    /// Presents `stack` to portnet code, trusting its waker registration
    /// ([`WakePolicy::Registered`]).
    pub fn new(stack: S) -> Self {
        Self::with_policy(stack, WakePolicy::Registered)
    }

    /// Presents `stack` to portnet code with the given wake policy for its sockets.
    pub fn with_policy(stack: S, policy: WakePolicy) -> Self {
        Self { stack, policy }
    }

    /// The embedded stack.
    pub fn get_ref(&self) -> &S {
        &self.stack
    }
}

impl<S> fmt::Debug for PortnetUdp<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortnetUdp")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<S: embedded_nal_async::UdpStack<Error: 'static>> portnet::ErrorType for PortnetUdp<S> {
    type Error = PortnetError<S::Error>;
}

impl<S: embedded_nal_async::UdpStack<Error: 'static>> portnet::UdpBind for PortnetUdp<S> {
    type Socket<'a>
        = PortnetUdpSocket<S::UniquelyBound>
    where
        Self: 'a;

    async fn bind(&self, local: SocketAddr) -> Result<Self::Socket<'_>, Self::Error> {
        match self.stack.bind_single(local).await {
            Ok((local, socket)) => Ok(PortnetUdpSocket {
                inner: RefCell::new(socket),
                local,
                peer: None,
                policy: self.policy,
            }),
            Err(e) => Err(PortnetError::Stack(e)),
        }
    }
}

/// How many datagrams from other senders one `poll_recv_from` of a connected
/// socket discards before it yields (and wakes itself to go on).
const FILTER_BUDGET: usize = 32;

/// A uniquely bound socket of an embedded-nal-async stack as a portnet `UdpSocket`.
///
/// - Each `poll_send_to`/`poll_recv_from` polls the socket's `send`/`receive_into`
///   once (see [`WakePolicy`]); a `RefCell` lets both take `&self`, so one task can
///   send while another receives **on the same thread** (the socket is not `Sync`).
/// - The length `poll_recv_from` reports is whatever the embedded stack reports:
///   embedded-nal-async asks for the full datagram length on truncation, but not
///   every stack does it.
/// - `connect` only filters: later receives discard datagrams from other senders.
///   The embedded socket stays unconnected, so ICMP errors are not reported.
pub struct PortnetUdpSocket<U> {
    inner: RefCell<U>,
    local: SocketAddr,
    peer: Option<SocketAddr>,
    policy: WakePolicy,
}

impl<U> fmt::Debug for PortnetUdpSocket<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortnetUdpSocket")
            .field("local", &self.local)
            .field("peer", &self.peer)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<U: embedded_nal_async::UnconnectedUdp<Error: 'static>> portnet::ErrorType
    for PortnetUdpSocket<U>
{
    type Error = PortnetError<U::Error>;
}

/// embedded-nal-async has no socket options: every one is `Unsupported`.
impl<U: embedded_nal_async::UnconnectedUdp<Error: 'static>> portnet::SocketOptions
    for PortnetUdpSocket<U>
{
    fn set_option(&self, _: portnet::SocketOption) -> Result<(), Self::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> Result<portnet::SocketOption, Self::Error> {
        Err(PortnetError::Adapter(ErrorKind::Unsupported))
    }
}

impl<U: embedded_nal_async::UnconnectedUdp<Error: 'static>> portnet::UdpSocket
    for PortnetUdpSocket<U>
{
    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        remote: SocketAddr,
    ) -> Poll<Result<(), Self::Error>> {
        let (local, policy) = (self.local, self.policy);
        with_conn(&self.inner, cx, |socket, cx| {
            poll_once(policy, cx, socket.send(local, remote, buf)).map_err(PortnetError::Stack)
        })
    }

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr), Self::Error>> {
        let policy = self.policy;
        for _ in 0..FILTER_BUDGET {
            let received = with_conn(&self.inner, cx, |socket, cx| {
                poll_once(policy, cx, socket.receive_into(buf))
            });
            match received {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(PortnetError::Stack(e))),
                Poll::Ready(Ok((_, _, remote))) if self.peer.is_some_and(|p| p != remote) => {}
                Poll::Ready(Ok((len, _, remote))) => return Poll::Ready(Ok((len, remote))),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn connect(&mut self, remote: SocketAddr) -> Result<(), Self::Error> {
        self.peer = Some(remote);
        Ok(())
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    fn local_addr(&self) -> Result<SocketAddr, Self::Error> {
        Ok(self.local)
    }
}
