//! TCP capabilities: connect, listen/accept, and the connection they produce.

use core::future::Future;
use core::net::SocketAddr;

use crate::{ErrorType, Read, SocketOptions, Write};

/// A stack that can open TCP connections.
///
/// The connection borrows the stack shared (`&'a self`): a library can keep the
/// stack and its connections side by side, open several at once, and open a new
/// one before dropping the old.
pub trait TcpConnect: ErrorType {
    /// An open connection.
    type Connection<'a>: TcpStream<Error = Self::Error>
    where
        Self: 'a;

    /// Opens a connection to `remote`.
    ///
    /// # Contract
    ///
    /// - A refused connection must fail with `ConnectionRefused` and must not wait
    ///   for a timeout to say so (case `tcp.connect.refused`).
    /// - An unspecified or port-0 `remote` must fail with `InvalidInput` (case
    ///   `tcp.connect.invalid_remote`).
    /// - A full socket pool must fail with `OutOfResources`, not panic (case
    ///   `tcp.connect.pool_exhausted`).
    /// - The stack may give up after its own timeout (`TimedOut`); a caller that
    ///   needs a shorter one wraps the future in [`crate::time::timeout`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future abandons the attempt and releases its socket;
    /// no connection is left half-open on the local side.
    fn connect(
        &self,
        remote: SocketAddr,
    ) -> impl Future<Output = Result<Self::Connection<'_>, Self::Error>>;
}

/// A stack that can listen for TCP connections.
pub trait TcpListen: ErrorType {
    /// A connection accepted by a listener.
    type Connection<'a>: TcpStream<Error = Self::Error>
    where
        Self: 'a;

    /// A bound, listening socket (or pool of sockets).
    type Listener<'a>: TcpListener<Error = Self::Error, Connection = Self::Connection<'a>>
    where
        Self: 'a;

    /// Starts listening on `local` with `options` (the backlog). Port 0 picks a free
    /// ephemeral port, reported by [`TcpListener::local_addr`].
    ///
    /// # Contract
    ///
    /// - A port already listened on must fail with `AddrInUse` (case
    ///   `tcp.listen.addr_in_use`).
    /// - An address that is not the stack's must fail with `AddrNotAvailable` (case
    ///   `tcp.listen.addr_not_available`).
    /// - Dropping the listener must free the port for a new `listen` at once (case
    ///   `tcp.listen.drop_frees_port`).
    /// - Up to [`ListenOptions::backlog`] connections whose handshake completed
    ///   while no `accept` was pending must be queued, not refused; connections
    ///   handed to pending `accept` futures do not count against it. A stack whose
    ///   pool cannot hold the backlog must fail with `OutOfResources` here, not
    ///   refuse connections later. `backlog: None` is the stack's default, at least 1
    ///   (cases `tcp.listen.backlog`, `tcp.accept.order_backlog`; no case yet asks for
    ///   a backlog larger than the pool).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future leaves nothing bound.
    fn listen_with(
        &self,
        local: SocketAddr,
        options: ListenOptions,
    ) -> impl Future<Output = Result<Self::Listener<'_>, Self::Error>>;

    /// Starts listening on `local` with the stack's default options; as
    /// [`TcpListen::listen_with`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`TcpListen::listen_with`].
    fn listen(
        &self,
        local: SocketAddr,
    ) -> impl Future<Output = Result<Self::Listener<'_>, Self::Error>> {
        self.listen_with(local, ListenOptions::default())
    }
}

/// How a listener is set up: [`TcpListen::listen_with`].
///
/// `#[non_exhaustive]`: build it with [`ListenOptions::new`] and its setters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct ListenOptions {
    /// How many completed handshakes may wait for an `accept`; `None` is the
    /// stack's default.
    pub backlog: Option<usize>,
}

impl ListenOptions {
    /// The stack's defaults.
    pub const fn new() -> Self {
        Self { backlog: None }
    }

    /// Queues up to `backlog` completed handshakes that no `accept` is waiting for.
    pub const fn backlog(mut self, backlog: usize) -> Self {
        self.backlog = Some(backlog);
        self
    }
}

/// A listening socket. Its [`SocketOptions`] are those of the listening socket
/// (a stack may answer `Unsupported` for all of them).
pub trait TcpListener: SocketOptions {
    /// The connections it accepts. They do not borrow the listener, so a server
    /// can hand each one to its own task and go on accepting.
    type Connection: TcpStream<Error = Self::Error>;

    /// Waits for the next incoming connection, and returns it with the peer's address.
    ///
    /// # Contract
    ///
    /// - Connections must be yielded in the order their handshakes completed (cases
    ///   `tcp.accept.order_serial`, `tcp.accept.order_backlog`).
    /// - A stack with a pool of N listening sockets must be able to hold N accepted
    ///   connections open at once, and must keep accepting when they close (case
    ///   `tcp.accept.pool`).
    /// - Several `accept` futures may be pending on one listener at once (from one
    ///   task or several): each connection must go to exactly one of them, and none
    ///   may be lost while the others wait (case `tcp.accept.concurrent`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses no connection; a handshake completed
    /// meanwhile is returned by the next `accept`.
    fn accept(&self) -> impl Future<Output = Result<(Self::Connection, SocketAddr), Self::Error>>;

    /// The local address the listener is bound to, with the real port if 0 was asked for.
    fn local_addr(&self) -> Result<SocketAddr, Self::Error>;
}

/// An open TCP connection: a byte stream both ways plus what TCP adds.
///
/// [`Write::poll_close`] closes the write half (FIN) and leaves the read half open.
/// Its [`SocketOptions`] are the connection's (`NoDelay`, `KeepAlive`, `Ttl`, …).
pub trait TcpStream: Read + Write + SocketOptions + Unpin {
    /// The read half of [`TcpStream::split`].
    type ReadHalf<'a>: Read<Error = Self::Error> + Unpin
    where
        Self: 'a;
    /// The write half of [`TcpStream::split`].
    type WriteHalf<'a>: Write<Error = Self::Error> + Unpin
    where
        Self: 'a;

    /// Splits the connection into halves that two tasks can poll at the same time.
    ///
    /// # Contract
    ///
    /// It must not allocate, and neither half may hold a lock across a `Pending`:
    /// each half keeps its own waker, and a wake for one half is never lost because
    /// the other half was polled from another task (case `tcp.wake.split_halves`; no
    /// case can see an allocation).
    fn split(&mut self) -> (Self::ReadHalf<'_>, Self::WriteHalf<'_>);

    /// The local address of the connection.
    fn local_addr(&self) -> Result<SocketAddr, Self::Error>;

    /// The peer's address.
    fn peer_addr(&self) -> Result<SocketAddr, Self::Error>;

    /// Resets the connection: sends RST, drops unsent and unread data, frees the socket.
    ///
    /// The peer's next read or write must fail with `ConnectionReset` (or see EOF on
    /// stacks whose peer has already closed) (case `tcp.reset.abort_sends_rst`).
    fn abort(self);
}

impl<T: ?Sized + ErrorType> ErrorType for &T {
    type Error = T::Error;
}

impl<T: ?Sized + TcpConnect> TcpConnect for &T {
    type Connection<'a>
        = T::Connection<'a>
    where
        Self: 'a;

    fn connect(
        &self,
        remote: SocketAddr,
    ) -> impl Future<Output = Result<Self::Connection<'_>, Self::Error>> {
        (**self).connect(remote)
    }
}

impl<T: ?Sized + TcpListen> TcpListen for &T {
    type Connection<'a>
        = T::Connection<'a>
    where
        Self: 'a;
    type Listener<'a>
        = T::Listener<'a>
    where
        Self: 'a;

    fn listen_with(
        &self,
        local: SocketAddr,
        options: ListenOptions,
    ) -> impl Future<Output = Result<Self::Listener<'_>, Self::Error>> {
        (**self).listen_with(local, options)
    }
}
